//! The schema itself keeps answers unlinkable (DESIGN §3).

use crate::helpers::*;

on_both_backends! {
    async fn ballots_and_comments_hold_no_person_time_or_sequence(store: Store) {
        for table in ["ballots", "comments"] {
            let columns = store.columns_of(table).await.unwrap();
            assert!(!columns.is_empty(), "{table} exists");
            for column in &columns {
                let name = column.name.to_ascii_lowercase();
                for forbidden in ["person", "user", "seller", "manager", "slack", "channel", "token", "time", "_at", "date", "seq", "ts"] {
                    assert!(!name.contains(forbidden), "{table}.{name} looks like a person, a time or a sequence");
                }
                if column.primary_key {
                    assert!(column.declared_type.contains("TEXT"), "{table}.{name} is a {}: ids must be random text", column.declared_type);
                }
            }
            assert!(!store.has_hidden_rowid(table).await.unwrap(), "{table} keeps an insertion-ordered rowid");
        }
        let participation: Vec<String> =
            store.columns_of("participation").await.unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(participation, ["wave_id", "window_id", "token"], "participation holds tokens only");
    }
}

/// The migrations built into the binary are exactly the files in `migrations/`, with the
/// versions, descriptions and checksums sqlx's own resolver gives them (so a database migrated
/// by an older build, which used `sqlx::migrate!`, is still accepted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_migrations_are_exactly_the_files() {
    use trustpulse::store::migrations;
    for (dir, set) in [
        ("sqlite", migrations::SQLITE),
        ("postgres", migrations::POSTGRES),
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        let from_files = sqlx::migrate::Migrator::new(path).await.unwrap();
        let embedded = migrations::migrator(set);
        let describe = |m: &sqlx::migrate::Migrator| -> Vec<(i64, String, Vec<u8>, bool)> {
            m.iter()
                .map(|m| {
                    (
                        m.version,
                        m.description.to_string(),
                        m.checksum.to_vec(),
                        m.no_tx,
                    )
                })
                .collect()
        };
        assert!(!describe(&embedded).is_empty());
        assert_eq!(describe(&embedded), describe(&from_files), "{dir}");
    }
}

/// A SQLite database as a build that stopped at migration `version` left it, with a
/// connection to write rows as that build wrote them. Keep the directory while it is used.
async fn sqlite_migrated_to(version: i64) -> (tempfile::TempDir, String, sqlx::SqliteConnection) {
    use sqlx::Connection;
    use trustpulse::store::migrations;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("old.db").display());
    let upto = migrations::SQLITE
        .iter()
        .position(|(v, _, _)| *v == version)
        .expect("a migration of that version");
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    migrations::migrator(&migrations::SQLITE[..=upto])
        .run(&mut conn)
        .await
        .unwrap();
    (dir, url, conn)
}

/// Rekeying ballots and comments by their wave (migration 10 rebuilds both tables on SQLite)
/// keeps every answer of a window still open when trustpulse is upgraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_keeps_the_answers_of_open_windows() {
    use sqlx::Connection;
    let (_dir, url, mut conn) = sqlite_migrated_to(20261130000009).await;
    // The rows as an older build wrote them.
    for sql in [
        "INSERT INTO windows (window_id, manager_id, min_respondents, state, opened_at) VALUES ('X1', 'U0MANAGER', 3, 'open', 0)",
        "INSERT INTO waves (wave_id, manager_id, window_id, period, state, opens_at, closes_at) VALUES ('W1', 'U0MANAGER', 'X1', '2026-11-30', 'open', 0, 9999999999)",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    for (id, care) in [("b1", 4), ("b2", 2)] {
        sqlx::query("INSERT INTO ballots (ballot_id, wave_id, care, help, trust, follow_through) VALUES ($1, 'W1', $2, 3, 5, NULL)")
            .bind(id)
            .bind(care)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO comments (comment_id, wave_id, body) VALUES ('c1', 'W1', 'More ride-alongs')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = trustpulse::store::Store::connect(&url).await.unwrap();
    assert_the_old_answers_kept(&store).await;
    assert!(!store.has_hidden_rowid("ballots").await.unwrap());
    store.close().await;
}

/// The answers the upgrade tests write as an older build did: two ballots (care 4 and 2) and
/// one comment in pulse W1.
async fn assert_the_old_answers_kept(store: &trustpulse::store::Store) {
    let mut cares: Vec<i64> = store
        .ballots_of_wave("W1")
        .await
        .unwrap()
        .iter()
        .map(|b| b.values()[0])
        .collect();
    cares.sort_unstable();
    assert_eq!(cares, [2, 4]);
    assert_eq!(
        store.comments_of_wave("W1").await.unwrap(),
        ["More ride-alongs"]
    );
}

/// Rekeying the outbox by its de-duplication key (migration 11 rebuilds it on SQLite) keeps
/// every job queued when trustpulse is upgraded: a pending invitation is still sent, and
/// queueing it again still adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_keeps_the_queued_jobs() {
    use sqlx::Connection;
    use trustpulse::store::Job;
    let (_dir, url, mut conn) = sqlite_migrated_to(20261130000010).await;
    let invite = Job::Invite {
        wave_id: "W1".into(),
        person_id: "U0SELLER1".into(),
        remind_at: None,
    };
    // The rows as an older build wrote them: one invitation waiting, one sent.
    for (job_id, person, state) in [("j1", "U0SELLER1", "pending"), ("j2", "U0SELLER2", "sent")] {
        let job = Job::Invite {
            wave_id: "W1".into(),
            person_id: person.into(),
            remind_at: None,
        };
        sqlx::query(
            "INSERT INTO outbox (job_id, team_id, kind, dedup_key, payload, state, due_at, created_at, wave_id)
             VALUES ($1, 'T0TEAM', 'invite', $2, $3, $4, 0, 0, 'W1')",
        )
        .bind(job_id)
        .bind(job.dedup_key())
        .bind(serde_json::to_string(&job).unwrap())
        .bind(state)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();

    let store = trustpulse::store::Store::connect(&url).await.unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent), (1, 1));
    assert!(
        !store.enqueue(&invite, now(), now()).await.unwrap(),
        "still queued once"
    );
    let mut round = store.outbox_round().await.unwrap();
    let claimed = round
        .claim_due(now(), jiff::SignedDuration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].job_id.as_str(), &claimed[0].job),
        ("j1", &invite)
    );
    round.mark_sent(&claimed[0], now()).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().sent, 2);
    drop(round);
    store.close().await;
}

