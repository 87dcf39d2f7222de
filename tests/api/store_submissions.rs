//! Recording submissions: each refusal writes nothing; duplicates never count twice.

use crate::helpers::*;
use proptest::prelude::*;
use sqlx::Connection;
use trustpulse::ops::waves;
use trustpulse::privacy::window::ReleasePolicy;
use trustpulse::store::{
    ANSWER_MOVE_LOCK, OpenedWave, PULSES_MOVED_AT_ONCE, Store, Submission, SubmissionError,
};
use trustpulse::survey::{Answers, Ballot, Comment};

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

        assert_eq!(store.ballots_of_wave(&wave.wave_id).await.unwrap(), vec![Ballot::new([2, 4, 5]).unwrap()]);
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
        assert_eq!(store.ballots_of_wave(wave).await.unwrap(), vec![Ballot::new([4, 4, 4]).unwrap()]);
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
            let a = Answers { scores: [*care, *help, *trust], follow_through: None, comment: None };
            runtime.block_on(store.record_submission(&wave.wave_id, seller, &a, now())).unwrap();
        }
        let key = |b: &Ballot| b.values();
        let mut stored = runtime.block_on(store.ballots_of_wave(&wave.wave_id)).unwrap();
        let mut sent: Vec<Ballot> = scores.iter().map(|(c, h, t)| Ballot::new([*c, *h, *t]).unwrap()).collect();
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

// ---------------------------------------------------------------------------------------------
// Group commit: what batching must not break.

fn submission(
    wave_id: &str,
    person_id: &str,
    ballot: (i64, i64, i64),
    comment: Option<&str>,
) -> Submission {
    Submission {
        wave_id: wave_id.to_owned(),
        person_id: person_id.to_owned(),
        ballot: Ballot::new([ballot.0, ballot.1, ballot.2]).unwrap(),
        comment: comment.and_then(|c| Comment::new(c).unwrap()),
        at: now(),
    }
}

/// A comment that makes the database refuse the statement holding it, so the whole batch fails
/// as it would on a full disk or a lost connection.
const POISON: &str = "THIS COMMENT FAILS THE BATCH";

