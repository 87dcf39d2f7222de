//! The token secret (`TRUSTPULSE_TOKEN_SECRET`): while a pulse is open, its window's key is in
//! the database, and without the secret that key alone makes every invitee's token, so the
//! database alone tells who answered (and, through the WAL's latest commits, may pair them with
//! their ballots). With the secret, kept outside the database, it names no one; a rotation keeps
//! open pulses answerable once; a secret dropped too early is named at start-up, with the teams
//! it stops, and never lets anyone answer twice.

use trustpulse::app::Application;
use trustpulse::privacy::token::{TokenSecret, TokenSecrets, WindowKey};
use trustpulse::sim::fake_slack::FakeSlack;
use trustpulse::store::{Store, SubmissionError};

use crate::app::{TOKEN_SECRET, TestApp, captured_logs, run_test};
use crate::helpers::*;

const SECRET_A: &str = "made-up-token-secret-a-0123456789abcdef";
const SECRET_B: &str = "made-up-token-secret-b-0123456789abcdef";

fn secrets(texts: &[&str]) -> TokenSecrets {
    TokenSecrets::new(texts.iter().map(|t| TokenSecret::new(t).unwrap()).collect())
}

/// What someone with the database learns about an open pulse: its stored key, its secret id
/// (if any) and its participation tokens, read as any reader of the files could.
struct OpenPulseOnDisk {
    stored_key: Vec<u8>,
    secret_id: Option<String>,
    tokens: Vec<Vec<u8>>,
    invitees: Vec<String>,
}

impl OpenPulseOnDisk {
    /// The invitees whose token `key` makes, in order.
    fn named_by(&self, key: &WindowKey) -> Vec<String> {
        self.invitees
            .iter()
            .filter(|p| self.tokens.contains(&key.token_for(p).as_bytes().to_vec()))
            .cloned()
            .collect()
    }

    /// Who the stored key alone names: the attack.
    fn named_by_the_database_alone(&self) -> Vec<String> {
        self.named_by(&WindowKey::from_bytes(&self.stored_key).unwrap())
    }
}

/// A team of six, a pulse, two answers through Slack, and what the database then holds.
async fn two_answers(app: &TestApp) -> OpenPulseOnDisk {
    let opened = app.open_pulse("U0BOSS1", 6).await;
    for seller in ["U0BOSS1S1", "U0BOSS1S2"] {
        let reply = app.answer(seller, "4", "2", "5", None).await;
        assert_eq!(reply.body["view"]["title"]["text"], "Thank you");
    }
    let store = &app.state.store;
    let keys = store.dump_table("window_keys").await.unwrap();
    assert_eq!(keys.len(), 1, "one window key: {keys:?}");
    let columns: Vec<&str> = keys[0].split('|').collect();
    let tokens = crate::helpers::tokens_on_disk(store).await;
    assert_eq!(tokens.len(), 2, "two tokens");
    OpenPulseOnDisk {
        stored_key: hex::decode(columns[1]).unwrap(),
        secret_id: Some(columns[2])
            .filter(|id| !id.is_empty() && *id != "NULL")
            .map(str::to_owned),
        tokens,
        invitees: opened.invitees,
    }
}

fn holds(report: &trustpulse::store::AuditReport, promise: &str) -> bool {
    report
        .checks
        .iter()
        .find(|c| c.promise.starts_with(promise))
        .unwrap_or_else(|| panic!("the audit checks {promise:?}: {report:#?}"))
        .holds
}

const PROMISE: &str = "no open pulse's participation tokens can be made from the database alone";

#[test]
fn with_a_token_secret_the_database_alone_names_no_one_who_answered() {
    run_test(async |app| {
        let disk = two_answers(app).await;
        assert_eq!(disk.named_by_the_database_alone(), Vec::<String>::new());
        // The reading is right: with the secret, the same rows name exactly who answered.
        let key = secrets(&[TOKEN_SECRET])
            .window_key(&disk.stored_key, disk.secret_id.as_deref())
            .unwrap();
        assert_eq!(disk.named_by(&key), ["U0BOSS1S1", "U0BOSS1S2"]);
        let report = app.state.store.audit().await.unwrap();
        assert!(holds(&report, PROMISE), "{report:#?}");
    });
}

