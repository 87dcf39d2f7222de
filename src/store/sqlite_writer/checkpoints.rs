//! The WAL's checkpoints under the answers' load ([`Checkpoints`]): a thread that copies the
//! WAL's frames into the database file beside the writer, and the writer's own catch-up at the
//! WAL's limit, after its answers have gone out, or before a move that would not fit.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;

use super::synced_mark::{SyncedMark, Version};
use super::{BUSY_TIMEOUT, WAL_FRAMES, coded, open};
use crate::store::disk;

/// How long the writer waits, at the WAL's limit, for another checkpoint (the store's
/// checkpointer's first pass, another process's) to let go of SQLite's checkpoint lock, and
/// for the readers still on the WAL to finish ([`catch_up`]), both together. Such a pass ends
/// with a sync of the database file: a few milliseconds, but on a busy disk it can take longer
/// than the 100 ms once allowed here, and every batch written after giving up takes the WAL
/// further past its limit (the likely cause of a WAL of 1.7 MB, seen once with three test
/// suites running at once). The limit is a privacy bound, so answers wait instead; the first
/// pause is 1 ms, doubling up to 16 ms.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);
const CATCH_UP_LONGEST_PAUSE: Duration = Duration::from_millis(16);

/// The checkpoints of the WAL under the answers' load.
///
/// Why: SQLite's automatic checkpoint runs inside the commit that takes the WAL past its limit
/// (`disk::WAL_LIMIT_FRAMES`, 1 MiB): it copies those pages into the database file and syncs
/// it, 5 to 8 ms, and that batch's answers, and every one queued behind it, wait. At a few
/// thousand answers a second the store's checkpointer (`checkpointer.rs`, which gathers for
/// 200 ms) never gets there first. Here the writer has a thread of its own copy the frames
/// and sync them as the WAL fills (at half its limit, three quarters and seven eighths, see
/// [`WAKE_AT`]), beside the writer and on the other core; the writer goes on committing
/// meanwhile.
///
/// Privacy: the limit holds as it did. SQLite can start the WAL again from its first frame
/// only once every frame is copied, which a pass beside the writer seldom achieves while it
/// commits; so when a commit leaves the WAL at its limit, the writer, after that batch's
/// answers have gone out, waits for a pass under way to end and copies the rest itself before
/// its next batch, and the next commit starts the WAL again (`journal_size_limit` cuts the
/// file back as it does). That is SQLite's automatic checkpoint, at the same point, with most
/// of its copying and syncing already done: the answers that arrive meanwhile wait for the
/// last eighth or so of the WAL's pages, not half of them (a catch-up took 0.9 ms at the
/// median at 4 connections against 2.2 ms with one pass at half, `bench/answers.sh`). A mark
/// the thread has not let go of yet (`synced_mark.rs`) would keep the WAL from starting again,
/// so the catch-up lets it go first.
pub(super) struct Checkpoints {
    path: PathBuf,
    /// Wakes the thread; one wake-up waiting is enough.
    wake: Option<SyncSender<()>>,
    /// Held for every pass, the thread's and the writer's, so that the writer's waits for the
    /// thread's (SQLite refuses a second checkpoint at once rather than waiting for the first);
    /// with the mark up to which the thread's next pass may copy without syncing the WAL.
    pass: Arc<Mutex<SyncedMark>>,
    thread: Option<JoinHandle<()>>,
    fill: Fill,
    /// Whether a catch-up has copied the whole WAL since the writer's last commit, so that the
    /// next commit starts it again from its first frame ([`Self::room`]).
    caught_up: bool,
}

impl Checkpoints {
    pub(super) fn start(path: PathBuf) -> anyhow::Result<Checkpoints> {
        let (wake, woken) = sync_channel(1);
        let pass = Arc::new(Mutex::new(SyncedMark::new()));
        let thread = {
            let (pass, path) = (pass.clone(), path.clone());
            std::thread::Builder::new()
                .name("answers-wal".into())
                .spawn(move || copy_frames(&path, &woken, &pass))
                .context("could not start the thread that checkpoints the answers' WAL")?
        };
        Ok(Checkpoints {
            path,
            wake: Some(wake),
            pass,
            thread: Some(thread),
            fill: Fill::default(),
            caught_up: false,
        })
    }

