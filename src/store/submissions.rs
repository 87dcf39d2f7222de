//! Recording a submission, the one place a ballot is written (through the group-commit writer
//! of `submission_writer.rs`), and the reads of tokens, ballots and comments.

use jiff::Timestamp;

use super::Store;
use super::submission_writer::Submission;
use crate::survey::{AnswerError, Answers, Ballot, Question};

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
    /// Records one submission: the participation token (who answered, keyed by the window's
    /// random HMAC key) and, apart from it, the ballot and optional comment (what was
    /// answered, with random ids and no person or time). Returns once it is durably committed,
    /// together with whatever other submissions arrived at the same moment (group commit, see
    /// `submission_writer.rs`). Any refusal writes nothing.
    pub async fn record_submission(
        &self,
        wave_id: &str,
        person_id: &str,
        answers: &Answers,
        now: Timestamp,
    ) -> Result<(), SubmissionError> {
        let (ballot, comment) = answers.validate()?;
        self.submissions
            .submit(Submission {
                wave_id: wave_id.to_owned(),
                person_id: person_id.to_owned(),
                ballot,
                comment,
                at: now,
            })
            .await
    }

    /// Records `batch` (at most [`super::MAX_SUBMISSION_BATCH`]) in one transaction, as the
    /// writer does with the submissions waiting at one moment; each outcome in the order
    /// given. If the transaction fails, none is recorded.
    pub async fn record_submissions(
        &self,
        batch: Vec<Submission>,
    ) -> Vec<Result<(), SubmissionError>> {
        self.submissions.submit_all(batch).await
    }

    /// Whether `person_id` has answered the wave, recomputed from the window key. Possible only
    /// while the window is unreleased; afterwards the answer is "unknown" (None) for everyone.
    pub async fn has_answered(
        &self,
        wave_id: &str,
        person_id: &str,
    ) -> anyhow::Result<Option<bool>> {
        let key: Option<(Vec<u8>, Option<String>)> = sqlx::query_as(
            "SELECT k.hmac_key, k.secret_id FROM waves w JOIN window_keys k ON k.window_id = w.window_id WHERE w.wave_id = $1",
        )
        .bind(wave_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((stored, secret_id)) = key else {
            return Ok(None);
        };
        let key = self.secrets.window_key(&stored, secret_id.as_deref())?;
        // Where the token arrived too, until its move (`sqlite_writer/arrivals.rs`).
        let sql = super::with_arriving(
            self.backend,
            &super::arrivals::TABLES[super::arrivals::TOKENS],
            "p",
            "SELECT p.wave_id FROM participation p WHERE p.wave_id = $1 AND p.token = $2",
        );
        let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(wave_id)
            .bind(key.token_for(person_id).as_bytes().to_vec())
            .fetch_all(&self.pool)
            .await?;
        Ok(Some(!found.is_empty()))
    }

    /// The ballots of a wave, in an order that says nothing about arrival (random ids).
    pub async fn ballots_of_wave(&self, wave_id: &str) -> anyhow::Result<Vec<Ballot>> {
        let sql = format!(
            "SELECT {}, b.follow_through, b.ballot_id FROM ballots b WHERE b.wave_id = $1",
            Question::columns("b.")
        );
        let sql = super::with_arriving(
            self.backend,
            &super::arrivals::TABLES[super::arrivals::BALLOTS],
            "b",
            &sql,
        ) + &format!(" ORDER BY {}", Question::COUNT + 2);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(wave_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| super::ballot_at(row, 0, true))
            .collect()
    }

    /// The comments of a wave, in an order that says nothing about arrival (random ids).
    pub async fn comments_of_wave(&self, wave_id: &str) -> anyhow::Result<Vec<String>> {
        let sql = super::with_arriving(
            self.backend,
            &super::arrivals::TABLES[super::arrivals::COMMENTS],
            "c",
            "SELECT c.body, c.comment_id FROM comments c WHERE c.wave_id = $1",
        ) + " ORDER BY 2";
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(wave_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(body, _)| body).collect())
    }

    /// Distinct people who answered any wave of the window (tokens are window-scoped),
    /// wherever their tokens are (`sqlite_writer/arrivals.rs`).
    pub async fn window_respondents(&self, window_id: &str) -> anyhow::Result<i64> {
        let tokens = super::with_arriving(
            self.backend,
            &super::arrivals::TABLES[super::arrivals::TOKENS],
            "p",
            "SELECT p.token FROM participation p
             JOIN waves w ON w.wave_id = p.wave_id WHERE w.window_id = $1",
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT t.token) FROM ({tokens}) AS t"
        )))
        .bind(window_id)
        .fetch_one(&self.pool)
        .await?)
    }
}
