//! On a SQLite file, the answers' writer puts tokens, ballots and comments first in tables in
//! the order of arrival (`arriving_participation`, `arriving_ballots`, `arriving_comments`: a
//! rowid rising with each row), not in `participation`, `ballots` and `comments`, keyed by
//! pulse. A pulse's move (`answer_move.rs`) then copies them there in random order with the
//! pulse's other rows, and a sweep deletes the copied rows from the arriving tables, from the
//! oldest, a range of rowids at a time.
//!
//! Why: a batch's answers are to as many pulses as answers, so each token, each ballot and each
//! comment went to a page of its own pulse: a batch wrote a page of each for nearly every
//! answer. Here a batch's rows share a page or two a table. The move rewrote those pulse pages
//! anyway, once quiet or within seconds; it now writes them once, where each answer wrote them
//! before. The sweep deletes whole pages of rows in the order they came, so it writes each page
//! once; deleting a pulse's rows one by one, wherever they came, would have written a page for
//! nearly every row again. Ballots and comments arrived here first (the sixty-third session in
//! docs/benchmarks.md: 43% more answers a second); tokens followed (the sixty-ninth: the
//! writer's writes an answer a sixth of what they were).
//!
//! A second answer: `participation`'s key refuses a token already moved there, and the writer,
//! the one process that writes answers to the file (`serve` holds its lock), refuses one it
//! knows is here ([`Arrivals::knows_token`]); it reads the tokens here when it starts
//! ([`Arrivals::found`]), so a crash forgets none.
//!
//! Readers see a row once (`store::with_arriving`, `releases::arriving_answers`): the kept
//! table, and the arriving rows it does not hold under the same key (copied, not yet swept).
//!
//! Privacy: the rowid and a row's place in its page are orders of arrival, as the places of
//! rows in a pulse's page were before a move. They last until the sweep after the move, which
//! `secure_delete` makes a zeroing of the rows, and the WAL's next emptying takes the pages as
//! they were. The tokens the writer keeps in memory until their move are keyed hashes, as in
//! the file; the process holds the secret that makes them anyway.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rusqlite::Connection;

use crate::store::submission_writer::MAX_BATCH;

/// The tables a batch appends to, each with the table its rows are moved to and that table's
/// columns (the same, in the same order).
pub(in crate::store) const TABLES: [Arriving; 3] = [
    Arriving {
        name: "arriving_ballots",
        kept: "ballots",
        id: "ballot_id",
        identity: "ballot_id",
        columns: "ballot_id, wave_id, care, help, trust, follow_through",
        sweep_rows: 1024,
    },
    Arriving {
        name: "arriving_comments",
        kept: "comments",
        id: "comment_id",
        identity: "comment_id",
        columns: "comment_id, wave_id, body",
        sweep_rows: MAX_BATCH as i64,
    },
    Arriving {
        name: "arriving_participation",
        kept: "participation",
        id: "token",
        identity: "wave_id || hex(token)",
        columns: "wave_id, window_id, token",
        sweep_rows: 1024,
    },
];

/// A participation token: an HMAC-SHA256 (`privacy::token`).
type Token = [u8; 32];

pub(in crate::store) const BALLOTS: usize = 0;
pub(in crate::store) const COMMENTS: usize = 1;
pub(in crate::store) const TOKENS: usize = 2;

#[derive(Debug)]
pub(in crate::store) struct Arriving {
    pub(in crate::store) name: &'static str,
    pub(in crate::store) kept: &'static str,
    /// The column of the kept table's key after the pulse: a row copied holds the same.
    pub(in crate::store) id: &'static str,
    /// What tells one row from another as text (`release_arrivals.rs`): the random id, or a
    /// token's pulse and the token (a person's token is the same in each pulse of a window).
    pub(in crate::store) identity: &'static str,
    columns: &'static str,
    /// The most rows a sweep deletes from this table in one transaction, so that it writes no
    /// more of the WAL than a batch may (`forensics::answers_never_grow_the_wal_past_its_limit`
    /// allows a transaction past the 1 MiB limit) and an answer that comes meanwhile waits
    /// little: 1,024 ballots are about 25 pages; a comment may be 2,000 characters, so no more
    /// of them than the largest batch holds ([`MAX_BATCH`]).
    sweep_rows: i64,
}

impl Arriving {
    /// Copies the rows `?2` (a JSON array of rowids) of the waves `waves` (a subquery of `?1`)
    /// into `temp.moving_…`, those the kept table does not hold already.
    pub(super) fn copy_sql(&self, waves: &str) -> String {
        let (name, kept, id, columns) = (self.name, self.kept, self.id, self.columns);
        format!(
            "INSERT INTO temp.moving_{kept} ({columns})
             SELECT {columns} FROM main.{name} a
             WHERE a.rowid IN (SELECT value FROM json_each(?2)) AND a.wave_id IN {waves}
               AND NOT EXISTS (SELECT 1 FROM main.{kept} k
                               WHERE k.wave_id = a.wave_id AND k.{id} = a.{id})"
        )
    }

