//! Participation as private as answers on every surface: no count under k, no payload in a log
//! line, comments that stay text, and admin clicks that cannot be replayed.

use regex_lite::Regex;
use serde_json::json;
use trustpulse::ops::waves;
use trustpulse::sim::payloads;
use trustpulse::store::Job;

use crate::app::{TestApp, captured_logs, run_test, sellers};
use crate::helpers::now;

async fn close(app: &TestApp) {
    waves::close_wave(
        &app.state.store,
        "U0BOSS1",
        &app.state.release_policy,
        now(),
    )
    .await
    .unwrap()
    .expect("an open pulse");
}

async fn manager_surfaces(app: &TestApp) -> Vec<(&'static str, String)> {
    let status = app.command("U0BOSS1", "status").await;
    let home_click = payloads::app_home_opened("U0BOSS1");
    app.slack
        .event(payloads::event_callback("Ev0HOME1", home_click))
        .await
        .unwrap();
    let digest = Job::Digest {
        manager_id: "U0BOSS1".into(),
        week: "2026-11-23".into(),
    };
    app.state
        .store
        .enqueue(&digest, now(), now())
        .await
        .unwrap();
    app.deliver().await;
    let digest = app.last_dm("U0BOSS1");
    vec![
        ("/pulse status", status.body.to_string()),
        ("App Home", app.fake.home("U0BOSS1").unwrap().to_string()),
        ("digest text", digest.text),
        ("digest blocks", digest.blocks.to_string()),
    ]
}

#[test]
fn a_held_window_shows_no_count_under_k_anywhere() {
    run_test(async |app| {
        app.open_pulse("U0BOSS1", 6).await;
        for seller in ["U0BOSS1S1", "U0BOSS1S2"] {
            app.answer(seller, "4", "4", "4", None).await;
        }
        close(app).await;
        let two = Regex::new(r"\b2\b").unwrap();
        for (surface, text) in manager_surfaces(app).await {
            assert!(
                text.contains("Fewer than 5 people answered the last pulse"),
                "{surface}: {text}"
            );
            assert!(!two.is_match(&text), "{surface} shows the count 2: {text}");
        }
    });
}

const LOG_MARKER: &str = "log-marker-e51c0a-never-logged";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparseable_interaction_leaves_nothing_of_itself_in_the_logs() {
    // Shaped like a survey submission, but missing what Slack always sends (ids, the view's
    // type), so neither trustpulse nor slack-morphism can parse it.
    let broken = json!({
        "type": "view_submission",
        "user": {"id": "U0BOSS1S1", "name": LOG_MARKER},
        "view": {"state": {"values": {"comment": {"comment": {
            "type": "plain_text_input", "value": LOG_MARKER
        }}}}}
    });
    let http = TestApp::spawn().await;
    let reply = http.slack.interaction(broken.clone()).await.unwrap();
    assert_eq!(reply.status, 400, "{reply:?}");
    http.stop().await;
    let socket = TestApp::spawn_socket_mode().await;
    socket.slack.interaction(broken).await.unwrap();
    socket.stop().await;

    let logs = captured_logs();
    assert!(
        logs.contains("verified request with a body we cannot read"),
        "the HTTP refusal was logged"
    );
    assert!(
        logs.contains("Socket Mode: could not handle an envelope")
            && logs.contains("could not parse a Slack payload"),
        "the Socket Mode failure was logged by kind"
    );
    assert!(!logs.contains(LOG_MARKER), "a payload reached the logs");
}

#[test]
fn a_comment_reaches_the_manager_as_text_never_as_markup() {
    run_test(async |app| {
        app.open_pulse("U0BOSS1", 5).await;
        let sneaky = "<https://example.com|x> <!here> <@U0MANAGER>";
        for seller in [
            "U0BOSS1S1",
            "U0BOSS1S2",
            "U0BOSS1S3",
            "U0BOSS1S4",
            "U0BOSS1S5",
        ] {
            app.answer(seller, "4", "4", "4", Some(sneaky)).await;
        }
        close(app).await;
        let escaped = "&lt;https://example.com|x&gt; &lt;!here&gt; &lt;@U0MANAGER&gt;";
        for (surface, text) in manager_surfaces(app).await {
            assert!(text.contains(escaped), "{surface}: {text}");
            for markup in ["<https://example.com", "<!here>", "<@U0MANAGER>"] {
                assert!(!text.contains(markup), "{surface} carries {markup}: {text}");
            }
        }
    });
}

