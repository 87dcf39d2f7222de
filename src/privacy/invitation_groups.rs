//! A wave's invitations go out in groups of at least *k*.
//!
//! With `--tz seller` each seller is asked at the cadence time in their own time zone. Left at
//! that, a seller alone in the team's earliest zone would be the only person who could have
//! answered until the next zone's time came: the wave's one participation token and one ballot,
//! in the database or in a copy of its files taken meanwhile, would be theirs, answers and
//! comment included (the outbox and the people table say who was asked when). Grouped, every
//! moment at which invitations go out asks at least *k* people (or the whole team, when it has
//! fewer), so whatever is stored before the next moment could be any of at least *k* people's,
//! the same bound a release keeps.
//!
//! No one is asked before their own time, and the wait this adds is as short as it can be:
//! the groups are the split of the team, in the order of their own times, that keeps *k* in
//! every group and adds the fewest hours of waiting in all. A seller whose zone holds too few
//! of the team waits for the next zone's time; a zone with more than *k* may lend a few of its
//! sellers, chosen at random each time, to the group after it.

use jiff::Timestamp;
use rand::seq::SliceRandom;

/// The least size of a wave's invitation groups: the larger of the k of a window held from an
/// earlier wave (it keeps the k it was made with until its release, as a change of k applies
/// from the next window, so a lower k does not shrink its groups) and today's k (a higher one
/// applies at once). What the planner groups by, and what a seller is told.
pub fn group_size(held_window_k: Option<u32>, k: u32) -> usize {
    held_window_k.unwrap_or(0).max(k) as usize
}

