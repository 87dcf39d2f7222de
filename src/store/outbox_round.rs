//! The worker's side of the outbox: claiming due rows with a lease and recording each row's
//! outcome right after its own Slack call, on one held connection per round.

use jiff::{SignedDuration, Timestamp};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection};

use super::WriteInTurn;
use super::outbox::new_job_id;
use super::{Backend, ClaimedJob, IN_LIST_CHUNK, Job, Store, placeholders, secs};

impl Store {
    /// The bookkeeping connection for one worker round (see [`OutboxRound`]).
    pub async fn outbox_round(&self) -> anyhow::Result<OutboxRound> {
        Ok(OutboxRound {
            conn: self.bookkeeping.acquire().await?,
            backend: self.backend,
            store: self.clone(),
        })
    }

    /// Ends every lease at `now`, so rows a dead process had claimed can be claimed again at
    /// once. Only sound where no other worker can be running: SQLite's single `serve`, at
    /// start-up, under its lock. Returns how many rows were leased.
    pub async fn end_all_leases(&self, now: Timestamp) -> anyhow::Result<u64> {
        let done = sqlx::query("UPDATE outbox SET lease_until = $1 WHERE state = 'sending'")
            .bind(secs(now))
            .write_in_turn(self, &self.bookkeeping)
            .await?;
        Ok(done.rows_affected())
    }
}

/// A claimed row as `claim_due` reads it back: key, job id, payload, attempts, due time.
type Claimed = (String, String, String, i64, i64);

