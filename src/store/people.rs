//! People as Slack describes them: time zone, bot and deactivated flags, opt-out.

use jiff::Timestamp;

use super::WriteInTurn;
use super::plan_due;
use super::{IN_LIST_CHUNK, Store, placeholders, secs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub person_id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub tz: Option<String>,
    pub is_bot: bool,
    pub is_deactivated: bool,
    pub opted_out: bool,
    /// The bot's DM channel with the person, once known.
    pub dm_channel: Option<String>,
}

impl Person {
    /// A person known only by id (e.g. from a roster file), until Slack tells us more.
    pub fn from_id(person_id: &str) -> Person {
        Person {
            person_id: person_id.to_owned(),
            display_name: None,
            email: None,
            tz: None,
            is_bot: false,
            is_deactivated: false,
            opted_out: false,
            dm_channel: None,
        }
    }

    /// Bots and deactivated users are never invited or counted; nor is anyone who opted out.
    /// (The same rule in SQL, for a `people p` joined to a roster: [`ELIGIBLE`].)
    pub fn is_eligible(&self) -> bool {
        !self.is_bot && !self.is_deactivated && !self.opted_out
    }
}

/// [`Person::is_eligible`] in SQL, for `people p` left-joined to a roster (someone Slack has
/// not told us about yet counts as eligible).
pub(super) const ELIGIBLE: &str = "COALESCE(p.is_bot, 0) = 0 AND COALESCE(p.is_deactivated, 0) = 0 AND COALESCE(p.opted_out, 0) = 0";

type PersonRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    Option<String>,
);

const SELECT_PERSON: &str = "SELECT person_id, display_name, email, tz, is_bot, is_deactivated, opted_out, dm_channel FROM people";

fn person_from_row(row: PersonRow) -> Person {
    let (person_id, display_name, email, tz, is_bot, is_deactivated, opted_out, dm_channel) = row;
    Person {
        person_id,
        display_name,
        email,
        tz,
        is_bot: is_bot != 0,
        is_deactivated: is_deactivated != 0,
        opted_out: opted_out != 0,
        dm_channel,
    }
}

