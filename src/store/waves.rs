//! Waves (one pulse of one team), their roster snapshots, and the windows they belong to.

use std::collections::HashMap;

use jiff::Timestamp;

use super::WriteInTurn;
use super::outbox::{Job, Queued, enqueue_or_bring_forward, installed_team, push_jobs};
use super::people::ELIGIBLE;
use super::plan_due::{PlanDue, push_plan_next};
use super::script::{Script, Value};
use super::{Backend, IN_LIST_CHUNK, Store, from_secs, new_ordered_id, placeholders, secs};
use crate::privacy::MinRespondents;
use crate::privacy::invitation_groups::{group_size, invitation_times};
use crate::privacy::token::WindowKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaveState {
    Scheduled,
    Open,
    Closed,
}

impl WaveState {
    fn parse(text: &str) -> WaveState {
        match text {
            "scheduled" => WaveState::Scheduled,
            "open" => WaveState::Open,
            _ => WaveState::Closed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    pub wave_id: String,
    pub manager_id: String,
    pub window_id: String,
    pub period: String,
    pub state: WaveState,
    pub opens_at: Timestamp,
    pub closes_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// When this pulse also asks whether the manager did what they committed to: the date of
    /// that commitment.
    pub follow_through_since: Option<String>,
}

/// One team's wave to open in [`Store::open_waves`].
pub struct OpenRequest<'a> {
    pub manager_id: &'a str,
    pub period: &'a str,
    pub timing: WaveTiming<'a>,
}

/// When each invitee of a new wave would be invited on their own, given their Slack time zone,
/// when someone invited at a time is reminded, and when the wave closes. The invitations go out
/// in groups of at least *k* (`privacy::invitation_groups`), so some are asked later than their
/// own time, and reminded as much later.
#[derive(Clone, Copy)]
pub struct WaveTiming<'a> {
    pub closes_at: Timestamp,
    /// When a seller with this time zone would be invited on their own.
    pub invite_at: &'a (dyn Fn(Option<&str>) -> Timestamp + Sync),
    /// When someone invited at this time is reminded (None: not reminded).
    pub remind_at: &'a (dyn Fn(Timestamp) -> Option<Timestamp> + Sync),
}

fn is_unique_violation(e: &anyhow::Error) -> bool {
    e.downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error())
        .is_some_and(|e| e.is_unique_violation())
}

/// The result of opening a wave: the wave, who was invited, and whether this call created it
/// (false when the slot had already been opened, which makes opening idempotent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedWave {
    pub wave: Wave,
    pub invitees: Vec<String>,
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenWaveError {
    #[error("{manager_id}'s team already has an open pulse; close it before starting another")]
    AlreadyOpen { manager_id: String, wave_id: String },
    #[error(
        "{manager_id} has no one to ask: no current seller in the roster who is active, human and not opted out"
    )]
    NoEligibleSellers { manager_id: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for OpenWaveError {
    fn from(e: sqlx::Error) -> Self {
        OpenWaveError::Internal(e.into())
    }
}

type WaveRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
);

/// A [`WaveRow`], then how many the wave invited.
type DueWaveRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    i64,
);

const SELECT_WAVE: &str = "SELECT wave_id, manager_id, window_id, period, state, opens_at, closes_at, closed_at, follow_through_since FROM waves";

/// The open waves due to close at `$1`, with their invitee counts (read on every tick).
pub(super) fn waves_due_sql() -> String {
    // Each due wave's count through the invitees' key, found through the index of open waves
    // by closing time (a join grouped by invitee scanned every invitation ever made).
    format!(
        "SELECT d.*, (SELECT COUNT(*) FROM wave_invitees i WHERE i.wave_id = d.wave_id)
         FROM ({SELECT_WAVE} WHERE state = 'open' AND closes_at <= $1) AS d
         ORDER BY d.closes_at, d.wave_id"
    )
}