/// The control: what a deployment without the secret leaves, which the audit names, and which
/// `serve` warns about at start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_secret_the_database_alone_names_who_answered_and_says_so() {
    let app = TestApp::spawn_without_token_secret().await;
    assert!(
        captured_logs().contains("TRUSTPULSE_TOKEN_SECRET is not set"),
        "serve warns at start-up"
    );
    let disk = two_answers(&app).await;
    assert_eq!(disk.secret_id, None);
    assert_eq!(
        disk.named_by_the_database_alone(),
        ["U0BOSS1S1", "U0BOSS1S2"]
    );
    let report = app.state.store.audit().await.unwrap();
    assert!(!holds(&report, PROMISE), "{report:#?}");
    app.stop().await;
}

on_both_databases! {
    async fn a_rotated_secret_keeps_open_pulses_answerable_once_and_a_dropped_one_is_named(db: TestDb) {
        import_teams(&db.store, &[team("U0BOSS1", 6), team("U0BOSS2", 5)]).await;
        let under_a = Store::connect_with(&db.url, secrets(&[SECRET_A])).await.unwrap();
        let opened = open_wave_at(&under_a, "U0BOSS1", "2026-11-23", ts("2026-11-26T10:00:00Z")).await.unwrap();
        let (wave, sellers) = (&opened.wave.wave_id, &opened.invitees);
        under_a.record_submission(wave, &sellers[0], &answers(4, 4, 4), now()).await.unwrap();
        under_a.close().await;

        // Rotated: the new secret first, the old one after it.
        let rotated = Store::connect_with(&db.url, secrets(&[SECRET_B, SECRET_A])).await.unwrap();
        rotated.check_token_secrets().await.unwrap();
        assert_eq!(rotated.has_answered(wave, &sellers[0]).await.unwrap(), Some(true));
        let again = rotated.record_submission(wave, &sellers[0], &answers(1, 1, 1), now()).await;
        assert!(matches!(again, Err(SubmissionError::AlreadyAnswered)), "{again:?}");
        rotated.record_submission(wave, &sellers[1], &answers(2, 2, 2), now()).await.unwrap();
        let second = open_wave_at(&rotated, "U0BOSS2", "2026-11-23", ts("2026-11-26T10:00:00Z")).await.unwrap();
        let keys = rotated.dump_table("window_keys").await.unwrap();
        let b_id = secrets(&[SECRET_B]).current_id().unwrap().to_owned();
        assert!(
            keys.iter().any(|row| row.starts_with(&second.wave.window_id) && row.ends_with(&b_id)),
            "a new pulse is made under the new secret: {keys:?}"
        );
        rotated.close().await;

        // The old secret dropped while its pulse is open: serve still starts, for every other
        // team, and says at once which teams' sellers it cannot take answers from, and why.
        let fake = FakeSlack::start(Vec::new()).await.unwrap();
        let mut settings = crate::app::settings(&db.url, &fake, false);
        settings.token_secret = vec![SECRET_B.to_owned().into()];
        let app = Application::build(&settings, trustpulse::app::Clock::manual(now()))
            .await
            .expect("serve starts without a secret an open pulse needs");
        drop(app);
        let a_id = secrets(&[SECRET_A]).current_id().unwrap().to_owned();
        let said = captured_logs()
            .lines()
            .filter(|l| l.contains("ERROR") && l.contains(&a_id))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert!(
            said.iter().any(|l| l.contains("TRUSTPULSE_TOKEN_SECRET") && l.contains("U0BOSS1")),
            "{said:?}"
        );
        // Its sellers are refused, never let answer a second time, and nothing is written.
        let dropped = Store::connect_with(&db.url, secrets(&[SECRET_B])).await.unwrap();
        assert_eq!(dropped.unknown_token_secrets().await.unwrap(), vec![(a_id, vec!["U0BOSS1".to_owned()])]);
        for seller in [&sellers[0], &sellers[2]] {
            let lost = dropped.record_submission(wave, seller, &answers(5, 5, 5), now()).await;
            assert!(matches!(lost, Err(SubmissionError::Internal(_))), "{lost:?}");
        }
        assert_eq!(dropped.ballots_of_wave(wave).await.unwrap().len(), 2);
        dropped.close().await;
        db.finish().await;
    }
}
