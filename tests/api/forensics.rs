//! Anonymity that survives the disk: after a release, nothing of the window's key, tokens,
//! ballots or comments can be read back from the database files (SQLite file, WAL and shared
//! memory; PostgreSQL relation files), and `trustpulse audit` says so, or says what is wrong.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection;
use trustpulse::ops::waves;
use trustpulse::privacy::window::ReleasePolicy;
use trustpulse::store::Store;

use crate::app::{TestApp, run_test};
use crate::helpers::{k, now};

/// A comment only this test writes. The comment minimum below withholds it from the release,
/// so no copy of it may legitimately remain anywhere.
const MARKER: &str = "forensic-marker-4b1d9e7c-only-here";

/// Comments need ten respondents: the five answers below are released, their comment is not.
fn withholding_comments() -> ReleasePolicy {
    ReleasePolicy {
        min_comment_respondents: Some(k(10)),
        max_window_waves: 4,
    }
}

/// A team of six, a pulse, five answers (one with the marker), and the hex of the window's key
/// and of every participation token, read before the release.
async fn answered_pulse(app: &TestApp) -> (String, Vec<Vec<u8>>) {
    let opened = app.open_pulse("U0BOSS1", 6).await;
    for (i, seller) in [
        "U0BOSS1S1",
        "U0BOSS1S2",
        "U0BOSS1S3",
        "U0BOSS1S4",
        "U0BOSS1S5",
    ]
    .iter()
    .enumerate()
    {
        let comment = (i == 2).then_some(MARKER);
        let reply = app.answer(seller, "4", "2", "5", comment).await;
        assert_eq!(reply.body["view"]["title"]["text"], "Thank you");
    }
    let store = &app.state.store;
    let mut secrets = Vec::new();
    for row in store.dump_table("window_keys").await.unwrap() {
        let key_hex = row.split('|').nth(1).unwrap();
        secrets.push(hex::decode(key_hex).unwrap());
    }
    assert_eq!(secrets.len(), 1, "one window key");
    secrets.extend(crate::helpers::tokens_on_disk(store).await);
    assert_eq!(secrets.len(), 6, "the key and five tokens");
    secrets.push(MARKER.as_bytes().to_vec());
    (opened.wave.window_id, secrets)
}

