//! Socket Mode: the same handlers as the HTTP endpoints, over a WebSocket that trustpulse opens
//! to Slack, so no public URL is needed. Slack authenticates the socket with the app-level
//! token, so there is no request signature to check here.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;

use super::SlackApp;
use super::handlers::{self, InteractionReply};

pub struct SocketMode {
    listener: SlackClientSocketModeListener<SlackClientHyperHttpsConnector>,
}

impl SocketMode {
    /// Connects with the app-level token (`xapp-…`) and starts dispatching envelopes.
    pub async fn connect(state: SlackApp, app_token: &SecretString) -> anyhow::Result<SocketMode> {
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(state.slack().api.client())
                .with_error_handler(on_error)
                .with_user_state(state),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(on_push)
            .with_interaction_events(on_interaction)
            .with_command_events(on_command);
        // One connection is enough for one replica; Slack spreads envelopes over connections.
        let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        let token = SlackApiToken::new(app_token.expose_secret().to_owned().into());
        listener.listen_for(&token).await.map_err(|e| {
            anyhow::anyhow!(
                "could not open a Socket Mode connection: {}",
                super::client::SlackError::from(e)
            )
        })?;
        listener.start().await;
        Ok(SocketMode { listener })
    }

    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

async fn slack_app(states: &SlackClientEventsUserState) -> SlackApp {
    states
        .read()
        .await
        .get_user_state::<SlackApp>()
        .expect("the listener is built with the app state")
        .clone()
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    // Socket Mode still acknowledges the envelope; the error is ours to log, by kind only: a
    // frame slack-morphism could not parse comes with its whole body in the error.
    let kind = super::errors::boxed_error_kind(err.as_ref());
    tracing::error!(error = %kind, "Socket Mode: could not handle an envelope");
    axum::http::StatusCode::OK
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let state = slack_app(&states).await;
    handlers::on_event(&state, event).await.map_err(Into::into)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let state = slack_app(&states).await;
    let reply = handlers::on_interaction(&state, event)
        .await
        .unwrap_or_else(|e| {
            let kind = super::errors::error_kind(&e);
            tracing::error!(error = %kind, "could not handle an interaction");
            InteractionReply::Ack
        });
    Ok(reply.into())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let state = slack_app(&states).await;
    handlers::on_command(&state, &event)
        .await
        .map_err(Into::into)
}
