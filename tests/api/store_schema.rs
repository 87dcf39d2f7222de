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

/// Rekeying ballots and comments by their wave (migration 10 rebuilds both tables on SQLite)
/// keeps every answer of a window still open when trustpulse is upgraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_keeps_the_answers_of_open_windows() {
    use sqlx::Connection;
    use trustpulse::store::migrations;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("old.db").display());
    let before_rekeying = &migrations::SQLITE[..9];
    assert_eq!(before_rekeying.last().unwrap().0, 20261130000009);
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    migrations::migrator(before_rekeying)
        .run(&mut conn)
        .await
        .unwrap();
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
    assert!(!store.has_hidden_rowid("ballots").await.unwrap());
    store.close().await;
}