async fn release(app: &TestApp) {
    waves::close_wave(&app.state.store, "U0BOSS1", &withholding_comments(), now())
        .await
        .unwrap()
        .expect("an open pulse");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Which of `secrets` can be found in the SQLite file, its WAL or its shared memory.
fn found_in_sqlite_files(db: &Path, secrets: &[Vec<u8>]) -> Vec<String> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        let Ok(bytes) = std::fs::read(PathBuf::from(&path)) else {
            continue;
        };
        for (i, secret) in secrets.iter().enumerate() {
            if contains(&bytes, secret) {
                found.push(format!("secret #{i} in {}", path.to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn sqlite_files_hold_no_byte_of_a_released_window() {
    run_test(async |app| {
        let (window, secrets) = answered_pulse(app).await;
        let db = app.state.store.sqlite_path().unwrap().to_owned();
        // The search finds what is there: before the release the comment is on disk.
        let before = found_in_sqlite_files(&db, &secrets);
        assert!(
            before.iter().any(|f| f.starts_with("secret #6")),
            "the byte search works: {before:?}"
        );

        release(app).await;
        let body = app
            .state
            .store
            .release_bytes(&window)
            .await
            .unwrap()
            .unwrap();
        assert!(body.contains("\"comments_withheld\":true"), "{body}");
        assert!(!body.contains(MARKER));
        // While serve still runs...
        let found = found_in_sqlite_files(&db, &secrets);
        assert!(found.is_empty(), "after release, while serving: {found:?}");
        let report = app.state.store.audit().await.unwrap();
        assert!(report.holds(), "{report:#?}");
        // ... and after it stops.
        app.state.store.close().await;
        let found = found_in_sqlite_files(&db, &secrets);
        assert!(found.is_empty(), "after release and shutdown: {found:?}");
    });
}

/// An `ANALYZE` someone runs on the SQLite file copies samples of each index's keys into
/// `sqlite_stat4`: tokens, and whole comments (a table without rowid is its key's index). The
/// audit names them, and the scrub after the release deletes them with the rows, so the files
/// hold none of the window's bytes.
#[test]
fn sqlite_an_operators_analyze_leaves_no_sample_of_a_released_window() {
    run_test(async |app| {
        let (_, secrets) = answered_pulse(app).await;
        // The answers' writer keeps a pulse's tokens and comments where they arrive (no index
        // there) until it moves them to their keyed tables, once quiet or as it stops: stopped
        // here, and started again for the release, as an operator's restart would.
        app.state.store.close().await;
        let store = Store::connect(&app.db_url()).await.unwrap();
        let mut operator = sqlx::SqliteConnection::connect(&app.db_url())
            .await
            .unwrap();
        sqlx::query("ANALYZE").execute(&mut operator).await.unwrap();
        let samples: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_stat4 WHERE tbl IN ('participation', 'comments')",
        )
        .fetch_one(&mut operator)
        .await
        .unwrap();
        assert!(samples > 0, "ANALYZE sampled the answer tables");
        operator.close().await.unwrap();
        audit_failing_with(
            &app.db_url(),
            "FAIL SQLite keeps no sample of the answer tables' keys (sqlite_stat4)",
        );

        waves::close_wave(&store, "U0BOSS1", &withholding_comments(), now())
            .await
            .unwrap()
            .expect("an open pulse");
        let db = store.sqlite_path().unwrap().to_owned();
        let found = found_in_sqlite_files(&db, &secrets);
        assert!(found.is_empty(), "after release: {found:?}");
        let report = store.audit().await.unwrap();
        assert!(report.holds(), "{report:#?}");
        store.close().await;
    });
}

/// The bytes of every file of the answer tables (heap, TOAST, indexes), read through the
/// server, or None when this role may not read server files.
async fn answer_table_files(url: &str) -> Option<Vec<u8>> {
    table_files(url, "'participation', 'ballots', 'comments', 'window_keys'").await
}

/// The bytes of every file of `tables` (a list of quoted names: heap, TOAST, indexes, and
/// those of each partition of a partitioned table), read through the server after a
/// checkpoint, or None when this role may not read server files.
async fn table_files(url: &str, tables: &str) -> Option<Vec<u8>> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("CHECKPOINT").execute(&mut conn).await.ok()?;
    let files: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH named AS (SELECT oid FROM pg_class WHERE relname IN ({tables})),
              tabs AS (SELECT oid FROM named
                       UNION SELECT p.relid FROM named n, pg_partition_tree(n.oid) p)
         SELECT pg_read_binary_file(pg_relation_filepath(c.oid))
         FROM pg_class c
         WHERE c.oid IN (
             SELECT oid FROM tabs
             UNION SELECT t.reltoastrelid FROM pg_class t JOIN tabs USING (oid) WHERE t.reltoastrelid <> 0
             UNION SELECT i.indexrelid FROM pg_index i JOIN tabs ON tabs.oid = i.indrelid)
           AND pg_relation_filepath(c.oid) IS NOT NULL"
    )))
    .fetch_all(&mut conn)
    .await
    .ok()?;
    Some(files.concat())
}

/// A finished Home publish's row is deleted at once (it names its person and says when they
/// opened Home); on PostgreSQL its dead version stays on the outbox's pages until `serve`'s
/// daily turn rewrites the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_finished_home_publish_leaves_the_outbox_files_by_the_daily_turn() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let store = &app.state.store;
    let job = trustpulse::store::Job::PublishHome {
        person_id: "U0BOSS1S1".into(),
    };
    assert!(store.enqueue(&job, now(), now()).await.unwrap());
    let rows = store.dump_table("outbox").await.unwrap();
    let key = rows
        .iter()
        .flat_map(|row| row.split('|'))
        .find(|field| field.starts_with("home:U0BOSS1S1:"))
        .expect("the queued publish's key")
        .to_owned();
    app.deliver().await;
    assert!(
        store.dump_table("outbox").await.unwrap().is_empty(),
        "the row went once its view was published"
    );
    let Some(before) = table_files(&app.db_url(), "'outbox'").await else {
        eprintln!(
            "NOTE: postgres_a_finished_home_publish_leaves_the_outbox_files_by_the_daily_turn \
             SKIPPED: this role may not run CHECKPOINT or pg_read_binary_file"
        );
        app.stop().await;
        return;
    };
    assert!(
        contains(&before, key.as_bytes()),
        "the deleted row is still on a page before the rewrite (the search works)"
    );

    store.scrub_outbox().await.unwrap();
    let after = table_files(&app.db_url(), "'outbox'").await.unwrap();
    assert!(
        !contains(&after, key.as_bytes()),
        "the deleted row is gone from the outbox's files"
    );
    app.stop().await;
}

