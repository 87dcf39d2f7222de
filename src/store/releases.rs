//! Releasing a window: the one place answers turn into numbers. The release is computed once,
//! stored as frozen JSON, and in the same transaction the window's key, its participation
//! tokens, its ballots and its comments are deleted, so only the release's counts remain.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use sqlx::AnyConnection;

use super::WriteInTurn;
use super::answer_shuffle::{MOVED_TABLES, move_sql};
use super::arrivals::{BALLOTS, COMMENTS, TABLES, TOKENS};
use super::outbox::{Job, Queued, installed_team, push_jobs};
use super::release_arrivals::{self, ArrivedRows};
use super::script::{Script, Value, bind};
use super::{Backend, IN_LIST_CHUNK, Store, from_secs, placeholders, secs};
use crate::digest::release::{Release, ReleaseBody, Tally};
use crate::digest::view::HeldWindow;
use crate::privacy::gates;
use crate::survey::Question;

/// What the store knows about a window at the close of its latest wave.
#[derive(Debug, Clone)]
pub struct WindowState {
    pub window_id: String,
    pub manager_id: String,
    pub k: u32,
    pub tally: Tally,
    /// Distinct people who answered any of its waves (tokens are window-scoped).
    pub respondents: u32,
    /// Distinct people invited to any of its waves.
    pub invited: u32,
    pub comments: Vec<String>,
    pub waves_closed: u32,
    /// The commitment's date, when a pulse of the window asked the follow-through item.
    pub follow_through_since: Option<String>,
    /// On SQLite, the rowids of its ballots, comments and tokens still where they arrived
    /// (`sqlite_writer/arrivals.rs`, in the order of `TABLES`), copied already or not: its
    /// release deletes them there.
    arriving: [Vec<i64>; TABLES.len()],
}

/// HR's view of a release: counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    pub manager_id: String,
    pub window_end: Timestamp,
    pub invited: u32,
    /// None when the window never reached k: that count is never stored.
    pub respondents: Option<u32>,
}

/// What to do with a window once its latest wave has closed.
#[derive(Debug, Clone)]
pub enum WindowDecision {
    /// Keep it open for the team's next wave (under k, more waves allowed).
    Hold,
    /// Freeze this release and delete what it was computed from.
    Release(Box<Release>),
}

