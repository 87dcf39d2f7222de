//! Starting, reminding and closing a team's pulse by hand (or from the planner).

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::digest::release::{Thresholds, WindowFacts, compute_release};
use crate::privacy::MinRespondents;
use crate::privacy::window::{ReleasePolicy, WindowDecision, decide};
use crate::store::{
    ArrivedRows, BatchLimits, OpenWaveError, OpenedWave, Store, Wave, WaveTiming,
    WindowDecision as StoreDecision,
};

/// Opens a pulse for `manager_id` now, open for the team's cadence's `open_for`, and queues the
/// invitations.
pub async fn start_wave(
    store: &Store,
    manager_id: &str,
    k: MinRespondents,
    now: Timestamp,
) -> Result<OpenedWave, OpenWaveError> {
    // No separate checks here: opening refuses a team with an open pulse (`AlreadyOpen`) and
    // someone who leads no one who can be asked (`NoEligibleSellers`) inside its transaction,
    // before it writes anything.
    let today = now.to_zoned(TimeZone::UTC).date();
    let cadence = store.effective_cadence(manager_id, today).await?;
    // A pulse started by hand is its own slot. The open-pulse check above stops doubles, so the
    // name only has to be new: two pulses started within one second must not share it.
    let period = format!(
        "manual-{}-{}",
        now.as_second(),
        hex::encode(rand::random::<[u8; 4]>())
    );
    // By hand, everyone is asked now, and reminded after the cadence's delay.
    let invite_at = |_: Option<&str>| now;
    let remind_at = |invited: Timestamp| Some(cadence.remind_at(invited));
    let timing = WaveTiming {
        closes_at: cadence.closes_at(now),
        invite_at: &invite_at,
        remind_at: &remind_at,
    };
    let opened = store
        .open_wave(manager_id, &period, &timing, k, now)
        .await?;
    metrics::counter!("trustpulse_invitations_queued_total")
        .increment(opened.invitees.len() as u64);
    Ok(opened)
}

/// Queues the one reminder for everyone in the team's open pulse, whether they answered or not,
/// so that no one can tell who answered.
pub async fn remind_wave(
    store: &Store,
    manager_id: &str,
    now: Timestamp,
) -> anyhow::Result<Option<(Wave, usize)>> {
    let Some(wave) = store.open_wave_of(manager_id).await? else {
        return Ok(None);
    };
    let queued = store.queue_reminders(&wave.wave_id, now).await?;
    Ok(Some((wave, queued)))
}

/// Closes the team's open pulse now (and releases its window if due). Returns the wave that
/// was closed and what happened to its window, if there was an open pulse.
pub async fn close_wave(
    store: &Store,
    manager_id: &str,
    policy: &ReleasePolicy,
    now: Timestamp,
) -> anyhow::Result<Option<(Wave, WindowDecision)>> {
    let Some(wave) = store.open_wave_of(manager_id).await? else {
        return Ok(None);
    };
    let decision = close_and_release(store, &wave, policy, now).await?;
    Ok(decision.map(|d| (wave, d)))
}

/// Closes one wave and decides its window: release with numbers, hold for the next wave, or
/// release as "not enough responses" after the maximum number of waves. The close and the
/// decision are one transaction. Returns None when the wave was already closed (another replica
/// got there first).
pub async fn close_and_release(
    store: &Store,
    wave: &Wave,
    policy: &ReleasePolicy,
    now: Timestamp,
) -> anyhow::Result<Option<WindowDecision>> {
    let item = (Some(wave.wave_id.as_str()), wave.window_id.as_str(), 0);
    let decision = decide_windows(store, &[item], policy, now)
        .await?
        .pop()
        .flatten();
    if let Some(decision) = decision {
        tracing::info!(wave_id = %wave.wave_id, window_id = %wave.window_id, ?decision, "pulse closed");
    }
    scrub_after_release(store).await;
    Ok(decision)
}

/// Closes every wave whose time has come, then scrubs the disk once for all their releases
/// (a scrub per release made closing 10,000 windows take a minute). Returns how many closed.
pub async fn close_due_waves(
    store: &Store,
    policy: &ReleasePolicy,
    now: Timestamp,
) -> anyhow::Result<usize> {
    let due = store.waves_due_to_close(now).await?;
    let items: Vec<CloseItem> = due
        .iter()
        .map(|(w, invited)| (Some(w.wave_id.as_str()), w.window_id.as_str(), *invited))
        .collect();
    let mut closed = 0;
    for ((wave, _), decision) in due
        .iter()
        .zip(decide_windows(store, &items, policy, now).await?)
    {
        if let Some(decision) = decision {
            tracing::info!(wave_id = %wave.wave_id, window_id = %wave.window_id, ?decision, "pulse closed");
            closed += 1;
        }
    }
    if store.first_undecided_check() {
        closed += decide_undecided(store, policy, now).await?;
    }
    scrub_after_release(store).await;
    Ok(closed)
}