#[test]
fn a_replayed_admin_click_has_no_second_effect() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
            .await;
        app.state.store.add_admin("U0HR1", now()).await.unwrap();
        let start = payloads::view_button_click(
            &app.fake,
            "U0HR1",
            trustpulse::slack::home::ids::START,
            "U0BOSS1",
        );
        app.slack.interaction(start.clone()).await.unwrap();
        let first = app.state.store.open_wave_of("U0BOSS1").await.unwrap();
        assert!(first.is_some(), "the click started a pulse");
        close(app).await;
        // The same signed request again, within Slack's five minutes: same trigger id.
        let reply = app.slack.interaction(start).await.unwrap();
        assert_eq!(reply.status, 200);
        assert!(
            app.state
                .store
                .open_wave_of("U0BOSS1")
                .await
                .unwrap()
                .is_none(),
            "a replayed click started a second pulse"
        );
    });
}

/// A seller opening Home while a pulse is open gets their Home view, and the outbox is then as
/// it was: no row names them or says when they looked, published or refused.
#[test]
fn a_published_home_leaves_no_row_naming_its_person() {
    run_test(async |app| {
        app.open_pulse("U0BOSS1", 5).await;
        let outbox = app.state.store.dump_table("outbox").await.unwrap();
        let home = payloads::app_home_opened("U0BOSS1S1");
        let event = payloads::event_callback("Ev0HOMEROW1", home.clone());
        assert_eq!(app.slack.event(event).await.unwrap().status, 200);
        assert_eq!(
            app.state.store.dump_table("outbox").await.unwrap().len(),
            outbox.len() + 1,
            "the publish is queued"
        );
        assert_eq!(app.deliver().await.sent, 1);
        assert!(app.fake.home("U0BOSS1S1").is_some(), "Home is published");
        assert_eq!(app.state.store.dump_table("outbox").await.unwrap(), outbox);

        // Refused for good: the same.
        app.fake.fail_next(
            "views.publish",
            trustpulse::sim::fake_slack::Fault::Error("invalid_arguments".into()),
        );
        let event = payloads::event_callback("Ev0HOMEROW2", home);
        assert_eq!(app.slack.event(event).await.unwrap().status, 200);
        assert_eq!(app.deliver().await.failed, 1);
        assert_eq!(app.state.store.dump_table("outbox").await.unwrap(), outbox);
    });
}

/// A seller opening the app's DM, where the invitation is, comes just before answering. It
/// leaves no inbox row (whose time would date the answer) and no line at the default level;
/// opening Home still records its event, once.
#[test]
fn opening_the_apps_dm_leaves_no_row_and_no_line_at_the_default_level() {
    run_test(async |app| {
        app.open_pulse("U0BOSS1", 5).await;
        let inbox = app.state.store.dump_table("inbox").await.unwrap();
        let opened = payloads::app_messages_opened("U0BOSS1S1");
        let reply = app
            .slack
            .event(payloads::event_callback("Ev0DMOPEN1", opened))
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(app.state.store.dump_table("inbox").await.unwrap(), inbox);

        let home = payloads::app_home_opened("U0BOSS1S1");
        for _ in 0..2 {
            let event = payloads::event_callback("Ev0HOMEOPEN1", home.clone());
            assert_eq!(app.slack.event(event).await.unwrap().status, 200);
        }
        assert_eq!(
            app.state.store.dump_table("inbox").await.unwrap().len(),
            inbox.len() + 1,
            "Home's opening is recorded once"
        );
        // Every test's logs: no opening of the app, DM or Home, at INFO or above.
        let logs = captured_logs();
        for line in logs.lines().filter(|l| l.contains("app_home_opened")) {
            assert!(line.contains("DEBUG") || line.contains("TRACE"), "{line}");
        }
    });
}
