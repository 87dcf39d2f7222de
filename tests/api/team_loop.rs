//! Closing the loop (issue 14, parts 1 and 2): after a release the manager shares what they
//! heard and what they will do; every current seller gets the manager's words, and only them;
//! a release is shared once; "Done" tells the team once; sellers see the commitment at home.

use serde_json::Value;
use trustpulse::sim::fake_slack::{FakeUser, dm_channel};
use trustpulse::sim::payloads;
use trustpulse::slack::team_loop::ids;

use crate::app::{TestApp, run_test, sellers};
use crate::helpers::now;

const HEARD: &str = "You told me I rarely help with the hard deals.";
const WILL_DO: &str = "I will join 2 of your calls every week and debrief each one.";
const DUE: &str = "2026-12-14";

/// U0BOSS1's team of six (one opted out), a released pulse, an admin and a second team.
async fn released_team(app: &TestApp) -> String {
    app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
        .await;
    app.team("U0BOSS2", &sellers("U0BOSS2", 5, &["Europe/Berlin"]))
        .await;
    app.fake.add_user(FakeUser::new("U0HR1", "UTC"));
    app.state.store.add_admin("U0HR1", now()).await.unwrap();
    let answering: Vec<String> = (1..=5).map(|i| format!("U0BOSS1S{i}")).collect();
    let window = app.released_pulse("U0BOSS1", &answering).await;
    // Opted out after the pulse: no note for them.
    app.state
        .store
        .set_opted_out("U0BOSS1S6", true, now())
        .await
        .unwrap();
    app.deliver().await;
    window
}

/// Presses "Share with your team" as `user` and returns the modal that opened.
async fn press_share(app: &TestApp, user: &str, window: &str) -> Value {
    let press = payloads::view_button_click(&app.fake, user, ids::SHARE, window);
    app.slack.interaction(press).await.unwrap();
    app.fake.open_modal(user).expect("a modal opened")
}

/// Submits the share modal as `user` with these texts.
async fn submit_share(
    app: &TestApp,
    user: &str,
    modal: &Value,
    values: Value,
) -> trustpulse::sim::slack_side::Reply {
    app.slack
        .interaction(payloads::view_submission(user, modal, values))
        .await
        .unwrap()
}

/// The notes sent about commitments, by recipient channel.
fn notes(app: &TestApp) -> Vec<(String, String)> {
    app.fake
        .all_messages()
        .into_iter()
        .filter(|m| m.text.contains("about the last pulse") || m.text.contains("marked this done"))
        .map(|m| (m.channel, m.text))
        .collect()
}