/// One worker round's claims and marks, on one held connection with relaxed commit durability
/// (see `Store::bookkeeping`). Holding it makes each mark a single statement rather than a pool
/// checkout and return; between statements it holds no lock, so other writers are not held up.
pub struct OutboxRound {
    conn: PoolConnection<Any>,
    backend: Backend,
    /// For the SQLite write gate: each statement takes its turn with the other writers.
    store: Store,
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
        let _turn = self.store.write_gate().await;
        let mut tx = self.conn.begin_with(begin).await?;
        let mut rows: Vec<Claimed> = Vec::new();
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
                 WHERE dedup_key IN (
                    SELECT dedup_key FROM outbox WHERE {due} ORDER BY due_at LIMIT $3 {lock})
                 RETURNING dedup_key, job_id, payload, attempts, due_at"
            );
            let claimed: Vec<Claimed> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(secs(now))
                .bind(secs(now + lease))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            rows.extend(claimed);
        }
        tx.commit().await?;
        // In the order they were due, then queued (the job id begins with the time it was
        // queued): `RETURNING` gives the order the rows were updated in, which is the key's.
        rows.sort_by(|a, b| (a.4, &a.1).cmp(&(b.4, &b.1)));
        rows.into_iter()
            .map(|(key, job_id, payload, attempts, _)| {
                Ok(ClaimedJob {
                    job: serde_json::from_str(&payload)?,
                    job_id,
                    key,
                    attempts,
                })
            })
            .collect()
    }

    /// Remembers an invitation or reminder of an open wave (channel and `ts`, no person), so it
    /// is updated with all the others when the wave closes.
    pub async fn record_wave_message(
        &mut self,
        wave_id: &str,
        channel: &str,
        ts: &str,
    ) -> anyhow::Result<()> {
        let _turn = self.store.write_gate().await;
        sqlx::query(
            "INSERT INTO wave_messages (wave_id, channel, ts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(wave_id)
        .bind(channel)
        .bind(ts)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    /// Done (sent, or nothing left to send).
    pub async fn mark_sent(&mut self, claimed: &ClaimedJob, now: Timestamp) -> anyhow::Result<()> {
        self.finish(claimed, "sent", None, now).await
    }

    /// Failed for good; never retried. `error` is Slack's error code or a short reason, never
    /// message content.
    pub async fn mark_failed(
        &mut self,
        claimed: &ClaimedJob,
        error: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.finish(claimed, "failed", Some(error), now).await
    }

    /// Gave up after too many transient failures.
    pub async fn mark_dead(
        &mut self,
        claimed: &ClaimedJob,
        error: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.finish(claimed, "dead", Some(error), now).await
    }

    /// Marks a claimed row, if it is still claimed. An invitation's reminder is queued with the
    /// mark, whatever became of the invitation (sent, refused or given up on: every invitee's
    /// reminder, answered or not, as when reminders were queued with their pulse), due when the
    /// pulse planned it; and only while the invitation is still claimed and its pulse open, so
    /// that a pulse released meanwhile keeps no row that names the person.
    async fn finish(
        &mut self,
        claimed: &ClaimedJob,
        state: &str,
        error: Option<&str>,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let _turn = self.store.write_gate().await;
        if let Some((wave_id, reminder, remind_at)) = reminder_of(&claimed.job) {
            let (job_id, payload) = (new_job_id(now), serde_json::to_string(&reminder)?);
            match self.backend {
                // One statement, one round trip per invitation, as before reminders came with
                // it: the mark, and the reminder only if the mark found the row still claimed.
                Backend::Postgres => {
                    sqlx::query(
                        "WITH marked AS (
                           UPDATE outbox SET state = $2, last_error = $3, done_at = $4, lease_until = NULL
                           WHERE dedup_key = $1 AND state = 'sending' RETURNING team_id)
                         INSERT INTO outbox (job_id, team_id, kind, dedup_key, payload, state, due_at, created_at, wave_id)
                         SELECT $5, marked.team_id, $6, $7, $8, 'pending', $9, $4, w.wave_id
                         FROM marked JOIN waves w ON w.wave_id = $10 AND w.state = 'open'
                         ON CONFLICT (dedup_key) DO NOTHING",
                    )
                    .bind(&claimed.key)
                    .bind(state)
                    .bind(error)
                    .bind(secs(now))
                    .bind(job_id)
                    .bind(reminder.kind())
                    .bind(reminder.dedup_key())
                    .bind(payload)
                    .bind(remind_at)
                    .bind(wave_id)
                    .execute(&mut *self.conn)
                    .await?;
                    return Ok(());
                }
                // The reminder first, while the row is still claimed, then the mark below: a
                // stop between them sends the invitation again, and queues nothing twice.
                Backend::Sqlite => {
                    sqlx::query(
                        "INSERT INTO outbox (job_id, team_id, kind, dedup_key, payload, state, due_at, created_at, wave_id)
                         SELECT $1, invite.team_id, $2, $3, $4, 'pending', $5, $6, w.wave_id
                         FROM outbox invite JOIN waves w ON w.wave_id = $7
                         WHERE invite.dedup_key = $8 AND invite.state = 'sending' AND w.state = 'open'
                         ON CONFLICT (dedup_key) DO NOTHING",
                    )
                    .bind(job_id)
                    .bind(reminder.kind())
                    .bind(reminder.dedup_key())
                    .bind(payload)
                    .bind(remind_at)
                    .bind(secs(now))
                    .bind(wave_id)
                    .bind(&claimed.key)
                    .execute(&mut *self.conn)
                    .await?;
                }
            }
        }
        sqlx::query(
            "UPDATE outbox SET state = $2, last_error = $3, done_at = $4, lease_until = NULL
             WHERE dedup_key = $1 AND state = 'sending'",
        )
        .bind(&claimed.key)
        .bind(state)
        .bind(error)
        .bind(secs(now))
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    /// Deletes a claimed row whose job is done and leaves nothing behind
    /// ([`Job::is_forgotten_when_done`](super::Job::is_forgotten_when_done)).
    pub async fn forget(&mut self, key: &str) -> anyhow::Result<()> {
        let _turn = self.store.write_gate().await;
        sqlx::query("DELETE FROM outbox WHERE dedup_key = $1 AND state = 'sending'")
            .bind(key)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    /// Puts a claimed row back to wait until `due_at`. With `count_attempt` false (a 429), the
    /// attempt does not count against the row's limit.
    pub async fn retry_at(
        &mut self,
        key: &str,
        error: &str,
        due_at: Timestamp,
        count_attempt: bool,
    ) -> anyhow::Result<()> {
        self.put_back(&[key], error, due_at, count_attempt).await
    }

    /// Puts claimed rows back untouched (a 429 or a spent budget stopped the round before
    /// them): due at `due_at`, the attempt not counted. One statement for the lot.
    pub async fn hand_back(
        &mut self,
        keys: &[&str],
        reason: &str,
        due_at: Timestamp,
    ) -> anyhow::Result<()> {
        self.put_back(keys, reason, due_at, false).await
    }

    async fn put_back(
        &mut self,
        keys: &[&str],
        error: &str,
        due_at: Timestamp,
        count_attempt: bool,
    ) -> anyhow::Result<()> {
        for chunk in keys.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "UPDATE outbox SET state = 'pending', last_error = $1, due_at = $2,
                    lease_until = NULL, attempts = attempts - $3
                 WHERE state = 'sending' AND dedup_key IN ({})",
                placeholders(4, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(error)
                .bind(secs(due_at))
                .bind(i64::from(!count_attempt));
            for id in chunk {
                query = query.bind(*id);
            }
            let _turn = self.store.write_gate().await;
            query.execute(&mut *self.conn).await?;
        }
        Ok(())
    }
}

/// The reminder a claimed invitation queues once it is done with: its wave, the job, and when
/// it is due (Unix seconds). None for any other job, and for an invitation without one.
fn reminder_of(job: &Job) -> Option<(&str, Job, i64)> {
    let Job::Invite {
        wave_id,
        person_id,
        remind_at: Some(remind_at),
    } = job
    else {
        return None;
    };
    let reminder = Job::Remind {
        wave_id: wave_id.clone(),
        person_id: person_id.clone(),
    };
    Some((wave_id, reminder, *remind_at))
}
