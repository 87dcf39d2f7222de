//! The outbox: work for Slack, written in the same transaction as the change that causes it, and
//! delivered by the worker. Each row is claimed with a lease, sent, and marked right after its
//! own Slack call, so a crash repeats at most the one call that was in flight.
//!
//! A job never carries an answer or a comment: see [`Job`].

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyExecutor, Connection};

use super::{Backend, Store, from_secs, new_id, secs};

/// One piece of work for Slack. Ids only: nothing a seller answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// DM the invitation of a wave to one invitee.
    Invite { wave_id: String, person_id: String },
    /// DM the one reminder of a wave to an invitee, if they still have not answered.
    Remind { wave_id: String, person_id: String },
    /// Refresh a person's App Home.
    PublishHome { person_id: String },
    /// A manager's weekly digest, for the week of `week` (the digest's local date).
    Digest { manager_id: String, week: String },
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Invite { .. } => "invite",
            Job::Remind { .. } => "remind",
            Job::PublishHome { .. } => "publish_home",
            Job::Digest { .. } => "digest",
        }
    }

    /// The key that makes queueing idempotent: one invitation and one reminder per invitee and
    /// wave, whoever queues them and however often.
    pub fn dedup_key(&self) -> String {
        match self {
            Job::Invite { wave_id, person_id } => format!("invite:{wave_id}:{person_id}"),
            Job::Remind { wave_id, person_id } => format!("remind:{wave_id}:{person_id}"),
            Job::PublishHome { person_id } => format!("home:{person_id}:{}", new_id()),
            Job::Digest { manager_id, week } => format!("digest:{manager_id}:{week}"),
        }
    }
}

/// A claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub job_id: String,
    pub job: Job,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How many rows are in each state, for status pages, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub dead: i64,
    pub cancelled: i64,
}

/// Queues `job` unless the same job is already queued. Returns whether a row was added.
pub(super) async fn enqueue<'e>(
    ex: impl AnyExecutor<'e>,
    team_id: &str,
    job: &Job,
    due_at: Timestamp,
    now: Timestamp,
) -> anyhow::Result<bool> {
    insert_job(ex, team_id, job, due_at, now, "DO NOTHING").await
}

/// Queues `job` due at `due_at`, or, if it is already queued and still pending for later,
/// makes it due at `due_at`. Returns whether a row was added or brought forward.
pub(super) async fn enqueue_or_bring_forward<'e>(
    ex: impl AnyExecutor<'e>,
    team_id: &str,
    job: &Job,
    due_at: Timestamp,
    now: Timestamp,
) -> anyhow::Result<bool> {
    let bring_forward = "DO UPDATE SET due_at = excluded.due_at WHERE outbox.state = 'pending' AND outbox.due_at > excluded.due_at";
    insert_job(ex, team_id, job, due_at, now, bring_forward).await
}

async fn insert_job<'e>(
    ex: impl AnyExecutor<'e>,
    team_id: &str,
    job: &Job,
    due_at: Timestamp,
    now: Timestamp,
    on_conflict: &'static str,
) -> anyhow::Result<bool> {
    let sql = format!(
        "INSERT INTO outbox (job_id, team_id, kind, dedup_key, payload, state, due_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
         ON CONFLICT (dedup_key) {on_conflict}"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(new_id())
        .bind(team_id)
        .bind(job.kind())
        .bind(job.dedup_key())
        .bind(serde_json::to_string(job)?)
        .bind(secs(due_at))
        .bind(secs(now))
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// The bookkeeping connection for one worker round (see [`OutboxRound`]).
    pub async fn outbox_round(&self) -> anyhow::Result<OutboxRound> {
        Ok(OutboxRound {
            conn: self.bookkeeping.acquire().await?,
            backend: self.backend,
        })
    }

    pub async fn enqueue(
        &self,
        team_id: &str,
        job: &Job,
        due_at: Timestamp,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        enqueue(&self.pool, team_id, job, due_at, now).await
    }

    /// Whether anything is due at `now` (a cheap read, so an idle worker takes no write lock).
    pub async fn has_due_work(&self, now: Timestamp) -> anyhow::Result<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT job_id FROM outbox
             WHERE (state = 'pending' AND due_at <= $1) OR (state = 'sending' AND lease_until <= $1) LIMIT 1",
        )
        .bind(secs(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Ends every lease at `now`, so rows a dead process had claimed can be claimed again at
    /// once. Only sound where no other worker can be running: SQLite's single `serve`, at
    /// start-up, under its lock. Returns how many rows were leased.
    pub async fn end_all_leases(&self, now: Timestamp) -> anyhow::Result<u64> {
        let done = sqlx::query("UPDATE outbox SET lease_until = $1 WHERE state = 'sending'")
            .bind(secs(now))
            .execute(&self.bookkeeping)
            .await?;
        Ok(done.rows_affected())
    }

    /// Cancels every row not yet sent (after an uninstall). Returns how many.
    pub async fn cancel_pending(&self, now: Timestamp) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'cancelled', done_at = $1, lease_until = NULL
             WHERE state IN ('pending', 'sending')",
        )
        .bind(secs(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn outbox_counts(&self) -> anyhow::Result<OutboxCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "pending" => counts.pending = n,
                "sending" => counts.sending = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                "dead" => counts.dead = n,
                _ => counts.cancelled = n,
            }
        }
        Ok(counts)
    }

    /// When the next pending row is due, so the worker can sleep until then.
    pub async fn next_due(&self) -> anyhow::Result<Option<Timestamp>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_at) FROM outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(at.map(from_secs))
    }
}

