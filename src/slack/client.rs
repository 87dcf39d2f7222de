//! The Web API calls trustpulse makes, over slack-morphism, against real Slack or a fake one.
//!
//! Errors are reduced to what the caller needs to decide: Slack's error code, a rate limit with
//! its `Retry-After`, or a transport failure. No error carries a request or response body.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::ClientResult;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::store::Person;

/// How a failed call should be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `ok: false` with this code.
    #[error("Slack error {0}")]
    Api(String),
    /// HTTP 429: wait this long before calling again.
    #[error("rate limited by Slack (retry after {0:?})")]
    RateLimited(Duration),
    /// Network failure, timeout or a 5xx: worth retrying later.
    #[error("could not reach Slack: {0}")]
    Transport(String),
}

impl SlackError {
    /// Slack refuses the bot itself: the token is bad, revoked or the app is gone.
    pub fn is_auth(&self) -> bool {
        matches!(self, SlackError::Api(code) if matches!(code.as_str(),
            "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive"
            | "no_permission" | "missing_scope" | "team_access_not_granted" | "app_uninstalled"))
    }

    /// Slack refuses this one recipient for good (retrying cannot help).
    pub fn is_permanent(&self) -> bool {
        matches!(self, SlackError::Api(code) if matches!(code.as_str(),
            "user_not_found" | "users_not_found" | "cannot_dm_bot" | "channel_not_found" | "user_disabled"
            | "user_not_visible" | "is_archived" | "messages_tab_disabled" | "invalid_blocks"
            | "invalid_arguments" | "not_in_channel" | "msg_too_long" | "no_text"))
    }

    pub fn code(&self) -> String {
        match self {
            SlackError::Api(code) => code.clone(),
            SlackError::RateLimited(_) => "ratelimited".to_owned(),
            SlackError::Transport(_) => "transport".to_owned(),
        }
    }
}

impl From<SlackClientError> for SlackError {
    fn from(e: SlackClientError) -> Self {
        match e {
            SlackClientError::ApiError(api) => SlackError::Api(api.code),
            SlackClientError::RateLimitError(limit) => {
                SlackError::RateLimited(limit.retry_after.unwrap_or(Duration::from_secs(1)))
            }
            SlackClientError::HttpError(http) => {
                SlackError::Transport(format!("HTTP {}", http.status_code))
            }
            // Only the kind, never the payload: protocol errors can quote the response body.
            SlackClientError::HttpProtocolError(_) => {
                SlackError::Transport("HTTP protocol error".into())
            }
            SlackClientError::EndOfStream(_) => SlackError::Transport("connection closed".into()),
            SlackClientError::SystemError(_) => SlackError::Transport("system error".into()),
            SlackClientError::ProtocolError(_) => {
                SlackError::Transport("unexpected response".into())
            }
            SlackClientError::SocketModeProtocolError(_) => {
                SlackError::Transport("socket mode error".into())
            }
        }
    }
}

pub type SlackResult<T> = Result<T, SlackError>;

/// Builds the HTTP connector: https with bundled roots (no OS CA store needed) and plain http
/// for a fake Slack on loopback.
pub fn connector(api_url: &str) -> SlackClientHyperHttpsConnector {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    SlackClientHyperConnector::with_connector(https)
        .with_slack_api_url(api_url.trim_end_matches('/'))
}

/// The bot's view of the Web API.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    timeout: Duration,
}

/// How long one Web API call may take before it counts as a transient failure.
pub use crate::ops::chat::CALL_TIMEOUT;

/// Runs one call under the client's timeout and maps its error.
async fn timed<T>(
    timeout: Duration,
    call: impl Future<Output = ClientResult<T>>,
) -> SlackResult<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(SlackError::from),
        Err(_) => Err(SlackError::Transport("timed out".into())),
    }
}

/// A message: fallback text (for notifications and screen readers) plus blocks.
pub type Message = SlackMessageContent;

impl SlackApi {
    pub fn new(api_url: &str, bot_token: &SecretString) -> SlackApi {
        SlackApi {
            client: Arc::new(SlackClient::new(connector(api_url))),
            token: SlackApiToken::new(bot_token.expose_secret().to_owned().into()),
            timeout: CALL_TIMEOUT,
        }
    }

    pub fn client(&self) -> Arc<SlackHyperClient> {
        self.client.clone()
    }

