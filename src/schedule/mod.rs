//! What happens when: the planner (which opens and closes pulses through `ops::waves`), the
//! outbox worker that delivers jobs through the chat platform, and the directory sync. Time always comes in as
//! `now`; only the serve loop reads the clock.

pub mod directory;
pub mod job;
pub mod planner;
pub mod worker;

use jiff::SignedDuration;
use tokio_util::sync::CancellationToken;

use crate::ops::AppState;

/// How often the planner looks at the cadences. Slots are minutes apart at the finest, and a
/// tick is cheap and idempotent.
pub const PLANNER_EVERY: SignedDuration = SignedDuration::from_secs(30);

/// The background loop of `serve`: the planner every [`PLANNER_EVERY`]; the outbox worker round
/// after round while it finds work, at once when kicked, and otherwise every second; until
/// `shutdown` fires. A failed round is logged and retried on the next turn; work in flight
/// finishes before the loop returns.
pub async fn run_until_stopped(state: AppState, shutdown: CancellationToken) {
    let mut last_tick = None;
    // The directory sync can take minutes on a large workspace: its own task, its own pace.
    // Its daily turn also forgets the ids of events past Slack's retries, and any Home publish
    // a replica of an earlier version kept, and (on PostgreSQL) rewrites the outbox so that
    // the rows it deleted leave its files.
    let sync_state = state.clone();
    let sync_shutdown = shutdown.clone();
    let directory_task = tokio::spawn(async move {
        loop {
            match directory::sync(&sync_state, sync_state.now()).await {
                Ok(people) => tracing::info!(people, "synced people from Slack's directory"),
                Err(e) => {
                    tracing::warn!(error = %e, "directory sync failed; will retry in a day, events still apply")
                }
            }
            let now = sync_state.now();
            match sync_state
                .store
                .prune_inbox(now, crate::store::INBOX_KEEP)
                .await
            {
                Ok(forgotten) => tracing::debug!(forgotten, "forgot the ids of old events"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not forget the ids of old events; will retry in a day")
                }
            }
            if let Err(e) = sync_state.store.forget_finished_home_publishes().await {
                tracing::warn!(error = %e, "could not forget finished Home publishes; will retry in a day");
            }
            if let Err(e) = sync_state.store.scrub_outbox().await {
                tracing::warn!(error = %e, "could not rewrite the outbox's files; will retry in a day");
            }
            tokio::select! {
                _ = sync_shutdown.cancelled() => return,
                _ = tokio::time::sleep(directory::SYNC_EVERY.unsigned_abs()) => {}
            }
        }
    });
    loop {
        let now = state.now();
        if last_tick.is_none_or(|at| now.duration_since(at) >= PLANNER_EVERY) {
            match planner::tick(&state, now).await {
                Ok(report) if report != planner::TickReport::default() => {
                    tracing::info!(?report, "planner tick")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = ?e, "planner tick failed"),
            }
            last_tick = Some(now);
        }
        let busy = match worker::run_once(&state, now).await {
            Ok(report) if report.handled() > 0 => {
                tracing::debug!(?report, "outbox round");
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = ?e, "outbox round failed");
                false
            }
        };
        // A round that did something may have left more due (a fan-out is many batches): go
        // straight on. Rows it put back are due later, so this never spins.
        if busy && !shutdown.is_cancelled() {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                directory_task.abort();
                return;
            }
            _ = state.worker_kick.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
