//! SQLite's write gate, and the checkpoints of the WAL that follow the writes it lets through,
//! run by a task of their own so that no answer waits for them.
//!
//! Why: with only SQLite's automatic checkpoint, the commit that takes the WAL past 1 MiB
//! (`wal_autocheckpoint`) copies those pages into the database file and syncs it before it
//! returns, and every answer that arrives meanwhile queues behind it. Here every write that
//! goes through the gate wakes this task (except the answers writer's, which checkpoints its
//! own frames: `sqlite_writer/`), which checkpoints on its own connection (see
//! [`checkpoint`]) and so keeps the WAL far below the size at which a commit would do it
//! itself; the automatic checkpoint, still set on every connection, is the backstop.
//! Timed inside `serve` under the answer benchmark at 200 answers a second, a batch's write
//! took 2.4 to 2.5 ms at the 99th percentile with the automatic checkpoint alone, and 0.6 to
//! 0.9 ms with this task gathering for 10 ms (two runs each, alternated). The benchmark's p99
//! at 200 answers a second: 3.3 and 3.7 ms before, 2.1 and 2.4 ms after (see [`GATHER`]).
//!
//! Privacy: the WAL's limit does not depend on this task. The backstop and
//! `journal_size_limit` (`disk.rs`) hold the file to about 1 MiB of frames whatever the task
//! does, and frames past the live part of the file stay until they are written over; a
//! release's scrub truncates the file to nothing (DESIGN §3).

use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::wal_forgetting::{Writes, forget_when_quiet, new_writes};

/// How long the task lets writes gather after the first wakes it: one checkpoint, and one or
/// two syncs of the database file, for all the commits of that moment rather than for each.
/// At 200 answers a second that is about 90 frames, well below the 256 of the backstop.
/// Fewer checkpoints mean fewer commits that wait for the disk behind a checkpoint's sync of
/// the database file. Timed inside `serve` at 200 answers a second (answer benchmark, two runs
/// each, alternated): with 50 ms, 15 to 24 batches in 1,000 took over 2 ms to write and the
/// batches' p99 was 2.9 and 3.5 ms; with 200 ms, 3 and 13 in 1,000, a p99 of 1.2 and 2.2 ms.
/// The benchmark's p99 at 200 a second: 9.3 and 9.5 ms with 50 ms, 3.2 and 6.3 ms with 200 ms,
/// but 6.7 and 6.9 ms in a third pair without the timing: within this machine's noise.
/// (Earlier, 10 ms ran checkpoints 80 times a second and raised the answers' median.) The
/// price: at about 2.3 frames an answer, the WAL reaches the backstop before the task wakes
/// from about 550 answers a second, where with 50 ms that took about 2,200. Above it, commits
/// checkpoint inline, as they already did at 4 connections (thousands a second), whose p99
/// did not worsen (5.1 to 5.4 ms against 5.6 to 6.2); loads in between were not measured.
const GATHER: Duration = Duration::from_millis(200);

/// The process's SQLite write gate: one permit, so one writer at a time. Every turn, when it
/// ends, wakes the checkpointer, and counts as a write for the emptying of the WAL once the
/// writers are quiet (`wal_forgetting.rs`).
#[derive(Clone)]
pub(super) struct Gate {
    turns: Arc<Semaphore>,
    wrote: mpsc::Sender<()>,
    writes: Arc<Writes>,
}

/// A writer's turn at the gate; the next writer's begins when this is dropped.
pub(crate) struct Turn {
    _permit: OwnedSemaphorePermit,
    wrote: mpsc::Sender<()>,
    writes: Arc<Writes>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        // A wake-up already pending covers this write too.
        let _ = self.wrote.try_send(());
        self.writes.note();
    }
}

impl Gate {
    /// A gate with no checkpointer behind it, and what its turns wake, for tests.
    #[cfg(test)]
    pub(super) fn for_test() -> (Gate, mpsc::Receiver<()>) {
        let (wrote, woken) = mpsc::channel(1);
        let gate = Gate {
            turns: Arc::new(Semaphore::new(1)),
            wrote,
            writes: new_writes(),
        };
        (gate, woken)
    }

