//! What a batch of submissions writes, whichever driver writes it: the statements (one per
//! table, as many rows as the batch has submissions; on PostgreSQL the three tables' inserts
//! in one statement, `record_sql`), the values they bind, and the decisions between them (who
//! may answer, which tokens were new). The writers run them: sqlx for PostgreSQL
//! (`submission_writer.rs`); for a SQLite file, SQLite called directly on a thread of its own
//! (`sqlite_writer/`).
//!
//! Privacy: tokens and ballots go to separate tables, in the batch's shuffled order, not the
//! order of arrival; ballots and comments carry random ids, their wave and the answers: no
//! person, no time. (A batch's tokens and ballots are written by one transaction; on
//! PostgreSQL, which stamps rows with it, `answer_shuffle.rs` rewrites an open pulse's answers
//! together once the writer is quiet.)

use std::collections::{HashMap, HashSet};

use super::script::Value;
use super::submission_writer::Submission;
use super::submissions::SubmissionError;
use super::{Backend, new_id, secs};
use crate::privacy::token::{TokenSecrets, WindowKey, WindowKeyError};
use crate::survey::{Comment, FollowThrough, Question};

/// The statements of a batch have as many rows as it has submissions, so each size is another
/// statement. On SQLite through sqlx (an in-memory database) those of batches up to this size
/// are kept prepared in the connection's statement cache. (The SQLite writer of a file runs a
/// batch's statements in parts of a few sizes instead, all kept prepared:
/// `sqlite_writer::parts`. On PostgreSQL a batch's rows are padded to one of a few sizes:
/// [`padded`].)
pub(super) const CACHED_UP_TO: usize = 32;

pub(super) fn cached(rows: usize) -> bool {
    rows <= CACHED_UP_TO
}

/// On PostgreSQL, the rows a batch of `rows` sends in each of its statements: the next
/// power of two, the rows past `rows` all NULL, which match no wave and so write and return
/// nothing (`open_waves::null_waves`, [`null_records`]). The statements of batches of every
/// size up to [`MAX_BATCH`] are then 18 (two for each of nine sizes), all kept prepared, and
/// the server plans each once (a generic plan after its first five runs; the row count of its
/// `VALUES` is in the text, so that plan is the one a fresh plan would be: `EXPLAIN` of the
/// read showed the same for both). Without them, a batch larger than 32 (most batches under
/// load) was parsed and planned anew: about a sixth of the server's CPU (`perf record` of its
/// backends at 64 connections), and 0.7 ms of planning for the read alone in `EXPLAIN
/// ANALYZE`.
/// A single shape for every size (the rows as one JSON value) was tried and not kept: the
/// server then guesses 100 rows and reads the pulses and their keys whole for every batch.
///
/// [`MAX_BATCH`]: super::submission_writer::MAX_BATCH
pub(super) fn padded(rows: usize) -> usize {
    rows.next_power_of_two()
}

/// A row of the batch's read: wave, person, the invitee's person (if invited), the wave's
/// state, window, closing time, the window's key (if unreleased), since when the pulse asks
/// the follow-through item, and the token secret the key was made under (if any).
pub(super) type FactRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
);

/// What a wave says about a submission to it.
#[derive(Clone)]
pub(super) struct WaveFacts {
    open: bool,
    pub(super) window_id: String,
    closes_at: i64,
    /// The key that makes the window's tokens (None once released), or why there is none here.
    key: Option<Result<WindowKey, WindowKeyError>>,
    /// Whether the pulse asked the follow-through item (an answer to it is kept only then).
    asks_follow_through: bool,
}

/// What the batch's read says: its waves, and which of its (wave, person) pairs are invitations.
pub(super) struct Facts<'b> {
    pub(super) waves: HashMap<String, WaveFacts>,
    pub(super) invited: HashSet<(&'b str, &'b str)>,
}

impl WaveFacts {
    /// Whether a later batch may take these facts as they are, without reading the wave
    /// again: a wave open when read, whose key this process has. What an open wave says never
    /// changes but its state (its invitees included), and PostgreSQL's write checks that
    /// itself under the wave's lock ([`record_sql`]).
    pub(super) fn reusable(&self) -> bool {
        self.open && matches!(self.key, Some(Ok(_)))
    }
}

