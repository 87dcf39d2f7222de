//! Several replicas on one PostgreSQL database: each row is sent once, each slot opens once.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use trustpulse::app::AppState;
use trustpulse::ops::waves;
use trustpulse::schedule::{planner, worker};
use trustpulse::sim::fake_slack::dm_channel;

use crate::app::{TestApp, sellers};
use crate::helpers::{now, ts};

async fn replicas(app: &TestApp, n: usize) -> Vec<AppState> {
    let mut all = vec![app.state.clone()];
    for _ in 1..n {
        all.push(app.second_replica().await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_send_five_hundred_rows_exactly_once() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let team = sellers("U0BOSS1", 500, &["Europe/Berlin"]);
    app.team("U0BOSS1", &team).await;
    for seller in &team {
        app.state
            .store
            .set_dm_channel(&seller.id, &dm_channel(&seller.id), now())
            .await
            .unwrap();
    }
    waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
        .await
        .unwrap();
    let workers = replicas(&app, 3).await;
    let mut at = now();
    while app.fake.calls_to("chat.postMessage").len() < 500
        && at < now() + SignedDuration::from_hours(1)
    {
        for replica in &workers {
            replica.clock.set(at);
        }
        let rounds = workers.iter().map(|state| {
            let state = state.clone();
            tokio::spawn(async move {
                while worker::run_once(&state, at).await.unwrap().handled() > 0 {}
            })
        });
        for round in rounds.collect::<Vec<_>>() {
            round.await.unwrap();
        }
        at += SignedDuration::from_secs(1);
    }
    let calls = app.fake.calls_to("chat.postMessage");
    let channels: BTreeSet<&str> = calls
        .iter()
        .map(|c| c.args["channel"].as_str().unwrap())
        .collect();
    assert_eq!(calls.len(), 500, "exactly one post per row");
    assert_eq!(channels.len(), 500, "no duplicates");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_planners_ticking_the_same_slot_open_one_wave() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    app.team(
        "U0BOSS1",
        &sellers("U0BOSS1", 8, &["Europe/Berlin", "Asia/Tokyo"]),
    )
    .await;
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
    let planners = replicas(&app, 3).await;
    let at = ts("2026-11-30T09:00:00Z"); // Monday 10:00 in Berlin (the built-in cadence)
    let ticks = planners.iter().map(|state| {
        let state = state.clone();
        tokio::spawn(async move { planner::tick(&state, at).await.unwrap() })
    });
    let mut opened = 0;
    for tick in ticks.collect::<Vec<_>>() {
        opened += tick.await.unwrap().opened;
    }
    assert_eq!(opened, 1);
    let wave = app
        .state
        .store
        .wave_for_period("U0BOSS1", "2026-11-30")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.state.store.invitees(&wave.wave_id).await.unwrap().len(),
        8
    );
    assert_eq!(
        app.state.store.outbox_counts().await.unwrap().pending,
        8 + 1,
        "8 invitations (each queues its reminder once sent) and the manager's weekly digest, once each"
    );
    app.stop().await;
}