    /// Waits for this writer's turn.
    pub(super) async fn turn(&self) -> Turn {
        Turn {
            _permit: self.permit().await,
            wrote: self.wrote.clone(),
            writes: self.writes.clone(),
        }
    }

    /// The writes of every turn, and of the answers writer's batches.
    pub(super) fn writes(&self) -> Arc<Writes> {
        self.writes.clone()
    }

    /// A write made in a turn that notes none itself (the answers writer's).
    pub(super) fn note_write(&self) {
        self.writes.note();
    }

    /// A turn that wakes nobody when it ends: the checkpointer's own, and the answers
    /// writer's, which checkpoints its own frames (`sqlite_writer/`) and notes its writes
    /// itself ([`Writes::note`]).
    pub(super) async fn permit(&self) -> OwnedSemaphorePermit {
        self.turns
            .clone()
            .acquire_owned()
            .await
            .expect("the write gate is never closed")
    }
}

/// The checkpointing task and its connection.
pub(super) struct Checkpointer {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    forgetting: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// The gate for this process's SQLite writers, and the task that checkpoints after them on
    /// `pool` (one connection, opened on first use).
    pub(super) fn start(pool: AnyPool) -> (Gate, Checkpointer) {
        let (wrote, woken) = mpsc::channel(1);
        let gate = Gate {
            turns: Arc::new(Semaphore::new(1)),
            wrote,
            writes: new_writes(),
        };
        let stop = CancellationToken::new();
        let forgetting = tokio::spawn(forget_when_quiet(pool.clone(), gate.clone(), stop.clone()));
        let task = tokio::spawn(run(pool, gate.clone(), woken, stop.clone()));
        let checkpointer = Checkpointer {
            stop,
            task: Mutex::new(Some(task)),
            forgetting: Mutex::new(Some(forgetting)),
        };
        (gate, checkpointer)
    }

    /// Stops the task, once a checkpoint under way has finished, and closes its connection.
    pub(super) async fn stop(&self) {
        self.stop.cancel();
        if let Some(task) = self.forgetting.lock().await.take() {
            let _ = task.await;
        }
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

async fn run(pool: AnyPool, gate: Gate, mut woken: mpsc::Receiver<()>, stop: CancellationToken) {
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            wake = woken.recv() => if wake.is_none() { break },
        }
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = tokio::time::sleep(GATHER) => {}
        }
        // A wake-up that came during the wait is part of this checkpoint.
        let _ = woken.try_recv();
        if let Err(e) = checkpoint(&pool, &gate).await {
            // The automatic checkpoint is the backstop; the next write tries again.
            let kind = crate::telemetry::error_kind(&e);
            tracing::warn!(error = %kind, "could not checkpoint the SQLite WAL");
        }
    }
    pool.close().await;
}

