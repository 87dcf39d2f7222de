use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn ballot() -> impl Strategy<Value = Ballot> {
    (1i64..=5, 1i64..=5, 1i64..=5).prop_map(|(c, h, t)| Ballot::new([c, h, t]).unwrap())
}

/// A ballot that may also answer the follow-through item.
fn ballot_with_item() -> impl Strategy<Value = Ballot> {
    (ballot(), proptest::option::of(1i64..=4)).prop_map(|(b, item)| {
        b.with_follow_through(item.map(|v| crate::survey::FollowThrough::from_value(v).unwrap()))
    })
}

fn facts(ballots: &[Ballot], respondents: u32) -> WindowFacts {
    WindowFacts {
        tally: Tally::of(ballots),
        respondents,
        invited: respondents + 2,
        comments: Vec::new(),
        window_end: "2026-12-03".into(),
        waves: 1,
        follow_through_since: None,
    }
}

const K5: Thresholds = Thresholds {
    k: 5,
    comment_minimum: 5,
};

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(10_000)
}

proptest! {
    #![proptest_config(cases())]

    // Fewer ballots than k are generated directly, for every k: rejecting the draws with k or
    // more (as this test did) threw away about one draw in twelve and, near proptest's limit of
    // 1,024 rejects per 10,000 cases, made the test fail one run in a few.
    #[test]
    fn under_k_no_number_escapes(
        (ballots, k) in (3u32..10).prop_flat_map(|k| (proptest::collection::vec(ballot(), 0..k as usize), Just(k)))
    ) {
        let respondents = ballots.len() as u32;
        prop_assert!(respondents < k);
        let mut f = facts(&ballots, respondents);
        f.comments = vec!["a comment".into()];
        let release = compute_release(f, Thresholds { k, comment_minimum: k });
        prop_assert_eq!(&release.body, &ReleaseBody::NotEnoughResponses);
        let json = serde_json::to_string(&release).unwrap();
        prop_assert!(!json.contains("a comment") && !json.contains("mean") && !json.contains("respondents"));
    }

    #[test]
    fn results_do_not_depend_on_the_order_of_ballots(ballots in proptest::collection::vec(ballot(), 5..40), seed in any::<u64>()) {
        let mut shuffled = ballots.clone();
        use rand::SeedableRng;
        shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let n = ballots.len() as u32;
        prop_assert_eq!(compute_release(facts(&ballots, n), K5), compute_release(facts(&shuffled, n), K5));
    }

    #[test]
    fn the_follow_through_item_shows_counts_only_when_k_answered_it(
        (ballots, k) in (3u32..10).prop_flat_map(|k| (proptest::collection::vec(ballot_with_item(), k as usize..30), Just(k)))
    ) {
        let n = ballots.len() as u32;
        let answered = ballots.iter().filter(|b| b.follow_through().is_some()).count() as u32;
        let mut f = facts(&ballots, n);
        f.follow_through_since = Some("2026-12-14".into());
        let release = compute_release(f, Thresholds { k, comment_minimum: k });
        let ReleaseBody::Results { follow_through: Some(item), .. } = &release.body else {
            panic!("a window that asked the item releases it");
        };
        match item {
            FollowThroughResult::Counts { answered: shown, yes, breakdown, .. } => {
                prop_assert!(answered >= k);
                prop_assert_eq!(*shown, answered);
                prop_assert!(*yes <= answered);
                prop_assert_eq!(breakdown.is_some(), answered >= 2 * k);
                if let Some(counts) = breakdown {
                    prop_assert_eq!(counts.iter().sum::<u32>(), answered);
                    prop_assert_eq!(counts[0], *yes);
                }
            }
            FollowThroughResult::TooFew { .. } => {
                prop_assert!(answered < k);
                let json = serde_json::to_string(item).unwrap();
                prop_assert!(!json.contains("answered") && !json.contains("counts"), "{}", json);
            }
        }
    }

    #[test]
    fn a_window_that_did_not_ask_releases_no_item(ballots in proptest::collection::vec(ballot_with_item(), 5..30)) {
        let n = ballots.len() as u32;
        let release = compute_release(facts(&ballots, n), K5);
        let asked = matches!(release.body, ReleaseBody::Results { follow_through: Some(_), .. });
        prop_assert!(!asked);
        prop_assert!(!serde_json::to_string(&release).unwrap().contains("follow_through"));
    }

    #[test]
    fn per_wave_tallies_merge_to_the_window_tally(waves in proptest::collection::vec(proptest::collection::vec(ballot_with_item(), 0..15), 1..5)) {
        let merged = waves.iter().map(|w| Tally::of(w)).fold(Tally::default(), |a, b| a.merge(&b));
        let all: Vec<Ballot> = waves.concat();
        prop_assert_eq!(merged, Tally::of(&all));
    }

    #[test]
    fn means_stay_in_one_to_five_and_shares_in_zero_to_a_hundred(ballots in proptest::collection::vec(ballot(), 5..60)) {
        let n = ballots.len() as u32;
        let release = compute_release(facts(&ballots, n), K5);
        for question in Question::ALL {
            let r = release.result(question).unwrap();
            prop_assert!((10..=50).contains(&r.mean_tenths), "{}", r.mean_tenths);
            prop_assert!(r.favourable_pct <= 100);
            prop_assert_eq!(r.distribution.is_some(), n >= 10);
        }
    }

    #[test]
    fn replays_with_duplicates_give_the_same_release(
        submissions in proptest::collection::vec((0u8..12, ballot()), 5..30),
        replays in proptest::collection::vec(0usize..30, 0..10),
    ) {
        // The store keeps the first submission per person and refuses the rest; a replayed
        // payload is a later duplicate.
        let first_wins = |subs: &[(u8, Ballot)]| {
            let mut kept: BTreeMap<u8, Ballot> = BTreeMap::new();
            for (person, b) in subs {
                kept.entry(*person).or_insert(*b);
            }
            kept.into_values().collect::<Vec<_>>()
        };
        let mut replayed = submissions.clone();
        for i in replays {
            replayed.push(submissions[i % submissions.len()]);
        }
        let (a, b) = (first_wins(&submissions), first_wins(&replayed));
        prop_assert_eq!(compute_release(facts(&a, a.len() as u32), K5), compute_release(facts(&b, b.len() as u32), K5));
    }
}

