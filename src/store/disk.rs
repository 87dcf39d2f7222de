//! Deleted must mean gone from the files (DESIGN §3). A `DELETE` alone leaves a released
//! window's key, tokens, ballots and comments readable: in SQLite's pages and free pages until
//! reused, in the WAL's frames until it is truncated, in PostgreSQL's dead tuples until the
//! table is rewritten. This module holds what makes them unreadable, and the reading of the
//! SQLite file that `trustpulse audit` uses to check it without trusting the rest of the code.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;

use super::WriteInTurn;
use super::{Backend, Store};

/// Every SQLite connection, both pools:
/// - `secure_delete=ON` overwrites deleted content with zeros, on b-tree pages and on pages that
///   go to the freelist (`FAST` would leave the freelist pages as they were);
/// - `journal_size_limit` trims the WAL file back whenever it is reset, so old frames do not
///   linger past the live part of the file;
/// - `wal_autocheckpoint=256` checkpoints the WAL at 1 MiB, the same size, instead of SQLite's
///   4 MiB: the WAL then stays within its limit, where at 4 MiB every reset cut the file back to
///   1 MiB and the next commits had to grow it again (a sync of a growing file also writes its
///   metadata). Commits wait less for the disk, and fewer stale frames sit in the WAL between
///   scrubs. Closing 10,000 windows took 6.2 s of CPU instead of 8.0 (`planner_bench`);
/// - `temp_store=MEMORY` keeps sorts and temporary tables off the disk.
const SQLITE_COMMON: [&str; 5] = [
    "PRAGMA journal_mode=WAL",
    "PRAGMA secure_delete=ON",
    "PRAGMA journal_size_limit=1048576",
    "PRAGMA wal_autocheckpoint=256",
    "PRAGMA temp_store=MEMORY",
];

/// The WAL's limit in frames (`wal_autocheckpoint` above): 1 MiB of 4 KiB pages.
pub(super) const WAL_LIMIT_FRAMES: i32 = 256;

pub(super) const SQLITE_PRIVACY_PRAGMAS: &[&str] = &SQLITE_COMMON;
pub(super) const SQLITE_BOOKKEEPING_PRAGMAS: &[&str] = &[
    SQLITE_COMMON[0],
    SQLITE_COMMON[1],
    SQLITE_COMMON[2],
    SQLITE_COMMON[3],
    SQLITE_COMMON[4],
    "PRAGMA synchronous=NORMAL",
];

/// How long a PostgreSQL scrub waits for the transactions that began before it to end (see
/// `Store::rewrite_tables`). Most last milliseconds; one that is still open after this
/// is left to the planner's next tick rather than held up for.
const OLDER_TRANSACTIONS_WAIT: Duration = Duration::from_secs(2);

/// How long a PostgreSQL scrub's `VACUUM FULL` waits for a table's lock that another session
/// holds (see `Store::rewrite_tables`) before it gives up until the next try: answers that
/// reach that table queue behind it meanwhile.
const REWRITE_LOCK_WAIT: Duration = Duration::from_secs(1);

/// How many connections rewrite the answer tables' partitions at once on PostgreSQL. Each
/// `VACUUM FULL` is one backend's work and its files' syncs, so one at a time left a core
/// idle: in `psql`, the 48 partitions and the window keys with 50,000 open answers took 385
/// and 467 ms one at a time, 230 and 254 ms in two halves at once. An answer still waits only
/// for its own pulse's partition (see [`Store::rewrites_of`]).
const REWRITE_LANES: usize = 2;

/// What a PostgreSQL scrub rewrites: `lanes` side by side, each in order on a connection of its
/// own, then `last`.
struct Rewrites {
    lanes: Vec<Vec<String>>,
    last: Vec<String>,
}

impl Rewrites {
    /// Each table's partitions (named in one order for every table), in the tables' order,
    /// dealt in turn to the lanes; a table without partitions goes last.
    fn deal(partitions: Vec<(String, Vec<String>)>) -> Rewrites {
        let mut rewrites = Rewrites {
            lanes: vec![Vec::new(); REWRITE_LANES],
            last: Vec::new(),
        };
        for (table, leaves) in partitions {
            if leaves.is_empty() {
                rewrites.last.push(table);
            }
            for (i, leaf) in leaves.into_iter().enumerate() {
                rewrites.lanes[i % REWRITE_LANES].push(leaf);
            }
        }
        rewrites
    }
}

