//! PostgreSQL's query planner chooses between an index and a scan of a whole table from the
//! table's statistics, which only `ANALYZE` refreshes (autovacuum runs it about a minute after a
//! table has changed by a tenth, and not at all where autovacuum is off). A tick that opens
//! every team's pulse grows the pulse tables from nothing in seconds; planned on statistics
//! from before it, the close tick's read of each window's counts scanned every invitee and token
//! once per window: 10,000 windows took 56 s to release instead of about 2 (`planner_bench` on
//! PostgreSQL). So the planner refreshes them itself after a tick that opened pulses, and the
//! answer tables' before a tick releases windows (answers came since the pulses opened).
//!
//! Statistics hold samples of column values, so the answer tables' secret columns (window keys,
//! tokens, ballots, comments) have none: see the migration `no_statistics_of_answers`. SQLite
//! is left alone: without `ANALYZE` its planner prefers the indexes, and its `ANALYZE` would keep
//! a sample of each index's keys (tokens among them) in `sqlite_stat4`. trustpulse never runs
//! it; should an operator, the scrub after each release deletes those samples
//! ([`Store::forget_sqlite_samples_of_answers`]) and `trustpulse audit` looks for them.

use super::{Backend, Store, WriteInTurn};

/// The answer tables whose index keys are secret (the window's key, the tokens, and what was
/// answered), as SQL strings.
pub(super) const SECRET_TABLES: &str = "'participation', 'ballots', 'comments', 'window_keys'";

/// The tables a planner tick or a day of answers grows or shrinks by thousands of rows.
const CHANGING_TABLES: &str = "waves, windows, window_keys, wave_invitees, plan_due, outbox, \
                               wave_messages, participation, ballots, comments, releases";
/// The tables answers grow between the tick that opens a pulse and the one that releases it.
const ANSWER_TABLES: &str = "participation, ballots, comments";

impl Store {
    /// Refreshes PostgreSQL's statistics of the tables that pulses grow and releases shrink. It
    /// takes no lock that answers or the worker wait for, and reads a bounded sample of each
    /// table (about 0.3 s of the server's time for 10,000 teams). A no-op on SQLite.
    pub async fn refresh_statistics(&self) -> anyhow::Result<()> {
        self.analyze(CHANGING_TABLES).await
    }

    /// Refreshes PostgreSQL's statistics of the answer tables, before a release deletes from
    /// them: analyzed while a pulse had no answer yet, they said "empty", and each batch of
    /// releases then read every answer of the org three times over (the close tick of 10,000
    /// windows took 3.2 s so, 2.2 s after this). A no-op on SQLite.
    pub async fn refresh_answer_statistics(&self) -> anyhow::Result<()> {
        self.analyze(ANSWER_TABLES).await
    }

    async fn analyze(&self, tables: &str) -> anyhow::Result<()> {
        if self.backend == Backend::Sqlite {
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {tables}")))
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
            "SELECT COUNT(*) FROM sqlite_stat4 WHERE tbl IN ({SECRET_TABLES})"
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
            "DELETE FROM sqlite_stat4 WHERE tbl IN ({SECRET_TABLES})"
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
