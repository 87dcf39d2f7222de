//! Errors on the path of a Slack request or call, in words that can carry nothing from the
//! request: the kind of error only (see `telemetry::error_kind`, which this extends with
//! Slack's own errors).

use slack_morphism::errors::{
    SlackClientError, SlackClientProtocolError, SlackClientSocketModeProtocolError,
};

use super::client::SlackError;

/// The kind of `error`: the first cause, from the outside in, that has a known kind.
pub fn error_kind(error: &anyhow::Error) -> String {
    error
        .chain()
        .find_map(known_kind)
        .unwrap_or_else(|| "internal error".to_owned())
}

/// The same for an error slack-morphism hands to the Socket Mode error handler.
pub fn boxed_error_kind(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(kind) = known_kind(e) {
            return kind;
        }
        cause = e.source();
    }
    "internal error".to_owned()
}

fn known_kind(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    slack_kind(cause).or_else(|| crate::telemetry::known_kind(cause))
}

fn slack_kind(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if cause.is::<SlackClientProtocolError>() || cause.is::<SlackClientSocketModeProtocolError>() {
        return Some("could not parse a Slack payload".to_owned());
    }
    if let Some(e) = cause.downcast_ref::<SlackError>() {
        return Some(format!("Slack error {}", e.code()));
    }
    let e = cause.downcast_ref::<SlackClientError>()?;
    Some(match e {
        SlackClientError::ApiError(api) => format!("Slack error {}", api.code),
        SlackClientError::ProtocolError(_) | SlackClientError::SocketModeProtocolError(_) => {
            "could not parse a Slack payload".to_owned()
        }
        SlackClientError::HttpError(_) | SlackClientError::HttpProtocolError(_) => {
            "HTTP error talking to Slack".to_owned()
        }
        SlackClientError::EndOfStream(_) => "the connection to Slack ended".to_owned(),
        SlackClientError::RateLimitError(_) => "rate limited by Slack".to_owned(),
        SlackClientError::SystemError(_) => "internal error".to_owned(),
    })
}
