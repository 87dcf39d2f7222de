//! On a SQLite file, a pulse's answers are rewritten together, in random order, once the writer
//! has been quiet for a moment (or they have waited [`LONGEST_UNSHUFFLED`]), as PostgreSQL's
//! are (`answer_shuffle.rs`), so that the file does not pair each token with its ballot.
//!
//! Why: SQLite places a new row's bytes in its page just below the rows already there (or in
//! a hole left by a deleted one), and the page keeps that place until it is split or rebuilt.
//! So the rows of a page, read in the order of their places, are in the order they were
//! written: the keys' random order holds only for the list of places, not for the places. A
//! team's tokens share a page or two (their key begins with the wave), and so do its ballots.
//! Answers one at a time, as in a real org, then pair the k-th token of a pulse with its k-th
//! ballot, comment included, to anyone who reads the file and holds the token secret (the
//! operator), who can make each invitee's token. (The test below shows it on SQLite alone;
//! `store_submissions::sqlite_the_file_keeps_no_order_of_a_pulses_answers_once_the_writer_is_quiet`
//! through the store.)
//!
//! Here the writer deletes every row of the waves it wrote to, in the three tables, and writes
//! them again in random order, a few waves in each transaction, with their ballots and
//! comments that arrived since the last move (`arrivals.rs`: a batch appends them in the order
//! of arrival, and the sweep deletes them from there afterwards). The rows then take the places
//! their deletion freed in an order that says nothing of when each came. `secure_delete` zeroes
//! the old bytes, and the WAL, which held the pages as they were, is emptied at the next quiet
//! moment (`wal_forgetting.rs`). A wave is moved whatever its state: under SQLite's write lock
//! a release has deleted its rows already (nothing to move) or has not begun.

use std::collections::BTreeSet;

use anyhow::Context;
use rusqlite::{Connection, params_from_iter};

use super::arrivals::{Rows, TABLES};
use super::synced_mark::{Version, version};
use crate::store::answer_shuffle::MOVED_TABLES;
use crate::store::{Backend, disk};

/// The rows a move's transaction aims at, in the three tables together. An answer that comes
/// meanwhile waits for the transaction (the writer is one thread): after the answer
/// benchmark's burst, eight teams of 200 a transaction (about 3,400 rows) made such an answer
/// wait 8.7 to 14.5 ms, against 3.3 to 5.6 without moves, and 4.2 and 4.5 with this bound (two
/// teams of 200 a transaction).
const ROWS_A_TRANSACTION: usize = 1024;

/// The WAL frames a move's transaction aims at: half the WAL's limit
/// (`disk::WAL_LIMIT_FRAMES`), a privacy bound the answers' batches and the sweep keep. Rows
/// alone did not bound them: a comment may be 2,000 characters (`survey::COMMENT_MAX_CHARS`),
/// and eight waves of 50 answers with such comments (1,200 rows) wrote 473 frames in one
/// transaction, of 100 answers 941 (the test below).
const FRAMES_A_TRANSACTION: usize = disk::WAL_LIMIT_FRAMES as usize / 2;

/// The most waves moved in one transaction: eight teams of ten are about 200 rows.
const MOST_WAVES: usize = 8;

/// How many waves the writer's next move takes in one transaction: as many as came near
/// [`ROWS_A_TRANSACTION`] rows and [`FRAMES_A_TRANSACTION`] frames in the last one, from one to
/// [`MOST_WAVES`]. A team's rows are not counted before they are moved; the last move's rows
/// and frames a wave are the guess, and the writer's first move takes eight. One wave is the
/// least, however large: its rows move together or not at all.
#[derive(Debug)]
pub(super) struct MoveSize(usize);

impl Default for MoveSize {
    fn default() -> MoveSize {
        MoveSize(MOST_WAVES)
    }
}

impl MoveSize {
    pub(super) fn waves(&self) -> usize {
        self.0
    }

    /// A move of `waves` waves rewrote `rows` rows and wrote `frames` frames to the WAL.
    pub(super) fn moved(&mut self, waves: usize, rows: usize, frames: usize) {
        let by_rows = waves * ROWS_A_TRANSACTION / rows.max(1);
        let by_frames = waves * FRAMES_A_TRANSACTION / frames.max(1);
        self.0 = by_rows.min(by_frames).clamp(1, MOST_WAVES);
    }
}

