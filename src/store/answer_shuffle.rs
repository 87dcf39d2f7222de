//! On PostgreSQL, an open pulse's answers are rewritten together, in random order, once the
//! writer has been quiet for a moment, so the tables do not pair each token with its ballot.
//!
//! Why: PostgreSQL stamps every row with the transaction that wrote it (`xmin`), and a heap
//! keeps rows in the order they were inserted (`ctid`); both are columns any role with `SELECT`
//! can read. When answers come one at a time (minutes apart, as in a real org), each
//! transaction writes one token and its ballot, and so the two pair up, comment included. The
//! token secret keeps a token from naming anyone to a reader of the database, but not to the
//! operator, who holds it. (SQLite has no such stamp, but a page keeps its rows' bytes in the
//! order they were written: its writer moves the answers too, `sqlite_writer/answer_move.rs`.)
//!
//! Here the writer notes the waves it wrote to, and once no answer has come for
//! [`super::wal_forgetting::QUIET`] (and when it stops), it moves every row of those of them
//! still open, in its three tables, to new rows in random order, each wave in one
//! transaction. Every answer of the wave then carries the same `xmin` and a place that says
//! nothing. The old row versions stay as dead tuples until vacuum, readable only from the
//! table's pages (a superuser's `pageinspect`, the files); a release rewrites those tables
//! anyway.
//!
//! A transaction moves at most [`MOVE_AT_ONCE`] waves, the longest waiting first, on a
//! connection of its own while the batches' writers write the answers that come meanwhile
//! (`submission_writer.rs`). After a burst (a large
//! org's first hour), the waves waiting can be hundreds, with tens of thousands of rows: moved
//! in one transaction, that took 1.4 to 1.9 s a table (the answer benchmark's 750 pulses), and
//! an answer that came meanwhile waited for all of it, past the three seconds Slack gives a
//! modal's submission. An answer no longer waits for a move at all, unless it is a second
//! press of a token the move holds.
//!
//! A quiet moment alone is not enough: at ten answers a second, arriving at random, one gap in
//! 22,000 is a second long (e^-10), so the rows could wait 37 minutes on average, and at that
//! pace each answer is still a transaction of its own. So a wave written to more than
//! [`LONGEST_UNSHUFFLED`] ago is moved even while answers keep coming ([`Unshuffled`]), a few
//! waves at a time, beside the batches.
//!
//! A release running at the same moment must not miss a moved row: its `DELETE` would skip
//! the rows this deletes and not see the ones it inserts. So the move first takes a share lock
//! on the waves still open, which a release's closing of the wave waits for (and after which
//! the wave is no longer open, so it is not moved). A wave that closes before its answers are
//! moved, in a window held open for the team's next wave (under k), keeps its rows until that
//! window's release, weeks later: the close moves them itself, in its own transaction
//! (`Store::close_and_decide_many`).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use sqlx::Connection;

use super::wal_forgetting::QUIET;
use super::{Backend, placeholders};

/// Two writers (of two replicas) moving the same wave's rows at once could lock them in
/// different orders; an advisory lock for the move makes them take turns. Any fixed number.
pub const MOVE_LOCK: i64 = 0x7472_7573_7470; // "trustp"

