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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use anyhow::Context;
use rusqlite::Connection;

use super::arrivals::{Rows, TABLES};
use super::move_size::{WaveSize, fit, largest_in_leaf};
use super::synced_mark::{Version, version};
use crate::store::answer_shuffle::MOVED_TABLES;

/// The length of each moved table's record, from its columns' (`octet_length` counts a text's
/// bytes, not its characters), for [`WaveSize`]; the rest is the record's header: a byte for
/// its length and one or two for each column's type.
const RECORDS: [(&str, &str); 3] = [
    (
        "participation",
        "octet_length(wave_id) + octet_length(window_id) + octet_length(token) + 4",
    ),
    (
        "ballots",
        // Four small integers, a byte each (or none, for an unanswered follow-through).
        "octet_length(ballot_id) + octet_length(wave_id) + 4 + 7",
    ),
    (
        "comments",
        "octet_length(comment_id) + octet_length(wave_id) + octet_length(body) + 6",
    ),
];

/// The statements a move keeps prepared: six for each table (the temporary table made, the
/// rows copied to it from the table and from where they arrived, deleted, written again, and
/// the temporary table emptied), [`SIZE_SQL`], the read of the page size and the `ROLLBACK`
/// of a move that takes no wave.
pub(super) const KEPT_PREPARED: usize = 6 * MOVED_TABLES.len() + 3;

/// What one transaction of a move did.
#[derive(Debug)]
pub(super) struct Moved {
    /// `data_version` as the transaction found it, for the checkpoint after it
    /// (`Checkpoints::after_commit`).
    pub(super) before: Version,
    /// The waves moved: the first of those asked for, as many as fit (`move_size::fit`).
    pub(super) waves: BTreeSet<String>,
    pub(super) rows: usize,
}

/// Moves every row of the first of `waves` that fit one transaction (`move_size.rs`) and the
/// `room` frames the WAL has left before its limit in the answer tables to new rows, in random
/// order, in one transaction. The rest are left for the next. None, with nothing written, when
/// not even the first fits the room, unless the room is a whole transaction's. Any error
/// leaves the transaction open: the caller drops the connection, which rolls it back.
pub(super) fn move_answers(
    conn: &Connection,
    waves: &BTreeSet<String>,
    arriving: &Rows,
    room: usize,
) -> anyhow::Result<Option<Moved>> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let before = version(conn)?;
    let copied = copy_to_memory(conn, waves, arriving)?;
    // Now that their rows are in memory, the waves that fit one transaction; the others' rows
    // are let go with the rest, and wait for the next.
    let page = page_size(conn)?;
    let sizes = wave_sizes(conn, page)?;
    let taken: BTreeSet<String> = waves
        .iter()
        .take(fit(waves, &sizes, page, room))
        .cloned()
        .collect();
    if taken.is_empty() {
        // The rows copied to memory go with it.
        conn.prepare_cached("ROLLBACK")?.execute([])?;
        return Ok(None);
    }
    let list = wave_list(&taken);
    for (table, _) in MOVED_TABLES.iter().zip(&copied).filter(|(_, n)| **n > 0) {
        conn.prepare_cached(&format!(
            "DELETE FROM main.{table} WHERE wave_id IN {WAVES}"
        ))?
        .execute([&list])?;
        conn.prepare_cached(&format!(
            "INSERT INTO main.{table} SELECT * FROM temp.moving_{table}
             WHERE wave_id IN {WAVES} ORDER BY random()"
        ))?
        .execute([&list])
        .with_context(|| format!("could not write the moved rows of {table} again"))?;
        conn.prepare_cached(&format!("DELETE FROM temp.moving_{table}"))?
            .execute([])?;
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    let rows = taken
        .iter()
        .filter_map(|w| sizes.get(w))
        .map(|s| s.rows)
        .sum();
    Ok(Some(Moved {
        before,
        waves: taken,
        rows,
    }))
}

/// A move's waves in its statements: `?1`, a JSON array of them ([`wave_list`]), so that each
/// statement has one text whatever the number of waves and is kept prepared. With a list of
/// `?`s, as many as the waves, every move parsed its 18 statements again: a move of one pulse
/// of 100 answers took 520 to 530 µs of CPU kept, against 550 to 575 parsed (the seventy-first
/// session in docs/benchmarks.md).
const WAVES: &str = "(SELECT value FROM json_each(?1))";

/// `waves` as a JSON array, for [`WAVES`].
fn wave_list(waves: &BTreeSet<String>) -> String {
    serde_json::to_string(waves).expect("strings make JSON")
}

