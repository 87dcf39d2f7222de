//! A faithful fake Slack and a simulated sales org, for the tests and `trustpulse demo`.
//!
//! The fake serves the Web API methods trustpulse calls, built from Slack's method reference
//! (`slack_api_ref/`, copied from slack-ruby/slack-api-ref with its MIT license): it checks the
//! bearer token, rejects unknown methods and missing required arguments with Slack's error
//! shape, answers with the documented response shapes, and records every call. It also plays
//! Slack's side: signed events, interactions and commands over HTTP, and Socket Mode.

pub mod demo;
pub mod fake_slack;
pub mod methods;
pub mod payloads;
pub mod slack_side;
pub mod socket;

use jiff::{SignedDuration, Timestamp};

use crate::ops::AppState;
use crate::schedule::worker::{self, RoundReport};

/// Runs the outbox worker until nothing more is due, letting simulated time (the state's
/// manual clock) move on to when paced or paused work may go: at most `step` at a time and
/// never past `until`. Work due later (a reminder in two days) is left alone.
pub async fn deliver_due(
    state: &AppState,
    step: SignedDuration,
    until: Timestamp,
) -> anyhow::Result<RoundReport> {
    let mut total = RoundReport::default();
    loop {
        let now = state.now();
        let round = worker::run_once(state, now).await?;
        total.sent += round.sent;
        total.skipped += round.skipped;
        total.failed += round.failed;
        total.retried += round.retried;
        total.deferred += round.deferred;
        if round.handled() > 0 && round.deferred == 0 {
            continue;
        }
        let paused = state.store.sends_paused_until(now).await?;
        let next = paused.or(state.store.next_due().await?);
        match next {
            Some(at) if round.deferred > 0 && at > now && at <= (now + step).min(until) => {
                state.clock.set(at)
            }
            _ if round.handled() > 0 => {}
            _ => return Ok(total),
        }
    }
}