/// The answer tables' files hold none of `secrets`, and the audit agrees that every release
/// was scrubbed.
async fn assert_pages_scrubbed(app: &TestApp, secrets: &[Vec<u8>]) {
    let after = answer_table_files(&app.db_url()).await.unwrap();
    for (i, secret) in secrets.iter().enumerate() {
        assert!(
            !contains(&after, secret),
            "secret #{i} is still on a page of the answer tables"
        );
    }
    let report = app.state.store.audit().await.unwrap();
    assert!(report.holds(), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pages_hold_no_row_of_a_released_window() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let (_, secrets) = answered_pulse(&app).await;
    let Some(before) = answer_table_files(&app.db_url()).await else {
        eprintln!(
            "NOTE: postgres_pages_hold_no_row_of_a_released_window SKIPPED its page check: \
             this role may not run CHECKPOINT or pg_read_binary_file (it needs superuser or \
             pg_checkpoint and pg_read_server_files)"
        );
        app.stop().await;
        return;
    };
    assert!(
        contains(&before, MARKER.as_bytes()),
        "the page search works"
    );
    assert!(contains(&before, &secrets[1]), "a token is on a page");

    release(&app).await;
    assert_pages_scrubbed(&app, &secrets).await;
    app.stop().await;
}

/// The catalog's own file of statistics, read through the server after a checkpoint, or None
/// when this role may not read server files.
async fn statistics_file(url: &str) -> Option<Vec<u8>> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("CHECKPOINT").execute(&mut conn).await.ok()?;
    sqlx::query_scalar("SELECT pg_read_binary_file(pg_relation_filepath('pg_statistic'))")
        .fetch_one(&mut conn)
        .await
        .ok()
}

/// `ANALYZE`, which autovacuum runs on its own (and the planner after a busy tick), copies
/// samples of column values into `pg_statistic`, a catalog a release does not touch: there the
/// window's key, its tokens and the withheld comment would outlive the release. The answer
/// tables' secret columns have no statistics, so none of them reaches that file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statistics_hold_no_key_token_or_comment() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let (_, secrets) = answered_pulse(&app).await;
    let mut conn = sqlx::PgConnection::connect(&app.db_url()).await.unwrap();
    // More than one of each kind: a column whose values are all distinct keeps them as
    // histogram bounds only when there are at least two.
    sqlx::query(
        "INSERT INTO comments (comment_id, wave_id, body)
         SELECT 'c2', wave_id, 'a second comment' FROM comments",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    // Not even the pulse a row belongs to: the share of each pulse's id among the rows is how
    // many answered it. Only the window keys' own ids (one row per open window) keep theirs.
    let sampled: Vec<String> = sqlx::query_scalar(
        "SELECT tablename || '.' || attname FROM pg_stats
         WHERE (tablename IN ('participation', 'ballots', 'comments', 'window_keys')
                OR tablename ~ '^(participation|ballots|comments)_[0-9]+$')
           AND (tablename, attname) NOT IN (('window_keys', 'window_id'), ('window_keys', 'secret_id'))
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(sampled, Vec::<String>::new(), "columns with statistics");
    let Some(file) = statistics_file(&app.db_url()).await else {
        eprintln!(
            "NOTE: postgres_statistics_hold_no_key_token_or_comment SKIPPED its file check: this \
             role may not run CHECKPOINT or pg_read_binary_file"
        );
        app.stop().await;
        return;
    };
    for (i, secret) in secrets.iter().enumerate() {
        assert!(
            !contains(&file, secret),
            "secret #{i} is in the statistics' file"
        );
    }
    app.stop().await;
}

/// A PostgreSQL app with an answered pulse, and its secrets (`answered_pulse`), when this
/// role may read the server's files; None otherwise, with a note that `test` was skipped.
async fn postgres_answered_pulse_with_readable_files(
    test: &str,
) -> Option<(TestApp, Vec<Vec<u8>>)> {
    let app = TestApp::spawn_postgres().await?;
    let (_, secrets) = answered_pulse(&app).await;
    if answer_table_files(&app.db_url()).await.is_none() {
        eprintln!("NOTE: {test} SKIPPED: this role may not run CHECKPOINT or pg_read_binary_file");
        app.stop().await;
        return None;
    }
    Some((app, secrets))
}

/// A transaction that can still see the rows a release deletes makes `VACUUM FULL` copy them
/// into the new table files. The scrub waits for it, stays due (and the audit says so) while it
/// is open, and completes at the next try once it has ended. Here it is a read in the app's own
/// database that began before the release; one that has written, in any database of the
/// server, counts too (see `Store::rewrite_tables`), but would hold up every other test's
/// scrub on this server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_scrub_waits_for_a_transaction_older_than_the_release() {
    let Some((app, secrets)) = postgres_answered_pulse_with_readable_files(
        "postgres_scrub_waits_for_a_transaction_older_than_the_release",
    )
    .await
    else {
        return;
    };
    let mut older = sqlx::PgConnection::connect(&app.db_url()).await.unwrap();
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut older)
        .await
        .unwrap();
    // Its snapshot, taken now; no table touched, so no lock stands in `VACUUM FULL`'s way.
    sqlx::query("SELECT 1").execute(&mut older).await.unwrap();

    release(&app).await;
    let report = app.state.store.audit().await.unwrap();
    assert!(
        !report.holds(),
        "while it is open, the audit says a scrub is still due: {report:#?}"
    );
    let while_open = answer_table_files(&app.db_url()).await.unwrap();
    assert!(
        secrets.iter().any(|s| contains(&while_open, s)),
        "the deleted rows are still in the files meanwhile (what the wait is for)"
    );

    sqlx::query("COMMIT").execute(&mut older).await.unwrap();
    // What the planner's next tick does.
    app.state.store.scrub().await.unwrap();
    assert_pages_scrubbed(&app, &secrets).await;
    app.stop().await;
}

