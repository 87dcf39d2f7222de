//! Group commit for submissions: one task owns the connection that writes ballots, and commits
//! every submission waiting at that moment in one transaction.
//!
//! Why: with one transaction per answer, pooled SQLite connections raced for the write lock
//! (the losers slept in SQLite's busy handler for up to 100 ms) and every answer paid its own
//! fsync. Here answers queue in memory, in order, without sleeping; a batch costs the same
//! handful of statements and one fsync whether it holds 1 answer or 200; and each handler is
//! answered only after its batch has committed, so nothing acknowledged can be lost.
//!
//! Privacy: the batch is shuffled before it is written, so the order of tokens and ballots in
//! the file (and in the WAL) says nothing about who answered first; tokens and ballots go in
//! separate multi-row statements, so no row position pairs a token with its ballot.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use jiff::Timestamp;
use rand::seq::SliceRandom;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::{Backend, IN_LIST_CHUNK, new_id, secs};
use crate::privacy::token::WindowKey;
use crate::survey::{Ballot, Comment, FollowThrough, Question};

use super::submissions::SubmissionError;

/// The most submissions one transaction takes. Bounded so that every `IN (…)` list stays one
/// statement and a batch never holds the write lock for long.
pub const MAX_BATCH: usize = 256;
const _: () = assert!(MAX_BATCH <= IN_LIST_CHUNK);

/// The statements of a batch have as many rows as it has submissions, so each size is another
/// statement. Those of batches up to this size are kept prepared in the connection's statement
/// cache (sqlx keeps 100 per connection): three shapes per size on SQLite (the read, the
/// tokens, the answers with the commit), so at most 96, and a light load, where batches are
/// small, parses no SQL at all. Larger batches come with a heavy load, in many sizes, and are
/// prepared each time. Answer benchmark, three runs each, alternated: p50 at 4 connections
/// 1.21 to 1.43 ms against 1.37 to 1.54 ms with nothing cached; throughput within the noise.
const CACHED_UP_TO: usize = 32;

fn cached(rows: usize) -> bool {
    rows <= CACHED_UP_TO
}

/// Submissions waiting for the writer. Beyond this, handlers wait to queue (back-pressure)
/// rather than the process growing without bound.
const QUEUE: usize = 4 * MAX_BATCH;

/// One checked submission, ready to be written.
#[derive(Debug, Clone)]
pub struct Submission {
    pub wave_id: String,
    pub person_id: String,
    pub ballot: Ballot,
    pub comment: Option<Comment>,
    /// When it arrived: a wave past its closing time refuses it.
    pub at: Timestamp,
}

/// Submissions to write in one transaction, and where to send each one's outcome (in order).
struct Pending {
    submissions: Vec<Submission>,
    reply: oneshot::Sender<Vec<Result<(), SubmissionError>>>,
}

enum Message {
    Write(Pending),
    /// Stop: the writer gives its connection back and ends (at shutdown).
    Close(oneshot::Sender<()>),
}

/// The handle the store keeps: queues submissions and waits for their batch to commit.
#[derive(Clone)]
pub(super) struct SubmissionQueue {
    tx: mpsc::Sender<Message>,
}

fn stopped() -> SubmissionError {
    SubmissionError::Internal(anyhow::anyhow!("the submission writer stopped"))
}

impl SubmissionQueue {
    /// Starts the writer task on `pool` (which should hold one connection). With
    /// `keep_connection`, the writer keeps its connection between batches (see [`run`]); not
    /// for an in-memory database, whose one connection the rest of the store shares.
    pub(super) fn start(
        pool: AnyPool,
        backend: Backend,
        gate: Option<Gate>,
        keep_connection: bool,
    ) -> SubmissionQueue {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            pool,
            backend,
            gate,
            keep_connection,
            conn: None,
        };
        tokio::spawn(run(writer, rx));
        SubmissionQueue { tx }
    }

    pub(super) async fn submit(&self, submission: Submission) -> Result<(), SubmissionError> {
        self.submit_all(vec![submission])
            .await
            .pop()
            .unwrap_or_else(|| Err(stopped()))
    }

    /// Writes `submissions` (at most [`MAX_BATCH`]) in one transaction, with whatever else is
    /// waiting; each outcome, in the order given.
    pub(super) async fn submit_all(
        &self,
        submissions: Vec<Submission>,
    ) -> Vec<Result<(), SubmissionError>> {
        assert!(submissions.len() <= MAX_BATCH, "at most MAX_BATCH at once");
        let n = submissions.len();
        let (reply, answer) = oneshot::channel();
        let pending = Pending { submissions, reply };
        if self.tx.send(Message::Write(pending)).await.is_err() {
            return (0..n).map(|_| Err(stopped())).collect();
        }
        answer
            .await
            .unwrap_or_else(|_| (0..n).map(|_| Err(stopped())).collect())
    }

    /// Stops the writer once what is queued before this is written, and gives its connection
    /// back to the pool (which can then close).
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