/// Copies every row of `waves` in the answer tables, and those that arrived since their last
/// move (`arriving`), to `temp.moving_…`. Returns the rows copied of each table, in the order
/// of [`MOVED_TABLES`].
fn copy_to_memory(
    conn: &Connection,
    waves: &BTreeSet<String>,
    arriving: &Rows,
) -> anyhow::Result<[usize; MOVED_TABLES.len()]> {
    let list = wave_list(waves);
    let mut copied = [0; MOVED_TABLES.len()];
    for (table, copied) in MOVED_TABLES.iter().zip(&mut copied) {
        // The rows wait in a temporary table, which `temp_store=MEMORY` keeps off the disk.
        conn.prepare_cached(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS moving_{table} AS SELECT * FROM main.{table} WHERE 0"
        ))?
        .execute([])?;
        *copied = conn
            .prepare_cached(&format!(
                "INSERT INTO temp.moving_{table} SELECT * FROM main.{table} WHERE wave_id IN {WAVES}"
            ))?
            .execute([&list])?;
        // With the rows of these waves that arrived since their last move (`arrivals.rs`),
        // found by their rowids: the arriving tables have no index by wave. They stay where
        // they arrived until the sweep; the kept table holds them from now on.
        if let Some(index) = TABLES.iter().position(|a| a.kept == *table)
            && !arriving.0[index].is_empty()
        {
            *copied += conn
                .prepare_cached(&TABLES[index].copy_sql(WAVES))?
                .execute([list.as_str(), arriving.json(index).as_str()])?;
        }
    }
    Ok(copied)
}

