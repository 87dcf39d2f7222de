//! On PostgreSQL, an open pulse's answers are rewritten together, in random order, once the
//! writer has been quiet for a moment, so the tables do not pair each token with its ballot.
//!
//! Why: PostgreSQL stamps every row with the transaction that wrote it (`xmin`), and a heap
//! keeps rows in the order they were inserted (`ctid`); both are columns any role with `SELECT`
//! can read. When answers come one at a time (minutes apart, as in a real org), each
//! transaction writes one token and its ballot, and so the two pair up, comment included. The
//! token secret keeps a token from naming anyone to a reader of the database, but not to the
//! operator, who holds it. (SQLite keeps these tables in the order of their random keys and
//! has no such stamp; its WAL is emptied when quiet, `wal_forgetting.rs`.)
//!
//! Here the writer notes the waves it wrote to, and once no answer has come for
//! [`super::wal_forgetting::QUIET`] (and when it stops), it moves every row of those of them
//! still open, in its three tables, to new rows in random order, in one transaction. Every
//! answer of the wave then carries the same `xmin` and a place that says nothing. The old row
//! versions stay as dead tuples until vacuum, readable only from the table's pages (a
//! superuser's `pageinspect`, the files); a release rewrites those tables anyway.
//!
//! A release running at the same moment must not miss a moved row: its `DELETE` would skip
//! the rows this deletes and not see the ones it inserts. So the move first takes a share lock
//! on the waves still open, which a release's closing of the wave waits for (and after which
//! the wave is no longer open, so it is not moved).

use std::collections::BTreeSet;

use sqlx::AnyConnection;
use sqlx::Connection;

use super::placeholders;

/// Two writers (of two replicas) moving the same wave's rows at once could lock them in
/// different orders; an advisory lock for the move makes them take turns. Any fixed number.
const MOVE_LOCK: i64 = 0x7472_7573_7470; // "trustp"

/// Moves the answer rows of those of `wave_ids` that are still open to new rows, in random
/// order, in one transaction.
pub(super) async fn shuffle_answers(
    conn: &mut AnyConnection,
    wave_ids: &BTreeSet<String>,
) -> anyhow::Result<()> {
    if wave_ids.is_empty() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
        .bind(MOVE_LOCK)
        .execute(&mut *tx)
        .await?;
    let list = placeholders(1, wave_ids.len());
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "SELECT wave_id FROM waves WHERE wave_id IN ({list}) AND state = 'open'
         ORDER BY wave_id FOR SHARE"
    )))
    .persistent(false);
    for id in wave_ids {
        query = query.bind(id.as_str());
    }
    let open = query.fetch_all(&mut *tx).await?;
    if !open.is_empty() {
        let list = placeholders(1, open.len());
        for table in ["participation", "ballots", "comments"] {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "WITH moved AS (DELETE FROM {table} WHERE wave_id IN ({list}) RETURNING *)
                 INSERT INTO {table} SELECT * FROM moved ORDER BY random()"
            )))
            .persistent(false);
            for id in &open {
                query = query.bind(id.as_str());
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
