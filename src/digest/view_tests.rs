use super::*;
use crate::digest::fixtures::{input, release_of_one_wave as release};
use crate::survey::Ballot;

#[test]
fn a_first_release_shows_numbers_the_weakest_question_and_a_tip() {
    let r = release(
        "2026-12-03",
        &[
            (4, 2, 5),
            (4, 3, 4),
            (5, 2, 4),
            (3, 2, 5),
            (4, 3, 4),
            (4, 2, 5),
        ],
        &["More ride-alongs please"],
    );
    let digest = build_digest(&input(vec![r]));
    let text = digest.to_text();
    assert!(
        text.starts_with("Released 2026-12-03: 6 of 8 answered."),
        "{text}"
    );
    assert!(text.contains("Care  4.0  83% agree"), "{text}");
    assert!(text.contains("Help  2.3  0% agree"), "{text}");
    assert_eq!(digest.focus.unwrap().0, Question::Help);
    assert!(text.contains("Focus this week: help."), "{text}");
    assert!(text.contains("“More ride-alongs please”"));
}

#[test]
fn a_rise_and_a_fall_show_the_change_and_the_trend() {
    let low = release("2026-12-03", &[(2, 2, 2); 5], &[]);
    let high = release("2026-12-10", &[(4, 2, 1); 5], &[]);
    let digest = build_digest(&input(vec![low, high]));
    let care = &digest.questions[0];
    assert_eq!(care.change_tenths, Some(20));
    assert_eq!(care.trend, "▃▆");
    assert_eq!(digest.questions[1].change_tenths, Some(0));
    assert_eq!(digest.questions[2].change_tenths, Some(-10));
    let text = digest.to_text();
    assert!(text.contains("Care  4.0 (+2.0)"), "{text}");
    assert!(text.contains("Trust 1.0 (−1.0)"), "{text}");
}

#[test]
fn no_change_is_shown_across_a_release_without_numbers() {
    let short = Release {
        window_end: "2026-12-03".into(),
        waves: 4,
        body: ReleaseBody::NotEnoughResponses,
    };
    let digest = build_digest(&input(vec![
        short,
        release("2026-12-10", &[(3, 3, 3); 5], &[]),
    ]));
    assert!(digest.questions.iter().all(|q| q.change_tenths.is_none()));
    assert_eq!(digest.questions[0].trend, "·▅");
}

#[test]
fn not_enough_responses_shows_no_number_and_says_why() {
    let short = Release {
        window_end: "2026-12-24".into(),
        waves: 4,
        body: ReleaseBody::NotEnoughResponses,
    };
    let mut i = input(vec![short]);
    i.held = None;
    let text = build_digest(&i).to_text();
    assert!(
        text.contains("did not reach the privacy minimum of 5"),
        "{text}"
    );
    assert!(!text.contains("agree"));
}

#[test]
fn a_held_window_is_explained_in_plain_words() {
    let mut i = input(Vec::new());
    i.held = Some(HeldWindow {
        invited: 8,
        waves_closed: 1,
        k: 5,
        max_waves: 4,
    });
    i.next_pulse = Some("Monday 7 December at 10:00".into());
    let text = build_digest(&i).to_text();
    assert!(text.contains("Fewer than 5 people answered the last pulse, the privacy minimum. These answers are kept and will be combined with the next pulse's"), "{text}");
    // How many answered is a count under k: no digit of it, nor of the team size, is shown.
    assert!(!text.contains(['4', '8']), "{text}");
    assert!(
        text.contains("The next pulse opens Monday 7 December at 10:00"),
        "{text}"
    );
}

#[test]
fn the_trend_covers_the_last_twelve_releases() {
    let releases: Vec<Release> = (0..15)
        .map(|i| release(&format!("w{i}"), &[(1 + i % 5, 3, 3); 5], &[]))
        .collect();
    assert_eq!(
        build_digest(&input(releases)).questions[0]
            .trend
            .chars()
            .count(),
        12
    );
}

#[test]
fn the_self_check_shows_the_gap_between_prediction_and_team() {
    let r = release("2026-12-03", &[(4, 2, 5); 5], &[]);
    let mut i = input(vec![r]);
    i.prediction = Some(Ballot::new([5, 4, 5]).unwrap());
    let text = build_digest(&i).to_text();
    assert!(
        text.contains("Care  4.0  100% agree  trend ▆  you predicted 5: team −1.0"),
        "{text}"
    );
    assert!(text.contains("you predicted 4: team −2.0"), "{text}");
    assert!(text.contains("you predicted 5: team ±0.0"), "{text}");
}