use super::Gate;

/// The writer's state: its connection, kept between batches. Checking a connection out of the
/// pool for each batch cost a hand-off to the task that returns the last one (about 150 µs a
/// batch at light load, measured with the answer benchmark at 4 connections).
struct Writer {
    pool: AnyPool,
    backend: Backend,
    gate: Option<Gate>,
    keep_connection: bool,
    conn: Option<PoolConnection<Any>>,
}

async fn run(mut writer: Writer, mut rx: mpsc::Receiver<Message>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    // `recv_many` waits for the first message, then takes every one already queued: while
    // a batch commits, the next one gathers.
    while rx.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let mut batch: Vec<Pending> = Vec::new();
        let mut size = 0;
        for message in waiting.drain(..) {
            match message {
                Message::Write(pending) => {
                    // Each transaction takes at most MAX_BATCH submissions; a message is
                    // never split (its submissions were asked for in one transaction).
                    if size + pending.submissions.len() > MAX_BATCH {
                        writer.write(std::mem::take(&mut batch)).await;
                        size = 0;
                    }
                    size += pending.submissions.len();
                    batch.push(pending);
                }
                Message::Close(done) => {
                    writer.write(std::mem::take(&mut batch)).await;
                    writer.conn = None;
                    let _ = done.send(());
                    return;
                }
            }
        }
        writer.write(batch).await;
    }
}

impl Writer {
    /// Writes every submission of `batch` in one transaction and answers each sender.
    async fn write(&mut self, batch: Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        let mut submissions = Vec::new();
        let mut replies = Vec::new();
        for pending in batch {
            replies.push((pending.reply, pending.submissions.len()));
            submissions.extend(pending.submissions);
        }
        let mut outcomes = self.write_batch(submissions).await.into_iter();
        for (reply, n) in replies {
            // A handler that has gone (its client hung up) finds the answer recorded if it
            // tries again: "already answered".
            let _ = reply.send(outcomes.by_ref().take(n).collect());
        }
    }

    /// Writes `batch` in one transaction and returns each submission's outcome, in the order
    /// given. If the transaction fails, no submission of it is recorded and each is told so.
    async fn write_batch(&mut self, batch: Vec<Submission>) -> Vec<Result<(), SubmissionError>> {
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.shuffle(&mut rand::rng());
        let shuffled: Vec<&Submission> = order.iter().map(|&i| &batch[i]).collect();
        let _turn = super::take_turn(self.gate.as_ref()).await;
        let backend = self.backend;
        let written = match self.connection().await {
            Ok(conn) => {
                let written = match backend {
                    Backend::Sqlite => write_on_sqlite(conn, &shuffled).await,
                    Backend::Postgres => write_on_postgres(conn, &shuffled).await,
                };
                if written.is_err() {
                    // Whatever the failure left on the connection (on SQLite, the open
                    // transaction) goes with it: it is closed, and the next batch opens another.
                    if let Some(mut conn) = self.conn.take() {
                        conn.close_on_drop();
                    }
                }
                written
            }
            Err(e) => Err(e),
        };
        if !self.keep_connection {
            self.conn = None;
        }
        match written {
            Ok(refusals) => {
                let mut outcomes: Vec<Result<(), SubmissionError>> =
                    (0..batch.len()).map(|_| Ok(())).collect();
                for (&i, refusal) in order.iter().zip(refusals) {
                    if let Some(refusal) = refusal {
                        outcomes[i] = Err(refusal);
                    }
                }
                outcomes
            }
            Err(e) => {
                // The kind only, and not how many were in the batch: a count of answers in
                // flight, with its timestamp, would tell a log reader when people were answering.
                let kind = crate::telemetry::error_kind(&e);
                tracing::error!(error = %kind, "a batch of submissions could not be committed; none was recorded");
                (0..batch.len())
                    .map(|_| {
                        Err(SubmissionError::Internal(anyhow::anyhow!(
                            "the batch could not be committed"
                        )))
                    })
                    .collect()
            }
        }
    }

