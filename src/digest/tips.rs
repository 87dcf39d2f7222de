//! One concrete leadership behaviour to try, for the weakest of the three questions, written
//! for sales managers. Several per question, chosen by week so the same tip never comes two
//! weeks running.

use crate::survey::Question;

const CARE: &[&str] = &[
    "Learn each seller's personal goals (the house, the kids' school, the promotion) and tie what you ask of them to those goals. Ask one seller this week: \"What do you want this job to get you in the next year?\"",
    "Hold a one-to-one this week that is not about pipeline: ask how they are doing, and listen more than you talk.",
    "Notice effort, not only results: thank one seller this week, specifically, for something that did not close yet.",
    "When you set a target, say why it matters for them, not only for the number.",
];

const HELP: &[&str] = &[
    "Observe one call per seller this week and coach against the sales method you expect them to use: one thing they did well, one thing to try next time.",
    "Run a deal review where the seller leads and you only ask questions; help them find the next step rather than giving it.",
    "Role-play the hardest objection your team hears this quarter, and let the sellers play the customer too.",
    "Ask each seller which skill would most move their number, then give them one concrete resource or session on it.",
];

const TRUST: &[&str] = &[
    "Keep confidences: what a seller tells you in a one-to-one stays there unless they say otherwise, and say so out loud.",
    "Use what you learn to help, never to embarrass: no calling out in the team channel; give hard feedback one to one.",
    "Do what you said you would: list the commitments you made to your team last month and close out one of them this week.",
    "When you cannot do something you promised, say so early and explain why, before your sellers find out another way.",
];

/// What a manager heard when `question` was the team's weakest, as the share's draft: in
/// words, never a number.
pub fn heard(question: Question) -> &'static str {
    match question {
        Question::Care => "Some of you don't feel I show enough that I care about you as people.",
        Question::Help => "Some of you want more help from me to get better at your job.",
        Question::Trust => "Some of you aren't sure you can fully trust me.",
    }
}

/// The tip for `question` in the week numbered `week` (consecutive weeks get different tips).
pub fn tip(question: Question, week: u32) -> &'static str {
    let tips = match question {
        Question::Care => CARE,
        Question::Help => HELP,
        Question::Trust => TRUST,
    };
    tips[week as usize % tips.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_heard_is_drafted_without_a_digit() {
        for question in Question::ALL {
            assert!(!heard(question).chars().any(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn the_same_tip_never_comes_two_weeks_running() {
        for question in Question::ALL {
            for week in 0..60 {
                assert_ne!(tip(question, week), tip(question, week + 1));
            }
        }
    }
}
