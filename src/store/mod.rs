//! Every SQL statement of trustpulse lives under this module, so the privacy rules can be
//! audited in one place (DESIGN §5). One [`Store`] handle over `sqlx::AnyPool` serves SQLite and
//! PostgreSQL with the same runtime queries (`$N` placeholders, portable types); a backend
//! branch exists only where it must.

mod admins;
mod cadences;
mod inbox;
mod installations;
mod marks;
mod outbox;
mod people;
mod predictions;
mod releases;
mod roster;
pub mod schema;
mod submissions;
mod waves;

pub use cadences::CadenceScope;
pub use installations::InstallationState;
pub use outbox::{ClaimedJob, Job, OutboxCounts};
pub use people::Person;
pub use predictions::PredictionOutcome;
pub use releases::{Participation, WindowState};
pub use roster::{Membership, RosterChange};
pub use submissions::SubmissionError;
pub use waves::{OpenWaveError, OpenedWave, Wave, WaveState, WaveTiming};

use anyhow::Context;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Transaction};

static MIGRATE_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The one handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`) and applies any pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        let store = Store::connect_only(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_only(url: &str) -> anyhow::Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!(
                "the database URL must start with sqlite: or postgres:// (for example sqlite:trustpulse.db?mode=rwc)"
            );
        };
        // Each connection to `sqlite::memory:` would be a separate empty database.
        let max_connections = if url.contains(":memory:") { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed while the single writer writes.
                        sqlx::query("PRAGMA journal_mode=WAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .with_context(|| format!("could not open the database at {}", redact_url(url)))?;
        Ok(Store { pool, backend })
    }

    /// Applies pending migrations (safe to run from several replicas at once on PostgreSQL,
    /// which takes an advisory lock).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATE_SQLITE,
            Backend::Postgres => &MIGRATE_POSTGRES,
        };
        migrator
            .run(&self.pool)
            .await
            .context("could not apply database migrations")
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// two writers queue on the busy timeout instead of one failing on lock upgrade.
    async fn begin_write(&self) -> anyhow::Result<Transaction<'static, Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        tx.context("could not start a database transaction")
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A random 128-bit id as hex. Random rather than sequential, so ids reveal no order.
fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn secs(at: Timestamp) -> i64 {
    at.as_second()
}

fn from_secs(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A database URL fit for an error message: the password is never shown.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn ids_are_random_not_sequential() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