    /// After a batch has committed on `conn` and its answers have gone out, still in the
    /// writer's turn at the gate; `before` is `data_version` inside the batch's transaction.
    pub(super) fn after_commit(&mut self, conn: &Connection, before: Version) {
        self.caught_up = false;
        match step(WAL_FRAMES.get(), &mut self.fill) {
            Step::Nothing => {}
            Step::Wake => {
                let Some(wake) = &self.wake else { return };
                // Only while the thread is idle: the writer does not wait for a pass under
                // way, and the wake-up that pass then finds runs one that syncs the WAL itself.
                let marked = match self.pass.try_lock() {
                    Ok(mut mark) => mark.take(&self.path, conn, before),
                    Err(TryLockError::Poisoned(mark)) => {
                        mark.into_inner().take(&self.path, conn, before)
                    }
                    Err(TryLockError::WouldBlock) => false,
                };
                if let Err(TrySendError::Disconnected(())) = wake.try_send(()) {
                    tracing::warn!("the thread that checkpoints the answers' WAL stopped");
                    if marked {
                        // Nobody would let it go, and the WAL could never start again.
                        lock(&self.pass).release();
                    }
                }
            }
            Step::CatchUp => self.catch_up(conn),
        }
    }

    /// The frames a move may write before the WAL reaches its limit, as the writer's commits
    /// count them: a move takes only the waves that fit them (`move_size::fit`), and when not
    /// even its first wave does, the writer catches up first, so that the move's commit starts
    /// the WAL again rather than taking it past its limit.
    ///
    /// Why: a batch may leave the WAL a frame short of its limit, and a move of up to 128
    /// frames after it went on from there (a move of 120 frames after a commit that left 175
    /// took the WAL to 296, 1.2 MiB, before the catch-up after its commit). Batches and
    /// the sweep (whose transactions are no larger than a batch's, `arrivals.rs`) do not make
    /// room first: a batch's answers would wait for the catch-up before their commit, where
    /// the catch-up after it runs once they have gone out.
    ///
    /// The count is the writer's own, after its last commit: another connection's commits
    /// since are not in it (SQLite's automatic checkpoint keeps those within the same limit),
    /// and an emptying of the WAL at a quiet moment (`wal_forgetting.rs`) only makes it too
    /// high, which costs a smaller move or a catch-up on a WAL with little left to copy.
    pub(super) fn room(&self) -> usize {
        room(self.frames())
    }

    /// The frames in the WAL as the writer's next commit finds it: none once a catch-up has
    /// copied them all, since that commit starts it again.
    pub(super) fn frames(&self) -> i32 {
        if self.caught_up { 0 } else { WAL_FRAMES.get() }
    }

    /// Copies every frame left in the WAL now ([`catch_up`]), so that the next commit starts
    /// it again.
    pub(super) fn catch_up(&mut self, conn: &Connection) {
        let mut mark = lock(&self.pass);
        // A mark the thread has not reached yet would keep the WAL from starting again. The
        // pass below copies the frames past it, so SQLite then syncs the database file, the
        // pages of a marked pass before it included.
        mark.release();
        match catch_up(conn, CATCH_UP_WAIT) {
            Ok(()) => self.caught_up = true,
            Err(e) => warn_not_copied(e),
        }
    }

    /// Ends the thread once a pass under way has finished; its connection closes with it. A
    /// mark still held (its pass failed) is let go, so that the store's last scrub can empty
    /// the WAL.
    pub(super) fn stop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        lock(&self.pass).release();
    }
}

/// What the writer does about the WAL after a commit that left `frames` in it.
#[derive(Debug, PartialEq)]
enum Step {
    Nothing,
    /// Wake the checkpoint thread.
    Wake,
    /// Copy every frame left, now (the WAL is at its limit).
    CatchUp,
}

/// How far the WAL has filled since it last started again, as the writer's commits saw it.
#[derive(Debug, Default)]
struct Fill {
    frames: i32,
    /// How many of [`WAKE_AT`] the WAL has passed since it last started again.
    wakes: usize,
}

/// The fills at which the writer wakes the checkpoint thread: half the limit, then three
/// quarters and seven eighths, so that at the limit the writer has only the last eighth or so
/// to copy and sync itself while answers wait. A pass after every commit past half cost more
/// CPU an answer than it saved (thirteenth session, docs/benchmarks.md); three a fill cost
/// no more than one, within the noise, now that each syncs what it copied.
const WAKE_AT: [i32; 3] = [
    disk::WAL_LIMIT_FRAMES / 2,
    disk::WAL_LIMIT_FRAMES * 3 / 4,
    disk::WAL_LIMIT_FRAMES * 7 / 8,
];

