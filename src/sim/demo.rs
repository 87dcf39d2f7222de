//! `trustpulse demo`: the whole product offline. A fake Slack, a simulated sales org and the
//! real trustpulse (store, scheduler, signed HTTP endpoints, releases), driven through
//! simulated weeks in a few seconds.
//!
//! Two teams of eight sellers in three time zones: one under a command-and-control manager
//! whose team's trust slowly erodes, one under a manager who coaches and whose team's trust
//! grows. Sellers answer by clicking their DM and submitting the modal, signed as Slack would.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio_util::sync::CancellationToken;

use super::fake_slack::{BOT_TOKEN, FakeSlack, FakeUser, dm_channel};
use super::payloads;
use super::slack_side::Transport;
use crate::app::{Application, Clock};
use crate::config::{LogFormat, Settings};
use crate::schedule::{directory, planner};
use crate::slack::blocks::ids;
use crate::slack::team_loop;
use crate::store::{CadenceScope, Store};
use crate::survey::cadence::{Cadence, CadenceFlags};
use crate::survey::roster::{Roster, RosterRow};
use crate::survey::{FollowThrough, Question};

const SIGNING_SECRET: &str = "demo-signing-secret";
/// Made up, as a deployment's own would be (`openssl rand -hex 32`).
const TOKEN_SECRET: &str = "demo-token-secret-made-up-for-the-demo-only";

/// A simulated manager: their team's trust starts at `start` and moves by `drift` a week.
struct Manager {
    id: &'static str,
    name: &'static str,
    style: &'static str,
    /// Per question, in `Question::ALL` order.
    start: [f64; Question::COUNT],
    drift: [f64; Question::COUNT],
    /// Every how many releases they share a commitment with the team (None: never).
    shares_every: Option<usize>,
}

const MANAGERS: [Manager; 2] = [
    Manager {
        id: "U0DEMOALEX",
        name: "Alex",
        style: "command-and-control",
        start: [3.9, 3.4, 4.2],
        drift: [-0.07, -0.03, -0.11],
        shares_every: None,
    },
    Manager {
        id: "U0DEMOSAM",
        name: "Sam",
        style: "coaching",
        start: [3.1, 2.8, 3.0],
        drift: [0.09, 0.12, 0.08],
        shares_every: Some(3),
    },
];

const ZONES: [&str; 3] = ["America/New_York", "Europe/London", "Asia/Singapore"];
const SELLERS_PER_TEAM: usize = 8;

const COMMENTS: [&str; 6] = [
    "More ride-alongs on the hard calls would help.",
    "Pipeline reviews feel like interrogations lately.",
    "Thanks for backing me on the discount with finance.",
    "Targets changed twice this quarter without an explanation.",
    "The new one-to-ones are the best part of my week.",
    "I would like more feedback on my demos.",
];

/// What the demo did, for its summary.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub invitations: usize,
    pub answers: usize,
    pub releases: usize,
    /// Commitments shared with a team, and the notes their sellers received.
    pub shares: usize,
    pub team_notes: usize,
    /// The trend charts the managers received, as written to the charts folder.
    pub charts: Vec<PathBuf>,
    /// Per manager: the trust mean of the first and the last release with numbers.
    pub trust: BTreeMap<String, (f64, f64)>,
    /// Per manager: the share who said "yes" to the follow-through item, first and last time
    /// it was released with numbers.
    pub follow_through: BTreeMap<String, (f64, f64)>,
}

