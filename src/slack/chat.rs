//! Slack as trustpulse's chat platform: each [`Outgoing`] rendered in Block Kit, every call
//! paced by Slack's own limits ([`Pacer`]), and Slack's errors sorted into what the worker acts
//! on ([`ChatError`]).

use std::sync::Arc;

use jiff::Timestamp;

use super::blocks;
use super::client::{Message, SlackApi, SlackError};
use super::home;
use super::pacing::Pacer;
use crate::ops::AppState;
use crate::ops::chat::{
    Chat, ChatError, Delivered, DirectoryPage, NotDelivered, Outgoing, Picture, Posted,
};
use crate::store::Store;

/// The Slack client, the process's pacer, and the store (to remember each person's DM channel
/// as Slack names it).
#[derive(Clone)]
pub struct SlackChat {
    pub api: SlackApi,
    pub pacer: Arc<Pacer>,
    store: Store,
}

impl SlackChat {
    pub fn new(api: SlackApi, pacer: Arc<Pacer>, store: Store) -> SlackChat {
        SlackChat { api, pacer, store }
    }

    /// Posts into the bot's DM with a person. Returns the channel and the message's `ts`.
    ///
    /// A person whose DM channel is unknown gets the message addressed to their user id: Slack
    /// posts it into the bot's DM and names the channel, which is remembered. This spares the
    /// first pulse of a new org one `conversations.open` per seller (Slack allows about 50 a
    /// minute). Only if Slack refuses the user id is the DM opened the old way.
    async fn dm(
        &self,
        person_id: &str,
        known_channel: Option<String>,
        message: Message,
        now: Timestamp,
    ) -> Delivered<Posted> {
        let Some(channel) = known_channel else {
            if let Err(deferral) = self
                .pacer
                .try_acquire("chat.postMessage", Some(person_id), now)
            {
                return Ok(Err(deferral.into()));
            }
            return match self.api.post_message(person_id, message.clone()).await {
                Ok((channel, ts)) => {
                    self.store
                        .remember_dm_channel(person_id, &channel, now)
                        .await?;
                    Ok(Ok(Posted { channel, ts }))
                }
                Err(SlackError::Api(code)) if refuses_user_id(&code) => {
                    self.open_dm_and_post(person_id, message, now).await
                }
                Err(e) => Ok(Err(chat_error(e).into())),
            };
        };
        self.post(&channel, message, now).await
    }

    async fn open_dm_and_post(
        &self,
        person_id: &str,
        message: Message,
        now: Timestamp,
    ) -> Delivered<Posted> {
        match self.dm_channel(person_id, None, now).await? {
            Ok(channel) => self.post(&channel, message, now).await,
            Err(not) => Ok(Err(not)),
        }
    }

    /// The bot's DM channel with a person: the known one, or opened (and remembered).
    async fn dm_channel(
        &self,
        person_id: &str,
        known_channel: Option<String>,
        now: Timestamp,
    ) -> Delivered<String> {
        if let Some(channel) = known_channel {
            return Ok(Ok(channel));
        }
        if let Err(deferral) = self.pacer.try_acquire("conversations.open", None, now) {
            return Ok(Err(deferral.into()));
        }
        let channel = match self.api.open_dm(person_id).await {
            Ok(channel) => channel,
            Err(e) => return Ok(Err(chat_error(e).into())),
        };
        self.store
            .remember_dm_channel(person_id, &channel, now)
            .await?;
        Ok(Ok(channel))
    }

    async fn post(&self, channel: &str, message: Message, now: Timestamp) -> Delivered<Posted> {
        if let Err(deferral) = self
            .pacer
            .try_acquire("chat.postMessage", Some(channel), now)
        {
            return Ok(Err(deferral.into()));
        }
        Ok(self
            .api
            .post_message(channel, message)
            .await
            .map(|(channel, ts)| Posted { channel, ts })
            .map_err(|e| chat_error(e).into()))
    }
}

/// What Slack answers when a message cannot be addressed to a user id; opening the DM first
/// may still work (and otherwise says precisely why not).
fn refuses_user_id(code: &str) -> bool {
    matches!(code, "channel_not_found" | "not_in_channel")
}

