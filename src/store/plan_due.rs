//! When the planner must next look at each team (`plan_due`), so that a tick with nothing due
//! reads one index range instead of every team's cadence, zones and waves.
//!
//! The planner writes a team's next time after planning it. Everything that can move that time
//! (the roster, a cadence, a person's time zone) marks the team due now and bumps its version;
//! the planner's write only lands on the version it read, so a change made while it planned is
//! never overwritten.

use jiff::Timestamp;
use sqlx::AnyExecutor;

use super::script::{Script, Value};
use super::{Backend, Store, secs};

/// A team the planner must look at now, and the version of its row it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDue {
    pub manager_id: String,
    pub version: i64,
}

/// The due time stored for a team with nothing ever due (no cadence set).
pub const NEVER: i64 = i64::MAX / 2;

/// The teams due at `$1`, read through the index by due time. Sorted here, not by the query:
/// with `ORDER BY manager_id`, SQLite read every team through the primary key (to save a
/// sort) and so every idle tick read the whole table (see `query_plans.rs`).
pub(super) const TEAMS_DUE: &str = "SELECT manager_id, version FROM plan_due WHERE due_at <= $1";

impl Store {
    /// The teams whose next slot, digest or change is at or before `now`, by manager.
    pub async fn teams_due_for_planning(&self, now: Timestamp) -> anyhow::Result<Vec<PlanDue>> {
        let mut rows: Vec<(String, i64)> = sqlx::query_as(TEAMS_DUE)
            .bind(secs(now))
            .fetch_all(&self.pool)
            .await?;
        rows.sort_unstable();
        Ok(rows
            .into_iter()
            .map(|(manager_id, version)| PlanDue {
                manager_id,
                version,
            })
            .collect())
    }

    /// Records when the planner must next look at each team (None: never, until something
    /// changes), unless the team changed since it was read; all in one transaction (one wait
    /// for the disk, not one per team).
    pub async fn plan_next(&self, planned: &[(PlanDue, Option<Timestamp>)]) -> anyhow::Result<()> {
        if planned.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let mut script = Script::new(Backend::of(&tx));
        push_plan_next(&mut script, planned);
        script.run(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What [`Store::plan_next`] writes, added to a transaction's `script`. On SQLite a statement
/// per team, all of which it runs in one call (they were a call each: 64 round trips to
/// SQLite's thread for a full batch of the planner's, see `script.rs`). On PostgreSQL, where
/// each statement is a round trip of its own, one statement for up to [`PLAN_UPDATE_CHUNK`]
/// teams, each row updated only on the version read. `planner_bench` on PostgreSQL, 10,000
/// teams: a tick that looks at every team and opens nothing took 1.4 s with a statement per
/// team and 0.6 s with these; the tick that opens their pulses 8.4 s and 7.8 s.
pub(super) fn push_plan_next<'a>(
    script: &mut Script<'a>,
    planned: &'a [(PlanDue, Option<Timestamp>)],
) {
    let backend = script.backend();
    let row = |(due, next): &'a (PlanDue, Option<Timestamp>)| {
        [
            Value::Int(next.map_or(NEVER, secs)),
            Value::Text(&due.manager_id),
            Value::Int(due.version),
        ]
    };
    match backend {
        Backend::Sqlite => {
            let sql = format!(
                "UPDATE plan_due SET due_at = {} WHERE manager_id = {} AND version = {}",
                backend.params(1, 1),
                backend.params(2, 1),
                backend.params(3, 1)
            );
            for planned in planned {
                script.push_repeated(sql.clone(), row(planned).into());
            }
        }
        Backend::Postgres => {
            for chunk in planned.chunks(PLAN_UPDATE_CHUNK) {
                let sql = format!(
                    "UPDATE plan_due AS p SET due_at = v.due_at
                     FROM (VALUES {}) AS v (due_at, manager_id, version)
                     WHERE p.manager_id = v.manager_id AND p.version = v.version",
                    backend.value_rows(chunk.len(), 3)
                );
                script.push(sql, chunk.iter().flat_map(row).collect());
            }
        }
    }
}

/// Teams per statement of [`push_plan_next`] on PostgreSQL (3 values each).
const PLAN_UPDATE_CHUNK: usize = 500;

/// Every team due now (the org cadence changed).
pub(super) async fn replan_all(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    sqlx::query("UPDATE plan_due SET due_at = 0, version = version + 1")
        .execute(conn)
        .await?;
    Ok(())
}

/// `manager_id`'s team due now (its cadence or its manager's time zone changed).
pub(super) async fn replan_team<'e>(
    ex: impl AnyExecutor<'e>,
    manager_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE plan_due SET due_at = 0, version = version + 1 WHERE manager_id = $1")
        .bind(manager_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// The teams of `people` and the teams they manage, due now (a time zone, or whether they can
/// be asked, changed): one statement for all of them (at most an `IN (…)` chunk).
pub(super) async fn replan_people(
    conn: &mut sqlx::AnyConnection,
    people: &[&str],
) -> sqlx::Result<()> {
    if people.is_empty() {
        return Ok(());
    }
    let list = super::placeholders(1, people.len());
    let sql = format!(
        "UPDATE plan_due SET due_at = 0, version = version + 1
         WHERE manager_id IN ({list})
            OR manager_id IN (SELECT manager_id FROM memberships WHERE seller_id IN ({list}) AND left_at IS NULL)"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for person in people {
        query = query.bind(*person);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// After a roster import: a row for every current team, each due now; none for a team that
/// no longer has sellers.
pub(super) async fn rebuild(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM plan_due WHERE manager_id NOT IN
            (SELECT manager_id FROM memberships WHERE left_at IS NULL)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO plan_due (manager_id, due_at, version)
         SELECT DISTINCT manager_id, 0, 0 FROM memberships WHERE left_at IS NULL
         ON CONFLICT (manager_id) DO UPDATE SET due_at = 0, version = plan_due.version + 1",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