impl Store {
    /// For each `(wave_id, window_id)`, in one transaction (one wait for the disk for all of
    /// them): closes the wave (when given) and decides its window. `decide` sees the window's
    /// facts and says hold or release; it is called once per window decided, in order. A release is frozen, and in the same
    /// transaction the window's key, tokens, ballots and comments are deleted, with every
    /// per-person outbox row of its waves; the invitations and reminders of the closed wave are
    /// queued for their "closed" update. Each outcome, in the order given, is None when the
    /// wave was not open (another replica closed it) or the window is already released.
    ///
    /// `arrived` is what the run of transactions this is one of knows of where answers arrived
    /// on SQLite ([`Store::arrived_rows`] for a run of several, `ArrivedRows::default()` for
    /// one alone).
    ///
    /// On PostgreSQL a submission holds a share lock on its wave row, so the close waits for a
    /// submission in flight, and a submission after the close sees the wave closed: no ballot
    /// or token can land in a released window.
    pub async fn close_and_decide_many(
        &self,
        items: &[(Option<&str>, &str)],
        now: Timestamp,
        arrived: &ArrivedRows,
        mut decide: impl FnMut(&WindowState) -> WindowDecision,
    ) -> anyhow::Result<Vec<Option<(WindowState, WindowDecision)>>> {
        // Set-based: each step is one statement for the whole batch, not one per window (a
        // statement per window per step made closing 10,000 windows take 9 s).
        assert!(items.len() <= IN_LIST_CHUNK, "a batch is one IN (…) list");
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // The answer tables keep no statistics (they would tell how many answered each
            // pulse: see `store::statistics`), so PostgreSQL cannot know that a pulse has a
            // handful of rows, and it read them all for each batch with a hash join. Every
            // statement here reaches its rows through a key: joins by index only. Releasing
            // 30,000 windows of one org took 4.0 s so, against 5.8 s with hash joins, and an
            // answer to another pulse waited at most 17 ms meanwhile, against 66 ms
            // (`planner_bench 30000 5` on PostgreSQL).
            sqlx::query("SET LOCAL enable_hashjoin = off")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SET LOCAL enable_mergejoin = off")
                .execute(&mut *tx)
                .await?;
        }
        let wave_ids: Vec<&str> = items.iter().filter_map(|(wave, _)| *wave).collect();
        let closed = close_waves(&mut tx, self.backend, &wave_ids, now).await?;
        let close_updates = close_updates(&mut tx, &closed, now).await?;
        // A window is decided when it was named alone, or when its wave closed just now (a
        // wave that was not open was closed by another replica, which decided its window).
        // Each window is decided once, for its first item.
        let mut seen = HashSet::new();
        let to_decide: Vec<Option<&str>> = items
            .iter()
            .map(|(wave, window)| {
                let due = wave.is_none_or(|w| closed.contains(w));
                (due && seen.insert(*window)).then_some(*window)
            })
            .collect();
        let window_ids: Vec<&str> = to_decide.iter().flatten().copied().collect();
        let mut states = window_states(&mut tx, self.backend, &window_ids, arrived).await?;
        let mut outcomes = Vec::with_capacity(items.len());
        for window_id in to_decide {
            // Not open (released elsewhere): nothing to decide.
            let Some(state) = window_id.and_then(|id| states.remove(id)) else {
                outcomes.push(None);
                continue;
            };
            let decision = decide(&state);
            outcomes.push(Some((state, decision)));
        }
        let decided = || outcomes.iter().flatten();
        let held: Vec<&str> = decided()
            .filter(|(_, d)| matches!(d, WindowDecision::Hold))
            .map(|(state, _)| state.window_id.as_str())
            .collect();
        let released: Vec<(&WindowState, &Release)> = decided()
            .filter_map(|(state, d)| match d {
                WindowDecision::Release(release) => Some((state, &**release)),
                WindowDecision::Hold => None,
            })
            .collect();
        // Every write of the batch in one script: one trip to SQLite's thread (`script.rs`).
        let team_id = installed_team(&mut tx, &close_updates.jobs).await?;
        let mut script = Script::new(self.backend);
        push_jobs(
            &mut script,
            &team_id,
            &close_updates.jobs,
            Queued::Maybe,
            now,
        )?;
        forget_messages(&mut script, &close_updates.waves);
        hold_windows(&mut script, &held);
        release_windows(&mut script, &released, now)?;
        let held: HashSet<&str> = held.into_iter().collect();
        let held_waves: Vec<&str> = items
            .iter()
            .filter_map(|(wave, window)| {
                wave.filter(|w| held.contains(window) && closed.contains(*w))
            })
            .collect();
        script.run(&mut tx).await?;
        if self.backend == Backend::Postgres {
            move_held_answers(&mut tx, &held_waves).await?;
        }
        // Where the arriving tables end after the deletes, for the run's next transaction.
        let following =
            self.backend == Backend::Sqlite && !window_ids.is_empty() && arrived.following();
        let last_arrived = if following {
            Some(release_arrivals::last_rows(&mut tx).await?)
        } else {
            None
        };
        tx.commit().await?;
        if let Some(last) = last_arrived {
            let released_ids: Vec<&str> =
                released.iter().map(|(s, _)| s.window_id.as_str()).collect();
            arrived.committed(last, &released_ids);
        }
        let any_released = !released.is_empty();
        if any_released {
            self.scrub_needed();
        }
        Ok(outcomes)
    }

    /// Windows whose waves have all closed but that were never decided (a process stopped
    /// between a close and its decision, before both were one transaction).
    pub async fn undecided_windows(&self) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT x.window_id FROM windows x
             WHERE x.state = 'open'
               AND NOT EXISTS (SELECT 1 FROM waves w WHERE w.window_id = x.window_id AND w.state = 'open')
               AND (SELECT COUNT(*) FROM waves w WHERE w.window_id = x.window_id AND w.state = 'closed') > x.waves_closed
             ORDER BY x.window_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes the finished per-person outbox rows (the "closed" updates) of released windows:
    /// after a release, nothing in the outbox says who was sent what. Returns how many.
    pub async fn forget_released_jobs(&self) -> anyhow::Result<u64> {
        use std::sync::atomic::Ordering;
        if !self.close_updates_finished.swap(false, Ordering::SeqCst) {
            return Ok(0);
        }
        let done = sqlx::query(
            "DELETE FROM outbox WHERE wave_id IN (
                SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id
                WHERE x.state = 'released')
             AND state NOT IN ('pending', 'sending')",
        )
        .write_in_turn(self, &self.pool)
        .await;
        if done.is_err() {
            self.close_updates_finished.store(true, Ordering::SeqCst);
        }
        Ok(done?.rows_affected())
    }

    /// Says that close updates may have finished, for the next tick's
    /// [`Store::forget_released_jobs`].
    pub fn close_updates_may_have_finished(&self) {
        self.close_updates_finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True the first time it is asked in this process: windows left undecided by an older
    /// version (whose close and decision were two transactions) are looked for once, at
    /// start-up, not on every tick.
    pub fn first_undecided_check(&self) -> bool {
        !self
            .undecided_checked
            .swap(true, std::sync::atomic::Ordering::SeqCst)
    }

    /// The team's releases, oldest first, the last `limit` of them.
    pub async fn releases_of(&self, manager_id: &str, limit: i64) -> anyhow::Result<Vec<Release>> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM releases WHERE manager_id = $1 ORDER BY window_end DESC, window_id LIMIT $2",
        )
        .bind(manager_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .rev()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    /// The stored bytes of a release, to check that it never changes.
    pub async fn release_bytes(&self, window_id: &str) -> anyhow::Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM releases WHERE window_id = $1")
                .bind(window_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The team's window held under k at its last close, if any.
    pub async fn held_window(
        &self,
        manager_id: &str,
        max_waves: u32,
    ) -> anyhow::Result<Option<HeldWindow>> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT held_invited, waves_closed, min_respondents FROM windows
             WHERE manager_id = $1 AND state = 'open' AND held_invited IS NOT NULL",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(invited, waves_closed, k)| HeldWindow {
            invited: invited as u32,
            waves_closed: waves_closed as u32,
            k: k as u32,
            max_waves,
        }))
    }

    /// Participation counts of every team's latest release (for HR).
    pub async fn latest_participation(&self) -> anyhow::Result<Vec<Participation>> {
        let rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT r.manager_id, r.window_end, r.invited, r.respondents FROM releases r
             WHERE r.window_end = (SELECT MAX(x.window_end) FROM releases x WHERE x.manager_id = r.manager_id)
             ORDER BY r.manager_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(manager_id, end, invited, respondents)| Participation {
                manager_id,
                window_end: from_secs(end),
                invited: invited as u32,
                respondents: respondents.map(|n| n as u32),
            })
            .collect())
    }
}

