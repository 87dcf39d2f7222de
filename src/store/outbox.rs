//! The outbox: work for Slack, written in the same transaction as the change that causes it, and
//! delivered by the worker. Each row is claimed with a lease, sent, and marked right after its
//! own Slack call, so a crash repeats at most the one call that was in flight.
//!
//! A job never carries an answer or a comment: see [`Job`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::AnyExecutor;

use super::WriteInTurn;
use super::script::{Script, Value};
use super::{Backend, Store, from_secs, new_id, new_ordered_id, secs};

/// One piece of work for Slack. Ids only: nothing a seller answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// DM the invitation of a wave to one invitee.
    Invite {
        wave_id: String,
        person_id: String,
        /// When its reminder is due (Unix seconds), queued once the invitation is done with
        /// (`OutboxRound::mark_sent`); None: no reminder. Invitations queued before this
        /// field existed have none: their reminders were queued with them. (During a rolling
        /// upgrade on PostgreSQL, a replica of an earlier version that sends an invitation
        /// ignores the field and queues no reminder for it; `trustpulse audit` then shows that
        /// pulse's reminders reaching only some invitees, and *Remind now* evens them out.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remind_at: Option<i64>,
    },
    /// DM the one reminder of a wave to an invitee: to every invitee alike, answered or not.
    Remind { wave_id: String, person_id: String },
    /// Update one invitation or reminder of a wave that closed: every message of the wave gets
    /// the same update, so none tells who answered.
    CloseMessage {
        wave_id: String,
        channel: String,
        ts: String,
    },
    /// Refresh a person's App Home.
    PublishHome { person_id: String },
    /// A manager's weekly digest, for the week of `week` (the digest's local date).
    Digest { manager_id: String, week: String },
    /// The trend chart that follows a digest into the manager's direct message (queued once
    /// the digest is sent, so it never arrives first).
    Chart { manager_id: String, week: String },
    /// Tell one seller what their manager committed to (or, `done`, that they did it): the
    /// manager's own words, to every current seller of the team alike.
    TeamNote {
        commitment_id: String,
        person_id: String,
        done: bool,
    },
}

/// The kind of [`Job::PublishHome`] as stored, for the statements that leave no such row.
pub(super) const PUBLISH_HOME: &str = "publish_home";

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Invite { .. } => "invite",
            Job::Remind { .. } => "remind",
            Job::CloseMessage { .. } => "close_message",
            Job::PublishHome { .. } => PUBLISH_HOME,
            Job::Digest { .. } => "digest",
            Job::Chart { .. } => "chart",
            Job::TeamNote { .. } => "team_note",
        }
    }

    /// The key that makes queueing idempotent: one invitation and one reminder per invitee and
    /// wave, whoever queues them and however often.
    pub fn dedup_key(&self) -> String {
        match self {
            Job::Invite {
                wave_id, person_id, ..
            } => format!("invite:{wave_id}:{person_id}"),
            Job::Remind { wave_id, person_id } => format!("remind:{wave_id}:{person_id}"),
            Job::CloseMessage {
                wave_id,
                channel,
                ts,
            } => format!("closed:{wave_id}:{channel}:{ts}"),
            Job::PublishHome { person_id } => format!("home:{person_id}:{}", new_id()),
            Job::Digest { manager_id, week } => format!("digest:{manager_id}:{week}"),
            Job::Chart { manager_id, week } => format!("chart:{manager_id}:{week}"),
            Job::TeamNote {
                commitment_id,
                person_id,
                done,
            } => {
                let what = if *done { "done" } else { "shared" };
                format!("note:{commitment_id}:{what}:{person_id}")
            }
        }
    }

    /// Whether the job's row goes as soon as the job is done, and its sending is not counted in
    /// `/metrics`. A person's Home view is published because that person has just opened Home
    /// or pressed one of its buttons: a row left behind (which names them) or a count that
    /// moves would say when they were using the app, and while a pulse is open that is a step
    /// on the way to answering, as opening the app's DM is. Nothing needs the row once done.
    pub fn is_forgotten_when_done(&self) -> bool {
        matches!(self, Job::PublishHome { .. })
    }

    /// The wave of a per-person job: its row is deleted once the wave's window is released.
    pub fn wave_id(&self) -> Option<&str> {
        match self {
            Job::Invite { wave_id, .. }
            | Job::Remind { wave_id, .. }
            | Job::CloseMessage { wave_id, .. } => Some(wave_id),
            Job::PublishHome { .. }
            | Job::Digest { .. }
            | Job::Chart { .. }
            | Job::TeamNote { .. } => None,
        }
    }
}