/// The distinct (wave, person) pairs of the batch, sorted: what its read looks up.
pub(super) fn pairs<'b>(batch: &[&'b Submission]) -> Vec<(&'b str, &'b str)> {
    let mut pairs: Vec<(&str, &str)> = batch
        .iter()
        .map(|s| (s.wave_id.as_str(), s.person_id.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The batch's read: its waves, and whether each (wave, person) pair is an invitation, in one
/// statement. Each pair is looked up as a pair, on the primary keys: `wave_id IN (…) AND
/// person_id IN (…)` probed the index for every wave of the batch times every person, and
/// SQLite scans the whole table for `(wave_id, person_id) IN (VALUES …)`. A wave that does not
/// exist gives no row.
///
/// SQLite's read. It takes no lock: the writer reads inside its write transaction, whose lock
/// (`BEGIN IMMEDIATE`) already keeps a close from coming between the read and the write.
/// PostgreSQL reads the batch's waves and their invitees instead, and only those its writers
/// do not know yet (`open_waves::waves_sql`); its write (`record_sql`) takes the waves' locks
/// itself and writes only to those still open.
pub(super) fn facts_sql(pairs: usize) -> String {
    format!(
        "SELECT v.column1, v.column2, i.person_id,
                w.state, w.window_id, w.closes_at, k.hmac_key, w.follow_through_since, k.secret_id
         FROM (VALUES {}) AS v
         JOIN waves w ON w.wave_id = v.column1
         LEFT JOIN window_keys k ON k.window_id = w.window_id
         LEFT JOIN wave_invitees i ON i.wave_id = v.column1 AND i.person_id = v.column2",
        Backend::Sqlite.value_rows(pairs, 2)
    )
}

pub(super) fn facts_values<'b>(pairs: &[(&'b str, &'b str)]) -> Vec<Value<'b>> {
    pairs
        .iter()
        .flat_map(|&(wave, person)| [Value::Text(wave), Value::Text(person)])
        .collect()
}

/// The facts in the rows the read returned for `pairs`; `secrets` make the windows' keys.
pub(super) fn facts<'b>(
    pairs: Vec<(&'b str, &'b str)>,
    rows: Vec<FactRow>,
    secrets: &TokenSecrets,
) -> Facts<'b> {
    let found: HashSet<(&str, &str)> = rows
        .iter()
        .filter(|row| row.2.is_some())
        .map(|row| (row.0.as_str(), row.1.as_str()))
        .collect();
    let invited = pairs
        .into_iter()
        .filter(|pair| found.contains(pair))
        .collect();
    let mut waves = HashMap::new();
    for (wave_id, _, _, state, window_id, closes_at, key, since, secret) in rows {
        waves.entry(wave_id).or_insert_with(|| {
            wave_facts(state, window_id, closes_at, key, since, secret, secrets)
        });
    }
    Facts { waves, invited }
}

/// A wave's facts from the columns both backends' reads return for it; `secrets` make its
/// window's key.
pub(super) fn wave_facts(
    state: String,
    window_id: String,
    closes_at: i64,
    key: Option<Vec<u8>>,
    since: Option<String>,
    secret: Option<String>,
    secrets: &TokenSecrets,
) -> WaveFacts {
    WaveFacts {
        open: state == "open",
        window_id,
        closes_at,
        key: key
            .as_deref()
            .map(|stored| secrets.window_key(stored, secret.as_deref())),
        asks_follow_through: since.is_some(),
    }
}

/// Who in the batch may answer: a refusal or `None` per submission (in the order of the
/// batch), and the token of each that may, to be inserted. A refusal writes nothing.
pub(super) struct Plan {
    pub(super) refusals: Vec<Option<SubmissionError>>,
    /// (index in batch, token) of each submission still to be written.
    pub(super) tokens: Vec<(usize, Vec<u8>)>,
}

pub(super) fn plan(batch: &[&Submission], facts: &Facts) -> Plan {
    let mut refusals: Vec<Option<SubmissionError>> = (0..batch.len()).map(|_| None).collect();
    let mut tokens: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut seen: HashSet<(&str, Vec<u8>)> = HashSet::new();
    for (i, s) in batch.iter().enumerate() {
        refusals[i] = match facts.waves.get(s.wave_id.as_str()) {
            None => Some(SubmissionError::UnknownWave),
            // Late answers are refused even before the scheduler gets round to closing it.
            Some(w) if !w.open || secs(s.at) >= w.closes_at || w.key.is_none() => {
                Some(SubmissionError::WaveClosed)
            }
            Some(_)
                if !facts
                    .invited
                    .contains(&(s.wave_id.as_str(), s.person_id.as_str())) =>
            {
                Some(SubmissionError::NotInvited)
            }
            // Not a refusal: the window was made under a token secret this process does not
            // have (dropped, or another process's). `serve` names it at start-up; the seller is
            // refused, never let answer twice.
            Some(WaveFacts {
                key: Some(Err(e)), ..
            }) => Some(SubmissionError::Internal(e.clone().into())),
            Some(w) => {
                let Some(Ok(key)) = w.key.as_ref() else {
                    unreachable!("checked above")
                };
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
    }
    Plan { refusals, tokens }
}

impl Plan {
    /// Given the (wave, token) pairs the insert added, and whether a wave was still open when
    /// it ran (on PostgreSQL a wave can close between its read, this batch's or an earlier
    /// one's, and the batch's write; on SQLite, which reads and writes under one lock, every
    /// planned wave still is): the submissions to record (indexes in the batch), and every
    /// submission's outcome. A token already there means answered.
    pub(super) fn settle(
        self,
        batch: &[&Submission],
        inserted: &HashSet<(String, Vec<u8>)>,
        still_open: impl Fn(&str) -> bool,
    ) -> (Vec<usize>, Vec<Option<SubmissionError>>) {
        let mut refusals = self.refusals;
        let mut recorded: Vec<usize> = Vec::with_capacity(self.tokens.len());
        for (i, token) in self.tokens {
            let wave_id = &batch[i].wave_id;
            if !still_open(wave_id) {
                refusals[i] = Some(SubmissionError::WaveClosed);
            } else if inserted.contains(&(wave_id.clone(), token)) {
                recorded.push(i);
            } else {
                refusals[i] = Some(SubmissionError::AlreadyAnswered);
            }
        }
        (recorded, refusals)
    }
}

/// How many values a row of the tokens', the ballots' and the comments' statements binds.
const TOKEN_WIDTH: usize = 3;
const BALLOT_WIDTH: usize = 3 + Question::COUNT;
const COMMENT_WIDTH: usize = 3;

/// The participation tokens of `rows` submissions; returns the (wave, token) pairs that were new.
pub(super) fn tokens_sql(backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO participation (wave_id, window_id, token) VALUES {}
         ON CONFLICT (wave_id, token) DO NOTHING RETURNING wave_id, token",
        backend.value_rows(rows, TOKEN_WIDTH)
    )
}

/// The same, appended to `arriving_participation` by the writer of a SQLite file
/// (`sqlite_writer/arrivals.rs`), those not in `participation` already; returns where each went
/// (rowid, wave, token). That table has no key: the writer leaves out the tokens it knows are
/// there (`Arrivals::knows_token`), and `plan` a person's second submission in the batch.
pub(super) fn arriving_tokens_sql(rows: usize) -> String {
    format!(
        "INSERT INTO arriving_participation (wave_id, window_id, token)
         SELECT v.column1, v.column2, v.column3 FROM (VALUES {}) AS v
         WHERE NOT EXISTS (SELECT 1 FROM participation p
                           WHERE p.wave_id = v.column1 AND p.token = v.column3)
         RETURNING rowid, wave_id, token",
        Backend::Sqlite.value_rows(rows, TOKEN_WIDTH)
    )
}

pub(super) fn token_values<'b>(
    batch: &[&'b Submission],
    waves: &'b HashMap<String, WaveFacts>,
    tokens: &'b [(usize, Vec<u8>)],
) -> Vec<Value<'b>> {
    let mut values = Vec::with_capacity(tokens.len() * 3);
    for (i, token) in tokens {
        let wave_id = batch[*i].wave_id.as_str();
        values.push(Value::Text(wave_id));
        values.push(Value::Text(waves[wave_id].window_id.as_str()));
        values.push(Value::Blob(token));
    }
    values
}

/// The ballots of `rows` recorded submissions: random ids, the wave, the answers.
pub(super) fn ballots_sql(backend: Backend, rows: usize) -> String {
    ballots_into_sql("ballots", backend, rows)
}

/// The same, into `table`: `ballots`, or `arriving_ballots` for the writer of a SQLite file
/// (`sqlite_writer/arrivals.rs`).
pub(super) fn ballots_into_sql(table: &str, backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO {table} (ballot_id, wave_id, {}, follow_through) VALUES {}",
        Question::columns(""),
        backend.value_rows(rows, BALLOT_WIDTH)
    )
}

