//! The reads every tick and every worker wake-up make must find their rows through an index:
//! their cost must not grow with the org (issue: an idle tick under 5 ms with 10,000 teams).
//! A timing cannot be a test, but a query plan can: SQLite's `EXPLAIN QUERY PLAN` says
//! whether a statement searches an index or scans a table. A plan can change without any
//! visible effect in a small test (a new `ORDER BY`, a dropped index, a rewritten join); this
//! catches it. PostgreSQL plans by table statistics, so only SQLite's plans are fixed here.

use super::arrivals::TABLES;
use super::{Store, outbox, plan_due, release_arrivals, releases, waves};

/// Every line of the plan of `sql` (its `$1` bound to a time).
async fn plan(store: &Store, sql: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind(1_800_000_000_i64)
            .fetch_all(&store.pool)
            .await
            .expect("a plan");
    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
}

#[tokio::test]
async fn the_reads_of_an_idle_tick_search_indexes_and_scan_no_table() {
    let store = Store::connect("sqlite::memory:").await.expect("a store");
    let reads = [
        ("teams due for planning", plan_due::TEAMS_DUE.to_owned()),
        ("waves due to close", waves::waves_due_sql()),
        ("whether a job is due", outbox::HAS_DUE_WORK.to_owned()),
        ("when the next job is due", outbox::NEXT_DUE.to_owned()),
    ];
    for (what, sql) in reads {
        let lines = plan(&store, &sql).await;
        let scans: Vec<&String> = lines.iter().filter(|l| l.starts_with("SCAN")).collect();
        assert!(
            scans.is_empty(),
            "the read of {what} scans a table, so every tick reads more as the org grows: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("SEARCH")),
            "the read of {what} searches no index: {lines:?}"
        );
    }
    store.close().await;
}

/// A close tick's transactions read the arriving tables through their rowids only
/// (`release_arrivals.rs`): a table read in each would cost a pass over every answer not moved
/// yet (`planner_bench` amid the moves).
#[tokio::test]
async fn a_following_transaction_reads_the_arriving_tables_by_rowid_only() {
    let store = Store::connect("sqlite::memory:").await.expect("a store");
    let mut reads = vec![
        releases::arriving_ballots_sql(),
        releases::ARRIVING_COMMENTS.to_owned(),
        releases::ARRIVING_TOKENS.to_owned(),
    ];
    for arriving in &TABLES {
        reads.push(release_arrivals::added_since_sql(arriving));
        reads.push(release_arrivals::last_row_sql(arriving));
        reads.push(release_arrivals::still_there_sql(arriving));
    }
    for sql in reads {
        let lines = plan(&store, &sql).await;
        assert!(
            !lines.iter().any(|l| l.starts_with("SCAN arriving_")),
            "{sql}\nreads a whole arriving table: {lines:?}"
        );
    }
    store.close().await;
}
