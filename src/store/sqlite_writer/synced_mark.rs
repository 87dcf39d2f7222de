//! A mark in the WAL at the end of a commit the disk already holds, so that the answers' WAL
//! thread can copy frames into the database file without syncing the WAL first.
//!
//! Why: every `PASSIVE` checkpoint SQLite runs with `synchronous` FULL or NORMAL starts with a
//! sync of the WAL, even when every frame it is about to copy is on the disk already, and on
//! these virtual disks a sync costs a flush of the device's cache (about 0.2 ms with nothing to
//! write) that the writer's own commits then queue behind. The answers writer's commits are
//! FULL: each has synced the whole WAL file, whoever wrote its frames. So the thread's passes
//! at half, three quarters and seven eighths of the WAL's limit (the writer's `mod.rs`) synced
//! nothing that was not synced already. Measured (`answer_bench --binary`, the forty-seventh
//! session's machine, docs/benchmarks.md): a p99 at 4 connections of 1.66 to 1.96 ms in four
//! runs of this build against 2.47 and 2.55 ms for the build before in the same stretch (1.81
//! against 2.42 ms at the median of seven runs each, counting an experiment without the mark),
//! and about 3% more answers a second.
//!
//! What makes it safe, where SQLite's own sync made it safe before:
//! - **No frame the disk may not hold is copied.** A checkpoint copies no frame past the
//!   snapshot of any reader. The mark is such a reader: a read transaction on a connection of
//!   its own, begun by the writer right after its commit, while it still holds the process's
//!   write gate (so no commit of this process comes between). A commit of another process
//!   could; the writer reads `PRAGMA data_version` (which moves when another connection
//!   commits) inside its batch's transaction and again once the mark is taken, and takes no
//!   mark if it moved. Every frame up to the mark was then synced by the writer's commit.
//! - **The WAL does not start again over frames the database file does not hold yet.** With
//!   `synchronous=OFF` SQLite also skips its sync of the database file after a pass that
//!   copied every frame, and then lets the next commit start the WAL again, writing over
//!   them. It cannot while the mark is held: starting again needs every reader's lock. The
//!   thread syncs the database file itself, then lets the mark go.
//!
//! Without a mark (another process committed, or the thread was still busy with the last
//! pass), a pass runs as before, with SQLite's syncs.

use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;

/// The writer's read of `PRAGMA data_version` inside its batch's transaction (after `BEGIN
/// IMMEDIATE`, so no other connection commits until its own `COMMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Version(i64);

/// `PRAGMA data_version` on `conn`: the same value as long as no other connection commits.
pub(super) fn version(conn: &Connection) -> rusqlite::Result<Version> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))
        .map(Version)
}

/// The mark's connection, and whether it holds a mark now.
pub(super) struct SyncedMark {
    conn: Option<Connection>,
    held: bool,
}

impl SyncedMark {
    pub(super) fn new() -> SyncedMark {
        SyncedMark {
            conn: None,
            held: false,
        }
    }

    pub(super) fn is_held(&self) -> bool {
        self.held
    }

    /// Marks the WAL's end, right after the writer's commit on `writer` (whose `data_version`
    /// inside that commit's transaction was `before`), while the writer still holds the write
    /// gate. Returns whether the mark is held: not if another connection committed after the
    /// writer's commit, or if the mark's connection could not read.
    pub(super) fn take(&mut self, path: &Path, writer: &Connection, before: Version) -> bool {
        self.release();
        self.held = match self.try_take(path, writer, before) {
            Ok(held) => held,
            Err(e) => {
                // Harmless: the next pass syncs the WAL first, as SQLite's passes always did.
                tracing::debug!(error = %e, "could not mark the WAL's synced end");
                self.conn = None;
                false
            }
        };
        if !self.held {
            self.release();
        }
        self.held
    }

    fn try_take(
        &mut self,
        path: &Path,
        writer: &Connection,
        before: Version,
    ) -> anyhow::Result<bool> {
        if self.conn.is_none() {
            // Opened plainly, not with the writer's `open`: its busy timeout would let the
            // writer wait here, still holding the write gate, where a mark not taken only
            // costs the next pass a sync. The privacy pragmas govern writes and deletions,
            // and this connection only reads.
            self.conn = Some(
                Connection::open(path)
                    .with_context(|| format!("could not open {}", path.display()))?,
            );
        }
        let conn = self.conn.as_ref().expect("just opened");
        // A read of the database begins the snapshot; `BEGIN` alone would not.
        conn.execute_batch("BEGIN")?;
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        Ok(version(writer)? == before)
    }

    /// Ends the mark's read transaction, if it has one: from then on the WAL may start again.
    pub(super) fn release(&mut self) {
        if let Some(conn) = &self.conn
            && !conn.is_autocommit()
            && conn.execute_batch("ROLLBACK").is_err()
        {
            // A connection that cannot end its transaction is closed, which ends it.
            self.conn = None;
        }
        self.held = false;
    }
}
