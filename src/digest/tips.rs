//! One concrete leadership behaviour to try, for the weakest of the three questions, written
//! for sales managers. Several per question, chosen by week so the same tip never comes two
//! weeks running.

use crate::survey::Question;

/// A tip, as the digest gives it to the manager, and as the manager's own pledge to the team
/// (the share's draft "what I will do", which the sellers read: first person, to them).
struct Tip {
    advice: &'static str,
    pledge: &'static str,
}

const CARE: &[Tip] = &[
    Tip {
        advice: "Learn each seller's personal goals (the house, the kids' school, the promotion) and tie what you ask of them to those goals. Ask one seller this week: \"What do you want this job to get you in the next year?\"",
        pledge: "I will learn what each of you wants this job to get you (the house, the kids' school, the promotion) and tie what I ask of you to those goals. Expect me to ask.",
    },
    Tip {
        advice: "Hold a one-to-one this week that is not about pipeline: ask how they are doing, and listen more than you talk.",
        pledge: "I will hold a one-to-one with each of you that is not about pipeline: I will ask how you are doing, and listen more than I talk.",
    },
    Tip {
        advice: "Notice effort, not only results: thank one seller this week, specifically, for something that did not close yet.",
        pledge: "I will notice effort, not only results, and say so specifically, also for deals that have not closed yet.",
    },
    Tip {
        advice: "When you set a target, say why it matters for them, not only for the number.",
        pledge: "When I set a target, I will say why it matters for you, not only for the number.",
    },
];

const HELP: &[Tip] = &[
    Tip {
        advice: "Observe one call per seller this week and coach against the sales method you expect them to use: one thing they did well, one thing to try next time.",
        pledge: "I will join one of your calls and coach you against our sales method: one thing you did well, one thing to try next time.",
    },
    Tip {
        advice: "Run a deal review where the seller leads and you only ask questions; help them find the next step rather than giving it.",
        pledge: "I will run deal reviews where you lead and I only ask questions, so that you find the next step rather than being handed it.",
    },
    Tip {
        advice: "Role-play the hardest objection your team hears this quarter, and let the sellers play the customer too.",
        pledge: "I will set up a role-play of the hardest objection we hear this quarter, where each of you gets to play the customer too.",
    },
    Tip {
        advice: "Ask each seller which skill would most move their number, then give them one concrete resource or session on it.",
        pledge: "I will ask each of you which skill would most move your number, and get you one concrete resource or session on it.",
    },
];

const TRUST: &[Tip] = &[
    Tip {
        advice: "Keep confidences: what a seller tells you in a one-to-one stays there unless they say otherwise, and say so out loud.",
        pledge: "What you tell me in a one-to-one stays between us unless you say otherwise.",
    },
    Tip {
        advice: "Use what you learn to help, never to embarrass: no calling out in the team channel; give hard feedback one to one.",
        pledge: "I will use what I learn to help, never to embarrass: no calling anyone out in the team channel, and hard feedback one to one.",
    },
    Tip {
        advice: "Do what you said you would: list the commitments you made to your team last month and close out one of them this week.",
        pledge: "I will go through the commitments I made to the team last month and close out at least one of them.",
    },
    Tip {
        advice: "When you cannot do something you promised, say so early and explain why, before your sellers find out another way.",
        pledge: "When I cannot do something I promised, I will tell you early and explain why.",
    },
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

fn tips(question: Question) -> &'static [Tip] {
    match question {
        Question::Care => CARE,
        Question::Help => HELP,
        Question::Trust => TRUST,
    }
}

/// The tip for `question` in the week numbered `week` (consecutive weeks get different tips).
pub fn tip(question: Question, week: u32) -> &'static str {
    let tips = tips(question);
    tips[week as usize % tips.len()].advice
}

/// The tip `advice` (as [`tip`] gave it) as the manager's pledge to the team, for the share's
/// draft: the sellers read it, so it speaks to them, in the manager's first person.
pub fn pledge(question: Question, advice: &str) -> Option<&'static str> {
    tips(question)
        .iter()
        .find(|t| t.advice == advice)
        .map(|t| t.pledge)
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
    fn every_tip_has_a_pledge_to_the_team_without_a_digit() {
        for question in Question::ALL {
            for week in 0..8 {
                let pledge = pledge(question, tip(question, week)).unwrap();
                assert!(!pledge.chars().any(|c| c.is_ascii_digit()), "{pledge}");
                // Spoken to the sellers: about "you", never "your sellers" or "the seller".
                assert!(!pledge.contains("seller"), "{pledge}");
            }
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