/// `sql` with `{in}` replaced by one placeholder per id, and the ids as its values.
fn with_list<'a>(backend: Backend, sql: &str, ids: &[&'a str]) -> (String, Vec<Value<'a>>) {
    let sql = sql.replace("{in}", &backend.params(1, ids.len()));
    (sql, ids.iter().map(|id| Value::Text(id)).collect())
}

/// Closes those of `wave_ids` still open; returns the ones this call closed.
///
/// On PostgreSQL the waves are first locked in the order of their ids, the order in which a
/// batch of answers share-locks them (`submission_batch::record_sql`): an `UPDATE` locks rows
/// in whatever order its plan reads them, and a batch with late answers to two of these waves
/// could then hold one while waiting for the other, held here (a deadlock, which PostgreSQL
/// ends by failing one side).
async fn close_waves(
    tx: &mut AnyConnection,
    backend: Backend,
    wave_ids: &[&str],
    now: Timestamp,
) -> anyhow::Result<HashSet<String>> {
    if wave_ids.is_empty() {
        return Ok(HashSet::new());
    }
    if backend == Backend::Postgres {
        let (sql, values) = with_list(
            backend,
            "SELECT wave_id FROM waves WHERE wave_id IN ({in}) ORDER BY wave_id FOR UPDATE",
            wave_ids,
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        bind(query, values).execute(&mut *tx).await?;
    }
    let sql = placeholders(2, wave_ids.len());
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "UPDATE waves SET state = 'closed', closed_at = $1
         WHERE state = 'open' AND wave_id IN ({sql}) RETURNING wave_id"
    )))
    .persistent(false)
    .bind(secs(now));
    for id in wave_ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(&mut *tx).await?.into_iter().collect())
}

