//! Recording a submission: the one place a ballot is written.
//!
//! In one transaction it writes the participation token (who answered, keyed by the window's
//! random HMAC key) and, separately, the ballot and optional comment (what was answered, with
//! random ids and no person or time). Any refusal writes nothing.

use jiff::Timestamp;

use super::{Backend, Store, new_id, secs};
use crate::privacy::token::WindowKey;
use crate::survey::{AnswerError, Answers, Ballot};

/// Why a submission was refused. None of these carries an answer value.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    #[error("this pulse does not exist")]
    UnknownWave,
    #[error("this pulse is closed")]
    WaveClosed,
    #[error("you are not on the team this pulse was sent to")]
    NotInvited,
    #[error("you have already answered this pulse")]
    AlreadyAnswered,
    #[error(transparent)]
    InvalidAnswer(#[from] AnswerError),
    #[error("could not record the answers")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SubmissionError {
    fn from(e: sqlx::Error) -> Self {
        SubmissionError::Internal(e.into())
    }
}

impl Store {
    pub async fn record_submission(
        &self,
        wave_id: &str,
        person_id: &str,
        answers: &Answers,
        now: Timestamp,
    ) -> Result<(), SubmissionError> {
        let (ballot, comment) = answers.validate()?;
        let mut tx = self.begin_write().await?;

        // On PostgreSQL the wave row is share-locked until this commits: a close waits for the
        // submission in flight, and a submission after a close sees it closed. So no ballot or
        // token can arrive in a window being released. (SQLite's write lock, taken by
        // `BEGIN IMMEDIATE`, already serialises the two.)
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR SHARE OF w",
        };
        let wave: Option<(String, String, i64, Option<Vec<u8>>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT w.state, w.window_id, w.closes_at, k.hmac_key
                 FROM waves w LEFT JOIN window_keys k ON k.window_id = w.window_id
                 WHERE w.wave_id = $1 {lock}"
            )))
            .bind(wave_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((state, window_id, closes_at, key)) = wave else {
            return Err(SubmissionError::UnknownWave);
        };
        // Late answers are refused even before the scheduler gets round to closing the wave.
        let key = key.as_deref().and_then(WindowKey::from_bytes);
        let Some(key) = key.filter(|_| state == "open" && secs(now) < closes_at) else {
            return Err(SubmissionError::WaveClosed);
        };

        let invited: Option<String> = sqlx::query_scalar(
            "SELECT person_id FROM wave_invitees WHERE wave_id = $1 AND person_id = $2",
        )
        .bind(wave_id)
        .bind(person_id)
        .fetch_optional(&mut *tx)
        .await?;
        if invited.is_none() {
            return Err(SubmissionError::NotInvited);
        }

        let token = key.token_for(person_id);
        let inserted = sqlx::query(
            "INSERT INTO participation (wave_id, window_id, token) VALUES ($1, $2, $3)
             ON CONFLICT (wave_id, token) DO NOTHING",
        )
        .bind(wave_id)
        .bind(&window_id)
        .bind(token.as_bytes().to_vec())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(SubmissionError::AlreadyAnswered);
        }

        sqlx::query("INSERT INTO ballots (ballot_id, wave_id, care, help, trust) VALUES ($1, $2, $3, $4, $5)")
            .bind(new_id())
            .bind(wave_id)
            .bind(ballot.care.value())
            .bind(ballot.help.value())
            .bind(ballot.trust.value())
            .execute(&mut *tx)
            .await?;
        if let Some(comment) = comment {
            sqlx::query("INSERT INTO comments (comment_id, wave_id, body) VALUES ($1, $2, $3)")
                .bind(new_id())
                .bind(wave_id)
                .bind(comment.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether `person_id` has answered the wave, recomputed from the window key. Possible only
    /// while the window is unreleased; afterwards the answer is "unknown" (None) for everyone.
    pub async fn has_answered(
        &self,
        wave_id: &str,
        person_id: &str,
    ) -> anyhow::Result<Option<bool>> {
        let key: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT k.hmac_key FROM waves w JOIN window_keys k ON k.window_id = w.window_id WHERE w.wave_id = $1",
        )
        .bind(wave_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(key) = key.as_deref().and_then(WindowKey::from_bytes) else {
            return Ok(None);
        };
        let found: Option<String> = sqlx::query_scalar(
            "SELECT wave_id FROM participation WHERE wave_id = $1 AND token = $2",
        )
        .bind(wave_id)
        .bind(key.token_for(person_id).as_bytes().to_vec())
        .fetch_optional(&self.pool)
        .await?;
        Ok(Some(found.is_some()))
    }

    /// The ballots of a wave, in an order that says nothing about arrival (random ids).
    pub async fn ballots_of_wave(&self, wave_id: &str) -> anyhow::Result<Vec<Ballot>> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT care, help, trust FROM ballots WHERE wave_id = $1 ORDER BY ballot_id",
        )
        .bind(wave_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(care, help, trust)| Ballot::new(care, help, trust).map_err(anyhow::Error::from))
            .collect()
    }

    /// The comments of a wave, in an order that says nothing about arrival (random ids).
    pub async fn comments_of_wave(&self, wave_id: &str) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM comments WHERE wave_id = $1 ORDER BY comment_id")
                .bind(wave_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Distinct people who answered any wave of the window (tokens are window-scoped).
    pub async fn window_respondents(&self, window_id: &str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(DISTINCT token) FROM participation WHERE window_id = $1",
        )
        .bind(window_id)
        .fetch_one(&self.pool)
        .await?)
    }
}
