//! Test helpers: a fresh database per test on either backend, and common fixtures.

use std::io::Write;
use std::sync::Once;

use jiff::Timestamp;
use sqlx::Connection;
use trustpulse::privacy::MinRespondents;
use trustpulse::store::{OpenRequest, OpenWaveError, OpenedWave, Person, Store, WaveTiming};
use trustpulse::survey::Answers;
use trustpulse::survey::roster::{Roster, RosterRow};

/// The variable that points the PostgreSQL half of the suite at a server.
pub const PG_VAR: &str = "TEST_DATABASE_URL";

/// A database that exists for one test only.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        TestDb {
            store,
            url,
            cleanup: Cleanup::File(dir),
        }
    }

    /// A fresh PostgreSQL database, or None (with a note on stderr) when no server is configured.
    pub async fn postgres() -> Option<TestDb> {
        Some(TestDb::postgres_empty().await?.open().await)
    }

    /// A fresh PostgreSQL database left empty (no migration run), for a test that builds an
    /// older schema first; the store is opened on it by `open`.
    pub async fn postgres_empty() -> Option<EmptyPostgres> {
        let (admin_url, name, url) = empty_postgres_database().await?;
        Some(EmptyPostgres {
            url,
            admin_url,
            name,
        })
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup {
            drop_postgres_database(&admin_url, &name).await;
        }
    }
}

/// A PostgreSQL database of one test, before the store is opened on it.
pub struct EmptyPostgres {
    pub url: String,
    admin_url: String,
    name: String,
}

impl EmptyPostgres {
    /// The store on this database (which runs the migrations), dropped with it at `finish`.
    pub async fn open(self) -> TestDb {
        let store = Store::connect(&self.url).await.unwrap();
        TestDb {
            store,
            url: self.url,
            cleanup: Cleanup::Postgres {
                admin_url: self.admin_url,
                name: self.name,
            },
        }
    }
}

