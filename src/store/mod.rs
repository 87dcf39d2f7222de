//! Every SQL statement of trustpulse lives under this module, so the privacy rules can be
//! audited in one place (DESIGN §5). One [`Store`] handle over `sqlx::AnyPool` serves SQLite and
//! PostgreSQL with the same runtime queries (`$N` placeholders, portable types); a backend
//! branch exists only where it must.

mod admins;
mod answer_shuffle;
mod audit;
mod batch_limits;
mod cadences;
mod charts;
mod checkpointer;
mod commitments;
mod disk;
mod inbox;
mod installations;
mod marks;
pub mod migrations;
mod open_waves;
mod outbox;
mod outbox_round;
mod people;
mod plan_due;
mod predictions;
#[cfg(test)]
mod query_plans;
mod release_arrivals;
mod releases;
mod roster;
pub mod schema;
mod script;
mod sqlite_writer;
mod statistics;
mod submission_batch;
mod submission_writer;
mod submissions;
mod token_secrets;
mod wal_forgetting;
mod waves;

pub use answer_shuffle::MOVE_AT_ONCE as PULSES_MOVED_AT_ONCE;
pub use answer_shuffle::MOVE_LOCK as ANSWER_MOVE_LOCK;
pub use audit::{AuditCheck, AuditReport};
pub use batch_limits::BatchLimits;
pub use cadences::CadenceScope;
pub use charts::SharedChart;
pub use commitments::{Commitment, NewCommitment, Shared};
pub use disk::{sqlite_file, sqlite_order_in_file};
pub use inbox::INBOX_KEEP;
pub use installations::InstallationState;
pub use outbox::{ClaimedJob, Job, OutboxCounts};
pub use outbox_round::OutboxRound;
pub use people::Person;
pub use plan_due::PlanDue;
pub use predictions::PredictionOutcome;
pub use release_arrivals::ArrivedRows;
pub use releases::{Participation, WindowDecision, WindowState};
pub use roster::{Membership, RosterChange};
pub use submission_writer::{MAX_BATCH as MAX_SUBMISSION_BATCH, Submission};
pub use submissions::SubmissionError;
pub use waves::{OpenRequest, OpenWaveError, OpenedWave, Wave, WaveState, WaveTiming};