pub(super) fn ballot_values<'b>(
    batch: &[&'b Submission],
    waves: &HashMap<String, WaveFacts>,
    recorded: &[usize],
) -> Vec<Value<'b>> {
    let mut values = Vec::with_capacity(recorded.len() * (3 + Question::COUNT));
    for &i in recorded {
        let s = batch[i];
        values.push(Value::Owned(new_id()));
        values.push(Value::Text(s.wave_id.as_str()));
        values.extend(s.ballot.values().into_iter().map(Value::Int));
        // An answer to an item the pulse did not ask is not kept.
        let asked = waves
            .get(s.wave_id.as_str())
            .is_some_and(|w| w.asks_follow_through);
        let follow_through = s.ballot.follow_through().filter(|_| asked);
        values.push(Value::OptInt(follow_through.map(FollowThrough::value)));
    }
    values
}

/// The comments of `rows` recorded submissions (one row for each, with or without a comment):
/// random ids, the wave, the text. A row without one is skipped, so the statement's shape
/// depends on the number of ballots only.
pub(super) fn comments_sql(backend: Backend, rows: usize) -> String {
    comments_into_sql("comments", backend, rows)
}

/// The same, into `table` (see [`ballots_into_sql`]).
pub(super) fn comments_into_sql(table: &str, backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO {table} (comment_id, wave_id, body)
         SELECT v.column1, v.column2, v.column3 FROM (VALUES {}) AS v WHERE v.column3 IS NOT NULL",
        backend.value_rows(rows, COMMENT_WIDTH)
    )
}

