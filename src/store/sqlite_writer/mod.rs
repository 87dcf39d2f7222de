//! The submission writer on a SQLite file: a thread of its own, with its own connection, that
//! runs each batch from `BEGIN IMMEDIATE` to `COMMIT` without leaving it.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a thread of its own and hands every
//! statement to it and its result back, so a batch was three round trips between the writer's
//! task and that thread, and each result then waited for the writer's task to be polled again
//! among the handlers queued on tokio's workers. Under load that, not SQLite, set the pace:
//! the writer's thread was busy half the time while a quarter of the CPU stood idle. Here the
//! whole batch runs on this thread, through rusqlite (the same bundled SQLite library as
//! sqlx's), and the only hand-offs are the submissions coming in and the outcomes going out.
//!
//! Everything else about the batch (its statements, the values they bind, who may answer) is
//! shared with the PostgreSQL writer (`submission_batch.rs`).
//!
//! The WAL's checkpoints under the answers' load are this thread's as well (see
//! [`checkpoints`]): a second thread copies the WAL's frames into the database file beside the
//! writer (without syncing the WAL first, where the writer's commit has: `synced_mark.rs`), and
//! the writer itself keeps the WAL within its limit after its answers have gone out.

mod answer_move;
pub(super) mod arrivals;
mod checkpoints;
mod move_size;
mod synced_mark;

use std::cell::Cell;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::answer_shuffle::Unshuffled;
use super::script::Value;
use super::submission_batch as sql;
use super::submission_writer::{MAX_BATCH, Message, Shuffled, Submission, batches};
use super::submissions::SubmissionError;
use super::wal_forgetting::QUIET;
use super::{Backend, Gate, disk};
use crate::privacy::token::TokenSecrets;
use arrivals::Arrivals;
use checkpoints::Checkpoints;
use move_size::FRAMES_A_TRANSACTION;
use synced_mark::{Version, version};

/// As long as sqlx waits for another process's write lock (its default): a `trustpulse roster
/// import` in another process holds it for a moment.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept: four shapes (read, tokens, ballots, comments) for each size of
/// part a batch is run in (1, 2, 4, 8, 16 and 32 rows, see [`parts`]), those every batch
/// runs once ([`ONCE_A_BATCH`]), the sweep's of each arriving table (`arrivals.rs`), and the
/// move's (`answer_move.rs`).
const STATEMENT_CACHE: usize = 4 * (LARGEST_PART.ilog2() as usize + 1)
    + ONCE_A_BATCH
    + arrivals::TABLES.len()
    + answer_move::KEPT_PREPARED;

/// The statements every batch runs once, kept prepared too: its `BEGIN IMMEDIATE`, its read
/// of `data_version` (`synced_mark::version`) and its `COMMIT`. Parsed again for every batch,
/// they were 3% of the writer's instructions for a lone answer (129.7 to 130.1 thousand in
/// three runs of `answer_bench --callgrind`, against 125.4 and 125.7 kept).
const ONCE_A_BATCH: usize = 3;

thread_local! {
    /// The frames in the WAL after the writer's last commit, from its WAL hook (which SQLite
    /// calls on the committing thread: the writer's own).
    static WAL_FRAMES: Cell<i32> = const { Cell::new(0) };
}

/// The writer's WAL hook: counts the frames. It replaces SQLite's automatic checkpoint on the
/// writer's connection, which ran inside the commit that crossed the limit, before that
/// batch's answers could go out (a copy of 256 pages and a sync of the database file: the 5 to
/// 8 ms commits that made the p99 at 4 connections); [`Checkpoints::after_commit`] does its
/// work instead.
fn count_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(frames);
    Ok(())
}

/// Starts the writer's thread. Its turns at the write gate are awaited through `Handle` (the
/// gate is tokio's semaphore, shared with the store's other writers).
pub(super) fn start(
    path: PathBuf,
    gate: Option<Gate>,
    secrets: Arc<TokenSecrets>,
    rx: mpsc::Receiver<Message>,
) -> anyhow::Result<()> {
    let writer = Writer::new(path, gate, secrets, Handle::current())?;
    std::thread::Builder::new()
        .name("answers-writer".into())
        .spawn(move || run(writer, rx))
        .context("could not start the thread that writes answers")?;
    Ok(())
}