use anyhow::Context;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use crate::privacy::token::TokenSecrets;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The one handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Outbox bookkeeping (claims, marks, retries) commits on its own connections, where a
    /// commit returns once the database server (PostgreSQL) or the operating system (SQLite)
    /// holds the write, without waiting for the disk. A `kill -9` of trustpulse loses none of
    /// it, which is all the crash guarantee needs; a power cut or a database crash can lose the
    /// last few marks and then repeats those DMs, never an answer. Everything else, ballots
    /// first, waits for the disk. This is what lets one process mark each DM right after its
    /// own call and still send thousands a second.
    bookkeeping: AnyPool,
    /// The one connection that writes submissions, owned by the group-commit writer: answers
    /// queue in memory instead of racing pooled connections for SQLite's write lock. None on a
    /// SQLite file, where the writer opens its own on a thread of its own (`sqlite_writer/`).
    submission_pool: Option<AnyPool>,
    submissions: submission_writer::SubmissionQueue,
    /// One SQLite writer at a time in this process (see [`Store::begin_write`]).
    write_gate: Option<Gate>,
    /// Checkpoints the SQLite WAL after the writes, off their path (`checkpointer.rs`).
    checkpointer: Option<std::sync::Arc<checkpointer::Checkpointer>>,
    backend: Backend,
    /// Set when a release deleted rows whose bytes may still sit in the WAL (SQLite) or in dead
    /// tuples (PostgreSQL); cleared once [`Store::scrub`] has made them unreadable.
    scrub_due: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set when close updates may have finished (and at start-up): the next tick then deletes
    /// those of released windows. Unset, an idle tick does not look at the outbox at all.
    close_updates_finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether this process has looked for windows left undecided by an older version.
    undecided_checked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether this process has checked the SQLite file's free space (see `disk.rs`).
    free_space_checked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The SQLite database file, for the checks of `trustpulse audit` that read it directly.
    sqlite_path: Option<std::path::PathBuf>,
    /// The token secrets (`TRUSTPULSE_TOKEN_SECRET`), which make each window's tokens with its
    /// stored key; the submission writer has them too.
    secrets: std::sync::Arc<TokenSecrets>,
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`) and applies any pending migrations.
    /// With no token secret: see [`Store::connect_with`].
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Store::connect_with(url, TokenSecrets::default()).await
    }

    /// Connects as [`Store::connect`] does, with the token secrets that make participation
    /// tokens (`TRUSTPULSE_TOKEN_SECRET`; see `privacy::token`).
    pub async fn connect_with(url: &str, secrets: TokenSecrets) -> anyhow::Result<Store> {
        let store = Store::connect_only(url, secrets).await?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_only(url: &str, secrets: TokenSecrets) -> anyhow::Result<Store> {
        let secrets = std::sync::Arc::new(secrets);
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(crate::config_error::ConfigError::new(
                "DATABASE_URL",
                format!("{} is not a database URL trustpulse knows", redact_url(url)),
                "It must start with sqlite: or postgres:// (for example sqlite:trustpulse.db?mode=rwc)",
            )
            .into());
        };
        let memory = url.contains(":memory:");
        let sqlite_path = disk::sqlite_file(url);
        // Each connection to `sqlite::memory:` would be a separate empty database.
        let max_connections = if memory { 1 } else { 8 };
        let pool = pool_options(backend, max_connections, Durability::Disk)
            // A SQLite connection is a file handle in this process: it cannot have dropped
            // while idle, and the ping before each checkout was one more round trip to its
            // thread for every statement run on the pool. PostgreSQL's connections can drop.
            .test_before_acquire(backend == Backend::Postgres)
            .connect(url)
            .await
            .with_context(|| format!("could not open the database at {}", redact_url(url)))?;
        // Opened on first use, so a CLI command that sends nothing opens no second connection.
        let bookkeeping = if memory {
            pool.clone()
        } else {
            lazy_pool(backend, 2, Durability::Process, url)?
        };
        let (write_gate, checkpointer) = if backend == Backend::Sqlite && !memory {
            // Its own connection, opened on the first write: a checkpoint waits for no writer.
            let checkpoints = lazy_pool(backend, 1, Durability::Disk, url)?;
            let (gate, checkpointer) = checkpointer::Checkpointer::start(checkpoints);
            (Some(gate), Some(std::sync::Arc::new(checkpointer)))
        } else {
            (None, None)
        };
        let (target, submission_pool) = match (&sqlite_path, backend) {
            (Some(path), Backend::Sqlite) => {
                (submission_writer::Target::SqliteFile(path.clone()), None)
            }
            _ => {
                // An in-memory database's one connection is the store's: one writer shares it.
                let writers = if memory {
                    1
                } else {
                    submission_writer::POSTGRES_WRITERS
                };
                // On PostgreSQL, a connection for each batch in flight and one that moves open
                // pulses' answers (`answer_shuffle.rs`) beside them.
                let submission_pool = if memory {
                    pool.clone()
                } else {
                    lazy_pool(backend, writers as u32 + 1, Durability::Disk, url)?
                };
                let target = submission_writer::Target::Pool {
                    pool: submission_pool.clone(),
                    backend,
                    keep_connection: !memory,
                    writers,
                };
                (target, Some(submission_pool))
            }
        };
        let submissions =
            submission_writer::SubmissionQueue::start(target, write_gate.clone(), secrets.clone())?;
        let store = Store {
            pool,
            bookkeeping,
            submission_pool,
            submissions,
            write_gate,
            checkpointer,
            backend,
            // At start-up, whatever a crash may have left behind is scrubbed away.
            scrub_due: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            free_space_checked: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            close_updates_finished: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            undecided_checked: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            sqlite_path,
            secrets,
        };
        Ok(store)
    }

    /// Applies pending migrations (safe to run from several replicas at once on PostgreSQL,
    /// which takes an advisory lock).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => migrations::migrator(migrations::SQLITE),
            Backend::Postgres => migrations::migrator(migrations::POSTGRES),
        };
        migrator
            .run(&self.pool)
            .await
            .context("could not apply database migrations")
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it first takes this process's write gate, then the
    /// database's write lock (`BEGIN IMMEDIATE`): writers queue in order, in memory, instead of
    /// racing for the lock and sleeping in SQLite's busy handler (up to 100 ms a turn), which
    /// is what made answers wait behind a directory sync.
    async fn begin_write(&self) -> anyhow::Result<WriteTx> {
        let gate = self.write_gate().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        Ok(WriteTx {
            tx: tx.context("could not start a database transaction")?,
            _gate: gate,
        })
    }

    /// This process's turn to write to SQLite (None on PostgreSQL, whose writers lock rows, and
    /// on an in-memory database, whose single connection already serialises everything).
    pub(crate) async fn write_gate(&self) -> Option<Turn> {
        take_turn(self.write_gate.as_ref()).await
    }

    /// Closes every connection, after a last scrub so a clean shutdown leaves the SQLite WAL
    /// empty.
    pub async fn close(&self) {
        // No answer is written after the last scrub.
        self.submissions.close().await;
        if self.backend == Backend::Sqlite {
            self.scrub_needed();
            if let Err(e) = self.scrub().await {
                tracing::warn!(error = %e, "could not truncate the SQLite WAL at shutdown");
            }
        }
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop().await;
        }
        if let Some(pool) = &self.submission_pool {
            pool.close().await;
        }
        self.bookkeeping.close().await;
        self.pool.close().await;
    }
}

use checkpointer::{Gate, Turn};
use sqlite_writer::arrivals::{self, Arriving};

/// Waits for this writer's turn at `gate` (at once when there is none).
async fn take_turn(gate: Option<&Gate>) -> Option<Turn> {
    Some(gate?.turn().await)
}

/// A write statement outside a transaction, run in its turn at the SQLite write gate like
/// every other write, so that it never sleeps in SQLite's busy handler behind another writer
/// (nor makes one sleep behind it).
pub(super) trait WriteInTurn {
    async fn write_in_turn(
        self,
        store: &Store,
        pool: &AnyPool,
    ) -> sqlx::Result<sqlx::any::AnyQueryResult>;
}

impl WriteInTurn for sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
    async fn write_in_turn(
        self,
        store: &Store,
        pool: &AnyPool,
    ) -> sqlx::Result<sqlx::any::AnyQueryResult> {
        let _turn = store.write_gate().await;
        self.execute(pool).await
    }
}

/// A write transaction holding the SQLite write gate until it commits or rolls back.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<Turn>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// When a commit returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Once the write is on disk: survives a power cut.
    Disk,
    /// Once the database server (PostgreSQL) or the operating system (SQLite) holds it:
    /// survives a `kill -9` of trustpulse, not a power cut or a database crash.
    Process,
}

/// A pool whose connections open on first use, with no ping before each checkout: a SQLite
/// connection cannot drop while idle, and a dead PostgreSQL one fails its statement, which the
/// caller's next round retries.
fn lazy_pool(
    backend: Backend,
    max_connections: u32,
    durability: Durability,
    url: &str,
) -> anyhow::Result<AnyPool> {
    pool_options(backend, max_connections, durability)
        .test_before_acquire(false)
        .connect_lazy(url)
        .with_context(|| format!("could not open the database at {}", redact_url(url)))
}

/// A statement that fails (a dropped connection, a cancelled query) is written to the server's
/// log, and with this setting above 0 so are its values: an answer's token, scores and comment.
/// Any role may set it for its own sessions, so trustpulse's never log them, whatever the
/// server's configuration says. (Statements logged without failing are the server's
/// `log_parameter_max_length`, which only a superuser may set: `trustpulse audit` checks it.)
const POSTGRES_NO_VALUES_IN_ERROR_LOGS: &str = "SET log_parameter_max_length_on_error = 0";

/// PostgreSQL compiles a query to machine code (JIT) when its estimated cost is high, which
/// trustpulse's are when a table it keeps no statistics of is large (see
/// `store::statistics`). Its queries each take milliseconds, and the compiling took 100 to
/// 170 ms a statement: a release batch's read of its windows took 139 ms with it, 13.5 ms
/// without (`EXPLAIN ANALYZE`, 30,000 teams).
const POSTGRES_NO_JIT: &str = "SET jit = off";

fn pool_options(backend: Backend, max_connections: u32, durability: Durability) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let settings: &[&str] = match (backend, durability) {
                    // WAL lets readers proceed while the single writer writes. SQLite's default
                    // `synchronous=FULL` syncs the WAL at every commit.
                    (Backend::Sqlite, Durability::Disk) => disk::SQLITE_PRIVACY_PRAGMAS,
                    // `NORMAL` in WAL mode writes the commit to the WAL file without syncing it;
                    // the next `FULL` commit or checkpoint syncs it. The database stays intact.
                    (Backend::Sqlite, Durability::Process) => disk::SQLITE_BOOKKEEPING_PRAGMAS,
                    (Backend::Postgres, Durability::Disk) => {
                        &[POSTGRES_NO_VALUES_IN_ERROR_LOGS, POSTGRES_NO_JIT]
                    }
                    // PostgreSQL's asynchronous commit: consistent, and at most a few hundred
                    // milliseconds of these commits are lost if the server itself crashes.
                    (Backend::Postgres, Durability::Process) => &[
                        "SET synchronous_commit = off",
                        POSTGRES_NO_VALUES_IN_ERROR_LOGS,
                        POSTGRES_NO_JIT,
                    ],
                };
                for setting in settings {
                    sqlx::query(sqlx::AssertSqlSafe(*setting))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
}

/// A random 128-bit id as hex. Random rather than sequential, so ids reveal no order.
fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// An id that sorts by when it was made: a time in microseconds, strictly increasing within
/// this process, then 64 random bits, as hex. For waves and windows: the rows of a wave (its
/// invitees, invitations, tokens, ballots) are keyed by its id first, so the waves a tick opens
/// together sit side by side in every table, and closing them in the same order rewrites a few
/// pages per batch instead of a page or more per wave in each table. For outbox jobs: their
/// order in line. The time says when the wave was opened or the job queued, which its own row
/// says already; nothing about who answered. Never for ballots or comments.
fn new_ordered_id(now: Timestamp) -> String {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = now.as_microsecond();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .expect("the update always succeeds");
    format!(
        "{:016x}{}",
        now.max(previous + 1),
        hex::encode(rand::random::<[u8; 8]>())
    )
}

/// Ids per `IN (…)` list: bounded lists keep each statement well under every backend's
/// parameter limit.
const IN_LIST_CHUNK: usize = 500;

impl Backend {
    /// The backend of a connection, for SQL that is written differently on each.
    fn of(conn: &AnyConnection) -> Backend {
        match conn.backend_name() {
            "PostgreSQL" => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The `VALUES` rows of a multi-row insert: `rows` rows of `width` placeholders, bound row
    /// by row, value by value, in order. On SQLite they are anonymous (`?`): SQLite finds a
    /// named one (`$7`) by walking the statement's list of names, once per value as it is
    /// bound, so a statement of a few hundred `$N` spent its time there (13% of the CPU of
    /// opening 1,000 pulses of 100 sellers went to `sqlite3_bind_parameter_name`). A statement
    /// using these must use no named placeholder: sqlx numbers `?` by position only.
    ///
    /// Written into one string: a batch of answers builds four of these, and a string for each
    /// placeholder and row made the SQL's text a tenth of the answer path's allocations.
    fn value_rows(self, rows: usize, width: usize) -> String {
        let mut sql = String::with_capacity(rows * (width * 5 + 4));
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            self.push_params(&mut sql, 1 + r * width, width);
            sql.push(')');
        }
        sql
    }

    /// `count` placeholders for values `first..first + count` of a statement (an `IN (…)`
    /// list): anonymous on SQLite (see [`Backend::value_rows`]), so a statement using them
    /// must use no named one; `$first, …` on PostgreSQL.
    fn params(self, first: usize, count: usize) -> String {
        let mut sql = String::with_capacity(count * 5);
        self.push_params(&mut sql, first, count);
        sql
    }

    fn push_params(self, sql: &mut String, first: usize, count: usize) {
        match self {
            Backend::Sqlite => {
                for i in 0..count {
                    sql.push_str(if i == 0 { "?" } else { ", ?" });
                }
            }
            Backend::Postgres => {
                use std::fmt::Write;
                for i in first..first + count {
                    let separator = if i == first { "" } else { ", " };
                    write!(sql, "{separator}${i}").expect("a String takes any text");
                }
            }
        }
    }
}

/// A read of one pulse's rows of `table`'s kept table (`ballots` or `comments`) as its readers
/// must see it: on SQLite, with its rows still where they arrived (`sqlite_writer/arrivals.rs`)
/// that are not copied yet, each row once. `sql` reads `FROM {kept} {alias}` alone and ends
/// with its `WHERE`, a conjunction; on SQLite the same read of the arriving table follows it,
/// `UNION ALL`, with the guard added. (A release reads many pulses' by rowid,
/// `releases::arriving_answers`.)
fn with_arriving(backend: Backend, table: &Arriving, alias: &str, sql: &str) -> String {
    if backend == Backend::Postgres {
        return sql.to_owned();
    }
    let (kept, id) = (table.kept, table.id);
    let from = format!("FROM {kept} {alias}");
    debug_assert!(sql.contains(&from), "{sql}");
    let arriving = sql.replacen(&from, &format!("FROM {} {alias}", table.name), 1);
    format!(
        "{sql} UNION ALL {arriving}
           AND NOT EXISTS (SELECT 1 FROM {kept} kept
                           WHERE kept.wave_id = {alias}.wave_id AND kept.{id} = {alias}.{id})"
    )
}

/// `$first, $first+1, …`: one placeholder per value of an `IN (…)` list, the same on both
/// backends.
fn placeholders(first: usize, count: usize) -> String {
    Backend::Postgres.params(first, count)
}

/// The ballot in a row's columns `first..first + Question::COUNT` (selected with
/// [`crate::survey::Question::columns`]), then, when `with_follow_through`, the
/// follow-through column.
fn ballot_at(
    row: &sqlx::any::AnyRow,
    first: usize,
    with_follow_through: bool,
) -> anyhow::Result<crate::survey::Ballot> {
    use sqlx::Row;
    let count = crate::survey::Question::COUNT;
    let mut values = [0i64; crate::survey::Question::COUNT];
    for (i, value) in values.iter_mut().enumerate() {
        *value = row.try_get(first + i)?;
    }
    let follow_through = match with_follow_through {
        true => row
            .try_get::<Option<i64>, _>(first + count)?
            .map(crate::survey::FollowThrough::from_value)
            .transpose()?,
        false => None,
    };
    Ok(crate::survey::Ballot::new(values)?.with_follow_through(follow_through))
}

fn secs(at: Timestamp) -> i64 {
    at.as_second()
}

fn from_secs(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A database URL fit for an error message: the password is never shown, whether it is in the
/// user info (`postgres://app:secret@db`) or a query parameter (`?password=secret`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &base[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    format!("{}{}:***{}", &base[..scheme_end + 3], user, &base[at..])
                }
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    let Some(query) = query else {
        return base;
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}=***")
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The placeholders' text, on each backend: rows of anonymous `?` on SQLite, numbered
    /// `$N` on PostgreSQL, numbered on from the first row.
    #[test]
    fn value_rows_and_params_read_as_sql() {
        assert_eq!(Backend::Sqlite.value_rows(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(Backend::Sqlite.value_rows(1, 1), "(?)");
        assert_eq!(Backend::Postgres.value_rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(Backend::Sqlite.params(4, 3), "?, ?, ?");
        assert_eq!(Backend::Postgres.params(4, 3), "$4, $5, $6");
        assert_eq!(placeholders(9, 2), "$9, $10");
        assert_eq!(Backend::Sqlite.value_rows(0, 3), "");
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/tp"),
            "postgres://app:***@db:5432/tp"
        );
        assert_eq!(
            redact_url("sqlite:trustpulse.db?mode=rwc"),
            "sqlite:trustpulse.db?mode=rwc"
        );
        assert_eq!(
            redact_url("postgres://app@db/tp?sslmode=require&password=s3cret"),
            "postgres://app@db/tp?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://app:p@ss@db/tp?sslpassword=k3y"),
            "postgres://app:***@db/tp?sslpassword=***"
        );
    }

    /// What a power cut may take, pool by pool (SQLite's `synchronous`: 2 waits for the disk
    /// at each commit, 1 does not). Releases, the planner and whatever people do wait for the
    /// disk; only the outbox's marks do not (a lost mark repeats a DM, never loses an answer).
    #[tokio::test]
    async fn only_the_outbox_commits_without_waiting_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("d.db").display());
        let store = Store::connect(&url).await.unwrap();
        let synchronous = |pool: AnyPool| async move {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap();
            level
        };
        assert_eq!(synchronous(store.pool.clone()).await, 2, "FULL");
        assert_eq!(synchronous(store.bookkeeping.clone()).await, 1, "NORMAL");
        store.close().await;
    }

    #[test]
    fn ids_are_random_not_sequential() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    /// Waves opened in one tick share its `now`, yet sort in the order they were made, so
    /// their rows sit side by side; the random half still tells them apart.
    #[test]
    fn ordered_ids_sort_in_the_order_they_were_made() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let ids: Vec<String> = (0..1000).map(|_| new_ordered_id(now)).collect();
        assert!(ids.iter().all(|id| id.len() == 32));
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "strictly increasing"
        );
        let earlier = Timestamp::from_second(1_700_000_000).unwrap();
        assert!(
            new_ordered_id(earlier) > ids[999],
            "never behind an id already made"
        );
    }
}