/// Moves the answer rows of those of `wave_ids` that are still open to new rows, in random
/// order, in one transaction.
pub(super) async fn shuffle_answers(
    conn: &mut AnyConnection,
    wave_ids: &BTreeSet<String>,
) -> anyhow::Result<()> {
    if wave_ids.is_empty() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    // Each table's rows of these waves through its primary key, which begins with the wave:
    // the answer tables keep no statistics (`…_no_statistics_of_answers.sql`), so the planner
    // guesses that a list of waves matches a sixth of a partition and reads every partition
    // whole. A move then read every open answer of the org, however few it moved: with
    // 15,000 pulses of 4 answers, 12 ms a table against 5 by the key, and more as the org
    // grows. Only this transaction plans without sequential scans (`set_config`'s `true`:
    // `SET LOCAL`), set in the same round trip as the lock is taken; and without hash or merge
    // joins, so that each wave of the move's list finds its rows by the key in its own
    // partition ([`move_sql`]), as a release's statements do.
    sqlx::query(
        "SELECT set_config('enable_seqscan', 'off', true),
                set_config('enable_hashjoin', 'off', true),
                set_config('enable_mergejoin', 'off', true), 1
         FROM pg_advisory_xact_lock($1)",
    )
    .bind(MOVE_LOCK)
    .execute(&mut *tx)
    .await?;
    let list = placeholders(1, wave_ids.len());
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "SELECT wave_id FROM waves WHERE wave_id IN ({list}) AND state = 'open'
         ORDER BY wave_id FOR SHARE"
    )))
    .persistent(false);
    for id in wave_ids {
        query = query.bind(id.as_str());
    }
    let open = query.fetch_all(&mut *tx).await?;
    if !open.is_empty() {
        for table in MOVED_TABLES {
            let mut query =
                sqlx::query(sqlx::AssertSqlSafe(move_sql(table, open.len()))).persistent(false);
            for id in &open {
                query = query.bind(id.as_str());
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The tables whose rows of a wave are moved together.
pub(super) const MOVED_TABLES: [&str; 3] = ["participation", "ballots", "comments"];

/// Moves every row of `table` whose wave is one of `waves` (bound as `$1…`) to a new row, in
/// random order, in one statement. It needs the waves locked against a release (see the
/// module's comment) and, to reach the rows through the key, no sequential scans.
///
/// The waves are a list of rows joined to the table, so that each finds its rows in its own
/// partition. A list in `IN (…)` was looked for in every partition its waves hash to, each
/// partition's index searched for every wave: in `psql`, 32 waves of 160 rows in a table of
/// 50,000, 1.3 ms of planning and 3.0 of execution against 0.4 and 1.0.
pub(super) fn move_sql(table: &str, waves: usize) -> String {
    format!(
        "WITH moved AS (DELETE FROM {table} t USING (VALUES {}) AS v (wave_id)
                        WHERE t.wave_id = v.wave_id RETURNING t.*)
         INSERT INTO {table} SELECT * FROM moved ORDER BY random()",
        Backend::Postgres.value_rows(waves, 1)
    )
}

/// The longest a wave's answers wait to be moved while answers keep coming (a quiet moment
/// moves them sooner). Five times the quiet moment: under a steady stream each wave is moved
/// about once per burst of its own answers, not after each.
pub(super) const LONGEST_UNSHUFFLED: Duration = Duration::from_secs(5);

/// The most waves moved in one transaction: a team's wave is tens of rows, so a move takes
/// milliseconds, and holds its waves' rows no longer than that (a token both the move and a
/// batch insert waits for the move to commit).
pub const MOVE_AT_ONCE: usize = 32;

/// How long after its `failures`-th failure in a row a move is tried again: a second, then
/// twice as long each time, up to a minute. Without it, while the database is down, each
/// quiet moment would try again at once and log another warning; a move that failed is kept
/// (its waves wait, they are not lost), so waiting costs only the time its rows stay paired.
fn retry_after(failures: u32) -> Duration {
    const FIRST: Duration = Duration::from_secs(1);
    const LONGEST: Duration = Duration::from_secs(60);
    match failures {
        0 => Duration::ZERO,
        n => FIRST
            .checked_mul(1 << (n - 1).min(16))
            .map_or(LONGEST, |wait| wait.min(LONGEST)),
    }
}

/// The waves written to since their answers were last moved, each with when it was first
/// written to since then, and when the next move may start.
///
/// The waves are also kept in the order they began to wait, so that the writers' loop, which
/// asks on every turn (every batch gathered, every batch answered) which wave waits longest
/// and which are overdue, reads only the front. Those answers were a walk over every waiting
/// wave, twice a turn: up to an org's every team while its first pulse is answered.
#[derive(Debug, Default)]
pub(super) struct Unshuffled {
    since: BTreeMap<String, Instant>,
    /// The same waves, the longest waiting first.
    by_age: BTreeSet<(Instant, String)>,
    /// Moves that failed in a row, and the earliest the next may start ([`retry_after`]).
    failures: u32,
    retry_at: Option<Instant>,
}

impl Unshuffled {
    /// `waves` were written to at `now` (a wave already waiting keeps its first time).
    pub(super) fn note(&mut self, waves: impl IntoIterator<Item = String>, now: Instant) {
        for wave in waves {
            if let Entry::Vacant(entry) = self.since.entry(wave) {
                self.by_age.insert((now, entry.key().clone()));
                entry.insert(now);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.since.is_empty()
    }

    /// When the wave waiting longest was first written to, if one waits.
    pub(super) fn oldest(&self) -> Option<Instant> {
        self.by_age.first().map(|(since, _)| *since)
    }

    /// When the next move is due, the last answer having come at `last_answer`: once the
    /// writers have been quiet for a moment ([`QUIET`]) or once the wave waiting longest has
    /// waited [`LONGEST_UNSHUFFLED`], whichever comes first; not before a failed move's wait
    /// is over. None while no wave waits.
    ///
    /// [`QUIET`]: super::wal_forgetting::QUIET
    pub(super) fn due(&self, last_answer: Instant) -> Option<Instant> {
        let oldest = self.oldest()?;
        let at = (last_answer + QUIET).min(oldest + LONGEST_UNSHUFFLED);
        Some(self.retry_at.map_or(at, |retry| at.max(retry)))
    }

    /// The waves to move at `now` (see [`Self::due`]), at most [`MOVE_AT_ONCE`]: after a
    /// quiet moment the longest waiting, while answers keep coming those overdue; none before
    /// a failed move's wait is over.
    pub(super) fn take_due(&mut self, now: Instant, last_answer: Instant) -> BTreeSet<String> {
        self.take_due_up_to(now, last_answer, MOVE_AT_ONCE)
    }

    /// The same, at most `most` of them: SQLite's writer moves them in its own turns, a few
    /// at a time, and looks for answers between them (`sqlite_writer/answer_move.rs`).
    pub(super) fn take_due_up_to(
        &mut self,
        now: Instant,
        last_answer: Instant,
        most: usize,
    ) -> BTreeSet<String> {
        if self.retry_at.is_some_and(|at| now < at) {
            BTreeSet::new()
        } else if now >= last_answer + QUIET {
            self.take_waited(now, Duration::ZERO, most)
        } else {
            self.take_waited(now, LONGEST_UNSHUFFLED, most)
        }
    }

    /// A move ended at `now` and left `unmoved` (every wave it took if it failed, none if it
    /// succeeded): those wait again, and a failure puts off the next move.
    pub(super) fn move_ended(&mut self, unmoved: BTreeSet<String>, now: Instant) {
        self.failures = if unmoved.is_empty() {
            0
        } else {
            self.failures.saturating_add(1)
        };
        self.retry_at = Some(now + retry_after(self.failures));
        self.note(unmoved, now);
    }

    /// The waves waiting longest, whatever their age, at most [`MOVE_AT_ONCE`] of them.
    pub(super) fn take_oldest(&mut self) -> BTreeSet<String> {
        self.take_waited(Instant::now(), Duration::ZERO, MOVE_AT_ONCE)
    }

    /// The waves first written to [`LONGEST_UNSHUFFLED`] or more before `now`, the longest
    /// waiting first, at most [`MOVE_AT_ONCE`] of them ([`Self::take_due`] while answers keep
    /// coming).
    #[cfg(test)]
    fn take_overdue(&mut self, now: Instant) -> BTreeSet<String> {
        self.take_waited(now, LONGEST_UNSHUFFLED, MOVE_AT_ONCE)
    }

    /// The waves first written to `long` or more before `now`, the longest waiting first, at
    /// most `most` of them.
    fn take_waited(&mut self, now: Instant, long: Duration, most: usize) -> BTreeSet<String> {
        let mut taken = BTreeSet::new();
        while taken.len() < most {
            let Some(first) = self.by_age.first() else {
                break;
            };
            // The rest began to wait later still: none of them has waited long enough either.
            if now.saturating_duration_since(first.0) < long {
                break;
            }
            let (_, wave) = self.by_age.pop_first().expect("a first wave");
            self.since.remove(&wave);
            taken.insert(wave);
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waves(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn a_wave_written_to_again_keeps_its_first_time() {
        let start = Instant::now();
        let mut unshuffled = Unshuffled::default();
        unshuffled.note(waves(&["W1"]), start);
        unshuffled.note(waves(&["W1", "W2"]), start + Duration::from_secs(4));
        let due = unshuffled.take_overdue(start + LONGEST_UNSHUFFLED);
        assert_eq!(due, BTreeSet::from(["W1".to_owned()]));
        assert_eq!(unshuffled.take_oldest(), BTreeSet::from(["W2".to_owned()]));
        assert!(unshuffled.is_empty());
    }

    #[test]
    fn a_wave_moved_and_written_to_again_waits_from_then() {
        let start = Instant::now();
        let mut unshuffled = Unshuffled::default();
        unshuffled.note(waves(&["W1", "W2"]), start);
        let later = start + Duration::from_secs(1);
        unshuffled.note(waves(&["W3"]), later);
        let moved = unshuffled.take_overdue(start + LONGEST_UNSHUFFLED);
        assert_eq!(moved, BTreeSet::from(["W1".to_owned(), "W2".to_owned()]));
        let again = start + LONGEST_UNSHUFFLED;
        unshuffled.note(waves(&["W1", "W3"]), again);
        assert_eq!(unshuffled.oldest(), Some(later), "W3 keeps its first time");
        let overdue = unshuffled.take_overdue(later + LONGEST_UNSHUFFLED);
        assert_eq!(overdue, BTreeSet::from(["W3".to_owned()]));
        assert_eq!(
            unshuffled.oldest(),
            Some(again),
            "W1 waits from its new time"
        );
        assert_eq!(unshuffled.take_oldest(), BTreeSet::from(["W1".to_owned()]));
        assert!(unshuffled.is_empty() && unshuffled.oldest().is_none());
    }

    #[test]
    fn nothing_is_overdue_before_its_time() {
        let start = Instant::now();
        let mut unshuffled = Unshuffled::default();
        unshuffled.note(waves(&["W1", "W2"]), start);
        let early = start + LONGEST_UNSHUFFLED - Duration::from_millis(1);
        assert!(unshuffled.take_overdue(early).is_empty());
        assert!(!unshuffled.is_empty());
    }

    /// `n` waves noted a millisecond apart from `start`, named against their age (so that the
    /// order of names cannot pass for the order of age), and the [`MOVE_AT_ONCE`] oldest.
    fn aged(n: usize, start: Instant) -> (Unshuffled, BTreeSet<String>) {
        let mut unshuffled = Unshuffled::default();
        for i in 0..n {
            let wave = format!("W{:03}", n - i);
            unshuffled.note([wave], start + Duration::from_millis(i as u64));
        }
        let oldest = (0..MOVE_AT_ONCE)
            .map(|i| format!("W{:03}", n - i))
            .collect();
        (unshuffled, oldest)
    }

    #[test]
    fn the_longest_waiting_go_first_a_few_at_a_time() {
        let start = Instant::now();
        let (mut unshuffled, oldest) = aged(MOVE_AT_ONCE + 8, start);
        let late = start + LONGEST_UNSHUFFLED + Duration::from_secs(1);
        assert_eq!(unshuffled.take_overdue(late), oldest);
        assert_eq!(unshuffled.take_overdue(late).len(), 8);
        assert!(unshuffled.is_empty());
    }

    #[test]
    fn a_failing_move_is_tried_again_less_and_less_often_up_to_a_minute() {
        let waits: Vec<u64> = (0..10).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_move_is_due_at_a_quiet_moment_or_once_a_wave_is_overdue() {
        let start = Instant::now();
        let mut quiet = Unshuffled::default();
        assert_eq!(quiet.due(start), None, "nothing waits");
        quiet.note(waves(&["W1"]), start);
        assert_eq!(quiet.due(start), Some(start + QUIET));
        assert!(quiet.take_due(start, start).is_empty(), "not quiet yet");
        assert_eq!(
            quiet.take_due(start + QUIET, start),
            BTreeSet::from(["W1".to_owned()])
        );

        // Answers keep coming, each a moment after the last: no quiet moment comes.
        let mut stream = Unshuffled::default();
        stream.note(waves(&["W1"]), start);
        stream.note(waves(&["W2"]), start + Duration::from_secs(4));
        let now = start + LONGEST_UNSHUFFLED;
        let last_answer = now - QUIET / 2;
        assert_eq!(stream.due(last_answer), Some(now));
        assert_eq!(
            stream.take_due(now, last_answer),
            BTreeSet::from(["W1".to_owned()])
        );
        assert!(
            stream.take_due(now, last_answer).is_empty(),
            "W2 is not overdue"
        );
    }

    #[test]
    fn a_failed_move_puts_off_the_next_and_a_success_ends_the_wait() {
        let start = Instant::now();
        let long_quiet = start;
        let w1 = || BTreeSet::from(["W1".to_owned()]);
        let mut unshuffled = Unshuffled::default();
        unshuffled.note(waves(&["W1"]), start);
        let mut now = start + QUIET;
        assert_eq!(unshuffled.take_due(now, long_quiet), w1());
        for wait in [1, 2, 4] {
            unshuffled.move_ended(w1(), now);
            let retry = now + Duration::from_secs(wait);
            assert_eq!(unshuffled.due(long_quiet), Some(retry), "kept, and put off");
            let early = retry - Duration::from_millis(1);
            assert!(unshuffled.take_due(early, long_quiet).is_empty());
            assert_eq!(unshuffled.take_due(retry, long_quiet), w1());
            now = retry;
        }
        unshuffled.move_ended(BTreeSet::new(), now);
        unshuffled.note(waves(&["W2"]), now);
        assert_eq!(unshuffled.due(long_quiet), Some(now), "due at once again");
    }

    /// SQLite's writer takes a few overdue waves after a batch, the longest waiting first,
    /// and none while a failed move's wait runs (else every batch would try again). (The
    /// answers keep coming: the last one came `now`.)
    #[test]
    fn a_few_overdue_waves_at_a_time_and_none_while_a_failure_waits() {
        let start = Instant::now();
        let (mut unshuffled, _) = aged(40, start);
        let now = start + LONGEST_UNSHUFFLED + Duration::from_millis(5);
        let first = unshuffled.take_due_up_to(now, now, 4);
        let expected: BTreeSet<String> = (0..4).map(|i| format!("W{:03}", 40 - i)).collect();
        assert_eq!(first, expected, "the four waiting longest");
        unshuffled.move_ended(first, now);
        assert!(
            unshuffled.take_due_up_to(now, now, 4).is_empty(),
            "a failed move's wait"
        );
        let later = now + Duration::from_secs(1);
        assert_eq!(unshuffled.take_due_up_to(later, later, 4).len(), 4);
    }

    #[test]
    fn the_oldest_is_the_first_written_to_of_those_waiting() {
        let start = Instant::now();
        let (mut unshuffled, _) = aged(MOVE_AT_ONCE + 1, start);
        assert_eq!(unshuffled.oldest(), Some(start));
        unshuffled.take_oldest();
        let last = start + Duration::from_millis(MOVE_AT_ONCE as u64);
        assert_eq!(unshuffled.oldest(), Some(last));
        unshuffled.take_oldest();
        assert_eq!(unshuffled.oldest(), None);
    }

    #[test]
    fn a_quiet_moment_moves_the_longest_waiting_first_whatever_their_age() {
        let (mut unshuffled, oldest) = aged(MOVE_AT_ONCE + 3, Instant::now());
        assert_eq!(unshuffled.take_oldest(), oldest);
        assert_eq!(unshuffled.take_oldest().len(), 3);
        assert!(unshuffled.is_empty());
        assert!(unshuffled.take_oldest().is_empty());
    }
}
