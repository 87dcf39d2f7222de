//! Delivering one outbox job to Slack, paced. The worker decides about retries; this only
//! sends, or says why not.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::blocks;
use super::client::{Message, SlackError};
use super::home;
use crate::app_state::AppState;
use crate::schedule::pacing::Deferral;
use std::collections::HashMap;

use crate::store::{Job, Person, Store, Wave, WaveState};

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// An invitation or reminder went out: the worker records where, so that it is updated
    /// with all the others when the wave closes.
    Posted {
        wave_id: String,
        channel: String,
        ts: String,
    },
    /// Nothing to send any more (the wave closed, the person left or opted out).
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

/// The waves and people a batch of jobs refers to, loaded in two queries rather than two per
/// job.
#[derive(Default)]
pub struct Prefetched {
    waves: HashMap<String, Wave>,
    people: HashMap<String, Person>,
}

impl Prefetched {
    pub async fn load(store: &Store, jobs: &[&Job]) -> anyhow::Result<Prefetched> {
        let mut wave_ids = Vec::new();
        let mut person_ids = Vec::new();
        for job in jobs {
            match job {
                Job::Invite { wave_id, person_id } | Job::Remind { wave_id, person_id } => {
                    wave_ids.push(wave_id.as_str());
                    person_ids.push(person_id.as_str());
                }
                Job::CloseMessage { wave_id, .. } => wave_ids.push(wave_id.as_str()),
                Job::Digest { manager_id, .. } => person_ids.push(manager_id.as_str()),
                Job::PublishHome { .. } => {}
            }
        }
        wave_ids.sort_unstable();
        wave_ids.dedup();
        person_ids.sort_unstable();
        person_ids.dedup();
        Ok(Prefetched {
            waves: store.waves_by_ids(&wave_ids).await?,
            people: store.people_by_ids(&person_ids).await?,
        })
    }
}

pub async fn deliver(
    state: &AppState,
    job: &Job,
    prefetched: &Prefetched,
    now: Timestamp,
) -> anyhow::Result<Result<Delivery, NotDelivered>> {
    let k = state.k.get();
    match job {
        Job::Invite { wave_id, person_id } | Job::Remind { wave_id, person_id } => {
            let Some(wave) = prefetched.waves.get(wave_id) else {
                return Ok(Ok(Delivery::Skipped));
            };
            if wave.state != WaveState::Open || now >= wave.closes_at {
                return Ok(Ok(Delivery::Skipped));
            }
            let person = prefetched.people.get(person_id);
            if person.is_some_and(|p| !p.is_eligible()) {
                return Ok(Ok(Delivery::Skipped));
            }
            // Never "has this person answered?": a reminder reaches every invitee alike.
            let is_reminder = matches!(job, Job::Remind { .. });
            let tz = person
                .and_then(|p| p.tz.as_deref())
                .and_then(|name| jiff::tz::db().get(name).ok())
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
            let known = person.and_then(|p| p.dm_channel.clone());
            send_dm(state, person_id, known, message, now)
                .await
                .map(|r| {
                    r.map(|(channel, ts)| Delivery::Posted {
                        wave_id: wave_id.clone(),
                        channel,
                        ts,
                    })
                })
        }
        Job::CloseMessage {
            wave_id,
            channel,
            ts,
        } => {
            let Some(wave) = prefetched.waves.get(wave_id) else {
                return Ok(Ok(Delivery::Skipped));
            };
            if let Err(deferral) = state.pacer.try_acquire("chat.update", None, now) {
                return Ok(Err(deferral.into()));
            }
            let closed_on = wave
                .closed_at
                .unwrap_or(wave.closes_at)
                .to_zoned(TimeZone::UTC)
                .strftime("%-d %B %Y")
                .to_string();
            Ok(state
                .slack
                .update_message(channel, ts, blocks::pulse_closed(&closed_on))
                .await
                .map(|()| Delivery::Sent)
                .map_err(Into::into))
        }
        Job::Digest { manager_id, .. } => {
            let known = prefetched
                .people
                .get(manager_id)
                .and_then(|p| p.dm_channel.clone());
            let digest = crate::schedule::digests::digest_for(state, manager_id, now).await?;
            let message = blocks::digest_message(&digest);
            send_dm(state, manager_id, known, message, now)
                .await
                .map(|r| r.map(|_| Delivery::Sent))
        }
        Job::PublishHome { person_id } => {
            if let Err(deferral) = state.pacer.try_acquire("views.publish", None, now) {
                return Ok(Err(deferral.into()));
            }
            let view = home::home_view(state, person_id, now).await?;
            Ok(state
                .slack
                .publish_home(person_id, view)
                .await
                .map(|()| Delivery::Sent)
                .map_err(Into::into))
        }
    }
}

/// Posts into the bot's DM with a person. Returns the channel and the message's `ts`.
///
/// A person whose DM channel is unknown gets the message addressed to their user id: Slack posts
/// it into the bot's DM and names the channel, which is remembered. This spares the first pulse
/// of a new org one `conversations.open` per seller (Slack allows about 50 a minute). Only if
/// Slack refuses the user id is the DM opened the old way.
async fn send_dm(
    state: &AppState,
    person_id: &str,
    known_channel: Option<String>,
    message: Message,
    now: Timestamp,
) -> anyhow::Result<Result<(String, String), NotDelivered>> {
    let Some(channel) = known_channel else {
        if let Err(deferral) = state
            .pacer
            .try_acquire("chat.postMessage", Some(person_id), now)
        {
            return Ok(Err(deferral.into()));
        }
        return match state.slack.post_message(person_id, message.clone()).await {
            Ok((channel, ts)) => {
                state
                    .store
                    .remember_dm_channel(person_id, &channel, now)
                    .await?;
                Ok(Ok((channel, ts)))
            }
            Err(SlackError::Api(code)) if refuses_user_id(&code) => {
                open_dm_and_post(state, person_id, message, now).await
            }
            Err(e) => Ok(Err(e.into())),
        };
    };
    post(state, &channel, message, now).await
}

/// What Slack answers when a message cannot be addressed to a user id; opening the DM first
/// may still work (and otherwise says precisely why not).
fn refuses_user_id(code: &str) -> bool {
    matches!(code, "channel_not_found" | "not_in_channel")
}

async fn open_dm_and_post(
    state: &AppState,
    person_id: &str,
    message: Message,
    now: Timestamp,
) -> anyhow::Result<Result<(String, String), NotDelivered>> {
    if let Err(deferral) = state.pacer.try_acquire("conversations.open", None, now) {
        return Ok(Err(deferral.into()));
    }
    let channel = match state.slack.open_dm(person_id).await {
        Ok(channel) => channel,
        Err(e) => return Ok(Err(e.into())),
    };
    state
        .store
        .remember_dm_channel(person_id, &channel, now)
        .await?;
    post(state, &channel, message, now).await
}

async fn post(
    state: &AppState,
    channel: &str,
    message: Message,
    now: Timestamp,
) -> anyhow::Result<Result<(String, String), NotDelivered>> {
    if let Err(deferral) = state
        .pacer
        .try_acquire("chat.postMessage", Some(channel), now)
    {
        return Ok(Err(deferral.into()));
    }
    Ok(state
        .slack
        .post_message(channel, message)
        .await
        .map_err(Into::into))
}