    async fn connection(&mut self) -> anyhow::Result<&mut AnyConnection> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }
}

/// SQLite: the batch in three calls to the connection's thread, where one per statement took
/// six, each a hand-off between threads (about 100 µs apiece at light load). The transaction
/// is begun and committed by statements within those calls; if any fails, the caller closes
/// the connection, which rolls it back. Safe because this connection is SQLite's one writer
/// while the transaction is open (`BEGIN IMMEDIATE`).
async fn write_on_sqlite(
    conn: &mut AnyConnection,
    batch: &[&Submission],
) -> anyhow::Result<Vec<Option<SubmissionError>>> {
    let backend = Backend::Sqlite;
    // The transaction begins in the same call as the first read.
    let facts = batch_facts(conn, backend, "BEGIN IMMEDIATE;", batch).await?;
    let plan = plan_batch(batch, &facts);
    if plan.tokens.is_empty() {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        return Ok(plan.refusals);
    }
    let inserted = insert_tokens(conn, backend, batch, &facts.waves, &plan.tokens).await?;
    let (recorded, refusals) = plan.settle(batch, &inserted);
    // The script's shape depends on the number of ballots only (the comments statement skips
    // the rows without one), so it is one cached statement per size.
    let sql = if recorded.is_empty() {
        "COMMIT".to_owned()
    } else {
        let n = recorded.len();
        format!(
            "{}; {}; COMMIT",
            ballots_sql(backend, n),
            comments_sql(backend, n)
        )
    };
    let query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached(recorded.len()));
    let query = bind_ballots(query, batch, &facts.waves, &recorded);
    bind_comments(query, batch, &recorded)
        .execute(&mut *conn)
        .await
        .context("could not record the ballots and comments")?;
    Ok(refusals)
}

/// PostgreSQL: a transaction of one statement at a time (its extended protocol takes one
/// statement per call). Tokens go first: on PostgreSQL, writers of other replicas run at the
/// same time, and a ballot is written only for a token this transaction inserted.
async fn write_on_postgres(
    conn: &mut AnyConnection,
    batch: &[&Submission],
) -> anyhow::Result<Vec<Option<SubmissionError>>> {
    let backend = Backend::Postgres;
    let mut tx = conn.begin().await?;
    let facts = batch_facts(&mut tx, backend, "", batch).await?;
    let plan = plan_batch(batch, &facts);
    if plan.tokens.is_empty() {
        tx.commit().await?;
        return Ok(plan.refusals);
    }
    let inserted = insert_tokens(&mut tx, backend, batch, &facts.waves, &plan.tokens).await?;
    let (recorded, refusals) = plan.settle(batch, &inserted);
    let n = recorded.len();
    if n > 0 {
        let query = sqlx::query(sqlx::AssertSqlSafe(ballots_sql(backend, n))).persistent(cached(n));
        bind_ballots(query, batch, &facts.waves, &recorded)
            .execute(&mut *tx)
            .await
            .context("could not record the ballots")?;
    }
    if recorded.iter().any(|&i| batch[i].comment.is_some()) {
        let query =
            sqlx::query(sqlx::AssertSqlSafe(comments_sql(backend, n))).persistent(cached(n));
        bind_comments(query, batch, &recorded)
            .execute(&mut *tx)
            .await
            .context("could not record the comments")?;
    }
    tx.commit().await?;
    Ok(refusals)
}

/// What a wave says about a submission to it.
struct WaveFacts {
    open: bool,
    window_id: String,
    closes_at: i64,
    key: Option<WindowKey>,
    /// Whether the pulse asked the follow-through item (an answer to it is kept only then).
    asks_follow_through: bool,
}

