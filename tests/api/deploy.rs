//! deploy/: every file parses, and names only settings the binary reads (DESIGN §6).

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/deploy/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The environment variables `trustpulse` reads, from its own `--help`.
fn known_settings() -> BTreeSet<String> {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let mut names: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split([']', '=']).next().unwrap().to_owned())
        .collect();
    names.insert("RUST_LOG".into());
    names
}

#[test]
fn compose_and_kubernetes_name_only_real_settings_and_parse() {
    let known = known_settings();
    for required in [
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "TRUSTPULSE_LISTEN",
    ] {
        assert!(known.contains(required), "--help lists {required}");
    }
    let compose: serde_yaml::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let env = compose["services"]["trustpulse"]["environment"]
        .as_mapping()
        .unwrap();
    let compose_names: BTreeSet<String> =
        env.keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    assert!(
        compose_names.is_subset(&known),
        "{:?}",
        compose_names.difference(&known).collect::<Vec<_>>()
    );
    assert_eq!(compose["services"]["trustpulse"]["deploy"]["replicas"], 2);
    assert!(
        compose_names.contains("SLACK_SIGNING_SECRET") && compose_names.contains("DATABASE_URL")
    );
    // Two replicas make the same tokens only with the same secret, kept outside the database.
    assert!(compose_names.contains("TRUSTPULSE_TOKEN_SECRET"));

    let deployment: serde_yaml::Value =
        serde_yaml::from_str(&read("kubernetes/deployment.yaml")).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let k8s_names: BTreeSet<String> = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        k8s_names.is_subset(&known),
        "{:?}",
        k8s_names.difference(&known).collect::<Vec<_>>()
    );
    assert_eq!(
        compose_names, k8s_names,
        "compose and Kubernetes give the same settings"
    );
    // /metrics has its own listener, which neither file publishes next to the Slack port.
    assert!(compose_names.contains("TRUSTPULSE_METRICS_LISTEN"));
    let published = serde_yaml::to_string(&compose["services"]["trustpulse"]["ports"]).unwrap();
    assert!(
        !published.contains("9464"),
        "compose publishes /metrics: {published}"
    );
    let service: serde_yaml::Value =
        serde_yaml::from_str(&read("kubernetes/service.yaml")).unwrap();
    let routed = serde_yaml::to_string(&service["spec"]["ports"]).unwrap();
    assert!(
        !routed.contains("metrics") && !routed.contains("9464"),
        "{routed}"
    );
    for file in [
        "kubernetes/service.yaml",
        "kubernetes/migrate-job.yaml",
        "kubernetes/secret.example.yaml",
    ] {
        serde_yaml::from_str::<serde_yaml::Value>(&read(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn systemd_and_docker_run_serve_unprivileged_with_a_state_directory() {
    let unit = read("systemd/trustpulse.service");
    for line in [
        "ExecStart=/usr/local/bin/trustpulse serve",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=trustpulse",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit has {line}");
    }
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.contains("USER 10001:10001")
            && dockerfile.contains("HEALTHCHECK")
            && dockerfile.contains("CMD [\"serve\"]")
    );
    // The image carries no tool it does not need: the binary is its own health check.
    assert!(dockerfile.contains(r#"CMD ["trustpulse", "healthcheck"]"#));
    assert!(!dockerfile.contains("apt-get") && !dockerfile.contains("curl"));
    assert!(dockerfile.contains("VOLUME [\"/var/lib/trustpulse\"]"));
    let ignored = std::fs::read_to_string(format!("{}/.dockerignore", env!("CARGO_MANIFEST_DIR")))
        .expect("a .dockerignore");
    assert!(ignored.lines().any(|l| l == "target/"));
    assert_eq!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM")),
        2,
        "multi-stage"
    );
}

#[test]
fn the_binary_starts_with_exactly_the_environment_compose_and_kubernetes_give_it() {
    let compose: serde_yaml::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let compose_env: Vec<(String, String)> = compose["services"]["trustpulse"]["environment"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let deployment: serde_yaml::Value =
        serde_yaml::from_str(&read("kubernetes/deployment.yaml")).unwrap();
    let k8s_env: Vec<(String, String)> =
        deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
    for (name, env) in [("compose", compose_env), ("kubernetes", k8s_env)] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trustpulse"));
        command.arg("migrate").current_dir(dir.path()).env_clear();
        for (key, value) in env {
            // Secrets come from the operator; the database is a scratch file here.
            let value = match key.as_str() {
                "DATABASE_URL" => "sqlite:scratch.db?mode=rwc".to_owned(),
                "SLACK_BOT_TOKEN" | "SLACK_SIGNING_SECRET" => "placeholder".to_owned(),
                "TRUSTPULSE_TOKEN_SECRET" => "placeholder-token-secret-of-32-chars".to_owned(),
                _ => value,
            };
            command.env(key, value);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Both pod specs pass the "restricted" Pod Security Standard.
#[test]
fn kubernetes_pods_pass_the_restricted_pod_security_profile() {
    for (file, pod) in [
        ("kubernetes/deployment.yaml", "/spec/template/spec"),
        ("kubernetes/migrate-job.yaml", "/spec/template/spec"),
    ] {
        let doc: serde_json::Value =
            serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&read(file)).unwrap())
                .unwrap();
        let pod = doc.pointer(pod).unwrap();
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{file}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{file}"
        );
        for container in pod["containers"].as_array().unwrap() {
            let sc = &container["securityContext"];
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{file}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{file}");
            assert_eq!(sc["runAsNonRoot"], true, "{file}");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{file}"
            );
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{file}");
        }
    }
}
