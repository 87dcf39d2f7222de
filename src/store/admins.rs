//! Who may use `/pulse admin` and the admin App Home.

use jiff::Timestamp;

use super::WriteInTurn;
use super::{Store, secs};

impl Store {
    /// Returns false when the person already was an admin.
    pub async fn add_admin(&self, person_id: &str, now: Timestamp) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO admins (person_id, added_at) VALUES ($1, $2) ON CONFLICT (person_id) DO NOTHING",
        )
        .bind(person_id)
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns false when the person was not an admin.
    pub async fn remove_admin(&self, person_id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM admins WHERE person_id = $1")
            .bind(person_id)
            .write_in_turn(self, &self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn admins(&self) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT person_id FROM admins ORDER BY person_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn is_admin(&self, person_id: &str) -> anyhow::Result<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT person_id FROM admins WHERE person_id = $1")
                .bind(person_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }
}
