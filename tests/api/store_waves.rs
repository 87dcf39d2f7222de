//! Opening waves: the roster snapshot holds eligible people only; a slot opens once.

use crate::helpers::*;
use jiff::{SignedDuration, Timestamp};
use trustpulse::ops::waves;
use trustpulse::privacy::window::ReleasePolicy;
use trustpulse::store::{Job, OpenWaveError, Person, Store, WaveState, WaveTiming};

/// The invitations of `wave_id` due by `at` and not claimed before (each is claimed for a
/// month).
async fn invitations_due(store: &Store, wave_id: &str, at: Timestamp) -> usize {
    let mut round = store.outbox_round().await.unwrap();
    let month = SignedDuration::from_hours(24 * 30);
    let claimed = round.claim_due(at, month, 100).await.unwrap();
    claimed
        .iter()
        .filter(|c| matches!(&c.job, Job::Invite { wave_id: w, .. } if w == wave_id))
        .count()
}

/// Mondays at 10:00 in each seller's zone, for teams in Tokyo and Berlin: 30 November.
fn tokyo_ten() -> Timestamp {
    ts("2026-11-30T01:00:00Z")
}

fn berlin_ten() -> Timestamp {
    ts("2026-11-30T09:00:00Z")
}

fn at_ten_in(tz: Option<&str>) -> Timestamp {
    if tz == Some("Asia/Tokyo") {
        tokyo_ten()
    } else {
        berlin_ten()
    }
}

fn no_reminder(_: Timestamp) -> Option<Timestamp> {
    None
}

/// Each seller at 10:00 in their zone, the pulse closing three days after Berlin's.
fn tokyo_then_berlin() -> WaveTiming<'static> {
    WaveTiming {
        closes_at: berlin_ten() + SignedDuration::from_hours(72),
        invite_at: &at_ten_in,
        remind_at: &no_reminder,
    }
}

/// Teams of ten for `managers`: sellers 1 to 5 in Tokyo, 6 to 10 in Berlin.
async fn five_in_tokyo_five_in_berlin(store: &Store, managers: &[&str]) {
    let teams: Vec<_> = managers.iter().map(|m| team(m, 10)).collect();
    import_teams(store, &teams).await;
    for manager in managers {
        for i in 1..=10 {
            let tz = if i <= 5 {
                "Asia/Tokyo"
            } else {
                "Europe/Berlin"
            };
            let person = Person {
                tz: Some(tz.into()),
                ..Person::from_id(&format!("{manager}S{i}"))
            };
            store.upsert_person(&person, now()).await.unwrap();
        }
    }
}