impl Wave {
    /// Whether the wave takes answers (and its invitations and reminders still go) at `now`:
    /// open, and not past its closing time even if the planner has not closed it yet.
    pub fn is_open_at(&self, now: Timestamp) -> bool {
        self.state == WaveState::Open && now < self.closes_at
    }
}

fn wave_from_row(row: WaveRow) -> Wave {
    let (
        wave_id,
        manager_id,
        window_id,
        period,
        state,
        opens_at,
        closes_at,
        closed_at,
        follow_through_since,
    ) = row;
    Wave {
        wave_id,
        manager_id,
        window_id,
        period,
        state: WaveState::parse(&state),
        opens_at: from_secs(opens_at),
        closes_at: from_secs(closes_at),
        closed_at: closed_at.map(from_secs),
        follow_through_since,
    }
}

impl Store {
    /// Opens the wave of `manager_id` for `period`, taking the roster snapshot (eligible sellers
    /// only) and joining the team's open window, or starting a new window with a fresh random
    /// key and the current *k*; queues one invitation per invitee in the same transaction.
    /// Opening the same period again returns the existing wave.
    pub async fn open_wave(
        &self,
        manager_id: &str,
        period: &str,
        timing: &WaveTiming<'_>,
        k: MinRespondents,
        now: Timestamp,
    ) -> Result<OpenedWave, OpenWaveError> {
        // Two replicas opening the same slot at once: the loser hits a unique key, and its
        // retry finds the winner's wave.
        let mut attempt = 0;
        loop {
            match self.try_open_wave(manager_id, period, timing, k, now).await {
                Err(OpenWaveError::Internal(e)) if attempt < 3 && is_unique_violation(&e) => {
                    attempt += 1
                }
                other => return other,
            }
        }
    }

    async fn try_open_wave(
        &self,
        manager_id: &str,
        period: &str,
        timing: &WaveTiming<'_>,
        k: MinRespondents,
        now: Timestamp,
    ) -> Result<OpenedWave, OpenWaveError> {
        let mut tx = self.begin_write().await?;
        // A refusal writes nothing.
        let request = OpenRequest {
            manager_id,
            period,
            timing: *timing,
        };
        let prepared = prepare_many(&mut tx, &[request], k, now).await?.remove(0);
        let opened = match prepared? {
            Prepared::Existing(opened) => opened,
            Prepared::New(new) => write_new(&mut tx, vec![new], &[], self.secret_id(), now)
                .await?
                .remove(0),
        };
        tx.commit().await?;
        Ok(opened)
    }

