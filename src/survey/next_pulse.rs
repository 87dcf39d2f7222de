//! When a team's next pulse reaches its sellers, as the planner will open it: only slots that
//! began after the cadence was set (one already under way then is never opened), each seller at
//! the cadence's time in their zone or later, the invitations going out at least *k* at a time
//! (`privacy::invitation_groups`). What a seller's Home and `/pulse status` say, and a
//! manager's digest.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::cadence::Cadence;
use crate::privacy::invitation_groups::invitation_times;

/// A team's cadence, when HR set it, how many of its sellers are in each time zone (`None`: not
/// known yet), and *k*.
pub struct TeamSchedule {
    pub cadence: Cadence,
    pub set_at: Timestamp,
    pub zones: Vec<(Option<String>, usize)>,
    pub k: usize,
}

/// One seller in a slot: when they would be asked on their own, and when they are asked.
struct Asked {
    own: Timestamp,
    asked: Timestamp,
}

impl TeamSchedule {
    /// When the team's next pulse first asks anyone, at or after `now`. A team with no one to
    /// ask is given the cadence's time in `tz`.
    pub fn opens(&self, tz: &TimeZone, now: Timestamp) -> Option<Timestamp> {
        self.next_slot(tz, now, |sellers, viewers| {
            let first = sellers.iter().map(|s| s.asked).min().unwrap_or(viewers);
            (first >= now).then_some(first)
        })
    }

    /// When the next pulse asks the sellers whose zone is `tz`: the earliest and the latest of
    /// their times, the same unless their zone lends a few sellers to a later group, in the
    /// first slot that has not yet begun asking them at `now`. Someone not among the team's
    /// sellers (opted out, say) is given the cadence's time in `tz`.
    ///
    /// Between a lending zone's two times, each of its sellers has either been asked already
    /// or waits for the later group; only their own queued invitation tells which (see
    /// `ops::digests::seller_next_pulse_words`), so the slot under way is not counted here.
    pub fn reaches(&self, tz: &TimeZone, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        self.next_slot(tz, now, |sellers, viewers| {
            let asked = sellers.iter().filter(|s| s.own == viewers).map(|s| s.asked);
            let first = asked.clone().min().unwrap_or(viewers);
            let last = asked.max().unwrap_or(viewers);
            (first >= now).then_some((first, last))
        })
    }

    /// What `pick` finds in the first slot the planner opens where it finds anything. `pick`
    /// is given each seller of the slot, and the cadence's time in `tz`. None only for a
    /// cadence with no slot in the next ten years.
    fn next_slot<T>(
        &self,
        tz: &TimeZone,
        now: Timestamp,
        pick: impl Fn(&[Asked], Timestamp) -> Option<T>,
    ) -> Option<T> {
        let cadence = &self.cadence;
        // From two days back: a slot whose last zone's time is still to come.
        let start = now.to_zoned(TimeZone::UTC).date() - Span::new().days(2);
        let mut date = cadence.slot_on_or_after(start);
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

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn tz(name: &str) -> TimeZone {
        jiff::tz::db().get(name).unwrap()
    }

    fn zones(counts: &[(&str, usize)]) -> Vec<(Option<String>, usize)> {
        counts
            .iter()
            .map(|(zone, n)| (Some(zone.to_string()), *n))
            .collect()
    }

    /// Mondays at 10:00 in each seller's zone, set at 10:00 UTC on Monday 23 November.
    fn team(zones: Vec<(Option<String>, usize)>) -> TeamSchedule {
        TeamSchedule {
            cadence: Cadence::builtin_default(date(2026, 11, 23)),
            set_at: ts("2026-11-23T10:00:00Z"),
            zones,
            k: 5,
        }
    }

    #[test]
    fn a_slot_under_way_when_the_cadence_was_set_is_not_the_next_pulse() {
        // Berlin's 10:00 on the 23rd came before the cadence was set, so that slot never opens,
        // though New York's 10:00 that day is still to come.
        let team = team(zones(&[("Europe/Berlin", 5), ("America/New_York", 5)]));
        let now = ts("2026-11-23T10:00:00Z");
        let new_york = ts("2026-11-30T15:00:00Z");
        assert_eq!(
            team.reaches(&tz("America/New_York"), now),
            Some((new_york, new_york))
        );
        assert_eq!(
            team.opens(&tz("Europe/Berlin"), now),
            Some(ts("2026-11-30T09:00:00Z"))
        );
    }

    #[test]
    fn a_zone_too_small_to_be_a_group_is_reached_with_the_next() {
        let team = team(zones(&[("Asia/Tokyo", 1), ("Europe/Berlin", 5)]));
        let berlin = ts("2026-11-30T09:00:00Z");
        let now = ts("2026-11-24T00:00:00Z");
        assert_eq!(team.reaches(&tz("Asia/Tokyo"), now), Some((berlin, berlin)));
        assert_eq!(team.opens(&tz("Asia/Tokyo"), now), Some(berlin));
    }

    #[test]
    fn a_zone_that_lends_to_a_later_group_is_reached_at_either_time() {
        let team = team(zones(&[("Asia/Tokyo", 7), ("Europe/Berlin", 3)]));
        let now = ts("2026-11-24T00:00:00Z");
        assert_eq!(
            team.reaches(&tz("Asia/Tokyo"), now),
            Some((ts("2026-11-30T01:00:00Z"), ts("2026-11-30T09:00:00Z")))
        );
        // Between the two, that pulse is under way: the next is the following week's.
        let between = ts("2026-11-30T05:00:00Z");
        assert_eq!(
            team.reaches(&tz("Asia/Tokyo"), between),
            Some((ts("2026-12-07T01:00:00Z"), ts("2026-12-07T09:00:00Z")))
        );
        // A manager is told when it first asks anyone.
        assert_eq!(
            team.opens(&tz("Europe/Berlin"), now),
            Some(ts("2026-11-30T01:00:00Z"))
        );
    }
}
