//! Group commit for submissions: one task owns the connection that writes ballots, and commits
//! every submission waiting at that moment in one transaction.
//!
//! Why: with one transaction per answer, pooled SQLite connections raced for the write lock
//! (the losers slept in SQLite's busy handler for up to 100 ms) and every answer paid its own
//! fsync. Here answers queue in memory, in order, without sleeping; a batch costs the same
//! handful of statements and one fsync whether it holds 1 answer or 200; and each handler is
//! answered only after its batch has committed, so nothing acknowledged can be lost.
//!
//! Privacy: the batch is shuffled before it is written, so the order of tokens and ballots in
//! the file (and in the WAL) says nothing about who answered first; tokens and ballots go in
//! separate multi-row statements, so no row position pairs a token with its ballot.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use jiff::Timestamp;
use rand::seq::SliceRandom;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::{Backend, IN_LIST_CHUNK, new_id, secs};
use crate::privacy::token::WindowKey;
use crate::survey::{Ballot, Comment, FollowThrough, Question};

use super::submissions::SubmissionError;

/// The statements of a batch have as many rows as it has submissions, so each size is a new
/// statement: they are not kept in the connection's statement cache (`persistent(false)`),
/// which would otherwise fill with hundreds of one-off statements.
///
/// The most submissions one transaction takes. Bounded so that every `IN (…)` list stays one
/// statement and a batch never holds the write lock for long.
pub const MAX_BATCH: usize = 256;
const _: () = assert!(MAX_BATCH <= IN_LIST_CHUNK);

/// Submissions waiting for the writer. Beyond this, handlers wait to queue (back-pressure)
/// rather than the process growing without bound.
const QUEUE: usize = 4 * MAX_BATCH;

/// One checked submission, ready to be written.
#[derive(Debug, Clone)]
pub struct Submission {
    pub wave_id: String,
    pub person_id: String,
    pub ballot: Ballot,
    pub comment: Option<Comment>,
    /// When it arrived: a wave past its closing time refuses it.
    pub at: Timestamp,
}

struct Pending {
    submission: Submission,
    reply: oneshot::Sender<Result<(), SubmissionError>>,
}

/// The handle the store keeps: queues a submission and waits for its batch to commit.
#[derive(Clone)]
pub(super) struct SubmissionQueue {
    tx: mpsc::Sender<Pending>,
}

impl SubmissionQueue {
    /// Starts the writer task on `pool` (which should hold one connection).
    pub(super) fn start(pool: AnyPool, backend: Backend, gate: Option<Gate>) -> SubmissionQueue {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, backend, gate, rx));
        SubmissionQueue { tx }
    }

    pub(super) async fn submit(&self, submission: Submission) -> Result<(), SubmissionError> {
        let (reply, answer) = oneshot::channel();
        let stopped =
            || SubmissionError::Internal(anyhow::anyhow!("the submission writer stopped"));
        self.tx
            .send(Pending { submission, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

use super::Gate;

async fn run(pool: AnyPool, backend: Backend, gate: Option<Gate>, mut rx: mpsc::Receiver<Pending>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    // `recv_many` waits for the first submission, then takes every one already queued: while
    // a batch commits, the next one gathers.
    while rx.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut waiting);
        let (submissions, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.submission, p.reply)).unzip();
        let outcomes = write_batch(&pool, backend, gate.as_ref(), submissions).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A handler that has gone (its client hung up) finds the answer recorded if it
            // tries again: "already answered".
            let _ = reply.send(outcome);
        }
    }
}

/// Writes `batch` in one transaction and returns each submission's outcome, in the order
/// given. If the transaction fails, no submission of it is recorded and each is told so.
pub(super) async fn write_batch(
    pool: &AnyPool,
    backend: Backend,
    gate: Option<&Gate>,
    batch: Vec<Submission>,
) -> Vec<Result<(), SubmissionError>> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.shuffle(&mut rand::rng());
    let shuffled: Vec<&Submission> = order.iter().map(|&i| &batch[i]).collect();
    let _turn = super::take_turn(gate).await;
    let written = match pool.acquire().await {
        Ok(mut conn) => {
            let written = async {
                let mut tx = match backend {
                    Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
                    Backend::Postgres => conn.begin().await?,
                };
                let refusals = write_in(&mut tx, backend, &shuffled).await?;
                tx.commit().await?;
                anyhow::Ok(refusals)
            }
            .await;
            if written.is_err() {
                // The pool does not ping before handing this connection out again (one round
                // trip less per batch), so a connection that failed is not handed out again.
                conn.close_on_drop();
            }
            written
        }
        Err(e) => Err(e.into()),
    };
    match written {
        Ok(refusals) => {
            let mut outcomes: Vec<Result<(), SubmissionError>> =
                (0..batch.len()).map(|_| Ok(())).collect();
            for (&i, refusal) in order.iter().zip(refusals) {
                if let Some(refusal) = refusal {
                    outcomes[i] = Err(refusal);
                }
            }
            outcomes
        }
        Err(e) => {
            // The kind only, and not how many were in the batch: a count of answers in flight,
            // with its timestamp, would tell a log reader when people were answering.
            let kind = crate::telemetry::error_kind(&e);
            tracing::error!(error = %kind, "a batch of submissions could not be committed; none was recorded");
            (0..batch.len())
                .map(|_| {
                    Err(SubmissionError::Internal(anyhow::anyhow!(
                        "the batch could not be committed"
                    )))
                })
                .collect()
        }
    }
}