/// What the batch's reads say: its waves, and which of its (wave, person) pairs are invitations.
struct Facts<'b> {
    waves: HashMap<String, WaveFacts>,
    invited: HashSet<(&'b str, &'b str)>,
}

/// Who in the batch may answer: a refusal or `None` per submission (in the order of the
/// batch), and the token of each that may, to be inserted. A refusal writes nothing.
struct Plan {
    refusals: Vec<Option<SubmissionError>>,
    /// (index in batch, token) of each submission still to be written.
    tokens: Vec<(usize, Vec<u8>)>,
}

fn plan_batch(batch: &[&Submission], facts: &Facts) -> Plan {
    let mut refusals: Vec<Option<SubmissionError>> = (0..batch.len()).map(|_| None).collect();
    let mut tokens: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut seen: HashSet<(&str, Vec<u8>)> = HashSet::new();
    for (i, s) in batch.iter().enumerate() {
        refusals[i] = match facts.waves.get(s.wave_id.as_str()) {
            None => Some(SubmissionError::UnknownWave),
            // Late answers are refused even before the scheduler gets round to closing it.
            Some(w) if !w.open || secs(s.at) >= w.closes_at || w.key.is_none() => {
                Some(SubmissionError::WaveClosed)
            }
            Some(_)
                if !facts
                    .invited
                    .contains(&(s.wave_id.as_str(), s.person_id.as_str())) =>
            {
                Some(SubmissionError::NotInvited)
            }
            Some(w) => {
                let key = w.key.as_ref().expect("checked above");
                let token = key.token_for(&s.person_id).as_bytes().to_vec();
                // Two submissions of one person in one batch: the first (in shuffled order)
                // counts, the second is what it would be a moment later.
                if seen.insert((s.wave_id.as_str(), token.clone())) {
                    tokens.push((i, token));
                    None
                } else {
                    Some(SubmissionError::AlreadyAnswered)
                }
            }
        };
    }
    Plan { refusals, tokens }
}

impl Plan {
    /// Given the (wave, token) pairs the insert added: the submissions to record (indexes in
    /// the batch), and every submission's outcome. A token already there means answered.
    fn settle(
        self,
        batch: &[&Submission],
        inserted: &HashSet<(String, Vec<u8>)>,
    ) -> (Vec<usize>, Vec<Option<SubmissionError>>) {
        let mut refusals = self.refusals;
        let mut recorded: Vec<usize> = Vec::with_capacity(self.tokens.len());
        for (i, token) in self.tokens {
            if inserted.contains(&(batch[i].wave_id.clone(), token)) {
                recorded.push(i);
            } else {
                refusals[i] = Some(SubmissionError::AlreadyAnswered);
            }
        }
        (recorded, refusals)
    }
}

/// What the waves of the batch say about it, and which of its (wave, person) pairs are
/// invitations: one statement, so one round trip to the connection, for both. `before` is
/// SQL run first in the same call (SQLite's `BEGIN IMMEDIATE;`).
async fn batch_facts<'b>(
    conn: &mut AnyConnection,
    backend: Backend,
    before: &str,
    batch: &[&'b Submission],
) -> anyhow::Result<Facts<'b>> {
    let mut pairs: Vec<(&str, &str)> = batch
        .iter()
        .map(|s| (s.wave_id.as_str(), s.person_id.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    // On PostgreSQL the wave rows are share-locked until this commits: a close waits for the
    // batch in flight, and a batch after a close sees it closed. So no ballot or token can
    // arrive in a window being released. (SQLite's write lock, taken by `BEGIN IMMEDIATE`,
    // already serialises the two.)
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR SHARE OF w",
    };
    // Each pair looked up as a pair, on the primary keys. `wave_id IN (…) AND person_id IN (…)`
    // probed the index for every wave of the batch times every person (a few thousand probes
    // for a batch of 64); and SQLite scans the whole table for `(wave_id, person_id) IN
    // (VALUES …)`. A wave that does not exist gives no row.
    let sql = format!(
        "{before} SELECT v.column1, v.column2, i.person_id,
                w.state, w.window_id, w.closes_at, k.hmac_key, w.follow_through_since
         FROM (VALUES {}) AS v
         JOIN waves w ON w.wave_id = v.column1
         LEFT JOIN window_keys k ON k.window_id = w.window_id
         LEFT JOIN wave_invitees i ON i.wave_id = v.column1 AND i.person_id = v.column2
         {lock}",
        backend.value_rows(pairs.len(), 2)
    );
    type Row = (
        String,
        String,
        Option<String>,
        String,
        String,
        i64,
        Option<Vec<u8>>,
        Option<String>,
    );
    let mut query =
        sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).persistent(cached(pairs.len()));
    for (wave_id, person_id) in &pairs {
        query = query.bind(*wave_id).bind(*person_id);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context("could not read the waves and invitations")?;
    let mut waves = HashMap::new();
    let mut found = HashSet::new();
    for (wave_id, person_id, invitee, state, window_id, closes_at, key, since) in rows {
        if invitee.is_some() {
            found.insert((wave_id.clone(), person_id));
        }
        waves.entry(wave_id).or_insert_with(|| WaveFacts {
            open: state == "open",
            window_id,
            closes_at,
            key: key.as_deref().and_then(WindowKey::from_bytes),
            asks_follow_through: since.is_some(),
        });
    }
    let invited = pairs
        .into_iter()
        .filter(|(w, p)| found.contains(&((*w).to_owned(), (*p).to_owned())))
        .collect();
    Ok(Facts { waves, invited })
}