async fn poison_comments(db: &TestDb) -> sqlx::AnyConnection {
    with_trigger(
        db,
        // On SQLite the writer appends comments where they arrive, and moves them later.
        "CREATE TRIGGER poison BEFORE INSERT ON arriving_comments WHEN NEW.body = 'THIS COMMENT FAILS THE BATCH'
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        &[
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.body = 'THIS COMMENT FAILS THE BATCH' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON comments FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    )
    .await
}

/// Drops the trigger `name` on `table` that `conn` created, and closes it.
async fn drop_trigger(db: &TestDb, mut conn: sqlx::AnyConnection, name: &str, table: &str) {
    let drop = if db.url.starts_with("sqlite:") {
        format!("DROP TRIGGER {name}")
    } else {
        format!("DROP TRIGGER {name} ON {table}")
    };
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// A connection to the test's database after it created a trigger: `sqlite`'s statement on
/// SQLite, `postgres`'s on PostgreSQL (a function, then the trigger).
async fn with_trigger(db: &TestDb, sqlite: &str, postgres: &[&str]) -> sqlx::AnyConnection {
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let sqlite = [sqlite];
    let statements: &[&str] = if db.url.starts_with("sqlite:") {
        &sqlite
    } else {
        postgres
    };
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn
}

on_both_databases! {
    async fn a_failed_batch_acknowledges_none_and_each_seller_can_answer_again(db: TestDb) {
        let store = db.store.clone();
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let wave = opened.wave.wave_id.as_str();
        let sellers = &opened.invitees[..3];
        let conn = poison_comments(&db).await;

        let outcomes = store
            .record_submissions(vec![
                submission(wave, &sellers[0], (4, 4, 4), None),
                submission(wave, &sellers[1], (2, 3, 4), Some("Fine by me")),
                submission(wave, &sellers[2], (1, 1, 1), Some(POISON)),
            ])
            .await;
        assert_eq!(outcomes.len(), 3);
        for outcome in &outcomes {
            assert!(
                matches!(outcome, Err(SubmissionError::Internal(_))),
                "{outcome:?}"
            );
        }
        assert_eq!(
            ballot_count(&store, wave).await,
            0,
            "no ballot of a failed batch is kept"
        );
        assert!(store.comments_of_wave(wave).await.unwrap().is_empty());
        for seller in sellers {
            assert_eq!(
                store.has_answered(wave, seller).await.unwrap(),
                Some(false),
                "no token is kept either"
            );
        }

        drop_trigger(&db, conn, "poison", "comments").await;
        for seller in sellers {
            store
                .record_submission(wave, seller, &answers(3, 3, 3), now())
                .await
                .unwrap();
        }
        assert_eq!(
            ballot_count(&store, wave).await,
            3,
            "each seller could answer again"
        );
        db.finish().await;
    }
}

/// Makes the database refuse a pulse's 33rd ballot, so that a batch of more than 32 answers
/// fails after its first 32 ballots are written: the SQLite writer writes a batch in parts of
/// at most 32 rows, and this fails the second.
async fn refuse_the_33rd_ballot(db: &TestDb) -> sqlx::AnyConnection {
    with_trigger(
        db,
        // On SQLite the writer appends ballots where they arrive, and moves them later.
        "CREATE TRIGGER refuse_33rd BEFORE INSERT ON arriving_ballots
         WHEN (SELECT count(*) FROM arriving_ballots WHERE wave_id = NEW.wave_id) >= 32
         BEGIN SELECT RAISE(ABORT, 'the 33rd ballot'); END",
        &[
            "CREATE FUNCTION refuse_33rd() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF (SELECT count(*) FROM ballots WHERE wave_id = NEW.wave_id) >= 32 THEN
             RAISE EXCEPTION 'the 33rd ballot'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_33rd BEFORE INSERT ON ballots FOR EACH ROW EXECUTE FUNCTION refuse_33rd()",
        ],
    )
    .await
}

on_both_databases! {
    // A batch larger than the SQLite writer's largest statement is written in parts (here 36
    // answers to record: 32 rows, then 4), in one transaction: a failure in its second part
    // keeps nothing of the first, and once it succeeds every part is there, and a seller who
    // answered twice in the batch counts once.
    async fn a_batch_written_in_parts_is_kept_whole_or_not_at_all(db: TestDb) {
        let store = db.store.clone();
        let opened = open_team_wave(&store, "U0BOSS1", 36).await;
        let wave = opened.wave.wave_id.as_str();
        let mut batch: Vec<Submission> = opened
            .invitees
            .iter()
            .enumerate()
            .map(|(i, s)| submission(wave, s, (3, 3, 3), i.is_multiple_of(10).then_some("a comment")))
            .collect();
        batch.push(submission(wave, &opened.invitees[7], (1, 1, 1), None));
        let conn = refuse_the_33rd_ballot(&db).await;
        let outcomes = store.record_submissions(batch.clone()).await;
        assert_eq!(outcomes.len(), 37);
        assert!(
            outcomes.iter().all(|o| matches!(o, Err(SubmissionError::Internal(_)))),
            "{outcomes:?}"
        );
        assert_eq!(ballot_count(&store, wave).await, 0, "no part of a failed batch is kept");
        assert!(store.comments_of_wave(wave).await.unwrap().is_empty());
        assert_eq!(store.window_respondents(&opened.wave.window_id).await.unwrap(), 0);

        drop_trigger(&db, conn, "refuse_33rd", "ballots").await;
        let outcomes = store.record_submissions(batch).await;
        let twice = [&outcomes[7], &outcomes[36]];
        assert_eq!(twice.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
        assert!(
            twice.iter().any(|o| matches!(o, Err(SubmissionError::AlreadyAnswered))),
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().enumerate().filter(|(i, _)| ![7, 36].contains(i)).all(|(_, o)| o.is_ok()),
            "{outcomes:?}"
        );
        assert_eq!(ballot_count(&store, wave).await, 36);
        assert_eq!(store.comments_of_wave(wave).await.unwrap().len(), 4);
        assert_eq!(store.window_respondents(&opened.wave.window_id).await.unwrap(), 36);
        db.finish().await;
    }
}

on_both_backends! {
    // Slack sends whatever a seller types; a comment must reach the store as written, whatever
    // its characters, and one odd comment must not fail the batch it shares with other sellers.
    // PostgreSQL's text cannot hold a NUL, so that one is dropped (see `Comment::new`).
    async fn comments_of_any_characters_in_one_batch_read_back_as_written(store: Store) {
        let texts = [
            "It's \"fine\"; really -- DROP TABLE ballots;",
            "back\\slash {braces} [brackets] $1 %s ?",
            "two\nlines\tand a tab \u{7}bell",
            "Thanks 🙏 für die Hilfe, 谢谢",
            "the text \\x00 and \\u0000 are only text",
            "before\0after",
        ];
        let opened = open_team_wave(&store, "U0BOSS1", texts.len() + 1).await;
        let wave = opened.wave.wave_id.as_str();
        let mut batch: Vec<Submission> = texts
            .iter()
            .zip(&opened.invitees)
            .map(|(text, seller)| submission(wave, seller, (3, 4, 5), Some(text)))
            .collect();
        batch.push(submission(wave, &opened.invitees[texts.len()], (2, 2, 2), None));
        let outcomes = store.record_submissions(batch).await;
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

        let mut stored = store.comments_of_wave(wave).await.unwrap();
        stored.sort();
        let mut expected: Vec<String> = texts.iter().map(|t| t.replace('\0', "")).collect();
        expected.sort();
        assert_eq!(stored, expected);
        assert_eq!(ballot_count(&store, wave).await, texts.len() + 1);
    }

    async fn two_submissions_of_one_person_in_one_batch_store_one_ballot(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let wave = opened.wave.wave_id.as_str();
        let seller = &opened.invitees[0];
        let outcomes = store
            .record_submissions(vec![
                submission(wave, seller, (1, 2, 3), Some("first")),
                submission(wave, &opened.invitees[1], (3, 3, 3), None),
                submission(wave, seller, (5, 4, 3), Some("second")),
            ])
            .await;
        let recorded = [&outcomes[0], &outcomes[2]].iter().filter(|o| o.is_ok()).count();
        assert_eq!(recorded, 1, "exactly one of the two counts: {outcomes:?}");
        assert!(
            [&outcomes[0], &outcomes[2]].iter().any(|o| matches!(o, Err(SubmissionError::AlreadyAnswered))),
            "the other is told it already answered: {outcomes:?}"
        );
        assert!(outcomes[1].is_ok(), "the rest of the batch is unaffected");
        assert_eq!(ballot_count(&store, wave).await, 2);
        assert_eq!(store.comments_of_wave(wave).await.unwrap().len(), 1);
        assert_eq!(store.window_respondents(&opened.wave.window_id).await.unwrap(), 2);
    }

    async fn a_second_press_by_someone_not_invited_is_refused_as_the_first(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let wave = opened.wave.wave_id.as_str();
        // An answer first, so that the pulse is one the writer has read, as under load.
        store.record_submission(wave, &opened.invitees[0], &answers(3, 3, 3), now()).await.unwrap();
        let outcomes = store
            .record_submissions(vec![
                submission(wave, "U0STRANGER", (2, 2, 2), None),
                submission(wave, "U0STRANGER", (2, 2, 2), None),
            ])
            .await;
        for outcome in &outcomes {
            assert!(matches!(outcome, Err(SubmissionError::NotInvited)), "{outcome:?}");
        }
        assert_eq!(ballot_count(&store, wave).await, 1);
    }

    async fn each_submission_of_a_batch_gets_its_own_answer(store: Store) {
        let opened = open_team_wave(&store, "U0BOSS1", 5).await;
        let wave = opened.wave.wave_id.as_str();
        store.record_submission(wave, &opened.invitees[1], &answers(3, 3, 3), now()).await.unwrap();
        let mut late = submission(wave, &opened.invitees[2], (2, 2, 2), None);
        late.at = ts("2026-11-26T10:00:00Z");
        let outcomes = store
            .record_submissions(vec![
                submission(wave, &opened.invitees[0], (4, 5, 4), Some("Thanks for the coaching")),
                submission(wave, &opened.invitees[1], (1, 1, 1), None),
                submission("no-such-wave", &opened.invitees[3], (2, 2, 2), None),
                submission(wave, "U0STRANGER", (2, 2, 2), None),
                late,
            ])
            .await;
        assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
        assert!(matches!(outcomes[1], Err(SubmissionError::AlreadyAnswered)), "{:?}", outcomes[1]);
        assert!(matches!(outcomes[2], Err(SubmissionError::UnknownWave)), "{:?}", outcomes[2]);
        assert!(matches!(outcomes[3], Err(SubmissionError::NotInvited)), "{:?}", outcomes[3]);
        assert!(matches!(outcomes[4], Err(SubmissionError::WaveClosed)), "{:?}", outcomes[4]);
        assert_eq!(ballot_count(&store, wave).await, 2);
        assert_eq!(store.comments_of_wave(wave).await.unwrap(), vec!["Thanks for the coaching".to_owned()]);
        assert_eq!(store.has_answered(wave, &opened.invitees[2]).await.unwrap(), Some(false));
    }

    async fn a_full_batch_of_answers_is_recorded_in_one_go(store: Store) {
        let n = trustpulse::store::MAX_SUBMISSION_BATCH;
        let opened = open_team_wave(&store, "U0BOSS1", n).await;
        let wave = opened.wave.wave_id.as_str();
        let batch: Vec<Submission> = opened
            .invitees
            .iter()
            .enumerate()
            .map(|(i, s)| submission(wave, s, (1 + (i % 5) as i64, 3, 3), i.is_multiple_of(3).then_some("a comment")))
            .collect();
        let outcomes = store.record_submissions(batch).await;
        assert!(outcomes.iter().all(Result::is_ok));
        assert_eq!(ballot_count(&store, wave).await, n);
        assert_eq!(store.comments_of_wave(wave).await.unwrap().len(), n.div_ceil(3));
        assert_eq!(store.window_respondents(&opened.wave.window_id).await.unwrap(), n as i64);
    }
}

on_both_databases! {
    // Shutting down while answers arrive: every answer acknowledged before `close` returned is in
    // the database afterwards, with its token, and an answer after it is refused, not dropped.
    async fn closing_the_store_loses_no_acknowledged_answer(db: TestDb) {
        let store = db.store.clone();
        let opened = open_team_wave(&store, "U0BOSS1", 40).await;
        let wave = opened.wave.wave_id.clone();
        let (before, racing) = opened.invitees.split_at(20);
        for seller in before {
            store.record_submission(&wave, seller, &answers(4, 4, 4), now()).await.unwrap();
        }
        let mut answering = tokio::task::JoinSet::new();
        for seller in racing {
            let (store, wave, seller) = (store.clone(), wave.clone(), seller.clone());
            answering.spawn(async move {
                store.record_submission(&wave, &seller, &answers(2, 2, 2), now()).await.is_ok()
            });
        }
        // The writer holds its connection between batches: a close that did not stop it first
        // would wait for that connection for ever.
        tokio::time::timeout(std::time::Duration::from_secs(30), store.close())
            .await
            .expect("the store closes while answers arrive");
        let acknowledged = 20 + answering.join_all().await.into_iter().filter(|ok| *ok).count();
        let late = store.record_submission(&wave, &racing[0], &answers(1, 1, 1), now()).await;
        assert!(
            matches!(late, Err(SubmissionError::Internal(_))),
            "an answer after shutdown is refused: {late:?}"
        );

        let reopened = Store::connect(&db.url).await.unwrap();
        assert_eq!(
            ballot_count(&reopened, &wave).await,
            acknowledged,
            "every acknowledged answer was kept, and nothing else"
        );
        assert_eq!(
            reopened.window_respondents(&opened.wave.window_id).await.unwrap(),
            acknowledged as i64,
            "each ballot has its token"
        );
        reopened.close().await;
        db.finish().await;
    }
}

/// `sellers` answer `wave_id` one after another, each in a transaction of their own; the
/// first leaves a comment.
async fn answer_one_at_a_time(store: &Store, wave_id: &str, sellers: &[String]) {
    for (i, seller) in sellers.iter().enumerate() {
        let mut said = answers(4, 3, 5);
        said.comment = (i == 0).then(|| "Please follow through on the quota review.".into());
        store
            .record_submission(wave_id, seller, &said, now())
            .await
            .unwrap();
    }
}

/// A pulse's tokens, its ballots, and the transactions that wrote its tokens, ballots and
/// comments (their `xmin`, which any role that may read the tables can read too).
async fn stamps(rows: &mut sqlx::AnyConnection, wave_id: &str) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM participation WHERE wave_id = $1),
                (SELECT COUNT(*) FROM ballots WHERE wave_id = $1),
                (SELECT COUNT(DISTINCT xmin::text) FROM (
                    SELECT xmin FROM participation WHERE wave_id = $1
                    UNION ALL SELECT xmin FROM ballots WHERE wave_id = $1
                    UNION ALL SELECT xmin FROM comments WHERE wave_id = $1) AS stamped)",
    )
    .bind(wave_id)
    .fetch_one(rows)
    .await
    .unwrap()
}

