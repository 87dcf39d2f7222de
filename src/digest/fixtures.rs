//! Releases and digest inputs for the tests of the digest and of its renderings: one place,
//! so a change to what a release holds is made once.

use super::release::{Release, Tally, Thresholds, WindowFacts, compute_release};
use super::view::DigestInput;
use crate::survey::Ballot;

/// Six answers (care, help, trust) of a first week: help is the weakest question.
pub const WEEK1: &[(i64, i64, i64)] = &[
    (4, 2, 5),
    (4, 3, 4),
    (3, 2, 4),
    (4, 3, 5),
    (5, 2, 4),
    (4, 3, 4),
];

/// A release of `scores` (care, help, trust) and `comments` out of 8 invited, at k = 5 and a
/// comment minimum of 5, pooled over `waves` waves.
pub fn release(end: &str, scores: &[(i64, i64, i64)], comments: &[&str], waves: u32) -> Release {
    let ballots: Vec<Ballot> = scores
        .iter()
        .map(|(c, h, t)| Ballot::new([*c, *h, *t]).unwrap())
        .collect();
    compute_release(
        WindowFacts {
            tally: Tally::of(&ballots),
            respondents: ballots.len() as u32,
            invited: 8,
            comments: comments.iter().map(|c| c.to_string()).collect(),
            window_end: end.into(),
            waves,
            follow_through_since: None,
        },
        Thresholds {
            k: 5,
            comment_minimum: 5,
        },
    )
}

/// [`release`] of a single wave.
pub fn release_of_one_wave(end: &str, scores: &[(i64, i64, i64)], comments: &[&str]) -> Release {
    release(end, scores, comments, 1)
}

/// A digest input for a team of 8 at k = 5, week 3 (the week picks the tip).
pub fn input(releases: Vec<Release>) -> DigestInput {
    DigestInput {
        releases,
        eligible: 8,
        k: 5,
        week: 3,
        ..Default::default()
    }
}
