//! Block Kit for every message and view trustpulse shows, written as the JSON Slack documents
//! and checked against slack-morphism's types. Pure functions: easy to read and to test.
//!
//! Nothing here ever receives an answer, so nothing here can show one.

use serde_json::{Value, json};
use slack_morphism::prelude::*;

use super::client::Message;
use crate::digest::Digest;
use crate::store::{PredictionOutcome, SubmissionError};
use crate::survey::{COMMENT_MAX_CHARS, FollowThrough, Question, Score};

/// Action and callback ids, shared with the interaction handlers.
pub mod ids {
    pub const OPEN_SURVEY: &str = "pulse_open";
    pub const SURVEY_MODAL: &str = "pulse_answer";
    pub const SCORE: &str = "score";
    pub const COMMENT_BLOCK: &str = "comment";
    pub const COMMENT: &str = "text";
    pub const OPT_OUT: &str = "pulse_opt_out";
    pub const OPT_IN: &str = "pulse_opt_in";
    pub const SELF_CHECK: &str = "self_check_open";
    pub const SELF_CHECK_MODAL: &str = "self_check";
    pub const FOLLOW_THROUGH: &str = "follow_through";
    pub const CHOICE: &str = "choice";
}

fn blocks(value: Value) -> Vec<SlackBlock> {
    serde_json::from_value(value).expect("block templates match Block Kit")
}

pub fn view(value: Value) -> SlackView {
    serde_json::from_value(value).expect("view templates match Block Kit")
}

pub fn message(text: &str, value: Value) -> Message {
    SlackMessageContent::new()
        .with_text(text.to_owned())
        .with_blocks(blocks(value))
}

pub fn plain(text: &str) -> Message {
    SlackMessageContent::new().with_text(text.to_owned())
}

/// The privacy promise, in one line, on every survey surface.
pub fn privacy_line(k: u32) -> String {
    format!(
        "Anonymous: your manager sees only team results, and only when at least {k} people answered. No one sees who said what."
    )
}

fn survey_message(headline: &str, body: &str, wave_id: &str, k: u32) -> Message {
    message(
        &format!("{headline} {body}"),
        json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{headline}*\n{body}")}},
            {"type": "actions", "elements": [{
                "type": "button", "action_id": ids::OPEN_SURVEY, "value": wave_id, "style": "primary",
                "text": {"type": "plain_text", "text": "Answer (20 seconds)"}
            }]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": privacy_line(k)}]}
        ]),
    )
}

/// The invitation DM.
pub fn invitation(wave_id: &str, closes: &str, k: u32) -> Message {
    survey_message(
        "Your trust pulse is open.",
        &format!(
            "Three quick questions about how your manager leads you: do they care about you, can they help you, can you trust them? Open until {closes}."
        ),
        wave_id,
        k,
    )
}

/// The one reminder. Everyone invited gets it, answered or not, so it must read right to both
/// and say why it reaches everyone.
pub fn reminder(wave_id: &str, closes: &str, k: u32) -> Message {
    survey_message(
        "A reminder: the trust pulse closes soon.",
        &format!(
            "If you have already answered, thank you: there is nothing to do. Everyone gets this reminder, so that no one can tell who answered. If you have not, there is still time until {closes}; it takes about 20 seconds."
        ),
        wave_id,
        k,
    )
}

/// What every invitation and reminder of a wave becomes when it closes, alike for everyone:
/// whether someone answered shows nowhere in a DM (workspace owners can export DMs).
pub fn pulse_closed(closed_on: &str) -> Message {
    let text = format!(
        "This pulse closed on {closed_on}; thank you. Your manager sees only the team's results, and only when enough people answered."
    );
    message(
        &text,
        json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}]),
    )
}

/// Text from a person (a seller's comment) as Slack shows it, never as markup: `&`, `<` and `>`
/// are escaped, so it can never become a link, a mention, `@here` or a channel.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The digest with its comments escaped, for every place its text goes to Slack.
pub fn comments_escaped(digest: &Digest) -> Digest {
    Digest {
        comments: digest.comments.iter().map(|c| escape(c)).collect(),
        ..digest.clone()
    }
}

/// The digest's blocks (DM, App Home); its text is the notification fallback.
pub fn digest_blocks(digest: &Digest) -> Vec<Value> {
    let mut out = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "Your team's trust"}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": digest.headline}}),
    ];
    if !digest.questions.is_empty() {
        let lines: Vec<String> = digest
            .to_text()
            .lines()
            .skip(1)
            .take(digest.questions.len())
            .map(|l| format!("`{l}`"))
            .collect();
        out.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}));
    }
    if let Some(line) = &digest.follow_through {
        out.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}));
    }
    if let Some((_, tip)) = digest.focus {
        let question = digest.focus.map(|(q, _)| q.key()).unwrap_or_default();
        out.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Focus this week: {question}.* {tip}")}}));
    }
    if let Some(date) = &digest.comments_date {
        let quoted: Vec<String> = digest
            .comments
            .iter()
            .map(|c| format!("> {}", escape(&c.replace('\n', " "))))
            .collect();
        let mut text = format!(
            "*Comments* (word for word, in random order, window ended {date})\n{}",
            quoted.join("\n")
        );
        // A section holds 3,000 characters; longer comment lists are cut with a note.
        if text.chars().count() > 2900 {
            text = text.chars().take(2850).collect::<String>()
                + "\n… (more in the text version of this digest)";
        }
        out.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if !digest.notes.is_empty() {
        let notes: Vec<Value> = digest
            .notes
            .iter()
            .map(|n| json!({"type": "mrkdwn", "text": n}))
            .collect();
        out.push(json!({"type": "context", "elements": notes}));
    }
    out
}

