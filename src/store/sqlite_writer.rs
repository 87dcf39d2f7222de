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

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::script::Value;
use super::submission_batch::{self as sql, cached};
use super::submission_writer::{MAX_BATCH, Message, Shuffled, Submission, batches};
use super::submissions::SubmissionError;
use super::{Backend, Gate, disk};

/// As long as sqlx waits for another process's write lock (its default): a `trustpulse roster
/// import` in another process holds it for a moment.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept: four shapes (read, tokens, ballots, comments) per batch size up to
/// [`sql::CACHED_UP_TO`].
const STATEMENT_CACHE: usize = 4 * sql::CACHED_UP_TO;

/// Starts the writer's thread. Its turns at the write gate are awaited through `Handle` (the
/// gate is tokio's semaphore, shared with the store's other writers).
pub(super) fn start(
    path: PathBuf,
    gate: Option<Gate>,
    rx: mpsc::Receiver<Message>,
) -> anyhow::Result<()> {
    let writer = Writer {
        path,
        gate,
        runtime: Handle::current(),
        conn: None,
    };
    std::thread::Builder::new()
        .name("answers-writer".into())
        .spawn(move || run(writer, rx))
        .context("could not start the thread that writes answers")?;
    Ok(())
}

struct Writer {
    path: PathBuf,
    gate: Option<Gate>,
    runtime: Handle,
    /// Opened on the first batch, kept between batches; dropped (which rolls back whatever
    /// transaction it had open) after a failure, and opened again for the next batch.
    conn: Option<Connection>,
}

fn run(mut writer: Writer, mut rx: mpsc::Receiver<Message>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    // Waits for the first message, then takes every one already queued: while a batch
    // commits, the next one gathers.
    while let Some(first) = rx.blocking_recv() {
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
            writer.conn = None;
            let _ = done.send(());
            return;
        }
    }
}

impl Writer {
    fn write(&mut self, batch: Shuffled) {
        if batch.is_empty() {
            return;
        }
        let _turn = self.runtime.block_on(super::take_turn(self.gate.as_ref()));
        let written = self
            .connection()
            .and_then(|conn| write_batch(conn, &batch.in_order()))
            .map_err(coded);
        if written.is_err() {
            self.conn = None;
        }
        batch.answer(written);
    }

    fn connection(&mut self) -> anyhow::Result<&mut Connection> {
        if self.conn.is_none() {
            self.conn = Some(open(&self.path)?);
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
/// a commit returns once it is on the disk.
fn open(path: &std::path::Path) -> anyhow::Result<Connection> {
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
/// which rolls it back.
fn write_batch(
    conn: &mut Connection,
    batch: &[&Submission],
) -> anyhow::Result<Vec<Option<SubmissionError>>> {
    let backend = Backend::Sqlite;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let pairs = sql::pairs(batch);
    let n = pairs.len();
    let rows = with_statement(conn, &sql::facts_sql(backend, n), n, |statement| {
        let mut rows = Vec::with_capacity(n);
        let mut found = statement.query(params_from_iter(sql::facts_values(&pairs)))?;
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
            ));
        }
        Ok(rows)
    })
    .context("could not read the waves and invitations")?;
    let facts = sql::facts(pairs, rows);
    let plan = sql::plan(batch, &facts);
    let mut inserted: HashSet<(String, Vec<u8>)> = HashSet::new();
    if !plan.tokens.is_empty() {
        let n = plan.tokens.len();
        let values = sql::token_values(batch, &facts.waves, &plan.tokens);
        with_statement(conn, &sql::tokens_sql(backend, n), n, |statement| {
            let mut new = statement.query(params_from_iter(values))?;
            while let Some(row) = new.next()? {
                inserted.insert((row.get(0)?, row.get(1)?));
            }
            Ok(())
        })
        .context("could not record participation")?;
    }
    let (recorded, refusals) = plan.settle(batch, &inserted);
    let n = recorded.len();
    if n > 0 {
        let values = sql::ballot_values(batch, &facts.waves, &recorded);
        with_statement(conn, &sql::ballots_sql(backend, n), n, |statement| {
            statement.execute(params_from_iter(values))
        })
        .context("could not record the ballots")?;
    }
    if sql::any_comment(batch, &recorded) {
        let values = sql::comment_values(batch, &recorded);
        with_statement(conn, &sql::comments_sql(backend, n), n, |statement| {
            statement.execute(params_from_iter(values))
        })
        .context("could not record the comments")?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(refusals)
}

/// Runs `f` on the statement for a batch of `rows`: from the connection's cache for the sizes
/// it keeps; prepared for this once for larger ones, which come in many sizes under a heavy
/// load and would push the small ones out of the cache.
fn with_statement<T>(
    conn: &Connection,
    sql: &str,
    rows: usize,
    f: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    if cached(rows) {
        f(&mut *conn.prepare_cached(sql)?)
    } else {
        f(&mut conn.prepare(sql)?)
    }
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::OptText(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Owned(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::OptText(None) | Value::OptInt(None) => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::OptInt(Some(v)) | Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

#[cfg(test)]
mod tests {
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