/// What a wave says about a submission to it.
struct WaveFacts {
    open: bool,
    window_id: String,
    closes_at: i64,
    key: Option<WindowKey>,
    /// Whether the pulse asked the follow-through item (an answer to it is kept only then).
    asks_follow_through: bool,
}

/// The statements of one batch, inside its transaction. Returns a refusal or `None` (recorded)
/// per submission, in the order of `batch`. A refusal writes nothing for that submission.
async fn write_in(
    tx: &mut AnyConnection,
    backend: Backend,
    batch: &[&Submission],
) -> anyhow::Result<Vec<Option<SubmissionError>>> {
    let (waves, invited) = batch_facts(tx, backend, batch).await?;

    let mut refusals: Vec<Option<SubmissionError>> = (0..batch.len()).map(|_| None).collect();
    // (index in batch, token) of each submission still to be written.
    let mut tokens: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut seen: HashSet<(&str, Vec<u8>)> = HashSet::new();
    for (i, s) in batch.iter().enumerate() {
        let refusal = match waves.get(s.wave_id.as_str()) {
            None => Some(SubmissionError::UnknownWave),
            // Late answers are refused even before the scheduler gets round to closing it.
            Some(w) if !w.open || secs(s.at) >= w.closes_at || w.key.is_none() => {
                Some(SubmissionError::WaveClosed)
            }
            Some(_) if !invited.contains(&(s.wave_id.as_str(), s.person_id.as_str())) => {
                Some(SubmissionError::NotInvited)
            }
            Some(w) => {
                let key = w.key.as_ref().expect("checked above");
                let token = key.token_for(&s.person_id).as_bytes().to_vec();
                // Two submissions of one person in one batch: the first (in shuffled order)
                // counts, the second is what it would be a moment later.
                if seen.insert((s.wave_id.as_str(), token.clone())) {
                    tokens.push((i, token));
                    None
                } else {
                    Some(SubmissionError::AlreadyAnswered)
                }
            }
        };
        refusals[i] = refusal;
    }
    if tokens.is_empty() {
        return Ok(refusals);
    }

    let inserted = insert_tokens(tx, backend, batch, &waves, &tokens).await?;
    let mut recorded: Vec<usize> = Vec::with_capacity(tokens.len());
    for (i, token) in &tokens {
        if inserted.contains(&(batch[*i].wave_id.clone(), token.clone())) {
            recorded.push(*i);
        } else {
            refusals[*i] = Some(SubmissionError::AlreadyAnswered);
        }
    }
    insert_ballots(tx, backend, batch, &waves, &recorded).await?;
    insert_comments(tx, backend, batch, &recorded).await?;
    Ok(refusals)
}

