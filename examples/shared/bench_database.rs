//! A database for one benchmark run, shared by the examples that take one (`fanout`,
//! `planner_bench`, `answer_bench`): a temporary SQLite file, or, when the named environment
//! variable holds a PostgreSQL URL, a fresh database created next to the one it names and
//! dropped afterwards.

use sqlx::Connection;

pub struct BenchDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
    /// The server URL and the database to drop afterwards (PostgreSQL).
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    /// A fresh database named after `bench` (and this process, so two runs never share one).
    pub async fn fresh(url_variable: &str, bench: &str) -> anyhow::Result<BenchDatabase> {
        let dir = tempfile::tempdir()?;
        let Ok(server) = std::env::var(url_variable) else {
            let url = format!("sqlite:{}?mode=rwc", dir.path().join("bench.db").display());
            return Ok(BenchDatabase {
                url,
                _dir: dir,
                postgres: None,
            });
        };
        let name = format!("trustpulse_{bench}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&server).await?;
        // A run killed midway (Ctrl-C, a closed pipe) never reached its `drop`: its database,
        // named after a process that is gone, goes now (where `/proc` tells which are; Linux).
        // This one's own name is dropped too, in case a process of the same id left it.
        let prefix = format!("trustpulse_{bench}_");
        let earlier: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                .bind(&prefix)
                .fetch_all(&mut admin)
                .await?;
        for old in earlier {
            let gone = cfg!(target_os = "linux")
                && old[prefix.len()..]
                    .parse::<u32>()
                    .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
            if gone || old == name {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {old} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        // The server part of the URL with this database instead of the one named.
        let (base, query) = server.split_once('?').unwrap_or((&server, ""));
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        let url = if query.is_empty() {
            format!("{base}/{name}")
        } else {
            format!("{base}/{name}?{query}")
        };
        Ok(BenchDatabase {
            url,
            _dir: dir,
            postgres: Some((server, name)),
        })
    }

    pub async fn drop(self) -> anyhow::Result<()> {
        if let Some((server, name)) = self.postgres {
            let mut admin = sqlx::PgConnection::connect(&server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
        }
        Ok(())
    }
}

/// "SQLite" or "PostgreSQL": what [`BenchDatabase::fresh`] with `url_variable` makes, for a
/// report's title.
pub fn backend_named_by(url_variable: &str) -> &'static str {
    if std::env::var(url_variable).is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}
