//! What a Slack admin meets on the first day: Socket Mode that connects from a slim image, an
//! `.env.example` that works as an env file, and exit codes an operator (or systemd) can act on.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use trustpulse::sim::fake_slack::{APP_TOKEN, BOT_TOKEN, FakeSlack};

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", "sqlite:tp.db?mode=rwc")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("SLACK_API_URL", fake.api_url())
        .env("TRUSTPULSE_LISTEN", "127.0.0.1:0")
        .env("TRUSTPULSE_METRICS_LISTEN", "127.0.0.1:0")
        // Where rustls-native-certs would look: nowhere that exists.
        .env("SSL_CERT_FILE", dir.path().join("no-such-ca.pem"))
        .env("SSL_CERT_DIR", dir.path().join("no-such-dir"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
