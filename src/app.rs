//! Wiring: the store, the Slack client, the HTTP router, Socket Mode and the outbox worker, and
//! a clean shutdown. The only place below `main` that reads the clock (through [`Clock`]).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Settings, SlackTokenRefused};
pub use crate::ops::{AppState, Clock};
use crate::schedule;
use crate::slack::SlackApp;
use crate::slack::chat::SlackChat;
use crate::slack::client::{SlackApi, SlackError};
use crate::slack::pacing::{Pacer, PacingConfig};
use crate::slack::socket_mode::SocketMode;
use crate::store::Store;

pub struct Application {
    state: AppState,
    slack: SlackChat,
    listener: TcpListener,
    metrics_listener: TcpListener,
    socket_mode: Option<SocketMode>,
    /// Held while serving on SQLite; the OS releases it when the process ends, even on kill -9.
    _single_replica: Option<std::fs::File>,
}

impl Application {
    /// Connects to the store (migrating it), checks the bot token with Slack, binds the HTTP
    /// port and, with an app token, opens Socket Mode.
    pub async fn build(settings: &Settings, clock: Clock) -> anyhow::Result<Application> {
        // Before anything can count: a count made while no recorder is installed goes nowhere.
        // It was once installed only when the routers were built, after the outbox worker had
        // been spawned, and a worker that won that race sent its invitations uncounted.
        crate::telemetry::metrics();
        let Some(bot_token) = &settings.slack_bot_token else {
            return Err(ConfigError::new(
                "SLACK_BOT_TOKEN",
                "not set: `serve` needs the bot token (xoxb-…)",
                "Copy the Bot User OAuth Token from your Slack app's Install App page",
            )
            .into());
        };
        if settings.slack_app_token.is_none() && settings.slack_signing_secret.is_empty() {
            return Err(ConfigError::new(
                "SLACK_SIGNING_SECRET",
                "not set: in HTTP mode trustpulse must verify that requests come from Slack",
                "Set it (Basic Information → Signing Secret), or set SLACK_APP_TOKEN to use Socket Mode",
            )
            .into());
        }
        let single_replica = lock_sqlite(&settings.database_url)?;
        let store = Store::connect_with(&settings.database_url, settings.token_secrets()?).await?;
        // Not a reason to stop: every other team goes on. Those teams' sellers are refused
        // (never let answer twice) until the secret is back, or their windows are released.
        for (id, managers) in store.unknown_token_secrets().await? {
            tracing::error!(
                secret_id = %id,
                teams = %managers.join(", "),
                "these teams' open pulses were started under a token secret that TRUSTPULSE_TOKEN_SECRET does not list: \
                 their sellers cannot answer until it is back (after the new one when rotating: new,old)"
            );
        }
        if !store.has_token_secret() {
            tracing::warn!(
                "TRUSTPULSE_TOKEN_SECRET is not set: while a pulse is open, anyone who can read the database \
                 can tell who has answered it, and may pair the latest answers with the people who gave them. \
                 Set it to a secret kept outside the database (`openssl rand -hex 32`); pulses started from then on are covered"
            );
        }
        let slack = SlackApi::new(&settings.slack_api_url, bot_token);
        let now = clock.now();
        if single_replica.is_some() {
            // We hold the only serve lock, so rows still leased were a stopped process's.
            let in_flight = store.end_all_leases(now).await?;
            if in_flight > 0 {
                tracing::info!(
                    in_flight,
                    "resuming messages claimed when trustpulse last stopped (the one in flight may arrive twice)"
                );
            }
        }
        let (team, bot_user) = slack.auth_test().await.map_err(|e| match e {
            SlackError::Api(code) => anyhow::Error::from(SlackTokenRefused { code }),
            other => anyhow::anyhow!(
                "could not reach Slack at {} ({other}); check SLACK_API_URL and the network",
                settings.slack_api_url
            ),
        })?;
        store.activate_installation(&team, &bot_user, now).await?;
        tracing::info!(team, "connected to Slack");
        if !store.has_org_cadence().await? {
            tracing::warn!(
                "no org cadence is set, so no pulse is sent (teams with their own cadence excepted). \
                 Choose one with `trustpulse cadence set --every 1w --weekday mon --time 10:00 --tz seller` \
                 or from the admin Home tab; the first pulse is the next slot after that"
            );
        }

        let pacer = Arc::new(Pacer::new(PacingConfig {
            enabled: true,
            posts_per_minute: settings.posts_per_minute,
        }));
        let slack = SlackChat::new(slack, pacer, store.clone());
        let state = AppState {
            store,
            chat: Arc::new(slack.clone()),
            k: settings.min_respondents,
            release_policy: settings.release_policy(),
            signing_secrets: Arc::new(settings.slack_signing_secret.clone()),
            clock,
            lease: jiff::SignedDuration::from_secs(i64::from(settings.lease_secs)),
            worker_kick: Arc::new(Notify::new()),
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("could not listen on {}", settings.listen))?;
        let metrics_listener = TcpListener::bind(settings.metrics_listen)
            .await
            .with_context(|| {
                format!(
                    "could not listen on {} for /metrics (set TRUSTPULSE_METRICS_LISTEN)",
                    settings.metrics_listen
                )
            })?;
        let socket_mode = match &settings.slack_app_token {
            Some(app_token) => Some(
                SocketMode::connect(SlackApp::new(state.clone(), slack.clone()), app_token).await?,
            ),
            None => None,
        };
        Ok(Application {
            state,
            slack,
            listener,
            metrics_listener,
            socket_mode,
            _single_replica: single_replica,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` is served.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP (and runs the outbox worker when `with_worker`) until `shutdown` fires.
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
        with_worker: bool,
    ) -> anyhow::Result<()> {
        let worker_task = with_worker.then(|| {
            tokio::spawn(schedule::run_until_stopped(
                self.state.clone(),
                shutdown.clone(),
            ))
        });
        let app = router(SlackApp::new(self.state.clone(), self.slack.clone()));
        let stop = shutdown.clone();
        let metrics_stop = shutdown.clone();
        let metrics_task = tokio::spawn(
            axum::serve(self.metrics_listener, metrics_router(self.state.clone()))
                .with_graceful_shutdown(async move { metrics_stop.cancelled().await })
                .into_future(),
        );
        // Histogram samples wait in memory until folded into their buckets: at a scrape, or
        // here. Without it a process nobody scrapes would grow with every request.
        let upkeep_stop = shutdown.clone();
        let upkeep_task = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = upkeep_stop.cancelled() => return,
                    _ = every.tick() => crate::telemetry::metrics().run_upkeep(),
                }
            }
        });
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        shutdown.cancel();
        let _ = metrics_task.await;
        let _ = upkeep_task.await;
        if let Some(task) = worker_task {
            let _ = task.await;
        }
        if let Some(socket_mode) = self.socket_mode {
            socket_mode.shutdown().await;
        }
        // A clean stop leaves the SQLite WAL truncated (see `Store::close`).
        self.state.store.close().await;
        served.context("the HTTP server stopped")
    }
}

/// SQLite serves one replica: a second `serve` on the same file would double every send. An
/// exclusive OS lock on `<file>.serve-lock` enforces it.
fn lock_sqlite(database_url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = crate::store::sqlite_file(database_url) else {
        return Ok(None);
    };
    let path = path.display();
    let lock_path = format!("{path}.serve-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("could not create the lock file {lock_path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `trustpulse serve` is already running on {path}. SQLite runs one replica; stop the other one, \
             or use PostgreSQL (DATABASE_URL=postgres://…) to run several"
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("could not lock {lock_path}"))
        }
    }
}

/// The Slack endpoints and the health checks. Only `run_until_stopped` serves it, after
/// `Application::build` has installed the metrics recorder that `count_request` counts into.
fn router(app: SlackApp) -> Router {
    let state = AppState::clone(&app);
    Router::new()
        .merge(
            crate::slack::http::routes()
                .layer(axum::middleware::from_fn(count_request))
                .with_state(app),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

/// `/metrics` on its own listener (`TRUSTPULSE_METRICS_LISTEN`), never beside the Slack
/// endpoints.
fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Requests by route and status, and how long each took to acknowledge; not the interactions,
/// nor the events of someone opening the app. The survey's button and its modal's submission
/// come through the interactions' route, so a count or a latency of its requests moved when a
/// seller opened the survey and when they answered: whoever scraped `/metrics` around a
/// seller's answer saw it (DESIGN §3: nothing moves on a submission). Latencies would tell the
/// two apart, too: an answer is acknowledged after a write, a button after a call to Slack.
/// Opening the app's DM, where the invitation is, comes just before (`app_home_opened`, which
/// is sent for the DM's tab as for Home's). Their failures are logged.
async fn count_request(
    path: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = path.as_ref().map_or("other", |p| p.as_str());
    let started = std::time::Instant::now();
    // The route and Slack's retry number identify the work; nothing identifies a respondent.
    let retry = request.headers().get("x-slack-retry-num").cloned();
    let retry = retry.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("0");
    let span = tracing::info_span!("slack_request", route = %route, retry = %retry);
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    if route == crate::slack::http::INTERACTIONS
        || response
            .extensions()
            .get::<crate::slack::http::Unmeasured>()
            .is_some()
    {
        return response;
    }
    let status = response.status().as_u16().to_string();
    let route = route.to_owned();
    metrics::counter!("trustpulse_http_requests_total", "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("trustpulse_ack_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text format. Outbox depth and the age of its oldest due row are read at scrape.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = state.store.outbox_counts().await {
        metrics::gauge!("trustpulse_outbox_pending").set(counts.pending as f64);
        metrics::gauge!("trustpulse_outbox_dead").set(counts.dead as f64);
    }
    if let Ok(next) = state.store.next_due().await {
        let age = next.map_or(0.0, |due| {
            state.now().duration_since(due).as_secs_f64().max(0.0)
        });
        metrics::gauge!("trustpulse_outbox_oldest_due_seconds").set(age);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::telemetry::metrics().render(),
    )
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.installation().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = ?e, "not ready: the store is unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
        }
    }
}

/// `trustpulse serve`: runs until Ctrl-C or SIGTERM.
pub async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let clock = settings.now.map_or(Clock::System, Clock::manual);
    let app = Application::build(settings, clock).await?;
    tracing::info!(addr = %app.local_addr(), metrics = %app.metrics_addr(), "trustpulse is serving");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    app.run_until_stopped(shutdown, true).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
