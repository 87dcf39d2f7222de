//! `kill -9` in the middle of a fan-out, then a restart: every invitee has at least one
//! invitation, at most one has two, and answering either copy counts once.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use trustpulse::ops::waves;
use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeSlack, Fault, dm_channel};
use trustpulse::sim::payloads;
use trustpulse::slack::verify;
use trustpulse::store::{Store, SubmissionError};

use crate::app::{SIGNING_SECRET, sellers};
use crate::helpers::{KillOnDrop, TestDb, answers, k, roster, trustpulse};

fn serve(dir: &std::path::Path, db_url: &str, fake: &FakeSlack) -> KillOnDrop {
    serve_on(dir, db_url, fake, "127.0.0.1:0")
}

fn serve_on(dir: &std::path::Path, db_url: &str, fake: &FakeSlack, listen: &str) -> KillOnDrop {
    KillOnDrop::spawn(
        trustpulse(dir)
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("SLACK_API_URL", fake.api_url())
            .env("TRUSTPULSE_LISTEN", listen)
            .env("TRUSTPULSE_POSTS_PER_MINUTE", "6000")
            // The default lease (120 s): the restart takes back the dead process's rows at once,
            // because on SQLite it holds the only serve lock, not because a lease ran out.
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
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

/// One signed `view_submission` on a fresh connection; whether trustpulse thanked the seller
/// (the acknowledgement that their answer is recorded).
async fn submit_over_http(port: u16, person: &str, wave_id: &str, n: u64) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let values = payloads::survey_values(
        ["4", "3", "5"],
        n.is_multiple_of(2).then_some("More coaching"),
    );
    let payload = payloads::survey_submission(person, wave_id, n, values).to_string();
    let body = serde_urlencoded::to_string([("payload", payload)]).unwrap();
    let ts = Timestamp::now().as_second();
    let signature = verify::sign(SIGNING_SECRET, ts, body.as_bytes());
    let request = format!(
        "POST /slack/interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    if stream.read_to_end(&mut response).await.is_err() {
        return false;
    }
    let response = String::from_utf8_lossy(&response);
    response.starts_with("HTTP/1.1 200") && response.contains("Thank you")
}

/// `kill -9` while answers pour in: every answer trustpulse thanked is recorded, and no token
/// is left without its ballot or a ballot without its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_under_answer_load_loses_no_acknowledged_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("answers.db").display()
    );
    let store = Store::connect(&db_url).await.unwrap();
    killed_under_answer_load(dir.path(), &db_url, &store).await;
    store.close().await;
}

/// The same on PostgreSQL, where the writer commits answers in multi-row statements and
/// rewrites an open pulse's answers once it is quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_dash_nine_under_answer_load_loses_no_acknowledged_answer() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    killed_under_answer_load(dir.path(), &db.url, &db.store).await;
    db.finish().await;
}

/// A team of 1,500 answering over HTTP, 32 at a time, into a child `serve` on `db_url` that is
/// killed once 300 answers were thanked; then the checks, through `store`.
async fn killed_under_answer_load(dir: &std::path::Path, db_url: &str, store: &Store) {
    let team = sellers("U0BOSS1", 1500, &["Europe/Berlin"]);
    let fake = FakeSlack::start(team.clone()).await.unwrap();
    // Slack holds every send for an hour: the child only takes answers.
    fake.fail_next(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 3600,
        },
    );
    let pairs: Vec<(&str, &str)> = team.iter().map(|s| (s.id.as_str(), "U0BOSS1")).collect();
    let now = Timestamp::now();
    store.replace_roster(&roster(&pairs), now).await.unwrap();
    let wave = waves::start_wave(store, "U0BOSS1", k(5), now)
        .await
        .unwrap()
        .wave;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = serve_on(dir, db_url, &fake, &format!("127.0.0.1:{port}"));
    // Start-up readiness (migrations, the token check), not work: poll until it listens.
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (thanked_tx, mut thanked_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let tasks: Vec<_> = team
        .iter()
        .enumerate()
        .map(|(n, seller)| {
            let (person, wave_id, thanked, gate) = (
                seller.id.clone(),
                wave.wave_id.clone(),
                thanked_tx.clone(),
                gate.clone(),
            );
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                if submit_over_http(port, &person, &wave_id, n as u64 + 1).await {
                    let _ = thanked.send(person);
                }
            })
        })
        .collect();
    drop(thanked_tx);
    let mut thanked = Vec::new();
    while thanked.len() < 300 {
        thanked.push(thanked_rx.recv().await.expect("answers are thanked"));
    }
    child.kill().unwrap(); // SIGKILL, in the middle of the load
    child.wait().unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    while let Some(person) = thanked_rx.recv().await {
        thanked.push(person);
    }
    assert!(
        thanked.len() < team.len(),
        "the kill came before every answer was in"
    );

    let ballots = store.ballots_of_wave(&wave.wave_id).await.unwrap().len();
    let tokens = store.window_respondents(&wave.window_id).await.unwrap() as usize;
    assert_eq!(
        ballots, tokens,
        "every token has its ballot and every ballot its token"
    );
    assert!(
        ballots >= thanked.len(),
        "{ballots} ballots for {} thanked answers",
        thanked.len()
    );
    for person in &thanked {
        assert_eq!(
            store.has_answered(&wave.wave_id, person).await.unwrap(),
            Some(true),
            "{person} was thanked, so their answer must be recorded"
        );
    }
    let comments = store.comments_of_wave(&wave.wave_id).await.unwrap().len();
    assert!(comments <= ballots);
}