    /// Opens many teams' waves in one transaction (one wait for the disk for all of them),
    /// each as [`Store::open_wave`] would; each team's outcome, in order. A refusal (already
    /// open, no one to ask) is that team's own and writes nothing. When the transaction fails
    /// (on PostgreSQL, another replica opening one of the same slots), each team is opened
    /// again on its own, so one team's conflict never keeps another's pulse closed.
    pub async fn open_waves(
        &self,
        requests: &[OpenRequest<'_>],
        k: MinRespondents,
        now: Timestamp,
    ) -> anyhow::Result<Vec<Result<OpenedWave, OpenWaveError>>> {
        self.open_waves_and_plan(requests, &[], k, now).await
    }

    /// [`Store::open_waves`], and [`Store::plan_next`] for the teams `planned`, in the same
    /// transaction: the planner's batch waits for the disk once, not twice.
    pub async fn open_waves_and_plan(
        &self,
        requests: &[OpenRequest<'_>],
        planned: &[(PlanDue, Option<Timestamp>)],
        k: MinRespondents,
        now: Timestamp,
    ) -> anyhow::Result<Vec<Result<OpenedWave, OpenWaveError>>> {
        if requests.is_empty() {
            self.plan_next(planned).await?;
            return Ok(Vec::new());
        }
        let together = async {
            let mut tx = self.begin_write().await?;
            // Each team's reads and decision first, then every new wave written together. A
            // team named twice (two slots due after downtime) would be decided twice; the
            // one-open-pulse index then fails the batch, and the fallback below opens one team
            // at a time, which gives the second its answer (already open, or the same pulse).
            let mut prepared = Vec::with_capacity(requests.len());
            for outcome in prepare_many(&mut tx, requests, k, now).await? {
                match outcome {
                    Err(OpenWaveError::Internal(e)) => return Err(e),
                    outcome => prepared.push(outcome),
                }
            }
            let mut news = Vec::new();
            let mut outcomes: Vec<Option<Result<OpenedWave, OpenWaveError>>> = prepared
                .into_iter()
                .map(|outcome| match outcome {
                    Ok(Prepared::New(new)) => {
                        news.push(new);
                        None
                    }
                    Ok(Prepared::Existing(opened)) => Some(Ok(opened)),
                    Err(refusal) => Some(Err(refusal)),
                })
                .collect();
            let mut written = write_new(&mut tx, news, planned, self.secret_id(), now)
                .await?
                .into_iter();
            for outcome in outcomes.iter_mut().filter(|o| o.is_none()) {
                *outcome = Some(Ok(written.next().expect("one written wave per new wave")));
            }
            tx.commit().await?;
            anyhow::Ok(outcomes.into_iter().flatten().collect::<Vec<_>>())
        };
        if let Ok(outcomes) = together.await {
            return Ok(outcomes);
        }
        let mut outcomes = Vec::with_capacity(requests.len());
        for r in requests {
            outcomes.push(
                self.open_wave(r.manager_id, r.period, &r.timing, k, now)
                    .await,
            );
        }
        self.plan_next(planned).await?;
        Ok(outcomes)
    }

    /// Closes an open wave; no answer is accepted after this. Returns false if it was not open.
    pub async fn close_wave(&self, wave_id: &str, now: Timestamp) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE waves SET state = 'closed', closed_at = $2 WHERE wave_id = $1 AND state = 'open'")
            .bind(wave_id)
            .bind(secs(now))
            .write_in_turn(self, &self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn wave(&self, wave_id: &str) -> anyhow::Result<Option<Wave>> {
        let row: Option<WaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_WAVE} WHERE wave_id = $1"
        )))
        .bind(wave_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(wave_from_row))
    }

    /// Several waves at once (one query), by id.
    pub async fn waves_by_ids(
        &self,
        ids: &[&str],
    ) -> anyhow::Result<std::collections::HashMap<String, Wave>> {
        let mut found = std::collections::HashMap::new();
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "{SELECT_WAVE} WHERE wave_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, WaveRow>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let wave = wave_from_row(row);
                found.insert(wave.wave_id.clone(), wave);
            }
        }
        Ok(found)
    }

    /// The team's wave for a cadence slot, if it was opened.
    pub async fn wave_for_period(
        &self,
        manager_id: &str,
        period: &str,
    ) -> anyhow::Result<Option<Wave>> {
        let row: Option<WaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_WAVE} WHERE manager_id = $1 AND period = $2"
        )))
        .bind(manager_id)
        .bind(period)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(wave_from_row))
    }

    /// Which of the (manager, period) slots were opened already, in one query for a planner
    /// batch (on the unique key of a team's slot).
    pub async fn opened_slots(
        &self,
        slots: &[(&str, &str)],
    ) -> anyhow::Result<std::collections::HashSet<(String, String)>> {
        let mut opened = std::collections::HashSet::new();
        for chunk in slots.chunks(IN_LIST_CHUNK / 2) {
            let sql = format!(
                "SELECT w.manager_id, w.period FROM (VALUES {}) AS v
                 JOIN waves w ON w.manager_id = v.column1 AND w.period = v.column2",
                self.backend.value_rows(chunk.len(), 2)
            );
            let mut query =
                sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (manager, period) in chunk {
                query = query.bind(*manager).bind(*period);
            }
            opened.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(opened)
    }

    /// Open waves whose closing time has come, in the order they were opened, each with how
    /// many people it invited (what its release will delete grows with it).
    pub async fn waves_due_to_close(&self, now: Timestamp) -> anyhow::Result<Vec<(Wave, usize)>> {
        let rows: Vec<DueWaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(waves_due_sql()))
            .bind(secs(now))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(a, b, c, d, e, f, g, h, i, invited)| {
                let wave = wave_from_row((a, b, c, d, e, f, g, h, i));
                Ok((wave, usize::try_from(invited)?))
            })
            .collect()
    }

    /// The team's open wave, if any.
    pub async fn open_wave_of(&self, manager_id: &str) -> anyhow::Result<Option<Wave>> {
        let row: Option<WaveRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_WAVE} WHERE manager_id = $1 AND state = 'open'"
        )))
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(wave_from_row))
    }

    async fn open_wave_by_id(&self, wave_id: &str) -> anyhow::Result<Option<Wave>> {
        Ok(self
            .wave(wave_id)
            .await?
            .filter(|w| w.state == WaveState::Open))
    }

    /// The roster snapshot of a wave.
    pub async fn invitees(&self, wave_id: &str) -> anyhow::Result<Vec<String>> {
        invitees_in(&self.pool, wave_id).await
    }
}

