//! The inbox: Slack events already seen, so a retried delivery has its effect once.

use jiff::{SignedDuration, Timestamp};

use super::WriteInTurn;
use super::{Store, secs};

/// How long `serve` keeps an event's id to recognise its retries and replays.
pub const INBOX_KEEP: SignedDuration = SignedDuration::from_hours(24);

impl Store {
    /// Records an event id. Returns false when it was already recorded (a retry or a replay).
    pub async fn record_event(
        &self,
        event_id: &str,
        event_type: &str,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO inbox (event_id, event_type, payload, received_at) VALUES ($1, $2, '', $3)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(event_type)
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets event ids older than `keep` ([`INBOX_KEEP`] in `serve`). Slack retries a
    /// delivery for minutes, so a day is plenty; kept longer, the rows would be a record of when
    /// people opened the app's Home and changed their profiles.
    pub async fn prune_inbox(&self, now: Timestamp, keep: SignedDuration) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM inbox WHERE received_at < $1")
            .bind(secs(now - keep))
            .write_in_turn(self, &self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