on_both_backends! {
    async fn the_snapshot_invites_only_current_eligible_sellers(store: Store) {
        import_teams(&store, &[team("U0BOSS1", 8)]).await;
        store.upsert_person(&bot("U0BOSS1S7"), now()).await.unwrap();
        store.upsert_person(&deactivated("U0BOSS1S8"), now()).await.unwrap();
        store.set_opted_out("U0BOSS1S6", true, now()).await.unwrap();
        let opened = open_wave_at(&store, "U0BOSS1", "2026-11-23", ts("2026-11-26T10:00:00Z"))
            .await
            .unwrap();
        assert!(opened.created);
        assert_eq!(opened.invitees, ["U0BOSS1S1", "U0BOSS1S2", "U0BOSS1S3", "U0BOSS1S4", "U0BOSS1S5"]);
        assert!(!opened.invitees.contains(&"U0BOSS1".to_owned()), "the manager is never asked");
        assert_eq!(store.invitees(&opened.wave.wave_id).await.unwrap(), opened.invitees);
        assert_eq!(opened.wave.state, WaveState::Open);
    }

    async fn opening_the_same_slot_twice_gives_the_same_wave(store: Store) {
        let first = open_team_wave(&store, "U0BOSS1", 5).await;
        let again = open_wave_at(&store, "U0BOSS1", "2026-11-23", ts("2026-11-26T10:00:00Z"))
            .await
            .unwrap();
        assert!(!again.created);
        assert_eq!(again.wave, first.wave);
        assert_eq!(again.invitees, first.invitees);
    }

    async fn a_team_has_at_most_one_open_wave(store: Store) {
        let first = open_team_wave(&store, "U0BOSS1", 5).await;
        let err = open_wave_at(&store, "U0BOSS1", "2026-11-30", ts("2026-12-03T10:00:00Z"))
            .await
            .unwrap_err();
        assert!(matches!(err, OpenWaveError::AlreadyOpen { .. }), "{err:?}");
        store.close_wave(&first.wave.wave_id, now()).await.unwrap();
        let second = open_wave_at(&store, "U0BOSS1", "2026-11-30", ts("2026-12-03T10:00:00Z"))
            .await
            .unwrap();
        // Unreleased, the window carries over to the next wave (pooling under k).
        assert_eq!(second.wave.window_id, first.wave.window_id);
    }

    async fn a_team_with_nobody_to_ask_gets_a_clear_refusal(store: Store) {
        import_teams(&store, &[team("U0BOSS1", 1)]).await;
        store.upsert_person(&bot("U0BOSS1S1"), now()).await.unwrap();
        let err = open_wave_at(&store, "U0BOSS1", "2026-11-23", ts("2026-11-26T10:00:00Z"))
            .await
            .unwrap_err();
        assert!(matches!(err, OpenWaveError::NoEligibleSellers { .. }), "{err:?}");
        assert!(err.to_string().contains("no one to ask"));
    }

    async fn teams_opened_together_each_get_their_own_outcome(store: Store) {
        // One transaction for many teams: a refusal stays that team's own and costs no
        // other team its pulse; a slot already opened comes back as it was.
        let already = open_team_wave(&store, "U0BOSS1", 3).await;
        import_teams(
            &store,
            &[team("U0BOSS1", 3), team("U0BOSS2", 4), team("U0BOSS3", 1), team("U0BOSS4", 2)],
        )
        .await;
        store.upsert_person(&bot("U0BOSS3S1"), now()).await.unwrap();
        let requests = [
            open_request("U0BOSS1", "2026-11-23"),
            open_request("U0BOSS2", "2026-11-23"),
            open_request("U0BOSS3", "2026-11-23"),
            open_request("U0BOSS1", "2026-11-30"),
            open_request("U0BOSS4", "2026-11-23"),
        ];
        let outcomes = store.open_waves(&requests, k(5), now()).await.unwrap();
        assert_eq!(outcomes.len(), 5);
        let same = outcomes[0].as_ref().unwrap();
        assert!(!same.created);
        assert_eq!(same.wave, already.wave);
        let opened = outcomes[1].as_ref().unwrap();
        assert!(opened.created);
        assert_eq!(opened.invitees, ["U0BOSS2S1", "U0BOSS2S2", "U0BOSS2S3", "U0BOSS2S4"]);
        assert_eq!(store.invitees(&opened.wave.wave_id).await.unwrap(), opened.invitees);
        assert!(matches!(outcomes[2], Err(OpenWaveError::NoEligibleSellers { .. })), "{:?}", outcomes[2]);
        assert!(matches!(outcomes[3], Err(OpenWaveError::AlreadyOpen { .. })), "{:?}", outcomes[3]);
        let last = outcomes[4].as_ref().unwrap();
        assert!(last.created);
        assert_eq!(store.open_wave_of("U0BOSS4").await.unwrap().unwrap(), last.wave);
        assert_eq!(store.open_wave_of("U0BOSS3").await.unwrap(), None);
    }

    async fn a_team_asked_twice_in_one_batch_gets_one_pulse(store: Store) {
        // After downtime a team can have two slots due at once. The first opens; the second
        // finds the team's pulse open, as it would one team at a time; the same slot named
        // twice is that one pulse, not created again.
        import_teams(&store, &[team("U0BOSS1", 3), team("U0BOSS2", 2)]).await;
        let requests = [
            open_request("U0BOSS1", "2026-11-16"),
            open_request("U0BOSS1", "2026-11-23"),
            open_request("U0BOSS2", "2026-11-23"),
            open_request("U0BOSS1", "2026-11-16"),
        ];
        let outcomes = store.open_waves(&requests, k(5), now()).await.unwrap();
        let first = outcomes[0].as_ref().unwrap();
        assert!(first.created);
        match &outcomes[1] {
            Err(OpenWaveError::AlreadyOpen { wave_id, .. }) => assert_eq!(wave_id, &first.wave.wave_id),
            other => panic!("{other:?}"),
        }
        assert!(outcomes[2].as_ref().unwrap().created);
        let again = outcomes[3].as_ref().unwrap();
        assert!(!again.created);
        assert_eq!(again.wave, first.wave);
        assert_eq!(store.open_wave_of("U0BOSS1").await.unwrap().unwrap(), first.wave);
    }

    async fn a_planner_batch_opens_its_pulses_and_plans_its_teams_together(store: Store) {
        // The planner's batch writes the pulses it opens and when each of its teams is next
        // looked at in one transaction. A team changed after the planner read it (its version
        // moved on) keeps its "due now": its change is planned at the next tick, not lost.
        import_teams(&store, &[team("U0BOSS1", 3), team("U0BOSS2", 2), team("U0BOSS3", 2)]).await;
        let later = ts("2026-12-07T09:00:00Z");
        let mut due = store.teams_due_for_planning(now()).await.unwrap();
        assert_eq!(due.len(), 3, "a new roster makes every team due");
        due[2].version -= 1;
        let planned: Vec<_> = due.into_iter().map(|d| (d, Some(later))).collect();
        let requests = [open_request("U0BOSS1", "2026-11-23")];
        let outcomes = store
            .open_waves_and_plan(&requests, &planned, k(5), now())
            .await
            .unwrap();
        let opened = outcomes[0].as_ref().unwrap();
        assert!(opened.created);
        assert_eq!(store.open_wave_of("U0BOSS1").await.unwrap().unwrap(), opened.wave);
        assert_eq!(teams_due(&store, now()).await, ["U0BOSS3"], "only the team that changed since it was read");
        assert_eq!(teams_due(&store, later).await.len(), 3);

        // A batch that fails as a whole (one team named for two slots: the second open pulse
        // breaks the one-open-pulse index) opens its teams one at a time, and still records
        // its plans.
        let due = store.teams_due_for_planning(now()).await.unwrap();
        let planned: Vec<_> = due.into_iter().map(|d| (d, Some(later))).collect();
        let requests = [open_request("U0BOSS2", "2026-11-16"), open_request("U0BOSS2", "2026-11-23")];
        let outcomes = store
            .open_waves_and_plan(&requests, &planned, k(5), now())
            .await
            .unwrap();
        assert!(outcomes[0].as_ref().unwrap().created);
        assert!(matches!(outcomes[1], Err(OpenWaveError::AlreadyOpen { .. })), "{:?}", outcomes[1]);
        assert!(teams_due(&store, now()).await.is_empty(), "the fallback recorded the plans");
    }

    async fn a_held_window_keeps_its_k_for_the_size_of_invitation_groups(store: Store) {
        let (tokyo_ten, berlin_ten, timing) = (tokyo_ten(), berlin_ten(), tokyo_then_berlin());
        five_in_tokyo_five_in_berlin(&store, &["U0BOSS1", "U0BOSS2"]).await;
        // With k = 5, each city's five are a group of their own, at their own 10:00.
        let alone = store.open_wave("U0BOSS1", "2026-11-30", &timing, k(5), now()).await.unwrap();
        assert_eq!(invitations_due(&store, &alone.wave.wave_id, tokyo_ten).await, 5);
        assert_eq!(invitations_due(&store, &alone.wave.wave_id, berlin_ten).await, 5);

        // A window made when k was 7, and held for too few answers, keeps groups of 7 after k
        // is lowered to 5: its next pulse asks all ten at once.
        let earlier = store.open_wave("U0BOSS2", "2026-11-23", &timing, k(7), now()).await.unwrap();
        waves::close_and_release(&store, &earlier.wave, &ReleasePolicy::default(), now()).await.unwrap();
        let next = store.open_wave("U0BOSS2", "2026-11-30", &timing, k(5), now()).await.unwrap();
        assert_eq!(next.wave.window_id, earlier.wave.window_id, "the held window goes on");
        assert_eq!(invitations_due(&store, &next.wave.wave_id, tokyo_ten).await, 0);
        assert_eq!(invitations_due(&store, &next.wave.wave_id, berlin_ten).await, 10);
    }

    async fn a_sellers_own_invitation_time_is_known_until_it_goes(store: Store) {
        let (tokyo_ten, berlin_ten, timing) = (tokyo_ten(), berlin_ten(), tokyo_then_berlin());
        five_in_tokyo_five_in_berlin(&store, &["U0BOSS1"]).await;
        let wave = store.open_wave("U0BOSS1", "2026-11-30", &timing, k(5), now()).await.unwrap().wave;
        let due = async |person: &str| store.pending_invitation_due(&wave.wave_id, person).await.unwrap();
        assert_eq!(due("U0BOSS1S1").await, Some(tokyo_ten));
        assert_eq!(due("U0BOSS1S6").await, Some(berlin_ten));
        // Tokyo's invitations are taken to be sent: theirs are no longer to come.
        assert_eq!(invitations_due(&store, &wave.wave_id, tokyo_ten).await, 5);
        assert_eq!(due("U0BOSS1S1").await, None);
        assert_eq!(due("U0BOSS1S6").await, Some(berlin_ten));
        assert_eq!(due("U0STRANGER").await, None, "not invited");
    }

    async fn slack_updates_keep_the_opt_out(store: Store) {
        store.set_opted_out("U0SELLER1", true, now()).await.unwrap();
        let update = Person { tz: Some("Europe/Berlin".into()), ..Person::from_id("U0SELLER1") };
        store.upsert_person(&update, now()).await.unwrap();
        let person = store.person("U0SELLER1").await.unwrap().unwrap();
        assert!(person.opted_out);
        assert_eq!(person.tz.as_deref(), Some("Europe/Berlin"));
    }
}