/// Copies what is committed in the WAL into the database file: first alongside the writers,
/// then, for the frames they committed meanwhile, in turn at the gate. Only a checkpoint that
/// has copied every frame before the next commit begins lets that commit start the WAL again
/// from the beginning; without the second pass, commits kept beginning while the first ran
/// (it syncs the database file, up to tens of milliseconds), the WAL grew past 1 MiB and the
/// commit that took it there checkpointed inline after all. The second pass copies a few pages
/// at most, and nothing at all when no commit came in between.
///
/// When the second pass has copied every frame, it starts the WAL again itself, in the same
/// turn ([`start_wal_again`]), so that the next commit does not. The pool's one connection is
/// given back before the turn is awaited: the emptying at a quiet moment does the same (its
/// copy before its turn, then the turn, then the connection), so neither holds one while it
/// waits for the other.
async fn checkpoint(pool: &AnyPool, gate: &Gate) -> anyhow::Result<()> {
    let (_, frames, _) = passive(&mut *pool.acquire().await?).await?;
    if frames > 0 {
        let _turn = gate.permit().await;
        let mut conn = pool.acquire().await?;
        let (busy, frames, copied) = passive(&mut conn).await?;
        if busy == 0 && copied == frames {
            start_wal_again(&mut conn).await;
        }
    }
    Ok(())
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: (busy, frames in the WAL, frames copied). It waits for no
/// writer and no reader; it copies what it can.
pub(super) async fn passive(conn: &mut AnyConnection) -> anyhow::Result<(i64, i64, i64)> {
    Ok(sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?)
}

/// Starts the WAL again with one frame, the database's first page as it is, once every frame
/// it held is in the database file: after a checkpoint that copied them all, and after the
/// WAL is emptied at a quiet moment (`wal_forgetting.rs`). Called in a turn at the gate, so
/// that no commit comes in between.
///
/// Why: the first commit after such a checkpoint starts the WAL from its beginning. It writes
/// the WAL's new header and syncs it before it writes its own frames and syncs those (SQLite
/// orders the two so that a crash cannot mix a new header with older frames): two syncs where
/// any other commit makes one. In a real org answers come minutes apart, so nearly every one
/// was such a first commit and paid both inside its wait for the thanks (`strace` of `serve`:
/// two `fsync`s of the WAL for each answer sent alone). Done here, the header and its sync
/// come before the next answer, which appends its frames and syncs once.
///
/// The frame holds page 1 as it is: the file's header and the start of the schema, never a
/// row of an answer, a token or a person (setting `user_version` to its own value dirties that
/// page alone). It says that a checkpoint or a quiet moment came, which the file's own state
/// says already.
///
/// A failure costs only that sync (a writer of another process held the lock past the
/// connection's wait, say), so it is said at DEBUG, and what came before stands.
pub(super) async fn start_wal_again(conn: &mut AnyConnection) {
    let first_page = async {
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version={version}"
        )))
        .execute(&mut *conn)
        .await?;
        anyhow::Ok(())
    };
    if let Err(e) = first_page.await {
        let kind = crate::telemetry::error_kind(&e);
        tracing::debug!(error = %kind, "could not start the SQLite WAL again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, WriteInTurn};

    #[tokio::test]
    async fn a_writers_turn_wakes_the_checkpointer_and_its_own_turn_does_not() {
        let (gate, mut woken) = Gate::for_test();
        drop(gate.turn().await);
        assert!(woken.try_recv().is_ok(), "a write wakes the checkpointer");
        drop(gate.permit().await);
        assert!(
            woken.try_recv().is_err(),
            "its own turn must not wake it, or an idle store would checkpoint forever"
        );
    }

    /// The point of the checkpointer: once it has run, the WAL starts again from its first
    /// frame, so it never reaches the size at which a commit checkpoints inline; and it is the
    /// checkpoint that starts it again, not the next commit, which would sync twice. This
    /// fails if a checkpoint leaves frames uncopied, or if any of the store's connections
    /// keeps a read snapshot open between statements (SQLite then cannot start the WAL again).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_a_checkpoint_the_next_commit_starts_the_wal_again() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("wal.db").display());
        let store = Store::connect(&url).await.unwrap();
        // The test runs the checkpoints itself.
        let checkpointer = store.checkpointer.clone().unwrap();
        checkpointer.stop().await;
        let gate = store.write_gate.clone().unwrap();
        let pool = store.pool.clone();
        sqlx::query("CREATE TABLE filler (b BLOB)")
            .write_in_turn(&store, &pool)
            .await
            .unwrap();
        // A hundred commits of about two frames each: the WAL holds about 200 frames (198 when
        // counted), three quarters of its limit of 256, short of an inline checkpoint.
        for _ in 0..100 {
            sqlx::query("INSERT INTO filler VALUES (randomblob(3000))")
                .write_in_turn(&store, &pool)
                .await
                .unwrap();
        }
        // Reads on the pool's connections, as a serve makes between writes.
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 100);
        checkpoint(&pool, &gate).await.unwrap();
        let wal = dir.path().join("wal.db-wal");
        let header = || std::fs::read(&wal).unwrap()[..32].to_vec();
        let started_again = header();
        sqlx::query("INSERT INTO filler VALUES (randomblob(3000))")
            .write_in_turn(&store, &pool)
            .await
            .unwrap();
        let (_, frames, _) = passive(&mut pool.acquire().await.unwrap()).await.unwrap();
        assert!(
            (1..=4).contains(&frames),
            "the WAL holds {frames} frames after the checkpoint and one commit"
        );
        // The checkpoint started it again (its first page, `start_wal_again`), so the commit
        // appended to it and did not write and sync a new header.
        assert_eq!(header(), started_again, "the commit kept the WAL's header");
        store.close().await;
    }
}
