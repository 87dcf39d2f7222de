//! Assembling a manager's digest from the store: released windows, the held window (as known at
//! its last close), and whether a pulse is open. Nothing here reads an open window's answers.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::digest::view::{DigestInput, TREND_RELEASES};
use crate::digest::{Digest, build_digest};
use crate::ops::AppState;
use crate::privacy::invitation_groups::invitation_times;
use crate::store::Person;
use crate::survey::cadence::Cadence;

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
    let Some(team) = TeamSchedule::read(state, manager).await? else {
        return Ok(None);
    };
    let tz = team.zone_of(person);
    // A team with no one to ask opens nothing; it is named at the viewer's own time.
    let first = team.next_pulse(&tz, now, |sellers, viewers| {
        let first = sellers.iter().map(|s| s.asked).min().unwrap_or(viewers);
        (first >= now).then_some(first)
    });
    Ok(first.map(|first| day_and_time(first, &tz)))
}

/// When `manager`'s team's next pulse reaches `person`, one of its sellers, in words in their
/// own time zone: the cadence's time there, or later when too few of the team share that time
/// and the invitations wait to go out *k* at a time (`privacy::invitation_groups`). When their
/// zone lends a few of its sellers, chosen at random, to a later group, both times are named:
/// "Monday 30 November at 10:00 or 16:00". None while HR has not chosen a cadence.
pub async fn seller_next_pulse_words(
    state: &AppState,
    manager: &str,
    person: Option<&Person>,
    now: Timestamp,
) -> anyhow::Result<Option<String>> {
    let Some(team) = TeamSchedule::read(state, manager).await? else {
        return Ok(None);
    };
    let tz = team.zone_of(person);
    let next = team.next_pulse(&tz, now, |sellers, viewers| {
        // When the sellers of this person's zone are asked (a person not among those asked,
        // opted out say, is named their own time).
        let asked = sellers.iter().filter(|s| s.own == viewers).map(|s| s.asked);
        let first = asked.clone().min().unwrap_or(viewers);
        let last = asked.max().unwrap_or(viewers);
        (last >= now).then_some((first, last))
    });
    let Some((first, last)) = next else {
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

/// A team's cadence, when HR set it, and how many of its sellers are in each time zone: what
/// the planner opens its pulses from.
struct TeamSchedule {
    cadence: Cadence,
    set_at: Timestamp,
    zones: Vec<(Option<String>, usize)>,
    k: usize,
}

/// One seller in a slot of [`TeamSchedule::next_pulse`]: when they would be asked on their own,
/// and when they are asked.
struct Asked {
    own: Timestamp,
    asked: Timestamp,
}

impl TeamSchedule {
    async fn read(state: &AppState, manager: &str) -> anyhow::Result<Option<TeamSchedule>> {
        let Some((cadence, set_at)) = state.store.scheduled_cadence(manager).await? else {
            return Ok(None);
        };
        let zones = state
            .store
            .teams_time_zones(&[manager])
            .await?
            .remove(manager)
            .unwrap_or_default();
        Ok(Some(TeamSchedule {
            cadence,
            set_at,
            zones,
            k: state.k.get() as usize,
        }))
    }

    /// The zone the cadence's time is read in for `person`.
    fn zone_of(&self, person: Option<&Person>) -> TimeZone {
        let tz = person.and_then(|p| p.tz.as_deref());
        self.cadence.zone.resolve(tz)
    }

    /// What `pick` finds in the first of the team's slots where it finds anything, among those
    /// the planner opens (a slot that had begun before the cadence was set is never opened).
    /// `pick` is given each seller of the slot, and the cadence's time in the viewer's zone
    /// `tz`. None only for a cadence with no slot in the next ten years.
    fn next_pulse<T>(
        &self,
        tz: &TimeZone,
        now: Timestamp,
        pick: impl Fn(&[Asked], Timestamp) -> Option<T>,
    ) -> Option<T> {
        let cadence = &self.cadence;
        let mut date =
            cadence.slot_on_or_after(now.to_zoned(TimeZone::UTC).date() - Span::new().days(2));
        for _ in 0..520 {
            let viewers = cadence.opening_at(date, tz);
            let own: Vec<Timestamp> = self
                .zones
                .iter()
                .flat_map(|(zone, sellers)| {
                    let at = cadence.opening_at(date, &cadence.zone.resolve(zone.as_deref()));
                    std::iter::repeat_n(at, *sellers)
                })
                .collect();
            let first = own.iter().min().copied().unwrap_or(viewers);
            if first >= self.set_at {
                let asked = invitation_times(&own, self.k);
                let sellers: Vec<Asked> = own
                    .into_iter()
                    .zip(asked)
                    .map(|(own, asked)| Asked { own, asked })
                    .collect();
                if let Some(found) = pick(&sellers, viewers) {
                    return Some(found);
                }
            }
            date = cadence.slot_on_or_after(date.tomorrow().expect("sane date"));
        }
        None
    }
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
