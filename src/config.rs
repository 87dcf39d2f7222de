//! Typed settings from flags and the environment: the one place the environment is read.
//!
//! Every setting is a flag that also reads its environment variable (DESIGN §6). Secrets are
//! `SecretString`s: clap never shows their values (`hide_env_values`), and `Debug` prints them
//! redacted.

use std::fmt;
use std::net::SocketAddr;

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

use crate::privacy::MinRespondents;
use crate::privacy::token::{TokenSecret, TokenSecrets};
use crate::privacy::window::ReleasePolicy;
use crate::store::redact_url;

#[derive(clap::Args, Clone)]
pub struct Settings {
    /// Where trustpulse keeps its data: a `sqlite:` path or a `postgres://` URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:trustpulse.db?mode=rwc",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,

    /// Bot token (`xoxb-…`); required for `serve` and for roster emails.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true, global = true, value_parser = secret)]
    pub slack_bot_token: Option<SecretString>,

    /// Signing secret; a comma-separated list accepts any of them (for rotation). Required in
    /// HTTP mode.
    #[arg(
        long,
        env = "SLACK_SIGNING_SECRET",
        hide_env_values = true,
        global = true,
        value_delimiter = ',',
        value_parser = secret
    )]
    pub slack_signing_secret: Vec<SecretString>,

    /// Token secret, kept outside the database (at least 32 characters: `openssl rand -hex 32`).
    /// Mixed into each pulse's participation tokens, so that the database files alone cannot
    /// tell who answered an open pulse. A comma-separated list rotates it: the first is used
    /// for new pulses, the others until the pulses made under them are released.
    #[arg(
        long,
        env = "TRUSTPULSE_TOKEN_SECRET",
        hide_env_values = true,
        global = true,
        value_delimiter = ',',
        value_parser = secret
    )]
    pub token_secret: Vec<SecretString>,

    /// App-level token (`xapp-…`); when set, trustpulse connects over Socket Mode.
    #[arg(long, env = "SLACK_APP_TOKEN", hide_env_values = true, global = true, value_parser = secret)]
    pub slack_app_token: Option<SecretString>,

    /// Slack Web API base URL (a fake Slack in tests and the demo).
    #[arg(
        long,
        env = "SLACK_API_URL",
        default_value = "https://slack.com/api",
        global = true,
        value_parser = api_url
    )]
    pub slack_api_url: String,

    /// HTTP listen address.
    #[arg(
        long,
        env = "TRUSTPULSE_LISTEN",
        default_value = "0.0.0.0:3000",
        global = true
    )]
    pub listen: SocketAddr,

    /// Prometheus `/metrics` listen address: its own listener, never the Slack one, and on
    /// loopback unless you choose otherwise (a scrape must not be open to the world).
    #[arg(
        long,
        env = "TRUSTPULSE_METRICS_LISTEN",
        default_value = "127.0.0.1:9464",
        global = true
    )]
    pub metrics_listen: SocketAddr,

    /// k: no number about a team is shown unless at least this many people answered. At least 3;
    /// a change applies from each team's next window.
    #[arg(long, env = "TRUSTPULSE_MIN_RESPONDENTS", default_value_t = MinRespondents::default(), global = true)]
    pub min_respondents: MinRespondents,

    /// Comments are shown only when at least this many people answered (default: k; at least 3).
    #[arg(long, env = "TRUSTPULSE_MIN_COMMENT_RESPONDENTS", global = true)]
    pub min_comment_respondents: Option<MinRespondents>,

    /// A window under k is pooled with the team's next pulses, up to this many in all.
    #[arg(long, env = "TRUSTPULSE_MAX_WINDOW_WAVES", default_value_t = crate::privacy::window::DEFAULT_MAX_WINDOW_WAVES, global = true, value_parser = clap::value_parser!(u32).range(1..=12))]
    pub max_window_waves: u32,

    /// Workspace-wide cap on DMs posted per minute (Slack allows "several hundred").
    #[arg(long, env = "TRUSTPULSE_POSTS_PER_MINUTE", default_value_t = crate::slack::pacing::DEFAULT_POSTS_PER_MINUTE, global = true, value_parser = clap::value_parser!(u32).range(1..=6000))]
    pub posts_per_minute: u32,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Which logs to show, e.g. `info` or `trustpulse=debug,info`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub rust_log: String,

    /// How long a claimed outbox row belongs to this process before another may rescue it. At
    /// least 60 seconds: a round starts no call in the last 30 (`worker::LEASE_MARGIN`).
    #[arg(
        long,
        env = "TRUSTPULSE_LEASE_SECS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u32).range(60..),
        hide = true,
        global = true
    )]
    pub lease_secs: u32,

    /// Pretend the current time is this instant (RFC 3339), for tests and rehearsals.
    #[arg(long, env = "TRUSTPULSE_NOW", hide = true, global = true)]
    pub now: Option<Timestamp>,
}

