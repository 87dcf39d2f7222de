//! `spawn_app`: the real trustpulse on port 0 against a fake Slack, with a manual clock and a
//! fresh database, plus a log capture shared by the whole test binary.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use jiff::Timestamp;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use trustpulse::app::{AppState, Application, Clock};
use trustpulse::config::{LogFormat, Settings};
use trustpulse::schedule::worker;
use trustpulse::sim::fake_slack::{APP_TOKEN, BOT_TOKEN, FakeSlack, FakeUser, PostedMessage};
use trustpulse::sim::payloads;
use trustpulse::sim::slack_side::{Reply, Transport};

use crate::helpers::{TestDb, now, roster};

pub const SIGNING_SECRET: &str = "test-signing-secret-0123456789";
/// The token secret of every test app (made up; at least 32 characters).
pub const TOKEN_SECRET: &str = "test-token-secret-0123456789-abcdef";

/// Everything every test logged, at TRACE (with the library caps trustpulse applies).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(trustpulse::telemetry::filter("trace"))
            .with_writer(move || LogSink(sink.clone()))
            .try_init();
        buffer
    })
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct TestApp {
    pub fake: FakeSlack,
    pub state: AppState,
    pub slack: Transport,
    pub base_url: String,
    /// Where `/metrics` is served: its own listener.
    pub metrics_url: String,
    shutdown: CancellationToken,
    db: Option<TestDb>,
}

pub fn settings(db_url: &str, fake: &FakeSlack, socket_mode: bool) -> Settings {
    Settings {
        database_url: db_url.to_owned(),
        slack_bot_token: Some(BOT_TOKEN.to_owned().into()),
        slack_signing_secret: vec![SIGNING_SECRET.to_owned().into()],
        token_secret: vec![TOKEN_SECRET.to_owned().into()],
        slack_app_token: socket_mode.then(|| APP_TOKEN.to_owned().into()),
        slack_api_url: fake.api_url(),
        listen: "127.0.0.1:0".parse().unwrap(),
        min_respondents: crate::helpers::k(5),
        min_comment_respondents: None,
        max_window_waves: 4,
        posts_per_minute: 300,
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        lease_secs: 120,
        log_format: LogFormat::Text,
        rust_log: "trace".into(),
        now: None,
    }
}