/// The statement that reads what each wave's rows in `temp.moving_…` take: the records of the
/// three tables in one list, by wave, those that fit a leaf page (`?1` bytes) counted
/// together, the lengths of the longer listed one by one. Kept prepared: six statements made
/// for every transaction (a first version) took `planner_bench`'s moves to 80 and 99 µs an
/// answer against 66 and 75 without the count, in two alternated pairs; two, kept, 73 to 80
/// against 68 to 79 in three. One pass, not two (the longer rows read apart), took a move of
/// one pulse of 100 answers from 74 µs to 55 in this count (seventy-first session).
static SIZE_SQL: LazyLock<String> = LazyLock::new(|| {
    let records = RECORDS
        .iter()
        .map(|(table, record)| format!("SELECT wave_id, {record} AS p FROM temp.moving_{table}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(
        "SELECT wave_id, count(*) FILTER (WHERE p <= ?1), sum(p) FILTER (WHERE p <= ?1),
                group_concat(p) FILTER (WHERE p > ?1)
         FROM ({records}) GROUP BY wave_id"
    )
});

/// What each wave's rows in `temp.moving_…` take, in a file of `page`-byte pages: the rows
/// that fit their leaf pages counted together, the longer one by one (a few comments at most).
fn wave_sizes(conn: &Connection, page: usize) -> anyhow::Result<BTreeMap<String, WaveSize>> {
    let mut sizes: BTreeMap<String, WaveSize> = BTreeMap::new();
    let most = i64::try_from(largest_in_leaf(page))?;
    let mut statement = conn.prepare_cached(&SIZE_SQL)?;
    let mut rows = statement.query([most])?;
    while let Some(row) = rows.next()? {
        let size = sizes.entry(row.get(0)?).or_default();
        let short: Option<i64> = row.get(2)?;
        size.add_rows(count(row.get(1)?), count(short.unwrap_or(0)));
        for payload in row
            .get::<_, Option<String>>(3)?
            .iter()
            .flat_map(|l| l.split(','))
        {
            size.add_row(count(payload.parse()?), page);
        }
    }
    Ok(sizes)
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

fn page_size(conn: &Connection) -> anyhow::Result<usize> {
    let mut statement = conn.prepare_cached("PRAGMA page_size")?;
    Ok(count(statement.query_row([], |row| row.get(0))?))
}

#[cfg(test)]
mod tests {
    use super::super::move_size::{
        FRAMES_A_TRANSACTION, FRAMES_BESIDE_ROWS, MoveSize, frames_written,
    };
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
            move_answers(&conn, &waves, &Rows::default(), FRAMES_A_TRANSACTION)
                .unwrap()
                .unwrap()
                .rows,
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

    /// Writes `answers` answers to each of `waves`, with a comment of `chars` times `char`
    /// (`comment`) in `commented` of each hundred.
    fn answers(
        conn: &Connection,
        waves: &[String],
        answers: usize,
        commented: usize,
        comment: (usize, &str),
    ) {
        let (chars, char) = comment;
        for wave in waves {
            let n = format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {answers})"
            );
            conn.execute(
                &format!("{n} INSERT INTO participation SELECT ?1, 'X', randomblob(32) FROM n"),
                [wave],
            )
            .unwrap();
            conn.execute(
                &format!(
                    "{n} INSERT INTO ballots SELECT hex(randomblob(16)), ?1, 1 + i % 5 FROM n"
                ),
                [wave],
            )
            .unwrap();
            conn.execute(
                &format!(
                    "{n} INSERT INTO comments
                     SELECT hex(randomblob(16)), ?1, replace(printf('%.*c', ?2, 'x'), 'x', ?3)
                     FROM n WHERE i * {commented} / 100 > (i - 1) * {commented} / 100"
                ),
                rusqlite::params![wave, chars as i64, char],
            )
            .unwrap();
        }
    }

    /// Moves `waves` in one call, as the writer does, from an empty WAL: the waves moved, the
    /// rows, and the frames the transaction wrote.
    fn moved(conn: &Connection, waves: &[String]) -> (Moved, usize) {
        checkpoint(conn);
        super::super::WAL_FRAMES.set(0);
        let set: BTreeSet<String> = waves.iter().cloned().collect();
        let moved = move_answers(conn, &set, &Rows::default(), FRAMES_A_TRANSACTION)
            .unwrap()
            .expect("a whole transaction's room");
        let frames = frames_written(0, super::super::WAL_FRAMES.get());
        (moved, frames)
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM participation) + (SELECT COUNT(*) FROM ballots)
                  + (SELECT COUNT(*) FROM comments)",
            [],
            |row| row.get(0),
        )
        .unwrap()
    }

    /// Eight waves of 50 answers with the longest comments, asked for in one move as the
    /// writer's first move asks (and as the rows alone allowed), wrote 473 frames in one
    /// transaction, past the WAL's limit of 256. Counted before they are written, they go a
    /// wave at a time, each within half the limit, and every row is still there at the end.
    #[test]
    fn a_move_of_long_comments_stays_within_the_wal_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.db");
        let conn = answer_tables(&path);
        // The writer's hook: it counts the frames, and SQLite's own checkpoints stay off.
        conn.wal_hook(Some(super::super::count_frames));
        let waves: Vec<String> = (0..8).map(|w| format!("W{w}")).collect();
        answers(
            &conn,
            &waves,
            50,
            100,
            (crate::survey::COMMENT_MAX_CHARS, "x"),
        );
        let all = rows(&conn);
        assert_eq!(all, 8 * 3 * 50);

        let mut left = waves.clone();
        let mut transactions = 0;
        while !left.is_empty() {
            let asked = left.len().min(MoveSize::default().waves());
            let (moved, frames) = moved(&conn, &left[..asked]);
            assert!(
                frames <= FRAMES_A_TRANSACTION,
                "{} waves wrote {frames} frames",
                moved.waves.len()
            );
            assert_eq!(moved.rows, moved.waves.len() * 3 * 50);
            assert!(!moved.waves.is_empty());
            left.retain(|w| !moved.waves.contains(w));
            transactions += 1;
        }
        assert!(transactions > 1, "all eight in one transaction");
        assert_eq!(rows(&conn), all, "every row still there");
    }

    /// What a move counts before it writes is never below what SQLite writes, and not much
    /// above it, over the shapes of teams and comments a real org has: teams of ten with a few
    /// short comments, of 200 with comments of a paragraph, comments just past what a leaf
    /// page keeps, of 2,000 characters, and of 2,000 characters of four bytes each. (Written
    /// against counted, in the suite: 8 against 17, 47 against 64, 109 against 115, 101
    /// against 109, 49 against 58.)
    #[test]
    fn a_moves_frames_are_counted_before_it_writes_them() {
        let shapes: [(usize, usize, usize, (usize, &str)); 5] = [
            (8, 10, 30, (50, "x")),
            (2, 200, 50, (300, "x")),
            (2, 40, 100, (1_000, "x")),
            (3, 25, 100, (2_000, "x")),
            (1, 20, 100, (2_000, "\u{1F600}")),
        ];
        for (count, size, commented, comment) in shapes {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("answers.db");
            let conn = answer_tables(&path);
            conn.wal_hook(Some(super::super::count_frames));
            // Other teams' rows around them, as in a real file.
            let others: Vec<String> = (0..6).map(|w| format!("A{w}")).collect();
            answers(&conn, &others, size, commented, comment);
            let waves: Vec<String> = (0..count).map(|w| format!("W{w}")).collect();
            answers(&conn, &waves, size, commented, comment);

            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let set: BTreeSet<String> = waves.iter().cloned().collect();
            copy_to_memory(&conn, &set, &Rows::default()).unwrap();
            let page = page_size(&conn).unwrap();
            let sizes = wave_sizes(&conn, page).unwrap();
            conn.execute_batch("ROLLBACK").unwrap();
            assert_eq!(
                fit(&waves, &sizes, page, FRAMES_A_TRANSACTION),
                count,
                "{count} waves of {size}"
            );
            let counted = sizes
                .values()
                .fold(WaveSize::default(), |all, s| all.plus(*s));

            let (moved, frames) = moved(&conn, &waves);
            assert_eq!(moved.waves.len(), count);
            let shape = format!("{count} waves of {size}, comments {comment:?}");
            assert!(
                frames <= counted.frames(page),
                "{shape}: wrote {frames} frames, counted {}",
                counted.frames(page)
            );
            assert!(
                counted.frames(page) <= frames * 3 / 2 + FRAMES_BESIDE_ROWS,
                "{shape}: wrote {frames} frames, counted {}",
                counted.frames(page)
            );
        }
    }

    #[test]
    fn every_moved_table_is_counted() {
        assert_eq!(RECORDS.map(|(table, _)| table), MOVED_TABLES);
    }
}