    /// Deletes the oldest rows up to rowid `?1`, at most [`Self::sweep_rows`], those the kept
    /// table holds (a row not copied stays, whatever the writer believed).
    fn sweep_sql(&self) -> String {
        let (name, kept, id, most) = (self.name, self.kept, self.id, self.sweep_rows);
        format!(
            "DELETE FROM main.{name} WHERE rowid IN
               (SELECT rowid FROM main.{name} WHERE rowid <= ?1 ORDER BY rowid LIMIT {most})
             AND EXISTS (SELECT 1 FROM main.{kept} k
                         WHERE k.wave_id = {name}.wave_id AND k.{id} = {name}.{id})"
        )
    }
}

/// The rowids of a wave's rows not copied yet, in each arriving table.
#[derive(Debug, Default, Clone)]
pub(super) struct Rows(pub(super) [Vec<i64>; TABLES.len()]);

impl Rows {
    /// The rowids of `table` as a JSON array, for `json_each`.
    pub(super) fn json(&self, table: usize) -> String {
        serde_json::to_string(&self.0[table]).expect("integers make JSON")
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }
}

/// What the writer knows of one wave's rows not copied yet.
#[derive(Debug, Default)]
struct Waiting {
    rows: Rows,
    /// Its tokens in `arriving_participation`: a second answer finds its token here, or in
    /// `participation`. As arrays, not `Vec`s: through the answer benchmark's load at 64
    /// connections (about 80,000 answers before their moves) the peak RSS was 40 to 42 MiB
    /// with `Vec`s and 38 with arrays, against 31 to 32 MiB before tokens arrived here (the
    /// sixty-ninth session in docs/benchmarks.md).
    tokens: HashSet<Token>,
}

/// What the writer knows of the arriving tables: which rows of which waves are not copied yet,
/// and so up to where the sweep may delete.
#[derive(Debug, Default)]
pub(super) struct Arrivals {
    waiting: BTreeMap<String, Waiting>,
    /// The first rowid of each wave waiting, in each table, the lowest first.
    firsts: [BTreeSet<(i64, String)>; TABLES.len()],
    /// Rows may have been copied and not swept yet.
    sweep_due: bool,
}

impl Arrivals {
    /// `rowid` of `table` holds a row of `wave`, written just now.
    pub(super) fn written(&mut self, table: usize, wave: &str, rowid: i64) {
        self.wrote(table, wave, rowid);
    }

    /// `rowid` of `arriving_participation` holds `token` of `wave`, written just now. A value
    /// of another length is no token this writer makes, and no answer's would match it.
    pub(super) fn token_written(&mut self, wave: &str, rowid: i64, token: &[u8]) {
        let waiting = self.wrote(TOKENS, wave, rowid);
        if let Ok(token) = Token::try_from(token) {
            waiting.tokens.insert(token);
        }
    }

    fn wrote(&mut self, table: usize, wave: &str, rowid: i64) -> &mut Waiting {
        // Not `entry`: it would copy the wave's id for every row, where most find it waiting.
        if !self.waiting.contains_key(wave) {
            self.waiting.insert(wave.to_owned(), Waiting::default());
        }
        let waiting = self.waiting.get_mut(wave).expect("just made");
        let list = &mut waiting.rows.0[table];
        if list.is_empty() {
            self.firsts[table].insert((rowid, wave.to_owned()));
        }
        list.push(rowid);
        waiting
    }

    /// Whether `token` of `wave` is in `arriving_participation`, not copied yet: that person
    /// answered the pulse already.
    pub(super) fn knows_token(&self, wave: &str, token: &[u8]) -> bool {
        Token::try_from(token).is_ok_and(|token| {
            self.waiting
                .get(wave)
                .is_some_and(|waiting| waiting.tokens.contains(&token))
        })
    }

    /// The rows of `waves` not copied yet, for a move.
    pub(super) fn of(&self, waves: &BTreeSet<String>) -> Rows {
        let mut all = Rows::default();
        for waiting in waves.iter().filter_map(|wave| self.waiting.get(wave)) {
            for (all, rows) in all.0.iter_mut().zip(&waiting.rows.0) {
                all.extend(rows);
            }
        }
        all
    }

