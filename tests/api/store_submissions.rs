//! Recording submissions: each refusal writes nothing; duplicates never count twice.

use crate::helpers::*;
use proptest::prelude::*;
use trustpulse::store::{Store, SubmissionError};
use trustpulse::survey::{Answers, Ballot};

async fn ballot_count(store: &Store, wave_id: &str) -> usize {
    store.ballots_of_wave(wave_id).await.unwrap().len()
}

on_both_backends! {
    async fn a_submission_is_recorded_and_reads_back_unchanged(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 6).await;
        let wave = &opened.wave;
        let seller = &opened.invitees[0];
        assert_eq!(store.has_answered(&wave.wave_id, seller).await.unwrap(), Some(false));

        let mut with_comment = answers(2, 4, 5);
        with_comment.comment = Some("  Please follow through on the quota review.  ".into());
        store.record_submission(&wave.wave_id, seller, &with_comment, now()).await.unwrap();

        assert_eq!(store.ballots_of_wave(&wave.wave_id).await.unwrap(), vec![Ballot::new(2, 4, 5).unwrap()]);
        assert_eq!(
            store.comments_of_wave(&wave.wave_id).await.unwrap(),
            vec!["Please follow through on the quota review.".to_owned()]
        );
        assert_eq!(store.has_answered(&wave.wave_id, seller).await.unwrap(), Some(true));
        assert_eq!(store.window_respondents(&wave.window_id).await.unwrap(), 1);
    }

    async fn a_blank_comment_is_not_stored(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let mut blank = answers(3, 3, 3);
        blank.comment = Some("   ".into());
        store.record_submission(&opened.wave.wave_id, &opened.invitees[0], &blank, now()).await.unwrap();
        assert!(store.comments_of_wave(&opened.wave.wave_id).await.unwrap().is_empty());
    }

    async fn a_second_submission_is_refused_and_changes_nothing(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let (wave, seller) = (&opened.wave.wave_id, &opened.invitees[0]);
        store.record_submission(wave, seller, &answers(4, 4, 4), now()).await.unwrap();
        let mut again = answers(1, 1, 1);
        again.comment = Some("second try".into());
        let err = store.record_submission(wave, seller, &again, now()).await.unwrap_err();
        assert!(matches!(err, SubmissionError::AlreadyAnswered), "{err:?}");
        assert_eq!(store.ballots_of_wave(wave).await.unwrap(), vec![Ballot::new(4, 4, 4).unwrap()]);
        assert!(store.comments_of_wave(wave).await.unwrap().is_empty());
    }

    async fn an_unknown_wave_is_refused(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let err = store
            .record_submission("no-such-wave", &opened.invitees[0], &answers(3, 3, 3), now())
            .await
            .unwrap_err();
        assert!(matches!(err, SubmissionError::UnknownWave), "{err:?}");
    }

    async fn a_closed_wave_is_refused_and_changes_nothing(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let wave = &opened.wave.wave_id;
        store.record_submission(wave, &opened.invitees[0], &answers(3, 3, 3), now()).await.unwrap();
        assert!(store.close_wave(wave, now()).await.unwrap());
        let err = store.record_submission(wave, &opened.invitees[1], &answers(5, 5, 5), now()).await.unwrap_err();
        assert!(matches!(err, SubmissionError::WaveClosed), "{err:?}");
        assert_eq!(ballot_count(&store, wave).await, 1);
    }

    async fn an_answer_after_the_closing_time_is_refused_even_before_the_close_runs(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let late = opened.wave.closes_at;
        let err = store
            .record_submission(&opened.wave.wave_id, &opened.invitees[0], &answers(3, 3, 3), late)
            .await
            .unwrap_err();
        assert!(matches!(err, SubmissionError::WaveClosed), "{err:?}");
        assert_eq!(ballot_count(&store, &opened.wave.wave_id).await, 0);
    }

    async fn someone_outside_the_roster_snapshot_is_refused(store: Store) {
        import_teams(&store, &[team("U0BOSS1", 5), team("U0BOSS2", 5)]).await;
        let wave = open_wave_at(&store, "U0BOSS1", "2026-11-23", ts("2026-11-26T10:00:00Z"))
            .await
            .unwrap()
            .wave;
        // Another team's seller, the manager, and a seller who joined after the snapshot.
        let mut moved = team("U0BOSS1", 5);
        moved.push(("U0LATECOMER".into(), "U0BOSS1".into()));
        import_teams(&store, &[moved, team("U0BOSS2", 5)]).await;
        for outsider in ["U0BOSS2S1", "U0BOSS1", "U0LATECOMER"] {
            let err = store
                .record_submission(&wave.wave_id, outsider, &answers(1, 1, 1), now())
                .await
                .unwrap_err();
            assert!(matches!(err, SubmissionError::NotInvited), "{outsider}: {err:?}");
        }
        assert_eq!(ballot_count(&store, &wave.wave_id).await, 0);
    }

    async fn scores_outside_one_to_five_are_refused_and_change_nothing(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let (wave, seller) = (&opened.wave.wave_id, &opened.invitees[0]);
        for bad in [answers(0, 3, 3), answers(3, 6, 3), answers(3, 3, -1), answers(3, 3, 50)] {
            let err = store.record_submission(wave, seller, &bad, now()).await.unwrap_err();
            assert!(matches!(err, SubmissionError::InvalidAnswer(_)), "{err:?}");
            assert!(!err.to_string().contains(['0', '6']), "the error repeats a value: {err}");
        }
        let mut long = answers(3, 3, 3);
        long.comment = Some("x".repeat(5000));
        assert!(matches!(
            store.record_submission(wave, seller, &long, now()).await,
            Err(SubmissionError::InvalidAnswer(_))
        ));
        assert_eq!(ballot_count(&store, wave).await, 0);
        // Nothing was half-written: the seller can still answer.
        assert_eq!(store.has_answered(wave, seller).await.unwrap(), Some(false));
        store.record_submission(wave, seller, &answers(3, 3, 3), now()).await.unwrap();
    }

    async fn two_simultaneous_submissions_by_one_person_store_one_ballot(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let wave = opened.wave.wave_id.clone();
        for seller in opened.invitees.iter().take(3) {
            let tasks: Vec<_> = [answers(1, 2, 3), answers(5, 4, 3)]
                .into_iter()
                .map(|a| {
                    let (store, wave, seller) = (store.clone(), wave.clone(), seller.clone());
                    tokio::spawn(async move { store.record_submission(&wave, &seller, &a, now()).await })
                })
                .collect();
            let mut ok = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(()) => ok += 1,
                    Err(SubmissionError::AlreadyAnswered) => {}
                    Err(other) => panic!("unexpected refusal: {other:?}"),
                }
            }
            assert_eq!(ok, 1, "exactly one of the two must win");
        }
        assert_eq!(ballot_count(&store, &wave).await, 3);
        assert_eq!(store.window_respondents(&opened.wave.window_id).await.unwrap(), 3);
    }
}