// PostgreSQL no longer checks each invitee row against its pulse as it is written (the cost of
// the check was most of writing them); SQLite still does. Either way a row whose pulse is
// missing does not go unseen: the audit names it.
on_both_databases! {
    async fn an_invitee_without_its_pulse_is_refused_or_named_by_the_audit(db: TestDb) {
        use sqlx::Connection;
        let opened = open_team_wave(&db.store, "U0MANAGER", 3).await;
        const INVITEES: &str = "every invitee belongs to a pulse";
        assert_eq!(
            audit_check(&db.store.audit().await.unwrap(), INVITEES),
            (true, "every invitee row checked".to_owned()),
            "the pulse's {} invitees belong to it",
            opened.invitees.len()
        );

        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let orphan = sqlx::query(
            "INSERT INTO wave_invitees (wave_id, person_id) VALUES ('W0GONE', 'U0SELLER9')",
        )
        .execute(&mut conn)
        .await;
        conn.close().await.unwrap();
        let report = db.store.audit().await.unwrap();
        if db.url.starts_with("sqlite") {
            assert!(orphan.is_err(), "SQLite refuses an invitee of no pulse");
            assert!(audit_check(&report, INVITEES).0, "{report:#?}");
        } else {
            orphan.expect("PostgreSQL leaves the check to the writer and the audit");
            assert_eq!(
                audit_check(&report, INVITEES),
                (
                    false,
                    "found 1 invitee row(s) whose pulse does not exist".to_owned()
                )
            );
            assert!(!report.holds());
        }
        db.finish().await;
    }
}
