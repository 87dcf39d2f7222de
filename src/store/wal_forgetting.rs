//! The SQLite WAL is emptied once the writers have been quiet for a moment, so that a copy of
//! the files holds no history of how recent answers arrived.
//!
//! Why: every commit leaves its pages in the WAL as frames, in order, and a checkpoint copies
//! them into the database file without erasing them; they stay until the WAL starts again at
//! its limit (1 MiB, `disk.rs`) and later frames are written over them. When answers come one
//! at a time, as they do in a real org (minutes apart), each commit holds one participation
//! token and one ballot, so the WAL pairs them for the last eighty or so answers, which took
//! days to arrive. Whoever can make tokens (the operator with the token secret; anyone, when
//! no secret is set) could read there who gave which answer, comment included, for an open
//! pulse. Outbox rows that name a person, gone from the tables, stay there too.
//!
//! Here a task waits for a moment in which no writer of this process wrote ([`QUIET`]), copies
//! the WAL's frames into the database file beside the writers, then runs `PRAGMA
//! wal_checkpoint(TRUNCATE)` in its turn at the write gate: what was committed since is copied
//! too and the WAL is cut to nothing, then started again with one frame
//! that holds the database's first page as it is ([`start_wal_again`], which spares the next
//! answer a sync). A copy of the files taken after that moment holds no commit order at all,
//! and the answers' writer has written a pulse's rows again in random order by then, so the
//! places of its rows in their pages say none either (`sqlite_writer/answer_move.rs`). Under a
//! steady load there is no quiet moment, but answers then commit many to a transaction,
//! shuffled, and the WAL's limit bounds what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::checkpointer::{Gate, passive, start_wal_again};

/// How long the writers must have written nothing before the WAL is emptied (and, on
/// PostgreSQL, before the answers writer rewrites its open pulses' answers,
/// `answer_shuffle.rs`). Long enough that a busy minute (answers a few hundred milliseconds
/// apart, commits of the outbox's sends) does not pay for this after every write; short
/// enough that one answer's traces are gone a second or so after it.
#[cfg(not(test))]
pub(super) const QUIET: Duration = Duration::from_secs(1);
#[cfg(test)]
pub(super) const QUIET: Duration = Duration::from_millis(50);

/// How long the truncation waits for a reader still on the WAL, in its turn at the gate (a
/// writer that comes meanwhile waits too). Reads take milliseconds; a longer one makes the
/// truncation give up until the next quiet moment. Set on the checkpointer's own connection,
/// whose other checkpoints (`PASSIVE`) never wait.
const READERS_WAIT_MS: u32 = 50;

/// The writes of this process's SQLite writers, as the gate sees them.
#[derive(Default)]
pub(super) struct Writes {
    count: AtomicU64,
    came: Notify,
    /// Each time the WAL was emptied, for tests to wait on.
    #[cfg(test)]
    pub(super) emptied: Notify,
    /// Each time an emptying has copied the WAL's frames, before its turn at the gate.
    #[cfg(test)]
    pub(super) copied: Notify,
}