/// A new database on the server of [`PG_VAR`], as (admin URL, name, URL), or None (with a
/// note on stderr) when no server is configured.
async fn empty_postgres_database() -> Option<(String, String, String)> {
    let Ok(admin_url) = std::env::var(PG_VAR) else {
        static NOTE: Once = Once::new();
        NOTE.call_once(|| {
            // Written straight to the stderr handle so the test harness does not swallow it.
            let _ = writeln!(
                std::io::stderr(),
                "NOTE: the PostgreSQL half of the store suite was SKIPPED because {PG_VAR} is not set. \
                 Set it (e.g. {PG_VAR}=postgres://postgres@127.0.0.1:5432/test) to run it; .ci/run does."
            );
        });
        return None;
    };
    let name = format!("trustpulse_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{PG_VAR} is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let url = with_database(&admin_url, &name);
    Some((admin_url, name, url))
}

async fn drop_postgres_database(admin_url: &str, name: &str) {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs each `async fn name(store: Store) { … }` twice: `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($store:ident : Store) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($store: trustpulse::store::Store) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::helpers::TestDb::sqlite().await;
                    body(db.store.clone()).await;
                    db.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(db) = $crate::helpers::TestDb::postgres().await else { return };
                    body(db.store.clone()).await;
                    db.finish().await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

/// As [`on_both_backends`], for a test that needs the database itself (its URL, to reopen it
/// or to reach it behind the store's back): each `async fn name(db: TestDb)` becomes
/// `name::sqlite` and `name::postgres`. The test finishes the database itself.
macro_rules! on_both_databases {
    ($(async fn $name:ident($db:ident : TestDb) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($db: $crate::helpers::TestDb) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    body($crate::helpers::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(db) = $crate::helpers::TestDb::postgres().await else { return };
                    body(db).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_databases;

pub fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Monday 2026-11-23 10:00 UTC: the tests' "now".
pub fn now() -> Timestamp {
    ts("2026-11-23T10:00:00Z")
}

pub fn k(n: u32) -> MinRespondents {
    MinRespondents::new(n).unwrap()
}

/// A roster from (seller, manager) pairs.
pub fn roster(pairs: &[(&str, &str)]) -> Roster {
    let rows: Vec<RosterRow<String>> = pairs
        .iter()
        .enumerate()
        .map(|(i, (s, m))| RosterRow {
            line: i as u64 + 2,
            seller: s.to_string(),
            manager: m.to_string(),
        })
        .collect();
    Roster::from_rows(&rows).unwrap()
}

/// `n` sellers `U0SELLER1…` reporting to `manager`.
pub fn team(manager: &str, n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| (format!("{manager}S{i}"), manager.to_owned()))
        .collect()
}

pub async fn import_teams(store: &Store, teams: &[Vec<(String, String)>]) {
    let pairs: Vec<(&str, &str)> = teams
        .iter()
        .flatten()
        .map(|(s, m)| (s.as_str(), m.as_str()))
        .collect();
    store.replace_roster(&roster(&pairs), now()).await.unwrap();
}

/// Opens `manager`'s wave for `period` at [`now`]: everyone invited now, no reminder.
pub async fn open_wave_at(
    store: &Store,
    manager: &str,
    period: &str,
    closes_at: Timestamp,
) -> Result<OpenedWave, OpenWaveError> {
    let timing = WaveTiming {
        closes_at,
        invite_at: &ask_now,
        remind_at: &never,
    };
    store.open_wave(manager, period, &timing, k(5), now()).await
}

/// Everyone invited at once, never reminded: how the store tests open waves.
fn ask_now(_: Option<&str>) -> Timestamp {
    now()
}

fn never(_: Timestamp) -> Option<Timestamp> {
    None
}

/// One team's slot for `Store::open_waves`, everyone asked now, closing three days later.
pub fn open_request<'a>(manager_id: &'a str, period: &'a str) -> OpenRequest<'a> {
    OpenRequest {
        manager_id,
        period,
        timing: WaveTiming {
            closes_at: ts("2026-11-26T10:00:00Z"),
            invite_at: &ask_now,
            remind_at: &never,
        },
    }
}

/// The managers of the teams the planner must look at by `at`, in order.
pub async fn teams_due(store: &Store, at: Timestamp) -> Vec<String> {
    let due = store.teams_due_for_planning(at).await.unwrap();
    due.into_iter().map(|d| d.manager_id).collect()
}

/// `teams` teams of `size` sellers each, under managers `U0BOSS000`, `U0BOSS001`, …, each
/// with its pulse open.
pub async fn open_numbered_teams(store: &Store, teams: usize, size: usize) -> Vec<OpenedWave> {
    let managers: Vec<String> = (0..teams).map(|i| format!("U0BOSS{i:03}")).collect();
    let managers: Vec<&str> = managers.iter().map(String::as_str).collect();
    open_team_waves(store, &managers, size).await
}

/// Imports a team of `n` for `manager` and opens its wave, closing three days later.
pub async fn open_team_wave(store: &Store, manager: &str, n: usize) -> OpenedWave {
    open_team_waves(store, &[manager], n).await.remove(0)
}

/// Imports a team of `n` for each of `managers` (one roster) and opens each team's wave,
/// closing three days later; in the order given.
pub async fn open_team_waves(store: &Store, managers: &[&str], n: usize) -> Vec<OpenedWave> {
    let teams: Vec<_> = managers.iter().map(|manager| team(manager, n)).collect();
    import_teams(store, &teams).await;
    let mut opened = Vec::new();
    for manager in managers {
        let wave = open_wave_at(store, manager, "2026-11-23", ts("2026-11-26T10:00:00Z"));
        opened.push(wave.await.unwrap());
    }
    opened
}

pub fn answers(care: i64, help: i64, trust: i64) -> Answers {
    Answers {
        scores: [care, help, trust],
        follow_through: None,
        comment: None,
    }
}

pub fn bot(person_id: &str) -> Person {
    Person {
        is_bot: true,
        ..Person::from_id(person_id)
    }
}

pub fn deactivated(person_id: &str) -> Person {
    Person {
        is_deactivated: true,
        ..Person::from_id(person_id)
    }
}

/// The `trustpulse` binary run in `dir` with no environment but a SQLite file there and
/// listeners on free ports; each test adds its command and settings (a later `env` of the same
/// name replaces one set here).
pub fn trustpulse(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trustpulse"));
    command
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", "sqlite:tp.db?mode=rwc")
        .env("TRUSTPULSE_LISTEN", "127.0.0.1:0")
        .env("TRUSTPULSE_METRICS_LISTEN", "127.0.0.1:0");
    command
}

/// A child process (a `trustpulse serve`) that is killed when dropped, so a test that fails
/// before its own `kill` leaves no server behind holding its ports.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    pub fn spawn(command: &mut std::process::Command) -> KillOnDrop {
        KillOnDrop(command.spawn().unwrap())
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;

    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already ended (the test killed it) is fine: both calls then do nothing harmful.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Until `n` sessions of this database wait for a lock (no sleep: each check is a round trip).
pub async fn waiting_for_locks(watcher: &mut sqlx::AnyConnection, n: i64) {
    let waited = std::time::Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *watcher)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        assert!(
            waited.elapsed().as_secs() < 30,
            "{waiting} of {n} sessions wait for a lock"
        );
    }
}

/// The audit's check whose promise starts with `promise`: whether it holds, and what it says.
pub fn audit_check(report: &trustpulse::store::AuditReport, promise: &str) -> (bool, String) {
    let check = report
        .checks
        .iter()
        .find(|c| c.promise.starts_with(promise))
        .unwrap_or_else(|| panic!("the audit checks {promise:?}: {report:#?}"));
    (check.holds, check.detail.clone())
}

/// Every participation token the database holds, wherever it is: in `participation`, and on a
/// SQLite file also where the answers' writer puts it as it arrives, until the pulse's answers
/// are moved (`arriving_participation`). What a reader of the database would find.
pub async fn tokens_on_disk(store: &Store) -> Vec<Vec<u8>> {
    let mut tables = vec!["participation"];
    if store.backend() == trustpulse::store::Backend::Sqlite {
        tables.push("arriving_participation");
    }
    let mut tokens = Vec::new();
    for table in tables {
        for row in store.dump_table(table).await.unwrap() {
            // Both tables: wave, window, token.
            let token_hex = row.split('|').nth(2).unwrap();
            tokens.push(hex::decode(token_hex).unwrap());
        }
    }
    tokens
}

/// The tokens in `participation` and those still where they arrived (`arriving_participation`,
/// SQLite only).
pub async fn token_rows(url: &str) -> (i64, i64) {
    let mut rows = sqlx::AnyConnection::connect(url).await.unwrap();
    let counts = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM participation),
                (SELECT COUNT(*) FROM arriving_participation)",
    )
    .fetch_one(&mut rows)
    .await
    .unwrap();
    rows.close().await.unwrap();
    counts
}
