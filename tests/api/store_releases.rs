//! Closing and deciding a window: one transaction, safe against submissions in flight, and
//! finished by the next planner tick when an older process stopped in between.

use crate::helpers::*;
use trustpulse::ops::waves;
use trustpulse::privacy::window::ReleasePolicy;
use trustpulse::store::{Submission, SubmissionError};
use trustpulse::survey::Ballot;

on_both_backends! {
    async fn a_close_racing_submissions_loses_none_and_leaves_none_behind(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 40).await;
        let wave = opened.wave.clone();
        // The close starts among the submissions, so some are in flight while it runs.
        let mut submissions = Vec::new();
        let mut closer = None;
        for (i, seller) in opened.invitees.iter().enumerate() {
            if i == opened.invitees.len() / 2 {
                let (store, wave) = (store.clone(), wave.clone());
                closer = Some(tokio::spawn(async move {
                    waves::close_and_release(&store, &wave, &ReleasePolicy::default(), now()).await
                }));
            }
            let (store, wave_id, seller) = (store.clone(), wave.wave_id.clone(), seller.clone());
            submissions.push(tokio::spawn(async move {
                store.record_submission(&wave_id, &seller, &answers(4, 3, 2), now()).await
            }));
        }
        let mut recorded = 0;
        for submission in submissions {
            match submission.await.unwrap() {
                Ok(()) => recorded += 1,
                Err(SubmissionError::WaveClosed) => {}
                Err(other) => panic!("unexpected refusal: {other}"),
            }
        }
        closer.unwrap().await.unwrap().unwrap().expect("the wave was open");
        match store.release_bytes(&wave.window_id).await.unwrap() {
            // Released: it counts exactly the answers recorded before the close, and nothing
            // of them is left.
            Some(release) => {
                assert!(release.contains(&format!("\"respondents\":{recorded}")), "{release}");
                for table in ["ballots", "participation", "window_keys", "comments"] {
                    assert!(
                        store.dump_table(table).await.unwrap().is_empty(),
                        "{table} keeps rows of a released window ({recorded} recorded)"
                    );
                }
            }
            // Held (fewer than k got in before the close): every recorded answer is kept.
            None => {
                assert!(recorded < 5);
                assert_eq!(store.ballots_of_wave(&wave.wave_id).await.unwrap().len(), recorded);
            }
        }
    }

    async fn waves_due_together_are_each_decided_on_their_own(store: Store) {
        // Three teams: one with enough answers, one short of k, one already closed by hand.
        import_teams(&store, &[team("U0BOSS1", 6), team("U0BOSS2", 6), team("U0BOSS3", 6)]).await;
        let closes = ts("2026-11-26T10:00:00Z");
        let mut opened = Vec::new();
        for manager in ["U0BOSS1", "U0BOSS2", "U0BOSS3"] {
            opened.push(open_wave_at(&store, manager, "2026-11-23", closes).await.unwrap());
        }
        for seller in &opened[0].invitees[..5] {
            store.record_submission(&opened[0].wave.wave_id, seller, &answers(4, 4, 4), now()).await.unwrap();
        }
        for seller in &opened[1].invitees[..2] {
            store.record_submission(&opened[1].wave.wave_id, seller, &answers(2, 2, 2), now()).await.unwrap();
        }
        let policy = ReleasePolicy::default();
        waves::close_and_release(&store, &opened[2].wave, &policy, now()).await.unwrap();

        assert_eq!(waves::close_due_waves(&store, &policy, closes).await.unwrap(), 2);
        let released = store.release_bytes(&opened[0].wave.window_id).await.unwrap();
        assert!(released.is_some_and(|r| r.contains("\"respondents\":5")));
        assert!(store.release_bytes(&opened[1].wave.window_id).await.unwrap().is_none(), "held under k");
        assert_eq!(store.ballots_of_wave(&opened[1].wave.wave_id).await.unwrap().len(), 2, "kept for the next pulse");
        assert!(store.ballots_of_wave(&opened[0].wave.wave_id).await.unwrap().is_empty());
        assert_eq!(waves::close_due_waves(&store, &policy, closes).await.unwrap(), 0, "nothing twice");
    }

    async fn windows_due_together_in_several_batches_are_each_decided_once(store: Store) {
        // More windows than a close batch holds on either backend (64 on SQLite; 250 on
        // PostgreSQL, which writes two batches at once): every third team reached k.
        let managers: Vec<String> = (0..300).map(|i| format!("U0BOSS{i:03}")).collect();
        let teams: Vec<_> = managers.iter().map(|m| team(m, 5)).collect();
        import_teams(&store, &teams).await;
        let closes = ts("2026-11-26T10:00:00Z");
        let mut opened = Vec::new();
        for manager in &managers {
            opened.push(open_wave_at(&store, manager, "2026-11-23", closes).await.unwrap());
        }
        let answered: Vec<Submission> = opened
            .iter()
            .step_by(3)
            .flat_map(|o| o.invitees.iter().map(|seller| Submission {
                wave_id: o.wave.wave_id.clone(),
                person_id: seller.clone(),
                ballot: Ballot::new([4, 3, 5]).unwrap(),
                comment: None,
                at: now(),
            }))
            .collect();
        for chunk in answered.chunks(100) {
            for outcome in store.record_submissions(chunk.to_vec()).await {
                outcome.unwrap();
            }
        }

        let policy = ReleasePolicy::default();
        assert_eq!(waves::close_due_waves(&store, &policy, closes).await.unwrap(), 300);
        for (i, o) in opened.iter().enumerate() {
            let release = store.release_bytes(&o.wave.window_id).await.unwrap();
            match i % 3 {
                0 => assert!(
                    release.is_some_and(|r| r.contains("\"respondents\":5")),
                    "team {i} reached k and is released with its five answers"
                ),
                _ => assert!(release.is_none(), "team {i} is held under k"),
            }
        }
        for table in ["ballots", "participation"] {
            assert!(
                store.dump_table(table).await.unwrap().is_empty(),
                "{table} keeps rows of released windows"
            );
        }
        assert_eq!(waves::close_due_waves(&store, &policy, closes).await.unwrap(), 0, "nothing twice");
    }

    async fn a_window_left_undecided_is_decided_later(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 6).await;
        for seller in &opened.invitees[..5] {
            store
                .record_submission(&opened.wave.wave_id, seller, &answers(4, 4, 4), now())
                .await
                .unwrap();
        }
        // A process stopped between closing the wave and deciding its window.
        assert!(store.close_wave(&opened.wave.wave_id, now()).await.unwrap());
        assert_eq!(store.undecided_windows().await.unwrap(), vec![opened.wave.window_id.clone()]);

        let policy = ReleasePolicy::default();
        assert_eq!(waves::decide_undecided(&store, &policy, now()).await.unwrap(), 1);
        let release = store.release_bytes(&opened.wave.window_id).await.unwrap();
        assert!(release.is_some_and(|r| r.contains("\"respondents\":5")));
        assert!(store.dump_table("ballots").await.unwrap().is_empty());
        assert!(store.undecided_windows().await.unwrap().is_empty());
        assert_eq!(waves::decide_undecided(&store, &policy, now()).await.unwrap(), 0);
    }

    async fn a_held_window_is_not_undecided(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 6).await;
        store
            .record_submission(&opened.wave.wave_id, &opened.invitees[0], &answers(4, 4, 4), now())
            .await
            .unwrap();
        waves::close_and_release(&store, &opened.wave, &ReleasePolicy::default(), now())
            .await
            .unwrap();
        assert!(store.undecided_windows().await.unwrap().is_empty(), "held is decided");
        assert_eq!(store.ballots_of_wave(&opened.wave.wave_id).await.unwrap().len(), 1);
    }
}

