//! Fan-out benchmark: plans and sends invitations against the fake Slack, once with our pacing
//! off (how fast trustpulse itself is) and once with Slack-like limits enforced by the fake
//! (how close to the allowed rate it runs, and whether it ever trips a 429).
//!
//! ```sh
//! cargo run --release --example fanout                     # 100,000 invitations, 1,000 teams
//! cargo run --release --example fanout -- 20000 200 600   # invitations, teams, limited run size
//! FANOUT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run --release --example fanout                   # on PostgreSQL instead of SQLite
//! ```
//!
//! On PostgreSQL each run gets a fresh database next to the one named, dropped afterwards.
//!
//! Planning is an org's first pulse as `serve` opens it: the org cadence's slot has come, and
//! the planner's tick opens every team's pulse in its batches (one transaction per batch, short
//! enough that an answer waits little behind it: see `planner_bench`).
//!
//! The DM channels are taken as known from an earlier pulse, so each invitation is one
//! `chat.postMessage` (a first-ever pulse also calls `conversations.open`, a tier-3 method).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use trustpulse::app::{AppState, Clock};
use trustpulse::privacy::MinRespondents;
use trustpulse::schedule::{planner, worker};
use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeSlack, dm_channel};
use trustpulse::slack::chat::SlackChat;
use trustpulse::slack::client::SlackApi;
use trustpulse::slack::pacing::{Pacer, PacingConfig};
use trustpulse::store::{CadenceScope, Store};
use trustpulse::survey::cadence::{Cadence, CadenceFlags, weekday_name};
use trustpulse::survey::roster::{Roster, RosterRow};

#[path = "shared/bench_database.rs"]
mod bench_database;
use bench_database::BenchDatabase;

/// Names a PostgreSQL server to run on instead of SQLite.
const URL_VARIABLE: &str = "FANOUT_DATABASE_URL";

struct Run {
    invitations: usize,
    plan: Duration,
    send: Duration,
    latencies_ms: Vec<f64>,
    rate_limited: usize,
}

