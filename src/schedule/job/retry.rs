//! What happens to a job after its delivery was tried: recorded as sent, put back for pacing,
//! retried with growing gaps, failed for good, or dead-lettered.
//!
//! Errors: permanent per recipient → failed at once; transient (5xx, network) → retried with
//! growing, jittered gaps, then dead-lettered; a 429 → the row waits `Retry-After` (plus
//! jitter) without using up an attempt; the platform refusing the bot's token → the
//! installation is paused and no further calls are made.

use jiff::{SignedDuration, Timestamp};

use super::delivery::{Delivery, Prefetched, deliver};
use crate::ops::AppState;
use crate::ops::chat::{ChatError, NotDelivered};
use crate::schedule::worker::RoundReport;
use crate::store::{ClaimedJob, OutboxRound};

/// Transient failures before a row is dead-lettered (≈ 30 minutes of backoff in all).
pub const MAX_ATTEMPTS: i64 = 8;

/// Delivers one claimed job and records its outcome. Returns `Some((reason, until))` when the
/// rest of the batch must wait (a 429, an auth failure, a spent workspace budget).
pub async fn run(
    state: &AppState,
    round: &mut OutboxRound,
    claimed: &ClaimedJob,
    prefetched: &Prefetched,
    now: Timestamp,
    report: &mut RoundReport,
) -> anyhow::Result<Option<(String, Timestamp)>> {
    match deliver(state, &claimed.job, prefetched, now).await? {
        Ok(Delivery::Posted {
            wave_id,
            channel,
            ts,
        }) => {
            // On the round's connection, like the mark: no wait for the disk per DM. A power
            // cut can lose the record; that message then keeps its button after the close.
            round.record_wave_message(&wave_id, &channel, &ts).await?;
            finish(round, claimed, Finished::Sent, now).await?;
            report.sent += 1;
        }
        Ok(Delivery::Sent) => {
            finish(round, claimed, Finished::Sent, now).await?;
            report.sent += 1;
        }
        Ok(Delivery::Skipped) => {
            finish(round, claimed, Finished::Skipped, now).await?;
            report.skipped += 1;
        }
        Err(NotDelivered::Paced(deferral)) => {
            let until = whole_second_at_or_after(deferral.until);
            round.retry_at(&claimed.key, "paced", until, false).await?;
            report.deferred += 1;
            if deferral.workspace_wide {
                return Ok(Some(("paced".into(), until)));
            }
        }
        Err(NotDelivered::Chat(ChatError::RateLimited(wait))) => {
            let wait = SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(1));
            let until = whole_second_at_or_after(now + wait + jitter(1_000));
            tracing::warn!(
                retry_after_secs = wait.as_secs(),
                "rate limited by Slack; pausing every send to the workspace"
            );
            metrics::counter!("trustpulse_slack_rate_limited_total").increment(1);
            state.store.pause_sends_until(until).await?;
            round
                .retry_at(&claimed.key, "ratelimited", until, false)
                .await?;
            report.deferred += 1;
            return Ok(Some(("ratelimited".into(), until)));
        }
        Err(NotDelivered::Chat(e @ ChatError::Auth(_))) => {
            tracing::error!(error = %e.code(), "Slack refused the bot token; pausing all sends");
            if let Some((team, _)) = state.store.installation().await? {
                state.store.pause_installation(&team, now).await?;
            }
            round.retry_at(&claimed.key, &e.code(), now, false).await?;
            report.deferred += 1;
            return Ok(Some((e.code(), now)));
        }
        Err(NotDelivered::Chat(e @ ChatError::Permanent(_))) => {
            tracing::warn!(error = %e.code(), "Slack refused this recipient; not retrying");
            finish(round, claimed, Finished::Failed(&e.code()), now).await?;
            report.failed += 1;
        }
        Err(NotDelivered::Chat(e)) => {
            if claimed.attempts >= MAX_ATTEMPTS {
                tracing::error!(error = %e.code(), "giving up after {MAX_ATTEMPTS} attempts");
                finish(round, claimed, Finished::Dead(&e.code()), now).await?;
                report.failed += 1;
            } else {
                let until = whole_second_at_or_after(now + backoff(claimed.attempts));
                tracing::warn!(error = %e.code(), "transient failure; will retry");
                round.retry_at(&claimed.key, &e.code(), until, true).await?;
                report.retried += 1;
            }
        }
    }
    Ok(None)
}

/// How a job ended.
#[derive(Clone, Copy)]
enum Finished<'e> {
    Sent,
    /// Nothing to send any more (the wave closed, the person left or opted out): not counted.
    Skipped,
    /// Refused for good, with Slack's error code.
    Failed(&'e str),
    /// Given up after [`MAX_ATTEMPTS`], with the last error's code.
    Dead(&'e str),
}

/// Records how a job ended: its row marked and the outcome counted, or, for a job that leaves
/// nothing behind ([`Job::is_forgotten_when_done`](crate::store::Job::is_forgotten_when_done)),
/// its row deleted. Such a job's failures are still counted: an operator needs to see Home
/// failing to publish (a missing scope, say), and a failure is rare, where a count of every
/// publish would trace every visit.
async fn finish(
    round: &mut OutboxRound,
    claimed: &ClaimedJob,
    finished: Finished<'_>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let forgotten = claimed.job.is_forgotten_when_done();
    let key = claimed.key.as_str();
    if forgotten {
        round.forget(key).await?;
    } else {
        match finished {
            // An invitation's mark queues its reminder too (`OutboxRound::mark_sent`).
            Finished::Sent | Finished::Skipped => round.mark_sent(claimed, now).await?,
            Finished::Failed(error) => round.mark_failed(claimed, error, now).await?,
            Finished::Dead(error) => round.mark_dead(claimed, error, now).await?,
        }
    }
    let counted = match finished {
        Finished::Sent if !forgotten => Some("sent"),
        Finished::Sent | Finished::Skipped => None,
        Finished::Failed(_) => Some("failed"),
        Finished::Dead(_) => Some("dead"),
    };
    if let Some(outcome) = counted {
        metrics::counter!("trustpulse_slack_jobs_total", "kind" => claimed.job.kind(), "outcome" => outcome).increment(1);
    }
    Ok(())
}

/// Due times are stored in whole seconds; round up so a job is never due before it may go.
fn whole_second_at_or_after(at: Timestamp) -> Timestamp {
    let floor = Timestamp::from_second(at.as_second()).unwrap_or(at);
    if floor < at {
        floor + SignedDuration::from_secs(1)
    } else {
        floor
    }
}

/// 2 s, 4 s, 8 s … capped at 10 minutes, each with up to 50% random jitter so that many rows
/// failing together do not retry together.
pub fn backoff(attempts: i64) -> SignedDuration {
    let base = 2i64.saturating_pow(attempts.clamp(1, 20) as u32).min(600);
    SignedDuration::from_secs(base) + jitter(base * 500)
}

fn jitter(max_millis: i64) -> SignedDuration {
    SignedDuration::from_millis(rand::random_range(0..=max_millis.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let secs = |a| backoff(a).as_secs();
        assert!((2..=3).contains(&secs(1)));
        assert!((8..=12).contains(&secs(3)));
        assert!((600..=900).contains(&secs(12)));
    }
}
