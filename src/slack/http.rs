//! Slack's HTTP endpoints. Every request is verified before anything reads its content; the
//! only exception is Slack's exact `ssl_check=1` probe, which gets an empty 200 and nothing else.
//!
//! Status codes: 413 for a body over 1 MiB (before any HMAC work), 401 for anything that fails
//! verification, 400 with `X-Slack-No-Retry: 1` for a verified body we cannot parse, 503 (which
//! Slack retries) when the store is down.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use slack_morphism::prelude::*;

use super::SlackApp;
use super::handlers;
use super::verify::{is_ssl_check, verify};

/// The largest body Slack sends is far below this.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The route of buttons and modals, the survey's among them: its button opens the survey and
/// its modal's submission is the answer.
pub const INTERACTIONS: &str = "/slack/interactions";

/// Marks a response whose request `/metrics` must not count: a seller opening the app's DM
/// (where the invitation is) or its Home, on the way to answering. With the interactions, this
/// is what `count_request` in `app.rs` leaves out.
#[derive(Debug, Clone, Copy)]
pub struct Unmeasured;

pub fn routes() -> Router<SlackApp> {
    Router::new()
        .route("/slack/events", post(events))
        .route(INTERACTIONS, post(interactions))
        .route("/slack/commands", post(commands))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Verifies the request; `Err` is the status to answer with instead (an empty 200 for Slack's
/// SSL probe, 401 for anything unverified).
fn check(
    state: &SlackApp,
    route: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), StatusCode> {
    if is_ssl_check(headers, body) {
        return Err(StatusCode::OK);
    }
    verify(
        &state.signing_secrets,
        headers,
        body,
        state.now().as_second(),
    )
    .map_err(|reason| {
        // The reason and the size only: never the body, a signature or a secret.
        tracing::warn!(route, %reason, body_bytes = body.len(), "refused an unverified request");
        StatusCode::UNAUTHORIZED
    })
}

fn unparseable(route: &str) -> Response {
    tracing::warn!(route, "verified request with a body we cannot read");
    let mut response = StatusCode::BAD_REQUEST.into_response();
    response
        .headers_mut()
        .insert("x-slack-no-retry", HeaderValue::from_static("1"));
    response
}

fn internal(route: &str, error: anyhow::Error) -> Response {
    let kind = super::errors::error_kind(&error);
    tracing::error!(route, error = %kind, "could not handle a Slack request");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

async fn events(State(state): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(status) = check(&state, "events", &headers, &body) {
        return status.into_response();
    }
    let Ok(event) = serde_json::from_slice::<SlackPushEvent>(&body) else {
        return unparseable("events");
    };
    match event {
        SlackPushEvent::UrlVerification(v) => v.challenge.into_response(),
        SlackPushEvent::EventCallback(callback) => {
            let opened_the_app = matches!(callback.event, SlackEventCallbackBody::AppHomeOpened(_));
            let mut response = match handlers::on_event(&state, callback).await {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => internal("events", e),
            };
            if opened_the_app {
                response.extensions_mut().insert(Unmeasured);
            }
            response
        }
        _ => StatusCode::OK.into_response(),
    }
}

async fn interactions(State(state): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(status) = check(&state, "interactions", &headers, &body) {
        return status.into_response();
    }
    let Some(payload) = super::form::field(&body, "payload") else {
        return unparseable("interactions");
    };
    // A survey answer, the hot path, is read without slack-morphism's full parse.
    let replied = match handlers::on_submission_payload(&state, &payload).await {
        Some(replied) => replied,
        None => match serde_json::from_str::<SlackInteractionEvent>(&payload) {
            Ok(event) => handlers::on_interaction(&state, event).await,
            Err(_) => return unparseable("interactions"),
        },
    };
    match replied {
        Ok(handlers::InteractionReply::Thanks) => thanks(),
        Ok(reply) => SlackInteractionResponse::from(reply).into_response(),
        Err(e) => internal("interactions", e),
    }
}

/// The answer to a recorded answer: the thanks modal, as `Json` would answer it, made once.
fn thanks() -> Response {
    static BODY: std::sync::LazyLock<Bytes> = std::sync::LazyLock::new(|| {
        let reply = SlackInteractionResponse::from(handlers::InteractionReply::Thanks);
        serde_json::to_vec(&reply)
            .expect("a view serializes")
            .into()
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        BODY.clone(),
    )
        .into_response()
}

async fn commands(State(state): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(status) = check(&state, "commands", &headers, &body) {
        return status.into_response();
    }
    let Ok(command) = serde_urlencoded::from_bytes::<SlackCommandEvent>(&body) else {
        return unparseable("commands");
    };
    match handlers::on_command(&state, &command).await {
        Ok(reply) => axum::Json(reply).into_response(),
        Err(e) => {
            let kind = super::errors::error_kind(&e);
            tracing::error!(error = %kind, "could not answer a command");
            let sorry = SlackCommandEventResponse::new(SlackMessageContent::new().with_text(
                "Sorry, something went wrong on our side. It has been logged; please try again in a minute.".into(),
            ))
            .with_response_type(SlackMessageResponseType::Ephemeral);
            axum::Json(sorry).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::slack::blocks;

    async fn parts(response: Response) -> (StatusCode, Option<HeaderValue>, Bytes) {
        let status = response.status();
        let kind = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .cloned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, kind, body)
    }

    /// The thanks made once is the thanks a recorded answer has always had: the same status,
    /// type and JSON as the modal's update through `Json`.
    #[tokio::test]
    async fn the_prepared_thanks_is_the_update_to_the_thanks_modal() {
        let update = handlers::InteractionReply::Update(blocks::thanks_modal());
        let expected = parts(SlackInteractionResponse::from(update).into_response()).await;
        assert_eq!(parts(thanks()).await, expected);
        assert!(String::from_utf8_lossy(&expected.2).contains(r#""response_action":"update""#));
    }
}