/// On SQLite, a close tick reads where the answers still where they arrived are once
/// (`Store::arrived_rows`), and each of its transactions then reads only what arrived since.
/// An answer that arrives between two of them is counted, and so is one that takes the rowid
/// of a row swept meanwhile (SQLite hands out the largest rowid plus one again once the last
/// row is gone): each window's tally counts every ballot of its pulse, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_close_tick_counts_answers_that_arrive_between_its_transactions() {
    use sqlx::Connection;
    use trustpulse::store::{ArrivedRows, OpenedWave, Store, WindowDecision};
    async fn arrive(url: &str, opened: &OpenedWave, id: &str) {
        let mut rows = sqlx::AnyConnection::connect(url).await.unwrap();
        sqlx::query(
            "INSERT INTO arriving_ballots (ballot_id, wave_id, care, help, trust)
             VALUES ($1, $2, 4, 4, 4)",
        )
        .bind(id)
        .bind(&opened.wave.wave_id)
        .execute(&mut rows)
        .await
        .unwrap();
        rows.close().await.unwrap();
    }
    /// How many ballots the transaction deciding `opened`'s window counts (it holds it).
    async fn decide(store: &Store, opened: &OpenedWave, arrived: &ArrivedRows) -> u32 {
        let mut ballots = None;
        let item = (
            Some(opened.wave.wave_id.as_str()),
            opened.wave.window_id.as_str(),
        );
        store
            .close_and_decide_many(&[item], now(), arrived, |state| {
                ballots = Some(state.tally.ballots());
                WindowDecision::Hold
            })
            .await
            .unwrap();
        ballots.expect("the window was decided")
    }

    let db = TestDb::sqlite().await;
    let managers = ["U0BOSS1", "U0BOSS2", "U0BOSS3", "U0BOSS4"];
    let teams = open_team_waves(&db.store, &managers, 3).await;
    for (team, id) in [(0, "a1"), (1, "b1"), (2, "c1"), (3, "d1"), (3, "d2")] {
        arrive(&db.url, &teams[team], id).await;
    }
    let arrived = db.store.arrived_rows().await;
    arrive(&db.url, &teams[0], "a2").await;
    assert_eq!(
        decide(&db.store, &teams[0], &arrived).await,
        2,
        "one read before the run's transactions, one since"
    );
    arrive(&db.url, &teams[1], "b2").await;
    assert_eq!(
        decide(&db.store, &teams[1], &arrived).await,
        2,
        "one read before, one arrived since"
    );
    // b2, the last row, moved and swept; c2 then arrives under b2's rowid.
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "INSERT INTO ballots SELECT * FROM arriving_ballots WHERE ballot_id = 'b2'",
        "DELETE FROM arriving_ballots WHERE ballot_id = 'b2'",
    ] {
        sqlx::query(statement).execute(&mut rows).await.unwrap();
    }
    rows.close().await.unwrap();
    arrive(&db.url, &teams[2], "c2").await;
    assert_eq!(
        decide(&db.store, &teams[2], &arrived).await,
        2,
        "one arrived before the run, one under a rowid used before"
    );
    arrive(&db.url, &teams[3], "d3").await;
    assert_eq!(
        decide(&db.store, &teams[3], &arrived).await,
        3,
        "two arrived before the run, one since"
    );
    db.finish().await;
}