impl TestApp {
    /// trustpulse in HTTP mode, the clock at [`now`].
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(false, now()).await
    }

    pub async fn spawn_socket_mode() -> TestApp {
        TestApp::spawn_with(true, now()).await
    }

    pub async fn spawn_with(socket_mode: bool, at: Timestamp) -> TestApp {
        TestApp::spawn_full(socket_mode, at, &[SIGNING_SECRET]).await
    }

    /// HTTP mode with one given signing secret, the clock at `at`.
    pub async fn spawn_with_secret(secret: &str, at: Timestamp) -> TestApp {
        TestApp::spawn_full(false, at, &[secret]).await
    }

    /// HTTP mode accepting several signing secrets (a rotation).
    pub async fn spawn_with_secrets(secrets: &[&str]) -> TestApp {
        TestApp::spawn_full(false, now(), secrets).await
    }

    /// HTTP mode on a fresh PostgreSQL database, or None when no server is configured.
    pub async fn spawn_postgres() -> Option<TestApp> {
        let db = TestDb::postgres().await?;
        Some(TestApp::spawn_on(db, false, now(), &[SIGNING_SECRET], true).await)
    }

    async fn spawn_full(socket_mode: bool, at: Timestamp, secrets: &[&str]) -> TestApp {
        TestApp::spawn_on(TestDb::sqlite().await, socket_mode, at, secrets, true).await
    }

    /// HTTP mode on SQLite without `TRUSTPULSE_TOKEN_SECRET`, as a deployment that has not set
    /// it runs.
    pub async fn spawn_without_token_secret() -> TestApp {
        TestApp::spawn_on(
            TestDb::sqlite().await,
            false,
            now(),
            &[SIGNING_SECRET],
            false,
        )
        .await
    }

    async fn spawn_on(
        db: TestDb,
        socket_mode: bool,
        at: Timestamp,
        secrets: &[&str],
        token_secret: bool,
    ) -> TestApp {
        log_buffer();
        let fake = FakeSlack::start(Vec::new()).await.unwrap();
        let clock = Clock::manual(at);
        let mut settings = settings(&db.url, &fake, socket_mode);
        settings.slack_signing_secret = secrets.iter().map(|s| s.to_string().into()).collect();
        if !token_secret {
            settings.token_secret.clear();
        }
        let app = Application::build(&settings, clock.clone()).await.unwrap();
        let base_url = format!("http://{}", app.local_addr());
        let metrics_url = format!("http://{}", app.metrics_addr());
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        // The worker does not run by itself: tests drive it with `deliver`.
        tokio::spawn(app.run_until_stopped(shutdown.clone(), false));
        let slack = if socket_mode {
            fake.socket().wait_connected().await.unwrap();
            Transport::SocketMode(fake.socket().clone())
        } else {
            Transport::Http {
                base_url: base_url.clone(),
                secret: secrets[0].to_owned(),
                clock,
            }
        };
        TestApp {
            fake,
            state,
            slack,
            base_url,
            metrics_url,
            shutdown,
            db: Some(db),
        }
    }

    /// Runs the outbox worker until nothing more is due. When pacing (or a 429) put work back
    /// for a moment, simulated time moves on to when it may go, at most a minute at a time;
    /// work due later (a reminder in two days) is left for the test to reach.
    pub async fn deliver(&self) -> worker::RoundReport {
        trustpulse::sim::deliver_due(
            &self.state,
            jiff::SignedDuration::from_secs(60),
            Timestamp::MAX,
        )
        .await
        .unwrap()
    }

    /// The test database's URL.
    pub fn db_url(&self) -> String {
        self.db.as_ref().expect("a database").url.clone()
    }

    /// A second trustpulse on the same database and fake Slack (another replica).
    pub async fn second_replica(&self) -> anyhow::Result<AppState> {
        let db = self.db.as_ref().expect("a database");
        let app = Application::build(
            &settings(&db.url, &self.fake, false),
            Clock::manual(self.state.now()),
        )
        .await?;
        Ok(app.state().clone())
    }

    /// Adds people to the fake workspace and imports `manager`'s team of them.
    pub async fn team(&self, manager: &str, sellers: &[FakeUser]) {
        self.fake.add_user(FakeUser::new(manager, "Europe/Berlin"));
        let mut pairs = Vec::new();
        for seller in sellers {
            self.fake.add_user(seller.clone());
            pairs.push((seller.id.clone(), manager.to_owned()));
        }
        let store = &self.state.store;
        let boss = trustpulse::store::Person {
            tz: Some("Europe/Berlin".into()),
            ..trustpulse::store::Person::from_id(manager)
        };
        store.upsert_person(&boss, now()).await.unwrap();
        for seller in sellers {
            let person = trustpulse::store::Person {
                tz: Some(seller.tz.clone()),
                is_bot: seller.is_bot,
                is_deactivated: seller.deleted,
                ..trustpulse::store::Person::from_id(&seller.id)
            };
            store.upsert_person(&person, now()).await.unwrap();
        }
        let mut all = store.memberships(now()).await.unwrap();
        all.retain(|m| m.left_at.is_none());
        let mut pairs_ref: Vec<(&str, &str)> = all
            .iter()
            .map(|m| (m.seller_id.as_str(), m.manager_id.as_str()))
            .collect();
        pairs_ref.extend(pairs.iter().map(|(s, m)| (s.as_str(), m.as_str())));
        store
            .replace_roster(&roster(&pairs_ref), now())
            .await
            .unwrap();
    }

    /// A team of `n` sellers in Berlin for `manager`, a pulse opened now, and its invitations
    /// delivered.
    pub async fn open_pulse(&self, manager: &str, n: usize) -> trustpulse::store::OpenedWave {
        self.team(manager, &sellers(manager, n, &["Europe/Berlin"]))
            .await;
        let opened =
            trustpulse::ops::waves::start_wave(&self.state.store, manager, self.state.k, now())
                .await
                .unwrap();
        self.deliver().await;
        opened
    }

    /// The latest bot message in `user`'s DM.
    pub fn last_dm(&self, user: &str) -> PostedMessage {
        self.fake
            .dm_messages(user)
            .pop()
            .unwrap_or_else(|| panic!("no DM to {user}"))
    }

    /// `user` clicks the answer button of their latest DM; returns the modal that opened.
    pub async fn open_survey(&self, user: &str) -> Value {
        let dm = self.last_dm(user);
        let click = payloads::button_click(
            &self.fake,
            user,
            &dm,
            trustpulse::slack::blocks::ids::OPEN_SURVEY,
        );
        let reply = self.slack.interaction(click).await.unwrap();
        assert_eq!(reply.status, 200);
        self.fake.open_modal(user).expect("a modal opened")
    }

    /// `user` opens the survey and submits these option values.
    pub async fn answer(
        &self,
        user: &str,
        care: &str,
        help: &str,
        trust: &str,
        comment: Option<&str>,
    ) -> Reply {
        let modal = self.open_survey(user).await;
        let values = payloads::survey_values([care, help, trust], comment);
        self.slack
            .interaction(payloads::view_submission(user, &modal, values))
            .await
            .unwrap()
    }

    /// A pulse of `manager`'s team on the app's clock, answered (4, 2, 5) by `answering` through
    /// the store, then closed and released. Returns its window.
    pub async fn released_pulse(&self, manager: &str, answering: &[String]) -> String {
        use trustpulse::ops::waves;
        let now = self.state.now();
        let wave = waves::start_wave(&self.state.store, manager, self.state.k, now)
            .await
            .unwrap()
            .wave;
        for seller in answering {
            self.state
                .store
                .record_submission(
                    &wave.wave_id,
                    seller,
                    &crate::helpers::answers(4, 2, 5),
                    now,
                )
                .await
                .unwrap();
        }
        waves::close_wave(&self.state.store, manager, &self.state.release_policy, now)
            .await
            .unwrap()
            .unwrap();
        wave.window_id
    }

    /// `person`'s App Home as it would be published now (no notice), as JSON.
    pub async fn home(&self, person: &str) -> Value {
        let view = trustpulse::slack::home::home_view(&self.state, person, None, now())
            .await
            .unwrap();
        serde_json::to_value(view).unwrap()
    }

    pub async fn command(&self, user: &str, text: &str) -> Reply {
        self.slack
            .command(payloads::slash_command(&self.fake, user, "/pulse", text))
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }
}

/// How long one test may run before it fails as hung (rust-lang/bors' `run_test` does the
/// same): a missed wake-up or a lost reply fails here, with the test's name, instead of
/// holding CI until its own timeout.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `test` against a freshly spawned trustpulse (HTTP mode, fresh database, fake Slack) on
/// its own two-thread runtime, fails it if it runs past [`TEST_TIMEOUT`], and stops the app and
/// drops its database afterwards.
pub fn run_test(test: impl AsyncFnOnce(&TestApp)) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime")
        .block_on(async {
            let app = TestApp::spawn().await;
            if tokio::time::timeout(TEST_TIMEOUT, test(&app))
                .await
                .is_err()
            {
                panic!("the test did not finish within {TEST_TIMEOUT:?}");
            }
            app.stop().await;
        });
}

/// `n` sellers of `manager` named `{manager}S1…`, in the given zones round-robin.
pub fn sellers(manager: &str, n: usize, zones: &[&str]) -> Vec<FakeUser> {
    (1..=n)
        .map(|i| FakeUser::new(&format!("{manager}S{i}"), zones[(i - 1) % zones.len()]))
        .collect()
}
