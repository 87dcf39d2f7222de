//! Group commit for submissions: one writer owns the connection that writes ballots, and
//! commits every submission waiting at that moment in one transaction.
//!
//! Why: with one transaction per answer, pooled SQLite connections raced for the write lock
//! (the losers slept in SQLite's busy handler for up to 100 ms) and every answer paid its own
//! fsync. Here answers queue in memory, in order, without sleeping; a batch costs the same
//! handful of statements and one fsync whether it holds 1 answer or 200; and each handler is
//! answered only after its batch has committed, so nothing acknowledged can be lost.
//!
//! Two writers share this queue and the batch's statements (`submission_batch.rs`): on a
//! SQLite file, a thread of its own with its own connection (`sqlite_writer/`); on
//! PostgreSQL (and an in-memory SQLite database, whose one connection the store shares),
//! tasks on sqlx's pool, here. On PostgreSQL two batches are in flight at once, each on a
//! connection of its own ([`POSTGRES_WRITERS`]), and a third connection moves open pulses'
//! answers beside them (`answer_shuffle.rs`).
//!
//! Privacy: the batch is shuffled before it is written, so the order of tokens and ballots in
//! the file (and in the WAL) says nothing about who answered first.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use jiff::Timestamp;
use rand::seq::SliceRandom;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinSet};

use super::answer_shuffle::Unshuffled;
use super::open_waves::OpenWaves;
use super::script::bind;
use super::submission_batch::{self as sql, cached};
use super::{Backend, Gate, IN_LIST_CHUNK};
use crate::privacy::token::TokenSecrets;
use crate::survey::{Ballot, Comment};

use super::submissions::SubmissionError;

/// The most submissions one transaction takes. Bounded so that every `IN (…)` list stays one
/// statement and a batch never holds the write lock for long.
pub const MAX_BATCH: usize = 256;
const _: () = assert!(MAX_BATCH <= IN_LIST_CHUNK);

/// On PostgreSQL, the batches written at once, each by a connection of its own. With one, the
/// writer waited for each batch's round trips and the server's commit before it gathered
/// the next, and a core stood idle under load (13% of the samples of `perf record -a` at 64
/// connections); a second connection gathers and writes the next batch meanwhile. Two
/// batches of one replica then run side by side as those of two replicas always could: the
/// waves' share locks do not conflict, and a token both insert is recorded by the first to
/// commit (the other's ballot is then not written: "already answered").
pub const POSTGRES_WRITERS: usize = 2;

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

/// Where a handler waits for the outcomes of its submissions, in order.
type Reply = oneshot::Sender<Vec<Result<(), SubmissionError>>>;

/// Submissions to write in one transaction, and where to send each one's outcome (in order).
pub(super) struct Pending {
    submissions: Vec<Submission>,
    reply: Reply,
}

pub(super) enum Message {
    Write(Pending),
    /// Stop: the writer gives its connection back and ends (at shutdown).
    Close(oneshot::Sender<()>),
}