impl Writes {
    /// A write has ended (a turn at the gate, or a batch of the answers writer).
    pub(super) fn note(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.came.notify_one();
    }

    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Empties the WAL after each write, once the writers have been quiet for [`QUIET`]. Runs
/// until `stop`.
pub(super) async fn forget_when_quiet(pool: AnyPool, gate: Gate, stop: CancellationToken) {
    let writes = gate.writes();
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = writes.came.notified() => {}
        }
        loop {
            let seen = writes.count();
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                () = tokio::time::sleep(QUIET) => {}
            }
            if writes.count() != seen {
                continue;
            }
            match truncate(&pool, &gate).await {
                Ok(true) => {
                    #[cfg(test)]
                    writes.emptied.notify_one();
                    break;
                }
                // A reader was still on the WAL, or another checkpoint ran: after the next
                // quiet moment.
                Ok(false) => {}
                Err(e) => {
                    let kind = crate::telemetry::error_kind(&e);
                    tracing::warn!(error = %kind, "could not empty the SQLite WAL");
                    break;
                }
            }
        }
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` in a turn at the gate that counts as no write, then the
/// WAL started again with the database's first page ([`start_wal_again`], which spares the
/// next answer a sync): whether it emptied the WAL.
///
/// The frames are first copied beside the writers, out of the turn, by a `PASSIVE` checkpoint,
/// which waits for no writer and syncs the WAL before it copies and the database file after a
/// whole copy: so an answer that comes during the emptying waits only for the WAL's cut and
/// its new start, not for those syncs too. The `TRUNCATE` then copies only what was committed
/// since, usually nothing, and syncs nothing before its cut. (`perf trace` of `serve` through
/// one `answer_bench` run of each build, back to back in the fiftieth session: the system
/// calls inside the turn took 0.73 ms at the median over 54 emptyings, against 1.24 over 56
/// with the copy in the turn, 0.59 of it; the longest, 13 against 171 ms, says where the
/// disk's stalls fell, and one of 189 ms fell in the copy, out of the turn. The forty-ninth
/// session's slow disk once held the turn 1.13 s.)
///
/// The pool's one connection is given back before the turn is awaited, and taken again in it:
/// the checkpointer's second pass holds the turn while it waits for that connection.
async fn truncate(pool: &AnyPool, gate: &Gate) -> anyhow::Result<bool> {
    passive(&mut *pool.acquire().await?).await?;
    #[cfg(test)]
    gate.writes().copied.notify_one();
    let _turn = gate.permit().await;
    let mut conn = pool.acquire().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout={READERS_WAIT_MS}"
    )))
    .execute(&mut *conn)
    .await?;
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await?;
    if busy != 0 {
        return Ok(false);
    }
    // Emptied all the same if this fails (a writer of another process held the lock past the
    // wait, say): the next commit then starts the WAL itself, with the extra sync.
    start_wal_again(&mut conn).await;
    Ok(true)
}

/// The count and its wake-up, shared by the gate's clones.
pub(super) fn new_writes() -> Arc<Writes> {
    Arc::new(Writes::default())
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, WriteInTurn};

    /// SQLite's page size in trustpulse's databases (its default).
    const PAGE: usize = 4096;

    /// What `work` gives, or a failure saying `failed` if it takes over 30 s.
    async fn within<F: std::future::Future>(work: F, failed: &str) -> F::Output {
        tokio::time::timeout(std::time::Duration::from_secs(30), work)
            .await
            .expect(failed)
    }

    /// A store on a new SQLite file `name` in `dir`, and the file's path.
    async fn store_at(dir: &tempfile::TempDir, name: &str) -> (Store, std::path::PathBuf) {
        let path = dir.path().join(name);
        let store = Store::connect(&format!("sqlite:{}?mode=rwc", path.display()))
            .await
            .unwrap();
        (store, path)
    }

    /// A copy of the files taken once the writers have been quiet holds no frame of what they
    /// wrote: the WAL holds only its header and the database's first page, and what was
    /// written is in the database file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_the_writers_are_quiet_the_wal_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_at(&dir, "quiet.db").await;
        let writes = store.write_gate.clone().unwrap().writes();
        let pool = store.pool.clone();
        sqlx::query("CREATE TABLE filler (b TEXT)")
            .write_in_turn(&store, &pool)
            .await
            .unwrap();
        let wal = dir.path().join("quiet.db-wal");
        let wal_bytes = || std::fs::read(&wal).unwrap_or_default();
        // Each row is the marker over and over, so that any frame of it is found.
        const MARK: &[u8] = b"FILLERFILLERFILLER";
        let mut largest = 0;
        for _ in 0..20 {
            sqlx::query("INSERT INTO filler VALUES (replace(hex(zeroblob(500)), '00', 'FILLER'))")
                .write_in_turn(&store, &pool)
                .await
                .unwrap();
            largest = largest.max(wal_bytes().len());
        }
        assert!(largest > 3000, "the writes went to the WAL");
        // The WAL's header (32 bytes), then one frame: its header (24 bytes, the page's number
        // first) and the page, numbered 1.
        let only_the_first_page =
            |bytes: &[u8]| bytes.len() == 32 + 24 + PAGE && bytes[32..36] == 1u32.to_be_bytes();
        // Each emptying is announced; the last write's may come after an earlier one's.
        let left = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                writes.emptied.notified().await;
                let left = wal_bytes();
                if left.len() <= 32 + 24 + PAGE {
                    break left;
                }
            }
        })
        .await
        .expect("the WAL was not emptied after the writes stopped");
        assert!(
            only_the_first_page(&left),
            "the emptied WAL was started again with the first page ({} bytes)",
            left.len()
        );
        assert!(
            !left.windows(MARK.len()).any(|w| w == MARK),
            "no row written is left in the WAL"
        );
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 20, "the rows are in the database file");
        // The next commit appends to that frame: the WAL is not started again (which would
        // write its header anew, and sync it, before the commit's own frames). Read before and
        // after in one turn at the gate, which the checkpointer's own start of the WAL waits
        // for, as does a quiet moment's emptying.
        let turn = store.write_gate.clone().unwrap().permit().await;
        let before = wal_bytes();
        sqlx::query("INSERT INTO filler VALUES ('one more')")
            .execute(&pool)
            .await
            .unwrap();
        let after = wal_bytes();
        drop(turn);
        assert!(only_the_first_page(&before), "{} bytes", before.len());
        assert_eq!(after[..32], before[..32], "the WAL's header is the same");
        assert!(
            after.len() > before.len(),
            "the commit's frames follow the first page's"
        );
        store.close().await;
    }

    /// The emptying copies the WAL's frames into the database file before it takes its turn
    /// at the write gate: a writer in its turn meanwhile (a batch of answers) does not wait for
    /// that copy and its syncs, only for the cut, which comes once the turn is free.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_emptying_copies_the_wal_without_waiting_for_the_writers_turn() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_at(&dir, "turn.db").await;
        let gate = store.write_gate.clone().unwrap();
        let writes = gate.writes();
        let pool = store.pool.clone();
        let wal = dir.path().join("turn.db-wal");
        let wal_bytes = || std::fs::read(&wal).unwrap_or_default();
        const MARK: &[u8] = b"TURNTURNTURNTURN";
        let in_file = || {
            std::fs::read(&path)
                .unwrap()
                .windows(MARK.len())
                .any(|w| w == MARK)
        };
        let only_the_first_page_left = || async {
            while wal_bytes().len() > 32 + 24 + PAGE {
                writes.emptied.notified().await;
            }
        };
        // The table, then its emptying, so that no emptying is under way from here on and the
        // one announced copy (a stored notification) is that one's.
        sqlx::query("CREATE TABLE filler (b TEXT)")
            .write_in_turn(&store, &pool)
            .await
            .unwrap();
        within(
            only_the_first_page_left(),
            "the table's writes were not emptied",
        )
        .await;
        within(writes.copied.notified(), "an emptying announces its copy").await;
        // A writer's turn, held from its writes to the end of the check: the rows are written
        // in it (as the answers writer writes a batch), and the write is noted, which starts
        // the wait for a quiet moment.
        let turn = gate.permit().await;
        for _ in 0..20 {
            sqlx::query("INSERT INTO filler VALUES (replace(hex(zeroblob(500)), '00', 'TURN'))")
                .execute(&pool)
                .await
                .unwrap();
        }
        writes.note();
        within(
            writes.copied.notified(),
            "the emptying did not copy the WAL while a writer held its turn",
        )
        .await;
        assert!(
            in_file(),
            "the emptying copied the rows into the database file"
        );
        assert!(
            wal_bytes().len() > 32 + 24 + PAGE,
            "the WAL is not cut while the writer holds its turn"
        );
        drop(turn);
        within(
            only_the_first_page_left(),
            "the WAL was not emptied once the turn was free",
        )
        .await;
        assert!(
            !wal_bytes().windows(MARK.len()).any(|w| w == MARK),
            "no row written is left in the WAL"
        );
        store.close().await;
    }
}