/// The facts of each of `window_ids` still open, read inside the deciding transaction (and,
/// on PostgreSQL, locked for it).
async fn window_states(
    tx: &mut AnyConnection,
    backend: Backend,
    window_ids: &[&str],
    arrived: &ArrivedRows,
) -> anyhow::Result<HashMap<String, WindowState>> {
    if window_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE OF win",
    };
    // The window and its counts in one read. They were four reads more, each a round trip to
    // SQLite's thread (see `script.rs`); the ballots and comments below are many rows each.
    // The windows are found one by one through their key (a join with the list's rows):
    // PostgreSQL read `win.window_id IN (…)` as a filter over every open window (`EXPLAIN`: a
    // scan of all 10,160 windows for a batch of 256), so each batch compared every open window
    // with every id of the list.
    let sql = format!(
        "SELECT win.window_id, win.manager_id, win.min_respondents,
                (SELECT MAX(w.follow_through_since) FROM waves w WHERE w.window_id = win.window_id),
                (SELECT COUNT(*) FROM waves w WHERE w.window_id = win.window_id AND w.state = 'closed'),
                (SELECT COUNT(DISTINCT i.person_id) FROM wave_invitees i
                 JOIN waves w ON w.wave_id = i.wave_id WHERE w.window_id = win.window_id),
                (SELECT COUNT(DISTINCT p.token) FROM participation p
                 JOIN waves w ON w.wave_id = p.wave_id WHERE w.window_id = win.window_id)
         FROM (VALUES {}) AS v JOIN windows win ON win.window_id = v.column1
         WHERE win.state = 'open' {lock}",
        backend.value_rows(window_ids.len(), 1)
    );
    type Facts = (String, String, i64, Option<String>, i64, i64, i64);
    let mut query = sqlx::query_as::<_, Facts>(sqlx::AssertSqlSafe(sql)).persistent(false);
    for id in window_ids {
        query = query.bind(*id);
    }
    let open = query.fetch_all(&mut *tx).await?;
    let mut states = HashMap::with_capacity(open.len());
    for (window_id, manager_id, k, follow_through_since, closed, invited, respondents) in open {
        states.insert(
            window_id.clone(),
            WindowState {
                window_id,
                manager_id,
                k: u32::try_from(k)?,
                tally: Tally::default(),
                respondents: u32::try_from(respondents)?,
                invited: u32::try_from(invited)?,
                comments: Vec::new(),
                waves_closed: u32::try_from(closed)?,
                follow_through_since,
                arriving: Default::default(),
            },
        );
    }

    let ballots = format!(
        "SELECT w.window_id, {}, b.follow_through FROM ballots b JOIN waves w ON w.wave_id = b.wave_id
         WHERE w.window_id IN ({})",
        Question::columns("b."),
        placeholders(1, window_ids.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(ballots)).persistent(false);
    for id in window_ids {
        query = query.bind(*id);
    }
    for row in query.fetch_all(&mut *tx).await? {
        let window_id: String = sqlx::Row::try_get(&row, 0)?;
        if let Some(state) = states.get_mut(&window_id) {
            state.tally.add(&super::ballot_at(&row, 1, true)?);
        }
    }
    let mut comments: Vec<(String, String, String)> = fetch_in(
        tx,
        "SELECT w.window_id, c.comment_id, c.body FROM comments c JOIN waves w ON w.wave_id = c.wave_id
         WHERE w.window_id IN ({in})",
        window_ids,
    )
    .await?;
    if backend == Backend::Sqlite {
        arriving_answers(tx, window_ids, arrived, &mut states, &mut comments).await?;
    }
    // In the order of their random ids, wherever they were.
    comments.sort_unstable();
    for (window_id, _, body) in comments {
        if let Some(state) = states.get_mut(&window_id) {
            state.comments.push(body);
        }
    }
    Ok(states)
}

