//! The reads every tick and every worker wake-up make must find their rows through an index:
//! their cost must not grow with the org (issue: an idle tick under 5 ms with 10,000 teams).
//! A timing cannot be a test, but a query plan can: SQLite's `EXPLAIN QUERY PLAN` says
//! whether a statement searches an index or scans a table. A plan can change without any
//! visible effect in a small test (a new `ORDER BY`, a dropped index, a rewritten join); this
//! catches it. PostgreSQL plans by table statistics, so only SQLite's plans are fixed here.

use super::{Store, outbox, plan_due, waves};

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