/// The frames a transaction wrote to the WAL, from the frames in it before (`start`) and after
/// (`end`, the writer's WAL hook): all of `end` when the transaction started the WAL again.
pub(super) fn frames_written(start: i32, end: i32) -> usize {
    let written = if end >= start { end - start } else { end };
    usize::try_from(written).unwrap_or(0)
}

/// Moves every row of `waves` in the answer tables to new rows, in random order, in one
/// transaction. Returns `data_version` as the transaction found it, for the checkpoint after
/// it (`Checkpoints::after_commit`), and the rows moved. Any error leaves the transaction
/// open: the caller drops the connection, which rolls it back.
pub(super) fn move_answers(
    conn: &Connection,
    waves: &BTreeSet<String>,
    arriving: &Rows,
) -> anyhow::Result<(Version, usize)> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let before = version(conn)?;
    let list = Backend::Sqlite.params(1, waves.len());
    let mut rows = 0;
    for table in MOVED_TABLES {
        // The rows wait in a temporary table, which `temp_store=MEMORY` keeps off the disk.
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS moving_{table} AS SELECT * FROM main.{table} WHERE 0"
        ))?;
        let mut copied = conn.execute(
            &format!(
                "INSERT INTO temp.moving_{table} SELECT * FROM main.{table} WHERE wave_id IN ({list})"
            ),
            params_from_iter(waves),
        )?;
        // With the rows of these waves that arrived since their last move (`arrivals.rs`),
        // found by their rowids: the arriving tables have no index by wave. They stay where
        // they arrived until the sweep; the kept table holds them from now on.
        if let Some(index) = TABLES.iter().position(|a| a.kept == table)
            && !arriving.0[index].is_empty()
        {
            let ids = arriving.json(index);
            let values = std::iter::once(ids.as_str()).chain(waves.iter().map(String::as_str));
            copied += conn.execute(
                &TABLES[index].copy_sql(&Backend::Sqlite.params(2, waves.len())),
                params_from_iter(values),
            )?;
        }
        if copied == 0 {
            continue;
        }
        rows += copied;
        conn.execute(
            &format!("DELETE FROM main.{table} WHERE wave_id IN ({list})"),
            params_from_iter(waves),
        )?;
        conn.execute_batch(&format!(
            "INSERT INTO main.{table} SELECT * FROM temp.moving_{table} ORDER BY random();
             DELETE FROM temp.moving_{table};"
        ))
        .with_context(|| format!("could not write the moved rows of {table} again"))?;
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok((before, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_in_file(path: &std::path::Path, needles: &[Vec<u8>]) -> Vec<usize> {
        crate::store::sqlite_order_in_file(path, needles).unwrap()
    }

    /// A file with the answer tables' shape (their keys begin with the wave), no other table.
    fn answer_tables(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;
             CREATE TABLE participation (wave_id TEXT NOT NULL, window_id TEXT NOT NULL,
                 token BLOB NOT NULL, PRIMARY KEY (wave_id, token)) WITHOUT ROWID;
             CREATE TABLE ballots (ballot_id TEXT NOT NULL, wave_id TEXT NOT NULL,
                 care BIGINT NOT NULL, PRIMARY KEY (wave_id, ballot_id)) WITHOUT ROWID;
             CREATE TABLE comments (comment_id TEXT NOT NULL, wave_id TEXT NOT NULL,
                 body TEXT NOT NULL, PRIMARY KEY (wave_id, comment_id)) WITHOUT ROWID;",
        )
        .unwrap();
        conn
    }

    fn checkpoint(conn: &Connection) {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }

    /// Twelve answers to one wave, one transaction each, as a real org's come, beside another
    /// team's: the file keeps the order they came in, in the places of the tokens and of the
    /// ballots alike, so the two pair up. Once the wave's answers are moved, neither table's
    /// places say it (by chance, one move in 12! would), and every row is still there.
    #[test]
    fn the_places_of_rows_in_a_page_keep_their_order_until_the_answers_are_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.db");
        let conn = answer_tables(&path);
        let (mut tokens, mut ballots) = (Vec::new(), Vec::new());
        for i in 0..12u8 {
            let token = [i + 1; 32].to_vec();
            let ballot = format!("ballot-{i:02}-{}", crate::store::new_id());
            conn.execute(
                "INSERT INTO participation VALUES ('W1', 'X1', ?1)",
                rusqlite::params![token],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO ballots VALUES (?1, 'W1', ?2)",
                rusqlite::params![ballot, 1 + i % 5],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO participation VALUES ('W2', 'X2', ?1)",
                rusqlite::params![[i + 101; 32].to_vec()],
            )
            .unwrap();
            tokens.push(token);
            ballots.push(ballot.into_bytes());
        }
        checkpoint(&conn);
        let arrival: Vec<usize> = (0..12).collect();
        assert_eq!(order_in_file(&path, &tokens), arrival, "tokens as written");
        assert_eq!(
            order_in_file(&path, &ballots),
            arrival,
            "ballots as written"
        );

        let waves = BTreeSet::from(["W1".to_string()]);
        assert_eq!(
            move_answers(&conn, &waves, &Rows::default()).unwrap().1,
            24,
            "its tokens and ballots"
        );
        checkpoint(&conn);
        let (tokens_now, ballots_now) = (
            order_in_file(&path, &tokens),
            order_in_file(&path, &ballots),
        );
        assert_eq!(tokens_now.len(), 12, "every token still there");
        assert_eq!(ballots_now.len(), 12, "every ballot still there");
        assert_ne!(
            tokens_now, arrival,
            "the tokens' places still say who came when"
        );
        assert_ne!(
            ballots_now, arrival,
            "the ballots' places still say who came when"
        );
        let other: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM participation WHERE wave_id = 'W2'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(other, 12, "another wave's rows are left as they are");
    }

    /// Large teams are moved a few at a time, small ones eight at a time, and one wave at a
    /// time is the least, however large; long comments count by the frames they write.
    #[test]
    fn a_move_takes_as_many_waves_as_come_near_its_rows_and_frames() {
        let mut size = MoveSize::default();
        assert_eq!(size.waves(), 8);
        size.moved(8, 8 * 430, 40); // teams of 200: their tokens, ballots and comments
        assert_eq!(size.waves(), 2);
        size.moved(2, 2 * 25, 6); // teams of ten
        assert_eq!(size.waves(), 8);
        size.moved(1, 5_000, 60);
        assert_eq!(size.waves(), 1);
        size.moved(1, 0, 0);
        assert_eq!(size.waves(), 8);
        size.moved(8, 8 * 100, 8 * 80); // teams of 33 with long comments
        assert_eq!(size.waves(), 1);
        size.moved(4, 4 * 30, 4 * 40);
        assert_eq!(size.waves(), 3);
    }

    /// Eight waves of 50 answers with the longest comments, moved in one transaction as the
    /// rows alone allowed, wrote past the WAL's limit (473 frames; 941 for teams of 100); the
    /// next move, sized by those frames, takes as many waves as come near half of it, and
    /// stays within it (two waves, 133 frames).
    #[test]
    fn a_move_of_long_comments_stays_within_the_wal_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.db");
        let conn = answer_tables(&path);
        // The writer's hook: it counts the frames, and SQLite's own checkpoints stay off.
        conn.wal_hook(Some(super::super::count_frames));
        let waves: Vec<String> = (0..8).map(|w| format!("W{w}")).collect();
        for wave in &waves {
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
                 INSERT INTO participation SELECT ?1, 'X', randomblob(32) FROM n",
                [wave],
            )
            .unwrap();
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
                 INSERT INTO ballots SELECT hex(randomblob(16)), ?1, 1 + i % 5 FROM n",
                [wave],
            )
            .unwrap();
            let body = format!("hex(randomblob({}))", crate::survey::COMMENT_MAX_CHARS / 2);
            conn.execute(
                &format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
                     INSERT INTO comments SELECT hex(randomblob(16)), ?1, {body} FROM n"
                ),
                [wave],
            )
            .unwrap();
        }
        let moved = |waves: &[String]| {
            checkpoint(&conn);
            super::super::WAL_FRAMES.set(0);
            let set: BTreeSet<String> = waves.iter().cloned().collect();
            let (_, rows) = move_answers(&conn, &set, &Rows::default()).unwrap();
            (rows, frames_written(0, super::super::WAL_FRAMES.get()))
        };

        let (rows, frames) = moved(&waves);
        assert_eq!(rows, 8 * 3 * 50, "every row of the eight waves");
        assert!(
            frames > disk::WAL_LIMIT_FRAMES as usize,
            "eight waves of long comments wrote {frames} frames"
        );
        let mut size = MoveSize::default();
        size.moved(waves.len(), rows, frames);
        assert!(size.waves() < 8, "still eight waves a transaction");

        let (_, frames) = moved(&waves[..size.waves()]);
        assert!(
            frames <= disk::WAL_LIMIT_FRAMES as usize,
            "{} waves wrote {frames} frames",
            size.waves()
        );
    }
}