/// Makes released answers unreadable on disk (a no-op when nothing was released). Still due
/// after a failure: the planner's next tick tries again.
async fn scrub_after_release(store: &Store) {
    if let Err(e) = store.scrub().await {
        tracing::warn!(error = %e, "could not yet scrub released answers from the disk");
    }
}

/// Decides a window whose waves have all closed (after a crash between a close and its
/// decision, from before they were one transaction).
pub async fn decide_undecided(
    store: &Store,
    policy: &ReleasePolicy,
    now: Timestamp,
) -> anyhow::Result<usize> {
    let windows = store.undecided_windows().await?;
    let items: Vec<CloseItem> = windows.iter().map(|w| (None, w.as_str(), 0)).collect();
    let mut decided = 0;
    for (window_id, decision) in windows
        .iter()
        .zip(decide_windows(store, &items, policy, now).await?)
    {
        if let Some(decision) = decision {
            tracing::warn!(
                window_id,
                ?decision,
                "decided a window left undecided by an earlier stop"
            );
            decided += 1;
        }
    }
    scrub_after_release(store).await;
    Ok(decided)
}

/// Closes (when a wave is given) and decides each window, in transactions of at most the
/// store's [`BatchLimits`] (invitees are each item's third part), as many at once as the store
/// allows (`Store::close_batches_at_once`); what was decided for each, in order (None: already
/// closed or decided elsewhere).
///
/// Should a batch fail, no further batch starts, the one written beside it commits or fails on
/// its own (it is awaited, not dropped: a batch stopped between its commit and asking for the
/// scrub would leave its released answers in the files), and the error is returned; the next
/// tick decides whatever is still due.
async fn decide_windows(
    store: &Store,
    items: &[CloseItem<'_>],
    policy: &ReleasePolicy,
    now: Timestamp,
) -> anyhow::Result<Vec<Option<WindowDecision>>> {
    let batches: Vec<_> = close_batches(items, store.close_batch_limits()).collect();
    let at_once = store.close_batches_at_once();
    // Where the windows' answers still where they arrived are, read once for all the batches
    // (SQLite: `store::ArrivedRows`); a batch alone looks for its own windows'.
    let arrived = match batches.len() {
        0 | 1 => ArrivedRows::default(),
        _ => store.arrived_rows().await,
    };
    let mut batches = batches.into_iter();
    let mut writing = FuturesOrdered::new();
    let mut decided = Vec::with_capacity(items.len());
    let mut failed = None;
    loop {
        while failed.is_none() && writing.len() < at_once {
            let Some(batch) = batches.next() else { break };
            writing.push_back(decide_batch(store, batch, &arrived, policy, now));
        }
        match writing.next().await {
            None => break,
            Some(Ok(batch)) => decided.extend(batch),
            Some(Err(e)) => {
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(decided), Err)
}

/// One transaction of [`decide_windows`]: its windows' decisions, in order.
async fn decide_batch(
    store: &Store,
    batch: &[CloseItem<'_>],
    arrived: &ArrivedRows,
    policy: &ReleasePolicy,
    now: Timestamp,
) -> anyhow::Result<Vec<Option<WindowDecision>>> {
    let chunk: Vec<(Option<&str>, &str)> = batch
        .iter()
        .map(|(wave, window, _)| (*wave, *window))
        .collect();
    let mut decisions = Vec::new();
    let outcomes = store
        .close_and_decide_many(&chunk, now, arrived, decider(policy, now, &mut decisions))
        .await?;
    let mut decisions = decisions.into_iter();
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            outcome.map(|(window, _)| {
                let decision = decisions.next().expect("one decision per window decided");
                count_decision(&window, decision);
                decision
            })
        })
        .collect())
}

/// A wave to close (None: its window alone, to decide), its window, and the wave's invitees.
type CloseItem<'a> = (Option<&'a str>, &'a str, usize);

/// `items` cut into consecutive batches of at most `limits.teams` items and, unless one item
/// alone is more, `limits.people` invitees.
fn close_batches<'i, 'a>(
    items: &'i [CloseItem<'a>],
    limits: BatchLimits,
) -> impl Iterator<Item = &'i [CloseItem<'a>]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut invitees = 0;
        let len = rest
            .iter()
            .take(limits.teams)
            .take_while(|(_, _, n)| {
                invitees += n;
                invitees <= limits.people
            })
            .count()
            .max(1);
        let (batch, after) = rest.split_at(len);
        rest = after;
        Some(batch)
    })
}

