//! The planner: from the cadences, what is due at `now`. Every step is idempotent through a
//! unique key (a wave per team and slot, a job per dedup key, a mark per decision), so ticking
//! the same `now` twice, or from several replicas at once, does each thing once.
//!
//! - A slot opens when its first seller's local time comes (with `--tz seller` each seller is
//!   invited at the cadence time in their own zone, or later, when too few of the team share
//!   it: invitations go out in groups of at least *k*, see `privacy::invitation_groups`;
//!   otherwise all at once), and closes `open_for` after its last seller's opening.
//! - Each invitee's one reminder is queued with the wave, due `remind_after` after their own
//!   invitation; every invitee gets it, answered or not, so that no one can tell who answered.
//! - Downtime: a slot whose opening passed while nothing ticked is opened late, once, if it
//!   would still be open, with its invitations due at once (its reminders too, unless their
//!   time has passed as well, in which case there is no reminder); a slot whose whole wave
//!   passed is skipped and logged once. Never twice.
//! - Waves close at their time, whoever opened them.
//! - Each manager's weekly digest is queued at their digest time, in their own time zone.

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use crate::ops::AppState;
use crate::ops::waves;
use crate::store::{BatchLimits, Job, OpenRequest, OpenWaveError, PlanDue, WaveTiming};
use crate::survey::cadence::{Cadence, next_weekly};

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub opened: usize,
    pub closed: usize,
    pub skipped: usize,
    pub digests: usize,
}

/// A batch's report added to its tick's.
impl std::ops::AddAssign for TickReport {
    fn add_assign(&mut self, other: TickReport) {
        self.opened += other.opened;
        self.closed += other.closed;
        self.skipped += other.skipped;
        self.digests += other.digests;
    }
}

/// Digests older than this are not sent late after downtime: the next week's will do.
const DIGEST_GRACE: SignedDuration = SignedDuration::from_hours(12);

pub async fn tick(state: &AppState, now: Timestamp) -> anyhow::Result<TickReport> {
    let store = &state.store;
    let mut report = TickReport::default();
    // Closes and releases what is due, then scrubs the disk once for all of it (and retries a
    // scrub that could not finish before, when a reader held the WAL).
    report.closed += waves::close_due_waves(store, &state.release_policy, now).await?;
    store.forget_released_jobs().await?;
    // Only the teams whose next slot or digest has come (or that changed): an idle tick reads
    // one index range, however large the org.
    // Teams are planned a batch at a time: their due pulses open and their next times are
    // written in one transaction (one wait for the disk per batch, not per team). A tick that
    // stops midway leaves the rest due, and planning a team again opens nothing twice.
    let mut batch = Batch::new(store.open_batch_limits(), store.open_batches_at_once());
    let mut writing = std::collections::VecDeque::new();
    let due = store.teams_due_for_planning(now).await?;
    for chunk in due.chunks(batch.limits.teams) {
        // What the chunk's teams need, read a few queries for all of them: a query per team
        // was a round trip to the database thread each, the most of a tick's cost.
        let facts = TeamFacts::read(store, chunk).await?;
        let plans: Vec<Option<TeamPlan>> = chunk
            .iter()
            .map(|due| facts.plan(&due.manager_id, now))
            .collect();
        let periods: Vec<(&str, String)> = plans
            .iter()
            .flatten()
            .flat_map(|plan| {
                plan.dates
                    .iter()
                    .map(|date| (plan.manager.as_str(), date.to_string()))
            })
            .collect();
        let slots: Vec<(&str, &str)> = periods.iter().map(|(m, p)| (*m, p.as_str())).collect();
        let opened = store.opened_slots(&slots).await?;
        for (due, plan) in chunk.iter().zip(&plans) {
            let next = match plan {
                None => None,
                Some(plan) => {
                    Some(plan_team(state, plan, &opened, now, &mut report, &mut batch).await?)
                }
            };
            batch.planned.push((due.clone(), next));
            if batch.is_full() {
                batch.start(state, now, &mut writing, &mut report).await?;
            }
        }
    }
    batch.start(state, now, &mut writing, &mut report).await?;
    Batch::wait_all(&mut writing, &mut report).await?;
    if report.opened > 0 {
        // Planned on statistics from before the pulses' tables grew, the next reads of them
        // may scan them whole (see `store::statistics`). Answers do not wait for it; a failure
        // costs only speed, so it is logged and the tick's work stands.
        if let Err(e) = store.refresh_statistics().await {
            tracing::warn!(error = %e, "could not refresh the database's statistics");
        }
    }
    Ok(report)
}