/// Upgrading forgets the Home publishes an older build kept once done (each named its person
/// and said when they opened Home), and keeps one still waiting to go out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_forgets_finished_home_publishes() {
    use sqlx::Connection;
    use trustpulse::store::Job;
    let (_dir, url, mut conn) = sqlite_migrated_to(20261201000012).await;
    let home = |person: &str| Job::PublishHome {
        person_id: person.into(),
    };
    let rows = [
        ("j1", home("U0SELLER1"), "sent"),
        ("j2", home("U0SELLER2"), "failed"),
        ("j3", home("U0SELLER3"), "pending"),
        (
            "j4",
            Job::Invite {
                wave_id: "W1".into(),
                person_id: "U0SELLER1".into(),
                remind_at: None,
            },
            "sent",
        ),
    ];
    for (job_id, job, state) in &rows {
        sqlx::query(
            "INSERT INTO outbox (dedup_key, job_id, team_id, kind, payload, state, due_at, created_at, wave_id)
             VALUES ($1, $2, 'T0TEAM', $3, $4, $5, 0, 0, $6)",
        )
        .bind(job.dedup_key())
        .bind(job_id)
        .bind(job.kind())
        .bind(serde_json::to_string(job).unwrap())
        .bind(state)
        .bind(job.wave_id())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();

    let store = trustpulse::store::Store::connect(&url).await.unwrap();
    let left: Vec<String> = store
        .dump_table("outbox")
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.split('|').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&"j3".to_owned()) && left.contains(&"j4".to_owned()));
    store.close().await;
}

/// A PostgreSQL database as the build before the answer tables' partitions (migration 16)
/// left it, with one open window X1 and its pulse W1, and a connection to it; None without a
/// server.
async fn postgres_before_partitions() -> Option<(EmptyPostgres, sqlx::PgConnection)> {
    use sqlx::Connection;
    use trustpulse::store::migrations;
    let empty = TestDb::postgres_empty().await?;
    let mut conn = sqlx::PgConnection::connect(&empty.url).await.unwrap();
    let upto = migrations::POSTGRES
        .iter()
        .position(|(v, _, _)| *v == 20261204000015)
        .expect("a migration of that version");
    migrations::migrator(&migrations::POSTGRES[..=upto])
        .run(&mut conn)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO windows (window_id, manager_id, min_respondents, state, opened_at) VALUES ('X1', 'U0MANAGER', 3, 'open', 0)",
        "INSERT INTO waves (wave_id, manager_id, window_id, period, state, opens_at, closes_at) VALUES ('W1', 'U0MANAGER', 'X1', '2026-11-30', 'open', 0, 9999999999)",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    Some((empty, conn))
}

