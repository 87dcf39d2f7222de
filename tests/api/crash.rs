//! `kill -9` in the middle of a fan-out, then a restart: every invitee has at least one
//! invitation, at most one has two, and answering either copy counts once.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jiff::Timestamp;
use trustpulse::schedule::waves;
use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeSlack, dm_channel};
use trustpulse::store::{Store, SubmissionError};

use crate::app::{SIGNING_SECRET, sellers};
use crate::helpers::{answers, k, roster};

fn serve(dir: &std::path::Path, db_url: &str, fake: &FakeSlack) -> Child {
    Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("SLACK_API_URL", fake.api_url())
        .env("TRUSTPULSE_LISTEN", "127.0.0.1:0")
        .env("TRUSTPULSE_POSTS_PER_MINUTE", "6000")
        // The default lease (120 s): the restart takes back the dead process's rows at once,
        // because on SQLite it holds the only serve lock, not because a lease ran out.
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_mid_fan_out_loses_nothing_and_duplicates_at_most_one() {
    let team = sellers("U0BOSS1", 500, &["Europe/Berlin"]);
    let fake = FakeSlack::start(team.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}?mode=rwc", dir.path().join("crash.db").display());
    let store = Store::connect(&db_url).await.unwrap();
    let pairs: Vec<(&str, &str)> = team.iter().map(|s| (s.id.as_str(), "U0BOSS1")).collect();
    let now = Timestamp::now();
    store.replace_roster(&roster(&pairs), now).await.unwrap();
    for seller in &team {
        store
            .set_dm_channel(&seller.id, &dm_channel(&seller.id), now)
            .await
            .unwrap();
    }
    let wave = waves::start_wave(&store, "U0BOSS1", k(5), now)
        .await
        .unwrap()
        .wave;

    let mut first = serve(dir.path(), &db_url, &fake);
    fake.wait_for_recipients(200, Duration::from_secs(60))
        .await
        .unwrap();
    first.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    first.wait().unwrap();
    let at_kill = fake.calls_to("chat.postMessage").len();
    assert!(
        at_kill < 500,
        "the fan-out was interrupted midway ({at_kill} posts)"
    );

    let mut second = serve(dir.path(), &db_url, &fake);
    let finished = fake.wait_for_recipients(500, Duration::from_secs(60)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    finished.unwrap();
    let mut per_channel: BTreeMap<String, usize> = BTreeMap::new();
    for call in fake
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.error.is_none())
    {
        *per_channel
            .entry(call.args["channel"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for seller in &team {
        assert!(
            per_channel
                .get(&dm_channel(&seller.id))
                .is_some_and(|n| *n >= 1),
            "{} got no invitation",
            seller.id
        );
    }
    let twice: Vec<_> = per_channel.iter().filter(|(_, n)| **n >= 2).collect();
    assert!(
        twice.len() <= 1,
        "at most one invitee got two invitations: {twice:?}"
    );
    assert!(per_channel.values().all(|n| *n <= 2));

    // Answering from either copy counts once.
    let seller = twice
        .first()
        .map_or("U0BOSS1S1".to_owned(), |(channel, _)| {
            format!("U{}", &channel[1..])
        });
    store
        .record_submission(&wave.wave_id, &seller, &answers(4, 4, 4), Timestamp::now())
        .await
        .unwrap();
    let again = store
        .record_submission(&wave.wave_id, &seller, &answers(2, 2, 2), Timestamp::now())
        .await;
    assert!(matches!(again, Err(SubmissionError::AlreadyAnswered)));
    assert_eq!(store.ballots_of_wave(&wave.wave_id).await.unwrap().len(), 1);
    store.close().await;
}