struct Writer {
    path: PathBuf,
    gate: Option<Gate>,
    /// Make the windows' keys (`privacy::token`).
    secrets: Arc<TokenSecrets>,
    runtime: Handle,
    /// Opened on the first batch, kept between batches; dropped (which rolls back whatever
    /// transaction it had open) after a failure, and opened again for the next batch.
    conn: Option<Connection>,
    /// The waves written to whose answers are not moved yet (`answer_move.rs`).
    unshuffled: Unshuffled,
    /// The waves taken from `unshuffled` for a move and not moved yet: a transaction takes
    /// only those that fit (`move_size::fit`), and the rest go in the writer's next turns.
    moving: BTreeSet<String>,
    /// How many waves the next move reads.
    move_size: move_size::MoveSize,
    /// When the last batch came.
    last_answer: Instant,
    /// The ballots and comments not yet copied to their pulses' tables (`arrivals.rs`).
    arrivals: Arrivals,
    /// Whether the arriving tables were read, on the first connection.
    arrivals_read: bool,
    /// When the last sweep failed, if it did.
    sweep_failed_at: Option<Instant>,
    checkpoints: Checkpoints,
}

/// How long after a failed sweep the next one waits.
const SWEEP_RETRY: Duration = Duration::from_secs(1);

fn run(mut writer: Writer, mut rx: mpsc::Receiver<Message>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    // Waits for the first message, then takes every one already queued: while a batch
    // commits, the next one gathers.
    while let Some(first) = next(&mut writer, &mut rx) {
        waiting.push(first);
        while waiting.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(message) => waiting.push(message),
                Err(_) => break,
            }
        }
        let (batches, close) = batches(&mut waiting);
        for batch in batches {
            writer.write(Shuffled::new(batch));
        }
        if let Some(done) = close {
            // What is left is moved before the writer stops, as on PostgreSQL, and swept from
            // where it arrived. The connection first: it finds what an earlier run left.
            if let Err(error) = writer.connection() {
                writer.failed(
                    &error,
                    "could not open the database to move answers before stopping",
                );
            }
            while !writer.moving.is_empty() || !writer.unshuffled.is_empty() {
                if writer.moving.is_empty() {
                    writer.moving = writer.unshuffled.take_oldest();
                }
                if !writer.move_answers() {
                    break;
                }
            }
            while writer.sweep_due(Instant::now()) {
                writer.sweep();
            }
            writer.stop();
            let _ = done.send(());
            return;
        }
    }
}

