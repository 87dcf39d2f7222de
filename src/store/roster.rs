//! Teams and their dated membership. An import replaces the roster as a whole and records who
//! joined and who left, and when.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::people::ELIGIBLE;
use super::people::ensure_people;
use super::plan_due;
use super::{Backend, IN_LIST_CHUNK, Store, from_secs, new_id, placeholders, secs};
use crate::survey::roster::Roster;

/// What an import changed. A seller who moved teams appears in both lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterChange {
    /// (seller, manager) pairs that started.
    pub joined: Vec<(String, String)>,
    /// (seller, manager) pairs that ended.
    pub left: Vec<(String, String)>,
    pub unchanged: usize,
}

/// One stay of a seller in a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub manager_id: String,
    pub seller_id: String,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
}

impl Store {
    /// Makes `roster` the current roster, in one transaction.
    pub async fn replace_roster(
        &self,
        roster: &Roster,
        now: Timestamp,
    ) -> anyhow::Result<RosterChange> {
        let mut tx = self.begin_write().await?;
        let current: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT membership_id, seller_id, manager_id FROM memberships WHERE left_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;

        let mut change = RosterChange::default();
        let mut kept: BTreeMap<&str, &str> = BTreeMap::new();
        let mut ended: Vec<&str> = Vec::new();
        for (membership_id, seller, manager) in &current {
            if roster.manager_of(seller) == Some(manager.as_str()) {
                kept.insert(seller, manager);
                change.unchanged += 1;
            } else {
                ended.push(membership_id);
                change.left.push((seller.clone(), manager.clone()));
            }
        }
        // A statement per chunk of rows, not per row: the import holds SQLite's write lock
        // throughout, and a `serve` running meanwhile waits for it (its answers sleep in
        // SQLite's busy handler, up to the busy timeout).
        for chunk in ended.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "UPDATE memberships SET left_at = $1 WHERE membership_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .persistent(false)
                .bind(secs(now));
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }

        let managers: Vec<&str> = roster.managers().into_iter().collect();
        for chunk in managers.chunks(IN_LIST_CHUNK / 2) {
            let sql = format!(
                "INSERT INTO teams (manager_id, created_at) VALUES {} ON CONFLICT (manager_id) DO NOTHING",
                Backend::of(&tx).value_rows(chunk.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for manager in chunk {
                query = query.bind(*manager).bind(secs(now));
            }
            query.execute(&mut *tx).await?;
        }
        let people: BTreeSet<&str> = managers
            .iter()
            .copied()
            .chain(roster.assignments().map(|(seller, _)| seller))
            .collect();
        let people: Vec<&str> = people.into_iter().collect();
        ensure_people(&mut tx, &people, now).await?;

        let joining: Vec<(&str, &str)> = roster
            .assignments()
            .filter(|(seller, _)| !kept.contains_key(seller))
            .collect();
        for chunk in joining.chunks(IN_LIST_CHUNK / 4) {
            let sql = format!(
                "INSERT INTO memberships (membership_id, manager_id, seller_id, joined_at) VALUES {}",
                Backend::of(&tx).value_rows(chunk.len(), 4)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (seller, manager) in chunk {
                query = query
                    .bind(new_id())
                    .bind(*manager)
                    .bind(*seller)
                    .bind(secs(now));
            }
            query.execute(&mut *tx).await?;
        }
        change.joined = joining
            .into_iter()
            .map(|(seller, manager)| (seller.to_owned(), manager.to_owned()))
            .collect();

        if !change.joined.is_empty() || !change.left.is_empty() {
            plan_due::rebuild(&mut tx).await?;
            sqlx::query(
                "INSERT INTO roster_imports (import_id, imported_at, sellers, joined, left_count) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new_id())
            .bind(secs(now))
            .bind(roster.len() as i64)
            .bind(change.joined.len() as i64)
            .bind(change.left.len() as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(change)
    }

    /// Current memberships, plus those that ended at or after `left_since`, by team then seller.
    pub async fn memberships(&self, left_since: Timestamp) -> anyhow::Result<Vec<Membership>> {
        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT manager_id, seller_id, joined_at, left_at FROM memberships
             WHERE left_at IS NULL OR left_at >= $1
             ORDER BY manager_id, seller_id, joined_at",
        )
        .bind(secs(left_since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(manager_id, seller_id, joined_at, left_at)| Membership {
                manager_id,
                seller_id,
                joined_at: from_secs(joined_at),
                left_at: left_at.map(from_secs),
            })
            .collect())
    }

    /// Whether `manager_id` leads a team in the current roster.
    pub async fn is_current_manager(&self, manager_id: &str) -> anyhow::Result<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT manager_id FROM memberships WHERE manager_id = $1 AND left_at IS NULL LIMIT 1",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The seller's current manager, if they are on the roster.
    pub async fn current_manager_of(&self, seller_id: &str) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT manager_id FROM memberships WHERE seller_id = $1 AND left_at IS NULL",
        )
        .bind(seller_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every current team: (manager, sellers, sellers who can be asked).
    pub async fn team_sizes(&self) -> anyhow::Result<Vec<(String, i64, i64)>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT m.manager_id, COUNT(*), SUM(CASE WHEN {ELIGIBLE} THEN 1 ELSE 0 END)
             FROM memberships m LEFT JOIN people p ON p.person_id = m.seller_id
             WHERE m.left_at IS NULL GROUP BY m.manager_id ORDER BY m.manager_id"
        )))
        .fetch_all(&self.pool)
        .await?)
    }

    /// For each of `managers`, the distinct time zones (None: not known) of the sellers who can
    /// be asked in the team, each with how many sellers have it; in one query per few hundred
    /// teams. Grouped in SQL, so a batch of large teams reads a row per zone, not per seller.
    pub async fn teams_time_zones(
        &self,
        managers: &[&str],
    ) -> anyhow::Result<HashMap<String, Vec<(Option<String>, usize)>>> {
        let mut zones: HashMap<String, Vec<(Option<String>, usize)>> = HashMap::new();
        for chunk in managers.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT m.manager_id, p.tz, COUNT(*) FROM memberships m LEFT JOIN people p ON p.person_id = m.seller_id
                 WHERE m.manager_id IN ({}) AND m.left_at IS NULL AND {ELIGIBLE}
                 GROUP BY m.manager_id, p.tz",
                placeholders(1, chunk.len())
            );
            let mut query =
                sqlx::query_as::<_, (String, Option<String>, i64)>(sqlx::AssertSqlSafe(sql))
                    .persistent(false);
            for manager in chunk {
                query = query.bind(*manager);
            }
            for (manager, tz, sellers) in query.fetch_all(&self.pool).await? {
                let sellers = usize::try_from(sellers)?;
                zones.entry(manager).or_default().push((tz, sellers));
            }
        }
        Ok(zones)
    }

    /// When the roster last changed, if ever.
    pub async fn last_roster_import(&self) -> anyhow::Result<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT MAX(imported_at) FROM roster_imports")
            .fetch_one(&self.pool)
            .await?;
        Ok(at.map(from_secs))
    }
}
