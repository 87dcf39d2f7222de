//! Releasing a window: the one place answers turn into numbers. The release is computed once,
//! stored as frozen JSON, and in the same transaction the window's key, its participation
//! tokens, its ballots and its comments are deleted, so only the release's counts remain.

use jiff::Timestamp;

use sqlx::AnyConnection;

use super::WriteInTurn;
use super::outbox::{Job, enqueue};
use super::{Backend, Store, from_secs, secs};
use crate::digest::release::{Release, ReleaseBody, Tally};
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
    /// None when the window never reached k: that count is never stored.
    pub respondents: Option<u32>,
}

/// What to do with a window once its latest wave has closed.
#[derive(Debug, Clone)]
pub enum WindowDecision {
    /// Keep it open for the team's next wave (under k, more waves allowed).
    Hold,
    /// Freeze this release and delete what it was computed from.
    Release(Release),
}

impl Store {
    /// For each `(wave_id, window_id)`, in one transaction (one wait for the disk for all of
    /// them): closes the wave (when given) and decides its window. `decide` sees the window's
    /// facts and says hold or release; it is called once per window decided, in order. A release is frozen, and in the same
    /// transaction the window's key, tokens, ballots and comments are deleted, with every
    /// per-person outbox row of its waves; the invitations and reminders of the closed wave are
    /// queued for their "closed" update. Each outcome, in the order given, is None when the
    /// wave was not open (another replica closed it) or the window is already released.
    ///
    /// On PostgreSQL a submission holds a share lock on its wave row, so the close waits for a
    /// submission in flight, and a submission after the close sees the wave closed: no ballot
    /// or token can land in a released window.
    pub async fn close_and_decide_many(
        &self,
        items: &[(Option<&str>, &str)],
        now: Timestamp,
        mut decide: impl FnMut(&WindowState) -> WindowDecision,
    ) -> anyhow::Result<Vec<Option<(WindowState, WindowDecision)>>> {
        let mut tx = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(items.len());
        for (wave_id, window_id) in items {
            outcomes.push(
                self.close_and_decide_in(&mut tx, *wave_id, window_id, now, &mut decide)
                    .await?,
            );
        }
        tx.commit().await?;
        if outcomes
            .iter()
            .any(|o| matches!(o, Some((_, WindowDecision::Release(_)))))
        {
            self.scrub_needed();
        }
        Ok(outcomes)
    }

    async fn close_and_decide_in(
        &self,
        tx: &mut AnyConnection,
        wave_id: Option<&str>,
        window_id: &str,
        now: Timestamp,
        decide: &mut impl FnMut(&WindowState) -> WindowDecision,
    ) -> anyhow::Result<Option<(WindowState, WindowDecision)>> {
        if let Some(wave_id) = wave_id {
            let closed = sqlx::query(
                "UPDATE waves SET state = 'closed', closed_at = $2 WHERE wave_id = $1 AND state = 'open'",
            )
            .bind(wave_id)
            .bind(secs(now))
            .execute(&mut *tx)
            .await?;
            // Not open (another replica closed it): nothing was written for it.
            if closed.rows_affected() == 0 {
                return Ok(None);
            }
            queue_close_updates(tx, wave_id, now).await?;
        }
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE",
        };
        let window: Option<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT manager_id, min_respondents FROM windows WHERE window_id = $1 AND state = 'open' {lock}"
        )))
        .bind(window_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((manager_id, k)) = window else {
            return Ok(None);
        };
        let state = window_state(tx, window_id, manager_id, k).await?;
        let decision = decide(&state);
        match &decision {
            WindowDecision::Hold => {
                sqlx::query(
                    "UPDATE windows SET held_invited = $2, waves_closed = $3 WHERE window_id = $1",
                )
                .bind(window_id)
                .bind(i64::from(state.invited))
                .bind(i64::from(state.waves_closed))
                .execute(&mut *tx)
                .await?;
            }
            WindowDecision::Release(release) => {
                release_in(tx, &state, release, now).await?;
            }
        }
        Ok(Some((state, decision)))
    }

    /// Windows whose waves have all closed but that were never decided (a process stopped
    /// between a close and its decision, before both were one transaction).
    pub async fn undecided_windows(&self) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT x.window_id FROM windows x
             WHERE x.state = 'open'
               AND NOT EXISTS (SELECT 1 FROM waves w WHERE w.window_id = x.window_id AND w.state = 'open')
               AND (SELECT COUNT(*) FROM waves w WHERE w.window_id = x.window_id AND w.state = 'closed') > x.waves_closed
             ORDER BY x.window_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes the finished per-person outbox rows (the "closed" updates) of released windows:
    /// after a release, nothing in the outbox says who was sent what. Returns how many.
    pub async fn forget_released_jobs(&self) -> anyhow::Result<u64> {
        use std::sync::atomic::Ordering;
        if !self.close_updates_finished.swap(false, Ordering::SeqCst) {
            return Ok(0);
        }
        let done = sqlx::query(
            "DELETE FROM outbox WHERE wave_id IN (
                SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id
                WHERE x.state = 'released')
             AND state NOT IN ('pending', 'sending')",
        )
        .write_in_turn(self, &self.pool)
        .await;
        if done.is_err() {
            self.close_updates_finished.store(true, Ordering::SeqCst);
        }
        Ok(done?.rows_affected())
    }

    /// Says that close updates may have finished, for the next tick's
    /// [`Store::forget_released_jobs`].
    pub fn close_updates_may_have_finished(&self) {
        self.close_updates_finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True the first time it is asked in this process: windows left undecided by an older
    /// version (whose close and decision were two transactions) are looked for once, at
    /// start-up, not on every tick.
    pub fn first_undecided_check(&self) -> bool {
        !self
            .undecided_checked
            .swap(true, std::sync::atomic::Ordering::SeqCst)
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
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT held_invited, waves_closed, min_respondents FROM windows
             WHERE manager_id = $1 AND state = 'open' AND held_invited IS NOT NULL",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(invited, waves_closed, k)| HeldWindow {
            invited: invited as u32,
            waves_closed: waves_closed as u32,
            k: k as u32,
            max_waves,
        }))
    }

    /// Participation counts of every team's latest release (for HR).
    pub async fn latest_participation(&self) -> anyhow::Result<Vec<Participation>> {
        let rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
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
                respondents: respondents.map(|n| n as u32),
            })
            .collect())
    }
}

