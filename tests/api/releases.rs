//! Windows, releases and who sees what (DESIGN §3), through the real store, handlers and the
//! fake Slack.

use serde_json::Value;
use trustpulse::ops::digests::digest_for;
use trustpulse::ops::waves;

use crate::app::{TestApp, run_test, sellers};
use crate::helpers::{answers, now};

async fn close(app: &TestApp) {
    waves::close_wave(
        &app.state.store,
        "U0BOSS1",
        &app.state.release_policy,
        now(),
    )
    .await
    .unwrap()
    .unwrap();
}

/// Opens a pulse for U0BOSS1 and has these sellers answer (4, 2, 5), each with a comment.
async fn pulse(app: &TestApp, answering: &[&str]) -> String {
    let wave = waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap()
        .wave;
    for seller in answering {
        let mut a = answers(4, 2, 5);
        a.comment = Some(format!("note from a seller {}", seller.len()));
        app.state
            .store
            .record_submission(&wave.wave_id, seller, &a, now())
            .await
            .unwrap();
    }
    wave.window_id
}

async fn digest_text(app: &TestApp, manager: &str) -> String {
    digest_for(&app.state, manager, now())
        .await
        .unwrap()
        .to_text()
}

#[test]
fn a_small_team_pools_under_k_and_counts_distinct_respondents() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
            .await;
        // Week 1: four answer, under k = 5: held, no numbers.
        let window = pulse(app, &["U0BOSS1S1", "U0BOSS1S2", "U0BOSS1S3", "U0BOSS1S4"]).await;
        close(app).await;
        assert_eq!(app.state.store.release_bytes(&window).await.unwrap(), None);
        let text = digest_text(app, "U0BOSS1").await;
        assert!(
            text.contains("Fewer than 5 people answered the last pulse, the privacy minimum"),
            "{text}"
        );
        assert!(
            !text.contains('4'),
            "no count under k, not even in words: {text}"
        );
        assert!(!text.contains("agree"), "{text}");
        // Week 2: three answer, two of them again: five distinct people, seven ballots.
        let second = pulse(app, &["U0BOSS1S1", "U0BOSS1S2", "U0BOSS1S5"]).await;
        assert_eq!(second, window, "the held window pools the next pulse");
        close(app).await;
        let release = app
            .state
            .store
            .release_bytes(&window)
            .await
            .unwrap()
            .expect("released");
        assert!(
            release.contains("\"respondents\":5"),
            "distinct people, not 7: {release}"
        );
        assert!(release.contains("\"waves\":2"), "{release}");
        let text = digest_text(app, "U0BOSS1").await;
        assert!(text.contains("5 of 6 answered, 2 pulses pooled"), "{text}");
    });
}

#[test]
fn a_window_that_never_reaches_k_is_reported_without_numbers_after_four_pulses() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
            .await;
        let mut window = String::new();
        for week in 1..=4 {
            window = pulse(app, &["U0BOSS1S1", "U0BOSS1S2", "U0BOSS1S3"]).await;
            close(app).await;
            let released = app.state.store.release_bytes(&window).await.unwrap();
            assert_eq!(released.is_some(), week == 4, "week {week}");
        }
        let release = app
            .state
            .store
            .release_bytes(&window)
            .await
            .unwrap()
            .unwrap();
        assert!(
            release.contains("not_enough_responses") && !release.contains("mean"),
            "{release}"
        );
        let text = digest_text(app, "U0BOSS1").await;
        assert!(
            text.contains("did not reach the privacy minimum of 5"),
            "{text}"
        );
        assert!(
            !text.contains("agree") && !text.contains("note from"),
            "{text}"
        );
    });
}

#[test]
fn nothing_a_manager_can_see_changes_while_a_pulse_is_open() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
            .await;
        let surfaces = || async {
            let digest = digest_text(app, "U0BOSS1").await;
            let home = app.home("U0BOSS1").await.to_string();
            let status = app.command("U0BOSS1", "status").await.body.to_string();
            (digest, home, status)
        };
        let wave = waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap()
            .wave;
        let before = surfaces().await;
        for seller in [
            "U0BOSS1S1",
            "U0BOSS1S2",
            "U0BOSS1S3",
            "U0BOSS1S4",
            "U0BOSS1S5",
        ] {
            app.state
                .store
                .record_submission(&wave.wave_id, seller, &answers(1, 5, 3), now())
                .await
                .unwrap();
            assert_eq!(
                surfaces().await,
                before,
                "a submission by {seller} changed what the manager sees"
            );
        }
    });
}

