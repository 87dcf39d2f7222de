//! A whole wave through the real HTTP endpoints (and Socket Mode) and the fake Slack.

use serde_json::Value;
use trustpulse::ops::waves;
use trustpulse::sim::fake_slack::FakeUser;
use trustpulse::sim::payloads;

use crate::app::{TestApp, sellers};
use crate::helpers::now;

const ZONES: [&str; 3] = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"];

async fn ballot_count(app: &TestApp, wave_id: &str) -> usize {
    app.state
        .store
        .ballots_of_wave(wave_id)
        .await
        .unwrap()
        .len()
}

fn modal_title(reply: &Value) -> String {
    reply["view"]["title"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn whole_wave(app: TestApp) {
    // A team of 8 who can be asked, plus a bot and a deactivated account on the roster.
    let team = sellers("U0BOSS1", 8, &ZONES);
    let mut bot = FakeUser::new("U0BOSS1BOT", "UTC");
    bot.is_bot = true;
    let mut gone = FakeUser::new("U0BOSS1GONE", "UTC");
    gone.deleted = true;
    let mut everyone = team.clone();
    everyone.extend([bot, gone]);
    app.team("U0BOSS1", &everyone).await;
    app.team("U0BOSS2", &sellers("U0BOSS2", 5, &ZONES)).await;

    let opened = waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
    assert_eq!(opened.invitees.len(), 8);
    let wave = opened.wave.wave_id.clone();
    assert_eq!(app.deliver().await.sent, 8);
    for seller in &team {
        assert_eq!(
            app.fake.dm_messages(&seller.id).len(),
            1,
            "{} is invited once",
            seller.id
        );
    }
    for nobody in ["U0BOSS1", "U0BOSS1BOT", "U0BOSS1GONE"] {
        assert!(
            app.fake.dm_messages(nobody).is_empty(),
            "{nobody} must not be invited"
        );
    }
    let invitation = app.last_dm("U0BOSS1S1");
    assert!(
        invitation.text.contains("trust pulse"),
        "{}",
        invitation.text
    );

    // Six answer through the modal.
    let mut first_submission = None;
    for (i, seller) in team.iter().take(6).enumerate() {
        let modal = app.open_survey(&seller.id).await;
        let values = payloads::survey_values(
            ["4", "2", "5"],
            Some("Keep the Friday pipeline reviews short"),
        );
        let submission = payloads::view_submission(&seller.id, &modal, values);
        let reply = app.slack.interaction(submission.clone()).await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["response_action"], "update", "{:?}", reply.body);
        assert_eq!(modal_title(&reply.body), "Thank you");
        if i == 0 {
            first_submission = Some(submission);
        }
        // The thanks is in the modal; the DM is left exactly as it was, as for everyone else.
        let dm = app.last_dm(&seller.id);
        assert!(!dm.updated, "the DM of {} was not touched", seller.id);
        assert_eq!(app.fake.dm_messages(&seller.id).len(), 1);
    }
    assert_eq!(ballot_count(&app, &wave).await, 6);
    assert!(
        app.fake.calls_to("chat.update").is_empty(),
        "no answer edits a DM: a DM export would show who answered, and when"
    );

    // A second submission (replayed payload) and a second click change nothing.
    let replay = app
        .slack
        .interaction(first_submission.unwrap())
        .await
        .unwrap();
    assert_eq!(modal_title(&replay.body), "Already answered");
    // The click comes from the original invitation, as on a second device that still shows it.
    let click = payloads::button_click(
        &app.fake,
        "U0BOSS1S1",
        &invitation,
        trustpulse::slack::blocks::ids::OPEN_SURVEY,
    );
    app.slack.interaction(click).await.unwrap();
    let modal = app.fake.open_modal("U0BOSS1S1").unwrap();
    assert_eq!(
        modal["title"]["text"], "Already answered",
        "a second click explains instead of asking again"
    );
    assert_eq!(ballot_count(&app, &wave).await, 6);

    // Out-of-range values are shown on their field and written nowhere.
    let modal = app.open_survey("U0BOSS1S7").await;
    for (care, help, trust, bad_field) in [
        ("0", "3", "3", "care"),
        ("3", "6", "3", "help"),
        ("3", "3", "4.5", "trust"),
    ] {
        let values = payloads::survey_values([care, help, trust], None);
        let reply = app
            .slack
            .interaction(payloads::view_submission("U0BOSS1S7", &modal, values))
            .await
            .unwrap();
        assert_eq!(reply.body["response_action"], "errors", "{:?}", reply.body);
        assert!(
            reply.body["errors"][bad_field].is_string(),
            "{:?}",
            reply.body
        );
    }
    assert_eq!(ballot_count(&app, &wave).await, 6);

    // Someone from another team forging a submission for this wave is refused.
    let forged = payloads::view_submission(
        "U0BOSS2S1",
        &modal,
        payloads::survey_values(["1", "1", "1"], None),
    );
    let reply = app.slack.interaction(forged).await.unwrap();
    assert_eq!(modal_title(&reply.body), "Not your pulse");
    assert_eq!(ballot_count(&app, &wave).await, 6);

    // The reminder reaches all eight, with the same words: no one can tell who answered.
    let before = app.fake.calls_to("chat.postMessage").len();
    let (_, queued) = waves::remind_wave(&app.state.store, "U0BOSS1", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued, 8);
    assert_eq!(app.deliver().await.sent, 8);
    let reminders = &app.fake.calls_to("chat.postMessage")[before..];
    let mut reminded: Vec<String> = reminders
        .iter()
        .map(|c| c.args["channel"].as_str().unwrap().to_owned())
        .collect();
    reminded.sort();
    let everyone: Vec<String> = team.iter().map(|s| s.id.replace("U0", "D0")).collect();
    assert_eq!(reminded, everyone);
    // One text for all, but for the closing time in each seller's own zone.
    let texts: std::collections::BTreeSet<String> = reminders
        .iter()
        .map(|c| c.args["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts.len(),
        ZONES.len(),
        "one text per time zone: {texts:?}"
    );
    assert!(
        texts
            .iter()
            .all(|t| t
                .contains("Everyone gets this reminder, so that no one can tell who answered.")),
        "{texts:?}"
    );
    // Reminding again sends nothing new.
    waves::remind_wave(&app.state.store, "U0BOSS1", now())
        .await
        .unwrap();
    assert_eq!(app.deliver().await.sent, 0);

    // Closing releases the window (6 answered, k = 5) and freezes it; a later answer is refused
    // and changes nothing.
    let window = opened.wave.window_id.clone();
    waves::close_wave(
        &app.state.store,
        "U0BOSS1",
        &app.state.release_policy,
        now(),
    )
    .await
    .unwrap();
    // Every invitation and reminder is updated alike at close.
    assert_eq!(app.deliver().await.sent, 16);
    let seen_by = |seller: &str| -> Vec<(String, String, bool)> {
        app.fake
            .dm_messages(seller)
            .into_iter()
            .map(|m| (m.text, m.blocks.to_string(), m.updated))
            .collect()
    };
    let first = seen_by("U0BOSS1S1");
    assert_eq!(first.len(), 2);
    assert!(
        first
            .iter()
            .all(|(text, _, updated)| *updated && text.contains("This pulse closed on")),
        "{first:?}"
    );
    for seller in &team {
        assert_eq!(
            seen_by(&seller.id),
            first,
            "{} saw the same messages and edits as everyone else",
            seller.id
        );
    }
    let released = app
        .state
        .store
        .release_bytes(&window)
        .await
        .unwrap()
        .expect("released");
    assert!(released.contains("\"respondents\":6"), "{released}");
    assert_eq!(
        ballot_count(&app, &wave).await,
        0,
        "the raw ballots are gone; the release remains"
    );
    // After release no row tells the six who answered from the two who did not: what the
    // database holds about S1 (answered) and S7 (did not), both in New York, reads the same,
    // and so for S2 and S8 in Berlin.
    app.state.store.forget_released_jobs().await.unwrap();
    let rows = crate::releases::dump(&app.state.store).await;
    let random_id = regex_lite::Regex::new("[0-9a-f]{32}").unwrap();
    let about = |seller: &str| -> Vec<String> {
        let channel = seller.replace("U0", "D0");
        let mut found: Vec<String> = rows
            .iter()
            .filter(|(_, row)| row.contains(seller) || row.contains(&channel))
            .map(|(table, row)| {
                let row = row.replace(seller, "X").replace(&channel, "DX");
                // Random ids (a membership's, say) differ for everyone alike.
                format!("{table}: {}", random_id.replace_all(&row, "ID"))
            })
            .collect();
        found.sort();
        found
    };
    for (answered, did_not) in [("U0BOSS1S1", "U0BOSS1S7"), ("U0BOSS1S2", "U0BOSS1S8")] {
        let (a, b) = (about(answered), about(did_not));
        assert!(!a.is_empty());
        assert_eq!(a, b, "the database tells {answered} from {did_not}");
    }
    let values = payloads::survey_values(["5", "5", "5"], None);
    let reply = app
        .slack
        .interaction(payloads::view_submission("U0BOSS1S7", &modal, values))
        .await
        .unwrap();
    assert_eq!(modal_title(&reply.body), "Pulse closed");
    assert_eq!(
        app.state.store.release_bytes(&window).await.unwrap(),
        Some(released)
    );

    // An unknown wave.
    let mut unknown = modal.clone();
    unknown["private_metadata"] =
        Value::String(r#"{"wave":"nope","channel":null,"ts":null}"#.into());
    let reply = app
        .slack
        .interaction(payloads::view_submission(
            "U0BOSS1S8",
            &unknown,
            payloads::survey_values(["3", "3", "3"], None),
        ))
        .await
        .unwrap();
    assert_eq!(modal_title(&reply.body), "Pulse not found");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_wave_over_signed_http() {
    whole_wave(TestApp::spawn().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_wave_over_socket_mode() {
    whole_wave(TestApp::spawn_socket_mode().await).await;
}

/// Slack refuses to open the survey (the trigger expired): instead of nothing happening, the
/// seller alone is told, in a message Slack does not keep, to press the button again, and the
/// next press opens the survey.
#[tokio::test]
async fn a_survey_slack_will_not_open_says_so_to_the_seller_alone() {
    use trustpulse::sim::fake_slack::Fault;
    let app = TestApp::spawn().await;
    app.team("U0BOSS1", &sellers("U0BOSS1", 5, &ZONES)).await;
    waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
    assert_eq!(app.deliver().await.sent, 5);
    let posts = app.fake.calls_to("chat.postMessage").len();

    app.fake
        .fail_next("views.open", Fault::Error("expired_trigger_id".into()));
    let invitation = app.last_dm("U0BOSS1S1");
    let click = payloads::button_click(
        &app.fake,
        "U0BOSS1S1",
        &invitation,
        trustpulse::slack::blocks::ids::OPEN_SURVEY,
    );
    let reply = app.slack.interaction(click).await.unwrap();
    assert_eq!(reply.status, 200, "the click is acknowledged");
    assert!(app.fake.open_modal("U0BOSS1S1").is_none());
    let told = app.fake.calls_to("chat.postEphemeral");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].args["channel"], invitation.channel);
    assert_eq!(told[0].args["user"], "U0BOSS1S1", "only the seller sees it");
    assert_eq!(
        told[0].args["text"],
        "Slack did not open that in time. Please press the button again."
    );
    assert_eq!(
        app.fake.calls_to("chat.postMessage").len(),
        posts,
        "no message that stays in the DM"
    );

    let modal = app.open_survey("U0BOSS1S1").await;
    assert_eq!(
        modal["callback_id"],
        trustpulse::slack::blocks::ids::SURVEY_MODAL
    );
    assert_eq!(app.fake.calls_to("chat.postEphemeral").len(), 1);
}