/// The weekly digest DM.
pub fn digest_message(digest: &Digest) -> Message {
    message(
        &comments_escaped(digest).to_text(),
        Value::Array(digest_blocks(digest)),
    )
}

/// The weekly digest DM, with the share button or the open commitment under it.
pub fn digest_message_with_loop(
    digest: &Digest,
    team_loop: &crate::ops::commitments::TeamLoop,
) -> Message {
    let mut blocks = digest_blocks(digest);
    blocks.extend(super::team_loop::loop_blocks(team_loop));
    message(&comments_escaped(digest).to_text(), Value::Array(blocks))
}

/// The survey modal: three required 1–5 questions and an optional comment.
pub fn survey_modal(private_metadata: &str, k: u32) -> SlackView {
    survey_modal_asking(private_metadata, k, None)
}

/// The survey modal, with the optional follow-through item when the pulse asks it:
/// `(manager, since)`.
pub fn survey_modal_asking(
    private_metadata: &str,
    k: u32,
    follow_through: Option<(&str, &str)>,
) -> SlackView {
    let options: Vec<Value> = (Score::MIN..=Score::MAX)
        .map(|v| {
            let score = Score::new(v).expect("in range");
            json!({"text": {"type": "plain_text", "text": score.label()}, "value": v.to_string()})
        })
        .collect();
    let mut body =
        vec![json!({"type": "context", "elements": [{"type": "mrkdwn", "text": privacy_line(k)}]})];
    for question in Question::ALL {
        body.push(json!({
            "type": "input", "block_id": question.key(),
            "label": {"type": "plain_text", "text": question.prompt()},
            "element": {"type": "radio_buttons", "action_id": ids::SCORE, "options": options}
        }));
    }
    if let Some((manager, since)) = follow_through {
        let choices: Vec<Value> = FollowThrough::ALL
            .iter()
            .map(|a| json!({"text": {"type": "plain_text", "text": a.label()}, "value": a.value().to_string()}))
            .collect();
        body.push(json!({
            "type": "input", "block_id": ids::FOLLOW_THROUGH, "optional": true,
            "label": {"type": "plain_text", "text": format!("Since {since}, has <@{manager}> done what they said they would? (optional)")},
            "element": {"type": "radio_buttons", "action_id": ids::CHOICE, "options": choices}
        }));
    }
    body.push(json!({
        "type": "input", "block_id": ids::COMMENT_BLOCK, "optional": true,
        "label": {"type": "plain_text", "text": "Anything you'd like your manager to hear? (optional)"},
        "hint": {"type": "plain_text", "text": format!("Your manager reads comments word for word, unattributed and in random order, only when at least {k} people answered. Leave out anything that would identify you.")},
        "element": {"type": "plain_text_input", "action_id": ids::COMMENT, "multiline": true, "max_length": COMMENT_MAX_CHARS}
    }));
    view(json!({
        "type": "modal", "callback_id": ids::SURVEY_MODAL, "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": "Trust pulse"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": body
    }))
}

/// The manager's self-check: predict how the team will answer, once per window.
pub fn self_check_modal() -> SlackView {
    let options: Vec<Value> = (Score::MIN..=Score::MAX)
        .map(|v| {
            let score = Score::new(v).expect("in range");
            json!({"text": {"type": "plain_text", "text": score.label()}, "value": v.to_string()})
        })
        .collect();
    let mut body = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text":
        "How do you think your team will answer this time? When the results are released, your digest shows the gap between your prediction and the team's answers. Only you ever see your prediction."}})];
    for question in Question::ALL {
        body.push(json!({
            "type": "input", "block_id": question.key(),
            "label": {"type": "plain_text", "text": format!("How would your team answer: “{}”", question.prompt())},
            "element": {"type": "radio_buttons", "action_id": ids::SCORE, "options": options}
        }));
    }
    view(json!({
        "type": "modal", "callback_id": ids::SELF_CHECK_MODAL,
        "title": {"type": "plain_text", "text": "Your self-check"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": body
    }))
}

/// A modal that only explains something (already answered, closed, …).
pub fn notice_modal(title: &str, text: &str) -> SlackView {
    view(json!({
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    }))
}

