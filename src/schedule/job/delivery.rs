//! Delivering one outbox job through the chat platform (which paces it). The worker decides
//! about retries; this only sends, or says why not.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::ops::AppState;
use crate::ops::chat::{NotDelivered, Outgoing, Posted};
use crate::store::{Job, Person, Store, Wave};

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
                Job::Invite {
                    wave_id, person_id, ..
                }
                | Job::Remind { wave_id, person_id } => {
                    wave_ids.push(wave_id.as_str());
                    person_ids.push(person_id.as_str());
                }
                Job::CloseMessage { wave_id, .. } => wave_ids.push(wave_id.as_str()),
                Job::Digest { manager_id, .. } | Job::Chart { manager_id, .. } => {
                    person_ids.push(manager_id.as_str())
                }
                Job::TeamNote { person_id, .. } => person_ids.push(person_id.as_str()),
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
        Job::Invite {
            wave_id, person_id, ..
        }
        | Job::Remind { wave_id, person_id } => {
            let Some(wave) = prefetched.waves.get(wave_id) else {
                return Ok(Ok(Delivery::Skipped));
            };
            if !wave.is_open_at(now) {
                return Ok(Ok(Delivery::Skipped));
            }
            let person = prefetched.people.get(person_id);
            if person.is_some_and(|p| !p.is_eligible()) {
                return Ok(Ok(Delivery::Skipped));
            }
            let tz = person
                .and_then(|p| p.tz.as_deref())
                .and_then(|name| jiff::tz::db().get(name).ok())
                .unwrap_or(TimeZone::UTC);
            let closes = wave
                .closes_at
                .to_zoned(tz)
                .strftime("%A %-d %B, %H:%M")
                .to_string();
            // Never "has this person answered?": a reminder reaches every invitee alike.
            let message = match job {
                Job::Remind { .. } => Outgoing::Reminder {
                    wave_id: wave_id.clone(),
                    closes,
                    k,
                },
                _ => Outgoing::Invitation {
                    wave_id: wave_id.clone(),
                    closes,
                    k,
                },
            };
            let known = person.and_then(|p| p.dm_channel.clone());
            let posted = state.chat.send_dm(person_id, known, &message, now).await?;
            Ok(posted.map(|Posted { channel, ts }| Delivery::Posted {
                wave_id: wave_id.clone(),
                channel,
                ts,
            }))
        }
        Job::CloseMessage {
            wave_id,
            channel,
            ts,
        } => {
            let Some(wave) = prefetched.waves.get(wave_id) else {
                return Ok(Ok(Delivery::Skipped));
            };
            let closed_on = wave
                .closed_at
                .unwrap_or(wave.closes_at)
                .to_zoned(TimeZone::UTC)
                .strftime("%-d %B %Y")
                .to_string();
            let marked = state.chat.mark_closed(channel, ts, &closed_on, now).await?;
            Ok(marked.map(|()| Delivery::Sent))
        }
        Job::Digest { manager_id, week } => {
            let known = prefetched
                .people
                .get(manager_id)
                .and_then(|p| p.dm_channel.clone());
            let digest = crate::ops::digests::digest_for(state, manager_id, now).await?;
            let has_numbers = !digest.questions.is_empty();
            let team_loop = crate::ops::commitments::team_loop(state, manager_id).await?;
            let message = Outgoing::Digest(Box::new(digest), team_loop);
            let posted = state.chat.send_dm(manager_id, known, &message, now).await?;
            if posted.is_ok() && has_numbers {
                // The chart follows the digest as its own job: its upload can be retried
                // without sending the digest twice, and it never arrives before it.
                let chart = Job::Chart {
                    manager_id: manager_id.clone(),
                    week: week.clone(),
                };
                state.store.enqueue(&chart, now, now).await?;
                state.worker_kick.notify_one();
            }
            Ok(posted.map(|_| Delivery::Sent))
        }
        Job::Chart { manager_id, .. } => {
            let known = prefetched
                .people
                .get(manager_id)
                .and_then(|p| p.dm_channel.clone());
            let shared = crate::ops::charts::share_chart(state, manager_id, known, now).await?;
            Ok(shared.map(|drawn| {
                if drawn {
                    Delivery::Sent
                } else {
                    Delivery::Skipped
                }
            }))
        }
        Job::TeamNote {
            commitment_id,
            person_id,
            done,
        } => {
            // The note goes to whoever is still on the team and can be asked when it is sent.
            let Some(commitment) = state.store.commitment(commitment_id).await? else {
                return Ok(Ok(Delivery::Skipped));
            };
            let person = prefetched.people.get(person_id);
            if person.is_some_and(|p| !p.is_eligible())
                || state.store.current_manager_of(person_id).await?.as_deref()
                    != Some(commitment.manager_id.as_str())
            {
                return Ok(Ok(Delivery::Skipped));
            }
            let known = person.and_then(|p| p.dm_channel.clone());
            let message = Outgoing::TeamNote {
                commitment,
                done: *done,
            };
            let posted = state.chat.send_dm(person_id, known, &message, now).await?;
            Ok(posted.map(|_| Delivery::Sent))
        }
        Job::PublishHome { person_id } => {
            let published = state.chat.publish_home(state, person_id, None, now).await?;
            Ok(published.map(|()| Delivery::Sent))
        }
    }
}