/// Splitting the answer tables into partitions by pulse (migration 16 on PostgreSQL copies
/// their rows into new tables and drops the old) keeps every answer of a window still open when
/// trustpulse is upgraded, and the old tables' files go with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_upgrade_to_partitions_keeps_the_answers_of_open_windows() {
    use sqlx::Connection;
    let Some((empty, mut conn)) = postgres_before_partitions().await else {
        return;
    };
    // The rows as the build before wrote them, in the tables as they were.
    for sql in [
        "INSERT INTO participation (wave_id, window_id, token) VALUES ('W1', 'X1', '\\x0102'), ('W1', 'X1', '\\x0304')",
        "INSERT INTO ballots (ballot_id, wave_id, care, help, trust, follow_through) VALUES ('b1', 'W1', 4, 3, 5, NULL), ('b2', 'W1', 2, 3, 5, 1)",
        "INSERT INTO comments (comment_id, wave_id, body) VALUES ('c1', 'W1', 'More ride-alongs')",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    let old_files: Vec<String> = sqlx::query_scalar(
        "SELECT pg_relation_filepath(oid) FROM pg_class
         WHERE relname IN ('participation', 'ballots', 'comments')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(old_files.len(), 3, "the flat tables have files");

    let db = empty.open().await;
    assert_the_old_answers_kept(&db.store).await;
    assert_eq!(db.store.window_respondents("X1").await.unwrap(), 2);

    // Each table is now 16 partitions, and a pulse's rows sit in partitions of one number.
    for table in ["participation", "ballots", "comments"] {
        let parts: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM pg_partition_tree('{table}') WHERE isleaf"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(parts, 16, "{table}");
    }
    let homes: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT regexp_replace(tableoid::regclass::text, '^[a-z]+_', '') FROM (
             SELECT tableoid FROM participation UNION ALL SELECT tableoid FROM ballots
             UNION ALL SELECT tableoid FROM comments) rows",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(homes.len(), 1, "one pulse, one partition number: {homes:?}");
    // The flat tables' bytes are gone from the server's files: PostgreSQL empties a dropped
    // table's file at once and unlinks it at the next checkpoint. (Reading a server file takes
    // superuser or pg_read_server_files; without, this half is skipped.)
    let sizes: Result<Vec<Option<i64>>, _> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT (pg_stat_file(f, true)).size FROM unnest(ARRAY['{}']) f",
        old_files.join("', '")
    )))
    .fetch_all(&mut conn)
    .await;
    match sizes {
        Ok(sizes) => assert!(
            sizes.iter().all(|size| size.unwrap_or(0) == 0),
            "the old tables' files still hold bytes: {sizes:?}"
        ),
        Err(e) => eprintln!(
            "NOTE: postgres_an_upgrade_to_partitions_keeps_the_answers_of_open_windows SKIPPED \
             its file check: {e}"
        ),
    }
    conn.close().await.unwrap();
    db.finish().await;
}

/// Replicas of the build before may go on answering while a new one runs migration 16
/// (README, *Running several replicas*). An answer whose transaction is still open when the
/// migration starts is waited for and copied, not lost with the old tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_answer_committed_during_the_upgrade_to_partitions_is_kept() {
    use sqlx::Connection;
    let Some((empty, _conn)) = postgres_before_partitions().await else {
        return;
    };
    let url = empty.url.clone();
    let mut old_replica = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN")
        .execute(&mut old_replica)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO participation (wave_id, window_id, token) VALUES ('W1', 'X1', '\\x0506')",
        "INSERT INTO ballots (ballot_id, wave_id, care, help, trust, follow_through) VALUES ('b9', 'W1', 5, 4, 3, NULL)",
    ] {
        sqlx::query(sql).execute(&mut old_replica).await.unwrap();
    }
    let upgrade = tokio::spawn(empty.open());
    sqlx::any::install_default_drivers();
    let mut watcher = sqlx::AnyConnection::connect(&url).await.unwrap();
    waiting_for_locks(&mut watcher, 1).await;
    sqlx::query("COMMIT")
        .execute(&mut old_replica)
        .await
        .unwrap();

    let db = upgrade.await.unwrap();
    assert_eq!(db.store.window_respondents("X1").await.unwrap(), 1);
    let ballots = db.store.ballots_of_wave("W1").await.unwrap();
    assert_eq!(ballots.len(), 1, "the answer committed during the upgrade");
    assert_eq!(ballots[0].values()[0], 5);
    watcher.close().await.unwrap();
    old_replica.close().await.unwrap();
    db.finish().await;
}

/// PostgreSQL's write of a batch passes over a token already recorded with `ON CONFLICT DO
/// NOTHING` naming no key (`submission_batch::record_sql`: naming it cost the server a catalog
/// search for each partition written to). That is right only while the tokens' one unique key
/// is `(wave_id, token)`: another unique key would have a violation of it passed over too, and
/// the seller told "already answered" while nothing was kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_tokens_have_one_unique_key_the_write_relies_on() {
    use sqlx::Connection;
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let unique: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index
         WHERE indrelid = 'participation'::regclass AND indisunique",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(unique.len(), 1, "the tokens' unique keys: {unique:?}");
    assert!(unique[0].ends_with("(wave_id, token)"), "{}", unique[0]);
    conn.close().await.unwrap();
    db.finish().await;
}