/// On SQLite, the ballots, comments and tokens of `window_ids` still where they arrived
/// (`sqlite_writer/arrivals.rs`): the ballots and comments not copied to `ballots` and
/// `comments` yet are added to `states`' tallies and to `comments`, the people whose tokens
/// `participation` does not hold for the window to its respondents, and every row's rowid is
/// kept for the release to delete. The arriving tables have no index by pulse: `arrived` says
/// where the windows' rows are (`release_arrivals.rs`), and they are read by rowid, each with
/// its window.
async fn arriving_answers(
    tx: &mut AnyConnection,
    window_ids: &[&str],
    arrived: &ArrivedRows,
    states: &mut HashMap<String, WindowState>,
    comments: &mut Vec<(String, String, String)>,
) -> anyhow::Result<()> {
    let rowids = arrived.rows_of(tx, BALLOTS, window_ids).await?;
    if !rowids.is_empty() {
        let query = sqlx::query(sqlx::AssertSqlSafe(arriving_ballots_sql()))
            .persistent(false)
            .bind(serde_json::to_string(&rowids)?);
        for row in query.fetch_all(&mut *tx).await? {
            let window_id: String = sqlx::Row::try_get(&row, 1)?;
            let Some(state) = states.get_mut(&window_id) else {
                continue;
            };
            state.arriving[BALLOTS].push(sqlx::Row::try_get(&row, 0)?);
            let copied: bool = sqlx::Row::try_get::<i64, _>(&row, 2)? != 0;
            if !copied {
                state.tally.add(&super::ballot_at(&row, 3, true)?);
            }
        }
    }
    let rowids = arrived.rows_of(tx, COMMENTS, window_ids).await?;
    if !rowids.is_empty() {
        let found: Vec<(i64, String, i64, String, String)> = sqlx::query_as(ARRIVING_COMMENTS)
            .persistent(false)
            .bind(serde_json::to_string(&rowids)?)
            .fetch_all(&mut *tx)
            .await?;
        for (rowid, window_id, copied, comment_id, body) in found {
            let Some(state) = states.get_mut(&window_id) else {
                continue;
            };
            state.arriving[COMMENTS].push(rowid);
            if copied == 0 {
                comments.push((window_id, comment_id, body));
            }
        }
    }
    // Every table's rows are asked for, so that the run follows each (`ArrivedRows::committed`).
    let rowids = arrived.rows_of(tx, TOKENS, window_ids).await?;
    if rowids.is_empty() {
        return Ok(());
    }
    let found: Vec<(i64, String, i64, Vec<u8>)> = sqlx::query_as(ARRIVING_TOKENS)
        .persistent(false)
        .bind(serde_json::to_string(&rowids)?)
        .fetch_all(&mut *tx)
        .await?;
    // A person counts once in a window, whichever of its pulses they answered and wherever
    // their tokens are.
    let mut new: HashMap<String, HashSet<Vec<u8>>> = HashMap::new();
    for (rowid, window_id, counted, token) in found {
        let Some(state) = states.get_mut(&window_id) else {
            continue;
        };
        state.arriving[TOKENS].push(rowid);
        if counted == 0 {
            new.entry(window_id).or_default().insert(token);
        }
    }
    for (window_id, tokens) in new {
        if let Some(state) = states.get_mut(&window_id) {
            state.respondents += u32::try_from(tokens.len())?;
        }
    }
    Ok(())
}

/// The ballots of the rowids `?` (a JSON array) in `arriving_ballots`, each with its window
/// and whether it was copied to `ballots`.
pub(super) fn arriving_ballots_sql() -> String {
    format!(
        "SELECT b.rowid, w.window_id,
                EXISTS (SELECT 1 FROM ballots k WHERE k.wave_id = b.wave_id AND k.ballot_id = b.ballot_id),
                {}, b.follow_through
         FROM arriving_ballots b CROSS JOIN waves w ON w.wave_id = b.wave_id
         WHERE b.rowid IN (SELECT value FROM json_each(?))",
        Question::columns("b."),
    )
}

/// The same of `arriving_comments`.
pub(super) const ARRIVING_COMMENTS: &str = "SELECT c.rowid, w.window_id,
        EXISTS (SELECT 1 FROM comments k WHERE k.wave_id = c.wave_id AND k.comment_id = c.comment_id),
        c.comment_id, c.body
     FROM arriving_comments c CROSS JOIN waves w ON w.wave_id = c.wave_id
     WHERE c.rowid IN (SELECT value FROM json_each(?))";

/// The same of `arriving_participation`, with whether `participation` holds the token for any
/// pulse of the window (the person is counted there already).
pub(super) const ARRIVING_TOKENS: &str = "SELECT p.rowid, w.window_id,
        EXISTS (SELECT 1 FROM waves kw JOIN participation k
                  ON k.wave_id = kw.wave_id AND k.token = p.token
                WHERE kw.window_id = w.window_id),
        p.token
     FROM arriving_participation p CROSS JOIN waves w ON w.wave_id = p.wave_id
     WHERE p.rowid IN (SELECT value FROM json_each(?))";

/// Rows of `sql`, whose `{in}` is the list `ids`.
async fn fetch_in<T>(tx: &mut AnyConnection, sql: &str, ids: &[&str]) -> anyhow::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = sql.replace("{in}", &placeholders(1, ids.len()));
    let mut query = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)).persistent(false);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(&mut *tx).await?)
}