/// Turns a window's facts into the store's decision, by the release policy, and keeps the
/// policy's own word for each (in `decisions`, one per window decided, in order).
fn decider<'a>(
    policy: &'a ReleasePolicy,
    now: Timestamp,
    decisions: &'a mut Vec<WindowDecision>,
) -> impl FnMut(&crate::store::WindowState) -> StoreDecision + 'a {
    move |window| {
        let decided = decide(
            window.respondents,
            window.k,
            window.waves_closed,
            policy.max_window_waves,
        );
        decisions.push(decided);
        match decided {
            WindowDecision::Hold => StoreDecision::Hold,
            WindowDecision::Release | WindowDecision::ReleaseShort => {
                let facts = WindowFacts {
                    tally: window.tally,
                    respondents: window.respondents,
                    invited: window.invited,
                    comments: window.comments.clone(),
                    window_end: now.to_zoned(TimeZone::UTC).date().to_string(),
                    waves: window.waves_closed,
                    follow_through_since: window.follow_through_since.clone(),
                };
                let thresholds = Thresholds {
                    k: window.k,
                    comment_minimum: policy.comment_minimum(window.k),
                };
                StoreDecision::Release(Box::new(compute_release(facts, thresholds)))
            }
        }
    }
}

fn count_decision(window: &crate::store::WindowState, decision: WindowDecision) {
    let outcome = match decision {
        WindowDecision::Release => "released",
        WindowDecision::Hold => "held",
        WindowDecision::ReleaseShort => "not_enough_responses",
    };
    metrics::counter!("trustpulse_windows_total", "outcome" => outcome).increment(1);
    if decision == WindowDecision::Release {
        // Counted when the window is released, never as they arrive: a live counter would
        // show who is answering, and when. A window short of k adds nothing: its count is a
        // number under k.
        metrics::counter!("trustpulse_submissions_total", "outcome" => "recorded")
            .increment(u64::from(window.tally.ballots()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(items: &[CloseItem]) -> Vec<usize> {
        close_batches(items, BatchLimits::CLOSE_SQLITE)
            .map(<[_]>::len)
            .collect()
    }

    #[test]
    fn close_batches_hold_a_few_hundred_invitees_or_64_waves_in_order() {
        let small: Vec<CloseItem> = (0..130).map(|_| (Some("w"), "x", 5)).collect();
        assert_eq!(sizes(&small), [64, 64, 2]);
        let teams_of_100: Vec<CloseItem> = (0..10).map(|_| (Some("w"), "x", 100)).collect();
        assert_eq!(sizes(&teams_of_100), [4, 4, 2]);
        // A wave larger than a batch goes alone, and nothing is skipped.
        let mixed: Vec<CloseItem> = vec![
            (Some("a"), "x", 5),
            (Some("b"), "x", 900),
            (Some("c"), "x", 5),
        ];
        let batches: Vec<Vec<&str>> = close_batches(&mixed, BatchLimits::CLOSE_SQLITE)
            .map(|b| b.iter().filter_map(|(w, _, _)| *w).collect())
            .collect();
        assert_eq!(batches, [vec!["a"], vec!["b"], vec!["c"]]);
        assert_eq!(sizes(&[]), Vec::<usize>::new());
    }

    #[test]
    fn on_postgresql_a_close_batch_takes_up_to_250_windows() {
        let small: Vec<CloseItem> = (0..700).map(|_| (Some("w"), "x", 5)).collect();
        let sizes: Vec<usize> = close_batches(&small, BatchLimits::CLOSE_POSTGRES)
            .map(<[_]>::len)
            .collect();
        assert_eq!(sizes, [250, 250, 200]);
        let teams_of_100: Vec<CloseItem> = (0..40).map(|_| (Some("w"), "x", 100)).collect();
        let sizes: Vec<usize> = close_batches(&teams_of_100, BatchLimits::CLOSE_POSTGRES)
            .map(<[_]>::len)
            .collect();
        assert_eq!(sizes, [16, 16, 8]);
    }
}