/// On SQLite a window's respondents are counted wherever their tokens are: in `participation`,
/// or still where they arrived, before their pulse's move (`arriving_participation`), each
/// person once, a copied token included. A window under k would otherwise look released to
/// too few, or one at k held. The release then deletes the tokens from both tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_release_counts_people_whose_tokens_still_wait_where_they_arrived() {
    use sqlx::Connection;
    use trustpulse::privacy::window::WindowDecision;
    let db = TestDb::sqlite().await;
    let opened = open_team_wave(&db.store, "U0BOSS1", 6).await;
    let wave = &opened.wave.wave_id;
    for seller in &opened.invitees[..5] {
        db.store
            .record_submission(wave, seller, &answers(4, 4, 4), now())
            .await
            .unwrap();
    }
    assert_eq!(
        token_rows(&db.url).await,
        (0, 5),
        "every token waits where it arrived"
    );
    // One of them copied to `participation` and not swept yet, as between a move and a sweep.
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO participation SELECT * FROM arriving_participation
         WHERE rowid = (SELECT MIN(rowid) FROM arriving_participation)",
    )
    .execute(&mut rows)
    .await
    .unwrap();
    rows.close().await.unwrap();

    let released =
        waves::close_and_release(&db.store, &opened.wave, &ReleasePolicy::default(), now())
            .await
            .unwrap();
    assert!(
        matches!(released, Some(WindowDecision::Release)),
        "five of six answered: {released:?}"
    );
    let participation = db.store.latest_participation().await.unwrap();
    assert_eq!(participation.len(), 1);
    assert_eq!(
        participation[0].respondents,
        Some(5),
        "five people, one token copied"
    );
    assert_eq!(
        token_rows(&db.url).await,
        (0, 0),
        "the release deleted every token"
    );
    db.finish().await;
}
