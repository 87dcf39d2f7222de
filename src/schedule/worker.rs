//! The outbox worker: claims due rows with a lease and runs each job (`job::run`: delivered
//! through the chat platform, its outcome recorded right after its own call), handing the rest
//! of a round back when it must stop.

use jiff::{SignedDuration, Timestamp};
use tracing::Instrument;

use super::job::{self, Job, Prefetched};
use crate::ops::AppState;
use crate::ops::chat::CALL_TIMEOUT;
use crate::store::{ClaimedJob, InstallationState};

/// Rows claimed per round.
pub const BATCH: i64 = 100;
/// A round starts no call with less than this left of its lease: a call takes at most
/// [`CALL_TIMEOUT`], and its mark must land before the lease ends.
pub const LEASE_MARGIN: SignedDuration =
    SignedDuration::from_secs(CALL_TIMEOUT.as_secs() as i64 * 3);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    pub sent: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Put back after a transient failure (counts against the attempts).
    pub retried: usize,
    /// Put back for pacing, a 429 or a paused installation (does not count).
    pub deferred: usize,
}

impl RoundReport {
    pub fn handled(&self) -> usize {
        self.sent + self.skipped + self.failed + self.retried + self.deferred
    }
}

/// Runs one round at `now`: claims what is due and sends it.
pub async fn run_once(state: &AppState, now: Timestamp) -> anyhow::Result<RoundReport> {
    let mut report = RoundReport::default();
    if !state.store.has_due_work(now).await? {
        return Ok(report);
    }
    if matches!(
        state.store.installation().await?,
        Some((
            _,
            InstallationState::Uninstalled | InstallationState::Paused
        ))
    ) {
        return Ok(report);
    }
    if state.store.sends_paused_until(now).await?.is_some() {
        return Ok(report);
    }
    let mut round = state.store.outbox_round().await?;
    let jobs = round.claim_due(now, state.lease, BATCH).await?;
    let prefetched = Prefetched::load(
        &state.store,
        &jobs.iter().map(|c| &c.job).collect::<Vec<_>>(),
    )
    .await?;
    let lease_ends = now + state.lease;
    for (i, claimed) in jobs.iter().enumerate() {
        // Another replica may take a row back once its lease ends. So a round starts no call
        // that could still be running then (Slack slow to answer a long batch); the rest goes
        // back at once, for the next round to claim afresh. The first job always goes, so a
        // round always makes progress.
        if i > 0 && state.now() + LEASE_MARGIN >= lease_ends {
            tracing::warn!("outbox round ran close to its lease; handing the rest back");
            round.hand_back(&keys(&jobs[i..]), "lease", now).await?;
            break;
        }
        let span = tracing::info_span!("job", job_id = %claimed.job_id, kind = claimed.job.kind(), attempt = claimed.attempts);
        let stop = job::run(state, &mut round, claimed, &prefetched, now, &mut report)
            .instrument(span)
            .await?;
        if matches!(claimed.job, Job::CloseMessage { .. }) {
            // Now marked, whatever its outcome: the next tick forgets it if its window is
            // released.
            state.store.close_updates_may_have_finished();
        }
        // After a 429, an auth failure or a spent workspace budget, the rest of the batch goes
        // back untouched, due when sending can resume.
        if let Some((reason, until)) = stop {
            round
                .hand_back(&keys(&jobs[i + 1..]), &reason, until)
                .await?;
            break;
        }
    }
    Ok(report)
}

/// The rows' keys, to hand them back. A key names the person a job is for: never logged.
fn keys(jobs: &[ClaimedJob]) -> Vec<&str> {
    jobs.iter().map(|c| c.key.as_str()).collect()
}
