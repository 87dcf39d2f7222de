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
