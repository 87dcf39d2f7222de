//! One-time planner decisions, shared by every replica.

use jiff::Timestamp;

use super::WriteInTurn;
use super::{Store, secs};

impl Store {
    /// Records `key` once. Returns true only for the caller that recorded it first.
    pub async fn mark_once(&self, key: &str, now: Timestamp) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO planner_marks (mark_key, created_at) VALUES ($1, $2) ON CONFLICT (mark_key) DO NOTHING",
        )
        .bind(key)
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