/// The transactions (`xmin`) that wrote a pulse's tokens, ballots and comments, each once.
async fn transactions_of(rows: &mut sqlx::AnyConnection, wave_id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT xmin::text FROM participation WHERE wave_id = $1
         UNION SELECT xmin::text FROM ballots WHERE wave_id = $1
         UNION SELECT xmin::text FROM comments WHERE wave_id = $1
         ORDER BY 1",
    )
    .bind(wave_id)
    .fetch_all(rows)
    .await
    .unwrap()
}

/// The test database's store, a team of six with its pulse open, and a connection of the
/// test's own to read the tables.
async fn a_team_of_six(db: &TestDb) -> (Store, OpenedWave, sqlx::AnyConnection) {
    let opened = open_team_wave(&db.store, "U0BOSS1", 6).await;
    let rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    (db.store.clone(), opened, rows)
}

/// How many comments a pulse has, read from the table.
async fn comment_rows(rows: &mut sqlx::AnyConnection, wave_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE wave_id = $1")
        .bind(wave_id)
        .fetch_one(rows)
        .await
        .unwrap()
}

/// On PostgreSQL every row carries the transaction that wrote it (`xmin`, readable with a
/// plain `SELECT`), so answers written one at a time would pair each token with its ballot.
/// Once the writer is quiet (here: when the store closes), an open pulse's answers are
/// rewritten in one transaction: they all carry one `xmin`, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_open_pulses_answers_share_one_transaction_once_the_writer_is_quiet() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (store, opened, mut rows) = a_team_of_six(&db).await;
    let wave = opened.wave.wave_id.clone();
    answer_one_at_a_time(&store, &wave, &opened.invitees[..4]).await;
    let (tokens, ballots, transactions) = stamps(&mut rows, &wave).await;
    assert_eq!((tokens, ballots), (4, 4));
    assert!(
        transactions > 1,
        "the answers were written one at a time ({transactions})"
    );

    store.close().await;
    assert_eq!(
        stamps(&mut rows, &wave).await,
        (4, 4, 1),
        "(tokens, ballots, transactions)"
    );
    assert_eq!(comment_rows(&mut rows, &wave).await, 1);
    rows.close().await.unwrap();
    // The tokens were moved unchanged: a second answer is still refused, a first still taken.
    let again = Store::connect(&db.url).await.unwrap();
    let second = again
        .record_submission(&wave, &opened.invitees[0], &answers(1, 1, 1), now())
        .await;
    assert!(
        matches!(second, Err(SubmissionError::AlreadyAnswered)),
        "{second:?}"
    );
    again
        .record_submission(&wave, &opened.invitees[4], &answers(2, 2, 2), now())
        .await
        .unwrap();
    again.close().await;
    db.finish().await;
}

/// The quiet moment that moves an open pulse's answers may never come: in a large org's first
/// hours answers arrive steadily, each less than a second after the last and each still a
/// transaction of its own. So a pulse whose answers have waited five seconds is moved anyway,
/// while answers keep coming. Here one team answers, then another team's sellers answer one
/// every 200 ms (the pace of the stream is the point, so it is real time); the first team's
/// rows come to share one transaction before the stream ends, and nothing is lost. Without
/// the bound they stayed four transactions for as long as the stream lasted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_answers_that_never_pause_are_still_moved_within_seconds() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let teams = open_team_waves(&store, &["U0BOSS1", "U0BOSS2"], 40).await;
    let (first, stream) = (&teams[0].wave.wave_id, &teams[1]);
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    answer_one_at_a_time(&store, first, &teams[0].invitees[..4]).await;
    assert!(
        stamps(&mut rows, first).await.2 > 1,
        "written one at a time"
    );

    let mut answered: i64 = 0;
    let mut moved = false;
    for seller in &stream.invitees {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        store
            .record_submission(&stream.wave.wave_id, seller, &answers(3, 3, 3), now())
            .await
            .unwrap();
        answered += 1;
        if stamps(&mut rows, first).await == (4, 4, 1) {
            moved = true;
            break;
        }
    }
    assert!(
        moved,
        "the first team's answers were still in {} transactions after {answered} more answers",
        stamps(&mut rows, first).await.2
    );
    assert_eq!(
        stamps(&mut rows, &stream.wave.wave_id).await.0,
        answered,
        "every answer of the stream is kept"
    );
    rows.close().await.unwrap();
    store.close().await;
    db.finish().await;
}

/// After a burst, the pulses waiting to be moved can be hundreds: moved in one transaction
/// (1.4 to 1.9 s a table in the answer benchmark), an answer arriving meanwhile waited for all
/// of them, past Slack's three seconds. So a quiet moment moves a few pulses a transaction.
/// Here more pulses than one transaction takes, each answered twice one at a time, then the
/// store closes (which moves what is waiting): each pulse's rows share one transaction, no
/// transaction holds more than its share of pulses, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_quiet_moment_moves_many_pulses_a_few_at_a_time() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let n = PULSES_MOVED_AT_ONCE + 8;
    let teams = open_numbered_teams(&store, n, 2).await;
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for team in &teams {
        answer_one_at_a_time(&store, &team.wave.wave_id, &team.invitees).await;
    }
    store.close().await;

    for team in &teams {
        assert_eq!(
            stamps(&mut rows, &team.wave.wave_id).await,
            (2, 2, 1),
            "(tokens, ballots, transactions) of a pulse"
        );
    }
    let per_transaction: Vec<i64> =
        sqlx::query_scalar("SELECT COUNT(DISTINCT wave_id) FROM participation GROUP BY xmin::text")
            .fetch_all(&mut rows)
            .await
            .unwrap();
    assert_eq!(
        per_transaction.iter().sum::<i64>(),
        n as i64,
        "every pulse moved"
    );
    assert!(
        per_transaction
            .iter()
            .all(|&pulses| pulses <= PULSES_MOVED_AT_ONCE as i64),
        "pulses moved in each transaction: {per_transaction:?}"
    );
    rows.close().await.unwrap();
    db.finish().await;
}