async fn run(
    invitations: usize,
    teams: usize,
    pacing: PacingConfig,
    fake_limit: Option<u32>,
) -> anyhow::Result<Run> {
    let fake = FakeSlack::start(Vec::new()).await?;
    fake.keep_no_bodies();
    if let Some(limit) = fake_limit {
        fake.enforce_post_limit(limit);
    }
    let database = BenchDatabase::fresh(URL_VARIABLE, "fanout").await?;
    let store = Store::connect(&database.url).await?;
    let per_team = invitations.div_ceil(teams);
    let rows: Vec<RosterRow<String>> = (0..invitations)
        .map(|i| RosterRow {
            line: i as u64 + 2,
            seller: format!("U0S{i:07}"),
            manager: format!("U0M{:05}", i / per_team),
        })
        .collect();
    let now = Timestamp::now();
    store
        .replace_roster(&Roster::from_rows(&rows)?, now)
        .await?;
    for row in &rows {
        store
            .set_dm_channel(&row.seller, &dm_channel(&row.seller), now)
            .await?;
    }
    let state = AppState {
        store: store.clone(),
        chat: Arc::new(SlackChat::new(
            SlackApi::new(&fake.api_url(), &BOT_TOKEN.to_owned().into()),
            Arc::new(Pacer::new(pacing)),
            store.clone(),
        )),
        k: MinRespondents::default(),
        release_policy: Default::default(),
        signing_secrets: Arc::new(Vec::new()),
        clock: Clock::System,
        lease: jiff::SignedDuration::from_secs(120),
        worker_kick: Arc::new(Notify::new()),
    };

    // An org's first pulse opens as it does in `serve`: HR has set the org cadence, and the
    // planner's tick opens every team's pulse whose slot has come, in its batches. The slot is
    // today, a minute ago (UTC), so the invitations are due as soon as they are queued; the
    // digest's day is three days off, so no digest joins the sends.
    let slot = (Timestamp::now() - SignedDuration::from_mins(1)).to_zoned(TimeZone::UTC);
    let today = slot.date();
    let cadence = CadenceFlags {
        weekday: Some(weekday_name(today.weekday()).to_owned()),
        time: Some(format!("{:02}:{:02}", slot.hour(), slot.minute())),
        tz: Some("UTC".to_owned()),
        digest_weekday: Some(weekday_name(today.weekday().wrapping_add(3)).to_owned()),
        ..Default::default()
    }
    .apply(&Cadence::builtin_default(today), today)?;
    let set_at = slot.timestamp() - SignedDuration::from_hours(1);
    store
        .set_cadence(&CadenceScope::Org, &cadence, set_at)
        .await?;

    // For a profiler to attach to (as in `planner_bench`).
    eprintln!("opening every pulse now");
    let planning = Instant::now();
    let opened = planner::tick(&state, Timestamp::now()).await?;
    let plan = planning.elapsed();
    let teams_made = invitations.div_ceil(per_team);
    anyhow::ensure!(
        opened.opened == teams_made,
        "the planner opened {} pulses, not one per team ({teams_made})",
        opened.opened
    );
    eprintln!("sending now");

    let sending = Instant::now();
    while fake.post_count() < invitations {
        let now = Timestamp::now();
        let round = worker::run_once(&state, now).await?;
        if round.handled() == 0 {
            // Nothing due yet (pacing): wait for the next whole second, as `serve` would.
            let next = store.next_due().await?.unwrap_or(now);
            let wait = next
                .duration_since(now)
                .unsigned_abs()
                .min(Duration::from_secs(1));
            tokio::time::sleep(wait.max(Duration::from_millis(20))).await;
        }
    }
    let send = sending.elapsed();
    let latencies_ms = fake
        .post_times()
        .iter()
        .map(|at| at.duration_since(sending).as_secs_f64() * 1000.0)
        .collect();
    let rate_limited = fake
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.status == 429)
        .count();
    store.close().await;
    database.drop().await?;
    Ok(Run {
        invitations,
        plan,
        send,
        latencies_ms,
        rate_limited,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(title: &str, run: &mut Run) {
    run.latencies_ms.sort_by(f64::total_cmp);
    let per_second = run.invitations as f64 / run.send.as_secs_f64();
    println!("{title}");
    println!("  invitations           {}", run.invitations);
    println!("  planning (open waves) {:.2} s", run.plan.as_secs_f64());
    println!(
        "  sending               {:.1} s = {per_second:.0} invitations/s",
        run.send.as_secs_f64()
    );
    println!(
        "  due → sent            p50 {:.0} ms, p99 {:.0} ms",
        percentile(&run.latencies_ms, 0.50),
        percentile(&run.latencies_ms, 0.99)
    );
    println!("  429s received         {}", run.rate_limited);
}

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let invitations = args.first().copied().unwrap_or(100_000);
    let teams = args.get(1).copied().unwrap_or(1_000);
    let limited = args.get(2).copied().unwrap_or(900);

    let backend = bench_database::backend_named_by(URL_VARIABLE);
    let mut free = run(invitations, teams, PacingConfig::off(), None).await?;
    report(
        &format!("Limits off ({invitations} invitations across {teams} teams, {backend})"),
        &mut free,
    );

    let pacing = PacingConfig::default();
    let mut paced = run(
        limited,
        limited.div_ceil(100),
        pacing,
        Some(pacing.posts_per_minute),
    )
    .await?;
    report(
        &format!(
            "Slack-like limits ({limited} invitations, at most {} posts a minute)",
            pacing.posts_per_minute
        ),
        &mut paced,
    );
    let allowed = f64::from(pacing.posts_per_minute) / 60.0;
    let achieved = limited as f64 / paced.send.as_secs_f64();
    println!(
        "  allowed rate          {allowed:.2}/s; achieved {achieved:.2}/s = {:.0}%",
        achieved / allowed * 100.0
    );
    if let Some(peak) = peak_memory_mib() {
        println!("Peak memory (whole process): {peak:.0} MiB");
    }

    // Issue 12's goals for opening waves at scale (stated for 100,000 invitations in 1,000
    // teams: the defaults) and for sending at Slack's pace.
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let planning = free.plan.as_secs_f64();
    let allowed_time = limited as f64 / allowed * 1.1;
    println!();
    println!("| issue 12's goal | this run | |");
    println!("|---|---|---|");
    println!(
        "| planning 100,000 invitations in 1,000 teams under 3 s | {invitations} in {teams} teams in {planning:.2} s | {} |",
        verdict(planning < 3.0)
    );
    println!(
        "| paced: every invitation sent within its allowed time plus 10% | {limited} in {:.1} s (at most {allowed_time:.1} s) | {} |",
        paced.send.as_secs_f64(),
        verdict(paced.send.as_secs_f64() <= allowed_time)
    );
    println!(
        "| no 429 from Slack | {} | {} |",
        free.rate_limited + paced.rate_limited,
        verdict(free.rate_limited + paced.rate_limited == 0)
    );
    Ok(())
}
