//! Roster imports replace the roster and record dated joins and leaves.

use crate::helpers::*;
use trustpulse::store::Person;

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

    // An org larger than one statement's rows (an import writes a statement per chunk, not per
    // row): every seller, team and person lands, and a reimport that moves half the org ends
    // and starts exactly those stays.
    async fn a_large_reimport_moves_exactly_the_sellers_who_moved(store: Store) {
        let teams: Vec<Vec<(String, String)>> =
            (1..=12).map(|t| team(&format!("U0BOSS{t:02}"), 110)).collect();
        let pairs: Vec<(&str, &str)> =
            teams.iter().flatten().map(|(s, m)| (s.as_str(), m.as_str())).collect();
        let first = store.replace_roster(&roster(&pairs), now()).await.unwrap();
        assert_eq!(first.joined.len(), 1320);
        // Every even-numbered seller moves to the next team (the last team's to the first).
        let moved: Vec<(String, String)> = pairs
            .iter()
            .enumerate()
            .map(|(i, (seller, manager))| {
                if i % 2 == 0 {
                    let t: usize = manager["U0BOSS".len()..].parse().unwrap();
                    ((*seller).to_owned(), format!("U0BOSS{:02}", t % 12 + 1))
                } else {
                    ((*seller).to_owned(), (*manager).to_owned())
                }
            })
            .collect();
        let moved_pairs: Vec<(&str, &str)> =
            moved.iter().map(|(s, m)| (s.as_str(), m.as_str())).collect();
        let later = ts("2026-12-01T09:00:00Z");
        let second = store.replace_roster(&roster(&moved_pairs), later).await.unwrap();
        assert_eq!((second.joined.len(), second.left.len(), second.unchanged), (660, 660, 660));

        let history = store.memberships(now()).await.unwrap();
        assert_eq!(history.len(), 1320 + 660, "each move ends one stay and starts another");
        let current: std::collections::BTreeSet<(String, String)> = history
            .iter()
            .filter(|m| m.left_at.is_none())
            .map(|m| (m.seller_id.clone(), m.manager_id.clone()))
            .collect();
        assert_eq!(current, moved.iter().cloned().collect());
        assert!(history.iter().filter(|m| m.left_at.is_some()).all(|m| m.left_at == Some(later)));
        for id in ["U0BOSS07", "U0BOSS12S110", "U0BOSS01S1"] {
            assert!(store.person(id).await.unwrap().is_some(), "{id} is a known person");
        }
        assert!(store.is_current_manager("U0BOSS12").await.unwrap());
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

on_both_backends! {
    // A directory page is recorded in a few statements for all of it (it holds SQLite's write
    // gate, and answers wait for that): everyone's facts land, only the teams of people whose
    // time zone or flags changed are planned again, and someone named twice counts once, with
    // the later word.
    async fn a_directory_page_replans_only_the_teams_it_changes(store: Store) {
        import_teams(&store, &[team("U0BOSS1", 3), team("U0BOSS2", 3), team("U0BOSS3", 3)]).await;
        let later = ts("2026-12-07T09:00:00Z");
        let due = store.teams_due_for_planning(now()).await.unwrap();
        assert_eq!(due.len(), 3, "a new roster makes every team due");
        let planned: Vec<_> = due.into_iter().map(|d| (d, Some(later))).collect();
        store.plan_next(&planned).await.unwrap();
        assert!(store.teams_due_for_planning(now()).await.unwrap().is_empty());

        // The page: everyone as stored, except that U0BOSS2S3 is named a second time, moved
        // to Tokyo, and U0BOSS3 (a manager) is now deactivated.
        let mut page = Vec::new();
        for id in ["U0BOSS1", "U0BOSS1S1", "U0BOSS1S2", "U0BOSS1S3", "U0BOSS2", "U0BOSS2S1",
                   "U0BOSS2S2", "U0BOSS2S3", "U0BOSS3S1", "U0BOSS3S2", "U0BOSS3S3"] {
            let mut person = store.person(id).await.unwrap().unwrap();
            person.display_name = Some(format!("{id} from Slack"));
            page.push(person);
        }
        page.push(Person {
            tz: Some("Asia/Tokyo".into()),
            ..store.person("U0BOSS2S3").await.unwrap().unwrap()
        });
        page.push(Person {
            is_deactivated: true,
            ..store.person("U0BOSS3").await.unwrap().unwrap()
        });
        store.upsert_people(&page, now()).await.unwrap();

        assert_eq!(teams_due(&store, now()).await, ["U0BOSS2", "U0BOSS3"], "only the teams whose people changed");
        let moved = store.person("U0BOSS2S3").await.unwrap().unwrap();
        assert_eq!(moved.tz.as_deref(), Some("Asia/Tokyo"), "the later word counts");
        assert_eq!(moved.display_name, None, "the later word is the whole word");
        let named = store.person("U0BOSS1S2").await.unwrap().unwrap();
        assert_eq!(named.display_name.as_deref(), Some("U0BOSS1S2 from Slack"));
        assert!(store.person("U0BOSS3").await.unwrap().unwrap().is_deactivated);
    }
}

on_both_backends! {
    // A tick that looks at more teams than one statement of plans holds (PostgreSQL writes 500
    // a statement): every team gets its own next time, and a team changed since it was read
    // (here, in the second statement's rows) keeps its "due now".
    async fn a_large_tick_records_every_teams_next_time(store: Store) {
        let teams: Vec<_> = (0..1_100).map(|i| team(&format!("U0BOSS{i:04}"), 1)).collect();
        import_teams(&store, &teams).await;
        let mut due = store.teams_due_for_planning(now()).await.unwrap();
        assert_eq!(due.len(), 1_100, "a new roster makes every team due");
        due[700].version -= 1;
        let changed = due[700].manager_id.clone();
        let planned: Vec<_> = due
            .into_iter()
            .enumerate()
            .map(|(i, d)| (d, Some(now() + jiff::SignedDuration::from_hours(1 + i as i64 % 3))))
            .collect();
        store.plan_next(&planned).await.unwrap();
        assert_eq!(teams_due(&store, now()).await, [changed], "only the team that changed");
        let hour = |h: i64| now() + jiff::SignedDuration::from_hours(h);
        let due_by = |h: i64| {
            let store = store.clone();
            async move { teams_due(&store, hour(h)).await.len() }
        };
        assert_eq!(due_by(1).await, 1 + 367, "the first third, and the changed team");
        assert_eq!(due_by(2).await, 1 + 367 + 366);
        assert_eq!(due_by(3).await, 1_100);
    }
}