/// A pulse that closes before its answers are moved (the last came seconds before the close),
/// in a window held open for the team's next pulse (under k): the moves pass over a closed
/// pulse, so its tokens kept their ballots' transactions until the window's release, a pulse
/// or more later. The close moves them itself. Here the store's moves wait behind another
/// replica's (its lock held), so none can run before the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_held_pulses_answers_share_one_transaction_once_it_closes() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (store, opened, mut rows) = a_team_of_six(&db).await;
    let wave = opened.wave.wave_id.clone();
    let holder = hold_the_moves(&db.url).await;
    answer_one_at_a_time(&store, &wave, &opened.invitees[..3]).await;
    assert!(
        stamps(&mut rows, &wave).await.2 > 1,
        "written one at a time"
    );

    waves::close_and_release(&store, &opened.wave, &ReleasePolicy::default(), now())
        .await
        .unwrap();
    let window = &opened.wave.window_id;
    assert!(
        store.release_bytes(window).await.unwrap().is_none(),
        "3 of 6 is under k: held"
    );
    assert_eq!(
        stamps(&mut rows, &wave).await,
        (3, 3, 1),
        "(tokens, ballots, transactions) once the pulse closed"
    );
    assert_eq!(
        comment_rows(&mut rows, &wave).await,
        1,
        "the comment is kept for the release"
    );
    assert_eq!(store.window_respondents(window).await.unwrap(), 3);
    holder.close().await.unwrap();
    rows.close().await.unwrap();
    store.close().await;
    db.finish().await;
}

/// A held pulse whose answers one transaction wrote (here one batch, shuffled; or a move) is
/// not rewritten by its close: its rows already say nothing of their order, and a close of many
/// held windows would otherwise rewrite every one of their answers. The store's moves are held
/// back, as in the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_held_pulse_written_in_one_transaction_is_not_rewritten_by_its_close() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (store, opened, mut rows) = a_team_of_six(&db).await;
    let wave = opened.wave.wave_id.clone();
    let holder = hold_the_moves(&db.url).await;
    let batch = opened.invitees[..3]
        .iter()
        .map(|seller| submission(&wave, seller, (4, 3, 5), Some("More pipeline reviews")))
        .collect();
    for outcome in store.record_submissions(batch).await {
        outcome.unwrap();
    }
    let written = transactions_of(&mut rows, &wave).await;
    assert_eq!(written.len(), 1, "one batch, one transaction");

    waves::close_and_release(&store, &opened.wave, &ReleasePolicy::default(), now())
        .await
        .unwrap();
    assert!(
        store
            .release_bytes(&opened.wave.window_id)
            .await
            .unwrap()
            .is_none(),
        "held"
    );
    let after = transactions_of(&mut rows, &wave).await;
    assert_eq!(after, written, "the rows as the batch wrote them");
    assert_eq!(stamps(&mut rows, &wave).await, (3, 3, 1));
    assert_eq!(comment_rows(&mut rows, &wave).await, 3);
    holder.close().await.unwrap();
    rows.close().await.unwrap();
    store.close().await;
    db.finish().await;
}

/// A connection holding [`ANSWER_MOVE_LOCK`], as another replica's move would, until it is
/// closed: the store's moves of open pulses' answers wait for it.
async fn hold_the_moves(url: &str) -> sqlx::AnyConnection {
    let mut holder = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query("SELECT 1 FROM pg_advisory_lock($1)")
        .bind(ANSWER_MOVE_LOCK)
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// Waits until a move of open pulses' answers in the test's database waits for
/// [`ANSWER_MOVE_LOCK`], which the test holds (ten seconds at most).
async fn wait_for_a_move_held(rows: &mut sqlx::AnyConnection) {
    wait_for_a_lock(
        rows,
        "locktype = 'advisory'",
        "a move of open pulses' answers",
    )
    .await;
}

/// Waits until a batch of the test's store waits for a row another session holds (ten
/// seconds at most).
async fn wait_for_a_batch_held(rows: &mut sqlx::AnyConnection) {
    wait_for_a_lock(rows, "locktype <> 'advisory'", "the answer's batch").await;
}

/// Waits until a session of the test's database waits for a lock of the kind `which` names
/// (a row's is a wait for the transaction holding it, whose lock names no database). The
/// server's lock table is the only sign of it, so it is read until it shows one.
async fn wait_for_a_lock(rows: &mut sqlx::AnyConnection, which: &str, what: &str) {
    let sql = format!(
        "SELECT COUNT(*) FROM pg_locks
         WHERE {which} AND NOT granted
           AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
    );
    for _ in 0..1000 {
        let waiting: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_one(&mut *rows)
            .await
            .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{what} did not wait for the lock the test holds within ten seconds");
}

/// A move of open pulses' answers runs beside the answers, never before them: after a large
/// org's burst the moves take seconds in all, and Slack gives a modal's submission three. Here
/// a move is held (the test takes the moves' lock, as another replica's move would hold it)
/// once one team's answers wait to be moved, and another team's seller answers meanwhile: the
/// answer is recorded while the move still waits, and once the move goes on, the first team's
/// rows share one transaction and nothing is lost. With the move run by the writers' loop
/// itself, the answer waited for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_answer_does_not_wait_for_a_move_under_way() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let teams = open_team_waves(&store, &["U0BOSS1", "U0BOSS2"], 4).await;
    let (moved, other) = (&teams[0].wave.wave_id, &teams[1]);
    let holder = hold_the_moves(&db.url).await;
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    answer_one_at_a_time(&store, moved, &teams[0].invitees[..2]).await;
    wait_for_a_move_held(&mut rows).await;

    let seller = &other.invitees[0];
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.record_submission(&other.wave.wave_id, seller, &answers(4, 4, 4), now()),
    )
    .await;
    assert!(
        matches!(answered, Ok(Ok(()))),
        "the answer waited for the move under way: {answered:?}"
    );
    holder.close().await.unwrap();
    store.close().await;
    assert_eq!(
        stamps(&mut rows, moved).await,
        (2, 2, 1),
        "(tokens, ballots, transactions)"
    );
    assert_eq!(stamps(&mut rows, &other.wave.wave_id).await, (1, 1, 1));
    rows.close().await.unwrap();
    db.finish().await;
}

/// A move of open pulses' answers takes no writer from the batches: a move can wait (for a
/// scrub's rewrite of a partition, a release, another replica's move), and when it held one
/// of the two batches' writers while a batch waited on the other, every answer of the org
/// waited with them. Here a move is held (the test holds the moves' lock) and so is a batch
/// (the test holds its pulse's row, as a release closing that pulse would): a third team's
/// answer is still recorded meanwhile. With the move on a batches' writer, it waited for one
/// of the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_move_under_way_leaves_the_answers_both_writers() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let teams = open_team_waves(&store, &["U0BOSS1", "U0BOSS2", "U0BOSS3"], 4).await;
    let (moved, held, free) = (&teams[0], &teams[1], &teams[2]);
    let moves_holder = hold_the_moves(&db.url).await;
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    answer_one_at_a_time(&store, &moved.wave.wave_id, &moved.invitees[..2]).await;
    wait_for_a_move_held(&mut rows).await;

    let mut wave_holder = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut hold_wave = wave_holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM waves WHERE wave_id = $1 FOR UPDATE")
        .bind(held.wave.wave_id.as_str())
        .execute(&mut *hold_wave)
        .await
        .unwrap();
    let held_answer = tokio::spawn({
        let store = store.clone();
        let (wave, seller) = (held.wave.wave_id.clone(), held.invitees[0].clone());
        async move {
            store
                .record_submission(&wave, &seller, &answers(3, 3, 3), now())
                .await
        }
    });
    wait_for_a_batch_held(&mut rows).await;

    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.record_submission(
            &free.wave.wave_id,
            &free.invitees[0],
            &answers(4, 4, 4),
            now(),
        ),
    )
    .await;
    assert!(
        matches!(answered, Ok(Ok(()))),
        "the answer waited for a writer while a move and a batch were held: {answered:?}"
    );
    hold_wave.rollback().await.unwrap();
    assert!(
        matches!(held_answer.await, Ok(Ok(()))),
        "the held batch's answer is recorded"
    );
    moves_holder.close().await.unwrap();
    store.close().await;
    assert_eq!(
        stamps(&mut rows, &moved.wave.wave_id).await,
        (2, 2, 1),
        "(tokens, ballots, transactions)"
    );
    assert_eq!(stamps(&mut rows, &held.wave.wave_id).await, (1, 1, 1));
    assert_eq!(stamps(&mut rows, &free.wave.wave_id).await, (1, 1, 1));
    for holder in [rows, wave_holder] {
        holder.close().await.unwrap();
    }
    db.finish().await;
}

