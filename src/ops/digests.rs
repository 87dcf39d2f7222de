//! Assembling a manager's digest from the store: released windows, the held window (as known at
//! its last close), and whether a pulse is open. Nothing here reads an open window's answers.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::digest::view::{DigestInput, TREND_RELEASES};
use crate::digest::{Digest, build_digest};
use crate::ops::AppState;
use crate::privacy::invitation_groups::group_size;
use crate::store::Person;
use crate::survey::next_pulse::TeamSchedule;

/// When `manager`'s team's next pulse opens, in words in `person`'s time zone (the manager's,
/// in their digest): "Monday 30 November at 10:00", when its first invitations go out. None
/// while HR has not chosen a cadence for the team (nothing is scheduled). A seller is told
/// [`seller_next_pulse_words`] instead.
pub async fn next_pulse_words(
    state: &AppState,
    manager: &str,
    person: Option<&Person>,
    now: Timestamp,
) -> anyhow::Result<Option<String>> {
    let Some((team, tz)) = team_schedule(state, manager, person).await? else {
        return Ok(None);
    };
    Ok(team.opens(&tz, now).map(|first| day_and_time(first, &tz)))
}

/// When `manager`'s team's next pulse reaches `person`, one of its sellers, in words in their
/// own time zone: the cadence's time there, or later when too few of the team share it
/// (`survey::next_pulse`). When their zone lends a few of its sellers, chosen at random, to a
/// later group, both times are named: "Monday 30 November at 10:00 or 16:00". Once the
/// pulse is under way, a seller whose invitation still waits in the outbox is given its time;
/// the others, the next pulse's. None while HR has not chosen a cadence.
pub async fn seller_next_pulse_words(
    state: &AppState,
    manager: &str,
    person: Option<&Person>,
    now: Timestamp,
) -> anyhow::Result<Option<String>> {
    let Some((team, tz)) = team_schedule(state, manager, person).await? else {
        return Ok(None);
    };
    if let Some(due) = own_invitation_to_come(state, manager, person).await? {
        return Ok(Some(day_and_time(due, &tz)));
    }
    let Some((first, last)) = team.reaches(&tz, now) else {
        return Ok(None);
    };
    let mut words = day_and_time(first, &tz);
    if last != first {
        let same_day = last.to_zoned(tz.clone()).date() == first.to_zoned(tz.clone()).date();
        let later = if same_day {
            last.to_zoned(tz).strftime("%H:%M").to_string()
        } else {
            day_and_time(last, &tz)
        };
        words = format!("{words} or {later}");
    }
    Ok(Some(words))
}

/// When `person`'s own invitation to the team's open pulse is due, if it has not gone yet: a
/// seller in a later zone, or lent by their zone to a later group. (Past its time only while
/// Slack makes sends wait.)
async fn own_invitation_to_come(
    state: &AppState,
    manager: &str,
    person: Option<&Person>,
) -> anyhow::Result<Option<Timestamp>> {
    let Some(person) = person else {
        return Ok(None);
    };
    let Some(wave) = state.store.open_wave_of(manager).await? else {
        return Ok(None);
    };
    state
        .store
        .pending_invitation_due(&wave.wave_id, &person.person_id)
        .await
}

/// What the team's next pulses are planned from, and the zone the cadence's time is read in
/// for `person` (None: no cadence).
async fn team_schedule(
    state: &AppState,
    manager: &str,
    person: Option<&Person>,
) -> anyhow::Result<Option<(TeamSchedule, TimeZone)>> {
    let Some((cadence, set_at)) = state.store.scheduled_cadence(manager).await? else {
        return Ok(None);
    };
    let tz = cadence.zone.resolve(person.and_then(|p| p.tz.as_deref()));
    let mut zones = state.store.teams_time_zones(&[manager]).await?;
    // A window held for too few answers keeps its own k for the next pulse's groups.
    let max_waves = state.release_policy.max_window_waves;
    let held_k = state
        .store
        .held_window(manager, max_waves)
        .await?
        .map(|held| held.k);
    let team = TeamSchedule {
        cadence,
        set_at,
        zones: zones.remove(manager).unwrap_or_default(),
        k: group_size(held_k, state.k.get()),
    };
    Ok(Some((team, tz)))
}

/// "Monday 30 November at 10:00", in `tz`.
fn day_and_time(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%A %-d %B at %H:%M")
        .to_string()
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