impl Store {
    /// Makes the one reminder of every invitee of an open wave due now, answered or not (so the
    /// outbox and Slack treat everyone alike): queues it, or brings a reminder queued for later
    /// forward. A reminder already sent is not sent again. Returns how many reminders are due
    /// now because of this call.
    pub async fn queue_reminders(&self, wave_id: &str, now: Timestamp) -> anyhow::Result<usize> {
        let mut queued = 0;
        if self.open_wave_by_id(wave_id).await?.is_none() {
            return Ok(0);
        }
        let invitees = self.invitees(wave_id).await?;
        // One transaction for the whole team: one wait for the disk, in its turn at the gate.
        let mut tx = self.begin_write().await?;
        for person_id in invitees {
            let job = Job::Remind {
                wave_id: wave_id.to_owned(),
                person_id,
            };
            queued += usize::from(enqueue_or_bring_forward(&mut *tx, &job, now, now).await?);
        }
        tx.commit().await?;
        Ok(queued)
    }
}

/// What [`prepare_many`] found for one team's slot.
enum Prepared {
    /// The slot's wave was opened already.
    Existing(OpenedWave),
    /// A wave to open, written by [`write_new`].
    New(NewWave),
}

/// A wave to open, read and decided but not yet written.
struct NewWave {
    wave: Wave,
    /// The window to create with it, with its k and random key (None: the team's open window,
    /// held from an earlier wave, goes on).
    new_window: Option<(i64, WindowKey)>,
    /// Each invitee, when they are invited and reminded.
    schedule: Vec<(String, Timestamp, Option<Timestamp>)>,
    /// The UTC date the commitments due by it are asked about (when `follow_through_since`).
    today: String,
}

/// Reads what opening each request's wave needs, and decides it (inside `tx`, so it is what
/// the write will find); writes nothing. Four queries for all the requests, not four per
/// team: each statement is a round trip to the database thread, and these reads hold the
/// write lock. The waves to open are then written together by [`write_new`].
async fn prepare_many(
    tx: &mut sqlx::AnyConnection,
    requests: &[OpenRequest<'_>],
    k: MinRespondents,
    now: Timestamp,
) -> anyhow::Result<Vec<Result<Prepared, OpenWaveError>>> {
    let mut prepared = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(PREPARE_CHUNK) {
        prepared.extend(prepare_chunk(tx, chunk, k, now).await?);
    }
    Ok(prepared)
}

/// `query` with each of `ids` bound, in order.
fn bind_all<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ids: &[&'q str],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    for id in ids {
        query = query.bind(*id);
    }
    query
}