    fn session(&self) -> SlackClientSession<'_, SlackClientHyperHttpsConnector> {
        self.client.open_session(&self.token)
    }

    /// (team id, bot user id)
    pub async fn auth_test(&self) -> SlackResult<(String, String)> {
        let r = timed(self.timeout, self.session().auth_test()).await?;
        Ok((r.team_id.to_string(), r.user_id.to_string()))
    }

    /// Opens (or finds) the DM channel with one person.
    pub async fn open_dm(&self, person_id: &str) -> SlackResult<String> {
        let req = SlackApiConversationsOpenRequest::new().with_users(vec![person_id.into()]);
        Ok(timed(self.timeout, self.session().conversations_open(&req))
            .await?
            .channel
            .id
            .to_string())
    }

    /// Posts a message; returns the channel it landed in and its `ts`. `channel` may be a
    /// person's user id: Slack then posts into the bot's DM with them and names that channel.
    pub async fn post_message(
        &self,
        channel: &str,
        message: Message,
    ) -> SlackResult<(String, String)> {
        let req = SlackApiChatPostMessageRequest::new(channel.into(), message);
        let posted = timed(self.timeout, self.session().chat_post_message(&req)).await?;
        Ok((posted.channel.to_string(), posted.ts.to_string()))
    }

    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        message: Message,
    ) -> SlackResult<()> {
        let req = SlackApiChatUpdateRequest::new(channel.into(), message, ts.into());
        timed(self.timeout, self.session().chat_update(&req)).await?;
        Ok(())
    }

    pub async fn open_view(&self, trigger_id: &str, view: SlackView) -> SlackResult<()> {
        let req = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        timed(self.timeout, self.session().views_open(&req)).await?;
        Ok(())
    }

    /// A message only `user` sees, in `channel`; Slack does not keep it.
    pub async fn post_ephemeral(&self, channel: &str, user: &str, text: &str) -> SlackResult<()> {
        let req = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            SlackMessageContent::new().with_text(text.to_owned()),
        );
        timed(self.timeout, self.session().chat_post_ephemeral(&req)).await?;
        Ok(())
    }

    pub async fn publish_home(&self, person_id: &str, view: SlackView) -> SlackResult<()> {
        let req = SlackApiViewsPublishRequest::new(person_id.into(), view);
        timed(self.timeout, self.session().views_publish(&req)).await?;
        Ok(())
    }

    /// Slack's external upload, step 1 (`files.getUploadURLExternal`): where to send `length`
    /// bytes, and the file's id.
    pub async fn upload_url(
        &self,
        filename: &str,
        length: usize,
        alt_text: &str,
    ) -> SlackResult<(SlackFileUploadUrl, String)> {
        let req = SlackApiFilesGetUploadUrlExternalRequest::new(filename.to_owned(), length)
            .with_alt_txt(alt_text.to_owned());
        let r = timed(self.timeout, self.session().get_upload_url_external(&req)).await?;
        Ok((r.upload_url, r.file_id.to_string()))
    }

    /// Step 2: the bytes themselves, to the URL of step 1 (not a Web API method: no tier).
    pub async fn upload_bytes(
        &self,
        upload_url: SlackFileUploadUrl,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> SlackResult<()> {
        let req = SlackApiFilesUploadViaUrlRequest::new(upload_url, bytes, content_type.into());
        timed(self.timeout, self.session().files_upload_via_url(&req)).await?;
        Ok(())
    }

    /// Step 3 (`files.completeUploadExternal`): the file is complete; share it in `channel`
    /// and nowhere else.
    pub async fn complete_upload(
        &self,
        file_id: &str,
        title: &str,
        channel: &str,
    ) -> SlackResult<()> {
        let file = SlackApiFilesComplete::new(file_id.into()).with_title(title.to_owned());
        let req = SlackApiFilesCompleteUploadExternalRequest::new(vec![file])
            .with_channel_id(channel.into());
        timed(
            self.timeout,
            self.session().files_complete_upload_external(&req),
        )
        .await?;
        Ok(())
    }

    /// One page of the workspace's users (`users.list`, tier 2) and the cursor of the next.
    pub async fn users_page(
        &self,
        cursor: Option<String>,
    ) -> SlackResult<(Vec<Person>, Option<String>)> {
        let req = SlackApiUsersListRequest::new()
            .with_limit(200)
            .opt_cursor(cursor.map(Into::into));
        let page = timed(self.timeout, self.session().users_list(&req)).await?;
        let next = page
            .response_metadata
            .and_then(|m| m.next_cursor)
            .map(|c| c.to_string())
            .filter(|c| !c.is_empty());
        Ok((page.members.iter().map(person_from_slack).collect(), next))
    }

    /// The Slack user id for an email, or None when no one has it.
    pub async fn lookup_by_email(&self, email: &str) -> SlackResult<Option<String>> {
        let req = SlackApiUsersLookupByEmailRequest::new(email.into());
        match timed(self.timeout, self.session().users_lookup_by_email(&req)).await {
            Ok(found) => Ok(Some(found.user.id.to_string())),
            Err(SlackError::Api(code)) if code == "users_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What trustpulse keeps of a Slack user.
pub fn person_from_slack(user: &SlackUser) -> Person {
    let profile = user.profile.as_ref();
    Person {
        person_id: user.id.to_string(),
        display_name: profile
            .and_then(|p| {
                p.display_name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .or(p.real_name.clone())
            })
            .or(user.real_name.clone())
            .or(user.name.clone()),
        email: profile
            .and_then(|p| p.email.as_ref())
            .map(|e| e.to_string()),
        tz: user.tz.clone(),
        is_bot: user.flags.is_bot.unwrap_or(false) || user.id.0 == "USLACKBOT",
        is_deactivated: user.deleted.unwrap_or(false),
        opted_out: false,
        dm_channel: None,
    }
}
