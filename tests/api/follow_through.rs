//! The follow-through item (issue 14, part 3): the first pulse after a commitment's date asks
//! the team, optionally, whether the manager did what they said; the answers are a ballot item
//! like the others (same window, same k, released once, deleted with the rest), and the digest
//! shows counts only when at least k answered the item.

use serde_json::Value;
use trustpulse::ops::digests::digest_for;
use trustpulse::ops::waves;
use trustpulse::sim::payloads;
use trustpulse::slack::blocks::ids;
use trustpulse::store::NewCommitment;

use crate::app::{TestApp, run_test, sellers};
use crate::helpers::now;

const MANAGER: &str = "U0BOSS1";

/// A day after the first release: the next pulse's release ends on a later date.
fn next_day() -> jiff::Timestamp {
    now() + jiff::SignedDuration::from_hours(24)
}

/// Opens a pulse for the team on the app's clock and delivers its invitations.
async fn open_pulse(app: &TestApp) -> String {
    let wave = waves::start_wave(&app.state.store, MANAGER, app.state.k, app.state.now())
        .await
        .unwrap()
        .wave;
    app.deliver().await;
    wave.wave_id
}

async fn close(app: &TestApp) {
    let at = app.state.now();
    waves::close_wave(&app.state.store, MANAGER, &app.state.release_policy, at)
        .await
        .unwrap()
        .unwrap();
}

/// A release, then a commitment about it due today.
async fn committed_team(app: &TestApp, sellers_n: usize) {
    app.team(MANAGER, &sellers(MANAGER, sellers_n, &["Europe/Berlin"]))
        .await;
    let answering: Vec<String> = (1..=sellers_n).map(|i| format!("{MANAGER}S{i}")).collect();
    let window_id = app.released_pulse(MANAGER, &answering).await;
    let today = now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let commitment = NewCommitment {
        manager_id: MANAGER.into(),
        window_id,
        heard: "heard".into(),
        will_do: "will do".into(),
        due_on: today,
    };
    app.state
        .store
        .share_commitment(&commitment, now())
        .await
        .unwrap();
}

/// `user` answers the open pulse, with the follow-through item when `follow_through` is given.
async fn answer(app: &TestApp, user: &str, follow_through: Option<&str>) -> Value {
    let modal = app.open_survey(user).await;
    let mut values = payloads::survey_values(["4", "3", "4"], None);
    if let Some(choice) = follow_through {
        payloads::with_follow_through(&mut values, choice);
    }
    let reply = app
        .slack
        .interaction(payloads::view_submission(user, &modal, values))
        .await
        .unwrap();
    assert_eq!(reply.body["response_action"], "update", "{:?}", reply.body);
    modal
}

fn asks(modal: &Value) -> bool {
    modal["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["block_id"] == ids::FOLLOW_THROUGH)
}

#[test]
fn only_the_first_pulse_after_the_date_asks_and_the_answers_are_released_with_the_window() {
    run_test(async |app| {
        committed_team(app, 6).await;
        app.state.clock.set(next_day());
        open_pulse(app).await;
        let mut modals = Vec::new();
        for (i, choice) in ["1", "1", "1", "2", "3", "4"].iter().enumerate() {
            modals.push(answer(app, &format!("{MANAGER}S{}", i + 1), Some(choice)).await);
        }
        assert!(
            modals.iter().all(asks),
            "the first pulse after the date asks"
        );
        let label = modals[0].to_string();
        assert!(
            label.contains("has <@U0BOSS1> done what they said they would?"),
            "{label}"
        );
        close(app).await;

        let text = digest_for(&app.state, MANAGER, next_day())
            .await
            .unwrap()
            .to_text();
        assert!(
            text.contains(": 3 of 6 said yes.") && !text.contains("partly"),
            "{text}"
        );
        // Released once, deleted with the rest of the window.
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM ballots WHERE follow_through IS NOT NULL")
                .fetch_one(&sqlx::AnyPool::connect(&app.db_url()).await.unwrap())
                .await
                .unwrap();
        assert_eq!(count, 0);

        // The next pulse does not ask again.
        open_pulse(app).await;
        let modal = app.open_survey(&format!("{MANAGER}S1")).await;
        assert!(!asks(&modal), "asked once");
    });
}

#[test]
fn under_k_answers_to_the_item_show_no_digit_and_an_unasked_answer_is_not_kept() {
    run_test(async |app| {
        committed_team(app, 6).await;
        app.state.clock.set(next_day());
        let wave = open_pulse(app).await;
        // Six answer the pulse, three of them the item: the window reaches k, the item not.
        for i in 1..=6 {
            let choice = (i <= 3).then_some("1");
            answer(app, &format!("{MANAGER}S{i}"), choice).await;
        }
        let stored = app.state.store.ballots_of_wave(&wave).await.unwrap();
        assert_eq!(
            stored
                .iter()
                .filter(|b| b.follow_through().is_some())
                .count(),
            3
        );
        close(app).await;
        let text = digest_for(&app.state, MANAGER, next_day())
            .await
            .unwrap()
            .to_text();
        let line = text
            .lines()
            .find(|l| l.starts_with("Follow-through since"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains("too few answered"), "{line}");
        let after_date = line.split(':').nth(1).unwrap();
        assert!(!after_date.chars().any(|c| c.is_ascii_digit()), "{line}");
        let body = app
            .state
            .store
            .release_bytes(
                &app.state
                    .store
                    .latest_release_window(MANAGER)
                    .await
                    .unwrap()
                    .unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            body.contains("too_few") && !body.contains("answered"),
            "{body}"
        );

        // A pulse that does not ask: a forged answer to the item is not kept.
        let wave = open_pulse(app).await;
        answer(app, &format!("{MANAGER}S1"), Some("1")).await;
        let stored = app.state.store.ballots_of_wave(&wave).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].follow_through(), None);
    });
}

#[test]
fn no_row_or_log_line_links_a_seller_to_their_follow_through_answer() {
    run_test(async |app| {
        committed_team(app, 6).await;
        app.state.clock.set(next_day());
        open_pulse(app).await;
        for i in 1..=6 {
            answer(
                app,
                &format!("{MANAGER}S{i}"),
                Some(if i % 2 == 0 { "3" } else { "1" }),
            )
            .await;
        }
        let identifying = |row: &str| {
            row.contains("U0BOSS1S") || row.contains("D0BOSS1S") || row.contains("1700000000.")
        };
        for (when, rows) in [
            ("open", crate::releases::dump(&app.state.store).await),
            ("released", {
                close(app).await;
                crate::releases::dump(&app.state.store).await
            }),
        ] {
            for (table, row) in &rows {
                let holds_item = table == "ballots" || row.contains("follow_through");
                assert!(
                    !(holds_item && identifying(row)),
                    "{when}: {table} links a seller to a follow-through answer: {row}"
                );
            }
        }
        for line in crate::app::captured_logs().lines() {
            assert!(
                !(line.contains("follow_through") && identifying(line)),
                "a log line links a seller to the item: {line}"
            );
        }
    });
}
