//! PostgreSQL's query planner chooses between an index and a scan of a whole table from the
//! table's statistics, which only `ANALYZE` refreshes (autovacuum runs it about a minute after a
//! table has changed by a tenth, and not at all where autovacuum is off). A tick that opens
//! every team's pulse grows the pulse tables from nothing in seconds; planned on statistics
//! from before it, the close tick's read of each window's counts scanned every invitee and token
//! once per window: 10,000 windows took 56 s to release instead of about 2 (`planner_bench` on
//! PostgreSQL). So the planner refreshes them itself after a tick that opened pulses.
//!
//! Statistics hold samples of column values, so the answer tables have none: their values are
//! secret, and the share of each pulse's id among their rows is how many answered it (see the
//! migration `no_statistics_of_answers`). A release reaches their rows through keys alone
//! (`Store::close_and_decide_many`). SQLite
//! is left alone: without `ANALYZE` its planner prefers the indexes, and its `ANALYZE` would keep
//! a sample of each index's keys (tokens among them) in `sqlite_stat4`. trustpulse never runs
//! it; should an operator, the scrub after each release deletes those samples
//! ([`Store::forget_sqlite_samples_of_answers`]) and `trustpulse audit` looks for them.

use super::disk::RELEASED_TABLES;
use super::{Backend, Store, WriteInTurn};

/// The tables a release deletes from, as a list of SQL strings: the keys of their indexes are
/// secret (the window's key, the tokens, and what was answered).
fn released_tables_quoted() -> String {
    RELEASED_TABLES.map(|t| format!("'{t}'")).join(", ")
}

/// The tables a planner tick grows by thousands of rows (and, for the answer tables, the row
/// counts the planner's size estimates use: their columns have no statistics).
const CHANGING_TABLES: &str = "waves, windows, window_keys, wave_invitees, plan_due, outbox, \
                               wave_messages, participation, ballots, comments, releases";

impl Store {
    /// Refreshes PostgreSQL's statistics of the tables that pulses grow and releases shrink. It
    /// takes no lock that answers or the worker wait for, and reads a bounded sample of each
    /// table (about 0.3 s of the server's time for 10,000 teams). A no-op on SQLite.
    pub async fn refresh_statistics(&self) -> anyhow::Result<()> {
        if self.backend == Backend::Sqlite {
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {CHANGING_TABLES}")))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// How many of SQLite's samples of index keys (`sqlite_stat4`, written only by an
    /// `ANALYZE` someone ran) belong to the answer tables: 0 when there is no such table.
    pub(super) async fn sqlite_samples_of_answers(&self) -> anyhow::Result<i64> {
        if !self.sqlite_samples_exist().await? {
            return Ok(0);
        }
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM sqlite_stat4 WHERE tbl IN ({})",
            released_tables_quoted()
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Deletes SQLite's samples of the answer tables' index keys, if an `ANALYZE` made any:
    /// they copy tokens and, the answer tables having no rowid, whole ballots and comments, and
    /// would outlive the release that deleted the rows (`secure_delete` zeroes them as they go,
    /// and the scrub then empties the WAL).
    pub(super) async fn forget_sqlite_samples_of_answers(&self) -> anyhow::Result<()> {
        if self.backend != Backend::Sqlite || !self.sqlite_samples_exist().await? {
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM sqlite_stat4 WHERE tbl IN ({})",
            released_tables_quoted()
        )))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(())
    }

    async fn sqlite_samples_exist(&self) -> anyhow::Result<bool> {
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(tables > 0)
    }
}