/// A claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The row's name in logs: random, it says nothing about whom the job is for.
    pub job_id: String,
    /// The row's key (its [`Job::dedup_key`]), by which the worker marks it. Never logged: the
    /// key of a per-person job names the person.
    pub key: String,
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

/// A job's name in logs, and its place in line: the time it was queued, strictly increasing
/// within this process, then random bits (see `new_ordered_id`). Jobs due at the same moment
/// go in the order they were queued, even when queued at the same `now` (a pulse's "closed"
/// updates, then the next pulse's invitations, in one tick). Rows are keyed by their
/// de-duplication key, not by this.
pub(super) fn new_job_id(now: Timestamp) -> String {
    new_ordered_id(now)
}

/// The team every job is sent to: the installed workspace (none yet: empty, and nothing is sent
/// until one is installed). Read inside each insert, so no caller passes or looks it up.
const INSTALLED_TEAM: &str =
    "COALESCE((SELECT team_id FROM installations ORDER BY updated_at DESC LIMIT 1), '')";

/// Queues `job` due at `due_at`, or, if it is already queued and still pending for later,
/// makes it due at `due_at`. Returns whether a row was added or brought forward.
pub(super) async fn enqueue_or_bring_forward<'e>(
    ex: impl AnyExecutor<'e>,
    job: &Job,
    due_at: Timestamp,
    now: Timestamp,
) -> anyhow::Result<bool> {
    let bring_forward = "DO UPDATE SET due_at = excluded.due_at WHERE outbox.state = 'pending' AND outbox.due_at > excluded.due_at";
    insert_job(ex, job, due_at, now, bring_forward).await
}

async fn insert_job<'e>(
    ex: impl AnyExecutor<'e>,
    job: &Job,
    due_at: Timestamp,
    now: Timestamp,
    on_conflict: &'static str,
) -> anyhow::Result<bool> {
    let sql = format!(
        "INSERT INTO outbox (job_id, team_id, kind, dedup_key, payload, state, due_at, created_at, wave_id)
         VALUES ($1, {INSTALLED_TEAM}, $2, $3, $4, 'pending', $5, $6, $7)
         ON CONFLICT (dedup_key) {on_conflict}"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(new_job_id(now))
        .bind(job.kind())
        .bind(job.dedup_key())
        .bind(serde_json::to_string(job)?)
        .bind(secs(due_at))
        .bind(secs(now))
        .bind(job.wave_id())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Rows per multi-row `INSERT` of [`push_jobs`]: 9 parameters each, far under every
/// backend's limit.
const ENQUEUE_CHUNK: usize = 100;

/// Queues many jobs, each unless already queued, with one statement per hundred rather than
/// one each: a wave's invitations and reminders for a large team go in a few statements.
pub(super) async fn enqueue_many(
    conn: &mut sqlx::AnyConnection,
    jobs: &[(Job, Timestamp)],
    now: Timestamp,
) -> anyhow::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let team_id = installed_team(conn, jobs).await?;
    let mut script = Script::new(Backend::of(conn));
    push_jobs(&mut script, &team_id, jobs, Queued::Maybe, now)?;
    script.run(conn).await
}

/// The workspace `jobs` are queued for (see [`INSTALLED_TEAM`]), read once for the
/// statements of [`push_jobs`]; not read when there are no jobs.
pub(super) async fn installed_team(
    conn: &mut sqlx::AnyConnection,
    jobs: &[(Job, Timestamp)],
) -> anyhow::Result<String> {
    if jobs.is_empty() {
        return Ok(String::new());
    }
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {INSTALLED_TEAM}")))
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Whether jobs being queued may be queued already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queued {
    /// They may be (a retried close, a reminder asked for twice): each is added unless its
    /// key is queued.
    Maybe,
    /// They cannot be: their keys name a wave written in the same transaction. PostgreSQL
    /// then skips the check of each row against the key's index before inserting it, a
    /// quarter of the cost of queuing 200,000 jobs (1.27 s against 0.96 s in `psql`). Should
    /// one be queued after all, the statement fails, and the transaction with it.
    Never,
}

/// Adds to `script` the statements that queue `jobs` for `team_id`, a hundred to a
/// statement.
pub(super) fn push_jobs<'a>(
    script: &mut Script<'a>,
    team_id: &'a str,
    jobs: &'a [(Job, Timestamp)],
    queued: Queued,
    now: Timestamp,
) -> anyhow::Result<()> {
    let backend = script.backend();
    let unless_queued = match queued {
        Queued::Maybe => " ON CONFLICT (dedup_key) DO NOTHING",
        Queued::Never => "",
    };
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        let sql = format!(
            "INSERT INTO outbox (job_id, team_id, kind, dedup_key, payload, state, due_at, created_at, wave_id)
             VALUES {}{unless_queued}",
            backend.value_rows(chunk.len(), 9)
        );
        let mut values = Vec::with_capacity(chunk.len() * 9);
        for (job, due_at) in chunk {
            values.extend([
                Value::Owned(new_job_id(now)),
                Value::Text(team_id),
                Value::Text(job.kind()),
                Value::Owned(job.dedup_key()),
                Value::Owned(serde_json::to_string(job)?),
                Value::Text("pending"),
                Value::Int(secs(*due_at)),
                Value::Int(secs(now)),
                Value::OptText(job.wave_id()),
            ]);
        }
        script.push_cached(sql, values);
    }
    Ok(())
}

