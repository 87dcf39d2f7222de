//! A window's release: computed once from its ballots, then frozen (stored as JSON and never
//! recomputed). What it may hold is fixed by DESIGN §3: respondents and invited counts, per
//! question the mean to one decimal and the favourable share (answers 4–5), the distribution
//! only at 2k respondents or more, and comments only at the comment minimum or more, in random
//! order, dated by the window's end. Nothing else: no times, no order, no per-person anything.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::privacy::gates;
use crate::survey::{Ballot, Question};

/// How many answers each question got at each point of the scale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// counts[question][score - 1]
    counts: [[u32; 5]; Question::COUNT],
    /// The follow-through item: how many chose each answer (yes, partly, no, not sure).
    #[serde(default)]
    follow_through: [u32; 4],
}

impl Tally {
    pub fn of(ballots: &[Ballot]) -> Tally {
        let mut tally = Tally::default();
        for ballot in ballots {
            tally.add(ballot);
        }
        tally
    }

    pub fn add(&mut self, ballot: &Ballot) {
        for (q, question) in Question::ALL.iter().enumerate() {
            self.counts[q][(ballot.score(*question).value() - 1) as usize] += 1;
        }
        if let Some(answer) = ballot.follow_through() {
            self.follow_through[(answer.value() - 1) as usize] += 1;
        }
    }

    /// How many answered the follow-through item.
    pub fn follow_through_answered(&self) -> u32 {
        self.follow_through.iter().sum()
    }

    /// The tally of two disjoint sets of ballots together.
    pub fn merge(&self, other: &Tally) -> Tally {
        let mut merged = *self;
        for q in 0..Question::COUNT {
            for s in 0..5 {
                merged.counts[q][s] += other.counts[q][s];
            }
        }
        for a in 0..4 {
            merged.follow_through[a] += other.follow_through[a];
        }
        merged
    }

    /// Ballots counted.
    pub fn ballots(&self) -> u32 {
        self.counts[0].iter().sum()
    }

    fn result(&self, question: Question, with_distribution: bool) -> QuestionResult {
        let counts = self.counts[question.index()];
        let n: u32 = counts.iter().sum();
        let total: u32 = counts
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32 + 1) * c)
            .sum();
        // Integer arithmetic, rounded half up: the same inputs always give the same bytes.
        let mean_tenths = (total * 20 + n) / (2 * n);
        let favourable = counts[3] + counts[4];
        let favourable_pct = (favourable * 200 + n) / (2 * n);
        QuestionResult {
            mean_tenths,
            favourable_pct,
            distribution: with_distribution.then_some(counts),
        }
    }
}

/// One question's numbers in a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionResult {
    /// The mean in tenths (37 = 3.7).
    pub mean_tenths: u32,
    /// Share of answers 4 or 5, in percent.
    pub favourable_pct: u32,
    /// Answers at 1..5, only when the window had at least 2k respondents.
    pub distribution: Option<[u32; 5]>,
}

impl QuestionResult {
    pub fn mean(&self) -> f64 {
        f64::from(self.mean_tenths) / 10.0
    }
}

/// What a release says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReleaseBody {
    Results {
        respondents: u32,
        invited: u32,
        /// One per question, in `Question::ALL` order.
        questions: [QuestionResult; Question::COUNT],
        /// Shuffled; empty when under the comment minimum.
        comments: Vec<String>,
        /// True when there were comments but too few respondents to show them.
        comments_withheld: bool,
        /// The follow-through item, when a pulse of the window asked it. (Absent from releases
        /// made before the item existed, whose bytes stay as they were.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        follow_through: Option<FollowThroughResult>,
    },
    /// The window never reached k: no numbers at all.
    NotEnoughResponses,
}

/// What a release says about the follow-through item ("since `since`, has the manager done
/// what they said they would?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "shown", rename_all = "snake_case")]
pub enum FollowThroughResult {
    /// At least k answered it: how many, and how many said yes. How many chose each answer
    /// (yes, partly, no, not sure) only at 2k, like the questions' distribution: with fewer, a
    /// lone "no" stands out.
    Counts {
        since: String,
        answered: u32,
        yes: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        breakdown: Option<[u32; 4]>,
    },
    /// Fewer than k answered it: no count is kept, not even how many.
    TooFew { since: String },
}

/// A frozen release of one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The window's end (the close of its last wave), as a date: the only date comments carry.
    pub window_end: String,
    /// How many waves the window pooled.
    pub waves: u32,
    pub body: ReleaseBody,
}

impl Release {
    pub fn result(&self, question: Question) -> Option<&QuestionResult> {
        match &self.body {
            ReleaseBody::Results { questions, .. } => Some(&questions[question.index()]),
            ReleaseBody::NotEnoughResponses => None,
        }
    }
}

/// Everything known about a window when it is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowFacts {
    pub tally: Tally,
    /// Distinct people who answered any of its waves.
    pub respondents: u32,
    /// Distinct people invited to any of its waves.
    pub invited: u32,
    pub comments: Vec<String>,
    pub window_end: String,
    pub waves: u32,
    /// The commitment's date when a pulse of the window asked the follow-through item.
    pub follow_through_since: Option<String>,
}

/// The thresholds of DESIGN §3 for one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// k: numbers need this many distinct respondents; the distribution needs twice as many.
    pub k: u32,
    /// Comments need this many distinct respondents.
    pub comment_minimum: u32,
}

/// Computes a window's release. Below `k` distinct respondents, nothing but "not enough
/// responses"; the distribution needs `2k`; comments need the comment minimum.
pub fn compute_release(facts: WindowFacts, thresholds: Thresholds) -> Release {
    let WindowFacts {
        tally,
        respondents,
        invited,
        mut comments,
        window_end,
        waves,
        follow_through_since,
    } = facts;
    let Thresholds { k, comment_minimum } = thresholds;
    let body = if !gates::shows_numbers(respondents, k) || tally.ballots() == 0 {
        ReleaseBody::NotEnoughResponses
    } else {
        let with_distribution = gates::shows_distribution(respondents, k);
        let show_comments = gates::shows_comments(respondents, comment_minimum);
        let comments_withheld = !show_comments && !comments.is_empty();
        if show_comments {
            // A CSPRNG order, so the order of arrival cannot be read from the list.
            comments.shuffle(&mut rand::rng());
        } else {
            comments.clear();
        }
        ReleaseBody::Results {
            respondents,
            invited,
            questions: Question::ALL.map(|q| tally.result(q, with_distribution)),
            comments,
            comments_withheld,
            follow_through: follow_through_since.map(|since| {
                let answered = tally.follow_through_answered();
                // Its own k: a count of answers to the item is shown only when at least k
                // answered it; otherwise not even how many did.
                if gates::shows_numbers(answered, k) {
                    FollowThroughResult::Counts {
                        since,
                        answered,
                        yes: tally.follow_through[0],
                        breakdown: gates::shows_distribution(answered, k)
                            .then_some(tally.follow_through),
                    }
                } else {
                    FollowThroughResult::TooFew { since }
                }
            }),
        }
    };
    Release {
        window_end,
        waves,
        body,
    }
}

#[cfg(test)]
#[path = "release_tests.rs"]
mod tests;