/// A window's facts, read inside the deciding transaction.
async fn window_state(
    tx: &mut AnyConnection,
    window_id: &str,
    manager_id: String,
    k: i64,
) -> anyhow::Result<WindowState> {
    let ballots: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT b.care, b.help, b.trust FROM ballots b JOIN waves w ON w.wave_id = b.wave_id WHERE w.window_id = $1",
    )
    .bind(window_id)
    .fetch_all(&mut *tx)
    .await?;
    let ballots: Vec<Ballot> = ballots
        .into_iter()
        .map(|(c, h, t)| Ballot::new(c, h, t))
        .collect::<Result<_, _>>()?;
    let comments: Vec<String> = sqlx::query_scalar(
        "SELECT c.body FROM comments c JOIN waves w ON w.wave_id = c.wave_id WHERE w.window_id = $1 ORDER BY c.comment_id",
    )
    .bind(window_id)
    .fetch_all(&mut *tx)
    .await?;
    let invited: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT i.person_id) FROM wave_invitees i JOIN waves w ON w.wave_id = i.wave_id WHERE w.window_id = $1",
    )
    .bind(window_id)
    .fetch_one(&mut *tx)
    .await?;
    let waves_closed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM waves WHERE window_id = $1 AND state = 'closed'")
            .bind(window_id)
            .fetch_one(&mut *tx)
            .await?;
    let respondents: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT token) FROM participation WHERE window_id = $1")
            .bind(window_id)
            .fetch_one(&mut *tx)
            .await?;
    Ok(WindowState {
        window_id: window_id.to_owned(),
        manager_id,
        k: u32::try_from(k)?,
        tally: Tally::of(&ballots),
        respondents: u32::try_from(respondents)?,
        invited: u32::try_from(invited)?,
        comments,
        waves_closed: u32::try_from(waves_closed)?,
    })
}

/// Freezes the release and forgets everything it was computed from (inside the deciding
/// transaction).
async fn release_in(
    tx: &mut AnyConnection,
    state: &WindowState,
    release: &Release,
    now: Timestamp,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE windows SET state = 'released', released_at = $2, waves_closed = $3 WHERE window_id = $1",
    )
    .bind(&state.window_id)
    .bind(secs(now))
    .bind(i64::from(state.waves_closed))
    .execute(&mut *tx)
    .await?;
    // The count HR may see, stored only when the window reached k; the manager sees the body.
    let respondents = match release.body {
        ReleaseBody::Results { respondents, .. } if respondents >= state.k => {
            Some(i64::from(respondents))
        }
        _ => None,
    };
    sqlx::query(
        "INSERT INTO releases (window_id, manager_id, window_end, respondents, invited, body, released_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&state.window_id)
    .bind(&state.manager_id)
    .bind(secs(now))
    .bind(respondents)
    .bind(i64::from(state.invited))
    .bind(serde_json::to_string(release)?)
    .bind(secs(now))
    .execute(&mut *tx)
    .await?;
    for sql in [
        "DELETE FROM window_keys WHERE window_id = $1",
        "DELETE FROM participation WHERE window_id = $1",
        "DELETE FROM ballots WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id = $1)",
        "DELETE FROM comments WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id = $1)",
        // Invitations and reminders of a released window have nothing left to do; the
        // "closed" updates go once sent (`forget_released_jobs`).
        "DELETE FROM outbox WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id = $1)
           AND kind IN ('invite', 'remind')",
        "DELETE FROM wave_messages WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id = $1)",
    ] {
        sqlx::query(sql)
            .bind(&state.window_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Queues the "this pulse closed" update of every invitation and reminder of a closing wave:
/// each of its messages is updated alike, whoever answered.
async fn queue_close_updates(
    tx: &mut AnyConnection,
    wave_id: &str,
    now: Timestamp,
) -> anyhow::Result<()> {
    let messages: Vec<(String, String)> = sqlx::query_as(
        "SELECT channel, ts FROM wave_messages WHERE wave_id = $1 ORDER BY channel, ts",
    )
    .bind(wave_id)
    .fetch_all(&mut *tx)
    .await?;
    let team_id: Option<String> =
        sqlx::query_scalar("SELECT team_id FROM installations ORDER BY updated_at DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let team_id = team_id.unwrap_or_default();
    for (channel, ts) in messages {
        let job = Job::CloseMessage {
            wave_id: wave_id.to_owned(),
            channel,
            ts,
        };
        enqueue(&mut *tx, &team_id, &job, now, now).await?;
    }
    sqlx::query("DELETE FROM wave_messages WHERE wave_id = $1")
        .bind(wave_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