/// The server's counters of the answer tables' partitions: rows read by sequential scans,
/// rows deleted; and how many other connections to the test's database are still open (each
/// sends its counters as it closes).
async fn partition_reads(rows: &mut sqlx::AnyConnection) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT COALESCE(SUM(seq_tup_read), 0)::BIGINT, COALESCE(SUM(n_tup_del), 0)::BIGINT,
                (SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid())
         FROM pg_stat_user_tables WHERE relname ~ '^(participation|ballots|comments)_[0-9]+$'",
    )
    .fetch_one(rows)
    .await
    .unwrap()
}

/// A move reads the rows of the pulses it moves through their key, not every open answer of
/// the org: the answer tables keep no statistics, and PostgreSQL's guess for a list of pulses
/// had it read every partition whole at each move (with 15,000 pulses, most of a move's
/// time, and more as the org grows). Here eight pulses are answered, their tables'
/// statistics refreshed, then the pulses moved; once the store has closed and the server's
/// counters show the moves' deletes, they show no row of an answer table read by a
/// sequential scan. (The start-up's rewrite of the empty tables reads none either.) Without
/// the move's own plan settings, all 40 rows were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_move_reads_only_the_pulses_it_moves() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let teams = open_numbered_teams(&store, 8, 2).await;
    for team in &teams {
        answer_one_at_a_time(&store, &team.wave.wave_id, &team.invitees).await;
    }
    // As a planner tick does: the answer tables' row counts, with which a list of pulses
    // looked to the planner like most of these small partitions.
    store.refresh_statistics().await.unwrap();
    store.close().await;

    // Read until every connection of the store has closed and the moves' deletes are counted
    // (16 tokens, 16 ballots and 8 comments, each moved at least once), ten seconds at most.
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut read = partition_reads(&mut rows).await;
    for _ in 0..1000 {
        if read.1 >= 40 && read.2 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        read = partition_reads(&mut rows).await;
    }
    let (scanned, deleted, open) = read;
    assert!(deleted >= 40 && open == 0, "the counters came in: {read:?}");
    assert_eq!(
        scanned, 0,
        "rows of the answer tables read by sequential scans"
    );
    for team in &teams {
        assert_eq!(stamps(&mut rows, &team.wave.wave_id).await, (2, 2, 1));
    }
    rows.close().await.unwrap();
    db.finish().await;
}

/// On PostgreSQL two batches are written at once, on two connections. Two batches holding the
/// same 130 sellers (too many for one transaction together), each shuffled its own way, and
/// written side by side: each seller counts once and the other submission is told it was
/// already recorded. Neither batch fails: they insert the tokens they share in one order, so
/// neither waits for a lock the other waits to take (a deadlock, which PostgreSQL ends after a
/// second by failing one of them, every answer in it with it). Whether the two would take
/// those locks crosswise depends on timing, hence twelve teams, one after another: with the
/// tokens inserted in each batch's own order, about one team in ten deadlocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_in_flight_side_by_side_record_each_seller_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    for opened in open_numbered_teams(&store, 12, 130).await {
        let wave = opened.wave.wave_id.as_str();
        let batch = |score: i64| -> Vec<Submission> {
            let each = opened.invitees.iter();
            each.map(|seller| submission(wave, seller, (score, 3, 3), None))
                .collect()
        };
        let (first, second) = tokio::join!(
            store.record_submissions(batch(1)),
            store.record_submissions(batch(5))
        );
        for (seller, outcomes) in opened.invitees.iter().zip(first.iter().zip(&second)) {
            match outcomes {
                (Ok(()), Err(SubmissionError::AlreadyAnswered))
                | (Err(SubmissionError::AlreadyAnswered), Ok(())) => {}
                other => panic!("{seller}: one submission counts, the other is told so: {other:?}"),
            }
        }
        assert_eq!(ballot_count(&store, wave).await, 130);
        assert_eq!(
            store
                .window_respondents(&opened.wave.window_id)
                .await
                .unwrap(),
            130
        );
    }
    store.close().await;
    db.finish().await;
}

/// A release closing two pulses and a batch with answers to both, at the same moment on
/// PostgreSQL: both lock the pulses' rows in the order of their ids, so neither holds one the
/// other waits for. The close here is held after it has locked the first pulse, as
/// `close_waves` locks them; the batch waits for it holding nothing, the close locks the
/// second, and the batch goes through once the close is done. (Locked crosswise, the two
/// would deadlock and PostgreSQL would fail one side. The batch's read already listed its
/// pulses in order, and the plans seen here locked them in that order; its `ORDER BY` makes
/// that hold whatever the plan, so this test passes without it too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_close_and_a_batch_lock_pulses_in_one_order() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let teams = open_team_waves(&store, &["U0BOSS1", "U0BOSS2"], 8).await;
    let mut waves: Vec<String> = teams.iter().map(|t| t.wave.wave_id.clone()).collect();
    waves.sort();
    let mut closer = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut watcher = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let lock = "SELECT wave_id FROM waves WHERE wave_id = $1 FOR UPDATE";
    for round in 0..6 {
        let mut close = closer.begin().await.unwrap();
        sqlx::query(lock)
            .bind(&waves[0])
            .execute(&mut *close)
            .await
            .unwrap();
        let batch: Vec<Submission> = teams
            .iter()
            .map(|t| submission(&t.wave.wave_id, &t.invitees[round], (4, 4, 4), None))
            .collect();
        let answering = tokio::spawn({
            let store = store.clone();
            async move { store.record_submissions(batch).await }
        });
        waiting_for_locks(&mut watcher, 1).await;
        let second = sqlx::query(lock).bind(&waves[1]).execute(&mut *close);
        let second = tokio::time::timeout(std::time::Duration::from_secs(20), second).await;
        assert!(
            matches!(second, Ok(Ok(_))),
            "round {round}: the close locked its second pulse: {second:?}"
        );
        close.rollback().await.unwrap();
        let outcomes = answering.await.unwrap();
        assert!(
            outcomes.iter().all(Result::is_ok),
            "round {round}: the batch went through after the close: {outcomes:?}"
        );
    }
    store.close().await;
    db.finish().await;
}