#[test]
fn after_release_no_key_token_ballot_or_comment_remains_and_the_release_names_no_one() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
            .await;
        waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap();
        app.deliver().await;
        // Through the real handlers: button, modal, submission, DM update.
        for seller in [
            "U0BOSS1S1",
            "U0BOSS1S2",
            "U0BOSS1S3",
            "U0BOSS1S4",
            "U0BOSS1S5",
        ] {
            let reply = app
                .answer(
                    seller,
                    "4",
                    "2",
                    "5",
                    Some("Please keep the pipeline review short"),
                )
                .await;
            assert_eq!(reply.body["response_action"], "update");
        }
        let wave = app
            .state
            .store
            .open_wave_of("U0BOSS1")
            .await
            .unwrap()
            .unwrap();
        let release_before_close = app
            .state
            .store
            .release_bytes(&wave.window_id)
            .await
            .unwrap();
        assert_eq!(release_before_close, None);
        close(app).await;

        let store = &app.state.store;
        assert_eq!(
            store.window_respondents(&wave.window_id).await.unwrap(),
            0,
            "participation tokens deleted"
        );
        assert_eq!(
            store
                .has_answered(&wave.wave_id, "U0BOSS1S1")
                .await
                .unwrap(),
            None,
            "the window key is gone"
        );
        assert!(
            store
                .ballots_of_wave(&wave.wave_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .comments_of_wave(&wave.wave_id)
                .await
                .unwrap()
                .is_empty()
        );
        let release = store.release_bytes(&wave.window_id).await.unwrap().unwrap();
        assert!(release.contains("Please keep the pipeline review short"));
        for who in [
            "U0BOSS1S",
            "D0BOSS1S",
            "1700000000",
            "trigger",
            "hooks.slack",
        ] {
            assert!(
                !release.contains(who),
                "the release holds {who:?}: {release}"
            );
        }
        // A release never changes: closing again, or a late answer, leaves its bytes alone.
        assert!(
            waves::close_wave(store, "U0BOSS1", &app.state.release_policy, now())
                .await
                .unwrap()
                .is_none()
        );
        let late = store
            .record_submission(&wave.wave_id, "U0BOSS1S6", &answers(1, 1, 1), now())
            .await;
        assert!(late.is_err());
        assert_eq!(
            store.release_bytes(&wave.window_id).await.unwrap(),
            Some(release)
        );
    });
}