pub async fn run(
    seed: u64,
    weeks: u32,
    charts_dir: &Path,
    out: &mut (impl Write + Send),
) -> anyhow::Result<DemoSummary> {
    std::fs::create_dir_all(charts_dir)
        .with_context(|| format!("--charts: cannot create {}", charts_dir.display()))?;
    let mut rng = StdRng::seed_from_u64(seed);
    // Its own stream, so the follow-through answers leave every other draw of the demo as it was.
    let mut follow_rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut users = vec![FakeUser::new("U0DEMOHR", "Europe/London")];
    let mut pairs = Vec::new();
    for manager in &MANAGERS {
        users.push(FakeUser::new(manager.id, "Europe/London"));
        for i in 1..=SELLERS_PER_TEAM {
            let seller = format!("{}S{i}", manager.id);
            users.push(FakeUser::new(&seller, ZONES[(i - 1) % ZONES.len()]));
            pairs.push(RosterRow {
                line: pairs.len() as u64 + 2,
                seller,
                manager: manager.id.to_owned(),
            });
        }
    }
    let fake = FakeSlack::start(users).await?;
    let dir = tempfile_dir()?;
    let settings = Settings {
        database_url: format!("sqlite:{}?mode=rwc", dir.join("demo.db").display()),
        slack_bot_token: Some(BOT_TOKEN.to_owned().into()),
        slack_signing_secret: vec![SIGNING_SECRET.to_owned().into()],
        token_secret: vec![TOKEN_SECRET.to_owned().into()],
        slack_app_token: None,
        slack_api_url: fake.api_url(),
        listen: "127.0.0.1:0".parse()?,
        min_respondents: crate::privacy::MinRespondents::default(),
        min_comment_respondents: None,
        max_window_waves: crate::privacy::window::DEFAULT_MAX_WINDOW_WAVES,
        posts_per_minute: crate::slack::pacing::DEFAULT_POSTS_PER_MINUTE,
        metrics_listen: "127.0.0.1:0".parse().expect("a valid address"),
        log_format: LogFormat::Text,
        rust_log: "warn".into(),
        lease_secs: 120,
        now: None,
    };
    // Monday 4 January 2027, midnight UTC: before the first seller's 10:00 (Singapore's).
    let start: Timestamp = "2027-01-04T00:00:00Z".parse()?;
    // HR's set-up, as the CLI does it, before `serve` starts: a newcomer's first run should not
    // begin with `serve`'s warning that no cadence is set.
    {
        let store = Store::connect_with(&settings.database_url, settings.token_secrets()?).await?;
        store
            .replace_roster(&Roster::from_rows(&pairs)?, start)
            .await?;
        store.add_admin("U0DEMOHR", start).await?;
        let today = start.to_zoned(jiff::tz::TimeZone::UTC).date();
        let cadence = CadenceFlags {
            every: Some("1w".into()),
            weekday: Some("mon".into()),
            time: Some("10:00".into()),
            tz: Some("seller".into()),
            open_for: Some("3d".into()),
            remind_after: Some("2d".into()),
            digest_weekday: Some("mon".into()),
            digest_time: Some("09:00".into()),
        }
        .apply(&Cadence::builtin_default(today), today)?;
        store
            .set_cadence(&CadenceScope::Org, &cadence, start)
            .await?;
        store.close().await;
    }
    let clock = Clock::manual(start);
    let app = Application::build(&settings, clock.clone()).await?;
    let base_url = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone(), false));
    let slack = Transport::Http {
        base_url,
        secret: SIGNING_SECRET.to_owned(),
        clock: clock.clone(),
    };

    let store = &state.store;
    directory::sync(&state, start).await?;

    writeln!(out, "trustpulse demo: {} weeks, seed {seed}", weeks)?;
    for manager in &MANAGERS {
        writeln!(
            out,
            "  {} ({}) leads {SELLERS_PER_TEAM} sellers in New York, London and Singapore",
            manager.name, manager.style
        )?;
    }
    writeln!(
        out,
        "  Pulses: Mondays 10:00 in each seller's time zone, open 3 days; digests Mondays 09:00.\n"
    )?;

    let mut summary = DemoSummary::default();
    // Per manager: how many digests offered to share a release.
    let mut offered: BTreeMap<&str, usize> = BTreeMap::new();
    let mut answered: HashSet<String> = HashSet::new();
    let mut seen_messages = 0;
    let mut seen_files = 0;
    let end = start + SignedDuration::from_hours(24 * 7 * i64::from(weeks) + 24);
    let mut now = start;
    while now <= end {
        clock.set(now);
        planner::tick(&state, now).await?;
        super::deliver_due(
            &state,
            SignedDuration::from_mins(59),
            now + SignedDuration::from_mins(59),
        )
        .await?;
        let messages = fake.all_messages();
        for message in &messages[seen_messages..] {
            let week = (message_week(now, start)) as f64;
            if let Some(manager) = MANAGERS
                .iter()
                .find(|m| message.channel == dm_channel(m.id))
            {
                writeln!(
                    out,
                    "── {} · digest for {} ──",
                    clock.now().to_zoned(jiff::tz::TimeZone::UTC).date(),
                    manager.name
                )?;
                writeln!(out, "{}\n", message.text)?;
                let shareable = message.blocks.to_string().contains(team_loop::ids::SHARE);
                if shareable {
                    *offered.entry(manager.id).or_default() += 1;
                }
                let due = manager
                    .shares_every
                    .is_some_and(|every| shareable && offered[manager.id] % every == 1);
                if due {
                    share(&fake, &slack, manager, message, out).await?;
                    summary.shares += 1;
                }
                continue;
            }
            if message.text.contains("about the last pulse")
                || message.text.contains("marked this done")
            {
                summary.team_notes += 1;
                continue;
            }
            if message.text.contains("reminder") {
                continue;
            }
            summary.invitations += 1;
            let Some(manager) = MANAGERS
                .iter()
                .find(|m| message.channel.starts_with(&dm_channel(m.id)))
            else {
                continue;
            };
            // About four in five sellers answer, right away.
            if rng.random_bool(0.8)
                && answered.insert(format!("{}:{}", message.channel, message.ts))
            {
                let seller = format!("U{}", &message.channel[1..]);
                let click = payloads::button_click(
                    &fake,
                    &seller,
                    message,
                    crate::slack::blocks::ids::OPEN_SURVEY,
                );
                slack.interaction(click).await?;
                let modal = fake
                    .open_modal(&seller)
                    .context("the survey modal opened")?;
                let score = |q: usize, rng: &mut StdRng| -> String {
                    let mean = manager.start[q] + manager.drift[q] * week;
                    let noisy = mean + rng.random_range(-1.0..1.0);
                    (noisy.round().clamp(1.0, 5.0) as i64).to_string()
                };
                let scores = Question::ALL.map(|q| score(q.index(), &mut rng));
                let comment = rng
                    .random_bool(0.25)
                    .then(|| COMMENTS[rng.random_range(0..COMMENTS.len())]);
                let mut values =
                    payloads::survey_values(scores.each_ref().map(String::as_str), comment);
                let asked = modal["blocks"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|b| b["block_id"] == ids::FOLLOW_THROUGH));
                if asked {
                    // A manager who keeps their word is seen to: "yes" grows more likely each week.
                    let yes = (0.45 + 0.05 * week).min(0.9);
                    let choice = if follow_rng.random_bool(yes) {
                        FollowThrough::Yes
                    } else {
                        FollowThrough::ALL[follow_rng.random_range(1..4)]
                    };
                    payloads::with_follow_through(&mut values, &choice.value().to_string());
                }
                let reply = slack
                    .interaction(payloads::view_submission(&seller, &modal, values))
                    .await?;
                if reply.body["response_action"] == "update" {
                    summary.answers += 1;
                }
            }
        }
        seen_messages = messages.len();
        let files = fake.files();
        for file in &files[seen_files..] {
            let to = MANAGERS
                .iter()
                .find(|m| file.channels.contains(&dm_channel(m.id)));
            if let (Some(manager), Some(bytes)) = (to, &file.bytes) {
                let week = message_week(now, start) + 1;
                let path = charts_dir.join(format!(
                    "{}-week-{week:02}.png",
                    manager.name.to_lowercase()
                ));
                std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                writeln!(
                    out,
                    "   {}'s trend chart: {}\n",
                    manager.name,
                    path.display()
                )?;
                summary.charts.push(path);
            }
        }
        seen_files = files.len();
        now += SignedDuration::from_hours(1);
    }

    for manager in &MANAGERS {
        let releases = store.releases_of(manager.id, 1000).await?;
        summary.releases += releases.len();
        let trust: Vec<f64> = releases
            .iter()
            .filter_map(|r| r.result(Question::Trust).map(|q| q.mean()))
            .collect();
        if let (Some(first), Some(last)) = (trust.first(), trust.last()) {
            summary
                .trust
                .insert(manager.name.to_owned(), (*first, *last));
        }
        let yes: Vec<f64> = releases
            .iter()
            .filter_map(|r| match &r.body {
                crate::digest::ReleaseBody::Results {
                    follow_through:
                        Some(crate::digest::FollowThroughResult::Counts { answered, yes, .. }),
                    ..
                } => Some(f64::from(*yes) / f64::from(*answered)),
                _ => None,
            })
            .collect();
        if let (Some(first), Some(last)) = (yes.first(), yes.last()) {
            summary
                .follow_through
                .insert(manager.name.to_owned(), (*first, *last));
        }
    }
    writeln!(out, "Summary")?;
    writeln!(out, "  invitations sent   {}", summary.invitations)?;
    writeln!(out, "  answers recorded   {}", summary.answers)?;
    writeln!(out, "  releases           {}", summary.releases)?;
    writeln!(
        out,
        "  commitments shared {} ({} notes to sellers, each the manager's own words)",
        summary.shares, summary.team_notes
    )?;
    writeln!(
        out,
        "  trend charts       {} PNGs in {} (each manager's, as uploaded to their DM)",
        summary.charts.len(),
        charts_dir.display()
    )?;
    for (name, (first, last)) in &summary.follow_through {
        writeln!(
            out,
            "  {name}'s team follow-through: {:.0}% said yes the first time, {:.0}% the last",
            first * 100.0,
            last * 100.0
        )?;
    }
    for (name, (first, last)) in &summary.trust {
        writeln!(
            out,
            "  {name}'s team trust: first release {first:.1}, last release {last:.1}"
        )?;
    }
    let mut by_method: BTreeMap<String, usize> = BTreeMap::new();
    for call in fake.calls() {
        *by_method.entry(call.method).or_default() += 1;
    }
    let calls: Vec<String> = by_method.iter().map(|(m, n)| format!("{m} {n}")).collect();
    writeln!(out, "  Slack calls        {}", calls.join(", "))?;
    shutdown.cancel();
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summary)
}

fn message_week(now: Timestamp, start: Timestamp) -> i64 {
    now.duration_since(start).as_secs() / (7 * 86_400)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "trustpulse-demo-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The manager presses "Share with your team" under their digest and sends the draft as it is.
async fn share(
    fake: &FakeSlack,
    slack: &Transport,
    manager: &Manager,
    digest: &super::fake_slack::PostedMessage,
    out: &mut (impl Write + Send),
) -> anyhow::Result<()> {
    let click = payloads::button_click(fake, manager.id, digest, team_loop::ids::SHARE);
    slack.interaction(click).await?;
    let modal = fake
        .open_modal(manager.id)
        .context("the share modal opened")?;
    let initial = |i: usize, field: &str| {
        modal["blocks"][i]["element"][field]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (heard, will_do, due) = (
        initial(1, "initial_value"),
        initial(2, "initial_value"),
        initial(3, "initial_date"),
    );
    let values = payloads::share_values(&heard, &will_do, Some(&due));
    slack
        .interaction(payloads::view_submission(manager.id, &modal, values))
        .await?;
    writeln!(
        out,
        "── {} shares with the team: {} By {}. ──\n",
        manager.name, will_do, due
    )?;
    Ok(())
}