/// A session holding a lock on an answer table (an operator's transaction left open in
/// `psql`) would hold up the scrub's `VACUUM FULL` for as long as it stayed open, and every
/// answer reaching that table would queue behind the scrub. The scrub gives up after a second
/// instead, stays due (the audit says so), and completes once the session has let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_scrub_gives_way_to_a_lock_left_open() {
    let Some((app, secrets)) =
        postgres_answered_pulse_with_readable_files("postgres_scrub_gives_way_to_a_lock_left_open")
            .await
    else {
        return;
    };
    let mut operator = sqlx::PgConnection::connect(&app.db_url()).await.unwrap();
    // The partition this pulse's ballots are in, locked as a read in an open transaction
    // locks it; with no snapshot kept, so it is not a transaction the scrub must wait out.
    let partition: String =
        sqlx::query_scalar("SELECT DISTINCT tableoid::regclass::text FROM ballots")
            .fetch_one(&mut operator)
            .await
            .unwrap();
    for sql in [
        "BEGIN".to_owned(),
        format!("LOCK TABLE {partition} IN ACCESS SHARE MODE"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut operator)
            .await
            .unwrap();
    }

    let released = tokio::time::timeout(std::time::Duration::from_secs(30), release(&app)).await;
    assert!(
        released.is_ok(),
        "the release's scrub waited for the lock for as long as it was held"
    );
    let report = app.state.store.audit().await.unwrap();
    assert!(
        !report.holds(),
        "while the lock is held, the audit says a scrub is still due: {report:#?}"
    );
    // What the planner's next tick meets while the session stays open, and logs.
    let error = app.state.store.scrub().await.unwrap_err().to_string();
    assert!(
        error.contains("another session holds a lock on the answer tables and window keys")
            && error.contains("idle in transaction"),
        "{error}"
    );

    sqlx::query("COMMIT").execute(&mut operator).await.unwrap();
    // What the planner's next tick does.
    app.state.store.scrub().await.unwrap();
    assert_pages_scrubbed(&app, &secrets).await;
    app.stop().await;
}