pub(super) fn comment_values<'b>(batch: &[&'b Submission], recorded: &[usize]) -> Vec<Value<'b>> {
    let mut values = Vec::with_capacity(recorded.len() * 3);
    for &i in recorded {
        let s = batch[i];
        values.push(Value::Owned(new_id()));
        values.push(Value::Text(s.wave_id.as_str()));
        values.push(Value::OptText(s.comment.as_ref().map(Comment::as_str)));
    }
    values
}

/// PostgreSQL's whole write of a batch in one statement, and its own transaction: one round
/// trip, where `BEGIN`, a statement for each table and `COMMIT` took five. Each planned
/// submission's token, ballot and comment come in one row of values (the three statements'
/// rows side by side: [`record_values`]).
///
/// The batch's waves still open are share-locked first (`w`), in the order of their ids, as a
/// release's close locks them (`releases::close_waves`), so a batch and a close never each
/// hold a wave the other waits for. Each wave is looked up by its key, one after the other in
/// that order (a `LATERAL` subquery, which PostgreSQL cannot turn into a join of its
/// choosing): written as `wave_id IN (…)`, the server read every open wave of the org and
/// hashed them for each batch wherever that looked cheaper than the lookups on paper (with
/// 750 open waves, 0.2 to 0.35 ms of its CPU a batch, about a third of a batch of 8's).
///
/// A close then waits for the batch in flight, and a batch after a close finds the wave
/// closed: PostgreSQL, having waited for the close's lock, checks `state` again on the row the
/// close left. So no token or ballot can arrive in a window being released, although the read
/// of its waves (`open_waves::waves_sql`), this batch's or an earlier one's, took no lock.
///
/// The tokens are inserted for those waves only, in the order of their values, so two batches
/// in flight at once (this replica's two writers, or another replica's) take the locks of a
/// token both insert in the same order and cannot deadlock (a token is a keyed hash: that
/// order says nothing of who answered, or when); the sort also takes every wave's lock
/// before the first insert. Then a ballot and a comment (if any) for each token that was new,
/// joined to what the insert returned, so a ballot is still written only for a token this
/// statement inserted.
///
/// A token already there is passed over by `ON CONFLICT DO NOTHING` without naming the key
/// `(wave_id, token)`, the table's only unique one. Named, PostgreSQL matched it to each
/// partition's own index anew in every statement, through the catalog (`pg_inherits`), for
/// each partition the batch wrote to: 3 to 7% of the server's CPU for the statement, in the
/// notebook's model. (A plain insert, with the batch retried on a unique violation, was
/// cheaper still, but the server logs a violation with its key: a token and when it was sent
/// again.)
///
/// Returns the (wave, token) pairs that were new, as `tokens_sql` does, and a row for each
/// wave still open, its token NULL: a planned submission to any other wave was refused,
/// closed since the read.
pub(super) fn record_sql(rows: usize) -> String {
    let questions = Question::columns("");
    format!(
        "WITH v (wave_id, window_id, token,
                 ballot_id, ballot_wave, {questions}, follow_through,
                 comment_id, comment_wave, body) AS (VALUES {}),
         w AS (SELECT x.wave_id
               FROM (SELECT DISTINCT wave_id FROM v WHERE wave_id IS NOT NULL
                     ORDER BY wave_id) d,
               LATERAL (SELECT wave_id FROM waves
                        WHERE waves.wave_id = d.wave_id AND state = 'open' FOR SHARE) x),
         t AS (INSERT INTO participation (wave_id, window_id, token)
               SELECT v.wave_id, v.window_id, v.token FROM v JOIN w ON w.wave_id = v.wave_id
               ORDER BY v.wave_id, v.token
               ON CONFLICT DO NOTHING RETURNING wave_id, token),
         b AS (INSERT INTO ballots (ballot_id, wave_id, {questions}, follow_through)
               SELECT v.ballot_id, v.wave_id, {}, v.follow_through
               FROM v JOIN t ON t.wave_id = v.wave_id AND t.token = v.token),
         c AS (INSERT INTO comments (comment_id, wave_id, body)
               SELECT v.comment_id, v.wave_id, v.body
               FROM v JOIN t ON t.wave_id = v.wave_id AND t.token = v.token
               WHERE v.body IS NOT NULL)
         SELECT wave_id, token FROM t
         UNION ALL SELECT wave_id, NULL::bytea FROM w",
        Backend::Postgres.value_rows(rows, TOKEN_WIDTH + BALLOT_WIDTH + COMMENT_WIDTH),
        Question::columns("v."),
    )
}

