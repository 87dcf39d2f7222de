//! Delivering one outbox job to Slack, paced. The worker decides about retries; this only
//! sends, or says why not.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::blocks;
use super::client::{Message, SlackError};
use super::home;
use crate::app_state::AppState;
use crate::schedule::pacing::Deferral;
use crate::store::{Job, WaveState};

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Nothing to send any more (the wave closed, the person answered or left).
    Skipped,
}

/// Why a job was not delivered this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDelivered {
    /// Slack refused or could not be reached.
    Slack(SlackError),
    /// Our own pacing: not before this instant.
    Paced(Deferral),
}

impl From<SlackError> for NotDelivered {
    fn from(e: SlackError) -> Self {
        NotDelivered::Slack(e)
    }
}

impl From<Deferral> for NotDelivered {
    fn from(d: Deferral) -> Self {
        NotDelivered::Paced(d)
    }
}

pub async fn deliver(
    state: &AppState,
    job: &Job,
    now: Timestamp,
) -> anyhow::Result<Result<Delivery, NotDelivered>> {
    let store = &state.store;
    let k = state.k.get();
    match job {
        Job::Invite { wave_id, person_id } | Job::Remind { wave_id, person_id } => {
            let Some(wave) = store.wave(wave_id).await? else {
                return Ok(Ok(Delivery::Skipped));
            };
            if wave.state != WaveState::Open || now >= wave.closes_at {
                return Ok(Ok(Delivery::Skipped));
            }
            let person = store.person(person_id).await?;
            if person.as_ref().is_some_and(|p| !p.is_eligible()) {
                return Ok(Ok(Delivery::Skipped));
            }
            let is_reminder = matches!(job, Job::Remind { .. });
            if is_reminder && store.has_answered(wave_id, person_id).await? != Some(false) {
                return Ok(Ok(Delivery::Skipped));
            }
            let tz = person
                .and_then(|p| p.tz)
                .and_then(|name| jiff::tz::db().get(&name).ok())
                .unwrap_or(TimeZone::UTC);
            let closes = wave
                .closes_at
                .to_zoned(tz)
                .strftime("%A %-d %B, %H:%M")
                .to_string();
            let message = if is_reminder {
                blocks::reminder(wave_id, &closes, k)
            } else {
                blocks::invitation(wave_id, &closes, k)
            };
            send_dm(state, person_id, message, now)
                .await
                .map(|r| r.map(|()| Delivery::Sent))
        }
        Job::Digest { manager_id, .. } => {
            send_dm(state, manager_id, blocks::digest_nothing_released(k), now)
                .await
                .map(|r| r.map(|()| Delivery::Sent))
        }
        Job::PublishHome { person_id } => {
            if let Err(deferral) = state.pacer.try_acquire("views.publish", None, now) {
                return Ok(Err(deferral.into()));
            }
            let view = home::home_view(store, person_id, k, now).await?;
            Ok(state
                .slack
                .publish_home(person_id, view)
                .await
                .map(|()| Delivery::Sent)
                .map_err(Into::into))
        }
    }
}

/// Posts into the bot's DM with a person, opening it (once, then remembered) if needed.
async fn send_dm(
    state: &AppState,
    person_id: &str,
    message: Message,
    now: Timestamp,
) -> anyhow::Result<Result<(), NotDelivered>> {
    let channel = match state.store.dm_channel(person_id).await? {
        Some(channel) => channel,
        None => {
            if let Err(deferral) = state.pacer.try_acquire("conversations.open", None, now) {
                return Ok(Err(deferral.into()));
            }
            match state.slack.open_dm(person_id).await {
                Ok(channel) => {
                    state.store.set_dm_channel(person_id, &channel, now).await?;
                    channel
                }
                Err(e) => return Ok(Err(e.into())),
            }
        }
    };
    if let Err(deferral) = state
        .pacer
        .try_acquire("chat.postMessage", Some(&channel), now)
    {
        return Ok(Err(deferral.into()));
    }
    Ok(state
        .slack
        .post_message(&channel, message)
        .await
        .map(|_| ())
        .map_err(Into::into))
}