/// The frames left before the WAL's limit when it holds `fill`.
fn room(fill: i32) -> usize {
    usize::try_from(disk::WAL_LIMIT_FRAMES.saturating_sub(fill)).unwrap_or(0)
}

/// What the writer does after a commit that left `frames` in the WAL.
fn step(frames: i32, fill: &mut Fill) -> Step {
    if frames < fill.frames {
        // The WAL started again since the last commit (a large batch may have taken it past
        // the early mark at once).
        fill.wakes = 0;
    }
    fill.frames = frames;
    if frames >= disk::WAL_LIMIT_FRAMES {
        return Step::CatchUp;
    }
    let passed = WAKE_AT.iter().filter(|&&at| frames >= at).count();
    if passed > fill.wakes {
        fill.wakes = passed;
        Step::Wake
    } else {
        Step::Nothing
    }
}

fn lock(pass: &Mutex<SyncedMark>) -> MutexGuard<'_, SyncedMark> {
    pass.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The checkpoint thread: a `PASSIVE` checkpoint each time the writer wakes it. It waits for
/// nobody and copies what it can; SQLite takes no write lock for it, so the writer commits on.
fn copy_frames(path: &Path, woken: &Receiver<()>, pass: &Mutex<SyncedMark>) {
    let mut kept = None;
    while woken.recv().is_ok() {
        let mut mark = lock(pass);
        let marked = mark.is_held();
        let copied = match kept.take() {
            Some(kept) => Ok(kept),
            None => open(path).and_then(|conn| Ok((conn, database_file(path)?))),
        }
        .and_then(|(conn, file)| pass_and_sync(&conn, &file, marked).map(|_| (conn, file)));
        match copied {
            Ok(both) => {
                kept = Some(both);
                // The pages it copied are on the disk: the WAL may start again over them.
                mark.release();
            }
            // The writer's own pass at the limit is the backstop; it lets the mark go, and
            // the frames it copies past the mark make SQLite sync the database file.
            Err(e) => warn_not_copied(e),
        }
    }
}

/// The database file, for the thread's syncs of the pages it copies.
fn database_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("could not open {}", path.display()))
}

/// A `PASSIVE` pass, then a sync of the pages it copied into the database file.
///
/// Why the sync: SQLite syncs that file only after a pass that copied the whole WAL, which a
/// pass beside the writer seldom does. The pages it copied were then synced by the writer at
/// the WAL's limit, the one moment answers wait on a checkpoint, together with its own.
///
/// `marked`: the writer holds a mark at a commit the disk holds (`synced_mark.rs`), so the pass
/// copies no further and runs without SQLite's syncs, the WAL's before it and the database
/// file's after a whole copy; this function syncs the database file itself.
fn pass_and_sync(conn: &Connection, file: &std::fs::File, marked: bool) -> anyhow::Result<Passive> {
    // Set for every pass, so that a marked pass that failed leaves no unsynced one after it.
    conn.pragma_update(None, "synchronous", if marked { "OFF" } else { "FULL" })?;
    let pass = passive(conn)?;
    // `copied` counts every frame copied since the WAL last started again, this pass's and
    // the earlier ones'; when it is all of them, SQLite has synced the file itself, unless the
    // pass was marked.
    if pass.copied > 0 && (marked || pass.copied < pass.log) {
        file.sync_data()
            .context("could not sync the pages copied from the WAL")?;
    }
    Ok(pass)
}

/// The log of a failed checkpoint: SQLite's code, as for a failed batch, or why a catch-up
/// left the WAL at its limit.
fn warn_not_copied(error: anyhow::Error) {
    if let Some(stayed) = error.downcast_ref::<Stayed>() {
        tracing::warn!(
            why = %stayed,
            "the SQLite WAL stayed at its limit; the answers writer tries again after its next batch"
        );
        return;
    }
    let kind = crate::telemetry::error_kind(&coded(error));
    tracing::warn!(error = %kind, "could not checkpoint the SQLite WAL");
}