/// The values of [`record_sql`]: for each planned submission, its rows of [`token_values`],
/// [`ballot_values`] and [`comment_values`] side by side, so what each table is given (an
/// answer to an item the pulse did not ask left out, say) is decided in one place for both
/// ways of writing a batch.
pub(super) fn record_values<'b>(
    batch: &[&'b Submission],
    waves: &'b HashMap<String, WaveFacts>,
    tokens: &'b [(usize, Vec<u8>)],
) -> Vec<Value<'b>> {
    let planned: Vec<usize> = tokens.iter().map(|(i, _)| *i).collect();
    let mut token_rows = token_values(batch, waves, tokens).into_iter();
    let mut ballot_rows = ballot_values(batch, waves, &planned).into_iter();
    let mut comment_rows = comment_values(batch, &planned).into_iter();
    let mut values =
        Vec::with_capacity(planned.len() * (TOKEN_WIDTH + BALLOT_WIDTH + COMMENT_WIDTH));
    for _ in &planned {
        values.extend(token_rows.by_ref().take(TOKEN_WIDTH));
        values.extend(ballot_rows.by_ref().take(BALLOT_WIDTH));
        values.extend(comment_rows.by_ref().take(COMMENT_WIDTH));
    }
    values
}

/// `rows` rows of [`record_sql`]'s values that match no wave, each NULL typed as its column
/// ([`record_values`]'s order): [`padded`]'s rows.
pub(super) fn null_records<'b>(rows: usize) -> impl Iterator<Item = Value<'b>> {
    (0..rows).flat_map(|_| {
        let token = [
            Value::OptText(None),
            Value::OptText(None),
            Value::OptBlob(None),
        ];
        let ballot = [Value::OptText(None), Value::OptText(None)]
            .into_iter()
            .chain((0..Question::COUNT + 1).map(|_| Value::OptInt(None)));
        let comment = [
            Value::OptText(None),
            Value::OptText(None),
            Value::OptText(None),
        ];
        token.into_iter().chain(ballot).chain(comment)
    })
}

/// Whether any of the recorded submissions has a comment.
pub(super) fn any_comment(batch: &[&Submission], recorded: &[usize]) -> bool {
    recorded.iter().any(|&i| batch[i].comment.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_padded_to_one_of_nine_sizes() {
        let sizes: std::collections::BTreeSet<usize> = (1..=crate::store::MAX_SUBMISSION_BATCH)
            .map(padded)
            .collect();
        assert_eq!(sizes.len(), 9, "{sizes:?}");
        assert_eq!(
            (padded(1), padded(32), padded(33), padded(256)),
            (1, 32, 64, 256)
        );
    }

    #[test]
    fn padding_rows_are_as_wide_as_the_statements_rows() {
        let width = TOKEN_WIDTH + BALLOT_WIDTH + COMMENT_WIDTH;
        assert_eq!(null_records(3).count(), 3 * width);
        assert_eq!(record_sql(3).matches('$').count(), 3 * width);
    }
}
