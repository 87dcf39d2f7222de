//! Roster imports replace the roster and record dated joins and leaves.

use crate::helpers::*;

on_both_backends! {
    async fn a_reimport_records_who_joined_and_who_left(store: Store) {
        let first = store
            .replace_roster(&roster(&[("U0A", "U0BOSS1"), ("U0B", "U0BOSS1"), ("U0C", "U0BOSS2")]), now())
            .await
            .unwrap();
        assert_eq!(first.joined.len(), 3);
        assert!(first.left.is_empty());

        let later = ts("2026-12-01T09:00:00Z");
        // U0A stays, U0B leaves, U0C moves to U0BOSS1, U0D joins U0BOSS2.
        let second = store
            .replace_roster(&roster(&[("U0A", "U0BOSS1"), ("U0C", "U0BOSS1"), ("U0D", "U0BOSS2")]), later)
            .await
            .unwrap();
        let pair = |s: &str, m: &str| (s.to_owned(), m.to_owned());
        assert_eq!(second.unchanged, 1);
        assert_eq!(second.joined, vec![pair("U0C", "U0BOSS1"), pair("U0D", "U0BOSS2")]);
        let mut left = second.left.clone();
        left.sort();
        assert_eq!(left, vec![pair("U0B", "U0BOSS1"), pair("U0C", "U0BOSS2")]);

        let history = store.memberships(now()).await.unwrap();
        let find = |s: &str, m: &str| {
            history.iter().find(|x| x.seller_id == s && x.manager_id == m).unwrap().clone()
        };
        assert_eq!(find("U0A", "U0BOSS1").joined_at, now());
        assert_eq!(find("U0A", "U0BOSS1").left_at, None);
        assert_eq!(find("U0B", "U0BOSS1").left_at, Some(later));
        assert_eq!(find("U0C", "U0BOSS2").left_at, Some(later));
        assert_eq!(find("U0C", "U0BOSS1").joined_at, later);
        assert_eq!(store.last_roster_import().await.unwrap(), Some(later));
    }

    async fn the_same_roster_twice_changes_nothing(store: Store) {
        let r = roster(&[("U0A", "U0BOSS1")]);
        store.replace_roster(&r, now()).await.unwrap();
        let again = store.replace_roster(&r, ts("2026-12-01T00:00:00Z")).await.unwrap();
        assert!(again.joined.is_empty() && again.left.is_empty());
        assert_eq!(store.last_roster_import().await.unwrap(), Some(now()));
        assert!(store.is_current_manager("U0BOSS1").await.unwrap());
        assert!(!store.is_current_manager("U0A").await.unwrap());
    }
}
