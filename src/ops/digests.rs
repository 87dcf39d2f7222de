//! Assembling a manager's digest from the store: released windows, the held window (as known at
//! its last close), and whether a pulse is open. Nothing here reads an open window's answers.

use jiff::Timestamp;

use crate::digest::view::{DigestInput, TREND_RELEASES};
use crate::digest::{Digest, build_digest};
use crate::ops::AppState;
use crate::store::Person;

/// When `manager`'s team's next pulse opens for `person` (in their own time zone under a
/// `seller` cadence), in words: "Monday 30 November at 10:00". None while HR has not chosen a
/// cadence for the team (nothing is scheduled).
pub async fn next_pulse_words(
    state: &AppState,
    manager: &str,
    person: Option<&Person>,
    now: Timestamp,
) -> anyhow::Result<Option<String>> {
    let Some((cadence, _)) = state.store.scheduled_cadence(manager).await? else {
        return Ok(None);
    };
    let tz = cadence.zone.resolve(person.and_then(|p| p.tz.as_deref()));
    Ok(Some(
        cadence
            .next_slot(&tz, now)
            .opens_at
            .to_zoned(tz)
            .strftime("%A %-d %B at %H:%M")
            .to_string(),
    ))
}

/// Said wherever a next pulse would be named, while HR has not chosen a cadence.
pub const NOT_SCHEDULED: &str =
    "No pulse is scheduled yet: your HR team has not chosen how often to ask.";

pub async fn digest_for(state: &AppState, manager: &str, now: Timestamp) -> anyhow::Result<Digest> {
    let store = &state.store;
    let person = store.person(manager).await?;
    let pulse_open = store.open_wave_of(manager).await?.is_some();
    let next_pulse = next_pulse_words(state, manager, person.as_ref(), now).await?;
    let eligible = store
        .team_sizes()
        .await?
        .into_iter()
        .find(|(m, _, _)| m == manager)
        .map_or(0, |(_, _, eligible)| eligible as u32);
    let input = DigestInput {
        releases: store.releases_of(manager, TREND_RELEASES as i64).await?,
        held: store
            .held_window(manager, state.release_policy.max_window_waves)
            .await?,
        pulse_open,
        next_pulse,
        eligible,
        k: state.k.get(),
        // ISO-ish week count since the epoch: the tip changes every week.
        week: (now.as_second().div_euclid(7 * 86_400)) as u32,
        prediction: store.prediction_for_latest_release(manager).await?,
    };
    Ok(build_digest(&input))
}
