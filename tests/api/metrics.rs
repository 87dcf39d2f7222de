//! /healthz, /readyz and /metrics (Prometheus text), and no person in any metric.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trustpulse::schedule::waves;

use crate::app::{TestApp, sellers};
use crate::helpers::now;

async fn get(app: &TestApp, path: &str) -> String {
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_without_a_person_in_sight() {
    let app = TestApp::spawn().await;
    assert!(get(&app, "/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get(&app, "/readyz").await.starts_with("HTTP/1.1 200"));

    app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
        .await;
    waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
    app.deliver().await;
    app.answer("U0BOSS1S1", "4", "4", "4", None).await;
    app.answer("U0BOSS1S2", "9", "4", "4", None).await;
    app.command("U0BOSS1S1", "help").await;

    let metrics = get(&app, "/metrics").await;
    for name in [
        "trustpulse_http_requests_total",
        "trustpulse_ack_seconds",
        "trustpulse_invitations_queued_total",
        "trustpulse_slack_jobs_total",
        "trustpulse_outbox_pending",
        "trustpulse_outbox_oldest_due_seconds",
        "trustpulse_submissions_total",
    ] {
        assert!(metrics.contains(name), "/metrics has {name}");
    }
    assert!(metrics.contains("outcome=\"recorded\"") && metrics.contains("outcome=\"invalid\""));
    assert!(metrics.contains("route=\"/slack/interactions\""));
    assert!(
        !metrics.contains("U0BOSS1") && !metrics.contains("D0BOSS1"),
        "no person in a metric"
    );
    app.stop().await;
}