/// On PostgreSQL a batch reads its pulses without locking them and locks them only as it
/// writes, so a release can close a pulse in between. Here the test holds one of two pulses
/// as a release's close does, a batch with an answer to each reads both as open and waits to
/// write, and the close then commits: the answer to the closed pulse is refused as late and
/// leaves no token and no ballot in its window, and the other pulse's answer is recorded.
/// Written to the closed pulse, the answer would have landed in a window already released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_pulse_closed_while_a_batch_waits_to_write_refuses_its_answer() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store.clone();
    let teams = open_team_waves(&store, &["U0BOSS1", "U0BOSS2"], 4).await;
    let (closing, open) = (&teams[0], &teams[1]);
    let mut closer = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut close = closer.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM waves WHERE wave_id = $1 FOR UPDATE")
        .bind(closing.wave.wave_id.as_str())
        .execute(&mut *close)
        .await
        .unwrap();
    let batch = vec![
        submission(
            &closing.wave.wave_id,
            &closing.invitees[0],
            (2, 2, 2),
            Some("late"),
        ),
        submission(&open.wave.wave_id, &open.invitees[0], (4, 4, 4), None),
    ];
    let answering = tokio::spawn({
        let store = store.clone();
        async move { store.record_submissions(batch).await }
    });
    wait_for_a_batch_held(&mut rows).await;
    sqlx::query("UPDATE waves SET state = 'closed', closed_at = closes_at WHERE wave_id = $1")
        .bind(closing.wave.wave_id.as_str())
        .execute(&mut *close)
        .await
        .unwrap();
    close.commit().await.unwrap();

    let outcomes = answering.await.unwrap();
    assert!(
        matches!(
            outcomes.as_slice(),
            [Err(SubmissionError::WaveClosed), Ok(())]
        ),
        "the answer to the pulse closed meanwhile is refused, the other recorded: {outcomes:?}"
    );
    store.close().await;
    let (tokens, ballots, _) = stamps(&mut rows, &closing.wave.wave_id).await;
    let comments = comment_rows(&mut rows, &closing.wave.wave_id).await;
    assert_eq!(
        (tokens, ballots, comments),
        (0, 0, 0),
        "(tokens, ballots, comments) in the closed pulse's window"
    );
    assert_eq!(stamps(&mut rows, &open.wave.wave_id).await, (1, 1, 1));
    for holder in [rows, closer] {
        holder.close().await.unwrap();
    }
    db.finish().await;
}

/// A release that runs while another replica rewrites the same pulse's answers (above) still
/// deletes every one of them: the rewrite moves only pulses still open, under a lock that the
/// release's closing of the pulse waits for. Without that lock, the release's `DELETE` would
/// skip the rows the rewrite deleted and miss the ones it inserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_release_during_the_rewrite_of_its_answers_deletes_them_all() {
    use trustpulse::ops::waves;
    use trustpulse::privacy::window::ReleasePolicy;
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let releasing = db.store.clone();
    let opened = open_team_wave(&releasing, "U0BOSS1", 6).await;
    let wave = opened.wave.clone();
    let answering = Store::connect(&db.url).await.unwrap();
    answer_one_at_a_time(&answering, &wave.wave_id, &opened.invitees[..5]).await;
    // Holding the comment's row stops the rewrite after it has moved the tokens and ballots.
    let mut holder = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM comments WHERE wave_id = $1 FOR UPDATE")
        .bind(&wave.wave_id)
        .execute(&mut *held)
        .await
        .unwrap();
    let mut watcher = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let rewrite = tokio::spawn(async move { answering.close().await });
    waiting_for_locks(&mut watcher, 1).await;
    let release = tokio::spawn({
        let (store, wave) = (releasing.clone(), wave.clone());
        async move { waves::close_and_release(&store, &wave, &ReleasePolicy::default(), now()).await }
    });
    waiting_for_locks(&mut watcher, 2).await;
    held.commit().await.unwrap();
    rewrite.await.unwrap();
    assert!(
        release.await.unwrap().unwrap().is_some(),
        "the pulse was released"
    );
    let left = releasing.ballots_of_wave(&wave.wave_id).await.unwrap();
    assert!(
        left.is_empty(),
        "{} ballots left after the release",
        left.len()
    );
    let report = releasing.audit().await.unwrap();
    assert!(report.holds(), "{report:#?}");
    db.finish().await;
}

// The database's own checks of an answer row, behind the writer's. PostgreSQL no longer checks
// each token, ballot and comment against its pulse as it is written (migration 17: the writer
// locks its pulses and writes only to those open); SQLite still does. Either way an answer row
// of no pulse does not go unseen: the audit names it. Both still refuse a score out of range.
on_both_databases! {
    async fn an_answer_row_out_of_range_is_refused_and_one_of_no_pulse_refused_or_named(db: TestDb) {
        let opened = open_team_wave(&db.store, "U0BOSS1", 3).await;
        let wave = opened.wave.wave_id.clone();
        db.store
            .record_submission(&wave, &opened.invitees[0], &answers(4, 3, 5), now())
            .await
            .unwrap();
        const ROWS: &str = "every token, ballot and comment belongs to a pulse";
        assert_eq!(
            audit_check(&db.store.audit().await.unwrap(), ROWS),
            (true, "every answer row checked".to_owned())
        );

        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        for (column, bad) in [("care", 6), ("help", 0), ("trust", -1), ("follow_through", 5)] {
            let values = match column {
                "follow_through" => format!("4, 4, 4, {bad}"),
                "care" => format!("{bad}, 4, 4, NULL"),
                "help" => format!("4, {bad}, 4, NULL"),
                _ => format!("4, 4, {bad}, NULL"),
            };
            let refused = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO ballots (ballot_id, wave_id, care, help, trust, follow_through)
                 VALUES ('b0bad', '{wave}', {values})"
            )))
            .execute(&mut conn)
            .await;
            assert!(refused.is_err(), "{column} = {bad} was stored");
        }
        assert_eq!(ballot_count(&db.store, &wave).await, 1, "only the real answer");

        let orphans = [
            "INSERT INTO ballots (ballot_id, wave_id, care, help, trust) VALUES ('b0gone', 'W0GONE', 3, 3, 3)",
            "INSERT INTO comments (comment_id, wave_id, body) VALUES ('c0gone', 'W0GONE', 'hello')",
        ];
        for orphan in orphans {
            let result = sqlx::query(orphan).execute(&mut conn).await;
            if db.url.starts_with("sqlite") {
                assert!(result.is_err(), "SQLite refuses an answer row of no pulse: {orphan}");
            } else {
                result.expect("PostgreSQL leaves the check to the writer and the audit");
            }
        }
        // A token filed under its pulse but another window: a release, which counts and deletes
        // tokens by window, would miss it. Neither backend's reference covers this; the audit does.
        let token = if db.url.starts_with("sqlite") { "X'0102'" } else { "'\\x0102'" };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO participation (wave_id, window_id, token) VALUES ('{wave}', 'X0OTHER', {token})"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let found = if db.url.starts_with("sqlite") { 1 } else { 3 };
        let report = db.store.audit().await.unwrap();
        assert_eq!(
            audit_check(&report, ROWS),
            (
                false,
                format!("found {found} answer row(s) whose pulse does not exist, or whose token names another window")
            )
        );
        assert!(!report.holds());
        db.finish().await;
    }
}

/// What a reader of a SQLite file sees of one pulse's answers: its tokens and its ballots, each
/// as the bytes to look for in the file, in the order its sellers answered.
struct PulseOnDisk {
    tokens: Vec<Vec<u8>>,
    ballots: Vec<Vec<u8>>,
}

/// A seller's answers, different for each of the first 25, so that a ballot says whose it is
/// to the test.
fn scores(i: usize) -> [i64; 3] {
    [1 + (i % 5) as i64, 1 + (i / 5 % 5) as i64, 3]
}