    /// A move of `waves` committed: their rows are copied, and may be swept.
    pub(super) fn moved(&mut self, waves: &BTreeSet<String>) {
        for wave in waves {
            // With its tokens: `participation` holds them now, and refuses a second answer by
            // its key.
            if let Some(waiting) = self.waiting.remove(wave) {
                for (firsts, rows) in self.firsts.iter_mut().zip(&waiting.rows.0) {
                    if let Some(first) = rows.first() {
                        firsts.remove(&(*first, wave.clone()));
                    }
                }
                self.sweep_due = true;
            }
        }
    }

    /// The waves with rows not copied yet.
    pub(super) fn waves(&self) -> impl Iterator<Item = String> + '_ {
        self.waiting.keys().cloned()
    }

    pub(super) fn sweep_due(&self) -> bool {
        self.sweep_due
    }

    /// Every rowid of `table` below the first of a wave waiting is copied (or gone).
    fn copied_below(&self, table: usize) -> i64 {
        self.firsts[table]
            .first()
            .map_or(i64::MAX, |(first, _)| first - 1)
    }

    /// The rows of waves left in the arriving tables by an earlier run of the writer (stopped
    /// before their move, or by a crash): they wait as if written now, and their tokens refuse
    /// a second answer as if written now.
    pub(super) fn found(conn: &Connection) -> anyhow::Result<Arrivals> {
        let mut arrivals = Arrivals::default();
        for (table, arriving) in TABLES.iter().enumerate() {
            // Each row's token too, in the table of tokens (a placeholder elsewhere).
            let token = if table == TOKENS { "token" } else { "NULL" };
            let mut statement = conn.prepare(&format!(
                "SELECT rowid, wave_id, {token} FROM main.{} ORDER BY rowid",
                arriving.name
            ))?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let (rowid, wave): (i64, String) = (row.get(0)?, row.get(1)?);
                match row.get::<_, Option<Vec<u8>>>(2)? {
                    Some(token) => arrivals.token_written(&wave, rowid, &token),
                    None => arrivals.written(table, &wave, rowid),
                }
            }
        }
        // Rows copied by a move whose sweep did not come: the sweep finds them.
        arrivals.sweep_due = !arrivals.waiting.is_empty();
        Ok(arrivals)
    }

    /// One transaction of the sweep: deletes the oldest copied rows of each table, up to its
    /// [`Arriving::sweep_rows`]; the sweep stays due while a table may have more. Returns
    /// `data_version` as the transaction found it. Any error leaves the transaction open: the
    /// caller drops the connection, which rolls it back.
    pub(super) fn sweep(
        &mut self,
        conn: &Connection,
    ) -> anyhow::Result<super::synced_mark::Version> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let before = super::synced_mark::version(conn)?;
        let mut more = false;
        for (table, arriving) in TABLES.iter().enumerate() {
            let deleted = conn
                .prepare_cached(&arriving.sweep_sql())?
                .execute([self.copied_below(table)])?;
            // A part short of the most: nothing copied is left below the bound, or a row
            // there is not copied (left for a later sweep, never lost).
            more |= deleted as i64 == arriving.sweep_rows;
        }
        conn.prepare_cached("COMMIT")?.execute([])?;
        self.sweep_due = more;
        Ok(before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waves(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    /// The sweep may delete only below the first row of a wave not moved yet, in each table,
    /// and everything once every wave is moved.
    #[test]
    fn the_sweep_stops_below_the_first_row_not_copied() {
        let mut arrivals = Arrivals::default();
        assert!(!arrivals.sweep_due());
        arrivals.written(BALLOTS, "W1", 1);
        arrivals.written(BALLOTS, "W2", 2);
        arrivals.written(COMMENTS, "W2", 1);
        arrivals.written(BALLOTS, "W1", 3);
        assert_eq!(arrivals.copied_below(BALLOTS), 0);
        assert_eq!(arrivals.of(&waves(&["W1"])).0[BALLOTS], [1, 3]);
        arrivals.moved(&waves(&["W1"]));
        assert!(arrivals.sweep_due());
        assert_eq!(arrivals.copied_below(BALLOTS), 1, "W2's ballot at 2 waits");
        assert_eq!(
            arrivals.copied_below(COMMENTS),
            0,
            "W2's comment at 1 waits"
        );
        arrivals.written(BALLOTS, "W1", 4);
        arrivals.moved(&waves(&["W2"]));
        assert_eq!(arrivals.copied_below(BALLOTS), 3, "W1's ballot at 4 waits");
        assert_eq!(arrivals.copied_below(COMMENTS), i64::MAX);
        arrivals.moved(&waves(&["W1", "W9"]));
        assert_eq!(arrivals.copied_below(BALLOTS), i64::MAX);
        assert!(arrivals.of(&waves(&["W1", "W2"])).is_empty());
    }
}