/// What the waves of the batch say about it, and which of its (wave, person) pairs are
/// invitations: one statement, so one round trip to the connection, for both.
async fn batch_facts<'b>(
    tx: &mut AnyConnection,
    backend: Backend,
    batch: &[&'b Submission],
) -> anyhow::Result<(HashMap<String, WaveFacts>, HashSet<(&'b str, &'b str)>)> {
    let mut pairs: Vec<(&str, &str)> = batch
        .iter()
        .map(|s| (s.wave_id.as_str(), s.person_id.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    // On PostgreSQL the wave rows are share-locked until this commits: a close waits for the
    // batch in flight, and a batch after a close sees it closed. So no ballot or token can
    // arrive in a window being released. (SQLite's write lock, taken by `BEGIN IMMEDIATE`,
    // already serialises the two.)
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR SHARE OF w",
    };
    // Each pair looked up as a pair, on the primary keys. `wave_id IN (…) AND person_id IN (…)`
    // probed the index for every wave of the batch times every person (a few thousand probes
    // for a batch of 64); and SQLite scans the whole table for `(wave_id, person_id) IN
    // (VALUES …)`. A wave that does not exist gives no row.
    let sql = format!(
        "SELECT v.column1, v.column2, i.person_id,
                w.state, w.window_id, w.closes_at, k.hmac_key, w.follow_through_since
         FROM (VALUES {}) AS v
         JOIN waves w ON w.wave_id = v.column1
         LEFT JOIN window_keys k ON k.window_id = w.window_id
         LEFT JOIN wave_invitees i ON i.wave_id = v.column1 AND i.person_id = v.column2
         {lock}",
        backend.value_rows(pairs.len(), 2)
    );
    type Row = (
        String,
        String,
        Option<String>,
        String,
        String,
        i64,
        Option<Vec<u8>>,
        Option<String>,
    );
    let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).persistent(false);
    for (wave_id, person_id) in &pairs {
        query = query.bind(*wave_id).bind(*person_id);
    }
    let rows = query
        .fetch_all(&mut *tx)
        .await
        .context("could not read the waves and invitations")?;
    let mut waves = HashMap::new();
    let mut found = HashSet::new();
    for (wave_id, person_id, invitee, state, window_id, closes_at, key, since) in rows {
        if invitee.is_some() {
            found.insert((wave_id.clone(), person_id));
        }
        waves.entry(wave_id).or_insert_with(|| WaveFacts {
            open: state == "open",
            window_id,
            closes_at,
            key: key.as_deref().and_then(WindowKey::from_bytes),
            asks_follow_through: since.is_some(),
        });
    }
    let invited = pairs
        .into_iter()
        .filter(|(w, p)| found.contains(&((*w).to_owned(), (*p).to_owned())))
        .collect();
    Ok((waves, invited))
}

/// Inserts the participation tokens; returns the (wave, token) pairs that were new.
async fn insert_tokens(
    tx: &mut AnyConnection,
    backend: Backend,
    batch: &[&Submission],
    waves: &HashMap<String, WaveFacts>,
    tokens: &[(usize, Vec<u8>)],
) -> anyhow::Result<HashSet<(String, Vec<u8>)>> {
    let sql = format!(
        "INSERT INTO participation (wave_id, window_id, token) VALUES {}
         ON CONFLICT (wave_id, token) DO NOTHING RETURNING wave_id, token",
        backend.value_rows(tokens.len(), 3)
    );
    let mut query =
        sqlx::query_as::<_, (String, Vec<u8>)>(sqlx::AssertSqlSafe(sql)).persistent(false);
    for (i, token) in tokens {
        let wave_id = batch[*i].wave_id.as_str();
        query = query
            .bind(wave_id)
            .bind(waves[wave_id].window_id.as_str())
            .bind(token.clone());
    }
    Ok(query
        .fetch_all(&mut *tx)
        .await
        .context("could not record participation")?
        .into_iter()
        .collect())
}

async fn insert_ballots(
    tx: &mut AnyConnection,
    backend: Backend,
    batch: &[&Submission],
    waves: &HashMap<String, WaveFacts>,
    recorded: &[usize],
) -> anyhow::Result<()> {
    if recorded.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO ballots (ballot_id, wave_id, {}, follow_through) VALUES {}",
        Question::columns(""),
        backend.value_rows(recorded.len(), 3 + Question::COUNT)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for &i in recorded {
        let s = batch[i];
        query = query.bind(new_id()).bind(s.wave_id.as_str());
        for value in s.ballot.values() {
            query = query.bind(value);
        }
        // An answer to an item the pulse did not ask is not kept.
        let asked = waves
            .get(s.wave_id.as_str())
            .is_some_and(|w| w.asks_follow_through);
        let follow_through = s.ballot.follow_through().filter(|_| asked);
        query = query.bind(follow_through.map(FollowThrough::value));
    }
    query
        .execute(&mut *tx)
        .await
        .context("could not record the ballots")?;
    Ok(())
}

async fn insert_comments(
    tx: &mut AnyConnection,
    backend: Backend,
    batch: &[&Submission],
    recorded: &[usize],
) -> anyhow::Result<()> {
    let with_comment: Vec<&Submission> = recorded
        .iter()
        .map(|&i| batch[i])
        .filter(|s| s.comment.is_some())
        .collect();
    if with_comment.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO comments (comment_id, wave_id, body) VALUES {}",
        backend.value_rows(with_comment.len(), 3)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for s in with_comment {
        let body = s.comment.as_ref().map(Comment::as_str).unwrap_or_default();
        query = query.bind(new_id()).bind(s.wave_id.as_str()).bind(body);
    }
    query
        .execute(&mut *tx)
        .await
        .context("could not record the comments")?;
    Ok(())
}
