//! The digest a manager reads: the latest release, the change since the previous one, a trend
//! across the last twelve, the weakest question and a tip, the comments, and in plain words why
//! there is nothing (new) when there is nothing.

use super::release::{FollowThroughResult, Release, ReleaseBody};
use super::tips::tip;
use crate::survey::Question;

/// How many releases the trend covers.
pub const TREND_RELEASES: usize = 12;

/// A window whose answers are held because it is still under k (known at its last close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldWindow {
    /// People who were asked (the roster snapshot); how many answered is never kept for a held
    /// window, because it is under k.
    pub invited: u32,
    pub waves_closed: u32,
    pub k: u32,
    pub max_waves: u32,
}

/// Everything a digest is built from. Only released or closed-and-held facts: nothing about an
/// open pulse but the fact that it is open.
#[derive(Debug, Clone, Default)]
pub struct DigestInput {
    /// Oldest first; only the last [`TREND_RELEASES`] are used.
    pub releases: Vec<Release>,
    pub held: Option<HeldWindow>,
    pub pulse_open: bool,
    /// When the next pulse opens, in words, if one is planned.
    pub next_pulse: Option<String>,
    /// Who can be asked in the team now, to warn when that is under k.
    pub eligible: u32,
    pub k: u32,
    /// A week number, so the tip changes every week.
    pub week: u32,
    /// The manager's own prediction for the latest release's window (the self-check).
    pub prediction: Option<crate::survey::Ballot>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuestionLine {
    pub question: Question,
    pub mean: f64,
    /// Change since the previous release, in tenths, when both had numbers.
    pub change_tenths: Option<i32>,
    pub favourable_pct: u32,
    pub distribution: Option<[u32; 5]>,
    /// Sparkline over the last releases, oldest first ("·" for a release without numbers).
    pub trend: String,
    /// The manager's predicted score, when they made the self-check for this release.
    pub predicted: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub headline: String,
    pub questions: Vec<QuestionLine>,
    /// The weakest question and what to try about it.
    pub focus: Option<(Question, &'static str)>,
    pub comments: Vec<String>,
    pub comments_date: Option<String>,
    /// The follow-through item of the latest release, in words (digits only at k or more).
    pub follow_through: Option<String>,
    /// Plain-words notes: why nothing is shown, what is held, when the next release can come.
    pub notes: Vec<String>,
}

/// The follow-through item in words: counts only when at least k answered it, each answer's
/// count only at 2k (the release keeps no more than that).
fn follow_through_words(result: &FollowThroughResult) -> String {
    match result {
        FollowThroughResult::Counts {
            since,
            answered,
            yes,
            breakdown,
        } => match breakdown {
            Some([_, partly, no, not_sure]) => format!(
                "Follow-through since {since}: {yes} of {answered} said yes, {partly} partly, {no} no, {not_sure} not sure."
            ),
            None => format!("Follow-through since {since}: {yes} of {answered} said yes."),
        },
        FollowThroughResult::TooFew { since } => format!(
            "Follow-through since {since}: too few answered this question for its answers to be shown."
        ),
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn spark(release: &Release, question: Question) -> char {
    match release.result(question) {
        // 1.0 → ▁ … 5.0 → █
        Some(r) => BARS[((r.mean_tenths.saturating_sub(10)) * 7 + 20) as usize / 40],
        None => '·',
    }
}

pub fn build_digest(input: &DigestInput) -> Digest {
    let recent: &[Release] = &input.releases[input.releases.len().saturating_sub(TREND_RELEASES)..];
    let latest = recent.last();
    let previous = recent.len().checked_sub(2).map(|i| &recent[i]);
    let mut notes = Vec::new();
    if !crate::privacy::gates::team_can_see_results(input.eligible, input.k) {
        notes.push(format!(
            "Your team has {} people who can be asked, fewer than the privacy minimum of {}: it will get results once it grows. This protects your sellers, whose answers could otherwise be worked out.",
            input.eligible, input.k
        ));
    }
    let mut digest = Digest {
        headline: "Nothing has been released for your team yet.".to_owned(),
        questions: Vec::new(),
        focus: None,
        comments: Vec::new(),
        comments_date: None,
        follow_through: None,
        notes: Vec::new(),
    };
    match latest.map(|r| (&r.body, r)) {
        Some((
            ReleaseBody::Results {
                respondents,
                invited,
                questions,
                comments,
                comments_withheld,
                follow_through,
            },
            release,
        )) => {
            digest.follow_through = follow_through.as_ref().map(follow_through_words);
            let pooled = if release.waves > 1 {
                format!(", {} pulses pooled", release.waves)
            } else {
                String::new()
            };
            digest.headline = format!(
                "Released {}: {respondents} of {invited} answered{pooled}.",
                release.window_end
            );
            for question in Question::ALL {
                let result = questions[question as usize];
                let change_tenths = previous
                    .and_then(|p| p.result(question))
                    .map(|before| result.mean_tenths as i32 - before.mean_tenths as i32);
                digest.questions.push(QuestionLine {
                    question,
                    mean: result.mean(),
                    change_tenths,
                    favourable_pct: result.favourable_pct,
                    distribution: result.distribution,
                    trend: recent.iter().map(|r| spark(r, question)).collect(),
                    predicted: input.prediction.map(|p| p.score(question).value()),
                });
            }
            let weakest = Question::ALL
                .into_iter()
                .min_by_key(|q| questions[*q as usize].mean_tenths)
                .expect("three questions");
            digest.focus = Some((weakest, tip(weakest, input.week)));
            digest.comments = comments.clone();
            if !comments.is_empty() {
                digest.comments_date = Some(release.window_end.clone());
            }
            if *comments_withheld {
                notes.push("Some comments were written, but too few people answered for them to be shown safely.".to_owned());
            }
        }
        Some((ReleaseBody::NotEnoughResponses, release)) => {
            digest.headline = format!(
                "Your last window (ended {}, {} pulses) did not reach the privacy minimum of {}, so it has no numbers.",
                release.window_end, release.waves, input.k
            );
        }
        None => {}
    }
    if let Some(held) = input.held {
        let more = held.max_waves.saturating_sub(held.waves_closed);
        notes.push(format!(
            "Fewer than {} people answered the last pulse, the privacy minimum. These answers are kept and will be combined with the next pulse's (for up to {} more pulses), so that they can be shown safely.",
            held.k, more
        ));
    }
    if input.pulse_open {
        notes.push("A pulse is open now. Nothing about it is visible until it closes, not even how many have answered.".to_owned());
    } else if let Some(next) = &input.next_pulse {
        notes.push(format!(
            "The next pulse opens {next}; a release can come when it closes."
        ));
    }
    digest.notes = notes;
    digest
}

impl Digest {
    /// The digest as plain text (Slack's notification fallback, `/pulse status`, the demo).
    pub fn to_text(&self) -> String {
        let mut out = vec![self.headline.clone()];
        for line in &self.questions {
            let change = match line.change_tenths {
                Some(0) => " (no change)".to_owned(),
                Some(d) => format!(
                    " ({}{}.{})",
                    if d > 0 { "+" } else { "−" },
                    d.abs() / 10,
                    d.abs() % 10
                ),
                None => String::new(),
            };
            let distribution = line
                .distribution
                .map(|d| format!("  [1–5: {} {} {} {} {}]", d[0], d[1], d[2], d[3], d[4]))
                .unwrap_or_default();
            // The self-check: how far the team's answer is from what the manager predicted.
            let gap = line
                .predicted
                .map(|p| {
                    let d = (line.mean * 10.0).round() as i64 - p * 10;
                    let sign = if d > 0 {
                        "+"
                    } else if d < 0 {
                        "−"
                    } else {
                        "±"
                    };
                    format!(
                        "  you predicted {p}: team {sign}{}.{}",
                        d.abs() / 10,
                        d.abs() % 10
                    )
                })
                .unwrap_or_default();
            out.push(format!(
                "{:<6}{:.1}{change}  {}% agree  trend {}{distribution}{gap}",
                line.question.label(),
                line.mean,
                line.favourable_pct,
                line.trend
            ));
        }
        if let Some(line) = &self.follow_through {
            out.push(line.clone());
        }
        if let Some((question, tip)) = self.focus {
            out.push(format!(
                "Focus this week: {}. {tip}",
                question.label().to_lowercase()
            ));
        }
        if let Some(date) = &self.comments_date {
            out.push(format!(
                "Comments (word for word, in random order, window ended {date}):"
            ));
            out.extend(self.comments.iter().map(|c| format!("  “{c}”")));
        }
        out.extend(self.notes.iter().cloned());
        out.join("\n")
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