/// Keeps held windows open for the team's next wave, remembering how many were invited and
/// how many waves closed (what the manager's digest may say about a held window).
fn hold_windows<'a>(script: &mut Script<'a>, window_ids: &[&'a str]) {
    if window_ids.is_empty() {
        return;
    }
    let (sql, values) = with_list(
        script.backend(),
        "UPDATE windows SET
           held_invited = (SELECT COUNT(DISTINCT i.person_id) FROM wave_invitees i
                           JOIN waves w ON w.wave_id = i.wave_id WHERE w.window_id = windows.window_id),
           waves_closed = (SELECT COUNT(*) FROM waves w
                           WHERE w.window_id = windows.window_id AND w.state = 'closed')
         WHERE window_id IN ({in})",
        window_ids,
    );
    script.push(sql, values);
}

/// Freezes each release and forgets everything it was computed from (inside the deciding
/// transaction).
fn release_windows<'a>(
    script: &mut Script<'a>,
    released: &[(&'a WindowState, &Release)],
    now: Timestamp,
) -> anyhow::Result<()> {
    if released.is_empty() {
        return Ok(());
    }
    let backend = script.backend();
    let ids: Vec<&str> = released.iter().map(|(s, _)| s.window_id.as_str()).collect();
    let sql = format!(
        "UPDATE windows SET state = 'released', released_at = {},
           waves_closed = (SELECT COUNT(*) FROM waves w
                           WHERE w.window_id = windows.window_id AND w.state = 'closed')
         WHERE window_id IN ({})",
        backend.params(1, 1),
        backend.params(2, ids.len())
    );
    let values = std::iter::once(Value::Int(secs(now)))
        .chain(ids.iter().map(|id| Value::Text(id)))
        .collect();
    script.push(sql, values);

    let sql = format!(
        "INSERT INTO releases (window_id, manager_id, window_end, respondents, invited, body, released_at)
         VALUES {}",
        backend.value_rows(released.len(), 7)
    );
    let mut values = Vec::with_capacity(released.len() * 7);
    for (state, release) in released {
        // The count HR may see, stored only when the window reached k; the manager sees the
        // body.
        let respondents = match release.body {
            ReleaseBody::Results { respondents, .. }
                if gates::shows_numbers(respondents, state.k) =>
            {
                Some(i64::from(respondents))
            }
            _ => None,
        };
        values.extend([
            Value::Text(&state.window_id),
            Value::Text(&state.manager_id),
            Value::Int(secs(now)),
            Value::OptInt(respondents),
            Value::Int(i64::from(state.invited)),
            Value::Owned(serde_json::to_string(release)?),
            Value::Int(secs(now)),
        ]);
    }
    script.push(sql, values);

    // On SQLite, the ballots and comments still where they arrived (`sqlite_writer/arrivals.rs`),
    // found by the read of the windows' answers in this transaction (no answer commits
    // meanwhile): by rowid, with no second pass over those tables.
    if backend == Backend::Sqlite {
        for (table, arriving) in TABLES.iter().enumerate() {
            let name = arriving.name;
            let rowids: Vec<i64> = released
                .iter()
                .flat_map(|(state, _)| state.arriving[table].iter().copied())
                .collect();
            if !rowids.is_empty() {
                script.push(
                    format!("DELETE FROM {name} WHERE rowid IN (SELECT value FROM json_each(?))"),
                    vec![Value::Owned(serde_json::to_string(&rowids)?)],
                );
            }
        }
    }
    for sql in [
        "DELETE FROM window_keys WHERE window_id IN ({in})",
        "DELETE FROM participation WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id IN ({in}))",
        "DELETE FROM ballots WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id IN ({in}))",
        "DELETE FROM comments WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id IN ({in}))",
        // Invitations and reminders of a released window have nothing left to do; the
        // "closed" updates go once sent (`forget_released_jobs`).
        "DELETE FROM outbox WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id IN ({in}))
           AND kind IN ('invite', 'remind')",
        "DELETE FROM wave_messages WHERE wave_id IN (SELECT wave_id FROM waves WHERE window_id IN ({in}))",
    ] {
        let (sql, values) = with_list(backend, sql, &ids);
        script.push(sql, values);
    }
    Ok(())
}

/// On PostgreSQL, moves the answers of `wave_ids` (waves closed just now, whose windows are
/// held) to new rows in random order, as `answer_shuffle` moves an open pulse's: the last of
/// them may have come too late for that move, which passes over a closed wave, and a held
/// window keeps its rows until its release, a wave or more later. Written one at a time, each
/// token would keep the transaction (`xmin`) and the place of its ballot all that while. This
/// transaction holds the waves (`close_waves`), so no answer or move touches their rows
/// meanwhile.
///
/// Only the waves whose rows more than one transaction wrote: the rest were moved already, or
/// written by one batch (shuffled), and a held window's rows are most of the time. Moving
/// every held wave's rows anyway made a close tick of 10,000 held windows of 5 answers take
/// 1.7 s instead of 0.9 (`planner_bench` on PostgreSQL, every window held). The last
/// statements of the transaction: the sequential scans they turn off, to reach the rows
/// through the key (the answer tables keep no statistics), stay off for them only.
async fn move_held_answers(tx: &mut AnyConnection, wave_ids: &[&str]) -> anyhow::Result<()> {
    if wave_ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT set_config('enable_seqscan', 'off', true)")
        .execute(&mut *tx)
        .await?;
    // Pulse by pulse, each through its own partition's key. A list of pulses (`IN (…)`) was
    // looked for in every partition its pulses hash to, all 16 for a close batch, each
    // partition's index searched for every pulse of the list: with every window held, it added
    // 290 ms to a close tick of 10,000 windows (two pairs), and this 130 ms.
    let sql = format!(
        "SELECT v.column1 FROM (VALUES {}) AS v
         WHERE (SELECT COUNT(DISTINCT stamp) FROM (
                  SELECT xmin::text AS stamp FROM participation p WHERE p.wave_id = v.column1
                  UNION ALL SELECT xmin::text FROM ballots b WHERE b.wave_id = v.column1
                  UNION ALL SELECT xmin::text FROM comments c WHERE c.wave_id = v.column1
                ) AS stamped) > 1",
        Backend::Postgres.value_rows(wave_ids.len(), 1)
    );
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).persistent(false);
    for id in wave_ids {
        query = query.bind(*id);
    }
    let unmoved = query.fetch_all(&mut *tx).await?;
    if unmoved.is_empty() {
        return Ok(());
    }
    let mut script = Script::new(Backend::Postgres);
    for table in MOVED_TABLES {
        let values = unmoved.iter().map(|id| Value::Text(id)).collect();
        script.push(move_sql(table, unmoved.len()), values);
    }
    script.run(tx).await
}

