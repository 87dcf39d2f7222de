//! The manager's self-check: a prediction of the team's answers, once per window.

use super::Store;
use super::WriteInTurn;
use crate::survey::{Ballot, Question};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionOutcome {
    Recorded,
    /// This window already has the manager's prediction.
    AlreadyPredicted,
    /// The team has no window collecting answers right now.
    NoOpenWindow,
}

impl Store {
    /// Records the manager's prediction for their team's current (unreleased) window.
    pub async fn record_prediction(
        &self,
        manager_id: &str,
        prediction: &Ballot,
    ) -> anyhow::Result<PredictionOutcome> {
        let window: Option<String> = sqlx::query_scalar(
            "SELECT window_id FROM windows WHERE manager_id = $1 AND state = 'open'",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(window_id) = window else {
            return Ok(PredictionOutcome::NoOpenWindow);
        };
        let sql = format!(
            "INSERT INTO predictions (window_id, manager_id, {}) VALUES ({})
             ON CONFLICT (window_id) DO NOTHING",
            Question::columns(""),
            super::placeholders(1, 2 + Question::COUNT)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(window_id)
            .bind(manager_id);
        for value in prediction.values() {
            query = query.bind(value);
        }
        let done = query.write_in_turn(self, &self.pool).await?;
        Ok(if done.rows_affected() == 1 {
            PredictionOutcome::Recorded
        } else {
            PredictionOutcome::AlreadyPredicted
        })
    }

    /// Whether the manager may still predict for the team's current window.
    pub async fn can_predict(&self, manager_id: &str) -> anyhow::Result<bool> {
        let open: Option<String> = sqlx::query_scalar(
            "SELECT w.window_id FROM windows w LEFT JOIN predictions p ON p.window_id = w.window_id
             WHERE w.manager_id = $1 AND w.state = 'open' AND p.window_id IS NULL",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(open.is_some())
    }

    /// The manager's prediction for the window of their latest release, if they made one.
    pub async fn prediction_for_latest_release(
        &self,
        manager_id: &str,
    ) -> anyhow::Result<Option<Ballot>> {
        let sql = format!(
            "SELECT {} FROM predictions p JOIN releases r ON r.window_id = p.window_id
             WHERE r.manager_id = $1 AND p.manager_id = $1
               AND r.window_end = (SELECT MAX(x.window_end) FROM releases x WHERE x.manager_id = $1)",
            Question::columns("p.")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(manager_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| super::ballot_at(&row, 0, false)).transpose()
    }
}
