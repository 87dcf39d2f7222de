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

    /// The token secrets that unreleased windows were made under and this process does not
    /// have: each id, with the managers of those windows. Their tokens cannot be made here, so
    /// their invitees cannot answer (a refusal, never a second answer) until the secret is back.
    pub async fn unknown_token_secrets(&self) -> anyhow::Result<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT k.secret_id, x.manager_id FROM window_keys k
             JOIN windows x ON x.window_id = k.window_id
             WHERE k.secret_id IS NOT NULL ORDER BY k.secret_id, x.manager_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut unknown: Vec<(String, Vec<String>)> = Vec::new();
        for (id, manager) in rows {
            if self.secrets.knows(Some(&id)) {
                continue;
            }
            match unknown.last_mut() {
                Some((last, managers)) if *last == id => managers.push(manager),
                _ => unknown.push((id, vec![manager])),
            }
        }
        Ok(unknown)
    }

    /// Refuses a command that would make new windows when unreleased ones were made under a
    /// token secret this process does not have: it would most likely make them under a secret
    /// `serve` does not have either (a shell without the same settings).
    pub async fn check_token_secrets(&self) -> anyhow::Result<()> {
        let unknown = self.unknown_token_secrets().await?;
        if unknown.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = unknown.iter().map(|(id, _)| id.as_str()).collect();
        Err(ConfigError::new(
            "TRUSTPULSE_TOKEN_SECRET",
            format!(
                "unreleased windows were made under a token secret it does not list (id {})",
                ids.join(", ")
            ),
            "Run this with the same TRUSTPULSE_TOKEN_SECRET as `trustpulse serve`; put that secret back, \
             after the new one if you are rotating (TRUSTPULSE_TOKEN_SECRET=new,old), until those windows have been released",
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