/// Whether any job is due at `$1` (the worker's check on every wake-up).
pub(super) const HAS_DUE_WORK: &str = "SELECT dedup_key FROM outbox
     WHERE (state = 'pending' AND due_at <= $1) OR (state = 'sending' AND lease_until <= $1) LIMIT 1";

/// When the next pending job is due (how long the worker sleeps).
pub(super) const NEXT_DUE: &str = "SELECT MIN(due_at) FROM outbox WHERE state = 'pending'";

impl Store {
    /// Queues `job` for the installed workspace, due at `due_at`, unless the same job is
    /// already queued. Returns whether a row was added.
    pub async fn enqueue(
        &self,
        job: &Job,
        due_at: Timestamp,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        let mut tx = self.begin_write().await?;
        let added = insert_job(&mut *tx, job, due_at, now, "DO NOTHING").await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Whether anything is due at `now` (a cheap read, so an idle worker takes no write lock).
    pub async fn has_due_work(&self, now: Timestamp) -> anyhow::Result<bool> {
        let found: Option<String> = sqlx::query_scalar(HAS_DUE_WORK)
            .bind(secs(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Cancels every row not yet sent (after an uninstall). Returns how many. A Home view not
    /// yet published goes instead of staying as a cancelled row that names its person
    /// ([`Job::is_forgotten_when_done`]).
    pub async fn cancel_pending(&self, now: Timestamp) -> anyhow::Result<u64> {
        let forgotten =
            sqlx::query("DELETE FROM outbox WHERE kind = $1 AND state IN ('pending', 'sending')")
                .bind(PUBLISH_HOME)
                .write_in_turn(self, &self.pool)
                .await?;
        let done = sqlx::query(
            "UPDATE outbox SET state = 'cancelled', done_at = $1, lease_until = NULL
             WHERE state IN ('pending', 'sending')",
        )
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(forgotten.rows_affected() + done.rows_affected())
    }

    /// Deletes finished Home publishes that another process kept ([`Job::is_forgotten_when_done`]):
    /// a replica of an earlier version, during a rolling upgrade. Part of `serve`'s daily turn.
    /// Returns how many.
    ///
    /// No index leads to such rows, so finding them reads the whole outbox (hundreds of
    /// thousands of rows in a large org). That read is made first, outside the write gate, and
    /// the gate is taken only when there is something to delete (almost never): at start-up and
    /// once a day, the scan would otherwise hold up every answer behind it.
    pub async fn forget_finished_home_publishes(&self) -> anyhow::Result<u64> {
        const FINISHED: &str = "kind = $1 AND state NOT IN ('pending', 'sending')";
        let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT dedup_key FROM outbox WHERE {FINISHED} LIMIT 1"
        )))
        .bind(PUBLISH_HOME)
        .fetch_optional(&self.pool)
        .await?;
        if found.is_none() {
            return Ok(0);
        }
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM outbox WHERE {FINISHED}"
        )))
        .bind(PUBLISH_HOME)
        .write_in_turn(self, &self.pool)
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

    /// When `person`'s invitation to `wave_id` is due, while it waits to be sent (None once it
    /// has gone, or if they were not invited). Only ever read for `person`'s own Home and
    /// `/pulse status`: when their invitation comes says nothing about anyone's answer.
    pub async fn pending_invitation_due(
        &self,
        wave_id: &str,
        person: &str,
    ) -> anyhow::Result<Option<Timestamp>> {
        let job = Job::Invite {
            wave_id: wave_id.to_owned(),
            person_id: person.to_owned(),
            remind_at: None,
        };
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT due_at FROM outbox WHERE dedup_key = $1 AND state = 'pending'",
        )
        .bind(job.dedup_key())
        .fetch_optional(&self.pool)
        .await?;
        Ok(at.map(from_secs))
    }

    /// When the next pending row is due, so the worker can sleep until then.
    pub async fn next_due(&self) -> anyhow::Result<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(NEXT_DUE).fetch_one(&self.pool).await?;
        Ok(at.map(from_secs))
    }
}
