//! On SQLite, where a run of releases finds its windows' ballots and comments still in the
//! arriving tables (`sqlite_writer/arrivals.rs`), which have no index by pulse.
//!
//! Why: a close tick is a transaction for each 64 windows, and each made a pass over both
//! arriving tables for its own windows' rows: with 50,000 answers not moved yet, 160 passes
//! over 50,000 rows, each while answers waited. Here a run of several transactions reads where
//! every row is, by window, once and outside the write lock ([`Store::arrived_rows`]); each
//! transaction then reads only the rows added since, a range of rowids, and its windows' rows
//! by rowid. The close tick amid 50,000 unmoved answers (`PLANNER_BENCH_AMID_MOVES=1
//! planner_bench`) took 8 to 21% less in five alternated pairs (2.3 to 3.1 s against 2.8 to
//! 3.8, on a slow day for this machine). What is left there is mostly the deletes: a window's
//! rows are scattered over the table, so each transaction writes a page for nearly every row
//! it deletes (a scratch test in Python's `sqlite3`: 540 ms for 157 transactions of 64
//! windows, 71 ms in rowid order); the writer's moves meanwhile are not (holding them during
//! the close made it no shorter).
//!
//! Why it finds every row: SQLite gives a new row the table's largest rowid plus one. So as
//! long as the row that was last when the run last read the table is still there, unchanged
//! (its rowid and its random id), every row added since has a larger rowid, and every row at
//! or below it was read already. Each transaction checks that row first (and reads the new
//! last row after its own deletes, before it commits). When that row is gone (swept after its
//! move, or deleted by another process), or a transaction of the run failed, the transaction
//! makes a pass over the table for its own windows' rows, as every transaction did before, and
//! so do the run's later ones. A row read that has been deleted since is simply not found by
//! its rowid (a copied row swept meanwhile is counted from `ballots` or `comments`), and each
//! row is read with its window, so a rowid that now names another window's row is not counted
//! for the wrong one.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::AnyConnection;

use super::arrivals::{Arriving, TABLES};
use super::{Backend, Store};

/// What a run of releases (one close tick's transactions) has read of where the arriving rows
/// are, for each arriving table: made empty for each run, it never outlives it.
#[derive(Debug, Default)]
pub struct ArrivedRows {
    tables: Mutex<[Seen; TABLES.len()]>,
}

/// One arriving table, as the run has read it.
#[derive(Debug, Default)]
struct Seen {
    /// The rowids of each window's rows, read by the run up to `last`; some may have been
    /// deleted since.
    by_window: HashMap<String, Vec<i64>>,
    /// The table's last row when the run last read it: every row at or below it is in
    /// `by_window`, as long as it is still there. None: nothing to trust (not read, or a
    /// transaction under way, failed or not following), so the next reads its windows' rows in
    /// a pass of its own.
    last: Option<Last>,
    /// Whether the transaction under way read only what was added after `last`.
    following: bool,
}

impl Seen {
    /// Rows read, by window (a window's rows come a pulse at a time).
    fn add(&mut self, added: Vec<(String, Vec<i64>)>) {
        for (window_id, rowids) in added {
            self.by_window.entry(window_id).or_default().extend(rowids);
        }
    }

    /// The table's last row as read now, everything below it being in `by_window`.
    fn read_up_to(&mut self, last: Last) {
        if last == Last::Empty {
            // Every row is gone: whatever comes next is new, at any rowid.
            self.by_window.clear();
        }
        self.last = Some(last);
    }
}

/// The last row of an arriving table: its rowid and its random id, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Last {
    Empty,
    Row(i64, String),
}

impl Store {
    /// Where the answers still where they arrived are, by window, for a run of releases
    /// ([`Store::close_and_decide_many`]): on SQLite, one pass over each arriving table in a
    /// read transaction, which no writer waits for. Should it fail, the run's first transaction
    /// reads the tables itself.
    pub async fn arrived_rows(&self) -> ArrivedRows {
        let arrived = ArrivedRows::default();
        if self.backend == Backend::Sqlite
            && let Err(e) = arrived.read_all(self).await
        {
            // The kind only, as for the writer's errors (`telemetry::error_kind`).
            let kind = crate::telemetry::error_kind(&e);
            tracing::warn!(error = %kind, "could not read where answers arrived; the release will");
        }
        arrived
    }
}

impl ArrivedRows {
    /// Every row of each arriving table, by window, and its last row, in one snapshot.
    async fn read_all(&self, store: &Store) -> anyhow::Result<()> {
        let mut tx = store.pool.begin().await?;
        let mut read = Vec::with_capacity(TABLES.len());
        for arriving in &TABLES {
            let last = last_row(&mut tx, arriving).await?;
            read.push((added_since(&mut tx, arriving, i64::MIN).await?, last));
        }
        tx.commit().await?;
        let mut tables = self.tables.lock().expect("not poisoned");
        for (seen, (added, last)) in tables.iter_mut().zip(read) {
            seen.by_window.clear();
            seen.add(added);
            seen.read_up_to(last);
        }
        Ok(())
    }

