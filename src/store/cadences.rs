//! The org default cadence and per-team overrides.

use std::collections::HashMap;

use anyhow::Context;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::plan_due;
use super::{IN_LIST_CHUNK, Store, from_secs, placeholders, secs};
use crate::survey::cadence::{Cadence, Zone, format_time, parse_time, parse_weekday, weekday_name};

/// Which cadence: the organisation's default, or one team's override.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CadenceScope {
    Org,
    Manager(String),
}

impl CadenceScope {
    fn key(&self) -> &str {
        match self {
            CadenceScope::Org => "org",
            CadenceScope::Manager(id) => id,
        }
    }

    fn from_key(key: String) -> CadenceScope {
        if key == "org" {
            CadenceScope::Org
        } else {
            CadenceScope::Manager(key)
        }
    }
}

/// A cadence row, and when it was set (`updated_at`).
type CadenceRow = (
    String,
    i64,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    i64,
);

const SELECT: &str =
    "SELECT scope, every_weeks, weekday, local_time, tz, open_for_secs, remind_after_secs,
        digest_weekday, digest_time, anchor_date, updated_at FROM cadences";

fn cadence_from_row(row: CadenceRow) -> anyhow::Result<(CadenceScope, Cadence)> {
    let (
        scope,
        every,
        weekday,
        time,
        tz,
        open_for,
        remind_after,
        digest_weekday,
        digest_time,
        anchor,
        _set_at,
    ) = row;
    let bad = || format!("the stored cadence for {scope} is unreadable");
    let cadence = Cadence {
        every_weeks: u8::try_from(every).with_context(bad)?,
        weekday: parse_weekday(&weekday).with_context(bad)?,
        time: parse_time(&time)
            .map_err(anyhow::Error::msg)
            .with_context(bad)?,
        zone: Zone::parse(&tz)
            .map_err(anyhow::Error::msg)
            .with_context(bad)?,
        open_for: SignedDuration::from_secs(open_for),
        remind_after: SignedDuration::from_secs(remind_after),
        digest_weekday: parse_weekday(&digest_weekday).with_context(bad)?,
        digest_time: parse_time(&digest_time)
            .map_err(anyhow::Error::msg)
            .with_context(bad)?,
        anchor: anchor.parse::<Date>().with_context(bad)?,
    };
    Ok((CadenceScope::from_key(scope), cadence))
}

impl Store {
    pub async fn set_cadence(
        &self,
        scope: &CadenceScope,
        cadence: &Cadence,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO cadences (scope, every_weeks, weekday, local_time, tz, open_for_secs,
                remind_after_secs, digest_weekday, digest_time, anchor_date, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (scope) DO UPDATE SET
                every_weeks = excluded.every_weeks, weekday = excluded.weekday,
                local_time = excluded.local_time, tz = excluded.tz,
                open_for_secs = excluded.open_for_secs, remind_after_secs = excluded.remind_after_secs,
                digest_weekday = excluded.digest_weekday, digest_time = excluded.digest_time,
                anchor_date = excluded.anchor_date, updated_at = excluded.updated_at",
        )
        .bind(scope.key())
        .bind(i64::from(cadence.every_weeks))
        .bind(weekday_name(cadence.weekday))
        .bind(format_time(cadence.time))
        .bind(cadence.zone.to_string())
        .bind(cadence.open_for.as_secs())
        .bind(cadence.remind_after.as_secs())
        .bind(weekday_name(cadence.digest_weekday))
        .bind(format_time(cadence.digest_time))
        .bind(cadence.anchor.to_string())
        .bind(secs(now))
        .execute(&mut *tx)
        .await?;
        // The teams it applies to are planned afresh at the next tick.
        match scope {
            CadenceScope::Org => plan_due::replan_all(&mut tx).await?,
            CadenceScope::Manager(manager) => plan_due::replan_team(&mut *tx, manager).await?,
        }
        tx.commit().await?;
        Ok(())
    }

    /// The cadence stored for exactly this scope, if any.
    pub async fn cadence(&self, scope: &CadenceScope) -> anyhow::Result<Option<Cadence>> {
        let row: Option<CadenceRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE scope = $1")))
                .bind(scope.key())
                .fetch_optional(&self.pool)
                .await?;
        row.map(cadence_from_row)
            .transpose()
            .map(|found| found.map(|(_, c)| c))
    }

    /// Every stored cadence, the org default first.
    pub async fn cadences(&self) -> anyhow::Result<Vec<(CadenceScope, Cadence)>> {
        let rows: Vec<CadenceRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY scope")))
                .fetch_all(&self.pool)
                .await?;
        let mut all = rows
            .into_iter()
            .map(cadence_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// The cadence a team follows: its override, else the org default, else the built-in one.
    pub async fn effective_cadence(
        &self,
        manager_id: &str,
        today: Date,
    ) -> anyhow::Result<Cadence> {
        if let Some(own) = self
            .cadence(&CadenceScope::Manager(manager_id.to_owned()))
            .await?
        {
            return Ok(own);
        }
        self.org_cadence(today).await
    }

    /// The cadence the planner follows for a team, and when it was set: the team's override,
    /// else the org default. None while HR has set neither: until then no pulse is sent.
    pub async fn scheduled_cadence(
        &self,
        manager_id: &str,
    ) -> anyhow::Result<Option<(Cadence, Timestamp)>> {
        Ok(self
            .scheduled_cadences(&[manager_id])
            .await?
            .remove(manager_id))
    }

    /// What [`Store::scheduled_cadence`] says for each of `managers` that has a cadence, in one
    /// query: the planner looks at a batch of teams at a time, and a query per team (two, here)
    /// cost it more in round trips to the database thread than in the query itself.
    pub async fn scheduled_cadences(
        &self,
        managers: &[&str],
    ) -> anyhow::Result<HashMap<String, (Cadence, Timestamp)>> {
        let mut org = None;
        let mut own = HashMap::new();
        for chunk in managers.chunks(IN_LIST_CHUNK - 1) {
            let sql = format!(
                "{SELECT} WHERE scope IN ({})",
                placeholders(1, chunk.len() + 1)
            );
            let mut query = sqlx::query_as::<_, CadenceRow>(sqlx::AssertSqlSafe(sql))
                .persistent(false)
                .bind(CadenceScope::Org.key());
            for manager in chunk {
                query = query.bind(*manager);
            }
            for row in query.fetch_all(&self.pool).await? {
                let set_at = from_secs(row.10);
                let (scope, cadence) = cadence_from_row(row)?;
                let set = (cadence, set_at);
                match scope {
                    CadenceScope::Org => org = Some(set),
                    CadenceScope::Manager(manager) => {
                        own.insert(manager, set);
                    }
                }
            }
        }
        Ok(managers
            .iter()
            .filter_map(|m| {
                let set = own.remove(*m).or_else(|| org.clone())?;
                Some(((*m).to_owned(), set))
            })
            .collect())
    }

    /// Whether HR has set the org default (without it, only teams with their own cadence are
    /// ever asked).
    pub async fn has_org_cadence(&self) -> anyhow::Result<bool> {
        Ok(self.cadence(&CadenceScope::Org).await?.is_some())
    }

    /// The org default, or the built-in one as the starting point for setting it (it is not
    /// followed until set).
    pub async fn org_cadence(&self, today: Date) -> anyhow::Result<Cadence> {
        Ok(self
            .cadence(&CadenceScope::Org)
            .await?
            .unwrap_or_else(|| Cadence::builtin_default(today)))
    }
}