/// The next message. While answers wait to be moved, the writer moves them once it has had
/// none for a moment, or once they have waited too long ([`Unshuffled::due`]).
fn next(writer: &mut Writer, rx: &mut mpsc::Receiver<Message>) -> Option<Message> {
    loop {
        match rx.try_recv() {
            Ok(message) => return Some(message),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        // Rows copied by a move leave the arriving tables while no answer waits, a
        // transaction at a time (`arrivals.rs`).
        let now = Instant::now();
        let sweep_at = writer.sweep_at(now);
        if sweep_at.is_some_and(|at| at <= now) {
            writer.sweep();
            continue;
        }
        // Waves taken for a move and not all moved yet go on once the writers are quiet again
        // (after each batch meanwhile, one transaction of them goes on, `Writer::write`): an
        // answer pauses a quiet moment's moves, as it did, rather than the rest of them going
        // on beside the answers that follow it.
        let move_at = if writer.moving.is_empty() {
            writer.unshuffled.due(writer.last_answer)
        } else {
            Some(writer.last_answer + QUIET)
        };
        let Some(due) = [move_at, sweep_at].into_iter().flatten().min() else {
            return rx.blocking_recv();
        };
        let wait = due.saturating_duration_since(Instant::now());
        // Made inside `block_on`: a timer needs the runtime's context, which this thread has
        // not.
        let message = writer
            .runtime
            .block_on(async { tokio::time::timeout(wait, rx.recv()).await });
        if let Ok(message) = message {
            return message;
        }
        if writer.sweep_due(Instant::now()) {
            continue;
        }
        // A transaction's worth at a time, so that an answer that comes meanwhile waits for
        // one move at most.
        if writer.moving.is_empty() {
            let most = writer.move_size.waves();
            writer.moving =
                writer
                    .unshuffled
                    .take_due_up_to(Instant::now(), writer.last_answer, most);
        }
        // None when the timer woke a moment early: the wait is worked out again.
        if !writer.moving.is_empty() {
            writer.move_answers();
        }
    }
}

impl Writer {
    fn new(
        path: PathBuf,
        gate: Option<Gate>,
        secrets: Arc<TokenSecrets>,
        runtime: Handle,
    ) -> anyhow::Result<Writer> {
        Ok(Writer {
            secrets,
            checkpoints: Checkpoints::start(path.clone())?,
            path,
            gate,
            runtime,
            conn: None,
            unshuffled: Unshuffled::default(),
            moving: BTreeSet::new(),
            move_size: move_size::MoveSize::default(),
            last_answer: Instant::now(),
            arrivals: Arrivals::default(),
            arrivals_read: false,
            sweep_failed_at: None,
        })
    }

    /// Closes the connection, then ends the checkpoint thread (`Checkpoints::stop`).
    fn stop(&mut self) {
        self.conn = None;
        self.checkpoints.stop();
    }

    fn write(&mut self, batch: Shuffled) {
        if batch.is_empty() {
            return;
        }
        // A turn that does not wake the store's checkpointer: this writer checkpoints what it
        // writes itself, and a pass of that checkpointer holds SQLite's checkpoint lock when
        // this writer needs it at the WAL's limit.
        let _turn = self
            .gate
            .as_ref()
            .map(|gate| self.runtime.block_on(gate.permit()));
        let written = self
            .connection()
            .map(|_| ())
            .and_then(|()| {
                let conn = self.conn.as_mut().expect("just opened");
                write_batch(conn, &self.secrets, &self.arrivals, &batch.in_order())
            })
            .map_err(coded);
        let (outcome, before) = match written {
            Ok(Written {
                refusals,
                before,
                appended,
                tokens,
            }) => {
                // Every answer recorded appended one ballot: their pulses are the batch's.
                let waves = appended
                    .iter()
                    .filter(|(table, _, _)| *table == arrivals::BALLOTS)
                    .map(|(_, wave, _)| wave.clone());
                self.last_answer = Instant::now();
                self.unshuffled.note(waves, self.last_answer);
                for (table, wave, rowid) in appended {
                    self.arrivals.written(table, &wave, rowid);
                }
                for (wave, rowid, token) in tokens {
                    self.arrivals.token_written(&wave, rowid, &token);
                }
                (Ok(refusals), Some(before))
            }
            Err(error) => {
                self.conn = None;
                (Err(error), None)
            }
        };
        batch.answer(outcome);
        // The handlers just answered are woken from this thread, and the scheduler may queue
        // their worker behind it on this core: the writer's work after a batch (the WAL's
        // catch-up, a move, a sweep) then held their thanks until it slept on the disk. At
        // 200 answers a second, a handler whose answer's batch a move followed waited 1.5 ms
        // at the 90th percentile for the outcome, against 0.6 ms with this, and the p99 fell
        // by about 1 ms in three alternated pairs (`answer_bench`, the 68th session in
        // docs/benchmarks.md). When no other thread waits for this core it returns at once.
        std::thread::yield_now();
        // In the same turn at the gate, so that no other writer adds to a WAL at its limit, and
        // none of this process commits between this commit and the mark (`synced_mark.rs`).
        if let (Some(conn), Some(before)) = (&self.conn, before) {
            self.checkpoints.after_commit(conn, before);
        }
        // So that the WAL is emptied once the writers are quiet (`wal_forgetting.rs`).
        if let Some(gate) = &self.gate {
            gate.note_write();
        }
        drop(_turn);
        // Answers that never pause are moved too, a few waves at a time (`answer_move.rs`),
        // one transaction after each batch.
        if self.moving.is_empty() {
            self.moving = self.unshuffled.take_due_up_to(
                Instant::now(),
                self.last_answer,
                self.move_size.waves(),
            );
        }
        if !self.moving.is_empty() {
            self.move_answers();
        }
        // And swept, a transaction's worth after each move, when no quiet moment comes.
        if self.sweep_due(Instant::now()) {
            self.sweep();
        }
    }

    /// One transaction of a move of the waves in `moving` (`answer_move.rs`), in a turn at
    /// the gate: the first of them that fit (`move_size.rs`). The rest stay in `moving` for
    /// the writer's next turn, after the answers that came meanwhile, which so wait for one
    /// transaction at most; the writer's first move, which asks for eight waves, went on for
    /// three or four transactions in a row when they were teams of 200. A failure puts every
    /// wave in `moving` back to wait, and off the next move (`Unshuffled::move_ended`).
    /// Returns whether the transaction committed.
    fn move_answers(&mut self) -> bool {
        let part: BTreeSet<String> = self
            .moving
            .iter()
            .take(self.move_size.waves())
            .cloned()
            .collect();
        let _turn = self
            .gate
            .as_ref()
            .map(|gate| self.runtime.block_on(gate.permit()));
        let arriving = self.arrivals.of(&part);
        let moved = self
            .connection()
            .map(|_| ())
            .and_then(|()| {
                let conn = self.conn.as_ref().expect("just opened");
                // Too little room left for the first wave, as the last move's waves suggest:
                // the catch-up its commit would call for runs first, so that its commit starts
                // the WAL again. (Should the catch-up fail, a reader holding the WAL for
                // seconds, the move goes past the limit as a batch may, and the writer tries
                // again after its commit.)
                let room = if self.checkpoints.room() < self.move_size.first_wave_frames() {
                    self.checkpoints.catch_up(conn);
                    FRAMES_A_TRANSACTION
                } else {
                    self.checkpoints.room()
                };
                let start = self.checkpoints.frames();
                if let Some(moved) = answer_move::move_answers(conn, &part, &arriving, room)? {
                    return Ok((moved, move_size::frames_written(start, WAL_FRAMES.get())));
                }
                // Not even the first wave fit after all (it is larger than the last move's):
                // the same, once its rows are let go.
                self.checkpoints.catch_up(conn);
                let start = self.checkpoints.frames();
                let moved =
                    answer_move::move_answers(conn, &part, &arriving, FRAMES_A_TRANSACTION)?
                        .context("no wave fit a whole transaction")?;
                Ok((moved, move_size::frames_written(start, WAL_FRAMES.get())))
            })
            .map_err(coded);
        match moved {
            Ok((moved, frames)) => {
                self.move_size.moved(moved.waves.len(), moved.rows, frames);
                self.arrivals.moved(&moved.waves);
                self.moving.retain(|wave| !moved.waves.contains(wave));
                self.committed(moved.before);
                self.unshuffled.move_ended(BTreeSet::new(), Instant::now());
                true
            }
            Err(error) => {
                self.failed(
                    &error,
                    "could not move a pulse's answers; trying again later",
                );
                let unmoved = std::mem::take(&mut self.moving);
                self.unshuffled.move_ended(unmoved, Instant::now());
                false
            }
        }
    }

    /// One transaction of the sweep of copied rows from the arriving tables (`arrivals.rs`),
    /// in a turn at the gate. A failure is logged by its kind and leaves the sweep due.
    fn sweep(&mut self) {
        let _turn = self
            .gate
            .as_ref()
            .map(|gate| self.runtime.block_on(gate.permit()));
        let swept = self.connection().map(|_| ()).and_then(|()| {
            let conn = self.conn.as_ref().expect("just opened");
            self.arrivals.sweep(conn).map_err(coded)
        });
        match swept {
            Ok(before) => {
                self.sweep_failed_at = None;
                self.committed(before);
            }
            Err(error) => {
                self.failed(
                    &error,
                    "could not delete moved answers from where they arrived; trying again later",
                );
                self.sweep_failed_at = Some(Instant::now());
            }
        }
    }

    /// After a move's or a sweep's commit, still in its turn at the gate: the WAL's
    /// checkpoints, as after a batch, and the note that the writers were busy
    /// (`wal_forgetting.rs`).
    fn committed(&mut self, before: Version) {
        if let Some(conn) = &self.conn {
            self.checkpoints.after_commit(conn, before);
        }
        if let Some(gate) = &self.gate {
            gate.note_write();
        }
    }

    /// A move or a sweep failed: the kind of error is logged, as for a batch (never a wave or
    /// a row), and the connection dropped, which rolls its transaction back.
    fn failed(&mut self, error: &anyhow::Error, what: &str) {
        let kind = crate::telemetry::error_kind(error);
        tracing::warn!(error = %kind, "{what}");
        self.conn = None;
    }

    /// When the next sweep is due, if rows were copied: `now`, or a moment after a failed
    /// one.
    fn sweep_at(&self, now: Instant) -> Option<Instant> {
        self.arrivals
            .sweep_due()
            .then(|| self.sweep_failed_at.map_or(now, |at| at + SWEEP_RETRY))
    }

    fn sweep_due(&self, now: Instant) -> bool {
        self.sweep_at(now).is_some_and(|at| at <= now)
    }

    fn connection(&mut self) -> anyhow::Result<&mut Connection> {
        if self.conn.is_none() {
            let conn = open(&self.path)?;
            conn.wal_hook(Some(count_frames));
            WAL_FRAMES.set(0);
            if !self.arrivals_read {
                // What an earlier run left where answers arrive is moved and swept as if just
                // written (a crash before its move, or a stop whose moves failed).
                let found = Arrivals::found(&conn)
                    .context("could not read the answers left where they arrive")?;
                self.unshuffled.note(found.waves(), Instant::now());
                self.arrivals = found;
                self.arrivals_read = true;
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }
}

/// SQLite's error code in place of the error, where it has one: what the log says of a failed
/// batch (`telemetry::error_kind`), as it does for the errors that come through sqlx.
fn coded(error: anyhow::Error) -> anyhow::Error {
    let code = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<rusqlite::Error>())
        .and_then(rusqlite::Error::sqlite_error)
        .map(|failure| failure.extended_code);
    match code {
        Some(code) => crate::telemetry::DatabaseCode(code).into(),
        None => error,
    }
}

/// A connection set up as sqlx sets up the store's others: foreign keys on, the same busy
/// timeout, and the privacy pragmas (`disk.rs`), with SQLite's default `synchronous=FULL`, so
/// a commit returns once it is on the disk. That sync is not what sets the pace under load: a
/// writer without it (`synchronous=NORMAL`, not durable) took 2% more answers a second at 64
/// connections in three alternated pairs (sixtieth session, docs/benchmarks.md); it costs the
/// lone answer about half a millisecond of its wait.
fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("could not open {} to write answers", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    for pragma in ["PRAGMA foreign_keys=ON"]
        .iter()
        .chain(disk::SQLITE_PRIVACY_PRAGMAS)
    {
        // Some pragmas answer with a row (the journal mode set); it is not needed.
        let mut statement = conn.prepare(pragma)?;
        let mut rows = statement.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(conn)
}

/// The batch in one transaction. Any error leaves it open: the caller drops the connection,
/// which rolls it back. Returns the refusals, and `data_version` as the transaction found it
/// (no other connection commits until this one does), for the mark after it (`synced_mark.rs`).
/// `arrivals` knows the tokens still where they arrived, which a second answer finds there.
fn write_batch(
    conn: &mut Connection,
    secrets: &TokenSecrets,
    arrivals: &Arrivals,
    batch: &[&Submission],
) -> anyhow::Result<Written> {
    let backend = Backend::Sqlite;
    // Kept prepared, as the batch's own statements are (`ONCE_A_BATCH`).
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let before = version(conn)?;
    let pairs = sql::pairs(batch);
    let mut rows = Vec::with_capacity(pairs.len());
    for part in parts(pairs.len()) {
        let pairs = &pairs[part];
        let mut statement = conn.prepare_cached(&sql::facts_sql(pairs.len()))?;
        let mut found = statement
            .query(params_from_iter(sql::facts_values(pairs)))
            .context("could not read the waves and invitations")?;
        while let Some(row) = found.next()? {
            rows.push((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
            ));
        }
    }
    let facts = sql::facts(pairs, rows, secrets);
    let plan = sql::plan(batch, &facts);
    // Tokens appended in the order of arrival, as the ballots and comments below, and moved to
    // their pulses' pages later (`arrivals.rs`); where each row went, for that move. A token
    // still there is known to `arrivals`, one moved is in `participation`: either way that
    // person answered already, and their submission is refused (`Plan::settle`).
    let mut fresh: Vec<(usize, Vec<u8>)> = plan
        .tokens
        .iter()
        .filter(|(i, token)| !arrivals.knows_token(&batch[*i].wave_id, token))
        .cloned()
        .collect();
    // In the order of their values (keyed hashes, so a random one), not the batch's, which the
    // ballots below keep: otherwise the batch's k-th token row would sit beside its k-th
    // ballot row in the order of arrival. (Across batches the order of arrival stays, in both
    // tables, until the move: as it did in a pulse's pages.)
    fresh.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    let mut tokens = Vec::with_capacity(fresh.len());
    let mut inserted: HashSet<(String, Vec<u8>)> = HashSet::with_capacity(fresh.len());
    for part in parts(fresh.len()) {
        let part = &fresh[part];
        let values = sql::token_values(batch, &facts.waves, part);
        let mut statement = conn.prepare_cached(&sql::arriving_tokens_sql(part.len()))?;
        let mut new = statement
            .query(params_from_iter(values))
            .context("could not record participation")?;
        while let Some(row) = new.next()? {
            let (rowid, wave, token): (i64, String, Vec<u8>) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            inserted.insert((wave.clone(), token.clone()));
            tokens.push((wave, rowid, token));
        }
    }
    let (recorded, refusals) = plan.settle(batch, &inserted, |_| true);
    let mut appended = Vec::with_capacity(2 * recorded.len());
    for part in parts(recorded.len()) {
        let recorded = &recorded[part];
        let values = sql::ballot_values(batch, &facts.waves, recorded);
        let sql = arriving_sql(sql::ballots_into_sql(
            arrivals::TABLES[arrivals::BALLOTS].name,
            backend,
            recorded.len(),
        ));
        note_rows(conn, &sql, values, arrivals::BALLOTS, &mut appended)
            .context("could not record the ballots")?;
        if sql::any_comment(batch, recorded) {
            let values = sql::comment_values(batch, recorded);
            let sql = arriving_sql(sql::comments_into_sql(
                arrivals::TABLES[arrivals::COMMENTS].name,
                backend,
                recorded.len(),
            ));
            note_rows(conn, &sql, values, arrivals::COMMENTS, &mut appended)
                .context("could not record the comments")?;
        }
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(Written {
        refusals,
        before,
        appended,
        tokens,
    })
}

/// A batch written: its refusals, `data_version` as its transaction found it, the rows it
/// appended (table, wave, rowid), and the tokens it appended (wave, rowid, token).
struct Written {
    refusals: Vec<Option<SubmissionError>>,
    before: Version,
    appended: Vec<(usize, String, i64)>,
    tokens: Vec<(String, i64, Vec<u8>)>,
}

/// An insert into an arriving table that says where each row went.
fn arriving_sql(insert: String) -> String {
    insert + " RETURNING rowid, wave_id"
}

fn note_rows(
    conn: &Connection,
    sql: &str,
    values: Vec<Value<'_>>,
    table: usize,
    appended: &mut Vec<(usize, String, i64)>,
) -> anyhow::Result<()> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params_from_iter(values))?;
    while let Some(row) = rows.next()? {
        appended.push((table, row.get(1)?, row.get(0)?));
    }
    Ok(())
}

/// The largest part a batch's statements are run in: the largest batch whose statements the
/// PostgreSQL writer keeps prepared, the same bound. A power of two, so that every part is one.
const LARGEST_PART: usize = sql::CACHED_UP_TO;
const _: () = assert!(LARGEST_PART.is_power_of_two());

/// The parts of a batch of `rows` its statements are run in: as many of [`LARGEST_PART`] as
/// fit, then the rest taken apart into powers of two (37 rows: 32, 4 and 1). A statement
/// has as many rows of values as its part, so the writer only ever runs one of six sizes of
/// each, all kept prepared ([`STATEMENT_CACHE`]), instead of preparing one for every batch of
/// a size not kept, which is every batch under a heavy load (preparing them was 6% of this
/// thread's samples in the thirteenth session's profile). A few more statements run, each
/// prepared already. The rows go in the batch's order, part after part, as before.
fn parts(rows: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = rows - start;
        if left == 0 {
            return None;
        }
        let size = if left >= LARGEST_PART {
            LARGEST_PART
        } else {
            1 << left.ilog2()
        };
        let part = start..start + size;
        start += size;
        Some(part)
    })
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::OptText(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Owned(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::OptText(None) | Value::OptInt(None) | Value::OptBlob(None) => {
                ToSqlOutput::Borrowed(ValueRef::Null)
            }
            Value::OptInt(Some(v)) | Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Blob(v) | Value::OptBlob(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ONCE_A_BATCH, STATEMENT_CACHE, WAL_FRAMES, Writer, open, parts};
    use crate::store::disk::WAL_LIMIT_FRAMES;
    use crate::store::submission_writer::MAX_BATCH;

    /// A batch's statements run in parts of six sizes, so that the writer's statement cache
    /// holds every statement it runs and none is prepared under load; the parts cover the batch
    /// once, in its order.
    #[test]
    fn a_batch_is_written_in_parts_of_six_sizes_that_cover_it_in_order() {
        let sizes = |rows| parts(rows).map(|part| part.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(37), [32, 4, 1]);
        assert_eq!(sizes(95), [32, 32, 16, 8, 4, 2, 1]);
        let mut seen = std::collections::BTreeSet::new();
        for rows in 0..=MAX_BATCH {
            let mut next = 0;
            for part in parts(rows) {
                assert_eq!(part.start, next, "{rows} rows");
                assert!(
                    part.len().is_power_of_two() && part.len() <= 32,
                    "{rows} rows"
                );
                seen.insert(part.len());
                next = part.end;
            }
            assert_eq!(next, rows);
        }
        assert_eq!(
            seen.len() * 4
                + ONCE_A_BATCH
                + super::arrivals::TABLES.len()
                + super::answer_move::KEPT_PREPARED,
            STATEMENT_CACHE,
            "four statements a size, those of every batch, the sweep's and the move's, all kept"
        );
    }

    /// An answer is acknowledged once its batch commits, so that commit must wait for the disk
    /// (`synchronous` 2, FULL; 1 would let a power cut take acknowledged answers). The writer
    /// takes SQLite's default, which a compile-time option (`.cargo/config.toml`) could change.
    #[test]
    fn the_answers_writer_commits_only_once_the_disk_holds_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("d.db")).unwrap();
        let level: i64 = conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap();
        assert_eq!(level, 2, "FULL");
    }

    /// A store's file with `answers` answers to each of `waves`, each with a comment of the
    /// longest, written as they arrive at the pulses' tables (their windows, teams and
    /// invitees are not needed to move them); and the runtime for a writer on it.
    fn pulses_answered(
        path: &std::path::Path,
        waves: &[&str],
        answers: usize,
    ) -> tokio::runtime::Runtime {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let url = format!("sqlite:{}?mode=rwc", path.display());
        runtime.block_on(async {
            crate::store::Store::connect(&url)
                .await
                .unwrap()
                .close()
                .await
        });
        let rows = rusqlite::Connection::open(path).unwrap();
        rows.execute_batch("PRAGMA foreign_keys=OFF").unwrap();
        for wave in waves {
            rows.execute(
                "INSERT INTO waves (wave_id, manager_id, window_id, period, state, opens_at, closes_at)
                 VALUES (?1, ?1, 'X1', '2026-11-23', 'open', 0, 0)",
                [wave],
            )
            .unwrap();
            for i in 0..answers {
                rows.execute(
                    "INSERT INTO participation (wave_id, window_id, token) VALUES (?1, 'X1', randomblob(32))",
                    [wave],
                )
                .unwrap();
                rows.execute(
                    "INSERT INTO ballots (ballot_id, wave_id, care, help, trust) VALUES (?1, ?2, 3, 4, 5)",
                    [format!("b{i:03}"), wave.to_string()],
                )
                .unwrap();
                rows.execute(
                    "INSERT INTO comments (comment_id, wave_id, body) VALUES (?1, ?2, ?3)",
                    [
                        format!("c{i:03}"),
                        wave.to_string(),
                        "x".repeat(crate::survey::COMMENT_MAX_CHARS),
                    ],
                )
                .unwrap();
            }
        }
        rows.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        runtime
    }

    /// A commit of the writer's that leaves the WAL at more than half its limit, as a batch
    /// of answers with long comments may: the frames in it.
    fn fill_wal(writer: &mut Writer) -> i32 {
        writer
            .connection()
            .unwrap()
            .execute_batch(
                "CREATE TABLE filler (x BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 170)
                 INSERT INTO filler SELECT randomblob(3000) FROM n;",
            )
            .unwrap();
        let full = WAL_FRAMES.get();
        assert!(full > 128 && full < WAL_LIMIT_FRAMES, "{full} frames");
        full
    }

    /// A writer on a store's file with `answers` answers to each of `waves`
    /// ([`pulses_answered`]), with the file's directory and the writer's runtime.
    fn writer_on(
        waves: &[&str],
        answers: usize,
    ) -> (tempfile::TempDir, tokio::runtime::Runtime, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.db");
        let runtime = pulses_answered(&path, waves, answers);
        let writer = Writer::new(path, None, Default::default(), runtime.handle().clone()).unwrap();
        (dir, runtime, writer)
    }

    /// The answer rows in the file: tokens, ballots, comments.
    fn answer_rows(conn: &rusqlite::Connection) -> (i64, i64, i64) {
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM participation), (SELECT COUNT(*) FROM ballots),
                    (SELECT COUNT(*) FROM comments)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap()
    }

    /// A move after a batch that left the WAL near its limit starts the WAL again rather than
    /// taking it past its limit: here the writer's commit leaves it at more than half its
    /// limit (175 frames) and a pulse of 100 answers with the longest comments writes about 120
    /// more (it went on to about 295 frames, 1.2 MiB, before the writer made room first).
    /// The WAL file stays within its 1 MiB, and every answer is still there.
    #[test]
    fn a_move_starts_a_full_wal_again_rather_than_take_it_past_its_limit() {
        let (_dir, _runtime, mut writer) = writer_on(&["W1"], 100);
        let full = fill_wal(&mut writer);

        writer.moving.insert("W1".to_owned());
        assert!(writer.move_answers());
        assert!(writer.moving.is_empty());
        let after = WAL_FRAMES.get();
        assert!(
            after < full,
            "the move went on from {full} frames to {after}, not from the WAL's first frame"
        );
        let wal = std::fs::metadata(format!("{}-wal", writer.path.display()))
            .unwrap()
            .len();
        assert!(
            wal <= 32 + u64::try_from(WAL_LIMIT_FRAMES).unwrap() * (24 + 4096),
            "the WAL file grew to {wal} bytes"
        );
        let kept = answer_rows(writer.connection().unwrap());
        assert_eq!(kept, (100, 100, 100), "every answer still there");
        writer.stop();
    }

    /// A move that fits the WAL's room goes on without a catch-up, taking only the waves that
    /// fit: after the same commit (175 frames), of two pulses of 30 answers with the longest
    /// comments (about 50 frames alone, 88 together), it moves one.
    #[test]
    fn a_move_takes_only_the_waves_that_fit_the_wal_left() {
        let (_dir, _runtime, mut writer) = writer_on(&["W1", "W2"], 30);
        let full = fill_wal(&mut writer);
        writer.moving = ["W1".to_owned(), "W2".to_owned()].into();

        assert!(writer.move_answers());
        let after = WAL_FRAMES.get();
        assert_eq!(writer.moving.len(), 1, "one of the two moved");
        assert!(
            after > full && after <= WAL_LIMIT_FRAMES,
            "went on from {full} frames to {after}, within the limit"
        );
        assert!(writer.move_answers());
        assert!(WAL_FRAMES.get() < after, "the second made room first");
        assert_eq!(answer_rows(writer.connection().unwrap()), (60, 60, 60));
        writer.stop();
    }

    /// A move is one transaction a turn: of three pulses whose answers fit one transaction
    /// each, the first turn moves one and leaves two for the writer's next turns, after the
    /// answers that come meanwhile (the writer's first move, which asks for eight pulses, went
    /// on for three or four transactions in a row when they were teams of 200). Every pulse is
    /// moved in the end, and every answer kept.
    #[test]
    fn a_move_is_one_transaction_a_turn_and_the_rest_wait_for_the_next() {
        let waves = ["W1", "W2", "W3"];
        let (_dir, _runtime, mut writer) = writer_on(&waves, 100);
        writer.moving = waves.iter().map(|w| (*w).to_owned()).collect();

        let mut turns = Vec::new();
        while !writer.moving.is_empty() && turns.len() < 5 {
            assert!(writer.move_answers());
            turns.push(writer.moving.len());
        }
        assert_eq!(turns, [2, 1, 0], "pulses left after each turn");
        let kept = answer_rows(writer.connection().unwrap());
        assert_eq!(kept, (300, 300, 300), "every answer still there");
        writer.stop();
    }

    /// The writer's turns at the store's write gate do not wake the store's checkpointer: it
    /// checkpoints its own frames, and a pass of that checkpointer would hold SQLite's
    /// checkpoint lock when the writer needs it at the limit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writers_turns_wake_no_checkpointer() {
        use crate::store::submission_writer::{Submission, SubmissionQueue, Target};
        use crate::store::{Gate, Store, SubmissionError};
        use crate::survey::Ballot;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.db");
        let url = format!("sqlite:{}?mode=rwc", path.display());
        Store::connect(&url).await.unwrap().close().await;
        let (gate, mut woken) = Gate::for_test();
        let queue = SubmissionQueue::start(
            Target::SqliteFile(path),
            Some(gate.clone()),
            Default::default(), // no token secret
        )
        .unwrap();
        // A batch takes its turn whatever it finds (here, a pulse that does not exist).
        let outcome = queue
            .submit(Submission {
                wave_id: "no-such-wave".into(),
                person_id: "U0SELLER1".into(),
                ballot: Ballot::new([4, 4, 4]).unwrap(),
                comment: None,
                at: jiff::Timestamp::now(),
            })
            .await;
        assert!(
            matches!(outcome, Err(SubmissionError::UnknownWave)),
            "{outcome:?}"
        );
        // The writer's turn has ended once the gate lets another writer in (a turn that wakes
        // the checkpointer does so before it lets the next writer in).
        drop(gate.permit().await);
        assert!(
            woken.try_recv().is_err(),
            "the writer's turn woke the store's checkpointer"
        );
        assert_eq!(
            gate.writes().count(),
            1,
            "the writer's batch counts as a write, for the emptying of the WAL"
        );
    }

    /// An operator reading the log of a failed batch learns why (a full disk here), as for a
    /// database error through sqlx, and nothing of the batch.
    #[test]
    fn a_failed_batch_is_logged_by_its_sqlite_code() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        let error = super::coded(anyhow::Error::new(full).context("could not record the ballots"));
        assert_eq!(
            crate::telemetry::error_kind(&error),
            "database error (code 13)"
        );
    }
}