#[test]
fn a_share_reaches_exactly_the_teams_current_sellers_in_the_managers_words_once() {
    run_test(async |app| {
        let window = released_team(app).await;
        // The manager's home offers the share; no one else's does.
        let home = app.home("U0BOSS1").await.to_string();
        assert!(home.contains(ids::SHARE), "{home}");
        for other in ["U0BOSS1S1", "U0HR1", "U0BOSS2"] {
            let home = app.home(other).await.to_string();
            assert!(!home.contains(ids::SHARE), "{other} is offered the share");
        }
        // Someone else pressing the manager's button gets nothing to share.
        let stranger = press_share(app, "U0BOSS2", &window).await;
        assert_eq!(stranger["title"]["text"], "Not your team");

        // The draft names the weakest question in words, with no number.
        let modal = press_share(app, "U0BOSS1", &window).await;
        assert_eq!(modal["callback_id"], ids::SHARE_MODAL);
        let draft = modal["blocks"][1]["element"]["initial_value"]
            .as_str()
            .unwrap();
        assert!(draft.contains("help"), "{draft}");
        assert!(!draft.chars().any(|c| c.is_ascii_digit()), "{draft}");
        // What they will do is drafted as the manager's own pledge to the team, which is who
        // reads it: "I will …", not the digest's advice about "your sellers".
        let pledge = modal["blocks"][2]["element"]["initial_value"]
            .as_str()
            .unwrap();
        assert!(pledge.starts_with("I will "), "{pledge}");
        assert!(!pledge.contains("seller"), "{pledge}");

        // A bad form loses nothing and says what to fix.
        let bad = submit_share(
            app,
            "U0BOSS1",
            &modal,
            payloads::share_values(" ", WILL_DO, Some("2020-01-01")),
        )
        .await;
        assert_eq!(bad.body["response_action"], "errors", "{:?}", bad.body);
        assert!(bad.body["errors"][ids::HEARD].is_string());
        assert!(bad.body["errors"][ids::DUE].is_string());
        assert!(notes(app).is_empty());

        let sent = submit_share(
            app,
            "U0BOSS1",
            &modal,
            payloads::share_values(HEARD, WILL_DO, Some(DUE)),
        )
        .await;
        assert!(
            sent.body.to_string().contains("5 sellers"),
            "{:?}",
            sent.body
        );
        app.deliver().await;

        let notes = notes(app);
        let recipients: std::collections::BTreeSet<&str> =
            notes.iter().map(|(channel, _)| channel.as_str()).collect();
        let expected: std::collections::BTreeSet<String> = (1..=5)
            .map(|i| dm_channel(&format!("U0BOSS1S{i}")))
            .collect();
        assert_eq!(
            recipients,
            expected.iter().map(String::as_str).collect(),
            "every current seller once; not the opted-out one, the manager, HR or another team"
        );
        assert_eq!(notes.len(), 5);
        for (_, text) in &notes {
            assert!(
                text.starts_with("From <@U0BOSS1>, about the last pulse"),
                "{text}"
            );
            assert!(text.contains(HEARD) && text.contains(WILL_DO) && text.contains(DUE));
            // Nothing but the manager's words: no digit the manager did not type.
            let rest = text
                .replace("<@U0BOSS1>", "")
                .replace(WILL_DO, "")
                .replace(DUE, "");
            assert!(!rest.chars().any(|c| c.is_ascii_digit()), "{text}");
        }

        // A second share of the same release is refused with the text already sent.
        let again = press_share(app, "U0BOSS1", &window).await;
        assert_eq!(again["title"]["text"], "Already shared");
        assert!(again.to_string().contains(WILL_DO));
        let resubmit = submit_share(
            app,
            "U0BOSS1",
            &modal,
            payloads::share_values("Something else", "Another plan", Some(DUE)),
        )
        .await;
        assert!(resubmit.body.to_string().contains("Already shared"));
        assert!(resubmit.body.to_string().contains(WILL_DO));
        app.deliver().await;
        assert_eq!(self::notes(app).len(), 5, "nothing more was sent");
    });
}

#[test]
fn done_tells_the_team_once_and_sellers_see_the_commitment_at_home() {
    run_test(async |app| {
        let window = released_team(app).await;
        let modal = press_share(app, "U0BOSS1", &window).await;
        submit_share(
            app,
            "U0BOSS1",
            &modal,
            payloads::share_values(HEARD, WILL_DO, Some(DUE)),
        )
        .await;
        app.deliver().await;

        // The seller's home shows the commitment, in progress; the manager's shows Done.
        let seller = app.home("U0BOSS1S1").await.to_string();
        assert!(
            seller.contains(WILL_DO) && seller.contains("In progress"),
            "{seller}"
        );
        let manager = app.home("U0BOSS1").await.to_string();
        assert!(
            manager.contains(ids::DONE) && !manager.contains(ids::SHARE),
            "{manager}"
        );
        let commitment = app
            .state
            .store
            .latest_commitment("U0BOSS1")
            .await
            .unwrap()
            .unwrap();

        // "Still working on it" sends nothing; only the manager can mark it done.
        for (user, action) in [("U0BOSS1", ids::STILL_WORKING), ("U0BOSS2", ids::DONE)] {
            let press =
                payloads::view_button_click(&app.fake, user, action, &commitment.commitment_id);
            app.slack.interaction(press).await.unwrap();
        }
        app.deliver().await;
        let done_notes = |app: &TestApp| {
            app.fake
                .all_messages()
                .into_iter()
                .filter(|m| m.text.contains("marked this done"))
                .count()
        };
        assert_eq!(done_notes(app), 0);

        for _ in 0..2 {
            let press = payloads::view_button_click(
                &app.fake,
                "U0BOSS1",
                ids::DONE,
                &commitment.commitment_id,
            );
            app.slack.interaction(press).await.unwrap();
        }
        assert_eq!(
            app.fake.open_modal("U0BOSS1").unwrap()["title"]["text"],
            "Already done"
        );
        app.deliver().await;
        assert_eq!(done_notes(app), 5, "the team is told once");
        let seller = app.home("U0BOSS1S2").await.to_string();
        assert!(seller.contains("Marked done"), "{seller}");
    });
}