/// When each invitee is asked, given when each would be on their own (`own`, in any order):
/// as many times, in the same order. Each time is one of `own`, never earlier than the
/// invitee's own, and shared by at least `k` invitees (by all of them, when there are fewer);
/// someone whose own time is earlier than another's is never asked later than them.
pub fn invitation_times(own: &[Timestamp], k: usize) -> Vec<Timestamp> {
    let k = k.max(1);
    let n = own.len();
    // By own time; among equal times in a random order, so that when a zone lends some of its
    // sellers to a later group, it is not the same people every time.
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rng());
    order.sort_by_key(|&i| own[i]);
    let secs: Vec<i64> = order.iter().map(|&i| own[i].as_second()).collect();
    let mut times = own.to_vec();
    if n < k {
        // Fewer than k in all: one group, at the last time.
        if let Some(&last) = order.last() {
            let at = own[last];
            times.iter_mut().for_each(|t| *t = at);
        }
        return times;
    }
    if secs.first() == secs.last() {
        // Everyone at one time (one zone for the team, or a pulse started by hand).
        return times;
    }
    // before[i]: the sum of the first i own times, so a group's wait is one subtraction.
    let mut before = vec![0i64; n + 1];
    for (i, s) in secs.iter().enumerate() {
        before[i + 1] = before[i] + s;
    }
    // best[i]: the least wait that groups the first i invitees, k or more to a group, and
    // where the last of those groups starts. Groups of 2k or more need not be looked at: cut
    // after its first k, such a group waits no longer (its first part is asked no later), so
    // the work is n times k, not n squared, however large the team.
    let mut best: Vec<Option<(i64, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0));
    for end in k..=n {
        let at = secs[end - 1];
        for start in end.saturating_sub(2 * k - 1)..=end - k {
            let Some((wait_before, _)) = best[start] else {
                continue;
            };
            let count = (end - start) as i64;
            let wait = wait_before + count * at - (before[end] - before[start]);
            if best[end].is_none_or(|(least, _)| wait < least) {
                best[end] = Some((wait, start));
            }
        }
    }
    let mut end = n;
    while end > 0 {
        // Every count from k up is a sum of group sizes from k to 2k - 1.
        let (_, start) = best[end].expect("n >= k, so every invitee is in a group");
        let at = own[order[end - 1]];
        for &i in &order[start..end] {
            times[i] = at;
        }
        end = start;
    }
    times
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn at(hour: i64) -> Timestamp {
        Timestamp::from_second(1_796_000_000 + hour * 3600).unwrap()
    }

    /// How many invitees are asked at each time.
    fn sizes(times: &[Timestamp]) -> BTreeMap<Timestamp, usize> {
        let mut sizes = BTreeMap::new();
        for t in times {
            *sizes.entry(*t).or_default() += 1;
        }
        sizes
    }

    #[test]
    fn a_seller_alone_in_the_earliest_zone_waits_for_the_next_zone() {
        let own = [at(1), at(9), at(9), at(9), at(9), at(9)];
        assert_eq!(invitation_times(&own, 5), vec![at(9); 6]);
    }

    #[test]
    fn zones_with_k_sellers_each_keep_their_own_time() {
        let own: Vec<Timestamp> = [1, 9, 15].iter().flat_map(|&h| [at(h); 5]).collect();
        assert_eq!(invitation_times(&own, 5), own);
    }

    #[test]
    fn the_last_few_join_the_group_before_them() {
        // Tokyo 5, Berlin 2, New York 1, k = 5: Berlin's and New York's three would be a group
        // of fewer than k, so Tokyo's five wait with them for New York's time.
        let own = [at(1), at(1), at(1), at(1), at(1), at(9), at(9), at(15)];
        assert_eq!(invitation_times(&own, 5), vec![at(15); 8]);
        // Tokyo 3, Berlin 3, New York 3: no split leaves k in every group, so all at once.
        let own = [
            at(1),
            at(9),
            at(15),
            at(1),
            at(9),
            at(15),
            at(1),
            at(9),
            at(15),
        ];
        assert_eq!(invitation_times(&own, 5), vec![at(15); 9]);
    }

    #[test]
    fn a_zone_with_more_than_k_lends_the_fewest_it_can_to_the_next_group() {
        // Tokyo 6, Berlin 4, k = 5: five in Tokyo at their time, the sixth with Berlin.
        let own = [
            at(1),
            at(1),
            at(1),
            at(1),
            at(1),
            at(1),
            at(9),
            at(9),
            at(9),
            at(9),
        ];
        let times = invitation_times(&own, 5);
        assert_eq!(sizes(&times), BTreeMap::from([(at(1), 5), (at(9), 5)]));
        assert!(
            times[6..].iter().all(|t| *t == at(9)),
            "Berlin keeps its time"
        );
    }

    #[test]
    fn a_team_smaller_than_k_is_asked_at_once_and_nobody_is_lost() {
        assert_eq!(invitation_times(&[at(3), at(1)], 5), [at(3), at(3)]);
        assert_eq!(invitation_times(&[], 5), Vec::<Timestamp>::new());
    }

    /// The least wait of any split of `sorted` (own times in order) into runs of k or more.
    fn least_wait(sorted: &[i64], k: usize) -> Option<i64> {
        if sorted.is_empty() {
            return Some(0);
        }
        (k..=sorted.len())
            .filter_map(|len| {
                let (run, rest) = sorted.split_at(len);
                let wait: i64 = run.iter().map(|t| run[len - 1] - t).sum();
                least_wait(rest, k).map(|w| w + wait)
            })
            .min()
    }

    proptest! {
        #[test]
        fn the_wait_added_is_the_least_any_grouping_allows(
            hours in proptest::collection::vec(0i64..24, 0..11),
            k in 1usize..5,
        ) {
            let own: Vec<Timestamp> = hours.iter().map(|&h| at(h)).collect();
            let times = invitation_times(&own, k);
            let wait: i64 = own.iter().zip(&times).map(|(o, t)| t.as_second() - o.as_second()).sum();
            let mut sorted: Vec<i64> = own.iter().map(|t| t.as_second()).collect();
            sorted.sort_unstable();
            let least = least_wait(&sorted, k).unwrap_or_else(|| {
                // Fewer than k: one group, at the latest time.
                sorted.iter().map(|t| sorted[sorted.len() - 1] - t).sum()
            });
            prop_assert_eq!(wait, least);
        }

        #[test]
        fn every_moment_asks_at_least_k_and_nobody_before_their_time(
            hours in proptest::collection::vec(0i64..48, 0..40),
            k in 1usize..8,
        ) {
            let own: Vec<Timestamp> = hours.iter().map(|&h| at(h)).collect();
            let times = invitation_times(&own, k);
            prop_assert_eq!(times.len(), own.len());
            for (mine, asked) in own.iter().zip(&times) {
                prop_assert!(asked >= mine, "asked before their own time");
                prop_assert!(own.contains(asked), "asked at a time that is nobody's own");
            }
            for (moment, n) in sizes(&times) {
                prop_assert!(n >= k.min(own.len()), "{} asked at {}", n, moment);
            }
            // Whoever would be asked before another is never asked after them.
            for i in 0..own.len() {
                for j in 0..own.len() {
                    if own[i] < own[j] {
                        prop_assert!(times[i] <= times[j]);
                    }
                }
            }
        }
    }
}