#[test]
fn a_seller_moved_mid_wave_still_answers_with_the_team_they_were_asked_in() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
            .await;
        app.team("U0BOSS2", &sellers("U0BOSS2", 5, &["Europe/Berlin"]))
            .await;
        let wave = waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap()
            .wave;
        // U0BOSS1S1 moves to U0BOSS2 while the pulse is open.
        let mut moved = app.state.store.memberships(now()).await.unwrap();
        moved.retain(|m| m.left_at.is_none());
        let pairs: Vec<(String, String)> = moved
            .iter()
            .map(|m| {
                (
                    m.seller_id.clone(),
                    if m.seller_id == "U0BOSS1S1" {
                        "U0BOSS2".into()
                    } else {
                        m.manager_id.clone()
                    },
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(s, m)| (s.as_str(), m.as_str()))
            .collect();
        app.state
            .store
            .replace_roster(&crate::helpers::roster(&refs), now())
            .await
            .unwrap();
        for seller in [
            "U0BOSS1S1",
            "U0BOSS1S2",
            "U0BOSS1S3",
            "U0BOSS1S4",
            "U0BOSS1S5",
        ] {
            app.state
                .store
                .record_submission(&wave.wave_id, seller, &answers(2, 2, 2), now())
                .await
                .unwrap();
        }
        close(app).await;
        let release = app
            .state
            .store
            .release_bytes(&wave.window_id)
            .await
            .unwrap()
            .unwrap();
        assert!(release.contains("\"respondents\":5"), "{release}");
        assert!(
            app.state
                .store
                .releases_of("U0BOSS2", 12)
                .await
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn no_one_but_the_teams_manager_receives_its_numbers() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
            .await;
        app.team("U0BOSS2", &sellers("U0BOSS2", 6, &["Europe/Berlin"]))
            .await;
        app.fake
            .add_user(trustpulse::sim::fake_slack::FakeUser::new("U0HR1", "UTC"));
        app.fake
            .add_user(trustpulse::sim::fake_slack::FakeUser::new(
                "U0STRANGER",
                "UTC",
            ));
        app.state.store.add_admin("U0HR1", now()).await.unwrap();
        pulse(
            app,
            &[
                "U0BOSS1S1",
                "U0BOSS1S2",
                "U0BOSS1S3",
                "U0BOSS1S4",
                "U0BOSS1S5",
                "U0BOSS1S6",
            ],
        )
        .await;
        close(app).await;
        let own = digest_text(app, "U0BOSS1").await;
        assert!(
            own.contains("Care  4.0") && own.contains("note from a seller"),
            "{own}"
        );

        let numbers = ["4.0", "2.0", "5.0", "% agree", "note from a seller"];
        for viewer in ["U0HR1", "U0STRANGER", "U0BOSS2", "U0BOSS1S1"] {
            let status = app.command(viewer, "status").await.body.to_string();
            let admin = app.command(viewer, "admin").await.body.to_string();
            let privacy = app.command(viewer, "privacy").await.body.to_string();
            let home = app.home(viewer).await.to_string();
            for surface in [&status, &admin, &privacy, &home] {
                for number in numbers {
                    assert!(
                        !surface.contains(number),
                        "{viewer} sees {number:?}: {surface}"
                    );
                }
            }
        }
        // HR sees participation, and only that.
        let admin = app.command("U0HR1", "admin").await.body.to_string();
        assert!(admin.contains("last release: 6 of 6 took part"), "{admin}");
        // The digest DM goes to the manager's own DM only.
        let value: Value = serde_json::to_value(
            digest_for(&app.state, "U0BOSS2", now())
                .await
                .unwrap()
                .to_text(),
        )
        .unwrap();
        assert!(!value.to_string().contains("4.0"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managers_self_check_shows_the_gap_to_them_alone_and_once_per_window() {
    use trustpulse::sim::payloads;
    use trustpulse::slack::blocks::ids;
    let app = TestApp::spawn().await;
    app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
        .await;
    app.fake
        .add_user(trustpulse::sim::fake_slack::FakeUser::new("U0HR1", "UTC"));
    app.state.store.add_admin("U0HR1", now()).await.unwrap();
    let wave = waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap()
        .wave;

    let press = payloads::view_button_click(&app.fake, "U0BOSS1", ids::SELF_CHECK, "predict");
    app.slack.interaction(press).await.unwrap();
    let modal = app.fake.open_modal("U0BOSS1").unwrap();
    assert_eq!(modal["callback_id"], ids::SELF_CHECK_MODAL);
    let values = payloads::survey_values(["5", "4", "5"], None);
    let reply = app
        .slack
        .interaction(payloads::view_submission("U0BOSS1", &modal, values.clone()))
        .await
        .unwrap();
    assert!(reply.body.to_string().contains("Saved"), "{:?}", reply.body);
    // Once per window.
    let again = app
        .slack
        .interaction(payloads::view_submission("U0BOSS1", &modal, values))
        .await
        .unwrap();
    assert!(
        again
            .body
            .to_string()
            .contains("already made your prediction"),
        "{:?}",
        again.body
    );

    for seller in [
        "U0BOSS1S1",
        "U0BOSS1S2",
        "U0BOSS1S3",
        "U0BOSS1S4",
        "U0BOSS1S5",
    ] {
        app.state
            .store
            .record_submission(&wave.wave_id, seller, &answers(4, 2, 5), now())
            .await
            .unwrap();
    }
    close(&app).await;
    let text = digest_text(&app, "U0BOSS1").await;
    assert!(text.contains("you predicted 5: team −1.0"), "{text}");
    assert!(text.contains("you predicted 4: team −2.0"), "{text}");
    for viewer in ["U0HR1", "U0BOSS1S1"] {
        let home = app.home(viewer).await.to_string();
        let status = app.command(viewer, "status").await.body.to_string();
        assert!(
            !home.contains("predicted") && !status.contains("predicted"),
            "{viewer} sees the prediction"
        );
    }
    app.stop().await;
}

/// Every row of every table, as an operator could read them.
pub async fn dump(store: &trustpulse::store::Store) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for table in store.tables().await.unwrap() {
        for row in store.dump_table(&table).await.unwrap() {
            rows.push((table.clone(), row));
        }
    }
    rows
}

#[test]
fn no_row_of_any_table_links_a_respondent_to_an_answer_or_comment() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
            .await;
        waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap();
        app.deliver().await;
        let comment = "Quarterly targets feel arbitrary";
        for seller in [
            "U0BOSS1S1",
            "U0BOSS1S2",
            "U0BOSS1S3",
            "U0BOSS1S4",
            "U0BOSS1S5",
        ] {
            app.answer(seller, "2", "3", "4", Some(comment)).await;
        }
        // Who could identify a respondent: their id, their DM channel, a message ts, a trigger id.
        let identifying = |row: &str| {
            row.contains("U0BOSS1S")
                || row.contains("D0BOSS1S")
                || row.contains("1700000000.")
                || row.contains(".T0TEAM.")
        };
        let holds_answer = |table: &str, row: &str| {
            table == "ballots" || row.contains(comment) || table == "releases"
        };
        for (when, rows) in [
            ("open", dump(&app.state.store).await),
            ("released", {
                close(app).await;
                dump(&app.state.store).await
            }),
        ] {
            assert!(rows.iter().any(|(t, _)| t == "people"), "the dump works");
            for (table, row) in &rows {
                assert!(
                    !(holds_answer(table, row) && identifying(row)),
                    "{when}: {table} links a person to an answer: {row}"
                );
            }
            if when == "released" {
                for gone in ["ballots", "comments", "participation", "window_keys"] {
                    assert!(
                        rows.iter().all(|(t, _)| t != gone),
                        "{gone} still has rows after release"
                    );
                }
            }
        }
    });
}
