//! Cadences: an org default and per-team overrides.

use crate::helpers::*;
use jiff::civil::date;
use trustpulse::store::CadenceScope;
use trustpulse::survey::cadence::{Cadence, CadenceFlags, Zone};

on_both_backends! {
    async fn a_team_follows_its_override_else_the_org_default(store: Store) {
        let today = date(2026, 11, 23);
        assert_eq!(store.effective_cadence("U0BOSS1", today).await.unwrap(), Cadence::builtin_default(today));

        let org = CadenceFlags { weekday: Some("wed".into()), tz: Some("America/New_York".into()), ..Default::default() }
            .apply(&Cadence::builtin_default(today), today)
            .unwrap();
        store.set_cadence(&CadenceScope::Org, &org, now()).await.unwrap();
        let own = CadenceFlags { every: Some("2w".into()), tz: Some("seller".into()), ..Default::default() }
            .apply(&org, today)
            .unwrap();
        store.set_cadence(&CadenceScope::Manager("U0BOSS2".into()), &own, now()).await.unwrap();

        assert_eq!(store.effective_cadence("U0BOSS1", today).await.unwrap(), org);
        let read = store.effective_cadence("U0BOSS2", today).await.unwrap();
        assert_eq!(read, own);
        assert_eq!(read.zone, Zone::Seller);
        assert_eq!(store.cadences().await.unwrap().first().map(|c| c.0.clone()), Some(CadenceScope::Org));
    }
}

on_both_backends! {
    // The planner's read for a batch of teams says what the per-team read says: the team's own
    // cadence, else the org default, and nothing for a team before HR has set either.
    async fn a_batch_of_teams_reads_the_cadences_one_by_one_would(store: Store) {
        let today = date(2026, 11, 23);
        let teams = ["U0BOSS1", "U0BOSS2"];
        assert!(store.scheduled_cadences(&teams).await.unwrap().is_empty(), "no cadence set: nothing is planned");

        let own = CadenceFlags { every: Some("2w".into()), ..Default::default() }
            .apply(&Cadence::builtin_default(today), today)
            .unwrap();
        store.set_cadence(&CadenceScope::Manager("U0BOSS2".into()), &own, ts("2026-11-20T08:00:00Z")).await.unwrap();
        let read = store.scheduled_cadences(&teams).await.unwrap();
        assert_eq!(read.keys().collect::<Vec<_>>(), ["U0BOSS2"], "only the team with its own cadence");

        let org = CadenceFlags { weekday: Some("wed".into()), ..Default::default() }
            .apply(&Cadence::builtin_default(today), today)
            .unwrap();
        store.set_cadence(&CadenceScope::Org, &org, ts("2026-11-21T08:00:00Z")).await.unwrap();
        let read = store.scheduled_cadences(&teams).await.unwrap();
        for team in teams {
            assert_eq!(read.get(team), store.scheduled_cadence(team).await.unwrap().as_ref(), "{team}");
        }
        assert_eq!(read["U0BOSS1"], (org, ts("2026-11-21T08:00:00Z")));
        assert_eq!(read["U0BOSS2"], (own, ts("2026-11-20T08:00:00Z")));
    }
}