/// The audit also looks where PostgreSQL itself would copy answers: statistics of a secret
/// column, and a server that logs the values of trustpulse's statements (each setting as
/// `ALTER DATABASE` would give it to trustpulse's sessions). It needs a role that may change
/// those settings (a superuser), and says it was skipped otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_names_statistics_and_a_server_log_that_would_keep_answers() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let url = app.db_url();
    let stdout = audit_passing(&url);
    for promise in [
        "ok   PostgreSQL keeps no statistics of window keys, tokens, ballots or comments, nor of how many answered a pulse",
        "ok   PostgreSQL writes no answer, token or comment to its server log",
    ] {
        assert!(stdout.contains(promise), "{promise:?} in:\n{stdout}");
    }

    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let set = async |conn: &mut sqlx::PgConnection, setting: &str| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {database} SET {setting}"
        )))
        .execute(conn)
        .await
    };
    if set(&mut conn, "log_min_duration_statement = 0")
        .await
        .is_err()
    {
        eprintln!(
            "NOTE: postgres_audit_names_statistics_and_a_server_log_that_would_keep_answers \
             SKIPPED its server-log half: this role may not change logging settings"
        );
    } else {
        audit_failing_with(
            &url,
            "FAIL PostgreSQL writes no answer, token or comment to its server log: the server \
             logs the values of trustpulse's statements (log_min_duration_statement = 0 with \
             log_parameter_max_length = -1)",
        );
        // Logging every statement stays possible, without its values.
        set(&mut conn, "log_parameter_max_length = 0")
            .await
            .unwrap();
        audit_passing(&url);
        // Failed statements' values: trustpulse's own sessions turn them off, whatever the
        // database says (any role may).
        set(&mut conn, "log_parameter_max_length_on_error = 64")
            .await
            .unwrap();
        audit_passing(&url);
    }

    sqlx::query("ALTER TABLE comments ALTER COLUMN body SET STATISTICS 100")
        .execute(&mut conn)
        .await
        .unwrap();
    audit_failing_with(
        &url,
        "FAIL PostgreSQL keeps no statistics of window keys, tokens, ballots or comments, nor of \
         how many answered a pulse: ANALYZE copies samples of comments.body into pg_statistic",
    );
    // ANALYZE samples each partition by its own setting: one partition of the answer tables
    // is enough, and the audit names its table.
    for sql in [
        "ALTER TABLE comments ALTER COLUMN body SET STATISTICS 0",
        "ALTER TABLE ballots_5 ALTER COLUMN trust SET STATISTICS 100",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    audit_failing_with(
        &url,
        "FAIL PostgreSQL keeps no statistics of window keys, tokens, ballots or comments, nor of \
         how many answered a pulse: ANALYZE copies samples of ballots.trust into pg_statistic",
    );
    app.stop().await;
}

fn audit(db_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .arg("audit")
        .env_clear()
        .env("DATABASE_URL", db_url)
        .output()
        .unwrap()
}

