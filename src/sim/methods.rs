//! Slack's method reference, embedded: HTTP method, required arguments, rate tier and the
//! documented errors of every method the fake serves.

use std::collections::HashMap;
use std::sync::LazyLock;

/// What the fake needs to know about one method.
#[derive(Debug, Clone)]
pub struct MethodSpec {
    pub name: &'static str,
    pub http_method: String,
    pub required: Vec<String>,
    /// t1..t4, or t5 for Slack's "special" tier.
    pub rate_tier: String,
    pub errors: Vec<String>,
    pub example: serde_json::Value,
}

const SOURCES: &[(&str, &str)] = &[
    (
        "apps.connections.open",
        include_str!("slack_api_ref/apps.connections.open.json"),
    ),
    ("auth.test", include_str!("slack_api_ref/auth.test.json")),
    (
        "chat.delete",
        include_str!("slack_api_ref/chat.delete.json"),
    ),
    (
        "chat.postEphemeral",
        include_str!("slack_api_ref/chat.postEphemeral.json"),
    ),
    (
        "chat.postMessage",
        include_str!("slack_api_ref/chat.postMessage.json"),
    ),
    (
        "chat.update",
        include_str!("slack_api_ref/chat.update.json"),
    ),
    (
        "conversations.open",
        include_str!("slack_api_ref/conversations.open.json"),
    ),
    (
        "files.completeUploadExternal",
        include_str!("slack_api_ref/files.completeUploadExternal.json"),
    ),
    (
        "files.getUploadURLExternal",
        include_str!("slack_api_ref/files.getUploadURLExternal.json"),
    ),
    (
        "oauth.v2.access",
        include_str!("slack_api_ref/oauth.v2.access.json"),
    ),
    ("team.info", include_str!("slack_api_ref/team.info.json")),
    (
        "usergroups.list",
        include_str!("slack_api_ref/usergroups.list.json"),
    ),
    (
        "usergroups.users.list",
        include_str!("slack_api_ref/usergroups.users.list.json"),
    ),
    ("users.info", include_str!("slack_api_ref/users.info.json")),
    ("users.list", include_str!("slack_api_ref/users.list.json")),
    (
        "users.lookupByEmail",
        include_str!("slack_api_ref/users.lookupByEmail.json"),
    ),
    ("views.open", include_str!("slack_api_ref/views.open.json")),
    (
        "views.publish",
        include_str!("slack_api_ref/views.publish.json"),
    ),
    ("views.push", include_str!("slack_api_ref/views.push.json")),
    (
        "views.update",
        include_str!("slack_api_ref/views.update.json"),
    ),
];

pub static METHODS: LazyLock<HashMap<&'static str, MethodSpec>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(name, text)| {
            let doc: serde_json::Value =
                serde_json::from_str(text).expect("embedded method reference is JSON");
            let strings = |v: &serde_json::Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let spec = MethodSpec {
                name,
                http_method: doc["http_method"].as_str().unwrap_or("POST").to_owned(),
                required: strings(&doc["args"]["required"]),
                rate_tier: doc["rate_limits"].as_str().unwrap_or("t3").to_owned(),
                errors: doc["errors"]
                    .as_object()
                    .map(|e| e.keys().cloned().collect())
                    .unwrap_or_default(),
                example: doc["examples"]["success"]["example"].clone(),
            };
            (*name, spec)
        })
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_trustpulse_calls_is_described() {
        for method in [
            "auth.test",
            "conversations.open",
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "views.open",
            "views.publish",
            "views.update",
            "users.info",
            "users.list",
            "users.lookupByEmail",
            "usergroups.users.list",
            "apps.connections.open",
        ] {
            let spec = METHODS.get(method).unwrap_or_else(|| panic!("{method}"));
            assert!(spec.required.iter().any(|r| r == "token"), "{method}");
        }
        assert_eq!(METHODS["chat.postMessage"].rate_tier, "t5");
        assert!(
            METHODS["chat.postMessage"]
                .required
                .contains(&"channel".to_owned())
        );
        assert!(
            METHODS["chat.postMessage"]
                .errors
                .contains(&"channel_not_found".to_owned())
        );
    }
}