/// The stored facts a batch of teams is planned from.
struct TeamFacts {
    cadences: HashMap<String, (Cadence, Timestamp)>,
    zones: HashMap<String, Vec<(Option<String>, usize)>>,
    managers: HashMap<String, crate::store::Person>,
}

impl TeamFacts {
    async fn read(store: &crate::store::Store, teams: &[PlanDue]) -> anyhow::Result<TeamFacts> {
        let managers: Vec<&str> = teams.iter().map(|t| t.manager_id.as_str()).collect();
        let cadences = store.scheduled_cadences(&managers).await?;
        // A team without a cadence is not planned: nothing more is read for it.
        let planned: Vec<&str> = managers
            .into_iter()
            .filter(|m| cadences.contains_key(*m))
            .collect();
        Ok(TeamFacts {
            zones: store.teams_time_zones(&planned).await?,
            managers: store.people_by_ids(&planned).await?,
            cadences,
        })
    }

    /// The team's cadence, zones and due slots (None: no cadence, so nothing to plan until one
    /// is set).
    fn plan(&self, manager: &str, now: Timestamp) -> Option<TeamPlan> {
        // No cadence chosen by HR yet: nothing is sent, not even a digest.
        let (cadence, set_at) = self.cadences.get(manager)?.clone();
        let team_zones = self.zones.get(manager).map_or(&[][..], Vec::as_slice);
        let mut zones: Vec<TimeZone> = team_zones
            .iter()
            .map(|(tz, _)| cadence.zone.resolve(tz.as_deref()))
            .collect();
        zones.dedup();
        if zones.is_empty() {
            zones.push(cadence.zone.resolve(None));
        }
        let dates = due_slots(&cadence, &zones, set_at, now);
        let manager_tz = self
            .managers
            .get(manager)
            .and_then(|p| p.tz.as_deref())
            .and_then(|name| jiff::tz::db().get(name).ok())
            .unwrap_or(TimeZone::UTC);
        Some(TeamPlan {
            manager: manager.to_owned(),
            cadence,
            zones,
            sellers: team_zones.iter().map(|(_, sellers)| sellers).sum(),
            dates,
            manager_tz,
        })
    }
}

/// One team's plan at `now`, from its facts.
struct TeamPlan {
    manager: String,
    cadence: Cadence,
    /// The time zones its sellers are asked in.
    zones: Vec<TimeZone>,
    sellers: usize,
    /// The slots whose time has come (opened already or not).
    dates: Vec<Date>,
    /// The manager's own zone, for the digest's time.
    manager_tz: TimeZone,
}

/// Teams planned but not yet written: the slots to open, and each team's next time.
struct Batch {
    /// How many teams and sellers go in one transaction (the store's, see there why).
    limits: BatchLimits,
    /// How many batches may be written at once (the store's).
    at_once: usize,
    slots: Vec<SlotToOpen>,
    planned: Vec<(PlanDue, Option<Timestamp>)>,
    /// Sellers in the slots' teams, to keep a batch's transaction short.
    sellers: usize,
}

/// A slot whose time has come: its team's wave to open.
struct SlotToOpen {
    manager: String,
    period: String,
    date: Date,
    cadence: Cadence,
    closes_at: Timestamp,
}

