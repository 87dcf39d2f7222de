//! A first pulse to people the bot has never written to: the invitation is addressed to the
//! user id (no `conversations.open`, a tier-3 method at about 50 a minute), the DM channel Slack
//! names is remembered, and the DM is opened the old way only when Slack refuses the user id.

use crate::app::{run_test, sellers};
use crate::helpers::now;
use trustpulse::sim::fake_slack::dm_channel;

#[test]
fn an_invitation_reaches_a_new_seller_without_opening_the_dm_first() {
    run_test(async |app| {
        let opened = app.open_pulse("U0BOSS1", 5).await;

        assert!(app.fake.calls_to("conversations.open").is_empty());
        for seller in &opened.invitees {
            let dms = app.fake.dm_messages(seller);
            assert_eq!(dms.len(), 1, "{seller} got one invitation");
            assert_eq!(dms[0].channel, dm_channel(seller));
            let person = app.state.store.person(seller).await.unwrap().unwrap();
            assert_eq!(
                person.dm_channel.as_deref(),
                Some(dm_channel(seller).as_str()),
                "the channel is remembered"
            );
        }

        // The next message goes to the remembered channel, and the close updates each invitation
        // in it (which needs the real channel id, not the user id).
        trustpulse::ops::waves::remind_wave(&app.state.store, "U0BOSS1", app.state.now())
            .await
            .unwrap();
        app.deliver().await;
        let reminders: Vec<String> = app
            .fake
            .calls_to("chat.postMessage")
            .iter()
            .skip(5)
            .map(|c| c.args["channel"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(reminders.len(), 5);
        assert!(
            reminders.iter().all(|c| c.starts_with('D')),
            "{reminders:?}"
        );
    });
}

#[test]
fn when_slack_refuses_the_user_id_the_dm_is_opened_first() {
    run_test(async |app| {
        app.fake.refuse_posts_to_user_ids();
        let opened = app.open_pulse("U0BOSS1", 5).await;

        assert_eq!(
            app.fake.calls_to("conversations.open").len(),
            5,
            "one per seller"
        );
        for seller in &opened.invitees {
            assert_eq!(
                app.fake.dm_messages(seller).len(),
                1,
                "{seller} got the invitation"
            );
            let person = app.state.store.person(seller).await.unwrap().unwrap();
            assert_eq!(
                person.dm_channel.as_deref(),
                Some(dm_channel(seller).as_str())
            );
        }
    });
}

/// 1,000 sellers the bot has never written to are all invited within 1,000 / posts-per-minute
/// minutes plus 10% (simulated time, the pacer's own clock), with no `conversations.open`.
#[test]
fn a_first_pulse_reaches_a_thousand_new_sellers_at_the_posting_pace() {
    run_test(async |app| {
        app.team("U0BOSS1", &sellers("U0BOSS1", 1000, &["Europe/Berlin"]))
            .await;
        let start = app.state.now();
        trustpulse::ops::waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap();
        let report = app.deliver().await;

        assert_eq!(report.sent, 1000);
        assert!(app.fake.calls_to("conversations.open").is_empty());
        let posts = app.fake.calls_to("chat.postMessage");
        assert!(
            posts.iter().all(|c| c.status == 200 && c.error.is_none()),
            "no 429, no refusal"
        );
        let per_minute = 300.0; // TestApp's TRUSTPULSE_POSTS_PER_MINUTE
        let allowed_secs = 1000.0 / per_minute * 60.0 * 1.1;
        let took = app.state.now().duration_since(start).as_secs_f64();
        assert!(
            took <= allowed_secs,
            "took {took} s of simulated time, allowed {allowed_secs}"
        );
    });
}