/// The tables that hold what a release deletes: the answer tables, and the window keys.
///
/// In the reverse of the order in which a batch of answers reaches them (it reads the window
/// keys, then writes tokens, ballots and comments), because PostgreSQL's scrub rewrites them in
/// this order, one table at a time, and an answer waits for the table being rewritten when it
/// reaches it. In the same order as the answers', the scrub moved on to the next table just as
/// an answer was let through the last, and the answer waited for both.
///
/// On PostgreSQL the three answer tables are each 16 partitions by a hash of the pulse
/// (`migrations/postgres/…_answers_in_partitions.sql`), and the scrub names each partition
/// (`Store::rewrites_of`): `VACUUM FULL` rewrites them one at a time, each in a transaction
/// of its own (two such rewrites side by side, of partitions of different numbers), so an
/// answer waits only while the partition its pulse is in is rewritten, a sixteenth of the open
/// answers. Sixteen, not four: with four, an answer's write took about 8% less CPU and a close
/// tick 14% less time, but an answer's longest wait during one team's release amid 50,000 open
/// answers was 26 to 43 ms against 5 to 19 (`planner_bench`, sixtieth session of
/// docs/benchmarks.md), close to the goal of 50 ms and growing with the org's open answers.
pub(super) const RELEASED_TABLES: [&str; 4] =
    ["comments", "ballots", "participation", "window_keys"];

/// The database file of a `sqlite:` URL, if it names one (not an in-memory database).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or("");
    let named = !path.is_empty() && !path.contains(":memory:") && !path.starts_with("file:");
    named.then(|| PathBuf::from(path))
}

impl Store {
    /// Marks that a release deleted rows, so the next [`Store::scrub`] does its work.
    pub fn scrub_needed(&self) {
        self.scrub_due.store(true, Ordering::SeqCst);
    }

    /// Makes deleted answer rows unreadable on disk, if a release (or a start-up) asked for it:
    /// on SQLite the WAL is checkpointed into the (zeroed) main file and truncated to nothing;
    /// on PostgreSQL the answer tables are rewritten (`VACUUM FULL`, partition by partition),
    /// so their old files with the dead tuples are removed. On failure it stays due, and the
    /// planner's next tick tries again.
    pub async fn scrub(&self) -> anyhow::Result<()> {
        if !self.scrub_due.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let done = self.scrub_now().await;
        if done.is_err() {
            self.scrub_needed();
        }
        done
    }

