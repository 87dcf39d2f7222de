//! Events: at-least-once delivery has its effect once; uninstall stops everything; people stay
//! current.

use trustpulse::ops::waves;
use trustpulse::sim::fake_slack::FakeUser;
use trustpulse::sim::payloads;
use trustpulse::store::InstallationState;

use crate::app::{TestApp, run_test, sellers};
use crate::helpers::now;

#[test]
fn the_same_event_delivered_four_times_two_at_once_has_its_effect_once() {
    run_test(async |app| {
        app.fake.add_user(FakeUser::new("U0VISITOR", "UTC"));
        let event = payloads::event_callback("Ev0HOME1", payloads::app_home_opened("U0VISITOR"));
        let (a, b) = tokio::join!(
            app.slack.event(event.clone()),
            app.slack.event(event.clone())
        );
        let (c, d) = (
            app.slack.event(event.clone()).await,
            app.slack.event(event).await,
        );
        for reply in [a, b, c, d] {
            assert_eq!(reply.unwrap().status, 200);
        }
        assert_eq!(app.deliver().await.sent, 1);
        assert_eq!(app.fake.calls_to("views.publish").len(), 1);
    });
}

/// An event's id is kept a day, long enough to recognise Slack's retries, then forgotten: the
/// inbox is no lasting record of when people opened Home or changed their profiles.
#[test]
fn event_ids_are_forgotten_after_a_day() {
    run_test(async |app| {
        let store = &app.state.store;
        let start = now();
        let hours = jiff::SignedDuration::from_hours;
        assert!(
            store
                .record_event("Ev0OLD", "app_home_opened", start)
                .await
                .unwrap()
        );
        let later = start + hours(23);
        assert!(
            store
                .record_event("Ev0NEW", "user_change", later)
                .await
                .unwrap()
        );
        let forgotten = store
            .prune_inbox(start + hours(25), trustpulse::store::INBOX_KEEP)
            .await
            .unwrap();
        assert_eq!(forgotten, 1);
        let left = store.dump_table("inbox").await.unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].starts_with("Ev0NEW|"), "{left:?}");
        assert!(
            !store
                .record_event("Ev0NEW", "user_change", start + hours(25))
                .await
                .unwrap(),
            "a retry within the day is still recognised"
        );
    });
}

#[test]
fn user_changes_keep_people_current_and_deactivated_people_are_not_invited() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
            .await;
        // S1 moves to Tokyo; S2 is deactivated; a new hire joins the workspace.
        let mut moved = app.fake.user("U0BOSS1S1").unwrap();
        moved.tz = "Asia/Tokyo".into();
        app.fake.add_user(moved);
        let mut gone = app.fake.user("U0BOSS1S2").unwrap();
        gone.deleted = true;
        app.fake.add_user(gone);
        app.fake
            .add_user(FakeUser::new("U0NEWHIRE", "America/Chicago"));
        for (id, event) in [
            ("Ev1", payloads::user_change(&app.fake, "U0BOSS1S1")),
            ("Ev2", payloads::user_change(&app.fake, "U0BOSS1S2")),
            ("Ev3", payloads::team_join(&app.fake, "U0NEWHIRE")),
        ] {
            assert_eq!(
                app.slack
                    .event(payloads::event_callback(id, event))
                    .await
                    .unwrap()
                    .status,
                200
            );
        }
        let store = &app.state.store;
        assert_eq!(
            store
                .person("U0BOSS1S1")
                .await
                .unwrap()
                .unwrap()
                .tz
                .as_deref(),
            Some("Asia/Tokyo")
        );
        assert!(
            store
                .person("U0BOSS1S2")
                .await
                .unwrap()
                .unwrap()
                .is_deactivated
        );
        assert_eq!(
            store
                .person("U0NEWHIRE")
                .await
                .unwrap()
                .unwrap()
                .tz
                .as_deref(),
            Some("America/Chicago")
        );
        let opened = waves::start_wave(store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap();
        assert!(!opened.invitees.contains(&"U0BOSS1S2".to_owned()));
        assert_eq!(opened.invitees.len(), 4);
    });
}

async fn uninstall_in_order(first: serde_json::Value, second: serde_json::Value) {
    let app = TestApp::spawn().await;
    app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
        .await;
    waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
    // A seller opens Home just before: its publish, still queued, goes with the uninstall
    // rather than staying as a cancelled row that names them.
    let home = payloads::event_callback("EvH0", payloads::app_home_opened("U0BOSS1S1"));
    assert_eq!(app.slack.event(home).await.unwrap().status, 200);
    let calls_before = app.fake.calls().len();
    for (i, event) in [first.clone(), second.clone(), first, second]
        .into_iter()
        .enumerate()
    {
        let reply = app
            .slack
            .event(payloads::event_callback(&format!("EvU{i}"), event))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "every delivery is acknowledged");
    }
    app.fake.revoke_tokens();
    let installation = app.state.store.installation().await.unwrap().unwrap();
    assert_eq!(installation.1, InstallationState::Uninstalled);
    let counts = app.state.store.outbox_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.cancelled),
        (0, 6),
        "pending invitations are cancelled, and with them the reminders they would queue"
    );
    let outbox = app.state.store.dump_table("outbox").await.unwrap();
    assert!(
        !outbox.iter().any(|row| row.starts_with("home:")),
        "{outbox:?}"
    );
    // Nothing more reaches Slack, even when new work is queued.
    waves::close_wave(
        &app.state.store,
        "U0BOSS1",
        &app.state.release_policy,
        now(),
    )
    .await
    .unwrap();
    waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
    app.deliver().await;
    assert_eq!(
        app.fake.calls().len(),
        calls_before,
        "no Slack call after uninstall"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_then_revocation_stops_all_slack_calls() {
    uninstall_in_order(payloads::app_uninstalled(), payloads::tokens_revoked()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_then_uninstall_stops_all_slack_calls() {
    uninstall_in_order(payloads::tokens_revoked(), payloads::app_uninstalled()).await;
}