/// Said (only to the person who pressed the button) when Slack would not open its modal.
/// Nothing was saved or lost: the click only asks for the form. None when Slack could not be
/// reached or timed out: a message would most likely fail the same way, after as long a wait,
/// while Slack waits for the click's acknowledgement.
pub fn modal_not_opened(error: &super::client::SlackError) -> Option<String> {
    use super::client::SlackError;
    match error {
        SlackError::Api(code) if code == "expired_trigger_id" || code == "exchanged_trigger_id" => {
            Some("Slack did not open that in time. Please press the button again.".to_owned())
        }
        SlackError::Api(code) => Some(format!(
            "Slack would not open that form (`{code}`). Please press the button again; if it keeps \
             happening, tell whoever runs trustpulse in your workspace."
        )),
        SlackError::RateLimited(_) => Some(
            "Slack could not open that just now. Please press the button again in a moment."
                .to_owned(),
        ),
        SlackError::Transport(_) => None,
    }
}

/// The survey modal after a recorded answer. Built once: it is every answer's reply.
pub fn thanks_modal() -> SlackView {
    static THANKS: std::sync::LazyLock<SlackView> = std::sync::LazyLock::new(|| {
        notice_modal(
            "Thank you",
            "Your answers are recorded, anonymously. Your manager will see them only as part of the team's results.",
        )
    });
    THANKS.clone()
}

/// The survey's comment field, when the comment is too long (block id → message).
pub fn comment_too_long(
    problem: &impl std::fmt::Display,
) -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([(
        ids::COMMENT_BLOCK.to_owned(),
        format!("Please shorten this: {problem}."),
    )])
}

/// Why a person cannot answer (or why their answer was not saved), as a modal.
pub fn refusal_modal(refusal: &SubmissionError) -> SlackView {
    let (title, text) = match refusal {
        SubmissionError::AlreadyAnswered => (
            "Already answered",
            "You have already answered this pulse, thank you. Answers cannot be changed, so that no one can ever link them back to you.",
        ),
        SubmissionError::WaveClosed => (
            "Pulse closed",
            "This pulse has closed, so no more answers are accepted. You will be asked again at the next one.",
        ),
        SubmissionError::NotInvited => (
            "Not your pulse",
            "This pulse was sent to another team, so your answer cannot be counted here.",
        ),
        SubmissionError::UnknownWave => {
            ("Pulse not found", "This pulse does not exist (any more).")
        }
        SubmissionError::InvalidAnswer(_) | SubmissionError::Internal(_) => (
            "Not saved",
            "Something went wrong on our side and your answers were not saved. Please try again in a minute.",
        ),
    };
    notice_modal(title, text)
}

/// The self-check's answer: how a prediction went, or (None) that there is nothing to predict
/// when the button is pressed.
pub fn self_check_notice(outcome: Option<PredictionOutcome>) -> SlackView {
    let text = match outcome {
        None => {
            "There is no pulse to predict right now, or you already made this one's prediction."
        }
        Some(PredictionOutcome::Recorded) => {
            "Saved. When the results are released, your digest shows how close you were."
        }
        Some(PredictionOutcome::AlreadyPredicted) => {
            "You already made your prediction for this pulse; it stays as it was."
        }
        Some(PredictionOutcome::NoOpenWindow) => "There is no pulse to predict right now.",
    };
    notice_modal("Self-check", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(m: &Message) -> String {
        serde_json::to_string(m).unwrap()
    }

    #[test]
    fn the_closed_update_has_no_button_and_no_digit_but_the_date() {
        let closed = json_of(&pulse_closed("26 November 2026"));
        assert!(!closed.contains("button"), "{closed}");
        let without_date = closed.replace("26 November 2026", "");
        assert!(
            !without_date.contains(|c: char| c.is_ascii_digit()),
            "{closed}"
        );
    }

    #[test]
    fn the_reminder_reads_right_to_those_who_answered_and_says_why_all_get_it() {
        let text = json_of(&reminder("W1", "Thursday 26 November, 10:00", 5));
        assert!(text.contains("If you have already answered, thank you: there is nothing to do."));
        assert!(
            text.contains("Everyone gets this reminder, so that no one can tell who answered.")
        );
    }

    #[test]
    fn text_from_a_person_never_becomes_markup() {
        assert_eq!(
            escape("<https://example.com|x> <!here> <@U0MANAGER> & more"),
            "&lt;https://example.com|x&gt; &lt;!here&gt; &lt;@U0MANAGER&gt; &amp; more"
        );
    }

    #[test]
    fn the_invitation_states_the_privacy_rule_and_has_one_button() {
        let m = invitation("W1", "Thursday 26 November, 10:00", 5);
        let text = json_of(&m);
        assert!(text.contains("at least 5 people"));
        assert_eq!(text.matches("\"button\"").count(), 1);
        assert!(m.text.as_deref().unwrap().contains("trust pulse"));
    }

    #[test]
    fn the_modal_asks_three_required_questions_and_an_optional_comment() {
        let value = serde_json::to_value(survey_modal("meta", 5)).unwrap();
        let blocks = value["blocks"].as_array().unwrap();
        let inputs: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "input").collect();
        assert_eq!(inputs.len(), 4);
        for (input, key) in inputs.iter().zip(["care", "help", "trust"]) {
            assert_eq!(input["block_id"], key);
            assert!(input.get("optional").is_none_or(|o| o == false));
            assert_eq!(input["element"]["options"].as_array().unwrap().len(), 5);
        }
        assert_eq!(inputs[3]["optional"], true);
    }
}