/// The "this pulse closed" update of every invitation and reminder of the waves just closed:
/// each of their messages is updated alike, whoever answered.
struct CloseUpdates {
    /// The waves closed, sorted.
    waves: Vec<String>,
    jobs: Vec<(Job, Timestamp)>,
}

/// Reads the messages of the waves just closed, for their updates (queued, and the messages
/// forgotten, with the batch's other writes).
async fn close_updates(
    tx: &mut AnyConnection,
    wave_ids: &HashSet<String>,
    now: Timestamp,
) -> anyhow::Result<CloseUpdates> {
    let mut waves: Vec<String> = wave_ids.iter().cloned().collect();
    waves.sort_unstable();
    if waves.is_empty() {
        return Ok(CloseUpdates {
            waves,
            jobs: Vec::new(),
        });
    }
    let ids: Vec<&str> = waves.iter().map(String::as_str).collect();
    let messages: Vec<(String, String, String)> = fetch_in(
        tx,
        "SELECT wave_id, channel, ts FROM wave_messages WHERE wave_id IN ({in})
         ORDER BY wave_id, channel, ts",
        &ids,
    )
    .await?;
    let jobs = messages
        .into_iter()
        .map(|(wave_id, channel, ts)| {
            let job = Job::CloseMessage {
                wave_id,
                channel,
                ts,
            };
            (job, now)
        })
        .collect();
    Ok(CloseUpdates { waves, jobs })
}

/// Forgets the messages of the waves just closed: their updates are queued.
fn forget_messages<'a>(script: &mut Script<'a>, wave_ids: &'a [String]) {
    if wave_ids.is_empty() {
        return;
    }
    let ids: Vec<&str> = wave_ids.iter().map(String::as_str).collect();
    let (sql, values) = with_list(
        script.backend(),
        "DELETE FROM wave_messages WHERE wave_id IN ({in})",
        &ids,
    );
    script.push(sql, values);
}
