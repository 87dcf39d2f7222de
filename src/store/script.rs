//! Statements that return nothing, run in order inside a transaction: on SQLite, those that
//! are parsed each time anyway go in one call to the connection's thread; on PostgreSQL each
//! runs on its own, as before.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, and every call is a round
//! trip to it and back. When the machine's other core is idle, each side of the trip waits
//! for it to wake: 75 to 95 µs for a `SELECT 1` on the 2-core development machine, 10 µs
//! while another thread kept a core busy. Opening a pulse wrote its window, key, wave and
//! invitations in four calls, and a close batch its releases and deletions in eight or more;
//! the planner's ticks and `wave start` run one such transaction after another, mostly on one
//! core, so they paid that wake each time. sqlx runs a text of several statements in one call,
//! binding the values in order.
//!
//! Statements whose text repeats (the outbox's inserts of a hundred jobs) stay in the
//! connection's statement cache and run in calls of their own: parsing a hundred rows of
//! placeholders again cost more than the trip (100 to 160 µs against 80). Short statements
//! repeated once per team (`push_repeated`) are joined on SQLite, where parsing them costs less
//! than the trip, and stay prepared on PostgreSQL, where they run one by one anyway.
//!
//! A script's statements use [`Backend::params`] and [`Backend::value_rows`] placeholders,
//! numbered from 1 in each statement: anonymous (`?`) on SQLite, so the values of the joined
//! text bind in order, and `$1…` on PostgreSQL.

use sqlx::{Any, AnyConnection};

use super::Backend;

/// One value bound to a statement, in order: the same list for either driver.
#[derive(Debug)]
pub(super) enum Value<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Owned(String),
    OptInt(Option<i64>),
    Int(i64),
    Blob(&'a [u8]),
    /// A NULL in a column of blobs (PostgreSQL types a parameter by its value).
    OptBlob(Option<&'a [u8]>),
}

/// Statements to run together, each with its values.
pub(super) struct Script<'a> {
    backend: Backend,
    statements: Vec<Statement<'a>>,
}

struct Statement<'a> {
    sql: String,
    values: Vec<Value<'a>>,
    kind: Kind,
}

/// How a statement is parsed and run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Parsed each time it runs; joined with its neighbours on SQLite.
    Parsed,
    /// Kept prepared in the connection's statement cache, and so run on its own.
    Cached,
    /// A short text that repeats: joined on SQLite (parsing it is cheaper than a trip), kept
    /// prepared on PostgreSQL (where an unprepared statement costs a round trip of its own).
    Repeated,
}

impl<'a> Script<'a> {
    pub(super) fn new(backend: Backend) -> Script<'a> {
        Script {
            backend,
            statements: Vec::new(),
        }
    }

    pub(super) fn backend(&self) -> Backend {
        self.backend
    }

    /// Adds `sql`, whose placeholders take `values` in order; it is parsed each time it runs.
    pub(super) fn push(&mut self, sql: String, values: Vec<Value<'a>>) {
        self.add(sql, values, Kind::Parsed);
    }

    /// Adds `sql`, kept prepared for the next time the same text runs: for a statement whose
    /// text repeats (the same number of rows), as parsing a few hundred placeholders costs
    /// more than a round trip. It runs in a call of its own.
    pub(super) fn push_cached(&mut self, sql: String, values: Vec<Value<'a>>) {
        self.add(sql, values, Kind::Cached);
    }

    /// Adds `sql`, a short statement whose text repeats (one per team of a batch): joined
    /// with the others on SQLite, kept prepared on PostgreSQL, as it was before it joined a
    /// script.
    pub(super) fn push_repeated(&mut self, sql: String, values: Vec<Value<'a>>) {
        self.add(sql, values, Kind::Repeated);
    }

    fn add(&mut self, sql: String, values: Vec<Value<'a>>, kind: Kind) {
        // A named placeholder would be bound by its number in the joined text, not in its own
        // statement: another statement's value.
        debug_assert!(
            self.backend == Backend::Postgres || !has_numbered_placeholder(&sql),
            "a SQLite script statement uses `?` placeholders only: {sql}"
        );
        self.statements.push(Statement { sql, values, kind });
    }

    /// Runs every statement, in order, on `conn` (inside the caller's transaction: a failure
    /// part way leaves the earlier statements for the caller's rollback). On SQLite, each run
    /// of statements that are parsed anyway goes in one call.
    pub(super) async fn run(self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        let mut joined = String::new();
        let mut values = Vec::new();
        for statement in self.statements {
            if self.backend == Backend::Sqlite && statement.kind != Kind::Cached {
                joined.push_str(&statement.sql);
                joined.push_str(";\n");
                values.extend(statement.values);
                continue;
            }
            execute(
                conn,
                std::mem::take(&mut joined),
                std::mem::take(&mut values),
                false,
            )
            .await?;
            let prepared = statement.kind != Kind::Parsed;
            execute(conn, statement.sql, statement.values, prepared).await?;
        }
        execute(conn, joined, values, false).await
    }
}

async fn execute(
    conn: &mut AnyConnection,
    sql: String,
    values: Vec<Value<'_>>,
    cached: bool,
) -> anyhow::Result<()> {
    if sql.is_empty() {
        return Ok(());
    }
    let query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(cached);
    bind(query, values).execute(&mut *conn).await?;
    Ok(())
}

/// Whether `sql` has a `$N` placeholder.
fn has_numbered_placeholder(sql: &str) -> bool {
    sql.as_bytes()
        .windows(2)
        .any(|pair| pair[0] == b'$' && pair[1].is_ascii_digit())
}

/// Binds `values` to a sqlx query, in order.
pub(super) fn bind<'q, Q: Bind<'q>>(mut query: Q, values: Vec<Value<'q>>) -> Q {
    for value in values {
        query = match value {
            Value::Text(v) => query.bind_one(v),
            Value::OptText(v) => query.bind_one(v),
            Value::Owned(v) => query.bind_one(v),
            Value::OptInt(v) => query.bind_one(v),
            Value::Int(v) => query.bind_one(v),
            Value::Blob(v) => query.bind_one(v.to_vec()),
            Value::OptBlob(v) => query.bind_one(v.map(<[u8]>::to_vec)),
        };
    }
    query
}

/// `bind` for both of sqlx's query types.
pub(super) trait Bind<'q>: Sized {
    fn bind_one<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>;
}

impl<'q> Bind<'q> for sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    fn bind_one<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        self.bind(value)
    }
}

impl<'q, O> Bind<'q> for sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments> {
    fn bind_one<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        self.bind(value)
    }
}