/// What `PRAGMA wal_checkpoint(PASSIVE)` answers.
struct Passive {
    /// Frames in the WAL.
    log: i64,
    /// Frames copied into the database file since the WAL last started again (-1 when busy).
    copied: i64,
}

fn passive(conn: &Connection) -> anyhow::Result<Passive> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Passive {
            log: row.get(1)?,
            copied: row.get(2)?,
        })
    })?)
}

/// Copies every frame left in the WAL, then waits for the readers still on it, so that the
/// next commit starts it again: SQLite's automatic checkpoint, after the answers, but one that
/// makes sure of the new start. Gives up after `wait` (the writer then tries again after its
/// next batch, and that batch's frames go past the limit):
/// - Another checkpoint holding SQLite's checkpoint lock (the store's checkpointer's first
///   pass, another process's) makes a pass give up at once, so it is tried again.
/// - A reader on another connection (a handler's query, the store's other tasks) that began
///   before the last frames were copied keeps the WAL from starting again: starting over needs
///   every reader's lock but those of the readers of the database file alone. A `PASSIVE`
///   pass copied what it could and returned; the next commit, finding the reader, appended
///   instead, and the WAL grew a batch past its limit. The suite saw it reach 300 frames
///   against 256: `forensics::answers_never_grow_the_wal_past_its_limit`, run alone 100 times,
///   failed once, and three catch-ups in those runs were not followed by a new start.
///   `RESTART` copies the same frames and then waits, through the connection's busy handler,
///   until those readers are done. Readers here take milliseconds; the answers that come
///   meanwhile wait, as they do for the copy.
fn catch_up(conn: &Connection, wait: Duration) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        // The busy handler waits for readers (and for another process's write lock, which
        // `RESTART` takes too) no longer than what is left of `wait`.
        conn.busy_timeout(wait.saturating_sub(started.elapsed()))?;
        let pass = restart(conn);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        match pass? {
            Restart::Done => return Ok(()),
            Restart::ReadersStayed => return Err(Stayed::Readers.into()),
            Restart::CheckpointLockHeld if started.elapsed() >= wait => {
                return Err(Stayed::CheckpointLock.into());
            }
            Restart::CheckpointLockHeld => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(CATCH_UP_LONGEST_PAUSE);
            }
        }
    }
}

/// Why the WAL stayed at its limit after a catch-up: what the log says (no value of the
/// database's in it).
#[derive(Debug, PartialEq, thiserror::Error)]
enum Stayed {
    #[error("a reader, or another process's writer, held it for the whole wait")]
    Readers,
    #[error("another checkpoint held SQLite's checkpoint lock for the whole wait")]
    CheckpointLock,
}

/// What `PRAGMA wal_checkpoint(RESTART)` did.
#[derive(Debug, PartialEq)]
enum Restart {
    /// Every frame copied and no reader left on the WAL: the next commit starts it again.
    Done,
    /// Another checkpoint held SQLite's checkpoint lock: nothing was copied.
    CheckpointLockHeld,
    /// Readers (or another process's writer) were still there when the busy handler gave up.
    ReadersStayed,
}

fn restart(conn: &Connection) -> anyhow::Result<Restart> {
    let (busy, log): (i64, i64) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    // SQLite leaves the frame counts at -1 when it could not take the checkpoint lock.
    Ok(match (busy, log) {
        (0, _) => Restart::Done,
        (_, -1) => Restart::CheckpointLockHeld,
        _ => Restart::ReadersStayed,
    })
}

#[cfg(test)]
mod tests {
    use super::super::synced_mark::{SyncedMark, Version, version};
    use super::super::{WAL_FRAMES, count_frames, open};
    use super::*;
    use crate::store::disk::WAL_LIMIT_FRAMES;

