//! The SQL migrations of each backend, embedded at build time by `build.rs` from
//! `migrations/sqlite` and `migrations/postgres`: the same versions, descriptions and checksums
//! `sqlx::migrate!` would give, so databases migrated by earlier builds stay valid.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

pub use embedded::{POSTGRES, SQLITE};

/// A migrator over one embedded set.
pub fn migrator(set: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        set.iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    // sqlx's own convention for a migration that must run outside a transaction.
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}
