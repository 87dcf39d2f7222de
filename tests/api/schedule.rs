//! The planner and the worker over simulated time: cadences across time zones and DST,
//! downtime, 429s, error classes, and the SQLite single-replica rule.

use std::collections::BTreeMap;

use jiff::civil::date;
use jiff::{SignedDuration, Timestamp};
use trustpulse::app::{AppState, Clock};
use trustpulse::ops::waves;
use trustpulse::schedule::{planner, worker};
use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeUser, Fault, dm_channel};
use trustpulse::slack::client::SlackApi;
use trustpulse::store::{CadenceScope, InstallationState};
use trustpulse::survey::cadence::{Cadence, CadenceFlags};

use crate::app::{TestApp, run_test, sellers};
use crate::helpers::{now, teams_due, ts};

const MINUTE: SignedDuration = SignedDuration::from_secs(60);
const HOUR: SignedDuration = SignedDuration::from_secs(3600);

/// HR chose this org cadence at the start of the year, before any slot these tests look at.
async fn set_org_cadence(app: &TestApp, flags: CadenceFlags) {
    let today = date(2026, 11, 23);
    let cadence = flags
        .apply(&Cadence::builtin_default(today), today)
        .unwrap();
    app.state
        .store
        .set_cadence(&CadenceScope::Org, &cadence, ts("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
}

/// DM channels known from an earlier pulse, so only `chat.postMessage` is called.
async fn dms_known(app: &TestApp, people: &[&str]) {
    for person in people {
        app.state
            .store
            .set_dm_channel(person, &dm_channel(person), now())
            .await
            .unwrap();
    }
}

/// What each DM channel received, and when (the simulated time of the step that sent it).
type Sent = BTreeMap<String, Vec<(Timestamp, String)>>;

/// One step of simulated time: a planner tick, then the worker until nothing is due.
async fn step(app: &TestApp, at: Timestamp, sent: &mut Sent) {
    app.state.clock.set(at);
    let before = app.fake.calls_to("chat.postMessage").len();
    planner::tick(&app.state, at).await.unwrap();
    while worker::run_once(&app.state, at).await.unwrap().handled() > 0 {}
    for call in &app.fake.calls_to("chat.postMessage")[before..] {
        if call.error.is_none() {
            let channel = call.args["channel"].as_str().unwrap().to_owned();
            let text = call.args["text"].as_str().unwrap();
            let kind = if call.args["blocks"]
                .to_string()
                .contains("Your team's trust")
            {
                "digest"
            } else if text.contains("reminder") {
                "reminder"
            } else {
                "invitation"
            };
            sent.entry(channel).or_default().push((at, kind.to_owned()));
        }
    }
}

async fn simulate(app: &TestApp, from: Timestamp, until: Timestamp, every: SignedDuration) -> Sent {
    let mut sent = Sent::new();
    let mut at = from;
    while at <= until {
        step(app, at, &mut sent).await;
        at += every;
    }
    sent
}

/// A week of the org's weekly cadence, at 10:00 in each seller's zone, for a team of `team`
/// (k = 5): what each DM channel received, and when the wave closed.
async fn weekly_seller_cadence_over_a_week(
    team: Vec<FakeUser>,
    every: SignedDuration,
) -> (Sent, Option<Timestamp>) {
    let app = TestApp::spawn().await;
    app.team("U0BOSS1", &team).await;
    let ids: Vec<&str> = team
        .iter()
        .map(|s| s.id.as_str())
        .chain(["U0BOSS1"])
        .collect();
    dms_known(&app, &ids).await;
    set_org_cadence(
        &app,
        CadenceFlags {
            every: Some("1w".into()),
            weekday: Some("mon".into()),
            time: Some("10:00".into()),
            tz: Some("seller".into()),
            open_for: Some("3d".into()),
            remind_after: Some("2d".into()),
            ..Default::default()
        },
    )
    .await;
    let sent = simulate(
        &app,
        ts("2026-11-29T00:00:00Z"),
        ts("2026-12-04T00:00:00Z"),
        every,
    )
    .await;
    let wave = app
        .state
        .store
        .wave_for_period("U0BOSS1", "2026-11-30")
        .await
        .unwrap()
        .unwrap();
    app.stop().await;
    (sent, wave.closed_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_seller_cadence_asks_each_seller_at_ten_their_time_and_ticking_rate_does_not_matter()
 {
    // Five sellers in each zone: each zone's invitations are a group of k on their own.
    let team = || sellers("U0BOSS1", 15, &THREE_ZONES);
    let (by_minute, closed_by_minute) = weekly_seller_cadence_over_a_week(team(), MINUTE).await;
    let (by_hour, closed_by_hour) = weekly_seller_cadence_over_a_week(team(), HOUR).await;
    let expected_invite = [
        ("America/New_York", "2026-11-30T15:00:00Z"),
        ("Europe/Berlin", "2026-11-30T09:00:00Z"),
        ("Asia/Tokyo", "2026-11-30T01:00:00Z"),
    ];
    for i in 1..=15 {
        let channel = dm_channel(&format!("U0BOSS1S{i}"));
        let (zone, invite_at) = expected_invite[(i - 1) % 3];
        let invite_at = ts(invite_at);
        let remind_at = invite_at + SignedDuration::from_hours(48);
        assert_eq!(
            by_minute[&channel],
            vec![
                (invite_at, "invitation".to_owned()),
                (remind_at, "reminder".to_owned())
            ],
            "seller {i} in {zone}: invited at 10:00 local, reminded once two days later"
        );
    }
    // The manager gets the weekly digest at 09:00 Berlin time, and no survey.
    assert_eq!(
        by_minute[&dm_channel("U0BOSS1")],
        vec![(ts("2026-11-30T08:00:00Z"), "digest".to_owned())]
    );
    // The wave closes three days after its last seller's opening.
    assert_eq!(closed_by_minute, Some(ts("2026-12-03T15:00:00Z")));
    assert_eq!(
        by_minute, by_hour,
        "ticking every minute or every hour sends the same, at the same times"
    );
    assert_eq!(closed_by_minute, closed_by_hour);
}

const THREE_ZONES: [&str; 3] = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"];

/// Steps of ten minutes: a group's invitations share a moment but not a second (our pacing
/// of `chat.postMessage` spreads a burst), so the tests below read them to the hour.
const TEN_MINUTES: SignedDuration = SignedDuration::from_secs(600);

/// The hour at which each seller of the team was invited, by seller number; each was invited
/// once and reminded once, two days after their invitation.
fn invited_at(sent: &Sent, n: usize) -> Vec<Timestamp> {
    let hour = |at: Timestamp| Timestamp::from_second(at.as_second() / 3600 * 3600).unwrap();
    (1..=n)
        .map(|i| {
            let dms = &sent[&dm_channel(&format!("U0BOSS1S{i}"))];
            let kinds: Vec<&str> = dms.iter().map(|(_, kind)| kind.as_str()).collect();
            assert_eq!(kinds, ["invitation", "reminder"], "seller {i}");
            let invited = hour(dms[0].0);
            assert_eq!(hour(dms[1].0), invited + SignedDuration::from_hours(48));
            invited
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_alone_in_an_early_zone_is_invited_with_the_next_k_never_alone() {
    // Tokyo's 10:00 comes first. Asked then, the one Tokyo seller would be the only person who
    // could have answered for eight hours: the wave's one token and ballot would be theirs.
    let mut team = sellers("U0BOSS1", 5, &["Europe/Berlin"]);
    team.push(FakeUser::new("U0BOSS1S6", "Asia/Tokyo"));
    let (sent, closed) = weekly_seller_cadence_over_a_week(team, TEN_MINUTES).await;
    let berlin_ten = ts("2026-11-30T09:00:00Z");
    assert_eq!(
        invited_at(&sent, 6),
        vec![berlin_ten; 6],
        "the Tokyo seller is invited with Berlin's five, at Berlin's 10:00"
    );
    // The pulse still closes three days after the last zone's 10:00.
    assert_eq!(closed, Some(berlin_ten + SignedDuration::from_hours(72)));

    // Three in each zone: no grouping keeps five in every group, so all are asked at once,
    // at the last zone's time (no one is asked before 10:00 their time).
    let (sent, closed) =
        weekly_seller_cadence_over_a_week(sellers("U0BOSS1", 9, &THREE_ZONES), TEN_MINUTES).await;
    let new_york_ten = ts("2026-11-30T15:00:00Z");
    assert_eq!(invited_at(&sent, 9), vec![new_york_ten; 9]);
    assert_eq!(closed, Some(new_york_ten + SignedDuration::from_hours(72)));

    // Seven in Tokyo, three in Berlin: five Tokyo sellers at their own 10:00, two of them,
    // chosen at random, with Berlin's three.
    let mut team = sellers("U0BOSS1", 7, &["Asia/Tokyo"]);
    team.extend((8..=10).map(|i| FakeUser::new(&format!("U0BOSS1S{i}"), "Europe/Berlin")));
    let (sent, _) = weekly_seller_cadence_over_a_week(team, TEN_MINUTES).await;
    let tokyo_ten = ts("2026-11-30T01:00:00Z");
    let invited = invited_at(&sent, 10);
    assert!(invited[7..].iter().all(|at| *at == berlin_ten));
    let in_tokyo = |at| invited[..7].iter().filter(|t| **t == at).count();
    assert_eq!((in_tokyo(tokyo_ten), in_tokyo(berlin_ten)), (5, 2));
}

async fn dst_slot(
    time: &str,
    from: &str,
    until: &str,
    slot: &str,
) -> (Vec<String>, Timestamp, usize) {
    let app = TestApp::spawn().await;
    app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["America/New_York"]))
        .await;
    set_org_cadence(
        &app,
        CadenceFlags {
            weekday: Some("sun".into()),
            time: Some(time.into()),
            tz: Some("America/New_York".into()),
            ..Default::default()
        },
    )
    .await;
    let sent = simulate(&app, ts(from), ts(until), SignedDuration::from_mins(15)).await;
    let wave = app
        .state
        .store
        .wave_for_period("U0BOSS1", slot)
        .await
        .unwrap()
        .expect("the slot opened");
    let waves: Vec<String> = [slot].iter().map(|s| s.to_string()).collect();
    let invitations = sent
        .values()
        .flatten()
        .filter(|(_, kind)| kind == "invitation")
        .count();
    app.stop().await;
    (waves, wave.opens_at, invitations)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_in_the_spring_gap_or_the_autumn_repeat_opens_exactly_once() {
    // 2027-03-14: New York jumps from 02:00 to 03:00; 02:30 opens at the jump (07:00Z).
    let (_, opens_at, invitations) = dst_slot(
        "02:30",
        "2027-03-14T00:00:00Z",
        "2027-03-14T12:00:00Z",
        "2027-03-14",
    )
    .await;
    assert_eq!(opens_at, ts("2027-03-14T07:00:00Z"));
    assert_eq!(invitations, 5, "five sellers, one invitation each");
    // 2026-11-01: 01:30 happens twice; the first (05:30Z) opens, the second (06:30Z) does not.
    let (_, opens_at, invitations) = dst_slot(
        "01:30",
        "2026-11-01T00:00:00Z",
        "2026-11-01T12:00:00Z",
        "2026-11-01",
    )
    .await;
    assert_eq!(opens_at, ts("2026-11-01T05:30:00Z"));
    assert_eq!(invitations, 5);
}

#[test]
fn a_slot_missed_while_down_is_sent_once_late_or_skipped_after_its_end() {
    run_test(async |app| {
        let team = sellers("U0BOSS1", 5, &["Europe/Berlin"]);
        app.team("U0BOSS1", &team).await;
        let ids: Vec<&str> = team.iter().map(|s| s.id.as_str()).collect();
        dms_known(app, &ids).await;
        set_org_cadence(
            app,
            CadenceFlags {
                tz: Some("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .await;
        let mut sent = Sent::new();
        // Down from 08:00Z to 11:00Z across the 09:00Z slot: sent once, late, then never again.
        step(app, ts("2026-11-30T08:00:00Z"), &mut sent).await;
        assert!(
            sent.values().flatten().all(|(_, kind)| kind == "digest"),
            "no invitation before the slot"
        );
        for at in [
            "2026-11-30T11:00:00Z",
            "2026-11-30T11:00:00Z",
            "2026-11-30T11:30:00Z",
            "2026-11-30T12:00:00Z",
        ] {
            step(app, ts(at), &mut sent).await;
        }
        let invitations: Vec<_> = sent
            .values()
            .flatten()
            .filter(|(_, k)| k == "invitation")
            .collect();
        assert_eq!(invitations.len(), 5);
        assert!(
            invitations
                .iter()
                .all(|(at, _)| *at == ts("2026-11-30T11:00:00Z")),
            "{invitations:?}"
        );

        // Down for the whole of the next week's pulse (Mon 09:00Z to Thu 09:00Z): skipped, and
        // a second tick neither opens it nor skips it again (the team is not due until its next
        // slot or digest).
        let calls = app.fake.calls_to("chat.postMessage").len();
        for (at, skipped) in [("2026-12-10T12:00:00Z", 1), ("2026-12-10T12:01:00Z", 0)] {
            app.state.clock.set(ts(at));
            let report = planner::tick(&app.state, ts(at)).await.unwrap();
            assert_eq!((report.opened, report.skipped), (0, skipped), "at {at}");
        }
        while worker::run_once(&app.state, ts("2026-12-10T12:01:00Z"))
            .await
            .unwrap()
            .handled()
            > 0
        {}
        assert!(
            app.state
                .store
                .wave_for_period("U0BOSS1", "2026-12-07")
                .await
                .unwrap()
                .is_none()
        );
        let new_posts = app.fake.calls_to("chat.postMessage")[calls..].len();
        assert!(
            new_posts <= 1,
            "at most the digest, no invitation: {new_posts}"
        );
        let skipped_logs = crate::app::captured_logs()
            .matches("period=\"2026-12-07\"")
            .count();
        assert!(skipped_logs <= 1, "the skip is logged once");
    });
}

#[test]
fn a_429_on_the_fiftieth_post_pauses_the_workspace_for_retry_after_and_drops_nothing() {
    run_test(async |app| {
        open_wave_with_known_dms(app, 60).await;
        app.fake.fail_call(
            "chat.postMessage",
            50,
            Fault::RateLimited {
                retry_after_secs: 7,
            },
        );

        let mut per_second: Vec<(Timestamp, usize, usize)> = Vec::new();
        let mut at = now();
        for _ in 0..40 {
            app.state.clock.set(at);
            let before = app.fake.calls_to("chat.postMessage").len();
            while worker::run_once(&app.state, at).await.unwrap().handled() > 0 {}
            let calls = app.fake.calls_to("chat.postMessage");
            let limited = calls[before..].iter().filter(|c| c.status == 429).count();
            per_second.push((at, calls.len() - before, limited));
            at += SignedDuration::from_secs(1);
        }
        let calls = app.fake.calls_to("chat.postMessage");
        assert_eq!(calls.iter().filter(|c| c.status == 429).count(), 1);
        let delivered: std::collections::BTreeSet<&str> = calls
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| c.args["channel"].as_str().unwrap())
            .collect();
        assert_eq!(delivered.len(), 60, "nothing dropped");
        let limited_at = per_second
            .iter()
            .find(|(_, _, limited)| *limited > 0)
            .unwrap()
            .0;
        let quiet: usize = per_second
            .iter()
            .filter(|(t, _, _)| *t > limited_at && *t < limited_at + SignedDuration::from_secs(7))
            .map(|(_, n, _)| n)
            .sum();
        assert_eq!(quiet, 0, "no call to the workspace for Retry-After seconds");
        // The limits: 300 posts in any 60 s, in bursts of at most a second's worth plus one.
        let counts: Vec<usize> = per_second.iter().map(|(_, n, _)| *n).collect();
        assert!(counts.iter().all(|n| *n <= 6), "{counts:?}");
        assert!(counts.windows(60).all(|w| w.iter().sum::<usize>() <= 300));
    });
}

#[test]
fn a_round_near_the_end_of_its_lease_starts_no_more_calls_and_hands_the_rest_back() {
    run_test(async |app| {
        open_wave_with_known_dms(app, 5).await;
        // The round claims at `now` with the default 120 s lease, and its clock says 100 s have
        // gone by (Slack answering slowly): another replica could take the rows back in 20 s.
        let slow = AppState {
            clock: Clock::manual(now() + SignedDuration::from_secs(100)),
            ..app.state.clone()
        };
        let report = worker::run_once(&slow, now()).await.unwrap();
        assert_eq!(
            report.sent, 1,
            "the first call goes, so every round makes progress"
        );
        assert_eq!(app.fake.calls_to("chat.postMessage").len(), 1);
        let counts = app.state.store.outbox_counts().await.unwrap();
        assert_eq!((counts.sending, counts.sent), (0, 1), "nothing left leased");

        while worker::run_once(&app.state, now()).await.unwrap().handled() > 0 {}
        let calls = app.fake.calls_to("chat.postMessage");
        let channels: std::collections::BTreeSet<&str> = calls
            .iter()
            .map(|c| c.args["channel"].as_str().unwrap())
            .collect();
        assert_eq!((calls.len(), channels.len()), (5, 5), "each invitee once");
    });
}

/// A team of `n` sellers in Berlin whose DM channels are known, its wave open at `now()`.
async fn open_wave_with_known_dms(app: &TestApp, n: usize) {
    let team = sellers("U0BOSS1", n, &["Europe/Berlin"]);
    app.team("U0BOSS1", &team).await;
    let ids: Vec<&str> = team.iter().map(|s| s.id.as_str()).collect();
    dms_known(app, &ids).await;
    waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
}

/// Runs the worker at every due time for a day of simulated time.
async fn run_for_a_day(app: &TestApp) {
    let end = app.state.now() + SignedDuration::from_hours(24);
    loop {
        let now = app.state.now();
        while worker::run_once(&app.state, now).await.unwrap().handled() > 0 {}
        match app.state.store.next_due().await.unwrap() {
            Some(next) if next > now && next < end => app.state.clock.set(next),
            _ => return,
        }
    }
}

#[test]
fn a_permanent_refusal_is_one_call_and_never_retried() {
    run_test(async |app| {
        open_wave_with_known_dms(app, 1).await;
        app.fake
            .fail_next("chat.postMessage", Fault::Error("cannot_dm_bot".into()));
        run_for_a_day(app).await;
        assert_eq!(app.fake.calls_to("chat.postMessage").len(), 1);
        assert_eq!(app.state.store.outbox_counts().await.unwrap().failed, 1);
    });
}

#[test]
fn transient_failures_retry_with_growing_gaps_then_dead_letter() {
    run_test(async |app| {
        open_wave_with_known_dms(app, 1).await;
        for _ in 0..8 {
            app.fake.fail_next("chat.postMessage", Fault::ServerError);
        }
        let mut times = Vec::new();
        let end = app.state.now() + SignedDuration::from_hours(24);
        loop {
            let now = app.state.now();
            let before = app.fake.calls_to("chat.postMessage").len();
            while worker::run_once(&app.state, now).await.unwrap().handled() > 0 {}
            if app.fake.calls_to("chat.postMessage").len() > before {
                times.push(now);
            }
            match app.state.store.next_due().await.unwrap() {
                // The reminder, due two days later, is not part of this.
                Some(next) if next > now && next < end => app.state.clock.set(next),
                _ => break,
            }
        }
        assert_eq!(
            app.fake.calls_to("chat.postMessage").len(),
            8,
            "eight attempts, then no more"
        );
        assert_eq!(app.state.store.outbox_counts().await.unwrap().dead, 1);
        let gaps: Vec<i64> = times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]).as_secs())
            .collect();
        assert!(
            gaps.windows(2).all(|g| g[1] >= g[0]),
            "growing gaps: {gaps:?}"
        );
        assert!(gaps[0] >= 2 && *gaps.last().unwrap() >= 128, "{gaps:?}");
    });
}

/// Whether the audit finds that the reminders of every open pulse reach all its invitees.
async fn reminders_reach_every_invitee(app: &TestApp) -> bool {
    let report = app.state.store.audit().await.unwrap();
    let check = report
        .checks
        .iter()
        .find(|c| {
            c.promise
                .starts_with("every reminder of a pulse goes to all its invitees")
        })
        .expect("the audit checks the reminders");
    check.holds
}

/// A pulse opens with its invitations alone, and each invitee's reminder is queued once their
/// invitation is done with: the one Slack refused for good as well (every invitee alike,
/// answered or not, reached or not). The audit's check that reminders reach all of a pulse's
/// invitees holds throughout.
#[test]
fn every_invitee_is_reminded_alike_even_one_whose_invitation_slack_refused() {
    run_test(async |app| {
        open_wave_with_known_dms(app, 3).await;
        let counts = app.state.store.outbox_counts().await.unwrap();
        assert_eq!(counts.pending, 3, "the invitations alone");
        assert!(reminders_reach_every_invitee(app).await);

        app.fake
            .fail_next("chat.postMessage", Fault::Error("cannot_dm_bot".into()));
        run_for_a_day(app).await;
        let counts = app.state.store.outbox_counts().await.unwrap();
        assert_eq!(
            (counts.sent, counts.failed, counts.pending),
            (2, 1, 3),
            "two invitations sent, one refused, and three reminders waiting"
        );
        assert!(reminders_reach_every_invitee(app).await);

        let reminders_due = app.state.store.next_due().await.unwrap().unwrap();
        assert!(reminders_due > now() + SignedDuration::from_hours(24));
        app.state.clock.set(reminders_due);
        while worker::run_once(&app.state, reminders_due)
            .await
            .unwrap()
            .handled()
            > 0
        {}
        let posted = app.fake.calls_to("chat.postMessage");
        assert_eq!(posted.len(), 3 + 3, "{posted:?}");
        let mut reminded: Vec<&str> = posted[3..]
            .iter()
            .map(|call| call.args["channel"].as_str().unwrap_or_default())
            .collect();
        reminded.sort_unstable();
        let mut invited: Vec<&str> = posted[..3]
            .iter()
            .map(|call| call.args["channel"].as_str().unwrap_or_default())
            .collect();
        invited.sort_unstable();
        assert_eq!(reminded, invited, "each invitee reminded once");
    });
}

#[test]
fn an_auth_failure_pauses_the_installation_and_makes_no_further_calls() {
    run_test(async |app| {
        open_wave_with_known_dms(app, 3).await;
        app.fake
            .fail_next("chat.postMessage", Fault::Error("invalid_auth".into()));
        run_for_a_day(app).await;
        assert_eq!(
            app.fake.calls_to("chat.postMessage").len(),
            1,
            "no call after the token was refused"
        );
        let (_, state) = app.state.store.installation().await.unwrap().unwrap();
        assert_eq!(state, InstallationState::Paused);
        assert_eq!(
            app.state.store.outbox_counts().await.unwrap().pending,
            3,
            "nothing is lost: the three invitations wait, each with its reminder to come"
        );
    });
}

#[test]
fn a_second_serve_on_the_same_sqlite_file_refuses_to_start() {
    run_test(async |app| {
        let second = app.second_replica().await;
        let err = second.err().expect("the second serve must refuse");
        assert!(
            err.to_string().contains("already running") && err.to_string().contains("PostgreSQL"),
            "{err}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_sync_gives_people_imported_by_id_their_time_zone_and_flags() {
    use trustpulse::schedule::directory;
    use trustpulse::sim::fake_slack::FakeUser;
    let app = TestApp::spawn().await;
    let mut bot = FakeUser::new("U0SELLERBOT", "UTC");
    bot.is_bot = true;
    for user in [
        FakeUser::new("U0SELLER1", "Asia/Tokyo"),
        FakeUser::new("U0SELLER2", "America/Chicago"),
        bot,
    ] {
        app.fake.add_user(user);
    }
    let pairs = [
        ("U0SELLER1", "U0BOSS1"),
        ("U0SELLER2", "U0BOSS1"),
        ("U0SELLERBOT", "U0BOSS1"),
    ];
    app.state
        .store
        .replace_roster(&crate::helpers::roster(&pairs), now())
        .await
        .unwrap();
    app.state
        .store
        .set_opted_out("U0SELLER2", true, now())
        .await
        .unwrap();
    assert_eq!(
        app.state
            .store
            .person("U0SELLER1")
            .await
            .unwrap()
            .unwrap()
            .tz,
        None
    );

    let recorded = directory::sync(&app.state, now()).await.unwrap();
    assert_eq!(recorded, 3);
    let store = &app.state.store;
    assert_eq!(
        store
            .person("U0SELLER1")
            .await
            .unwrap()
            .unwrap()
            .tz
            .as_deref(),
        Some("Asia/Tokyo")
    );
    let second = store.person("U0SELLER2").await.unwrap().unwrap();
    assert_eq!(second.tz.as_deref(), Some("America/Chicago"));
    assert!(second.opted_out, "a sync never undoes an opt-out");
    assert!(store.person("U0SELLERBOT").await.unwrap().unwrap().is_bot);
    app.stop().await;
}

/// A directory larger than one page comes in pages of 200 (what the sync asks for), linked by
/// Slack's cursor, everyone exactly once; each page is recorded in one transaction. (The sync
/// itself paces `users.list` at Slack's tier 2 on the real clock, so it is driven page by page
/// here.)
#[test]
fn a_large_directory_is_read_page_by_page() {
    run_test(async |app| {
        for user in sellers("U0BIG", 450, &["Asia/Tokyo"]) {
            app.fake.add_user(user);
        }
        let slack = SlackApi::new(&app.fake.api_url(), &BOT_TOKEN.to_owned().into());
        let (mut cursor, mut pages, mut seen) =
            (None, Vec::new(), std::collections::BTreeSet::new());
        loop {
            let (people, next) = slack.users_page(cursor).await.unwrap();
            pages.push(people.len());
            for person in &people {
                assert!(
                    seen.insert(person.person_id.clone()),
                    "{} twice",
                    person.person_id
                );
            }
            app.state.store.upsert_people(&people, now()).await.unwrap();
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert!(seen.len() >= 450);
        assert!(pages.iter().all(|n| *n <= 200), "{pages:?}");
        assert_eq!(pages.len(), seen.len().div_ceil(200), "{pages:?}");
        let last = app.state.store.person("U0BIGS450").await.unwrap().unwrap();
        assert_eq!(last.tz.as_deref(), Some("Asia/Tokyo"));
    });
}

#[test]
fn nothing_is_sent_until_hr_chooses_a_cadence_and_then_only_from_the_next_slot() {
    run_test(async |app| {
        assert!(
            crate::app::captured_logs().contains("no org cadence is set, so no pulse is sent"),
            "serve says so at start-up"
        );
        app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
            .await;
        // A first start on a Tuesday, a day into what would have been Monday's slot.
        let tuesday = ts("2026-11-24T10:00:00Z");
        let report = planner::tick(&app.state, tuesday).await.unwrap();
        assert_eq!(report, planner::TickReport::default(), "nothing planned");
        assert_eq!(app.deliver().await.sent, 0);
        assert!(
            app.fake.calls_to("chat.postMessage").is_empty(),
            "no one was DMed"
        );
        let status = app.command("U0BOSS1S1", "status").await;
        assert!(
            status.body["text"]
                .as_str()
                .unwrap()
                .contains("No pulse is scheduled yet"),
            "{:?}",
            status.body
        );

        // HR chooses Mondays at 10:00 on Tuesday at 11:00: Monday's slot had begun, so it is not
        // sent late; the first pulse is next Monday's.
        let today = date(2026, 11, 24);
        let cadence = CadenceFlags::default()
            .apply(&Cadence::builtin_default(today), today)
            .unwrap();
        let chosen = ts("2026-11-24T11:00:00Z");
        app.state
            .store
            .set_cadence(&CadenceScope::Org, &cadence, chosen)
            .await
            .unwrap();
        let report = planner::tick(&app.state, ts("2026-11-24T11:01:00Z"))
            .await
            .unwrap();
        assert_eq!(report.opened, 0, "{report:?}");
        assert_eq!(
            report.skipped, 0,
            "a slot before the choice is not even 'missed'"
        );
        let monday = ts("2026-11-30T09:00:00Z"); // 10:00 in Berlin
        let report = planner::tick(&app.state, monday).await.unwrap();
        assert_eq!(report.opened, 1);
        assert!(
            app.state
                .store
                .wave_for_period("U0BOSS1", "2026-11-30")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            app.state
                .store
                .wave_for_period("U0BOSS1", "2026-11-23")
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn a_pulse_can_be_started_by_hand_before_any_cadence_is_chosen() {
    run_test(async |app| {
        let opened = app.open_pulse("U0BOSS1", 5).await;
        assert_eq!(opened.invitees.len(), 5);
        assert_eq!(app.fake.calls_to("chat.postMessage").len(), 5);
    });
}

/// The planner looks at a team only when its next slot or digest has come, or something that
/// moves them changed: an idle tick reads no team at all, however large the org.
#[test]
fn an_idle_tick_looks_at_no_team_until_its_time_or_a_change() {
    run_test(async |app| {
        for manager in ["U0BOSS1", "U0BOSS2", "U0BOSS3"] {
            app.team(manager, &sellers(manager, 5, &["Europe/Berlin"]))
                .await;
        }
        set_org_cadence(
            app,
            CadenceFlags {
                tz: Some("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .await;
        let store = &app.state.store;
        let due = |at: &str| teams_due(store, ts(at));
        assert_eq!(
            due("2026-11-30T08:00:00Z").await.len(),
            3,
            "a new cadence makes every team due"
        );

        planner::tick(&app.state, ts("2026-11-30T08:00:00Z"))
            .await
            .unwrap();
        assert!(
            due("2026-11-30T08:00:00Z").await.is_empty(),
            "nothing until the 09:00Z slot"
        );
        assert!(due("2026-11-30T08:59:59Z").await.is_empty());
        assert_eq!(
            due("2026-11-30T09:00:00Z").await.len(),
            3,
            "the slot's opening"
        );

        let report = planner::tick(&app.state, ts("2026-11-30T09:00:00Z"))
            .await
            .unwrap();
        assert_eq!(report.opened, 3);
        assert!(due("2026-11-30T09:30:00Z").await.is_empty());

        // A team's own cadence, and a seller's new time zone, make just that team due again.
        let today = date(2026, 11, 23);
        let weekly = CadenceFlags {
            tz: Some("America/New_York".into()),
            ..Default::default()
        }
        .apply(&Cadence::builtin_default(today), today)
        .unwrap();
        store
            .set_cadence(
                &CadenceScope::Manager("U0BOSS2".into()),
                &weekly,
                ts("2026-11-30T09:30:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(
            due("2026-11-30T09:30:00Z").await,
            vec!["U0BOSS2".to_owned()]
        );
        planner::tick(&app.state, ts("2026-11-30T09:30:00Z"))
            .await
            .unwrap();
        let moved = trustpulse::store::Person {
            tz: Some("Asia/Tokyo".into()),
            ..trustpulse::store::Person::from_id("U0BOSS3S2")
        };
        store
            .upsert_person(&moved, ts("2026-11-30T09:31:00Z"))
            .await
            .unwrap();
        assert_eq!(
            due("2026-11-30T09:31:00Z").await,
            vec!["U0BOSS3".to_owned()]
        );
        // The same facts again change nothing.
        planner::tick(&app.state, ts("2026-11-30T09:31:00Z"))
            .await
            .unwrap();
        store
            .upsert_person(&moved, ts("2026-11-30T09:32:00Z"))
            .await
            .unwrap();
        assert!(due("2026-11-30T09:32:00Z").await.is_empty());
    });
}

/// A tick that opens pulses grows the pulse tables from nothing; PostgreSQL plans later reads
/// of them from the statistics of before, which once made releasing 10,000 windows scan every
/// invitee and token once per window (56 s instead of under 2 in `planner_bench`). So the tick
/// refreshes them: the planner's own estimate of each table's rows (`reltuples`, -1 while never
/// analyzed) counts what the tick wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_tick_that_opens_pulses_refreshes_the_statistics_of_their_tables() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    for manager in ["U0BOSS1", "U0BOSS2", "U0BOSS3"] {
        app.team(manager, &sellers(manager, 5, &["Europe/Berlin"]))
            .await;
    }
    set_org_cadence(
        &app,
        CadenceFlags {
            tz: Some("Europe/Berlin".into()),
            ..Default::default()
        },
    )
    .await;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&app.db_url())
        .await
        .unwrap();
    let estimated = async |conn: &mut sqlx::PgConnection| -> Vec<(String, f32)> {
        sqlx::query_as(
            "SELECT relname::text, reltuples FROM pg_class
             WHERE relname IN ('waves', 'wave_invitees') ORDER BY relname",
        )
        .fetch_all(conn)
        .await
        .unwrap()
    };
    let report = planner::tick(&app.state, ts("2026-11-30T08:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.opened, 0);
    assert_eq!(
        estimated(&mut conn).await,
        [("wave_invitees".into(), -1.0), ("waves".into(), -1.0)],
        "a tick that opened nothing analyzed nothing"
    );
    let report = planner::tick(&app.state, ts("2026-11-30T09:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.opened, 3);
    assert_eq!(
        estimated(&mut conn).await,
        [("wave_invitees".into(), 15.0), ("waves".into(), 3.0)],
        "the planner's estimates after the tick that opened three pulses of five"
    );

    app.stop().await;
}
