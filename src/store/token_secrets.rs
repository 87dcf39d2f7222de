//! Which token secret each unreleased window's key was made under (`window_keys.secret_id`),
//! and whether this process can still make those windows' tokens (see `privacy::token`).

use super::Store;
use crate::config_error::ConfigError;

impl Store {
    /// The id stored with the key of a window made now: the current token secret's, if any.
    pub(super) fn secret_id(&self) -> Option<&str> {
        self.secrets.current_id()
    }

    /// Whether this process has a token secret (`TRUSTPULSE_TOKEN_SECRET`).
    pub fn has_token_secret(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Refuses to go on when an unreleased window was made under a token secret this process
    /// does not have: its tokens could not be made, so its invitees could not answer (and one
    /// who had could answer again). Said at start-up, with what to do, rather than to sellers.
    pub async fn check_token_secrets(&self) -> anyhow::Result<()> {
        let ids: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT secret_id, COUNT(*) FROM window_keys GROUP BY secret_id ORDER BY secret_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let missing: Vec<(String, i64)> = ids
            .into_iter()
            .filter_map(|(id, windows)| id.map(|id| (id, windows)))
            .filter(|(id, _)| !self.secrets.knows(Some(id)))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let windows: i64 = missing.iter().map(|(_, n)| n).sum();
        let named: Vec<&str> = missing.iter().map(|(id, _)| id.as_str()).collect();
        Err(ConfigError::new(
            "TRUSTPULSE_TOKEN_SECRET",
            format!(
                "{windows} unreleased window(s) were made under a token secret it does not list (id {})",
                named.join(", ")
            ),
            "Put that secret back, after the new one if you are rotating (TRUSTPULSE_TOKEN_SECRET=new,old), \
             until those windows have been released",
        )
        .into())
    }

    /// Unreleased windows whose tokens their stored key alone makes (made with no token secret):
    /// while they stay open, the database alone can tell who answered them.
    pub async fn windows_without_token_secret(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM window_keys WHERE secret_id IS NULL")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