    /// The writer wakes its checkpoint thread at half, three quarters and seven eighths of the
    /// WAL's limit, once each as the WAL fills, copies the rest itself at the limit (so the WAL
    /// never grows past it), and wakes the thread again once the WAL has started over, even
    /// when one large batch took it past a mark, or several, at once.
    #[test]
    fn the_wal_is_copied_beside_the_writer_as_it_fills_and_caught_up_at_its_limit() {
        let [half, three_quarters, seven_eighths] = WAKE_AT;
        assert_eq!((half, three_quarters, seven_eighths), (128, 192, 224));
        let mut fill = Fill::default();
        assert_eq!(step(half - 1, &mut fill), Step::Nothing);
        assert_eq!(step(half, &mut fill), Step::Wake);
        assert_eq!(step(half + 40, &mut fill), Step::Nothing, "one pass a mark");
        assert_eq!(step(three_quarters + 3, &mut fill), Step::Wake);
        assert_eq!(step(seven_eighths - 1, &mut fill), Step::Nothing);
        assert_eq!(step(seven_eighths, &mut fill), Step::Wake);
        assert_eq!(step(seven_eighths + 10, &mut fill), Step::Nothing);
        assert_eq!(step(WAL_LIMIT_FRAMES, &mut fill), Step::CatchUp);
        assert_eq!(step(WAL_LIMIT_FRAMES + 90, &mut fill), Step::CatchUp);
        // The next commit started the WAL again from its first frame.
        assert_eq!(step(3, &mut fill), Step::Nothing);
        // A batch of 64 answers writes about 150 frames: past the first mark at once, and a
        // second such batch past the other two together, which one pass covers.
        assert_eq!(step(half + 20, &mut fill), Step::Wake);
        assert_eq!(step(seven_eighths + 5, &mut fill), Step::Wake);
        assert_eq!(step(seven_eighths + 9, &mut fill), Step::Nothing);
        assert_eq!(step(WAL_LIMIT_FRAMES + 1, &mut fill), Step::CatchUp);
        assert_eq!(step(half + 2, &mut fill), Step::Wake);
    }

    /// A commit as the writer makes one (FULL): its `data_version` inside the transaction, and
    /// the frames in the WAL after it.
    fn commit_rows(writer: &rusqlite::Connection, rows: usize) -> (Version, i32) {
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        let before = version(writer).unwrap();
        for _ in 0..rows {
            writer
                .execute("INSERT INTO t VALUES (randomblob(3000))", [])
                .unwrap();
        }
        writer.execute_batch("COMMIT").unwrap();
        (before, WAL_FRAMES.get())
    }

    /// A database with the writer's connection, the thread's, and the thread's handle on the
    /// database file.
    fn answers_database(
        dir: &std::path::Path,
    ) -> (
        std::path::PathBuf,
        rusqlite::Connection,
        rusqlite::Connection,
        std::fs::File,
    ) {
        let path = dir.join("marked.db");
        let writer = open(&path).unwrap();
        writer.wal_hook(Some(count_frames));
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let thread = open(&path).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        (path, writer, thread, file)
    }