pub use crate::telemetry::LogFormat;

/// Exit code of a configuration error (sysexits' `EX_CONFIG`): a setting is missing or wrong,
/// and restarting will not help until someone fixes it.
pub const EXIT_CONFIG: u8 = 78;
/// Exit code when Slack refuses the bot token (sysexits' `EX_NOPERM`): reinstall the app or
/// copy the token again; restarting will not help either.
pub const EXIT_SLACK_TOKEN_REFUSED: u8 = 77;

pub use crate::config_error::ConfigError;

/// Slack refused the bot token at start-up.
#[derive(Debug, thiserror::Error)]
#[error(
    "Slack did not accept SLACK_BOT_TOKEN (Slack error {code}); check the token and that the app is installed in your workspace"
)]
pub struct SlackTokenRefused {
    pub code: String,
}

/// The process exit code for an error: [`EXIT_CONFIG`], [`EXIT_SLACK_TOKEN_REFUSED`] or 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|c| c.is::<ConfigError>()) {
        EXIT_CONFIG
    } else if error.chain().any(|c| c.is::<SlackTokenRefused>()) {
        EXIT_SLACK_TOKEN_REFUSED
    } else {
        1
    }
}

/// `SLACK_API_URL`: https, or plain http only to a loopback address (a fake Slack on this
/// machine): over plain http elsewhere the bot token would cross the network in clear.
fn api_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with("https://") {
        return Ok(text.to_owned());
    }
    let Some(rest) = text.strip_prefix("http://") else {
        return Err("must start with https:// (for example https://slack.com/api)".to_owned());
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "plain http:// to {host} would send the bot token in clear; use https:// (http:// is allowed only to localhost, for a fake Slack)"
        ))
    }
}

fn secret(text: &str) -> Result<SecretString, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

impl Settings {
    /// The token secrets, in the order given (the first for new pulses), or which one is too
    /// short. Checked here rather than by clap, which would print the refused value.
    pub fn token_secrets(&self) -> Result<TokenSecrets, ConfigError> {
        let secrets = self
            .token_secret
            .iter()
            .enumerate()
            .map(|(i, s)| {
                TokenSecret::new(s.expose_secret()).map_err(|problem| {
                    ConfigError::new(
                        "TRUSTPULSE_TOKEN_SECRET",
                        format!("secret {} of {} {problem}", i + 1, self.token_secret.len()),
                        "Use a longer one; pulses already open keep the secret they were made under",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(TokenSecrets::new(secrets))
    }

    pub fn release_policy(&self) -> ReleasePolicy {
        ReleasePolicy {
            min_comment_respondents: self.min_comment_respondents,
            max_window_waves: self.max_window_waves,
        }
    }

    /// The current instant: the clock, unless `--now` pins it.
    pub fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |present: bool| if present { "<set>" } else { "<unset>" };
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("slack_bot_token", &set(self.slack_bot_token.is_some()))
            .field(
                "slack_signing_secret",
                &format!("<{} secret(s)>", self.slack_signing_secret.len()),
            )
            .field(
                "token_secret",
                &format!("<{} secret(s)>", self.token_secret.len()),
            )
            .field("slack_app_token", &set(self.slack_app_token.is_some()))
            .field("slack_api_url", &self.slack_api_url)
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("min_respondents", &self.min_respondents)
            .field("min_comment_respondents", &self.min_comment_respondents)
            .field("max_window_waves", &self.max_window_waves)
            .field("posts_per_minute", &self.posts_per_minute)
            .field("lease_secs", &self.lease_secs)
            .field("log_format", &self.log_format)
            .field("rust_log", &self.rust_log)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_is_https_or_loopback_http() {
        assert!(api_url("https://slack.com/api").is_ok());
        assert!(api_url("http://127.0.0.1:8080/api").is_ok());
        assert!(api_url("http://localhost:8080/api").is_ok());
        assert!(api_url("http://[::1]:8080/api").is_ok());
        let refused = api_url("http://slack.example.com/api").unwrap_err();
        assert!(refused.contains("in clear"), "{refused}");
        assert!(api_url("http://10.0.0.5/api").is_err());
        assert!(api_url("ftp://slack.com").is_err());
    }
}
