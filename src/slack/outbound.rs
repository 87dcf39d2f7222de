//! Delivering one outbox job to Slack. The worker decides about retries; this only sends.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::blocks;
use super::client::{Message, SlackApi, SlackResult};
use super::home;
use crate::store::{Job, Store, WaveState};

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Nothing to send any more (the wave closed, the person answered or left).
    Skipped,
}

pub async fn deliver(
    api: &SlackApi,
    store: &Store,
    job: &Job,
    k: u32,
    now: Timestamp,
) -> anyhow::Result<SlackResult<Delivery>> {
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
            Ok(send_dm(api, person_id, message)
                .await
                .map(|()| Delivery::Sent))
        }
        Job::PublishHome { person_id } => {
            let view = home::home_view(store, person_id, k, now).await?;
            Ok(api
                .publish_home(person_id, view)
                .await
                .map(|()| Delivery::Sent))
        }
    }
}

async fn send_dm(api: &SlackApi, person_id: &str, message: Message) -> SlackResult<()> {
    let channel = api.open_dm(person_id).await?;
    api.post_message(&channel, message).await.map(|_| ())
}
