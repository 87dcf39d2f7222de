//! How many waves one transaction of a move takes (`answer_move.rs`): as many as fit
//! [`ROWS_A_TRANSACTION`] rows and [`FRAMES_A_TRANSACTION`] WAL frames (fewer when the WAL has
//! less left before its limit), at least one given a whole share.
//!
//! Two measures, one before and one after. Before a move, [`MoveSize`] guesses how many waves
//! to read, from the rows and frames a wave of the last move took. Inside the move's
//! transaction, once the waves' rows are read into memory, [`fit`] counts what each wave
//! will write ([`WaveSize`], from its rows' lengths and SQLite's page layout) and takes the
//! first waves that fit, within the room the WAL has left before its limit too; the others
//! wait for the next transaction, in the writer's next turn. The guess alone let a
//! writer's first move, or a move of waves larger than the last one's, go past the WAL's limit
//! once: eight pulses of 50 answers with the longest comments wrote 473 frames in one
//! transaction, where the limit is 256.

use std::collections::BTreeMap;

use crate::store::disk;

/// The rows a move's transaction aims at, in the three tables together. An answer that comes
/// meanwhile waits for the transaction (the writer is one thread): after the answer
/// benchmark's burst, eight teams of 200 a transaction (about 3,400 rows) made such an answer
/// wait 8.7 to 14.5 ms, against 3.3 to 5.6 without moves, and 4.2 and 4.5 with this bound (two
/// teams of 200 a transaction).
pub(super) const ROWS_A_TRANSACTION: usize = 1024;

/// The WAL frames a move's transaction aims at: half the WAL's limit
/// (`disk::WAL_LIMIT_FRAMES`), a privacy bound the answers' batches and the sweep keep. Rows
/// alone do not bound them: a comment may be 2,000 characters (`survey::COMMENT_MAX_CHARS`,
/// up to 8,000 bytes), and each that long takes an overflow page or two of its own.
pub(super) const FRAMES_A_TRANSACTION: usize = disk::WAL_LIMIT_FRAMES as usize / 2;

/// The most waves moved in one transaction: eight teams of ten are about 200 rows.
pub(super) const MOST_WAVES: usize = 8;

/// The frames a move writes besides its rows' pages: the tables' interior pages, the free
/// list's, the database's first page (the suite's moves of small waves wrote 13 to 18 frames
/// for rows that fill three to five pages).
pub(super) const FRAMES_BESIDE_ROWS: usize = 12;

/// How many waves the writer's next move reads: as many as came near [`ROWS_A_TRANSACTION`]
/// rows and [`FRAMES_A_TRANSACTION`] frames in the last one, from one to [`MOST_WAVES`]; eight
/// on the writer's first move. Only a guess, so that a move does not read many more waves than
/// it will take: [`fit`] decides.
#[derive(Debug)]
pub(super) struct MoveSize {
    waves: usize,
    /// The frames a wave of the last move wrote, on average; none before the first.
    frames_a_wave: usize,
}

impl Default for MoveSize {
    fn default() -> MoveSize {
        MoveSize {
            waves: MOST_WAVES,
            frames_a_wave: 0,
        }
    }
}

impl MoveSize {
    pub(super) fn waves(&self) -> usize {
        self.waves
    }

    /// A move of `waves` waves rewrote `rows` rows and wrote `frames` frames to the WAL.
    pub(super) fn moved(&mut self, waves: usize, rows: usize, frames: usize) {
        let by_rows = waves * ROWS_A_TRANSACTION / rows.max(1);
        let by_frames = waves * FRAMES_A_TRANSACTION / frames.max(1);
        self.waves = by_rows.min(by_frames).clamp(1, MOST_WAVES);
        self.frames_a_wave = frames.div_ceil(waves.max(1));
    }

    /// The frames the next move's first wave will write, about: a wave's share of the last
    /// move's, and what any transaction writes besides its rows. Zero before the first move.
    /// When the WAL has less room left, the writer catches up before it reads the waves' rows
    /// (which [`fit`] would then find it could not move, and let go).
    pub(super) fn first_wave_frames(&self) -> usize {
        if self.frames_a_wave == 0 {
            0
        } else {
            self.frames_a_wave + FRAMES_BESIDE_ROWS
        }
    }
}

/// The frames a transaction wrote to the WAL, from the frames in it before (`start`) and after
/// (`end`, the writer's WAL hook): all of `end` when the transaction started the WAL again.
pub(super) fn frames_written(start: i32, end: i32) -> usize {
    let written = if end >= start { end - start } else { end };
    usize::try_from(written).unwrap_or(0)
}