/// Requests read together by [`prepare_many`]: each list stays well under an `IN (…)` chunk.
const PREPARE_CHUNK: usize = IN_LIST_CHUNK / 2;

async fn prepare_chunk(
    tx: &mut sqlx::AnyConnection,
    requests: &[OpenRequest<'_>],
    k: MinRespondents,
    now: Timestamp,
) -> anyhow::Result<Vec<Result<Prepared, OpenWaveError>>> {
    let mut managers: Vec<&str> = requests.iter().map(|r| r.manager_id).collect();
    managers.sort_unstable();
    managers.dedup();
    let periods: Vec<&str> = requests.iter().map(|r| r.period).collect();
    let list = |first: usize, ids: &[&str]| placeholders(first, ids.len());

    // Each team's open wave and the waves of the slots asked for: one read for both.
    let sql = format!(
        "{SELECT_WAVE} WHERE manager_id IN ({}) AND (state = 'open' OR period IN ({}))",
        list(1, &managers),
        list(1 + managers.len(), &periods)
    );
    let query = sqlx::query_as::<_, WaveRow>(sqlx::AssertSqlSafe(sql)).persistent(false);
    let found: Vec<Wave> = bind_all(bind_all(query, &managers), &periods)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(wave_from_row)
        .collect();

    // The sellers who can be asked, in order, with their time zones.
    let sql = format!(
        "SELECT m.manager_id, m.seller_id, p.tz FROM memberships m LEFT JOIN people p ON p.person_id = m.seller_id
         WHERE m.manager_id IN ({}) AND m.left_at IS NULL AND {ELIGIBLE}
         ORDER BY m.manager_id, m.seller_id",
        list(1, &managers)
    );
    let query = sqlx::query_as::<_, (String, String, Option<String>)>(sqlx::AssertSqlSafe(sql))
        .persistent(false);
    let mut snapshots: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
    for (manager, seller, tz) in bind_all(query, &managers).fetch_all(&mut *tx).await? {
        snapshots.entry(manager).or_default().push((seller, tz));
    }

    // A window held open from an earlier wave goes on, with the k it was made with.
    let sql = format!(
        "SELECT manager_id, window_id, min_respondents FROM windows
         WHERE manager_id IN ({}) AND state = 'open'",
        list(1, &managers)
    );
    let query =
        sqlx::query_as::<_, (String, String, i64)>(sqlx::AssertSqlSafe(sql)).persistent(false);
    let held: HashMap<String, (String, i64)> = bind_all(query, &managers)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(manager, window, k)| (manager, (window, k)))
        .collect();

    // The first pulse after a commitment's date also asks whether it happened (once: every
    // commitment due by now is marked asked by this pulse, when it is written). The latest
    // such date is the one asked about.
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let sql = format!(
        "SELECT manager_id, MAX(due_on) FROM commitments
         WHERE manager_id IN ({}) AND asked_in_wave IS NULL AND due_on <= ${}
         GROUP BY manager_id",
        list(1, &managers),
        managers.len() + 1
    );
    let query =
        sqlx::query_as::<_, (String, Option<String>)>(sqlx::AssertSqlSafe(sql)).persistent(false);
    let asked: HashMap<String, String> = bind_all(query, &managers)
        .bind(today.clone())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .filter_map(|(manager, due)| Some((manager, due?)))
        .collect();

    let mut prepared = Vec::with_capacity(requests.len());
    for r in requests {
        let manager_id = r.manager_id;
        let team = || found.iter().filter(|w| w.manager_id == manager_id);
        if let Some(wave) = team().find(|w| w.period == r.period) {
            let invitees = invitees_in(&mut *tx, &wave.wave_id).await?;
            prepared.push(Ok(Prepared::Existing(OpenedWave {
                wave: wave.clone(),
                invitees,
                created: false,
            })));
            continue;
        }
        if let Some(open) = team().find(|w| w.state == WaveState::Open) {
            prepared.push(Err(OpenWaveError::AlreadyOpen {
                manager_id: manager_id.to_owned(),
                wave_id: open.wave_id.clone(),
            }));
            continue;
        }
        let Some(snapshot) = snapshots.get(manager_id) else {
            prepared.push(Err(OpenWaveError::NoEligibleSellers {
                manager_id: manager_id.to_owned(),
            }));
            continue;
        };
        let (window_id, new_window, held_k) = match held.get(manager_id) {
            Some((id, held_k)) => (id.clone(), None, u32::try_from(*held_k).ok()),
            None => (
                new_ordered_id(now),
                Some((i64::from(k.get()), WindowKey::generate())),
                None,
            ),
        };
        let own: Vec<Timestamp> = snapshot
            .iter()
            .map(|(_, tz)| (r.timing.invite_at)(tz.as_deref()))
            .collect();
        let grouped = invitation_times(&own, group_size(held_k, k.get()));
        let schedule: Vec<(String, Timestamp, Option<Timestamp>)> = snapshot
            .iter()
            .zip(grouped)
            .map(|((person, _), invite_at)| {
                (person.clone(), invite_at, (r.timing.remind_at)(invite_at))
            })
            .collect();
        let opens_at = schedule.iter().map(|(_, at, _)| *at).min().unwrap_or(now);
        let wave = Wave {
            wave_id: new_ordered_id(now),
            manager_id: manager_id.to_owned(),
            window_id,
            period: r.period.to_owned(),
            state: WaveState::Open,
            opens_at,
            closes_at: r.timing.closes_at,
            closed_at: None,
            follow_through_since: asked.get(manager_id).cloned(),
        };
        prepared.push(Ok(Prepared::New(NewWave {
            wave,
            new_window,
            schedule,
            today: today.clone(),
        })));
    }
    Ok(prepared)
}

