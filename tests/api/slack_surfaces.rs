//! `/pulse` and App Home for a seller, a manager, an admin and a stranger; admin set-up from
//! Slack through modals.

use serde_json::Value;
use trustpulse::sim::fake_slack::FakeUser;
use trustpulse::sim::payloads;
use trustpulse::slack::home::ids;
use trustpulse::store::CadenceScope;

use crate::app::{TestApp, sellers};
use trustpulse::schedule::planner;

use crate::helpers::{now, ts};

async fn setup() -> TestApp {
    let app = TestApp::spawn().await;
    app.team(
        "U0BOSS1",
        &sellers("U0BOSS1", 6, &["Europe/Berlin", "America/New_York"]),
    )
    .await;
    app.fake.add_user(FakeUser::new("U0HR1", "Europe/London"));
    app.fake.add_user(FakeUser::new("U0STRANGER", "UTC"));
    app.state.store.add_admin("U0HR1", now()).await.unwrap();
    // HR has chosen the built-in cadence: Mondays at 10:00 in each seller's zone.
    let today = now().to_zoned(jiff::tz::TimeZone::UTC).date();
    app.state
        .store
        .set_cadence(
            &trustpulse::store::CadenceScope::Org,
            &trustpulse::survey::cadence::Cadence::builtin_default(today),
            now(),
        )
        .await
        .unwrap();
    app
}

fn text(reply: &trustpulse::sim::slack_side::Reply) -> String {
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["response_type"], "ephemeral",
        "every /pulse reply is ephemeral"
    );
    reply.body["text"].as_str().unwrap().to_owned()
}

