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
