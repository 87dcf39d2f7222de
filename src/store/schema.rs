//! Reading the schema back, so tests (and a skeptical operator) can check what tables hold.

use super::{Backend, Store};

/// A column as the database declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub declared_type: String,
    pub primary_key: bool,
}

impl Store {
    pub async fn columns_of(&self, table: &str) -> anyhow::Result<Vec<Column>> {
        let rows: Vec<(String, String, i64)> = match self.backend {
            Backend::Sqlite => {
                sqlx::query_as("SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::query_as(
                    "SELECT c.column_name::text, c.data_type::text,
                            CASE WHEN EXISTS (
                                SELECT 1 FROM information_schema.key_column_usage k
                                JOIN information_schema.table_constraints t
                                  ON t.constraint_name = k.constraint_name AND t.table_name = k.table_name
                                WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name
                                  AND k.column_name = c.column_name AND k.table_schema = current_schema()
                            ) THEN 1 ELSE 0 END::bigint
                     FROM information_schema.columns c
                     WHERE c.table_name = $1 AND c.table_schema = current_schema()
                     ORDER BY c.ordinal_position",
                )
                .bind(table)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(name, declared_type, pk)| Column {
                name,
                declared_type: declared_type.to_ascii_uppercase(),
                primary_key: pk != 0,
            })
            .collect())
    }

    /// Every application table's name (migrations' bookkeeping excluded).
    pub async fn tables(&self) -> anyhow::Result<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' ORDER BY table_name"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(&self.pool).await?)
    }

    /// Every row of `table` as one line of text (all columns cast to text), for audits: what
    /// an operator with database access could read.
    pub async fn dump_table(&self, table: &str) -> anyhow::Result<Vec<String>> {
        let columns = self.columns_of(table).await?;
        let cast: Vec<String> = columns
            .iter()
            .map(|c| {
                let name = format!("\"{}\"", c.name.replace('"', ""));
                let text = match (
                    self.backend,
                    c.declared_type.contains("BLOB") || c.declared_type.contains("BYTEA"),
                ) {
                    (Backend::Sqlite, true) => format!("hex({name})"),
                    (Backend::Postgres, true) => format!("encode({name}, 'hex')"),
                    (_, false) => format!("CAST({name} AS TEXT)"),
                };
                format!("COALESCE({text}, '')")
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM \"{}\"",
            cast.join(" || '|' || "),
            table.replace('"', "")
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Whether SQLite keeps a hidden, insertion-ordered rowid for `table` (always false on
    /// PostgreSQL, which has none).
    pub async fn has_hidden_rowid(&self, table: &str) -> anyhow::Result<bool> {
        match self.backend {
            Backend::Postgres => Ok(false),
            Backend::Sqlite => {
                let sql = format!("SELECT rowid FROM \"{}\" LIMIT 1", table.replace('"', ""));
                Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_optional(&self.pool)
                    .await
                    .is_ok())
            }
        }
    }
}