    /// The thread copies without syncing the WAL only what the writer's commit synced: a
    /// commit of another connection after the mark (one of `synchronous=NORMAL`, whose frames
    /// the disk may not hold yet) stays in the WAL for a pass that syncs it first.
    #[test]
    fn a_marked_pass_copies_nothing_past_the_writers_synced_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer, thread, file) = answers_database(dir.path());
        let (before, synced) = commit_rows(&writer, 8);
        let mut mark = SyncedMark::new();
        assert!(mark.take(&path, &writer, before), "nobody committed since");
        let other = open(&path).unwrap();
        other
            .execute_batch("PRAGMA synchronous=NORMAL; INSERT INTO t VALUES (randomblob(3000))")
            .unwrap();

        let pass = pass_and_sync(&thread, &file, mark.is_held()).unwrap();
        assert_eq!(pass.copied, i64::from(synced), "copied up to the mark");
        assert!(
            pass.log > pass.copied,
            "the later commit is left in the WAL"
        );
        mark.release();
        let pass = pass_and_sync(&thread, &file, mark.is_held()).unwrap();
        assert_eq!(pass.copied, pass.log, "an unmarked pass copies the rest");
    }

    /// After a marked pass copied the whole WAL (SQLite, told not to sync, has not synced the
    /// database file), no commit starts the WAL again over those frames until the mark is let
    /// go, which the thread does only once it has synced the file itself.
    #[test]
    fn the_wal_starts_again_only_once_the_mark_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer, thread, file) = answers_database(dir.path());
        let (before, synced) = commit_rows(&writer, 8);
        let mut mark = SyncedMark::new();
        assert!(mark.take(&path, &writer, before));
        let pass = pass_and_sync(&thread, &file, true).unwrap();
        assert_eq!(
            (pass.copied, pass.log),
            (synced.into(), synced.into()),
            "all of it"
        );

        let (_, held) = commit_rows(&writer, 1);
        assert!(
            held > synced,
            "appended after the copied frames, not over them"
        );
        mark.release();
        let pass = pass_and_sync(&thread, &file, false).unwrap();
        assert_eq!(pass.copied, pass.log);
        let (_, released) = commit_rows(&writer, 1);
        assert!(
            released < synced,
            "started again from its first frame: {released}"
        );
    }

    /// At the WAL's limit the writer's catch-up waits for a reader still on the WAL rather than
    /// passing it over: a reader that began after the last commit lets every frame be copied,
    /// but its lock kept the next commit from starting the WAL again, and the batches after it
    /// went on past the limit. While the reader stays the catch-up says so (the writer logs it
    /// and tries again after its next batch); once it has gone, the next commit starts over.
    #[test]
    fn the_catch_up_waits_for_a_reader_so_that_the_wal_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer, _thread, _file) = answers_database(dir.path());
        let (_, frames) = commit_rows(&writer, 8);
        let reader = rusqlite::Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        reader
            .query_row("SELECT count(*) FROM t", [], |_| Ok(()))
            .unwrap();

        let stayed = catch_up(&writer, Duration::from_millis(20)).unwrap_err();
        assert_eq!(stayed.downcast_ref::<Stayed>(), Some(&Stayed::Readers));
        reader.execute_batch("COMMIT").unwrap();
        catch_up(&writer, Duration::from_millis(20)).unwrap();
        let (_, after) = commit_rows(&writer, 1);
        assert!(
            after < frames,
            "started again from its first frame: {after} frames after {frames}"
        );
    }

    /// A move's room is what the WAL's limit leaves after the writer's last commit, and all of
    /// it once a catch-up has copied every frame: the next commit then starts the WAL again
    /// from its first frame.
    #[test]
    fn a_moves_room_is_what_the_wal_has_left_and_all_of_it_after_a_catch_up() {
        assert_eq!(room(0), 256);
        assert_eq!(room(200), 56);
        assert_eq!(room(WAL_LIMIT_FRAMES), 0);
        assert_eq!(room(WAL_LIMIT_FRAMES + 90), 0, "past its limit already");

        let dir = tempfile::tempdir().unwrap();
        let (path, writer, _thread, _file) = answers_database(dir.path());
        let mut checkpoints = Checkpoints::start(path).unwrap();
        let (before, full) = commit_rows(&writer, 160);
        assert!(full > 128 && full < WAL_LIMIT_FRAMES, "{full} frames");
        checkpoints.after_commit(&writer, before);
        assert_eq!(checkpoints.room(), room(full));
        checkpoints.catch_up(&writer);
        assert_eq!(
            checkpoints.room(),
            256,
            "copied: the next commit starts again"
        );
        let (before, after) = commit_rows(&writer, 10);
        assert!(after < full, "started again: {after} frames after {full}");
        checkpoints.after_commit(&writer, before);
        assert_eq!(checkpoints.room(), room(after));
        checkpoints.stop();
    }

    /// A commit of another process between the writer's commit and the mark (its frames
    /// perhaps not on the disk) leaves no mark, and no read transaction that would keep the
    /// WAL from starting again.
    #[test]
    fn no_mark_is_taken_past_another_connections_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer, _thread, _file) = answers_database(dir.path());
        let (before, _) = commit_rows(&writer, 2);
        let other = open(&path).unwrap();
        other
            .execute_batch("PRAGMA synchronous=NORMAL; INSERT INTO t VALUES (randomblob(3000))")
            .unwrap();
        let mut mark = SyncedMark::new();
        assert!(!mark.take(&path, &writer, before));
        assert!(!mark.is_held());
        let (busy, log, copied): (i64, i64, i64) = other
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .unwrap();
        assert_eq!(
            (busy, log, copied),
            (0, 0, 0),
            "the WAL emptied: no reader holds it"
        );
    }

    /// The writer's limit is the one SQLite's automatic checkpoint keeps on every other
    /// connection.
    #[test]
    fn the_writers_limit_is_the_pragmas() {
        let pragma = format!("PRAGMA wal_autocheckpoint={WAL_LIMIT_FRAMES}");
        assert!(super::disk::SQLITE_PRIVACY_PRAGMAS.contains(&pragma.as_str()));
    }
}