/// Inserts a bare row for each id not yet known (each named once), a statement per chunk;
/// leaves known people untouched.
pub(super) async fn ensure_people(
    conn: &mut sqlx::AnyConnection,
    ids: &[&str],
    now: Timestamp,
) -> sqlx::Result<()> {
    for chunk in ids.chunks(IN_LIST_CHUNK / 2) {
        let sql = format!(
            "INSERT INTO people (person_id, updated_at) VALUES {} ON CONFLICT (person_id) DO NOTHING",
            super::Backend::of(conn).value_rows(chunk.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for id in chunk {
            query = query.bind(*id).bind(secs(now));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Records what Slack says about a person. The opt-out choice is the person's own and is
    /// kept as it is.
    pub async fn upsert_person(&self, person: &Person, now: Timestamp) -> anyhow::Result<()> {
        self.upsert_people(std::slice::from_ref(person), now).await
    }

    /// [`Store::upsert_person`] for many people (a page of Slack's directory), in one
    /// transaction of three statements per [`UPSERT_CHUNK`] people. It holds SQLite's write
    /// gate, so answers wait for it: with two or three statements per person, a page of 200
    /// held the gate for 9 to 18 ms at the median and up to 73 ms (`directory_bench`, now 3 to
    /// 5 ms), and the directory sync at start-up and once a day delayed answers by as much,
    /// page after page.
    pub async fn upsert_people(&self, people: &[Person], now: Timestamp) -> anyhow::Result<()> {
        // Slack names each person once per page; should it not, the last word counts (and
        // PostgreSQL refuses to update a row twice in one statement).
        let mut latest: std::collections::HashMap<&str, &Person> =
            std::collections::HashMap::with_capacity(people.len());
        for person in people {
            latest.insert(person.person_id.as_str(), person);
        }
        let mut people: Vec<&Person> = latest.into_values().collect();
        // In id order, as the hash map's order is random: two replicas syncing at once on
        // PostgreSQL then lock the same rows in the same order, and cannot deadlock.
        people.sort_unstable_by(|a, b| a.person_id.cmp(&b.person_id));
        let mut tx = self.begin_write().await?;
        for chunk in people.chunks(UPSERT_CHUNK) {
            upsert_chunk(&mut tx, chunk, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn person(&self, person_id: &str) -> anyhow::Result<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT_PERSON} WHERE person_id = $1"
        )))
        .bind(person_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(person_from_row))
    }

    /// Several people at once (one query), by id.
    pub async fn people_by_ids(
        &self,
        ids: &[&str],
    ) -> anyhow::Result<std::collections::HashMap<String, Person>> {
        let mut found = std::collections::HashMap::new();
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "{SELECT_PERSON} WHERE person_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, PersonRow>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let person = person_from_row(row);
                found.insert(person.person_id.clone(), person);
            }
        }
        Ok(found)
    }

    pub async fn set_dm_channel(
        &self,
        person_id: &str,
        channel: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.record_dm_channel(&self.pool, person_id, channel, now)
            .await
    }

    /// Remembers the DM channel Slack named when a message was first addressed to a person's
    /// user id. On the bookkeeping connections, with no wait for the disk: losing it to a power
    /// cut costs only the next message being addressed to the user id again.
    pub async fn remember_dm_channel(
        &self,
        person_id: &str,
        channel: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.record_dm_channel(&self.bookkeeping, person_id, channel, now)
            .await
    }

    async fn record_dm_channel(
        &self,
        pool: &sqlx::AnyPool,
        person_id: &str,
        channel: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO people (person_id, dm_channel, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (person_id) DO UPDATE SET dm_channel = excluded.dm_channel",
        )
        .bind(person_id)
        .bind(channel)
        .bind(secs(now))
        .write_in_turn(self, pool)
        .await?;
        Ok(())
    }

    pub async fn set_opted_out(
        &self,
        person_id: &str,
        opted_out: bool,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        ensure_people(&mut tx, &[person_id], now).await?;
        sqlx::query("UPDATE people SET opted_out = $2, updated_at = $3 WHERE person_id = $1")
            .bind(person_id)
            .bind(i64::from(opted_out))
            .bind(secs(now))
            .execute(&mut *tx)
            .await?;
        // Their team's time zones are those of the sellers who can be asked.
        plan_due::replan_people(&mut tx, &[person_id]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// People per statement of [`Store::upsert_people`]: a directory page (7 values each).
const UPSERT_CHUNK: usize = 200;
const _: () = assert!(UPSERT_CHUNK <= IN_LIST_CHUNK);

/// What Slack says of a person that moves their team's plans.
type PlanFacts = (Option<String>, i64, i64);

fn plan_facts(person: &Person) -> PlanFacts {
    (
        person.tz.clone(),
        i64::from(person.is_bot),
        i64::from(person.is_deactivated),
    )
}

/// Records `people` (each named once) inside the transaction `tx` in three statements: what is
/// known of them, their new facts, and their teams marked for planning where a time zone or
/// whether they can be asked changed.
async fn upsert_chunk(
    tx: &mut sqlx::AnyConnection,
    people: &[&Person],
    now: Timestamp,
) -> anyhow::Result<()> {
    let ids: Vec<&str> = people.iter().map(|p| p.person_id.as_str()).collect();
    let sql = format!(
        "SELECT person_id, tz, is_bot, is_deactivated FROM people WHERE person_id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query =
        sqlx::query_as::<_, (String, Option<String>, i64, i64)>(sqlx::AssertSqlSafe(sql))
            .persistent(false);
    for id in &ids {
        query = query.bind(*id);
    }
    let known: std::collections::HashMap<String, PlanFacts> = query
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, tz, bot, deactivated)| (id, (tz, bot, deactivated)))
        .collect();

    let sql = format!(
        "INSERT INTO people (person_id, display_name, email, tz, is_bot, is_deactivated, updated_at)
         VALUES {}
         ON CONFLICT (person_id) DO UPDATE SET
            display_name = excluded.display_name, email = excluded.email, tz = excluded.tz,
            is_bot = excluded.is_bot, is_deactivated = excluded.is_deactivated,
            updated_at = excluded.updated_at",
        super::Backend::of(tx).value_rows(people.len(), 7)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for person in people {
        query = query
            .bind(&person.person_id)
            .bind(&person.display_name)
            .bind(&person.email)
            .bind(&person.tz)
            .bind(i64::from(person.is_bot))
            .bind(i64::from(person.is_deactivated))
            .bind(secs(now));
    }
    query.execute(&mut *tx).await?;

    // A new time zone, or someone who can no longer be asked, moves their team's openings
    // (with `--tz seller`) and, for a manager, their digest time.
    let moved: Vec<&str> = people
        .iter()
        .filter(|p| known.get(&p.person_id) != Some(&plan_facts(p)))
        .map(|p| p.person_id.as_str())
        .collect();
    plan_due::replan_people(&mut *tx, &moved).await?;
    Ok(())
}
