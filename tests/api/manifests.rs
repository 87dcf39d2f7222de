//! The Slack app manifests in deploy/ validate against Slack's manifest schema (copied with its
//! MIT license into tests/fixtures/manifest-schema/), and ask only for the scopes we use.

fn validate(path: &str) -> serde_json::Value {
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "../fixtures/manifest-schema/manifest.schema.1.0.0.json"
    ))
    .unwrap();
    let manifest: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{path}: {errors:?}");
    manifest
}

#[test]
fn both_manifests_are_valid_and_least_privilege() {
    for path in [
        "deploy/slack/manifest.yml",
        "deploy/slack/manifest.socket-mode.yml",
    ] {
        let manifest = validate(path);
        let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(
            scopes,
            [
                "chat:write",
                "im:write",
                "users:read",
                "users:read.email",
                "commands",
                "files:write"
            ],
            "{path}"
        );
        assert_eq!(
            manifest["features"]["slash_commands"][0]["command"],
            "/pulse"
        );
    }
    let http = validate("deploy/slack/manifest.yml");
    assert!(
        http["settings"]["event_subscriptions"]["request_url"]
            .as_str()
            .unwrap()
            .ends_with("/slack/events")
    );
    assert!(
        http["settings"]["interactivity"]["request_url"]
            .as_str()
            .unwrap()
            .ends_with("/slack/interactions")
    );
    let socket = validate("deploy/slack/manifest.socket-mode.yml");
    assert_eq!(socket["settings"]["socket_mode_enabled"], true);
    assert!(
        socket["settings"]["event_subscriptions"]
            .get("request_url")
            .is_none()
    );
}

#[test]
fn a_manifest_with_a_bad_request_url_is_refused_by_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "../fixtures/manifest-schema/manifest.schema.1.0.0.json"
    ))
    .unwrap();
    let text = std::fs::read_to_string(format!(
        "{}/deploy/slack/manifest.yml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut manifest: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    manifest["settings"]["event_subscriptions"]["request_url"] =
        "ftp://example.com/slack/events".into();
    assert!(
        !jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&manifest)
    );
}