/// What one wave's rows take in the file, counted from their lengths.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct WaveSize {
    pub(super) rows: usize,
    /// Bytes of the rows kept in their b-trees' leaf pages.
    leaf_bytes: usize,
    /// Pages of the rows' overflow chains (a long comment's tail).
    overflow_pages: usize,
}

impl WaveSize {
    /// Adds a row of `payload` bytes (its record: header and values) in a file of `page`-byte
    /// pages.
    pub(super) fn add_row(&mut self, payload: usize, page: usize) {
        let (local, overflow) = row_pages(payload, page);
        self.add_rows(1, local);
        self.overflow_pages += overflow;
    }

    /// Adds `rows` rows that fit their leaf pages, `payload` bytes in all.
    pub(super) fn add_rows(&mut self, rows: usize, payload: usize) {
        self.rows += rows;
        // Each row's cell also takes its 2-byte place in the page's list and a length or two.
        self.leaf_bytes += payload + 4 * rows;
    }

    pub(super) fn plus(self, other: WaveSize) -> WaveSize {
        WaveSize {
            rows: self.rows + other.rows,
            leaf_bytes: self.leaf_bytes + other.leaf_bytes,
            overflow_pages: self.overflow_pages + other.overflow_pages,
        }
    }

    /// The frames a move of these rows writes, about: their overflow pages, their leaf pages
    /// at half full (rows written again in random order split pages as they go), and
    /// [`FRAMES_BESIDE_ROWS`]. The suite's test sets it beside what SQLite wrote.
    pub(super) fn frames(&self, page: usize) -> usize {
        self.overflow_pages + self.leaf_bytes.div_ceil(page / 2) + FRAMES_BESIDE_ROWS
    }
}

/// The largest record a b-tree keyed by its whole row (a `WITHOUT ROWID` table's) keeps in its
/// leaf page, for `page`-byte pages: SQLite's `maxLocal` of an index b-tree (1,002 bytes of a
/// 4,096-byte page).
pub(super) fn largest_in_leaf(page: usize) -> usize {
    (page - 12) * 64 / 255 - 23
}

/// Where a record of `payload` bytes goes in a `WITHOUT ROWID` table of `page`-byte pages:
/// the bytes kept in its leaf page, and the overflow pages the rest takes, as SQLite's
/// `btreeParseCellAdjustSizeForOverflow` splits it (4 bytes of each overflow page link it to
/// the next).
pub(super) fn row_pages(payload: usize, page: usize) -> (usize, usize) {
    let most = largest_in_leaf(page);
    if payload <= most {
        return (payload, 0);
    }
    let least = (page - 12) * 32 / 255 - 23;
    let mut local = least + (payload - least) % (page - 4);
    if local > most {
        local = least;
    }
    (local, (payload - local).div_ceil(page - 4))
}