/// One worker round's claims and marks, on one held connection with relaxed commit durability
/// (see `Store::bookkeeping`). Holding it makes each mark a single statement rather than a pool
/// checkout and return; between statements it holds no lock, so other writers are not held up.
pub struct OutboxRound {
    conn: PoolConnection<Any>,
    backend: Backend,
}

impl OutboxRound {
    /// Claims up to `limit` due rows (pending and due, or sending with an expired lease) for
    /// `lease`. On PostgreSQL concurrent workers skip each other's rows (`SKIP LOCKED`).
    pub async fn claim_due(
        &mut self,
        now: Timestamp,
        lease: SignedDuration,
        limit: i64,
    ) -> anyhow::Result<Vec<ClaimedJob>> {
        let (begin, lock) = match self.backend {
            // Take the write lock up front, so a concurrent writer waits instead of failing.
            Backend::Sqlite => ("BEGIN IMMEDIATE", ""),
            Backend::Postgres => ("BEGIN", "FOR UPDATE SKIP LOCKED"),
        };
        let mut tx = self.conn.begin_with(begin).await?;
        let mut rows: Vec<(String, String, i64)> = Vec::new();
        // Two statements rather than one with `OR`: each walks the `(state, due_at)` index in
        // order and stops at `LIMIT`, where an `OR` made SQLite collect and sort every due row
        // for each batch (quadratic in a large fan-out). Expired leases go first; they are few.
        for due in [
            "state = 'sending' AND lease_until <= $1",
            "state = 'pending' AND due_at <= $1",
        ] {
            let limit = limit - rows.len() as i64;
            if limit <= 0 {
                break;
            }
            let sql = format!(
                "UPDATE outbox SET state = 'sending', lease_until = $2, attempts = attempts + 1
                 WHERE job_id IN (
                    SELECT job_id FROM outbox WHERE {due} ORDER BY due_at LIMIT $3 {lock})
                 RETURNING job_id, payload, attempts"
            );
            let claimed: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(secs(now))
                .bind(secs(now + lease))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            rows.extend(claimed);
        }
        tx.commit().await?;
        rows.into_iter()
            .map(|(job_id, payload, attempts)| {
                Ok(ClaimedJob {
                    job: serde_json::from_str(&payload)?,
                    job_id,
                    attempts,
                })
            })
            .collect()
    }

    /// Done (sent, or nothing left to send).
    pub async fn mark_sent(&mut self, job_id: &str, now: Timestamp) -> anyhow::Result<()> {
        self.finish(job_id, "sent", None, now).await
    }

    /// Failed for good; never retried. `error` is Slack's error code or a short reason, never
    /// message content.
    pub async fn mark_failed(
        &mut self,
        job_id: &str,
        error: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.finish(job_id, "failed", Some(error), now).await
    }

    /// Gave up after too many transient failures.
    pub async fn mark_dead(
        &mut self,
        job_id: &str,
        error: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.finish(job_id, "dead", Some(error), now).await
    }

    async fn finish(
        &mut self,
        job_id: &str,
        state: &str,
        error: Option<&str>,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE outbox SET state = $2, last_error = $3, done_at = $4, lease_until = NULL
             WHERE job_id = $1 AND state = 'sending'",
        )
        .bind(job_id)
        .bind(state)
        .bind(error)
        .bind(secs(now))
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    /// Puts a claimed row back to wait until `due_at`. With `count_attempt` false (a 429), the
    /// attempt does not count against the row's limit.
    pub async fn retry_at(
        &mut self,
        job_id: &str,
        error: &str,
        due_at: Timestamp,
        count_attempt: bool,
    ) -> anyhow::Result<()> {
        self.put_back(&[job_id], error, due_at, count_attempt).await
    }

    /// Puts claimed rows back untouched (a 429 or a spent budget stopped the round before
    /// them): due at `due_at`, the attempt not counted. One statement for the lot.
    pub async fn hand_back(
        &mut self,
        job_ids: &[&str],
        reason: &str,
        due_at: Timestamp,
    ) -> anyhow::Result<()> {
        self.put_back(job_ids, reason, due_at, false).await
    }

    async fn put_back(
        &mut self,
        job_ids: &[&str],
        error: &str,
        due_at: Timestamp,
        count_attempt: bool,
    ) -> anyhow::Result<()> {
        for chunk in job_ids.chunks(500) {
            // `$4..` are the ids: one placeholder each works the same on both backends.
            let ids: Vec<String> = (4..chunk.len() + 4).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE outbox SET state = 'pending', last_error = $1, due_at = $2,
                    lease_until = NULL, attempts = attempts - $3
                 WHERE state = 'sending' AND job_id IN ({})",
                ids.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(error)
                .bind(secs(due_at))
                .bind(i64::from(!count_attempt));
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *self.conn).await?;
        }
        Ok(())
    }
}
