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