/// `opened`'s invitees answer one at a time, each in a transaction of their own (their own
/// batch), in order; the test then makes their tokens from the stored key (no token secret
/// here) and finds their ballots by their answers.
async fn answered_one_at_a_time(
    db: &TestDb,
    rows: &mut sqlx::AnyConnection,
    opened: &OpenedWave,
) -> PulseOnDisk {
    let wave = &opened.wave.wave_id;
    for (i, seller) in opened.invitees.iter().enumerate() {
        let [care, help, trust] = scores(i);
        db.store
            .record_submission(wave, seller, &answers(care, help, trust), now())
            .await
            .unwrap();
    }
    let (key, secret): (Vec<u8>, Option<String>) =
        sqlx::query_as("SELECT hmac_key, secret_id FROM window_keys WHERE window_id = $1")
            .bind(&opened.wave.window_id)
            .fetch_one(&mut *rows)
            .await
            .unwrap();
    assert_eq!(
        secret, None,
        "no token secret here: the key makes the tokens"
    );
    let key = trustpulse::privacy::token::WindowKey::from_bytes(&key).unwrap();
    let tokens = opened
        .invitees
        .iter()
        .map(|seller| key.token_for(seller).as_bytes().to_vec())
        .collect();
    // Where they arrived, or moved already.
    let stored: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT ballot_id, care, help, trust FROM ballots WHERE wave_id = $1
         UNION SELECT ballot_id, care, help, trust FROM arriving_ballots WHERE wave_id = $1",
    )
    .bind(wave)
    .fetch_all(&mut *rows)
    .await
    .unwrap();
    let mut ballots = vec![Vec::new(); opened.invitees.len()];
    for (id, care, help, trust) in stored {
        let i = (0..ballots.len())
            .find(|&i| scores(i) == [care, help, trust])
            .unwrap();
        ballots[i] = id.into_bytes();
    }
    PulseOnDisk { tokens, ballots }
}

impl PulseOnDisk {
    /// The order of the pulse's tokens and of its ballots in the file's pages, as indexes in
    /// the order they came, after a checkpoint has copied the WAL into the file.
    async fn order(&self, db: &TestDb, rows: &mut sqlx::AnyConnection) -> (Vec<usize>, Vec<usize>) {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *rows)
            .await
            .unwrap();
        let path = db.store.sqlite_path().unwrap();
        (
            trustpulse::store::sqlite_order_in_file(path, &self.tokens).unwrap(),
            trustpulse::store::sqlite_order_in_file(path, &self.ballots).unwrap(),
        )
    }

    /// Whether every token and ballot is in the file once, neither in the order they came. (By
    /// chance, one move of twelve answers in 12! would leave either as it was.) A ballot still
    /// where it arrived (`arriving_ballots`, in the order of arrival) is found twice once
    /// copied, and a checkpoint that a writer kept from finishing may leave some in the WAL
    /// only: not moved yet, then.
    fn moved(&self, (tokens, ballots): &(Vec<usize>, Vec<usize>)) -> bool {
        let came: Vec<usize> = (0..self.tokens.len()).collect();
        let unordered = |found: &Vec<usize>| {
            let mut sorted = found.clone();
            sorted.sort_unstable();
            sorted == came && *found != came
        };
        unordered(tokens) && unordered(ballots)
    }
}

/// SQLite keeps a page's rows in the order they were written (each new row's bytes just
/// below those already there), so answers written one at a time, as a real org's come,
/// would pair each token with its ballot to anyone reading the file who can make the tokens
/// (the operator, who holds the token secret). Once the writer is quiet (here: when the store
/// closes), a pulse's answers are written again in random order: the file's order of its
/// tokens and of its ballots no longer says who came when, and nothing is lost. (Before the
/// move they are in the order they came, as `answer_move.rs`'s own test shows on SQLite
/// alone; the writer moves them a quiet second after the last answer, a race for this test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_file_keeps_no_order_of_a_pulses_answers_once_the_writer_is_quiet() {
    let db = TestDb::sqlite().await;
    let opened = open_team_wave(&db.store, "U0BOSS1", 12).await;
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let pulse = answered_one_at_a_time(&db, &mut rows, &opened).await;
    db.store.close().await;
    let order = pulse.order(&db, &mut rows).await;
    assert_eq!(order.0.len(), 12, "every token is in the file");
    assert_eq!(order.1.len(), 12, "every ballot is in the file");
    assert!(
        pulse.moved(&order),
        "the file still says who came when: {order:?}"
    );
    rows.close().await.unwrap();
    db.finish().await;
}

/// On SQLite a token, too, waits where it arrived (`arriving_participation`, no key) until its
/// pulse's move, and `participation`'s key cannot refuse a second answer meanwhile: the
/// writer refuses it by the tokens it knows are there. A writer started again (here after a
/// stop whose move failed, as after a crash before the move) reads them first, so the second
/// answer is refused then too; every reader counts the person once, and the next move takes
/// the token to `participation`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_second_answer_is_refused_while_the_first_token_waits_where_it_arrived() {
    let db = TestDb::sqlite().await;
    let opened = open_team_wave(&db.store, "U0BOSS1", 6).await;
    let (wave, window) = (&opened.wave.wave_id, &opened.wave.window_id);
    let seller = &opened.invitees[0];
    db.store
        .record_submission(wave, seller, &answers(4, 4, 4), now())
        .await
        .unwrap();
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    assert_eq!(
        token_rows(&db.url).await,
        (0, 1),
        "the token waits where it arrived"
    );
    let again = db
        .store
        .record_submission(wave, seller, &answers(1, 1, 1), now())
        .await;
    assert!(
        matches!(again, Err(SubmissionError::AlreadyAnswered)),
        "{again:?}"
    );
    assert_eq!(
        db.store.has_answered(wave, seller).await.unwrap(),
        Some(true)
    );
    assert_eq!(db.store.window_respondents(window).await.unwrap(), 1);

    // The move fails, so the token stays where it arrived across the writer's stop.
    sqlx::query(
        "CREATE TRIGGER no_move BEFORE INSERT ON participation
         BEGIN SELECT RAISE(ABORT, 'no move'); END",
    )
    .execute(&mut rows)
    .await
    .unwrap();
    db.store.close().await;
    assert_eq!(token_rows(&db.url).await, (0, 1), "the stop's move failed");
    sqlx::query("DROP TRIGGER no_move")
        .execute(&mut rows)
        .await
        .unwrap();

    let store = Store::connect(&db.url).await.unwrap();
    let again = store
        .record_submission(wave, seller, &answers(1, 1, 1), now())
        .await;
    assert!(
        matches!(again, Err(SubmissionError::AlreadyAnswered)),
        "{again:?}"
    );
    store
        .record_submission(wave, &opened.invitees[1], &answers(2, 2, 2), now())
        .await
        .unwrap();
    assert_eq!(ballot_count(&store, wave).await, 2, "one ballot each");
    assert_eq!(store.window_respondents(window).await.unwrap(), 2);
    store.close().await;
    assert_eq!(
        token_rows(&db.url).await,
        (2, 0),
        "moved as the store stopped"
    );
    rows.close().await.unwrap();
    db.finish().await;
}

/// The quiet second may never come: in a large org's first hours answers arrive steadily. So
/// on SQLite too, a pulse whose answers have waited five seconds is moved while answers keep
/// coming. Here one team answers one at a time, then another team's sellers answer one every
/// 200 ms (the pace of the stream is the point, so it is real time); the first team's rows
/// lose their order before the stream ends, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_answers_that_never_pause_are_still_moved_within_seconds() {
    let db = TestDb::sqlite().await;
    let teams = open_team_waves(&db.store, &["U0BOSS1", "U0BOSS2"], 40).await;
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let first = OpenedWave {
        invitees: teams[0].invitees[..12].to_vec(),
        ..teams[0].clone()
    };
    let pulse = answered_one_at_a_time(&db, &mut rows, &first).await;
    let stream = &teams[1];
    let mut answered: i64 = 0;
    let mut moved = false;
    for seller in &stream.invitees {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        db.store
            .record_submission(&stream.wave.wave_id, seller, &answers(3, 3, 3), now())
            .await
            .unwrap();
        answered += 1;
        if pulse.moved(&pulse.order(&db, &mut rows).await) {
            moved = true;
            break;
        }
    }
    assert!(
        moved,
        "the first team's answers kept their order after {answered} more answers"
    );
    let kept = db
        .store
        .ballots_of_wave(&stream.wave.wave_id)
        .await
        .unwrap();
    assert_eq!(
        kept.len() as i64,
        answered,
        "every answer of the stream is kept"
    );
    rows.close().await.unwrap();
    db.finish().await;
}

