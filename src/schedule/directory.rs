//! Keeping people current from Slack's directory: time zones (a `seller` cadence asks each
//! seller at their own local time), bots and deactivated accounts (never asked). Events
//! (`user_change`, `team_join`) keep it fresh between syncs; a full sync at start-up and once a
//! day covers people imported by id before Slack ever told us about them, and missed events.

use jiff::{SignedDuration, Timestamp};

use crate::ops::AppState;
use crate::ops::chat::NotDelivered;

/// How often the whole directory is read again.
pub const SYNC_EVERY: SignedDuration = SignedDuration::from_hours(24);

/// Reads every page of the directory (Slack: `users.list`, pages of 200) and records
/// each person. Returns how many people were recorded.
pub async fn sync(state: &AppState, now: Timestamp) -> anyhow::Result<usize> {
    let mut cursor = None;
    let mut recorded = 0;
    loop {
        let page = loop {
            match state
                .chat
                .directory_page(cursor.clone(), state.now())
                .await?
            {
                Ok(page) => break page,
                // The platform's pacing (Slack: tier 2, a directory of 10,000 people is 50
                // pages, a few minutes at most).
                Err(NotDelivered::Paced(deferral)) => {
                    let wait = deferral.until.duration_since(state.now()).unsigned_abs();
                    tokio::time::sleep(wait.min(std::time::Duration::from_secs(5))).await;
                }
                Err(NotDelivered::Chat(e)) => {
                    anyhow::bail!("could not read the chat platform's user directory: {e}")
                }
            }
        };
        let (people, next) = page;
        // One transaction per page: one wait for the disk per 200 people, not one each.
        state.store.upsert_people(&people, now).await?;
        recorded += people.len();
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(recorded),
        }
    }
}