/// How many of `waves` (in the order given) one transaction moves: those that fit
/// [`ROWS_A_TRANSACTION`] rows and [`FRAMES_A_TRANSACTION`] frames together, or the `room` the
/// WAL has left before its limit if less, from the first. Never fewer than one given a whole
/// transaction's room, however large: a wave's rows move together or not at all. With less
/// room, none when the first does not fit (the writer then makes room). A wave without rows
/// (released meanwhile) takes only the frames any transaction writes.
pub(super) fn fit<'a>(
    waves: impl IntoIterator<Item = &'a String>,
    sizes: &BTreeMap<String, WaveSize>,
    page: usize,
    room: usize,
) -> usize {
    let frames = room.min(FRAMES_A_TRANSACTION);
    let mut taken = 0;
    let mut all = WaveSize::default();
    for wave in waves {
        let with = all.plus(sizes.get(wave).copied().unwrap_or_default());
        let over = with.rows > ROWS_A_TRANSACTION || with.frames(page) > frames;
        if over && (taken > 0 || frames < FRAMES_A_TRANSACTION) {
            break;
        }
        all = with;
        taken += 1;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;
    /// A whole transaction's share of the WAL.
    const ROOM: usize = FRAMES_A_TRANSACTION;

    /// Large teams are read a few at a time, small ones eight at a time, and one wave at a
    /// time is the least, however large; long comments count by the frames they write.
    #[test]
    fn a_move_reads_as_many_waves_as_came_near_its_rows_and_frames() {
        let mut size = MoveSize::default();
        assert_eq!(size.waves(), 8);
        assert_eq!(size.first_wave_frames(), 0, "nothing known yet");
        size.moved(8, 8 * 430, 40); // teams of 200: their tokens, ballots and comments
        assert_eq!(size.waves(), 2);
        assert_eq!(size.first_wave_frames(), 5 + FRAMES_BESIDE_ROWS);
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

    /// SQLite's split of a long record: up to 1,002 bytes stay whole in the leaf; past that,
    /// 489 bytes or more stay and the rest fills 4,092-byte overflow pages.
    #[test]
    fn a_long_row_keeps_part_in_its_leaf_and_the_rest_in_overflow_pages() {
        assert_eq!(largest_in_leaf(PAGE), 1002);
        assert_eq!(row_pages(80, PAGE), (80, 0));
        assert_eq!(row_pages(1002, PAGE), (1002, 0));
        assert_eq!(row_pages(1003, PAGE), (489, 1));
        // 2,000 ASCII characters and their ids: 489 + 1,567 in one overflow page.
        assert_eq!(row_pages(2056, PAGE), (489, 1));
        // 4,092 + 600 fits the leaf's share with one overflow page.
        assert_eq!(row_pages(4092 + 600, PAGE), (600, 1));
        // 8,000 bytes (2,000 characters of four bytes each).
        assert_eq!(row_pages(8056, PAGE), (489, 2));
    }

    fn wave(rows: usize, payload: usize) -> WaveSize {
        let mut size = WaveSize::default();
        for _ in 0..rows {
            size.add_row(payload, PAGE);
        }
        size
    }

    /// Small waves go eight at a time; large ones stop at the rows; long comments at the
    /// frames; the first wave goes whatever its size; a wave without rows takes nothing.
    #[test]
    fn a_transaction_takes_the_first_waves_that_fit_its_rows_and_frames() {
        let names: Vec<String> = (0..10).map(|w| format!("W{w}")).collect();
        let all = |size: WaveSize| -> BTreeMap<String, WaveSize> {
            names.iter().map(|w| (w.clone(), size)).collect()
        };
        assert_eq!(fit(&names, &all(wave(25, 60)), PAGE, ROOM), 10);
        assert_eq!(fit(&names, &all(wave(430, 60)), PAGE, ROOM), 2);
        // Thirty comments of 2,000 characters: 30 overflow pages and 8 leaf pages a wave.
        let long = all(wave(30, 2056));
        assert_eq!(wave(30, 2056).frames(PAGE), 30 + 8 + FRAMES_BESIDE_ROWS);
        assert_eq!(
            fit(&names, &long, PAGE, ROOM),
            3,
            "three waves of 30 long comments"
        );
        assert_eq!(
            fit(&names, &all(wave(200, 2056)), PAGE, ROOM),
            1,
            "one, too large"
        );
        let mut released = long.clone();
        released.remove("W1");
        assert_eq!(
            fit(&names, &released, PAGE, ROOM),
            4,
            "the released wave costs nothing"
        );
        assert_eq!(fit(&names[..0], &released, PAGE, ROOM), 0);
    }

    /// With less of the WAL left before its limit than a whole transaction's share, a move
    /// takes only the waves that fit what is left, and none when the first does not (the
    /// writer then copies the WAL first); a WAL with more left still gives it only its share.
    #[test]
    fn a_transaction_takes_only_the_waves_that_fit_the_wal_left() {
        let names: Vec<String> = (0..10).map(|w| format!("W{w}")).collect();
        let long: BTreeMap<String, WaveSize> =
            names.iter().map(|w| (w.clone(), wave(30, 2056))).collect();
        // 50 frames a wave alone, 38 more for each one with it.
        assert_eq!(fit(&names, &long, PAGE, 256), 3, "only its share");
        assert_eq!(fit(&names, &long, PAGE, 100), 2);
        assert_eq!(fit(&names, &long, PAGE, 60), 1);
        assert_eq!(fit(&names, &long, PAGE, 40), 0, "not even the first");
        assert_eq!(fit(&names, &long, PAGE, 0), 0);
        let huge: BTreeMap<String, WaveSize> =
            names.iter().map(|w| (w.clone(), wave(200, 2056))).collect();
        assert_eq!(
            fit(&names, &huge, PAGE, ROOM),
            1,
            "alone, into a whole share"
        );
        assert_eq!(fit(&names, &huge, PAGE, ROOM - 1), 0);
    }

    #[test]
    fn a_transaction_that_started_the_wal_again_wrote_all_its_frames() {
        assert_eq!(frames_written(100, 140), 40);
        assert_eq!(frames_written(250, 30), 30);
        assert_eq!(frames_written(0, 0), 0);
    }
}