/// Property: any ballots (1..=8 of them) read back as the same multiset, on either backend.
fn ballot_round_trip(postgres: bool) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(async {
        if postgres {
            TestDb::postgres().await
        } else {
            Some(TestDb::sqlite().await)
        }
    });
    let Some(db) = db else { return };
    let store = db.store.clone();
    let sellers = runtime
        .block_on(open_team_wave(&store, "U0BOSS1", 8))
        .invitees;
    let round = std::cell::Cell::new(0u32);
    proptest!(ProptestConfig::with_cases(24), |(scores in proptest::collection::vec((1i64..=5, 1i64..=5, 1i64..=5), 1..=8))| {
        round.set(round.get() + 1);
        let round = round.get();
        let wave = runtime.block_on(async {
            if let Some(open) = store.open_wave_of("U0BOSS1").await.unwrap() {
                store.close_wave(&open.wave_id, now()).await.unwrap();
            }
            open_wave_at(&store, "U0BOSS1", &format!("round-{round}"), ts("2026-11-26T10:00:00Z"))
                .await
                .unwrap()
                .wave
        });
        for (seller, (care, help, trust)) in sellers.iter().zip(&scores) {
            let a = Answers { care: *care, help: *help, trust: *trust, comment: None };
            runtime.block_on(store.record_submission(&wave.wave_id, seller, &a, now())).unwrap();
        }
        let key = |b: &Ballot| (b.care.value(), b.help.value(), b.trust.value());
        let mut stored = runtime.block_on(store.ballots_of_wave(&wave.wave_id)).unwrap();
        let mut sent: Vec<Ballot> = scores.iter().map(|(c, h, t)| Ballot::new(*c, *h, *t).unwrap()).collect();
        stored.sort_by_key(key);
        sent.sort_by_key(key);
        prop_assert_eq!(stored, sent);
    });
    runtime.block_on(db.finish());
}

#[test]
fn ballots_round_trip_unchanged_on_sqlite() {
    ballot_round_trip(false);
}

#[test]
fn ballots_round_trip_unchanged_on_postgres() {
    ballot_round_trip(true);
}