/// Where the writer writes.
pub(super) enum Target {
    /// A SQLite database file: a thread of its own opens its own connection to it.
    SqliteFile(std::path::PathBuf),
    /// sqlx's pool, which should hold a connection for each of `writers`. With
    /// `keep_connection`, each writer keeps its connection between batches; not for an
    /// in-memory database, whose one connection the rest of the store shares (one writer).
    Pool {
        pool: AnyPool,
        backend: Backend,
        keep_connection: bool,
        writers: usize,
    },
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
    /// Starts the writer for `target`; it takes its turns at `gate` (SQLite's write gate).
    pub(super) fn start(
        target: Target,
        gate: Option<Gate>,
        secrets: Arc<TokenSecrets>,
    ) -> anyhow::Result<SubmissionQueue> {
        let (tx, rx) = mpsc::channel(QUEUE);
        match target {
            Target::SqliteFile(path) => super::sqlite_writer::start(path, gate, secrets, rx)?,
            Target::Pool {
                pool,
                backend,
                keep_connection,
                writers,
            } => {
                let spare = PoolWriter {
                    pool,
                    backend,
                    gate,
                    keep_connection,
                    secrets,
                    open_waves: OpenWaves::default(),
                    conn: None,
                    written_to: BTreeSet::new(),
                };
                let writers = Writers {
                    idle: (0..writers.max(1)).map(|_| spare.fresh()).collect(),
                    busy: JoinSet::new(),
                    to_move: Unshuffled::default(),
                    mover: Some(spare.fresh()),
                    moving: None,
                    spare,
                };
                tokio::spawn(run(writers, rx));
            }
        }
        Ok(SubmissionQueue { tx })
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

    /// Stops the writer once what is queued before this is written, and closes its connection
    /// (or gives it back to the pool, which can then close).
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// The messages taken at one moment, as transactions of at most [`MAX_BATCH`] submissions
/// each, in order (a message is never split: its submissions were asked for in one
/// transaction); and the request to stop, if one came, after them.
pub(super) fn batches(
    waiting: &mut Vec<Message>,
) -> (Vec<Vec<Pending>>, Option<oneshot::Sender<()>>) {
    let mut batches = Vec::new();
    let mut batch: Vec<Pending> = Vec::new();
    let mut size = 0;
    for message in waiting.drain(..) {
        match message {
            Message::Write(pending) => {
                if size + pending.submissions.len() > MAX_BATCH {
                    batches.push(std::mem::take(&mut batch));
                    size = 0;
                }
                size += pending.submissions.len();
                batch.push(pending);
            }
            Message::Close(done) => {
                batches.push(batch);
                return (batches, Some(done));
            }
        }
    }
    batches.push(batch);
    (batches, None)
}

/// A batch's submissions in one list, shuffled: the order in which they are written, so the
/// order of tokens and ballots in the file says nothing about who answered first. Holds
/// the list, the order it is written in, and the senders with how many outcomes each waits for.
pub(super) struct Shuffled {
    submissions: Vec<Submission>,
    /// `order[k]` is the index in `submissions` of the k-th submission written.
    order: Vec<usize>,
    replies: Vec<(Reply, usize)>,
}

impl Shuffled {
    pub(super) fn new(batch: Vec<Pending>) -> Shuffled {
        let mut submissions = Vec::new();
        let mut replies = Vec::new();
        for pending in batch {
            replies.push((pending.reply, pending.submissions.len()));
            submissions.extend(pending.submissions);
        }
        let mut order: Vec<usize> = (0..submissions.len()).collect();
        order.shuffle(&mut rand::rng());
        Shuffled {
            submissions,
            order,
            replies,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.submissions.is_empty()
    }

    /// The submissions in the order they are written.
    pub(super) fn in_order(&self) -> Vec<&Submission> {
        self.order.iter().map(|&i| &self.submissions[i]).collect()
    }

    /// Answers each sender: `written` holds a refusal or `None` per submission, in the order
    /// written; an error means that nothing of the batch was recorded.
    pub(super) fn answer(self, written: anyhow::Result<Vec<Option<SubmissionError>>>) {
        let mut outcomes: Vec<Result<(), SubmissionError>> = match written {
            Ok(refusals) => {
                let mut outcomes: Vec<Result<(), SubmissionError>> =
                    (0..self.submissions.len()).map(|_| Ok(())).collect();
                for (&i, refusal) in self.order.iter().zip(refusals) {
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
                (0..self.submissions.len())
                    .map(|_| {
                        Err(SubmissionError::Internal(anyhow::anyhow!(
                            "the batch could not be committed"
                        )))
                    })
                    .collect()
            }
        };
        let mut outcomes = outcomes.drain(..);
        for (reply, n) in self.replies {
            // A handler that has gone (its client hung up) finds the answer recorded if it
            // tries again: "already answered".
            let _ = reply.send(outcomes.by_ref().take(n).collect());
        }
    }
}

/// A writer on sqlx's pool: its connection, kept between batches. Checking a connection out
/// of the pool for each batch cost a hand-off to the task that returns the last one (about
/// 150 µs a batch at light load, measured with the answer benchmark at 4 connections).
struct PoolWriter {
    pool: AnyPool,
    backend: Backend,
    gate: Option<Gate>,
    keep_connection: bool,
    secrets: Arc<TokenSecrets>,
    /// On PostgreSQL, the waves the store's writers have read open (`open_waves.rs`).
    open_waves: OpenWaves,
    conn: Option<PoolConnection<Any>>,
    /// On PostgreSQL, the waves this writer has written answers to since they were last
    /// shuffled (`answer_shuffle.rs`).
    written_to: BTreeSet<String>,
}

/// The writers on sqlx's pool: those free to take a batch, and those writing one (each task
/// gives its writer back when its batch is answered) or moving answers.
struct Writers {
    idle: Vec<PoolWriter>,
    busy: JoinSet<PoolWriter>,
    /// On PostgreSQL, the waves written to whose answers are not moved yet, gathered from the
    /// writers as they come back (`answer_shuffle.rs`).
    to_move: Unshuffled,
    /// The writer that moves waves' answers, with a connection of its own, while it is not
    /// moving any. The moves once took one of the batches' writers, and a move can wait as a
    /// batch can: for a scrub's rewrite of a partition its pulses are in (`disk.rs`), for a
    /// release closing one of them, for another replica's move. When a batch waited too, for
    /// the same or another reason, no writer was left, and every answer of the org waited
    /// with them. Moves run back to back after a burst and at every quiet moment, when
    /// releases and their scrubs also run; now the answers always keep both writers.
    mover: Option<PoolWriter>,
    /// The task moving waves' answers, if one is, and those waves: one move at a time.
    moving: Option<(Id, BTreeSet<String>)>,
    /// A writer like the others, with no connection: a copy takes the place of one whose task
    /// panicked, so that a bug in one batch does not stop every answer after it.
    spare: PoolWriter,
}

impl Writers {
    /// Waits until a writer is idle (at once if one is): the first to finish its batch. False
    /// if there is none (a writer whose task panicked is replaced, so only if it started with
    /// none).
    async fn ready(&mut self) -> bool {
        while self.idle.is_empty() {
            if self.reclaim().await.is_none() {
                return false;
            }
        }
        true
    }

    /// Waits for the next busy writer to finish and makes it idle; None if none is busy.
    async fn reclaim(&mut self) -> Option<()> {
        let done = self.busy.join_next_with_id().await?;
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let moved = match &self.moving {
            Some((moving, _)) if *moving == id => self.moving.take().map(|(_, waves)| waves),
            _ => None,
        };
        let was_move = moved.is_some();
        let now = Instant::now();
        let (writer, left) = match done {
            // A move's writer comes back with waves only if it could not move them.
            Ok((_, mut writer)) => {
                let written_to = std::mem::take(&mut writer.written_to);
                (writer, written_to)
            }
            // Its batch's senders were dropped with it: their handlers were told it stopped.
            // A move's waves are kept for the next one: dropped, their rows would wait for
            // the release's rewrite.
            Err(e) => {
                tracing::error!(panicked = e.is_panic(), "a submission writer stopped");
                (self.spare.fresh(), moved.unwrap_or_default())
            }
        };
        if was_move {
            self.mover = Some(writer);
            self.to_move.move_ended(left, now);
        } else {
            self.idle.push(writer);
            self.to_move.note(left, now);
        }
        Some(())
    }

    /// Waits until every batch in flight is answered.
    async fn settle(&mut self) {
        while self.reclaim().await.is_some() {}
    }

    /// Whether answers may have been written that are not yet shuffled.
    fn unshuffled(&self) -> bool {
        !self.busy.is_empty() || !self.to_move.is_empty()
    }

    /// When the next move may start of itself ([`Unshuffled::due`]). None while a move is
    /// under way (its end wakes the loop) or while no wave waits.
    fn next_move_at(&self, last_answer: Instant) -> Option<Instant> {
        match self.moving {
            Some(_) => None,
            None => self.to_move.due(last_answer),
        }
    }

    /// Starts a move on the mover, beside the batches, if one is due at `now`
    /// ([`Unshuffled::take_due`]). One move at a time, on a task of its own: the loop goes on
    /// taking answers meanwhile and the batches' writers write them, so an answer never waits
    /// for a move (after a large org's burst, moving every wave took seconds; then one
    /// transaction of them at a time still held an answer tens of milliseconds), and a move
    /// that panics ends neither the loop nor its writer.
    fn start_move(&mut self, now: Instant, last_answer: Instant) {
        // The mover is out exactly while a move runs.
        if self.mover.is_none() {
            return;
        }
        let waves = self.to_move.take_due(now, last_answer);
        if waves.is_empty() {
            return;
        }
        let mut writer = self.mover.take().expect("the mover is free");
        let moving = waves.clone();
        let task = self.busy.spawn(async move {
            writer.shuffle(waves).await;
            writer
        });
        self.moving = Some((task.id(), moving));
    }

    /// Writes `batch` on a free writer, beside the batches already in flight.
    async fn write(&mut self, batch: Shuffled) {
        if !self.ready().await {
            // No writer is left: dropping the batch tells each sender so.
            return;
        }
        let mut writer = self.idle.pop().expect("a writer is idle");
        self.busy.spawn(async move {
            writer.write(batch).await;
            writer
        });
    }

    /// Once every batch and move in flight is done, moves the answers of every wave written
    /// to since it was last moved, [`MOVE_AT_ONCE`] waves a transaction, until none is left
    /// or a move fails: at shutdown, when no answer can come to wait for it.
    ///
    /// [`MOVE_AT_ONCE`]: super::answer_shuffle::MOVE_AT_ONCE
    async fn move_all(&mut self) {
        self.settle().await;
        let Some(writer) = self.mover.as_mut() else {
            return;
        };
        while !self.to_move.is_empty() {
            writer.shuffle(self.to_move.take_oldest()).await;
            // A failure leaves the rest paired until their pulse's next answer or its release.
            if !writer.written_to.is_empty() {
                return;
            }
        }
    }
}

async fn run(mut writers: Writers, mut rx: mpsc::Receiver<Message>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    let mut last_answer = Instant::now();
    loop {
        // A writer is free before the next batch is gathered, so that what comes while every
        // writer is busy joins that batch. `recv_many` waits for the first message, then takes
        // every one already queued.
        if !writers.ready().await {
            return;
        }
        // The waves written to are moved once no answer has come for a moment, or once they
        // have waited too long (answers that never pause would never leave such a moment).
        writers.start_move(Instant::now(), last_answer);
        if !writers.ready().await {
            return;
        }
        let received = if !writers.unshuffled() {
            // Every answer is written and moved: the waves read open are forgotten, their
            // keys with them, until the next answer reads them again (`open_waves.rs`).
            writers.spare.open_waves.clear();
            rx.recv_many(&mut waiting, MAX_BATCH).await
        } else {
            // Also woken when a batch or a move ends (its waves are noted, a move's next
            // transaction may start) and when the next move is due. Each of these futures is
            // cancel-safe: `recv_many`, and `JoinSet::join_next` inside `reclaim`.
            let due = writers.next_move_at(last_answer);
            let until = tokio::time::Instant::from_std(due.unwrap_or_else(Instant::now));
            tokio::select! {
                received = rx.recv_many(&mut waiting, MAX_BATCH) => received,
                Some(()) = writers.reclaim() => continue,
                () = tokio::time::sleep_until(until), if due.is_some() => continue,
            }
        };
        if received == 0 {
            // Every sender is gone (the store dropped without closing).
            writers.move_all().await;
            return;
        }
        last_answer = Instant::now();
        let (batches, close) = batches(&mut waiting);
        for batch in batches {
            writers.write(Shuffled::new(batch)).await;
        }
        if let Some(done) = close {
            writers.move_all().await;
            for writer in writers.idle.iter_mut().chain(&mut writers.mover) {
                writer.conn = None;
            }
            let _ = done.send(());
            return;
        }
    }
}

impl PoolWriter {
    /// A writer like this one, with no connection and nothing written yet.
    fn fresh(&self) -> PoolWriter {
        PoolWriter {
            pool: self.pool.clone(),
            backend: self.backend,
            gate: self.gate.clone(),
            keep_connection: self.keep_connection,
            secrets: self.secrets.clone(),
            open_waves: self.open_waves.clone(),
            conn: None,
            written_to: BTreeSet::new(),
        }
    }

    /// Writes every submission of `batch` in one transaction and answers each sender. If the
    /// transaction fails, no submission of it is recorded and each is told so.
    async fn write(&mut self, batch: Shuffled) {
        if batch.is_empty() {
            return;
        }
        let _turn = super::take_turn(self.gate.as_ref()).await;
        let backend = self.backend;
        let secrets = self.secrets.clone();
        let open_waves = self.open_waves.clone();
        let written = match self.connection().await {
            Ok(conn) => {
                let batch = batch.in_order();
                let written = match backend {
                    Backend::Postgres => {
                        write_to_postgres(conn, &secrets, &open_waves, &batch).await
                    }
                    Backend::Sqlite => write_in_one_transaction(conn, &secrets, &batch).await,
                };
                if written.is_err() {
                    // Whatever the failure left on the connection (an open transaction) goes
                    // with it: it is closed, and the next batch opens another.
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
        if backend == Backend::Postgres && written.is_ok() {
            for submission in batch.in_order() {
                // A team's answers come to one wave: copied once, not for each answer.
                if !self.written_to.contains(&submission.wave_id) {
                    self.written_to.insert(submission.wave_id.clone());
                }
            }
        }
        batch.answer(written);
    }

    /// Shuffles the answers of `waves` in their turn at the gate (none on PostgreSQL). A
    /// failure is logged and the waves kept in `written_to`, for the next try.
    async fn shuffle(&mut self, waves: BTreeSet<String>) {
        if waves.is_empty() {
            return;
        }
        let _turn = super::take_turn(self.gate.as_ref()).await;
        let moved = match self.connection().await {
            Ok(conn) => super::answer_shuffle::shuffle_answers(conn, &waves).await,
            Err(e) => Err(e),
        };
        if let Err(e) = moved {
            if let Some(mut conn) = self.conn.take() {
                conn.close_on_drop();
            }
            let kind = crate::telemetry::error_kind(&e);
            tracing::warn!(error = %kind, "could not shuffle the answers of open pulses");
            // Kept for the next try: dropped, they would wait for the next answer to the same
            // pulse, which after a team's last answer never comes.
            self.written_to.extend(waves);
        }
        if !self.keep_connection {
            self.conn = None;
        }
    }

    async fn connection(&mut self) -> anyhow::Result<&mut AnyConnection> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }
}

/// On SQLite through sqlx, the batch's waves and invitations (`facts_sql`), read in the
/// caller's transaction.
async fn read_facts<'b>(
    conn: &mut AnyConnection,
    secrets: &TokenSecrets,
    batch: &[&'b Submission],
) -> anyhow::Result<sql::Facts<'b>> {
    let pairs = sql::pairs(batch);
    let values = sql::facts_values(&pairs);
    let query = sqlx::query_as::<_, sql::FactRow>(sqlx::AssertSqlSafe(sql::facts_sql(pairs.len())))
        .persistent(cached(pairs.len()));
    let rows = bind(query, values)
        .fetch_all(conn)
        .await
        .context("could not read the waves and invitations")?;
    Ok(sql::facts(pairs, rows, secrets))
}

/// A batch on PostgreSQL in one round trip, or two: the read of the waves no writer knows
/// open yet (`OpenWaves::facts`), on its own, and one statement that is its own transaction,
/// writing tokens, ballots and comments together (`record_sql`). It was four, `BEGIN`, the
/// read (which locked the waves), the write and `COMMIT`, each a wait for the server and a
/// wake-up on both sides (at 4 connections the tokio workers switched context about a fifth
/// less an answer with two; the median wait is the commit's sync, and did not move). With
/// the waves known, a batch under load is one round trip: 24% more answers a second and 16%
/// less CPU an answer at the medians of three alternated pairs (`open_waves.rs`). The write
/// takes the waves' locks itself and writes only to those still open, so an answer to a wave
/// closed between the read and the write is refused, as it would have been a moment later,
/// and nothing is written to a window being released.
async fn write_to_postgres(
    conn: &mut AnyConnection,
    secrets: &TokenSecrets,
    open_waves: &OpenWaves,
    batch: &[&Submission],
) -> anyhow::Result<Vec<Option<SubmissionError>>> {
    let facts = open_waves.facts(conn, secrets, batch).await?;
    let plan = sql::plan(batch, &facts);
    if plan.tokens.is_empty() {
        return Ok(plan.refusals);
    }
    let n = plan.tokens.len();
    let padded = sql::padded(n);
    let mut values = sql::record_values(batch, &facts.waves, &plan.tokens);
    values.extend(sql::null_records(padded - n));
    let query = sqlx::query_as::<_, (String, Option<Vec<u8>>)>(sqlx::AssertSqlSafe(
        sql::record_sql(padded),
    ));
    let rows = bind(query, values)
        .fetch_all(conn)
        .await
        .context("could not record participation")?;
    let mut inserted = HashSet::new();
    let mut open = HashSet::new();
    for (wave_id, token) in rows {
        match token {
            Some(token) => inserted.insert((wave_id, token)),
            None => open.insert(wave_id),
        };
    }
    // A wave written to that the write found closed is read again next time, and so no
    // longer taken for open. (A wave whose every answer was refused before the write, an
    // outsider's say, was not in it, and stays known.) A wave comes once for each of its
    // answers; forgetting it again does nothing.
    open_waves.forget(
        plan.tokens
            .iter()
            .map(|(i, _)| batch[*i].wave_id.as_str())
            .filter(|wave| !open.contains(*wave)),
    );
    Ok(plan.settle(batch, &inserted, |wave| open.contains(wave)).1)
}

/// A batch in one transaction of one statement at a time: on SQLite through sqlx, which is
/// only for an in-memory database (a file has its own writer, `sqlite_writer/`). Tokens go
/// first, and a ballot is written only for a token this transaction inserted.
async fn write_in_one_transaction(
    conn: &mut AnyConnection,
    secrets: &TokenSecrets,
    batch: &[&Submission],
) -> anyhow::Result<Vec<Option<SubmissionError>>> {
    let backend = Backend::Sqlite;
    // Not a deferred transaction that would upgrade to a writer (and could fail at once
    // with SQLITE_BUSY) when another process writes between its read and its insert.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let facts = read_facts(&mut tx, secrets, batch).await?;
    let plan = sql::plan(batch, &facts);
    if plan.tokens.is_empty() {
        tx.commit().await?;
        return Ok(plan.refusals);
    }
    let n = plan.tokens.len();
    let query =
        sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql::tokens_sql(backend, n)))
            .persistent(cached(n));
    let inserted = bind(query, sql::token_values(batch, &facts.waves, &plan.tokens))
        .fetch_all(&mut *tx)
        .await
        .context("could not record participation")?
        .into_iter()
        .collect();
    let (recorded, refusals) = plan.settle(batch, &inserted, |_| true);
    let n = recorded.len();
    if n > 0 {
        let query =
            sqlx::query(sqlx::AssertSqlSafe(sql::ballots_sql(backend, n))).persistent(cached(n));
        bind(query, sql::ballot_values(batch, &facts.waves, &recorded))
            .execute(&mut *tx)
            .await
            .context("could not record the ballots")?;
    }
    if sql::any_comment(batch, &recorded) {
        let query =
            sqlx::query(sqlx::AssertSqlSafe(sql::comments_sql(backend, n))).persistent(cached(n));
        bind(query, sql::comment_values(batch, &recorded))
            .execute(&mut *tx)
            .await
            .context("could not record the comments")?;
    }
    tx.commit().await?;
    Ok(refusals)
}