#[test]
fn comments_need_the_comment_minimum_and_the_distribution_needs_two_k() {
    let ballots: Vec<Ballot> = (0..6).map(|_| Ballot::new([4, 2, 5]).unwrap()).collect();
    let mut f = facts(&ballots, 6);
    f.comments = vec!["keep the 1:1s".into()];
    let withheld = compute_release(
        f.clone(),
        Thresholds {
            k: 5,
            comment_minimum: 8,
        },
    );
    match withheld.body {
        ReleaseBody::Results {
            comments,
            comments_withheld,
            questions,
            ..
        } => {
            assert!(comments.is_empty() && comments_withheld);
            assert_eq!(questions[0].mean_tenths, 40);
            assert_eq!(questions[1].favourable_pct, 0);
            assert_eq!(questions[2].favourable_pct, 100);
            assert!(questions[0].distribution.is_none(), "6 < 2k");
        }
        other => panic!("{other:?}"),
    }
    let shown = compute_release(f, K5);
    assert!(matches!(shown.body, ReleaseBody::Results { ref comments, .. } if comments.len() == 1));
}

#[test]
fn comment_order_is_uniform() {
    // Ten comments, released 10,000 times: where the first one lands is uniform (chi-square,
    // 9 degrees of freedom). The critical value 45.0 is p = 1e-6, so a fair shuffle fails one
    // run in a million (at p = 0.01 this test failed CI one run in a hundred). A biased order
    // still fails: comment 0 landing first 30% more often than chance gives a chi-square of
    // 100, and an order that is not shuffled at all one of 90,000.
    let ballots: Vec<Ballot> = (0..10).map(|_| Ballot::new([3, 3, 3]).unwrap()).collect();
    let comments: Vec<String> = (0..10).map(|i| format!("comment {i}")).collect();
    let mut positions = [0u32; 10];
    for _ in 0..10_000 {
        let mut f = facts(&ballots, 10);
        f.comments = comments.clone();
        let ReleaseBody::Results {
            comments: shown, ..
        } = compute_release(f, K5).body
        else {
            panic!()
        };
        positions[shown.iter().position(|c| c == "comment 0").unwrap()] += 1;
    }
    let chi_square: f64 = positions
        .iter()
        .map(|&o| (f64::from(o) - 1000.0).powi(2) / 1000.0)
        .sum();
    assert!(
        chi_square < 45.0,
        "positions {positions:?}, chi-square {chi_square:.1}"
    );
}