    async fn scrub_now(&self) -> anyhow::Result<()> {
        // Counted before the work, so a release that commits meanwhile is not claimed as done
        // (it asks for another scrub anyway).
        let releases: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM releases")
            .fetch_one(&self.pool)
            .await?;
        match self.backend {
            Backend::Sqlite => {
                self.forget_sqlite_samples_of_answers().await?;
                self.truncate_wal().await?;
                if !self.free_space_checked.swap(true, Ordering::SeqCst) {
                    self.rebuild_if_free_space_is_dirty().await?;
                }
            }
            Backend::Postgres => {
                let rewrites = self.rewrites_of(&RELEASED_TABLES).await?;
                self.rewrite_tables(&rewrites, "the answer tables and window keys")
                    .await?
            }
        }
        // What `trustpulse audit` compares with the releases: every one was scrubbed.
        sqlx::query(
            "INSERT INTO disk_scrubs (scope, releases_scrubbed) VALUES ('answers', $1)
             ON CONFLICT (scope) DO UPDATE SET releases_scrubbed = excluded.releases_scrubbed",
        )
        .bind(releases)
        .write_in_turn(self, &self.pool)
        .await?;
        if self.backend == Backend::Sqlite {
            // The record above is the WAL's only frame; leave the file empty again.
            self.truncate_wal().await?;
        }
        Ok(())
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)` until it completes: it cannot while another connection
    /// still reads an older snapshot, so it is retried for a few seconds.
    async fn truncate_wal(&self) -> anyhow::Result<()> {
        for attempt in 1..=60u64 {
            // In turn with the other writers of this process: the checkpoint shuts writers out
            // while it runs, and an answer that met it there would sleep in SQLite's busy
            // handler (up to 100 ms a turn); in line here, it goes the moment the checkpoint is
            // done.
            let (busy, _, _): (i64, i64, i64) = {
                let _turn = self.write_gate().await;
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&self.pool)
                    .await?
            };
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10 * attempt.min(10))).await;
        }
        anyhow::bail!("the SQLite WAL could not be truncated: another connection kept reading")
    }

    /// Once per process: a database written before `secure_delete` (an older trustpulse) may
    /// hold deleted rows in its free space. `VACUUM` rebuilds the file from its live rows only.
    async fn rebuild_if_free_space_is_dirty(&self) -> anyhow::Result<()> {
        let Some(path) = self.sqlite_path.clone() else {
            return Ok(());
        };
        let findings = tokio::task::spawn_blocking(move || scan_sqlite_free_space(&path)).await??;
        if findings.dirty.is_empty() {
            return Ok(());
        }
        tracing::info!(
            places = findings.dirty.len(),
            "old bytes found in the database file's free space (written before secure_delete); rebuilding it once"
        );
        sqlx::query("VACUUM")
            .write_in_turn(self, &self.pool)
            .await?;
        self.truncate_wal().await
    }

    /// On PostgreSQL, rewrites the outbox so that the rows it deleted leave its files: a
    /// finished Home publish, deleted as soon as it is done, names its person and says when
    /// they opened Home (`Job::is_forgotten_when_done`), and stays on the table's pages as a
    /// dead row version until rewritten (a vacuum only marks the space free). Part of `serve`'s
    /// daily turn, so such a row outlives its deletion by a day at most. The outbox is locked
    /// meanwhile (0.6 s for 200,000 rows, 4 s for 800,000, measured with `psql` on the
    /// development machine); the worker and whatever queues a job wait for it, answers do
    /// not. On SQLite deleted rows are zeroed as they go (`secure_delete`) and the WAL is
    /// emptied once the writers are quiet, so there is nothing to do.
    pub async fn scrub_outbox(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => Ok(()),
            Backend::Postgres => {
                let outbox = Rewrites {
                    lanes: vec![vec!["outbox".to_owned()]],
                    last: Vec::new(),
                };
                self.rewrite_tables(&outbox, "the outbox").await
            }
        }
    }

    /// `VACUUM FULL` of the tables of `rewrites` (`what` they are, for the error), each lane on
    /// a connection of its own and the last ones after them, writes each table anew, but
    /// it copies along every deleted row that a transaction still running might see ("recently
    /// dead"): a transaction of this database holding a snapshot from before the deletion, or
    /// one anywhere on the server that has written and began before it (measured: an open
    /// `INSERT` in another database kept them). So it first waits for every such transaction
    /// to end; if one stays open, it fails and the caller tries again later (the release scrub
    /// at the planner's next tick, the outbox's the next day). Sessions of other roles in this
    /// database are only visible to a role with `pg_read_all_stats`.
    async fn rewrite_tables(&self, rewrites: &Rewrites, what: &str) -> anyhow::Result<()> {
        let started: i64 =
            sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
                .fetch_one(&self.pool)
                .await?;
        let mut older = self.transactions_older_than(started).await?;
        let waited = std::time::Instant::now();
        while older > 0 && waited.elapsed() < OLDER_TRANSACTIONS_WAIT {
            tokio::time::sleep(Duration::from_millis(50)).await;
            older = self.transactions_older_than(started).await?;
        }
        if older > 0 {
            anyhow::bail!(
                "a transaction that began before the rows were deleted is still open on the \
                 PostgreSQL server, and they stay in the files of {what} until it ends \
                 (look for old transactions in pg_stat_activity)"
            );
        }
        // The lanes side by side, each awaited to its end (a failure in one does not stop the
        // other midway), then the last tables, unless a lane failed.
        let lanes = rewrites.lanes.iter().filter(|lane| !lane.is_empty());
        let mut rewritten: Result<(), sqlx::Error> = Ok(());
        for lane in futures_util::future::join_all(lanes.map(|lane| self.vacuum_full(lane))).await {
            rewritten = rewritten.and(lane);
        }
        if rewritten.is_ok() && !rewrites.last.is_empty() {
            rewritten = self.vacuum_full(&rewrites.last).await;
        }
        match rewritten {
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("55P03") => {
                anyhow::bail!(
                    "another session holds a lock on {what}, and the rows deleted stay in their \
                     files until it lets go: the rewrite waited {} ms for it and gives up until \
                     the next try, so that answers do not queue behind it (look for a \
                     transaction left open, 'idle in transaction' in pg_stat_activity)",
                    REWRITE_LOCK_WAIT.as_millis()
                )
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// `VACUUM FULL` of `tables`, in order, on a connection of its own with a bound on waiting
    /// for a table's lock: while `VACUUM FULL` waits for one, every answer that reaches that
    /// table queues behind it, so a session that holds it (an operator's transaction left open
    /// in `psql`, say) would stop those answers for as long as it stays open.
    async fn vacuum_full(&self, tables: &[String]) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET lock_timeout = '{}ms'",
            REWRITE_LOCK_WAIT.as_millis()
        )))
        .execute(&mut *conn)
        .await?;
        let rewritten = sqlx::query(sqlx::AssertSqlSafe(format!(
            "VACUUM FULL {}",
            tables.join(", ")
        )))
        .execute(&mut *conn)
        .await;
        // The connection goes back to the pool, and the bound must not go with it.
        if sqlx::query("RESET lock_timeout")
            .execute(&mut *conn)
            .await
            .is_err()
        {
            conn.close_on_drop();
        }
        rewritten.map(drop)
    }

    /// The rewrites of `tables` (PostgreSQL): each table's partitions dealt in turn to
    /// [`REWRITE_LANES`] lanes, in the tables' order, and a table without partitions after
    /// them. `VACUUM FULL` of a partitioned table would first lock the table itself, waiting
    /// for every transaction that holds any of its partitions (a batch of answers in flight, a
    /// long read), while every answer that came meanwhile queued behind it; named one by one,
    /// the partitions are locked one at a time and nothing else. The partitions of each table
    /// are dealt in the same order, so a pulse's rows (in partitions of one number) are all in
    /// one lane, which keeps the tables' order for it.
    async fn rewrites_of(&self, tables: &[&str]) -> anyhow::Result<Rewrites> {
        let mut partitions = Vec::with_capacity(tables.len());
        for table in tables {
            let leaves: Vec<String> = sqlx::query_scalar(
                "SELECT relid::regclass::text FROM pg_partition_tree($1::regclass)
                 WHERE isleaf ORDER BY relid::regclass::text",
            )
            .bind(*table)
            .fetch_all(&self.pool)
            .await?;
            partitions.push(((*table).to_owned(), leaves));
        }
        Ok(Rewrites::deal(partitions))
    }

    /// Whether transactions that could still see rows deleted before `xid` (the next transaction
    /// id when the scrub began) are open, as a count that is 0 when none are: any on the server
    /// with a transaction id below it (counted once), and each other session of this database
    /// reading a snapshot older than it. Ours is neither.
    async fn transactions_older_than(&self, xid: i64) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint < $1)::int::bigint
                  + (SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND backend_xmin IS NOT NULL
                       AND age(backend_xmin) > age(($1 % 4294967296)::text::xid))",
        )
        .bind(xid)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The SQLite database file, when the store is a SQLite file.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }
}

/// What a reading of a SQLite file (and its WAL) found in the space that holds no live row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeSpaceFindings {
    pub pages: u64,
    pub free_pages: u64,
    /// Free pages, or free blocks inside pages, that still hold non-zero bytes.
    pub dirty: Vec<String>,
    /// Frames in the WAL (0 when it is truncated or absent).
    pub wal_frames: u64,
}

/// Reads the database file and its WAL as bytes and checks that every free page and every free
/// block inside a b-tree page is zeroed: what `secure_delete` promises, checked on the disk.
pub fn scan_sqlite_free_space(db: &Path) -> anyhow::Result<FreeSpaceFindings> {
    // Page by page with positioned reads: the scan runs at start-up, and reading a large
    // database whole would make it the process's peak memory.
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(db)?;
    let len = file.metadata()?.len();
    let mut head = [0u8; 100];
    let read = len >= 100 && file.read_exact_at(&mut head, 0).is_ok();
    let page_size = page_size(db, if read { &head } else { &[] })?;
    let usable = page_size - usize::from(head[20]);
    let mut findings = FreeSpaceFindings {
        pages: len / page_size as u64,
        ..FreeSpaceFindings::default()
    };
    let pages = findings.pages;
    let read_page = |n: u32, buf: &mut Vec<u8>| -> bool {
        buf.resize(page_size, 0);
        n >= 1
            && u64::from(n) <= pages
            && file
                .read_exact_at(buf, u64::from(n - 1) * page_size as u64)
                .is_ok()
    };
    let (mut data, mut leaf_data) = (Vec::new(), Vec::new());

    // The freelist: trunk pages list leaf pages; with secure_delete every freed page is zeroed
    // before it joins the list, so a trunk holds nothing past its list but page numbers it
    // listed before (see `trunk_tail_is_clean`), and a leaf nothing at all.
    let mut trunk = be32(&head[32..36]);
    let mut seen = 0;
    let mut free_pages = 0;
    while trunk != 0 && seen <= findings.pages {
        seen += 1;
        if !read_page(trunk, &mut data) {
            break;
        }
        free_pages += 1;
        let leaves = be32(&data[4..8]) as usize;
        let list_end = 8 + 4 * leaves;
        if data
            .get(list_end..usable)
            .is_some_and(|rest| !trunk_tail_is_clean(rest, pages))
        {
            findings
                .dirty
                .push(format!("free (trunk) page {trunk} holds old bytes"));
        }
        for i in 0..leaves.min((usable - 8) / 4) {
            let leaf = be32(&data[8 + 4 * i..12 + 4 * i]);
            free_pages += 1;
            if read_page(leaf, &mut leaf_data) && !all_zero(&leaf_data[..usable]) {
                findings
                    .dirty
                    .push(format!("free page {leaf} holds old bytes"));
            }
        }
        trunk = be32(&data[0..4]);
    }
    findings.free_pages = free_pages;

    // Every page, read 64 at a time rather than one: `trustpulse audit` on a 180 MB file used
    // 0.352 s of CPU against 0.390 s (five runs each, alternated); what is left is mostly the
    // copy out of the page cache.
    const PAGES_PER_READ: u64 = 64;
    let mut chunk = vec![0u8; PAGES_PER_READ as usize * page_size];
    let mut first = 1;
    while first <= pages {
        let count = PAGES_PER_READ.min(pages - first + 1);
        let bytes = &mut chunk[..count as usize * page_size];
        file.read_exact_at(bytes, (first - 1) * page_size as u64)
            .with_context(|| format!("could not read page {first} of {}", db.display()))?;
        for (i, page) in bytes.chunks_exact(page_size).enumerate() {
            let n = first + i as u64;
            let header = if n == 1 { 100 } else { 0 };
            check_free_blocks(page, header, usable, || format!("page {n}"), &mut findings);
        }
        first += count;
    }

    let wal = wal_path(db);
    if let Ok(wal_file) = std::fs::File::open(&wal) {
        let frame = 24 + page_size;
        let wal_len = wal_file.metadata()?.len();
        let mut chunk = vec![0u8; frame];
        let mut at = 32u64;
        let mut i = 0;
        while at + frame as u64 <= wal_len && wal_file.read_exact_at(&mut chunk, at).is_ok() {
            i += 1;
            findings.wal_frames += 1;
            let page_no = be32(&chunk[0..4]);
            let header = if page_no == 1 { 100 } else { 0 };
            check_free_blocks(
                &chunk[24..],
                header,
                usable,
                || format!("WAL frame {i} (page {page_no})"),
                &mut findings,
            );
            at += frame as u64;
        }
    }
    Ok(findings)
}

/// The free blocks of a b-tree page (a chain of offset, size pairs) must hold zeros past their
/// four-byte header: that is where a deleted row's bytes would stay.
fn check_free_blocks(
    data: &[u8],
    header: usize,
    usable: usize,
    // Named only when something is found, not formatted for each of a large file's pages.
    name: impl Fn() -> String,
    findings: &mut FreeSpaceFindings,
) {
    if !matches!(data.get(header), Some(2 | 5 | 10 | 13)) {
        return;
    }
    let mut offset = usize::from(u16::from_be_bytes([data[header + 1], data[header + 2]]));
    let mut hops = 0;
    while offset != 0 && offset + 4 <= usable && hops < usable {
        hops += 1;
        let next = usize::from(u16::from_be_bytes([data[offset], data[offset + 1]]));
        let size = usize::from(u16::from_be_bytes([data[offset + 2], data[offset + 3]]));
        let end = (offset + size).min(usable);
        if offset + 4 < end && !all_zero(&data[offset + 4..end]) {
            findings.dirty.push(format!(
                "{}: a free block at offset {offset} holds old bytes",
                name()
            ));
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
}

/// The page size in the header of the SQLite file `db`, whose first bytes are `head` (at least
/// its first 100, or it is no database).
fn page_size(db: &Path, head: &[u8]) -> anyhow::Result<usize> {
    anyhow::ensure!(
        head.len() >= 100 && head.starts_with(b"SQLite format 3\0"),
        "{} is not a SQLite database",
        db.display()
    );
    Ok(match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65536,
        n => usize::from(n),
    })
}

/// A cell of a leaf page as the file holds it: its page, its place in the page, its payload.
/// Of an index b-tree (a `WITHOUT ROWID` table's pages: the answer tables') or of a table's
/// (the tables where ballots and comments arrive on SQLite, `sqlite_writer/arrivals.rs`).
struct LeafCell {
    page: u64,
    place: u16,
    payload: Vec<u8>,
}

/// Every cell of every leaf page of the SQLite file at `db` (not its WAL), read without
/// SQLite: what a reader of the file sees. The places say more than the keys: SQLite fills a
/// page from its end, so in a page a cell written earlier sits at a higher place, until the
/// page is rebuilt (`sqlite_writer/answer_move.rs`). A payload too long for its page is cut
/// at the page's end. For tests and forensics; it reads the file whole.
fn sqlite_leaf_cells(db: &Path) -> anyhow::Result<Vec<LeafCell>> {
    let file = std::fs::read(db)?;
    let page_size = page_size(db, &file)?;
    let mut cells = Vec::new();
    for (number, page) in file.chunks_exact(page_size).enumerate() {
        let header = if number == 0 { 100 } else { 0 };
        // An index's leaf page, or a table's, whose cells give their rowid after their size.
        let with_rowid = match page[header] {
            0x0a => false,
            0x0d => true,
            _ => continue,
        };
        let count = usize::from(u16::from_be_bytes([page[header + 3], page[header + 4]]));
        for i in 0..count {
            let at = header + 8 + 2 * i;
            let Some(pointer) = page.get(at..at + 2) else {
                break;
            };
            let place = u16::from_be_bytes([pointer[0], pointer[1]]);
            let Some(cell) = page.get(usize::from(place)..) else {
                continue;
            };
            let (size, mut read) = varint(cell);
            if with_rowid {
                read += varint(cell.get(read..).unwrap_or_default()).1;
            }
            let end =
                usize::try_from(size).map_or(cell.len(), |size| (read + size).min(cell.len()));
            cells.push(LeafCell {
                page: number as u64 + 1,
                place,
                payload: cell[read.min(end)..end].to_vec(),
            });
        }
    }
    Ok(cells)
}

/// SQLite's variable-length integer at the start of `bytes`, and its length.
fn varint(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(9).enumerate() {
        if i == 8 {
            return ((value << 8) | u64::from(*byte), 9);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, bytes.len())
}

/// The indexes in `needles` of the leaf cells of `db` that hold one, in the order of their
/// places in their pages, the first written first: what the file says of the order in which
/// they were written (see [`sqlite_leaf_cells`]).
pub fn sqlite_order_in_file(db: &Path, needles: &[Vec<u8>]) -> anyhow::Result<Vec<usize>> {
    let mut found: Vec<(u64, std::cmp::Reverse<u16>, usize)> = sqlite_leaf_cells(db)?
        .into_iter()
        .filter_map(|cell| {
            needles
                .iter()
                .position(|n| cell.payload.windows(n.len()).any(|w| w == n.as_slice()))
                .map(|i| (cell.page, std::cmp::Reverse(cell.place), i))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, _, i)| i).collect())
}

pub fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

/// Whether the bytes of a freelist trunk page past its list are clean: zeros, or numbers of
/// this file's pages. When SQLite reuses a free page it takes it off the trunk's list by
/// moving the last entry into its slot and shortening the list, so the old last entry stays
/// behind: a page number, not a byte of any row. Counted as old bytes, a database that had
/// reused a free page (a fresh one included: the migrations rebuild tables) was rebuilt at its
/// next start, and `trustpulse audit` reported it. Rows' bytes do not pass: text and keys read
/// as numbers far beyond the file's pages.
fn trunk_tail_is_clean(tail: &[u8], pages: u64) -> bool {
    let slots = tail.chunks_exact(4);
    let rest = slots.remainder();
    all_zero(rest) && slots.map(be32).all(|n| u64::from(n) <= pages)
}

#[cfg(test)]
mod tests {
    use super::{RELEASED_TABLES, Rewrites, scan_sqlite_free_space, trunk_tail_is_clean};

    /// A pulse's rows are in partitions of one number in each answer table: all of them in one
    /// lane, in the order of `RELEASED_TABLES`, so an answer meets at most one of them being
    /// rewritten; every partition in some lane; the window keys (no partitions) after them.
    #[test]
    fn the_scrub_deals_a_pulses_partitions_to_one_lane_in_the_tables_order() {
        // Named as PostgreSQL sorts them: `comments_0, comments_1, comments_10, …`.
        let mut numbers: Vec<String> = (0..16).map(|n| n.to_string()).collect();
        numbers.sort();
        let partitions = RELEASED_TABLES
            .iter()
            .map(|&table| {
                let leaves = match table {
                    "window_keys" => Vec::new(),
                    _ => numbers.iter().map(|n| format!("{table}_{n}")).collect(),
                };
                (table.to_owned(), leaves)
            })
            .collect();
        let rewrites = Rewrites::deal(partitions);
        assert_eq!(rewrites.last, ["window_keys"]);
        assert_eq!(rewrites.lanes.iter().map(Vec::len).sum::<usize>(), 48);
        for n in &numbers {
            let pulse: Vec<String> = ["comments", "ballots", "participation"]
                .iter()
                .map(|table| format!("{table}_{n}"))
                .collect();
            let lanes: Vec<&Vec<String>> = rewrites
                .lanes
                .iter()
                .filter(|lane| lane.iter().any(|p| pulse.contains(p)))
                .collect();
            assert_eq!(lanes.len(), 1, "partitions numbered {n} in one lane");
            let order: Vec<&String> = lanes[0].iter().filter(|p| pulse.contains(p)).collect();
            assert_eq!(
                order,
                pulse.iter().collect::<Vec<_>>(),
                "in the tables' order"
            );
        }
        assert!(
            rewrites.lanes.iter().all(|lane| lane.len() == 24),
            "the work halved"
        );
    }

    /// The scan reads the file many pages at a time: old bytes in a page of a later read, and
    /// in the file's last page (a read shorter than the others), are found and named.
    #[test]
    fn old_bytes_are_found_in_any_page_whatever_read_it_falls_in() {
        const PAGE: usize = 512;
        const PAGES: usize = 150;
        let mut file = vec![0u8; PAGE * PAGES];
        file[..16].copy_from_slice(b"SQLite format 3\0");
        file[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
        // A table leaf page with one free block at offset 200, of 40 bytes, holding a name.
        let leaf_with_old_bytes = |page: &mut [u8]| {
            page[0] = 13;
            page[1..3].copy_from_slice(&200u16.to_be_bytes());
            page[200..204].copy_from_slice(&[0, 0, 0, 40]);
            page[210..218].copy_from_slice(b"U0SELLER");
        };
        for n in [100, PAGES] {
            leaf_with_old_bytes(&mut file[(n - 1) * PAGE..n * PAGE]);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        std::fs::write(&path, &file).unwrap();

        let findings = scan_sqlite_free_space(&path).unwrap();
        assert_eq!(findings.pages, PAGES as u64);
        assert_eq!(
            findings.dirty,
            [
                "page 100: a free block at offset 200 holds old bytes",
                "page 150: a free block at offset 200 holds old bytes",
            ]
        );
    }

    #[test]
    fn a_free_trunk_page_may_keep_page_numbers_it_listed_but_no_other_bytes() {
        let mut tail = vec![0u8; 64];
        assert!(trunk_tail_is_clean(&tail, 68), "zeros");
        tail[..8].copy_from_slice(&[0, 0, 0, 41, 0, 0, 0, 40]);
        assert!(trunk_tail_is_clean(&tail, 68), "page numbers left by reuse");
        assert!(
            !trunk_tail_is_clean(&tail, 40),
            "a number beyond the file is not a page number"
        );
        tail[8..16].copy_from_slice(b"U0SELLER");
        assert!(
            !trunk_tail_is_clean(&tail, 68),
            "a person's id is old bytes"
        );
        let mut odd = vec![0u8; 6];
        odd[5] = 7;
        assert!(!trunk_tail_is_clean(&odd, 68), "bytes after the last slot");
    }
}
