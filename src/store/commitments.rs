//! Commitments: what a manager told the team after a release, and whether they marked it done.
//! One per release (window). Sharing and marking done queue one note per current seller of the
//! team in the same transaction, so a note is never lost and never sent twice.

use jiff::Timestamp;

use super::outbox::{Job, enqueue_many};
use super::people::ELIGIBLE;
use super::{Store, new_id, secs};

/// A commitment as shared with the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commitment {
    pub commitment_id: String,
    pub manager_id: String,
    pub window_id: String,
    /// What the manager heard, in their own words.
    pub heard: String,
    /// What they will do, in their own words.
    pub will_do: String,
    /// By when (a date, `YYYY-MM-DD`).
    pub due_on: String,
    pub done: bool,
}

/// What the manager typed in the share modal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommitment {
    pub manager_id: String,
    pub window_id: String,
    pub heard: String,
    pub will_do: String,
    pub due_on: String,
}

/// The outcome of sharing: shared with this many sellers, or already shared (what was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    Now {
        commitment: Commitment,
        notes: usize,
    },
    Already(Commitment),
}

type CommitmentRow = (String, String, String, String, String, String, String);

const SELECT: &str =
    "SELECT commitment_id, manager_id, window_id, heard, will_do, due_on, state FROM commitments";

fn from_row(row: CommitmentRow) -> Commitment {
    let (commitment_id, manager_id, window_id, heard, will_do, due_on, state) = row;
    Commitment {
        commitment_id,
        manager_id,
        window_id,
        heard,
        will_do,
        due_on,
        done: state == "done",
    }
}

/// A note for each current seller of `manager_id` who can be asked (not opted out, not a bot,
/// not deactivated; never the manager).
async fn queue_team_notes(
    conn: &mut sqlx::AnyConnection,
    manager_id: &str,
    commitment_id: &str,
    done: bool,
    now: Timestamp,
) -> anyhow::Result<usize> {
    let sellers: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT m.seller_id FROM memberships m LEFT JOIN people p ON p.person_id = m.seller_id
         WHERE m.manager_id = $1 AND m.left_at IS NULL AND m.seller_id <> $1 AND {ELIGIBLE}
         ORDER BY m.seller_id"
    )))
    .bind(manager_id)
    .fetch_all(&mut *conn)
    .await?;
    let jobs: Vec<(Job, Timestamp)> = sellers
        .iter()
        .map(|person_id| {
            let job = Job::TeamNote {
                commitment_id: commitment_id.to_owned(),
                person_id: person_id.clone(),
                done,
            };
            (job, now)
        })
        .collect();
    enqueue_many(conn, &jobs, now).await?;
    Ok(jobs.len())
}

impl Store {
    /// The window of the manager's latest release, if any.
    pub async fn latest_release_window(&self, manager_id: &str) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar(
            // The digest's own order (`releases_of`), so the share is about the release shown.
            "SELECT window_id FROM releases WHERE manager_id = $1
             ORDER BY window_end DESC, window_id LIMIT 1",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether `window_id` is a release of `manager_id`'s team.
    pub async fn is_release_of(&self, window_id: &str, manager_id: &str) -> anyhow::Result<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT window_id FROM releases WHERE window_id = $1 AND manager_id = $2",
        )
        .bind(window_id)
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    pub async fn commitment(&self, commitment_id: &str) -> anyhow::Result<Option<Commitment>> {
        let row: Option<CommitmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE commitment_id = $1"
        )))
        .bind(commitment_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn commitment_for_window(
        &self,
        window_id: &str,
    ) -> anyhow::Result<Option<Commitment>> {
        let row: Option<CommitmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE window_id = $1"
        )))
        .bind(window_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    /// The due dates (`YYYY-MM-DD`) of the team's last `limit` commitments, oldest first.
    pub async fn commitment_dates(
        &self,
        manager_id: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<String>> {
        let mut dates: Vec<String> = sqlx::query_scalar(
            "SELECT due_on FROM commitments WHERE manager_id = $1
             ORDER BY shared_at DESC, commitment_id LIMIT $2",
        )
        .bind(manager_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        dates.reverse();
        Ok(dates)
    }

    /// The team's latest commitment, done or not.
    pub async fn latest_commitment(&self, manager_id: &str) -> anyhow::Result<Option<Commitment>> {
        let row: Option<CommitmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE manager_id = $1 ORDER BY shared_at DESC, commitment_id LIMIT 1"
        )))
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    /// Shares a commitment about one release and queues its note to each current seller of
    /// the team, in one transaction. A release is shared once: a second share changes nothing
    /// and returns what was sent.
    pub async fn share_commitment(
        &self,
        new: &NewCommitment,
        now: Timestamp,
    ) -> anyhow::Result<Shared> {
        let mut tx = self.begin_write().await?;
        let commitment_id = new_id();
        let added = sqlx::query(
            "INSERT INTO commitments (commitment_id, manager_id, window_id, heard, will_do, due_on, state, shared_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) ON CONFLICT (window_id) DO NOTHING",
        )
        .bind(&commitment_id)
        .bind(&new.manager_id)
        .bind(&new.window_id)
        .bind(&new.heard)
        .bind(&new.will_do)
        .bind(&new.due_on)
        .bind(secs(now))
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            let row: CommitmentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE window_id = $1"
            )))
            .bind(&new.window_id)
            .fetch_one(&mut *tx)
            .await?;
            return Ok(Shared::Already(from_row(row)));
        }
        let notes = queue_team_notes(&mut tx, &new.manager_id, &commitment_id, false, now).await?;
        tx.commit().await?;
        Ok(Shared::Now {
            commitment: Commitment {
                commitment_id,
                manager_id: new.manager_id.clone(),
                window_id: new.window_id.clone(),
                heard: new.heard.clone(),
                will_do: new.will_do.clone(),
                due_on: new.due_on.clone(),
                done: false,
            },
            notes,
        })
    }

    /// Marks `manager_id`'s open commitment done and queues the "done" note to each current
    /// seller, once: None when it was not theirs or already done.
    pub async fn mark_commitment_done(
        &self,
        manager_id: &str,
        commitment_id: &str,
        now: Timestamp,
    ) -> anyhow::Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE commitments SET state = 'done', done_at = $3
             WHERE commitment_id = $1 AND manager_id = $2 AND state = 'open'",
        )
        .bind(commitment_id)
        .bind(manager_id)
        .bind(secs(now))
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            return Ok(None);
        }
        let notes = queue_team_notes(&mut tx, manager_id, commitment_id, true, now).await?;
        tx.commit().await?;
        Ok(Some(notes))
    }
}