impl Batch {
    fn new(limits: BatchLimits, at_once: usize) -> Batch {
        Batch {
            limits,
            at_once,
            slots: Vec::new(),
            planned: Vec::new(),
            sellers: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.planned.len() >= self.limits.teams || self.sellers >= self.limits.people
    }

    /// Starts the transaction that opens the batch's slots and records its teams' next times,
    /// once fewer than the backend's batches are being written.
    async fn start(
        &mut self,
        state: &AppState,
        now: Timestamp,
        writing: &mut Writing,
        report: &mut TickReport,
    ) -> anyhow::Result<()> {
        if writing.len() >= self.at_once {
            Batch::wait_one(writing, report).await?;
        }
        let slots = std::mem::take(&mut self.slots);
        let planned = std::mem::take(&mut self.planned);
        self.sellers = 0;
        let state = state.clone();
        writing.push_back(tokio::spawn(async move {
            let mut report = TickReport::default();
            open_slots(&state, &slots, &planned, now, &mut report).await?;
            Ok(report)
        }));
        Ok(())
    }

    async fn wait_one(writing: &mut Writing, report: &mut TickReport) -> anyhow::Result<()> {
        if let Some(task) = writing.pop_front() {
            *report += task.await??;
        }
        Ok(())
    }

    async fn wait_all(writing: &mut Writing, report: &mut TickReport) -> anyhow::Result<()> {
        while !writing.is_empty() {
            Batch::wait_one(writing, report).await?;
        }
        Ok(())
    }
}

/// The batches being written, oldest first. On PostgreSQL two at once
/// (`Store::open_batches_at_once`): each is mostly round trips and the server's work on one
/// backend, and a second backend uses the other core (`fanout 100000 1000 10`, alternated:
/// 2.28, 2.09 and 3.75 s against 3.50, 2.94 and 3.24 s one at a time). Their teams differ, so
/// they touch different rows. Should one fail, the tick ends with its error and the other
/// commits or fails on its own; the next tick plans again whatever is still due.
type Writing = std::collections::VecDeque<tokio::task::JoinHandle<anyhow::Result<TickReport>>>;

/// Plans one team at `now` (its slots not yet `opened` go into the batch, its digest is queued
/// if due); returns when it must next be looked at.
async fn plan_team(
    state: &AppState,
    plan: &TeamPlan,
    opened: &HashSet<(String, String)>,
    now: Timestamp,
    report: &mut TickReport,
    batch: &mut Batch,
) -> anyhow::Result<Timestamp> {
    let manager = plan.manager.as_str();
    for date in &plan.dates {
        if opened.contains(&(manager.to_owned(), date.to_string())) {
            continue;
        }
        if let Some(slot) = plan_slot(state, plan, *date, now, report).await? {
            batch.slots.push(slot);
            batch.sellers += plan.sellers;
        }
    }
    let next_digest = plan_digest(state, plan, now, report).await?;
    Ok(next_opening(&plan.cadence, &plan.zones, now).min(next_digest))
}

/// When the slot of `date` first opens: in the earliest of the team's zones.
fn first_opening(cadence: &Cadence, zones: &[TimeZone], date: Date) -> Option<Timestamp> {
    zones.iter().map(|tz| cadence.opening_at(date, tz)).min()
}

/// The first opening of the first slot that opens after `now`.
fn next_opening(cadence: &Cadence, zones: &[TimeZone], now: Timestamp) -> Timestamp {
    let mut date =
        cadence.slot_on_or_after(now.to_zoned(TimeZone::UTC).date() - Span::new().days(2));
    // Slots are at most a few weeks apart; the bound only guards against a cadence that never
    // yields a later slot.
    for _ in 0..520 {
        if let Some(first) = first_opening(cadence, zones, date).filter(|first| *first > now) {
            return first;
        }
        date = cadence.slot_on_or_after(date.tomorrow().expect("sane date"));
    }
    now + SignedDuration::from_hours(24)
}

/// Slot dates whose first opening is at or before `now`, recent enough to still matter, and
/// not before the cadence was set: a new or changed cadence starts with its next slot, never
/// one that had already begun.
fn due_slots(
    cadence: &Cadence,
    zones: &[TimeZone],
    set_at: Timestamp,
    now: Timestamp,
) -> Vec<Date> {
    let horizon = now - cadence.open_for - SignedDuration::from_hours(72);
    let from = horizon.to_zoned(TimeZone::UTC).date();
    let until = now.to_zoned(TimeZone::UTC).date() + Span::new().days(2);
    let mut slots = Vec::new();
    let mut date = cadence.slot_on_or_after(from);
    while date <= until {
        let first = first_opening(cadence, zones, date);
        if first.is_some_and(|first| first <= now && first >= set_at) {
            slots.push(date);
        }
        date = cadence.slot_on_or_after(date.tomorrow().expect("sane date"));
    }
    slots
}

/// The slot of `date` (not opened yet), if it is to be opened now (None: skipped).
async fn plan_slot(
    state: &AppState,
    plan: &TeamPlan,
    date: Date,
    now: Timestamp,
    report: &mut TickReport,
) -> anyhow::Result<Option<SlotToOpen>> {
    let store = &state.store;
    let (manager, cadence, zones) = (plan.manager.as_str(), &plan.cadence, &plan.zones);
    let period = date.to_string();
    let last = zones
        .iter()
        .map(|tz| cadence.opening_at(date, tz))
        .max()
        .unwrap_or(now);
    let closes_at = cadence.closes_at(last);
    if now >= closes_at {
        if store
            .mark_once(&format!("missed:{manager}:{period}"), now)
            .await?
        {
            tracing::warn!(
                manager,
                period,
                "a pulse slot passed entirely while trustpulse was not running; skipped"
            );
        }
        report.skipped += 1;
        return Ok(None);
    }
    Ok(Some(SlotToOpen {
        manager: manager.to_owned(),
        period,
        date,
        cadence: cadence.clone(),
        closes_at,
    }))
}

/// Opens the waves of `slots` and records the `planned` teams' next times, in one transaction.
async fn open_slots(
    state: &AppState,
    slots: &[SlotToOpen],
    planned: &[(PlanDue, Option<Timestamp>)],
    now: Timestamp,
    report: &mut TickReport,
) -> anyhow::Result<()> {
    let store = &state.store;
    let invite_at: Vec<_> = slots
        .iter()
        .map(|slot| {
            move |tz: Option<&str>| {
                slot.cadence
                    .opening_at(slot.date, &slot.cadence.zone.resolve(tz))
            }
        })
        .collect();
    let remind_at: Vec<_> = slots
        .iter()
        .map(|slot| {
            move |invited: Timestamp| {
                let remind_at = slot.cadence.remind_at(invited);
                (remind_at > now).then_some(remind_at)
            }
        })
        .collect();
    let requests: Vec<OpenRequest> = slots
        .iter()
        .zip(invite_at.iter().zip(&remind_at))
        .map(|(slot, (invite_at, remind_at))| OpenRequest {
            manager_id: &slot.manager,
            period: &slot.period,
            timing: WaveTiming {
                closes_at: slot.closes_at,
                invite_at,
                remind_at,
            },
        })
        .collect();
    let outcomes = store
        .open_waves_and_plan(&requests, planned, state.k, now)
        .await?;
    for (slot, outcome) in slots.iter().zip(outcomes) {
        let (manager, period) = (&slot.manager, &slot.period);
        match outcome {
            Ok(opened) => {
                if opened.created {
                    metrics::counter!("trustpulse_invitations_queued_total")
                        .increment(opened.invitees.len() as u64);
                    tracing::info!(wave_id = %opened.wave.wave_id, period, invited = opened.invitees.len(), "pulse opened");
                    report.opened += 1;
                    state.worker_kick.notify_one();
                }
            }
            Err(OpenWaveError::Internal(e)) => return Err(e),
            Err(refusal) => {
                if store
                    .mark_once(&format!("not-opened:{manager}:{period}"), now)
                    .await?
                {
                    tracing::warn!(manager, period, reason = %refusal, "a scheduled pulse was not opened");
                }
                report.skipped += 1;
            }
        }
    }
    Ok(())
}

/// Queues the digest whose time has come, if any; returns the next digest time after `now`.
async fn plan_digest(
    state: &AppState,
    plan: &TeamPlan,
    now: Timestamp,
    report: &mut TickReport,
) -> anyhow::Result<Timestamp> {
    let store = &state.store;
    let (manager, cadence, tz) = (
        plan.manager.as_str(),
        &plan.cadence,
        plan.manager_tz.clone(),
    );
    // The latest digest time at or before now (digest times are a week apart).
    let week_ago = now - SignedDuration::from_hours(24 * 7) + SignedDuration::from_secs(1);
    let due = next_weekly(cadence.digest_weekday, cadence.digest_time, &tz, week_ago);
    let next = next_weekly(
        cadence.digest_weekday,
        cadence.digest_time,
        &tz,
        now + SignedDuration::from_secs(1),
    );
    if due > now || now.duration_since(due) > DIGEST_GRACE {
        return Ok(next);
    }
    let week = due.to_zoned(tz).date().to_string();
    let job = Job::Digest {
        manager_id: manager.to_owned(),
        week,
    };
    if store.enqueue(&job, due, now).await? {
        report.digests += 1;
        state.worker_kick.notify_one();
    }
    Ok(next)
}
