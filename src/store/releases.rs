//! Releasing a window: the one place answers turn into numbers. The release is computed once,
//! stored as frozen JSON, and in the same transaction the window's key, its participation
//! tokens, its ballots and its comments are deleted, so only the release's counts remain.

use jiff::Timestamp;

use super::{Store, from_secs, secs};
use crate::digest::release::{Release, Tally};
use crate::digest::view::HeldWindow;
use crate::survey::Ballot;

/// What the store knows about a window at the close of its latest wave.
#[derive(Debug, Clone)]
pub struct WindowState {
    pub window_id: String,
    pub manager_id: String,
    pub k: u32,
    pub tally: Tally,
    /// Distinct people who answered any of its waves (tokens are window-scoped).
    pub respondents: u32,
    /// Distinct people invited to any of its waves.
    pub invited: u32,
    pub comments: Vec<String>,
    pub waves_closed: u32,
}

/// HR's view of a release: counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    pub manager_id: String,
    pub window_end: Timestamp,
    pub invited: u32,
    pub respondents: u32,
}

impl Store {
    /// Loads a window's facts (after its latest wave closed).
    pub async fn window_state(&self, window_id: &str) -> anyhow::Result<Option<WindowState>> {
        let window: Option<(String, i64)> =
            sqlx::query_as("SELECT manager_id, min_respondents FROM windows WHERE window_id = $1 AND state = 'open'")
                .bind(window_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((manager_id, k)) = window else {
            return Ok(None);
        };
        let ballots: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT b.care, b.help, b.trust FROM ballots b JOIN waves w ON w.wave_id = b.wave_id WHERE w.window_id = $1",
        )
        .bind(window_id)
        .fetch_all(&self.pool)
        .await?;
        let ballots: Vec<Ballot> = ballots
            .into_iter()
            .map(|(c, h, t)| Ballot::new(c, h, t))
            .collect::<Result<_, _>>()?;
        let comments: Vec<String> = sqlx::query_scalar(
            "SELECT c.body FROM comments c JOIN waves w ON w.wave_id = c.wave_id WHERE w.window_id = $1 ORDER BY c.comment_id",
        )
        .bind(window_id)
        .fetch_all(&self.pool)
        .await?;
        let invited: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT i.person_id) FROM wave_invitees i JOIN waves w ON w.wave_id = i.wave_id WHERE w.window_id = $1",
        )
        .bind(window_id)
        .fetch_one(&self.pool)
        .await?;
        let waves_closed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM waves WHERE window_id = $1 AND state = 'closed'",
        )
        .bind(window_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(WindowState {
            window_id: window_id.to_owned(),
            manager_id,
            k: u32::try_from(k)?,
            tally: Tally::of(&ballots),
            respondents: u32::try_from(self.window_respondents(window_id).await?)?,
            invited: u32::try_from(invited)?,
            comments,
            waves_closed: u32::try_from(waves_closed)?,
        }))
    }

    /// Keeps a window open for the team's next wave, recording what to tell the manager.
    pub async fn hold_window(&self, state: &WindowState) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE windows SET held_respondents = $2, held_invited = $3, waves_closed = $4 WHERE window_id = $1",
        )
        .bind(&state.window_id)
        .bind(i64::from(state.respondents))
        .bind(i64::from(state.invited))
        .bind(i64::from(state.waves_closed))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Freezes a window's release and forgets everything it was computed from. Idempotent: a
    /// window is released once; a second call changes nothing and returns false.
    pub async fn release_window(
        &self,
        state: &WindowState,
        release: &Release,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE windows SET state = 'released', released_at = $2, waves_closed = $3 WHERE window_id = $1 AND state = 'open'",
        )
        .bind(&state.window_id)
        .bind(secs(now))
        .bind(i64::from(state.waves_closed))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        // The counts HR may see (when at least k were invited); the manager sees the body only.
        let (respondents, invited) = (state.respondents, state.invited);
        sqlx::query(
            "INSERT INTO releases (window_id, manager_id, window_end, respondents, invited, body, released_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&state.window_id)
        .bind(&state.manager_id)
        .bind(secs(now))
        .bind(i64::from(respondents))
        .bind(i64::from(invited))
        .bind(serde_json::to_string(release)?)
        .bind(secs(now))
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM window_keys WHERE window_id = $1",
            "DELETE FROM participation WHERE window_id = $1",
            "DELETE FROM ballots WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id = $1)",
            "DELETE FROM comments WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id = $1)",
        ] {
            sqlx::query(sql)
                .bind(&state.window_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The team's releases, oldest first, the last `limit` of them.
    pub async fn releases_of(&self, manager_id: &str, limit: i64) -> anyhow::Result<Vec<Release>> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM releases WHERE manager_id = $1 ORDER BY window_end DESC, window_id LIMIT $2",
        )
        .bind(manager_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .rev()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    /// The stored bytes of a release, to check that it never changes.
    pub async fn release_bytes(&self, window_id: &str) -> anyhow::Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM releases WHERE window_id = $1")
                .bind(window_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The team's window held under k at its last close, if any.
    pub async fn held_window(
        &self,
        manager_id: &str,
        max_waves: u32,
    ) -> anyhow::Result<Option<HeldWindow>> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT held_respondents, held_invited, waves_closed, min_respondents FROM windows
             WHERE manager_id = $1 AND state = 'open' AND held_respondents IS NOT NULL",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(respondents, invited, waves_closed, k)| HeldWindow {
                respondents: respondents as u32,
                invited: invited as u32,
                waves_closed: waves_closed as u32,
                k: k as u32,
                max_waves,
            }),
        )
    }

    /// Participation counts of every team's latest release (for HR).
    pub async fn latest_participation(&self) -> anyhow::Result<Vec<Participation>> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT r.manager_id, r.window_end, r.invited, r.respondents FROM releases r
             WHERE r.window_end = (SELECT MAX(x.window_end) FROM releases x WHERE x.manager_id = r.manager_id)
             ORDER BY r.manager_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(manager_id, end, invited, respondents)| Participation {
                manager_id,
                window_end: from_secs(end),
                invited: invited as u32,
                respondents: respondents as u32,
            })
            .collect())
    }
}