/// Inserts the participation tokens; returns the (wave, token) pairs that were new.
async fn insert_tokens(
    tx: &mut AnyConnection,
    backend: Backend,
    batch: &[&Submission],
    waves: &HashMap<String, WaveFacts>,
    tokens: &[(usize, Vec<u8>)],
) -> anyhow::Result<HashSet<(String, Vec<u8>)>> {
    let sql = format!(
        "INSERT INTO participation (wave_id, window_id, token) VALUES {}
         ON CONFLICT (wave_id, token) DO NOTHING RETURNING wave_id, token",
        backend.value_rows(tokens.len(), 3)
    );
    let mut query = sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql))
        .persistent(cached(tokens.len()));
    for (i, token) in tokens {
        let wave_id = batch[*i].wave_id.as_str();
        query = query
            .bind(wave_id)
            .bind(waves[wave_id].window_id.as_str())
            .bind(token.clone());
    }
    Ok(query
        .fetch_all(&mut *tx)
        .await
        .context("could not record participation")?
        .into_iter()
        .collect())
}

/// The ballots of `rows` recorded submissions, bound by [`bind_ballots`]: random ids, the
/// wave, the answers; no person, no time.
fn ballots_sql(backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO ballots (ballot_id, wave_id, {}, follow_through) VALUES {}",
        Question::columns(""),
        backend.value_rows(rows, 3 + Question::COUNT)
    )
}

fn bind_ballots<'q>(
    mut query: AnyQuery<'q>,
    batch: &[&'q Submission],
    waves: &HashMap<String, WaveFacts>,
    recorded: &[usize],
) -> AnyQuery<'q> {
    for &i in recorded {
        let s = batch[i];
        query = query.bind(new_id()).bind(s.wave_id.as_str());
        for value in s.ballot.values() {
            query = query.bind(value);
        }
        // An answer to an item the pulse did not ask is not kept.
        let asked = waves
            .get(s.wave_id.as_str())
            .is_some_and(|w| w.asks_follow_through);
        let follow_through = s.ballot.follow_through().filter(|_| asked);
        query = query.bind(follow_through.map(FollowThrough::value));
    }
    query
}

/// The comments of `rows` recorded submissions, bound by [`bind_comments`] (one row for each,
/// with or without a comment): random ids, the wave, the text. A row without one is skipped.
fn comments_sql(backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO comments (comment_id, wave_id, body)
         SELECT v.column1, v.column2, v.column3 FROM (VALUES {}) AS v WHERE v.column3 IS NOT NULL",
        backend.value_rows(rows, 3)
    )
}

fn bind_comments<'q>(
    mut query: AnyQuery<'q>,
    batch: &[&'q Submission],
    recorded: &[usize],
) -> AnyQuery<'q> {
    for &i in recorded {
        let s = batch[i];
        let body = s.comment.as_ref().map(Comment::as_str);
        query = query.bind(new_id()).bind(s.wave_id.as_str()).bind(body);
    }
    query
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;
