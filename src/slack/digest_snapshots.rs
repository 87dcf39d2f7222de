//! Snapshots of the digest as a manager receives it (Block Kit and its text), for each kind of
//! week. Product copy changes show up in review as snapshot diffs.

use crate::digest::build_digest;
use crate::digest::fixtures::{self, WEEK1, release};
use crate::digest::release::{Release, ReleaseBody};
use crate::digest::view::{DigestInput, HeldWindow};
use crate::survey::Ballot;

use super::blocks::digest_message;

fn input(releases: Vec<Release>) -> DigestInput {
    DigestInput {
        week: 2,
        next_pulse: Some("Monday 14 December at 10:00".into()),
        ..fixtures::input(releases)
    }
}

fn snapshot(name: &str, input: &DigestInput) {
    let message = digest_message(&build_digest(input));
    insta::assert_snapshot!(
        format!("{name}_text"),
        message.text.clone().unwrap_or_default()
    );
    insta::assert_json_snapshot!(format!("{name}_blocks"), message.blocks);
}

const WEEK2_UP: &[(i64, i64, i64)] = &[
    (5, 4, 5),
    (4, 4, 4),
    (4, 3, 5),
    (5, 4, 5),
    (5, 3, 4),
    (4, 4, 4),
];
const WEEK2_DOWN: &[(i64, i64, i64)] = &[
    (3, 2, 3),
    (3, 1, 4),
    (2, 2, 3),
    (4, 2, 3),
    (3, 1, 3),
    (3, 2, 4),
];

#[test]
fn first_release() {
    snapshot(
        "first_release",
        &input(vec![release("2026-12-03", WEEK1, &[], 1)]),
    );
}

#[test]
fn a_rise() {
    snapshot(
        "a_rise",
        &input(vec![
            release("2026-12-03", WEEK1, &[], 1),
            release("2026-12-10", WEEK2_UP, &[], 1),
        ]),
    );
}

#[test]
fn a_fall() {
    snapshot(
        "a_fall",
        &input(vec![
            release("2026-12-03", WEEK1, &[], 1),
            release("2026-12-10", WEEK2_DOWN, &[], 1),
        ]),
    );
}

#[test]
fn not_enough_responses() {
    let short = Release {
        window_end: "2026-12-24".into(),
        waves: 4,
        body: ReleaseBody::NotEnoughResponses,
    };
    let mut held = input(vec![short]);
    held.held = Some(HeldWindow {
        invited: 6,
        waves_closed: 1,
        k: 5,
        max_waves: 4,
    });
    snapshot("not_enough_responses", &held);
}

#[test]
fn pooled_window() {
    snapshot(
        "pooled_window",
        &input(vec![release("2026-12-10", &WEEK1[..5], &[], 2)]),
    );
}

#[test]
fn with_comments() {
    let comments = ["More ride-alongs, fewer dashboards, please."];
    snapshot(
        "with_comments",
        &input(vec![release("2026-12-03", WEEK1, &comments, 1)]),
    );
}

#[test]
fn with_a_self_check_gap() {
    let mut i = input(vec![release("2026-12-03", WEEK1, &[], 1)]);
    i.prediction = Some(Ballot::new([5, 4, 5]).unwrap());
    snapshot("with_a_self_check_gap", &i);
}

#[test]
fn nothing_released_yet_with_a_pulse_open() {
    let mut i = input(Vec::new());
    i.pulse_open = true;
    snapshot("nothing_released_yet_pulse_open", &i);
}

#[test]
fn a_window_held_under_k_with_no_release_before() {
    let mut i = input(Vec::new());
    i.held = Some(HeldWindow {
        invited: 6,
        waves_closed: 2,
        k: 5,
        max_waves: 4,
    });
    snapshot("held_first_window", &i);
}

#[test]
fn a_team_smaller_than_k_with_no_cadence() {
    let mut i = input(Vec::new());
    i.eligible = 3;
    i.next_pulse = None;
    snapshot("small_team_not_scheduled", &i);
}

#[test]
fn with_the_follow_through_item() {
    use crate::digest::release::FollowThroughResult;
    let with_item = |item: FollowThroughResult| {
        let mut r = release("2026-12-17", WEEK1, &[], 1);
        if let ReleaseBody::Results { follow_through, .. } = &mut r.body {
            *follow_through = Some(item);
        }
        input(vec![r])
    };
    snapshot(
        "follow_through_counts",
        &with_item(FollowThroughResult::Counts {
            since: "2026-12-14".into(),
            answered: 6,
            yes: 4,
            breakdown: None,
        }),
    );
    snapshot(
        "follow_through_breakdown",
        &with_item(FollowThroughResult::Counts {
            since: "2026-12-14".into(),
            answered: 10,
            yes: 7,
            breakdown: Some([7, 1, 1, 1]),
        }),
    );
    snapshot(
        "follow_through_too_few",
        &with_item(FollowThroughResult::TooFew {
            since: "2026-12-14".into(),
        }),
    );
}
