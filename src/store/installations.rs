//! The Slack workspace the bot is installed in, and whether it may still call Slack.

use jiff::Timestamp;

use super::WriteInTurn;
use super::{Store, secs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationState {
    Active,
    /// Slack refused our token (e.g. `invalid_auth`): no more calls until it works again.
    Paused,
    /// The app was uninstalled or its tokens revoked.
    Uninstalled,
}

impl Store {
    /// Records that the bot works in `team_id` (after a successful `auth.test`).
    pub async fn activate_installation(
        &self,
        team_id: &str,
        bot_user_id: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO installations (team_id, bot_user_id, state, updated_at) VALUES ($1, $2, 'active', $3)
             ON CONFLICT (team_id) DO UPDATE SET bot_user_id = excluded.bot_user_id, state = 'active',
                updated_at = excluded.updated_at",
        )
        .bind(team_id)
        .bind(bot_user_id)
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(())
    }

    /// Uninstall or revocation: forget the token, stop every pending send. Idempotent, in any
    /// order. Returns how many pending sends were cancelled.
    pub async fn uninstall(&self, team_id: &str, now: Timestamp) -> anyhow::Result<u64> {
        sqlx::query(
            "INSERT INTO installations (team_id, state, updated_at) VALUES ($1, 'uninstalled', $2)
             ON CONFLICT (team_id) DO UPDATE SET bot_token = NULL, state = 'uninstalled', updated_at = excluded.updated_at",
        )
        .bind(team_id)
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        self.cancel_pending(now).await
    }

    pub async fn pause_installation(&self, team_id: &str, now: Timestamp) -> anyhow::Result<()> {
        sqlx::query("UPDATE installations SET state = 'paused', updated_at = $2 WHERE team_id = $1 AND state = 'active'")
            .bind(team_id)
            .bind(secs(now))
            .write_in_turn(self, &self.pool)
            .await?;
        Ok(())
    }

    /// The installation this trustpulse serves (one workspace per deployment), if known.
    pub async fn installation(&self) -> anyhow::Result<Option<(String, InstallationState)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT team_id, state FROM installations ORDER BY updated_at DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(team, state)| {
            let state = match state.as_str() {
                "active" => InstallationState::Active,
                "paused" => InstallationState::Paused,
                _ => InstallationState::Uninstalled,
            };
            (team, state)
        }))
    }
}

impl Store {
    /// Pauses every send to the workspace until `until` (after a 429), for all replicas.
    pub async fn pause_sends_until(&self, until: Timestamp) -> anyhow::Result<()> {
        sqlx::query("UPDATE installations SET paused_until = $1 WHERE paused_until IS NULL OR paused_until < $1")
            .bind(secs(until))
            .write_in_turn(self, &self.pool)
            .await?;
        Ok(())
    }

    /// Until when sends are paused by a 429, if they are at `now`.
    pub async fn sends_paused_until(&self, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
        let until: Option<i64> = sqlx::query_scalar("SELECT MAX(paused_until) FROM installations")
            .fetch_one(&self.pool)
            .await?;
        Ok(until.filter(|u| *u > secs(now)).map(super::from_secs))
    }
}