/// On SQLite, ballots and comments arrive in tables of their own, in the order they came, and
/// are moved to their pulse's tables within seconds (`sqlite_writer/arrivals.rs`). Rows an
/// earlier run left there (it crashed before their move, or after it and before it deleted
/// them) are read as answers meanwhile, each once, and are moved and deleted from where they
/// arrived by the next run: here as the store stops, with no new answer to wake its writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_answers_an_earlier_run_left_where_they_arrived_are_moved_by_the_next() {
    let db = TestDb::sqlite().await;
    let opened = open_team_wave(&db.store, "U0BOSS1", 5).await;
    let wave = opened.wave.wave_id.as_str();
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        // Not moved yet.
        "INSERT INTO arriving_ballots (ballot_id, wave_id, care, help, trust) VALUES ('b1', $1, 5, 4, 3)",
        "INSERT INTO arriving_comments (comment_id, wave_id, body) VALUES ('c1', $1, 'More ride-alongs')",
        // Moved, and not yet deleted from where it arrived.
        "INSERT INTO arriving_ballots (ballot_id, wave_id, care, help, trust) VALUES ('b2', $1, 2, 2, 2)",
        "INSERT INTO ballots (ballot_id, wave_id, care, help, trust) VALUES ('b2', $1, 2, 2, 2)",
    ] {
        sqlx::query(statement)
            .bind(wave)
            .execute(&mut rows)
            .await
            .unwrap();
    }
    rows.close().await.unwrap();
    let read = |store: Store| async move {
        let mut ballots: Vec<[i64; 3]> = store
            .ballots_of_wave(wave)
            .await
            .unwrap()
            .iter()
            .map(|b| b.values())
            .collect();
        ballots.sort_unstable();
        (ballots, store.comments_of_wave(wave).await.unwrap())
    };
    let expected = (
        vec![[2, 2, 2], [5, 4, 3]],
        vec!["More ride-alongs".to_owned()],
    );
    assert_eq!(
        read(db.store.clone()).await,
        expected,
        "each answer read once"
    );

    db.store.close().await;
    let store = Store::connect(&db.url).await.unwrap();
    assert_eq!(read(store.clone()).await, expected, "every answer kept");
    assert_eq!(
        arriving_left(&db).await,
        (0, 0, 1),
        "moved, and gone from where they arrived"
    );
    store.close().await;
    db.finish().await;
}

/// The ballots and comments left where they arrived, and the comments in their pulses' table.
async fn arriving_left(db: &TestDb) -> (i64, i64, i64) {
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let left = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM arriving_ballots), (SELECT COUNT(*) FROM arriving_comments),
                (SELECT COUNT(*) FROM comments)",
    )
    .fetch_one(&mut rows)
    .await
    .unwrap();
    rows.close().await.unwrap();
    left
}

/// On SQLite, a move takes only the pulses whose rows fit one transaction's share of the WAL
/// (`sqlite_writer/move_size.rs`): eight pulses of 25 answers with comments of 2,000
/// characters go a few at a time. Those left for the next transaction are moved too, their
/// comments with them (from where they arrived, which they leave only once moved), and none
/// is lost or kept twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_long_comments_to_many_pulses_are_moved_a_few_pulses_at_a_time_and_all_kept() {
    let db = TestDb::sqlite().await;
    let managers: Vec<String> = (1..=8).map(|i| format!("U0BOSS{i}")).collect();
    let managers: Vec<&str> = managers.iter().map(String::as_str).collect();
    let teams = open_team_waves(&db.store, &managers, 25).await;
    let longest = trustpulse::survey::COMMENT_MAX_CHARS;
    let mut expected = Vec::new();
    for (t, team) in teams.iter().enumerate() {
        let mut comments = Vec::new();
        for (i, seller) in team.invitees.iter().enumerate() {
            let mut answer = answers(3, 4, 5);
            let comment = format!("{t}-{i:02} {}", "x".repeat(longest - 6));
            answer.comment = Some(comment.clone());
            db.store
                .record_submission(&team.wave.wave_id, seller, &answer, now())
                .await
                .unwrap();
            comments.push(comment);
        }
        comments.sort();
        expected.push(comments);
    }
    db.store.close().await;

    let store = Store::connect(&db.url).await.unwrap();
    for (team, comments) in teams.iter().zip(&expected) {
        let wave = &team.wave.wave_id;
        assert_eq!(store.ballots_of_wave(wave).await.unwrap().len(), 25);
        let mut kept = store.comments_of_wave(wave).await.unwrap();
        kept.sort();
        assert!(kept == *comments, "{} of 25 comments kept", kept.len());
    }
    assert_eq!(
        arriving_left(&db).await,
        (0, 0, 200),
        "moved, and gone from where they arrived"
    );
    store.close().await;
    db.finish().await;
}

/// On SQLite, a release reads its pulses' ballots and comments from where they arrived as
/// well, each once: one the move copied to `ballots` and the sweep has not yet deleted is
/// counted once. Its release deletes them from both places, so nothing of the window is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_release_counts_answers_where_they_arrived_once_and_deletes_them_there() {
    let db = TestDb::sqlite().await;
    let opened = open_team_wave(&db.store, "U0BOSS1", 6).await;
    let wave = opened.wave.wave_id.as_str();
    for (i, seller) in opened.invitees[..5].iter().enumerate() {
        let care = if i < 3 { 5 } else { 1 };
        let comment = (i == 4).then_some("More ride-alongs");
        for outcome in db
            .store
            .record_submissions(vec![submission(wave, seller, (care, 3, 3), comment)])
            .await
        {
            outcome.unwrap();
        }
    }
    // As a move leaves them: copied, not yet deleted where they arrived.
    let mut rows = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "INSERT OR IGNORE INTO ballots SELECT * FROM arriving_ballots WHERE wave_id = $1 AND care = 1",
        "INSERT OR IGNORE INTO comments SELECT * FROM arriving_comments WHERE wave_id = $1",
    ] {
        sqlx::query(statement)
            .bind(wave)
            .execute(&mut rows)
            .await
            .unwrap();
    }

    waves::close_and_release(&db.store, &opened.wave, &ReleasePolicy::default(), now())
        .await
        .unwrap();
    let release: trustpulse::digest::release::Release = serde_json::from_str(
        &db.store
            .release_bytes(&opened.wave.window_id)
            .await
            .unwrap()
            .expect("5 of 6 answered: released"),
    )
    .unwrap();
    let trustpulse::digest::release::ReleaseBody::Results {
        respondents,
        questions,
        comments,
        ..
    } = release.body
    else {
        panic!("results expected");
    };
    assert_eq!(respondents, 5);
    assert_eq!(
        questions[0].mean_tenths, 34,
        "(5 + 5 + 5 + 1 + 1) / 5, each ballot once"
    );
    assert_eq!(comments, ["More ride-alongs"], "the comment once");
    let left: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM arriving_ballots), (SELECT COUNT(*) FROM arriving_comments),
                (SELECT COUNT(*) FROM ballots), (SELECT COUNT(*) FROM comments)",
    )
    .fetch_one(&mut rows)
    .await
    .unwrap();
    assert_eq!(left, (0, 0, 0, 0), "nothing of the window left anywhere");
    rows.close().await.unwrap();
    db.finish().await;
}
