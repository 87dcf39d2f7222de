//! /healthz, /readyz and /metrics (Prometheus text, on its own listener), no person in any
//! metric, and no metric that moves when a seller answers.

use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trustpulse::app::Clock;
use trustpulse::ops::waves;
use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeSlack};
use trustpulse::sim::payloads;
use trustpulse::sim::slack_side::Transport;
use trustpulse::slack::blocks::ids::OPEN_SURVEY;
use trustpulse::store::Store;

use crate::app::{SIGNING_SECRET, run_test, sellers};
use crate::helpers::{KillOnDrop, k, now, roster, trustpulse};

async fn get_from(base_url: &str, path: &str) -> String {
    let address = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// The metric lines of a scrape, without its HTTP headers, sorted (the exporter keeps no order).
fn metric_lines(scrape: &str) -> Vec<String> {
    let body = scrape.split("\r\n\r\n").nth(1).unwrap_or_default();
    body.lines()
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn health_readiness_and_metrics_without_a_person_in_sight() {
    run_test(async |app| {
        assert!(
            get_from(&app.base_url, "/healthz")
                .await
                .starts_with("HTTP/1.1 200")
        );
        assert!(
            get_from(&app.base_url, "/readyz")
                .await
                .starts_with("HTTP/1.1 200")
        );
        assert!(
            get_from(&app.base_url, "/metrics")
                .await
                .starts_with("HTTP/1.1 404"),
            "/metrics is not served on the Slack listener"
        );

        app.open_pulse("U0BOSS1", 5).await;
        app.command("U0BOSS1S1", "help").await;
        app.answer("U0BOSS1S1", "4", "4", "4", None).await;
        app.answer("U0BOSS1S2", "4", "4", "4", None).await;

        app.answer("U0BOSS1S2", "9", "4", "4", None).await;

        // Answers are counted when their window is released.
        for seller in ["U0BOSS1S3", "U0BOSS1S4", "U0BOSS1S5"] {
            app.answer(seller, "3", "3", "3", None).await;
        }
        waves::close_wave(
            &app.state.store,
            "U0BOSS1",
            &app.state.release_policy,
            now(),
        )
        .await
        .unwrap();
        let metrics = get_from(&app.metrics_url, "/metrics").await;
        for name in [
            "trustpulse_http_requests_total",
            "trustpulse_ack_seconds",
            "trustpulse_invitations_queued_total",
            "trustpulse_slack_jobs_total",
            "trustpulse_outbox_pending",
            "trustpulse_outbox_oldest_due_seconds",
            "trustpulse_submissions_total",
            "trustpulse_windows_total",
        ] {
            assert!(metrics.contains(name), "/metrics has {name}");
        }
        assert!(metrics.contains("trustpulse_submissions_total{outcome=\"recorded\"}"));
        assert!(!metrics.contains("outcome=\"invalid\""), "{metrics}");
        // Commands are counted; interactions, the survey's route, never are.
        assert!(metrics.contains("route=\"/slack/commands\""), "{metrics}");
        assert!(!metrics.contains("/slack/interactions"), "{metrics}");
        assert!(
            !metrics.contains("U0BOSS1") && !metrics.contains("D0BOSS1"),
            "no person in a metric"
        );
    });
}

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a child `serve` logged, for a failure message.
fn read_log(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(unreadable: {e})"))
}

/// The real `trustpulse serve` in its own process, so that its metrics are its own (the test
/// binary's recorder is shared by every test running at once): no metric line differs between
/// a scrape before a seller opens the app's DM and one after they have answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_metric_moves_when_a_seller_answers() {
    let team = sellers("U0BOSS1", 5, &["Europe/Berlin"]);
    let fake = FakeSlack::start(team.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("metrics.db").display()
    );
    let store = Store::connect(&db_url).await.unwrap();
    let pairs: Vec<(&str, &str)> = team.iter().map(|s| (s.id.as_str(), "U0BOSS1")).collect();
    let started = Timestamp::now();
    store
        .replace_roster(&roster(&pairs), started)
        .await
        .unwrap();
    waves::start_wave(&store, "U0BOSS1", k(5), started)
        .await
        .unwrap();
    let (listen, metrics_listen) = (free_port(), free_port());
    let log = dir.path().join("serve.log");
    let mut child = KillOnDrop::spawn(
        trustpulse(dir.path())
            .arg("serve")
            .env("DATABASE_URL", &db_url)
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("SLACK_API_URL", fake.api_url())
            .env("TRUSTPULSE_LISTEN", format!("127.0.0.1:{listen}"))
            .env(
                "TRUSTPULSE_METRICS_LISTEN",
                format!("127.0.0.1:{metrics_listen}"),
            )
            // Its warnings and its outbox rounds, for the failure messages below (logs never hold
            // an answer or a payload).
            .env("RUST_LOG", "info,trustpulse::schedule=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    // Its listeners are bound before its worker sends anything.
    if let Err(e) = fake.wait_for_recipients(5, Duration::from_secs(60)).await {
        panic!("{e}; serve's log:\n{}", read_log(&log));
    }
    let base_url = format!("http://127.0.0.1:{listen}");
    let metrics_url = format!("http://127.0.0.1:{metrics_listen}");
    // Slack has the five invitations, but `serve` counts each only once it has recorded it
    // (after a first pulse's DM-channel record, which may wait its turn behind the start-up
    // directory sync). Wait for the five counts, so that nothing from the sends is still
    // arriving between the two scrapes below.
    let all_sent = r#"trustpulse_slack_jobs_total{kind="invite",outcome="sent"} 5"#;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let scrape = get_from(&metrics_url, "/metrics").await;
        if scrape.contains(all_sent) {
            break;
        }
        if std::time::Instant::now() >= deadline {
            let jobs: Vec<&str> = scrape
                .lines()
                .filter(|l| l.starts_with("trustpulse_slack_jobs_total"))
                .collect();
            panic!(
                "serve never counted its five invitations; it counted {jobs:?}; its log:\n{}",
                read_log(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slack = Transport::Http {
        base_url: base_url.clone(),
        secret: SIGNING_SECRET.to_owned(),
        clock: Clock::System,
    };
    assert!(
        get_from(&base_url, "/metrics")
            .await
            .starts_with("HTTP/1.1 404")
    );

    // Opening the survey tells as much as answering it: the scrape before comes before the
    // seller opens the app's DM and presses the invitation's button.
    let before = get_from(&metrics_url, "/metrics").await;
    assert!(before.starts_with("HTTP/1.1 200"), "{before}");
    let opened = payloads::event_callback("Ev0OPENED1", payloads::app_messages_opened("U0BOSS1S1"));
    assert_eq!(slack.event(opened).await.unwrap().status, 200);
    // The seller looks at Home first: its publish is neither counted nor left in the outbox.
    // Wait until `serve` has finished with it (its row gone, or marked done), so that the
    // scrape after cannot come before a count.
    let home = payloads::event_callback("Ev0HOME1", payloads::app_home_opened("U0BOSS1S1"));
    assert_eq!(slack.event(home).await.unwrap().status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let outbox = store.dump_table("outbox").await.unwrap();
        let home_rows: Vec<&String> = outbox.iter().filter(|r| r.starts_with("home:")).collect();
        let in_flight = home_rows
            .iter()
            .any(|r| r.contains("|pending|") || r.contains("|sending|"));
        if fake.home("U0BOSS1S1").is_some() && !in_flight {
            assert!(
                home_rows.is_empty(),
                "a published Home left a row naming its seller: {home_rows:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve never published the seller's Home; its log:\n{}",
            read_log(&log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let invitation = fake.dm_messages("U0BOSS1S1").pop().unwrap();
    let click = payloads::button_click(&fake, "U0BOSS1S1", &invitation, OPEN_SURVEY);
    slack.interaction(click).await.unwrap();
    let modal = fake.open_modal("U0BOSS1S1").expect("a modal opened");
    let values = payloads::survey_values(["4", "2", "5"], Some("a comment"));
    let reply = slack
        .interaction(payloads::view_submission("U0BOSS1S1", &modal, values))
        .await
        .unwrap();
    assert_eq!(reply.body["view"]["title"]["text"], "Thank you");
    let after = get_from(&metrics_url, "/metrics").await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        store
            .ballots_of_wave(
                &store
                    .open_wave_of("U0BOSS1")
                    .await
                    .unwrap()
                    .unwrap()
                    .wave_id
            )
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(before.contains("trustpulse_slack_jobs_total"), "{before}");
    assert_eq!(
        metric_lines(&before),
        metric_lines(&after),
        "a metric moved when a seller opened the app's DM, Home, the survey, and answered"
    );
    store.close().await;
}