/// An upload's error, sorted like any other, except that what stops uploads alone stops only
/// this picture: an app installed before it asked for `files:write` gets `missing_scope` here,
/// and that must not pause every invitation and digest of the workspace as a refused token
/// does; a workspace that disallows uploads, or a full storage, likewise.
fn upload_error(e: SlackError) -> ChatError {
    match &e {
        SlackError::Api(code)
            if matches!(
                code.as_str(),
                "missing_scope"
                    | "access_denied"
                    | "file_uploads_disabled"
                    | "file_uploads_except_images_disabled"
                    | "file_type_not_allowed"
                    | "file_upload_size_restricted"
                    | "storage_limit_reached"
                    | "alt_txt_too_large"
                    | "posting_to_channel_denied"
                    | "invalid_channel"
            ) =>
        {
            if code == "missing_scope" {
                tracing::warn!(
                    "the trend chart was not uploaded: the Slack app lacks the files:write scope; reinstall it from the manifest in deploy/slack/"
                );
            }
            ChatError::Permanent(code.clone())
        }
        _ => chat_error(e),
    }
}

/// Slack's error, sorted by what the worker does about it.
pub fn chat_error(e: SlackError) -> ChatError {
    if e.is_auth() {
        return ChatError::Auth(e.code());
    }
    if e.is_permanent() {
        return ChatError::Permanent(e.code());
    }
    match e {
        SlackError::RateLimited(wait) => ChatError::RateLimited(wait),
        other => ChatError::Transient(other.code()),
    }
}

fn render(message: &Outgoing) -> Message {
    match message {
        Outgoing::Invitation { wave_id, closes, k } => blocks::invitation(wave_id, closes, *k),
        Outgoing::Reminder { wave_id, closes, k } => blocks::reminder(wave_id, closes, *k),
        Outgoing::Digest(digest, team_loop) => blocks::digest_message_with_loop(digest, team_loop),
        Outgoing::TeamNote { commitment, done } => super::team_loop::team_note(commitment, *done),
    }
}

#[async_trait::async_trait]
impl Chat for SlackChat {
    async fn send_dm(
        &self,
        person_id: &str,
        known_channel: Option<String>,
        message: &Outgoing,
        now: Timestamp,
    ) -> Delivered<Posted> {
        self.dm(person_id, known_channel, render(message), now)
            .await
    }

    async fn share_picture(
        &self,
        person_id: &str,
        known_channel: Option<String>,
        picture: &Picture,
        now: Timestamp,
    ) -> Delivered<String> {
        let channel = match self.dm_channel(person_id, known_channel, now).await? {
            Ok(channel) => channel,
            Err(not) => return Ok(Err(not)),
        };
        // Both Web API steps take their turn before the first is made, so pacing never
        // leaves an upload half done.
        for method in ["files.getUploadURLExternal", "files.completeUploadExternal"] {
            if let Err(deferral) = self.pacer.try_acquire(method, None, now) {
                return Ok(Err(deferral.into()));
            }
        }
        let upload = async {
            let (url, file_id) = self
                .api
                .upload_url(&picture.filename, picture.png.len(), &picture.alt_text)
                .await?;
            self.api
                .upload_bytes(url, picture.png.clone(), "image/png")
                .await?;
            self.api
                .complete_upload(&file_id, &picture.title, &channel)
                .await?;
            Ok::<_, SlackError>(file_id)
        };
        Ok(upload.await.map_err(|e| upload_error(e).into()))
    }

    async fn mark_closed(
        &self,
        channel: &str,
        ts: &str,
        closed_on: &str,
        now: Timestamp,
    ) -> Delivered<()> {
        if let Err(deferral) = self.pacer.try_acquire("chat.update", None, now) {
            return Ok(Err(deferral.into()));
        }
        Ok(self
            .api
            .update_message(channel, ts, blocks::pulse_closed(closed_on))
            .await
            .map_err(|e| chat_error(e).into()))
    }

    async fn publish_home(
        &self,
        state: &AppState,
        person_id: &str,
        notice: Option<&str>,
        now: Timestamp,
    ) -> Delivered<()> {
        if let Err(deferral) = self.pacer.try_acquire("views.publish", None, now) {
            return Ok(Err(deferral.into()));
        }
        let view = home::home_view(state, person_id, notice, now).await?;
        Ok(self
            .api
            .publish_home(person_id, view)
            .await
            .map_err(|e| chat_error(e).into()))
    }

    async fn directory_page(
        &self,
        cursor: Option<String>,
        now: Timestamp,
    ) -> Delivered<DirectoryPage> {
        // Tier 2: pages of 200, paced at 20 a minute.
        if let Err(deferral) = self.pacer.try_acquire("users.list", None, now) {
            return Ok(Err(NotDelivered::Paced(deferral)));
        }
        Ok(self
            .api
            .users_page(cursor)
            .await
            .map_err(|e| chat_error(e).into()))
    }
}