    /// The rowids of the rows of `window_ids` in arriving table `table`, inside a transaction
    /// that holds the write lock, to be read there by rowid (some may be gone: see the module's
    /// comment). What the run read before is trusted when the table's last row then is still
    /// there: only the rows added since are read. Otherwise, a pass over the table for these
    /// windows' rows alone, and the run trusts nothing it read before: its later transactions
    /// each make such a pass (as a run of one transaction does, where reading where every row
    /// is would be more than it needs).
    pub(super) async fn rows_of(
        &self,
        tx: &mut AnyConnection,
        table: usize,
        window_ids: &[&str],
    ) -> anyhow::Result<Vec<i64>> {
        let arriving = &TABLES[table];
        let last = {
            let mut tables = self.tables.lock().expect("not poisoned");
            let seen = &mut tables[table];
            seen.following = false;
            seen.last.take()
        };
        let read_to = match &last {
            None => None,
            // Every row was added since.
            Some(Last::Empty) => Some(i64::MIN),
            Some(Last::Row(rowid, id)) => still_there(tx, arriving, *rowid, id)
                .await?
                .then_some(*rowid),
        };
        let Some(read_to) = read_to else {
            self.tables.lock().expect("not poisoned")[table]
                .by_window
                .clear();
            return rows_of_windows(tx, arriving, window_ids).await;
        };
        let added = added_since(tx, arriving, read_to).await?;
        let mut tables = self.tables.lock().expect("not poisoned");
        let seen = &mut tables[table];
        seen.add(added);
        seen.following = true;
        Ok(window_ids
            .iter()
            .filter_map(|id| seen.by_window.get(*id))
            .flatten()
            .copied()
            .collect())
    }

    /// Whether the transaction under way read only what was added to an arriving table: its
    /// last rows are then to be read for [`ArrivedRows::committed`].
    pub(super) fn following(&self) -> bool {
        let tables = self.tables.lock().expect("not poisoned");
        tables.iter().any(|seen| seen.following)
    }

    /// After the commit of a transaction that called [`ArrivedRows::rows_of`] for every table:
    /// each table's last row then (read by [`last_rows`] before the commit), and the windows
    /// it released, whose rows it deleted. A table the transaction did not follow stays
    /// untrusted.
    pub(super) fn committed(&self, last: [Last; TABLES.len()], released: &[&str]) {
        let mut tables = self.tables.lock().expect("not poisoned");
        for (seen, last) in tables.iter_mut().zip(last) {
            for id in released {
                seen.by_window.remove(*id);
            }
            if std::mem::take(&mut seen.following) {
                seen.read_up_to(last);
            }
        }
    }
}

/// Each arriving table's last row, in the transaction after its deletes.
pub(super) async fn last_rows(tx: &mut AnyConnection) -> anyhow::Result<[Last; TABLES.len()]> {
    let mut last = std::array::from_fn(|_| Last::Empty);
    for (last, arriving) in last.iter_mut().zip(&TABLES) {
        *last = last_row(tx, arriving).await?;
    }
    Ok(last)
}

pub(super) fn last_row_sql(arriving: &Arriving) -> String {
    let (name, id) = (arriving.name, arriving.identity);
    format!("SELECT rowid, {id} FROM {name} WHERE rowid = (SELECT MAX(rowid) FROM {name})")
}

async fn last_row(tx: &mut AnyConnection, arriving: &Arriving) -> anyhow::Result<Last> {
    let row: Option<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(last_row_sql(arriving)))
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map_or(Last::Empty, |(rowid, id)| Last::Row(rowid, id)))
}

pub(super) fn still_there_sql(arriving: &Arriving) -> String {
    let (name, id) = (arriving.name, arriving.identity);
    format!("SELECT COUNT(*) FROM {name} WHERE rowid = ? AND {id} = ?")
}

/// Whether the row `rowid` is still the one with the random id `id`.
async fn still_there(
    tx: &mut AnyConnection,
    arriving: &Arriving,
    rowid: i64,
    id: &str,
) -> anyhow::Result<bool> {
    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(still_there_sql(arriving)))
        .bind(rowid)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(found == 1)
}

pub(super) fn added_since_sql(arriving: &Arriving) -> String {
    let name = arriving.name;
    format!(
        "SELECT w.window_id, a.rowids
         FROM (SELECT wave_id, json_group_array(rowid) AS rowids FROM {name}
               WHERE rowid > ? GROUP BY wave_id) a
         CROSS JOIN waves w ON w.wave_id = a.wave_id"
    )
}

/// The rows of the pulses of `window_ids`: a pass over the table.
async fn rows_of_windows(
    tx: &mut AnyConnection,
    arriving: &Arriving,
    window_ids: &[&str],
) -> anyhow::Result<Vec<i64>> {
    let name = arriving.name;
    let sql = format!(
        "SELECT rowid FROM {name}
         WHERE wave_id IN (SELECT wave_id FROM waves
                           WHERE window_id IN (SELECT value FROM json_each(?)))"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(window_ids)?)
        .fetch_all(&mut *tx)
        .await?)
}

/// The rows above `from`, by window: a range of rowids, grouped by pulse first (a sort), then
/// each pulse's window through its key. Each row's window looked up first made a pass over
/// 50,000 rows take 61 to 81 ms against 41 to 49 (a scratch test in Python's `sqlite3`).
async fn added_since(
    tx: &mut AnyConnection,
    arriving: &Arriving,
    from: i64,
) -> anyhow::Result<Vec<(String, Vec<i64>)>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(added_since_sql(arriving)))
            .bind(from)
            .fetch_all(&mut *tx)
            .await?;
    rows.into_iter()
        .map(|(window_id, rowids)| Ok((window_id, serde_json::from_str(&rowids)?)))
        .collect()
}