async fn home_text(app: &TestApp, user: &str) -> String {
    let event = payloads::event_callback(&format!("EvHome{user}"), payloads::app_home_opened(user));
    app.slack.event(event).await.unwrap();
    app.deliver().await;
    app.fake
        .home(user)
        .expect("a home was published")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulse_answers_each_role_privately() {
    let app = setup().await;
    // Three sellers in Berlin and three in New York, with k = 5: neither zone is k on its own,
    // so all six are asked at New York's 10:00, which is 16:00 in Berlin.
    let seller = text(&app.command("U0BOSS1S1", "status").await);
    assert!(
        seller.contains("Your next pulse opens Monday 30 November at 16:00"),
        "{seller}"
    );
    let in_new_york = text(&app.command("U0BOSS1S2", "status").await);
    assert!(
        in_new_york.contains("Your next pulse opens Monday 30 November at 10:00"),
        "{in_new_york}"
    );
    assert!(seller.contains("What <@U0BOSS1> will see"), "{seller}");
    let manager = text(&app.command("U0BOSS1", "status").await);
    assert!(
        manager.contains("Nothing has been released for your team yet"),
        "{manager}"
    );
    let stranger = text(&app.command("U0STRANGER", "status").await);
    assert!(stranger.contains("not on a team's roster"), "{stranger}");

    let admin = text(&app.command("U0HR1", "admin").await);
    assert!(
        admin.contains("<@U0BOSS1>: 6 sellers, 6 can be asked"),
        "{admin}"
    );
    for not_admin in ["U0BOSS1", "U0BOSS1S1", "U0STRANGER"] {
        let refusal = text(&app.command(not_admin, "admin").await);
        assert!(
            refusal.starts_with("Sorry, `/pulse admin` is for trustpulse admins"),
            "{refusal}"
        );
        assert!(!refusal.contains("6 sellers"));
    }
    assert!(text(&app.command("U0STRANGER", "privacy").await).contains("at least 5 people"));
    assert!(text(&app.command("U0STRANGER", "").await).contains("/pulse status"));
    assert!(
        text(&app.command("U0STRANGER", "results please").await)
            .contains("I don't know `/pulse results`")
    );
    app.stop().await;
}

/// A seller is told when their invitation will come, invitations going out at least k at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_is_told_when_the_invitation_comes_in_their_own_time() {
    let app = TestApp::spawn().await;
    // Seven in Tokyo, three in Berlin, k = 5: five of Tokyo's at 10:00 there, and two of them
    // (chosen at random each time) with Berlin's three, at 10:00 Berlin time, 18:00 in Tokyo.
    let mut team = sellers("U0BOSS1", 7, &["Asia/Tokyo"]);
    team.extend((8..=10).map(|i| FakeUser::new(&format!("U0BOSS1S{i}"), "Europe/Berlin")));
    app.team("U0BOSS1", &team).await;
    let today = now().to_zoned(jiff::tz::TimeZone::UTC).date();
    app.state
        .store
        .set_cadence(
            &CadenceScope::Org,
            &trustpulse::survey::cadence::Cadence::builtin_default(today),
            now(),
        )
        .await
        .unwrap();
    let in_tokyo = text(&app.command("U0BOSS1S1", "status").await);
    assert!(
        in_tokyo.contains("Your next pulse opens Monday 30 November at 10:00 or 18:00."),
        "{in_tokyo}"
    );
    let in_berlin = text(&app.command("U0BOSS1S8", "status").await);
    assert!(
        in_berlin.contains("Your next pulse opens Monday 30 November at 10:00."),
        "{in_berlin}"
    );

    // Tokyo's 10:00: the pulse opens and five of Tokyo's seven are asked.
    let tokyo_ten = ts("2026-11-30T01:00:00Z");
    app.state.clock.set(tokyo_ten);
    planner::tick(&app.state, tokyo_ten).await.unwrap();
    app.deliver().await;
    // At 14:00 in Tokyo, each of them is told what is true for them alone: the two kept for
    // Berlin's group that their invitation comes at 18:00, the five asked the next week's.
    app.state.clock.set(ts("2026-11-30T05:00:00Z"));
    let mut told = Vec::new();
    for i in 1..=7 {
        let seller = format!("U0BOSS1S{i}");
        let invited = app.fake.dm_messages(&seller).len();
        told.push((invited, text(&app.command(&seller, "status").await)));
    }
    let asked = told.iter().filter(|(invited, _)| *invited == 1);
    let kept = told.iter().filter(|(invited, _)| *invited == 0);
    assert_eq!((asked.clone().count(), kept.clone().count()), (5, 2));
    for (_, status) in asked {
        assert!(
            status.contains("Your next pulse opens Monday 7 December at 10:00 or 18:00."),
            "{status}"
        );
    }
    for (_, status) in kept {
        assert!(
            status.contains("Your next pulse opens Monday 30 November at 18:00."),
            "{status}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_home_shows_each_role_its_own_view() {
    let app = setup().await;
    let seller = home_text(&app, "U0BOSS1S1").await;
    assert!(
        seller.contains("Your trust pulse") && seller.contains(ids_opt_out()),
        "{seller}"
    );
    assert!(!seller.contains("Admin") && !seller.contains("Your team's trust"));
    let manager = home_text(&app, "U0BOSS1").await;
    assert!(
        manager.contains("Your team's trust") && manager.contains("Nothing has been released"),
        "{manager}"
    );
    assert!(
        !manager.contains(ids::START),
        "a manager gets no admin buttons"
    );
    let admin = home_text(&app, "U0HR1").await;
    assert!(
        admin.contains("Org default cadence")
            && admin.contains(ids::START)
            && admin.contains("6 sellers"),
        "{admin}"
    );
    let stranger = home_text(&app, "U0STRANGER").await;
    assert!(stranger.contains("not on a team's roster"), "{stranger}");
    app.stop().await;
}

/// A button on App Home whose modal Slack will not open (the trigger expired): Home has no
/// conversation for a message only the admin sees, so their Home is published again with the
/// notice on top; nothing is posted, and the next opening of Home drops the notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_button_whose_modal_slack_will_not_open_says_so_on_home() {
    use trustpulse::sim::fake_slack::Fault;
    let app = setup().await;
    home_text(&app, "U0HR1").await;
    let posts = app.fake.calls_to("chat.postMessage").len();
    app.fake
        .fail_next("views.open", Fault::Error("expired_trigger_id".into()));
    let click = payloads::view_button_click(&app.fake, "U0HR1", ids::EDIT_CADENCE, "U0BOSS1");
    assert_eq!(app.slack.interaction(click).await.unwrap().status, 200);
    assert!(app.fake.open_modal("U0HR1").is_none());
    let home = app.fake.home("U0HR1").expect("Home was published");
    assert_eq!(
        home["blocks"][0]["text"]["text"],
        ":warning: Slack did not open that in time. Please press the button again.",
        "{home}"
    );
    assert!(
        home.to_string().contains("Org default cadence"),
        "the rest of Home is as it was: {home}"
    );
    assert!(app.fake.calls_to("chat.postEphemeral").is_empty());
    assert_eq!(app.fake.calls_to("chat.postMessage").len(), posts);

    let again = home_text(&app, "U0HR1").await;
    assert!(!again.contains("press the button again"), "{again}");
    let click = payloads::view_button_click(&app.fake, "U0HR1", ids::EDIT_CADENCE, "U0BOSS1");
    app.slack.interaction(click).await.unwrap();
    let modal = app
        .fake
        .open_modal("U0HR1")
        .expect("the next press opens it");
    assert_eq!(modal["callback_id"], ids::CADENCE_MODAL);
    app.stop().await;
}

fn ids_opt_out() -> &'static str {
    trustpulse::slack::blocks::ids::OPT_OUT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_changes_a_teams_cadence_through_the_modal_and_bad_values_show_on_their_field() {
    let app = setup().await;
    let click = payloads::view_button_click(&app.fake, "U0HR1", ids::EDIT_CADENCE, "U0BOSS1");
    assert_eq!(app.slack.interaction(click).await.unwrap().status, 200);
    let modal = app
        .fake
        .open_modal("U0HR1")
        .expect("the cadence modal opened");
    assert_eq!(modal["callback_id"], ids::CADENCE_MODAL);

    let submit = |fields: &[(&str, &str)]| {
        payloads::view_submission("U0HR1", &modal, payloads::text_values(fields))
    };
    let good = [
        ("every", "2w"),
        ("weekday", "tue"),
        ("time", "09:30"),
        ("tz", "Europe/Berlin"),
        ("open-for", "3d"),
        ("remind-after", "2d"),
        ("digest-weekday", "mon"),
        ("digest-time", "09:00"),
    ];
    let mut bad = good;
    bad[2] = ("time", "25:99");
    let reply = app.slack.interaction(submit(&bad)).await.unwrap();
    assert_eq!(reply.body["response_action"], "errors");
    let message = reply.body["errors"]["time"].as_str().unwrap();
    assert!(
        message.contains("'25:99' is not a time of day") && message.contains("10:00"),
        "{message}"
    );
    let stored = app
        .state
        .store
        .cadence(&CadenceScope::Manager("U0BOSS1".into()))
        .await
        .unwrap();
    assert_eq!(stored, None, "a refused change changes nothing");

    let reply = app.slack.interaction(submit(&good)).await.unwrap();
    assert_eq!(reply.body["response_action"], "clear", "{:?}", reply.body);
    let stored = app
        .state
        .store
        .cadence(&CadenceScope::Manager("U0BOSS1".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.every_weeks, 2);
    assert_eq!(
        stored.describe(),
        "every 2 weeks on tue at 09:30 (Europe/Berlin), open for 3d, reminder after 2d; digest mon at 09:00 (manager's time zone)"
    );

    // The same modal submitted by a non-admin is refused.
    let forged = payloads::view_submission("U0BOSS1", &modal, payloads::text_values(&good));
    let reply = app.slack.interaction(forged).await.unwrap();
    assert_eq!(reply.body["view"]["title"]["text"], "Admins only");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_starts_reminds_and_closes_a_pulse_from_slack_and_manages_admins() {
    let app = setup().await;
    let press =
        |action: &str, value: &str| payloads::view_button_click(&app.fake, "U0HR1", action, value);
    let title = |modal: Option<Value>| modal.unwrap()["title"]["text"].as_str().unwrap().to_owned();

    app.slack
        .interaction(press(ids::START, "U0BOSS1"))
        .await
        .unwrap();
    assert_eq!(title(app.fake.open_modal("U0HR1")), "Pulse started");
    assert_eq!(
        app.deliver().await.sent,
        6 + 1,
        "six invitations and the admin's refreshed home"
    );
    app.slack
        .interaction(press(ids::START, "U0BOSS1"))
        .await
        .unwrap();
    assert_eq!(title(app.fake.open_modal("U0HR1")), "Not started");
    app.slack
        .interaction(press(ids::REMIND, "U0BOSS1"))
        .await
        .unwrap();
    assert_eq!(title(app.fake.open_modal("U0HR1")), "Reminder queued");
    app.slack
        .interaction(press(ids::CLOSE, "U0BOSS1"))
        .await
        .unwrap();
    assert_eq!(title(app.fake.open_modal("U0HR1")), "Pulse closed");
    assert!(
        app.state
            .store
            .open_wave_of("U0BOSS1")
            .await
            .unwrap()
            .is_none()
    );

    // A manager pressing an admin button gets a polite refusal and nothing happens.
    let forged = payloads::view_button_click(&app.fake, "U0BOSS1", ids::START, "U0BOSS1");
    app.slack.interaction(forged).await.unwrap();
    assert_eq!(title(app.fake.open_modal("U0BOSS1")), "Admins only");
    assert!(
        app.state
            .store
            .open_wave_of("U0BOSS1")
            .await
            .unwrap()
            .is_none()
    );

    // Adding an admin through the users_select modal; the last admin cannot remove themselves.
    app.slack
        .interaction(press(ids::ADD_ADMIN, "add"))
        .await
        .unwrap();
    let modal = app.fake.open_modal("U0HR1").unwrap();
    let values = serde_json::json!({ids::ADMIN_USER_BLOCK: {ids::ADMIN_USER: {"type": "users_select", "selected_user": "U0STRANGER"}}});
    let reply = app
        .slack
        .interaction(payloads::view_submission("U0HR1", &modal, values))
        .await
        .unwrap();
    assert_eq!(reply.body["response_action"], "clear");
    assert_eq!(
        app.state.store.admins().await.unwrap(),
        ["U0HR1", "U0STRANGER"]
    );
    app.slack
        .interaction(press(ids::REMOVE_ADMIN, "U0STRANGER"))
        .await
        .unwrap();
    assert_eq!(app.state.store.admins().await.unwrap(), ["U0HR1"]);
    app.slack
        .interaction(press(ids::REMOVE_ADMIN, "U0HR1"))
        .await
        .unwrap();
    assert_eq!(title(app.fake.open_modal("U0HR1")), "Still needed");
    assert_eq!(app.state.store.admins().await.unwrap(), ["U0HR1"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_opts_out_from_home_and_is_not_invited() {
    let app = setup().await;
    let click = payloads::view_button_click(
        &app.fake,
        "U0BOSS1S1",
        trustpulse::slack::blocks::ids::OPT_OUT,
        "out",
    );
    app.slack.interaction(click).await.unwrap();
    app.deliver().await;
    assert!(
        app.fake
            .home("U0BOSS1S1")
            .unwrap()
            .to_string()
            .contains("You have opted out")
    );
    let opened =
        trustpulse::ops::waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap();
    assert!(!opened.invitees.contains(&"U0BOSS1S1".to_owned()));
    app.stop().await;
}
