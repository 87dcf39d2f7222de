//! What a Slack admin meets on the first day: Socket Mode that connects from a slim image, an
//! `.env.example` that works as an env file, and exit codes an operator (or systemd) can act on.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use trustpulse::sim::fake_slack::{APP_TOKEN, BOT_TOKEN, FakeSlack};

use crate::helpers::{KillOnDrop, trustpulse};

/// The Socket Mode websocket trusts the bundled webpki roots, so it needs no CA store from the
/// operating system: with none reachable at all, trustpulse still starts the TLS handshake
/// (a build that relied on the OS store stops before sending a byte).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_tls_needs_no_operating_system_ca_store() {
    let fake = FakeSlack::start(Vec::new()).await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    fake.set_socket_url(&format!("wss://localhost:{port}/link"));
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop::spawn(
        trustpulse(dir.path())
            .arg("serve")
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_APP_TOKEN", APP_TOKEN)
            .env("SLACK_API_URL", fake.api_url())
            // Where rustls-native-certs would look: nowhere that exists.
            .env("SSL_CERT_FILE", dir.path().join("no-such-ca.pem"))
            .env("SSL_CERT_DIR", dir.path().join("no-such-dir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let hello = tokio::task::spawn_blocking(move || {
        listener.set_nonblocking(false).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut first = [0u8; 3];
        stream.read_exact(&mut first).map(|()| first)
    });
    let hello = tokio::time::timeout(Duration::from_secs(60), hello).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let first = hello
        .expect("trustpulse connected to the Socket Mode URL")
        .unwrap()
        .expect("it sent bytes");
    assert_eq!(first[0], 0x16, "a TLS handshake record");
    assert_eq!(first[1], 0x03, "TLS version 3.x");
}

/// The settings `.env.example` assigns, as `(name, value)`.
fn env_example() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| {
            let (name, value) = l.split_once('=').unwrap();
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

#[test]
fn env_example_lists_every_setting_and_works_as_an_env_file() {
    let help = Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let settings: Vec<&str> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split([']', '=']).next().unwrap())
        .collect();
    let example = env_example();
    for setting in &settings {
        assert!(
            example.iter().any(|(name, _)| name == setting),
            ".env.example lists {setting}"
        );
    }
    // Loaded as-is (empty values included), as compose or systemd would: the binary starts.
    let dir = tempfile::tempdir().unwrap();
    let mut command = trustpulse(dir.path());
    command.arg("migrate");
    for (name, value) in example {
        if name != "DATABASE_URL" {
            command.env(name, value);
        }
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_and_a_refused_token_exit_with_codes_operators_can_act_on() {
    let dir = tempfile::tempdir().unwrap();
    let run = |command: &mut Command| {
        let out = command.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // 78 (EX_CONFIG), naming the setting and the fix.
    let (code, stderr) = run(trustpulse(dir.path()).arg("serve"));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(
        stderr.contains("SLACK_BOT_TOKEN") && stderr.contains("Install App"),
        "{stderr}"
    );
    let (code, stderr) = run(trustpulse(dir.path())
        .arg("serve")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", "")
        .env("SLACK_APP_TOKEN", ""));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("SLACK_SIGNING_SECRET"), "{stderr}");
    let (code, stderr) = run(trustpulse(dir.path())
        .arg("migrate")
        .env("TRUSTPULSE_MIN_RESPONDENTS", "2"));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("below the floor of 3"), "{stderr}");
    let (code, stderr) = run(trustpulse(dir.path())
        .arg("migrate")
        .env("SLACK_API_URL", "http://slack.example.com/api"));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("in clear"), "{stderr}");
    let (code, stderr) = run(trustpulse(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "mysql://db/tp"));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");

    // 77 (EX_NOPERM): Slack refuses the bot token.
    let fake = FakeSlack::start(Vec::new()).await.unwrap();
    let (code, stderr) = run(trustpulse(dir.path())
        .arg("serve")
        .env("SLACK_BOT_TOKEN", "xoxb-not-this-one")
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("SLACK_API_URL", fake.api_url()));
    assert_eq!(code, Some(77), "{stderr}");
    assert!(stderr.contains("invalid_auth"), "{stderr}");

    // The systemd unit does not restart on either.
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/trustpulse.service"
    ))
    .unwrap();
    assert!(
        unit.lines().any(|l| l == "RestartPreventExitStatus=77 78"),
        "{unit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_and_completions_work_without_a_database() {
    let app = crate::app::TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let listen = app.base_url.trim_start_matches("http://").to_owned();
    let healthy = trustpulse(dir.path())
        .arg("healthcheck")
        .env("TRUSTPULSE_LISTEN", &listen)
        .output()
        .unwrap();
    assert!(healthy.status.success(), "{healthy:?}");
    app.stop().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = trustpulse(dir.path())
        .arg("healthcheck")
        .env("TRUSTPULSE_LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("could not connect"));

    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef trustpulse"),
        ("fish", "complete -c trustpulse"),
    ] {
        let out = trustpulse(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains(marker) && script.contains("audit"),
            "{shell}"
        );
    }
    assert!(
        !dir.path().join("tp.db").exists(),
        "no database was created"
    );
}