/// Runs the audit, which must pass; what it printed.
fn audit_passing(db_url: &str) -> String {
    let out = audit(db_url);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs the audit, which must fail and print `line`; its output.
fn audit_failing_with(db_url: &str, line: &str) -> std::process::Output {
    let out = audit(db_url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains(line),
        "{line:?} in:\n{stdout}\nstderr:\n{stderr}"
    );
    out
}

#[test]
fn audit_passes_after_a_full_wave_and_names_a_left_behind_token() {
    run_test(async |app| {
        let (window, _) = answered_pulse(app).await;
        release(app).await;
        app.deliver().await;
        app.state.store.forget_released_jobs().await.unwrap();

        let stdout = audit_passing(&app.db_url());
        for promise in [
            "ok   no released window keeps its key",
            "ok   no released window keeps a participation token",
            "ok   no released window keeps a ballot",
            "ok   no released window keeps a comment",
            "ok   the outbox keeps no per-person row of a released window",
            "ok   the outbox keeps no finished Home publish",
            "ok   no stored release holds a number under k",
            "ok   every release was followed by a scrub of the disk",
            "ok   SQLite overwrites deleted content with zeros (secure_delete)",
            "ok   no free page or free block of the database file or its WAL holds old bytes",
        ] {
            assert!(stdout.contains(promise), "{promise:?} in:\n{stdout}");
        }

        // A token left behind in a released window (as an older trustpulse, or a hand, could).
        let mut conn = sqlx::SqliteConnection::connect(&app.db_url())
            .await
            .unwrap();
        let wave: String = sqlx::query_scalar("SELECT wave_id FROM waves WHERE window_id = $1")
            .bind(&window)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO participation (wave_id, window_id, token) VALUES ($1, $2, $3)")
            .bind(&wave)
            .bind(&window)
            .bind(vec![7u8; 32])
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let out = audit_failing_with(
            &app.db_url(),
            "FAIL no released window keeps a participation token: found 1 participation token(s) of released or unknown windows",
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("1 privacy promise(s) do not hold"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_before_secure_delete_is_rebuilt_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("legacy.db");
    let url = format!("sqlite:{}?mode=rwc", db.display());
    trustpulse::store::Store::connect(&url)
        .await
        .unwrap()
        .close()
        .await;
    // What an older trustpulse left: deleted rows whose bytes are still in the free space.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA secure_delete = OFF")
        .execute(&mut conn)
        .await
        .unwrap();
    for i in 0..50 {
        sqlx::query("INSERT INTO inbox (event_id, event_type, payload, received_at) VALUES ($1, 'x', $2, 0)")
            .bind(format!("Ev{i}"))
            .bind(format!("{MARKER}{}", "-".repeat(400)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM inbox")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let secrets = [MARKER.as_bytes().to_vec()];
    assert!(
        !found_in_sqlite_files(&db, &secrets).is_empty(),
        "the legacy bytes are there"
    );

    let store = trustpulse::store::Store::connect(&url).await.unwrap();
    let before = store.audit().await.unwrap();
    let free_space = before
        .checks
        .iter()
        .find(|c| c.promise.starts_with("no free page or free block"))
        .unwrap();
    assert!(
        !free_space.holds,
        "the audit sees the old bytes: {free_space:?}"
    );
    store.scrub().await.unwrap();
    assert!(
        found_in_sqlite_files(&db, &secrets).is_empty(),
        "the start-up scrub rebuilt the file"
    );
    let report = store.audit().await.unwrap();
    assert!(report.holds(), "{report:#?}");
    store.close().await;
}

/// The WAL is checkpointed before it outgrows its size limit (1 MiB), so a busy hour of answers
/// leaves at most about a mebibyte of frames in it between scrubs, not four.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_never_grow_the_wal_past_its_limit() {
    answer_within_the_wal_limit(false).await;
}

/// The same limit while the store is read meanwhile, as `serve`'s handlers and tasks read it: a
/// reader that began before the writer's catch-up at the limit had copied the last frames kept
/// the WAL from starting again, and the next batches went on past the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_never_grow_the_wal_past_its_limit_while_others_read() {
    answer_within_the_wal_limit(true).await;
}

/// Records a first answer for each of 1,200 invitees, six at a time, with a task reading the
/// store all along if `read`, and checks the size the WAL file reached: past half its limit,
/// and never more than a batch past it.
async fn answer_within_the_wal_limit(read: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let store = trustpulse::store::Store::connect(&format!("sqlite:{}?mode=rwc", db.display()))
        .await
        .unwrap();
    let opened = crate::helpers::open_team_wave(&store, "U0MANAGER", 1200).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let reader = read.then(|| {
        let (store, wave, stop) = (store.clone(), opened.wave.wave_id.clone(), stop.clone());
        tokio::spawn(async move {
            // At least one read, however soon the answers are done.
            loop {
                store.ballots_of_wave(&wave).await.unwrap();
                if stop.is_cancelled() {
                    break;
                }
            }
        })
    });
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let mut largest = 0;
    for chunk in opened.invitees.chunks(6) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|person| {
                let (store, wave, person) =
                    (store.clone(), opened.wave.wave_id.clone(), person.clone());
                tokio::spawn(async move {
                    store
                        .record_submission(&wave, &person, &crate::helpers::answers(4, 3, 5), now())
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    stop.cancel();
    if let Some(reader) = reader {
        reader.await.expect("the reads succeed meanwhile");
    }
    assert!(
        largest > 512 * 1024,
        "the answers wrote the WAL ({largest} bytes)"
    );
    assert!(
        largest <= 1024 * 1024 + 128 * 1024,
        "the WAL grew to {largest} bytes"
    );
    store.close().await;
}

/// A Home publish an older version kept once done (naming its person, and when they opened
/// Home) fails the audit, which names it, until `serve`'s daily turn forgets it.
#[test]
fn audit_names_a_kept_home_publish() {
    run_test(async |app| {
        let job = trustpulse::store::Job::PublishHome {
            person_id: "U0SELLER1".into(),
        };
        let mut conn = sqlx::SqliteConnection::connect(&app.db_url())
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO outbox (dedup_key, job_id, team_id, kind, payload, state, due_at, created_at, done_at)
             VALUES ($1, 'j1', 'T0TEAM', $2, $3, 'sent', 0, 0, 0)",
        )
        .bind(job.dedup_key())
        .bind(job.kind())
        .bind(serde_json::to_string(&job).unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        audit_failing_with(
            &app.db_url(),
            "FAIL the outbox keeps no finished Home publish: found 1 finished Home publish row(s)",
        );
        // `serve`'s daily turn forgets it (a replica of an earlier version could keep one).
        let store = &app.state.store;
        assert_eq!(store.forget_finished_home_publishes().await.unwrap(), 1);
        let outbox = store.dump_table("outbox").await.unwrap();
        assert!(
            !outbox.iter().any(|row| row.starts_with("home:")),
            "{outbox:?}"
        );
    });
}