/// Rows per multi-row statement of [`write_new`] (a wave row binds 8 values).
const WRITE_CHUNK: usize = 64;

/// Writes the waves [`prepare_many`] decided, inside the same `tx`: their new windows and keys
/// (with `secret_id`, the token secret that mixes those keys, see `privacy::token`),
/// the waves, the commitments they ask about, the snapshots, and the invitations and
/// reminders (to every invitee alike), in multi-row statements, so a batch of teams opens in a
/// handful of statements; and the next planning times of the teams `planned`. It all commits
/// with the waves, or nothing does.
async fn write_new(
    tx: &mut sqlx::AnyConnection,
    news: Vec<NewWave>,
    planned: &[(PlanDue, Option<Timestamp>)],
    secret_id: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<Vec<OpenedWave>> {
    let backend = Backend::of(tx);
    // The invitations only: each carries when its reminder is due, and the reminder is queued
    // once the invitation is done with (`OutboxRound::mark_sent`). Queued here as well, the
    // reminders were half of the rows a pulse opened with: the outbox's inserts took 1.8 of
    // the 4.1 s that opening an org's 100,000 invitations took (`fanout`), and opening them
    // now takes about 40% less.
    let mut jobs: Vec<(Job, Timestamp)> = Vec::new();
    for new in &news {
        for (person, invite_at, remind_at) in &new.schedule {
            let invite = Job::Invite {
                wave_id: new.wave.wave_id.clone(),
                person_id: person.clone(),
                remind_at: remind_at.map(secs),
            };
            jobs.push((invite, *invite_at));
        }
    }
    let team_id = installed_team(tx, &jobs).await?;
    // Every row of the new waves in one script: one trip to SQLite's thread (`script.rs`).
    let mut script = Script::new(backend);
    let windows: Vec<(&NewWave, i64, &WindowKey)> = news
        .iter()
        .filter_map(|n| n.new_window.as_ref().map(|(k, key)| (n, *k, key)))
        .collect();
    for chunk in windows.chunks(WRITE_CHUNK) {
        let sql = format!(
            "INSERT INTO windows (window_id, manager_id, min_respondents, state, opened_at) VALUES {}",
            backend.value_rows(chunk.len(), 5)
        );
        let values = chunk
            .iter()
            .flat_map(|(new, k, _)| {
                [
                    Value::Text(&new.wave.window_id),
                    Value::Text(&new.wave.manager_id),
                    Value::Int(*k),
                    Value::Text("open"),
                    Value::Int(secs(now)),
                ]
            })
            .collect();
        script.push(sql, values);
        let sql = format!(
            "INSERT INTO window_keys (window_id, hmac_key, secret_id) VALUES {}",
            backend.value_rows(chunk.len(), 3)
        );
        let values = chunk
            .iter()
            .flat_map(|(new, _, key)| {
                [
                    Value::Text(&new.wave.window_id),
                    Value::Blob(key.as_bytes()),
                    Value::OptText(secret_id),
                ]
            })
            .collect();
        script.push(sql, values);
    }
    for chunk in news.chunks(WRITE_CHUNK) {
        let sql = format!(
            "INSERT INTO waves (wave_id, manager_id, window_id, period, state, opens_at, closes_at, follow_through_since)
             VALUES {}",
            backend.value_rows(chunk.len(), 8)
        );
        let values = chunk
            .iter()
            .flat_map(|new| {
                let wave = &new.wave;
                [
                    Value::Text(&wave.wave_id),
                    Value::Text(&wave.manager_id),
                    Value::Text(&wave.window_id),
                    Value::Text(&wave.period),
                    Value::Text("open"),
                    Value::Int(secs(wave.opens_at)),
                    Value::Int(secs(wave.closes_at)),
                    Value::OptText(wave.follow_through_since.as_deref()),
                ]
            })
            .collect();
        script.push(sql, values);
    }
    for new in news
        .iter()
        .filter(|n| n.wave.follow_through_since.is_some())
    {
        script.push_repeated(
            format!(
                "UPDATE commitments SET asked_in_wave = {}
                 WHERE manager_id = {} AND asked_in_wave IS NULL AND due_on <= {}",
                backend.params(1, 1),
                backend.params(2, 1),
                backend.params(3, 1)
            ),
            vec![
                Value::Text(&new.wave.wave_id),
                Value::Text(&new.wave.manager_id),
                Value::Text(&new.today),
            ],
        );
    }
    let invitees: Vec<(&str, &str)> = news
        .iter()
        .flat_map(|n| {
            n.schedule
                .iter()
                .map(|(person, _, _)| (n.wave.wave_id.as_str(), person.as_str()))
        })
        .collect();
    for chunk in invitees.chunks(IN_LIST_CHUNK) {
        let sql = format!(
            "INSERT INTO wave_invitees (wave_id, person_id) VALUES {}",
            backend.value_rows(chunk.len(), 2)
        );
        let values = chunk
            .iter()
            .flat_map(|(wave_id, person)| [Value::Text(wave_id), Value::Text(person)])
            .collect();
        script.push(sql, values);
    }
    push_plan_next(&mut script, planned);
    // The jobs' keys name the waves written above, new in this transaction.
    push_jobs(&mut script, &team_id, &jobs, Queued::Never, now)?;
    script.run(tx).await?;
    Ok(news
        .into_iter()
        .map(|new| OpenedWave {
            wave: new.wave,
            invitees: new
                .schedule
                .into_iter()
                .map(|(person, _, _)| person)
                .collect(),
            created: true,
        })
        .collect())
}

async fn invitees_in<'e>(
    ex: impl sqlx::AnyExecutor<'e>,
    wave_id: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT person_id FROM wave_invitees WHERE wave_id = $1 ORDER BY person_id",
    )
    .bind(wave_id)
    .fetch_all(ex)
    .await?)
}
