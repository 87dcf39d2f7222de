//! Closing the loop in Slack, as pure renderings: the share button and the commitment on the
//! manager's digest, the share modal and its errors, the note each seller receives, and the
//! commitment on the seller's App Home. The manager's words are escaped and shown as typed;
//! nothing here adds a number.

use std::collections::HashMap;

use jiff::civil::Date;
use serde_json::{Value, json};
use slack_morphism::prelude::SlackView;

use super::blocks::{escape, message, notice_modal, view};
use super::client::Message;
use crate::ops::commitments::{NOTE_MAX_CHARS, ShareProblem, TeamLoop};
use crate::store::Commitment;

/// Action, callback and block ids of the loop.
pub mod ids {
    pub const SHARE: &str = "loop_share";
    pub const SHARE_MODAL: &str = "loop_share_modal";
    pub const DONE: &str = "loop_done";
    pub const STILL_WORKING: &str = "loop_still_working";
    pub const HEARD: &str = "heard";
    pub const WILL_DO: &str = "will_do";
    pub const DUE: &str = "due";
    pub const TEXT: &str = "text";
    pub const DATE: &str = "date";
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn button(text: &str, action_id: &str, value: &str) -> Value {
    json!({"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": text}})
}

/// The commitment in the manager's words, quoted.
fn commitment_text(commitment: &Commitment) -> String {
    format!(
        "*What I heard:* {}\n*What I will do:* {}\n*By:* {}",
        escape(&commitment.heard),
        escape(&commitment.will_do),
        commitment.due_on
    )
}

/// Under the manager's digest: the share button for a release not shared yet, and the open
/// commitment with "Done" and "Still working on it".
pub fn loop_blocks(team_loop: &TeamLoop) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(commitment) = team_loop.commitment.as_ref().filter(|c| !c.done) {
        out.push(section(&format!(
            "*Your commitment to your team*\n{}",
            commitment_text(commitment)
        )));
        out.push(json!({"type": "actions", "elements": [
            button("Done", ids::DONE, &commitment.commitment_id),
            button("Still working on it", ids::STILL_WORKING, &commitment.commitment_id),
        ]}));
    }
    if let Some(window) = &team_loop.can_share {
        out.push(section(
            "Tell your team what you heard and what you will do about it. They get your words only, from trustpulse, with no score attached.",
        ));
        out.push(json!({"type": "actions", "elements": [button("Share with your team", ids::SHARE, window)]}));
    }
    out
}

/// The share modal, prefilled with a draft the manager edits. `window_id` rides in
/// `private_metadata`.
pub fn share_modal(window_id: &str, heard: &str, will_do: &str, due_on: Date) -> SlackView {
    let text_input = |block_id: &str, label: &str, value: &str, hint: &str| {
        json!({
            "type": "input", "block_id": block_id,
            "label": {"type": "plain_text", "text": label},
            "hint": {"type": "plain_text", "text": hint},
            "element": {"type": "plain_text_input", "action_id": ids::TEXT, "multiline": true,
                        "max_length": NOTE_MAX_CHARS, "initial_value": value}
        })
    };
    view(json!({
        "type": "modal", "callback_id": ids::SHARE_MODAL, "private_metadata": window_id,
        "title": {"type": "plain_text", "text": "Share with your team"},
        "submit": {"type": "plain_text", "text": "Send to my team"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section("Each seller on your team gets this as a DM from trustpulse, from you. Only your words are sent: no score, share or comment."),
            text_input(ids::HEARD, "What I heard", heard, "In your words. No numbers are added."),
            text_input(ids::WILL_DO, "What I will do", will_do, "One concrete thing your team will notice."),
            {"type": "input", "block_id": ids::DUE,
             "label": {"type": "plain_text", "text": "By when"},
             "element": {"type": "datepicker", "action_id": ids::DATE, "initial_date": due_on.to_string()}}
        ]
    }))
}

/// This release was shared already: what was sent.
pub fn already_shared(commitment: &Commitment) -> SlackView {
    notice_modal(
        "Already shared",
        &format!(
            "You shared this release with your team already. This is what they got:\n\n{}",
            commitment_text(commitment)
        ),
    )
}

/// After a share: how many sellers it goes to.
pub fn shared_notice(notes: usize) -> SlackView {
    let who = match notes {
        0 => "No one on your team can receive it right now (everyone has opted out or left)."
            .to_owned(),
        1 => "It is on its way to the one seller on your team.".to_owned(),
        n => format!("It is on its way to the {n} sellers on your team."),
    };
    notice_modal("Shared", &who)
}

/// Each problem of a share form, on its field (block id → message).
pub fn share_errors(problems: &[ShareProblem]) -> HashMap<String, String> {
    problems
        .iter()
        .map(|problem| {
            let (block, text) = match problem {
                ShareProblem::HeardMissing => {
                    (ids::HEARD, "Please write what you heard.".to_owned())
                }
                ShareProblem::HeardTooLong => (
                    ids::HEARD,
                    format!("Please keep it under {NOTE_MAX_CHARS} characters."),
                ),
                ShareProblem::WillDoMissing => {
                    (ids::WILL_DO, "Please write what you will do.".to_owned())
                }
                ShareProblem::WillDoTooLong => (
                    ids::WILL_DO,
                    format!("Please keep it under {NOTE_MAX_CHARS} characters."),
                ),
                ShareProblem::DueMissing => (ids::DUE, "Please choose a date.".to_owned()),
                ShareProblem::DueInThePast => {
                    (ids::DUE, "Please choose today or a later date.".to_owned())
                }
            };
            (block.to_owned(), text)
        })
        .collect()
}

/// What a seller receives: their manager's words, named as theirs.
pub fn team_note(commitment: &Commitment, done: bool) -> Message {
    let manager = &commitment.manager_id;
    let text = if done {
        format!(
            "<@{manager}> marked this done: {}",
            escape(&commitment.will_do)
        )
    } else {
        format!(
            "From <@{manager}>, about the last pulse:\n{}",
            commitment_text(commitment)
        )
    };
    message(&text, json!([section(&text)]))
}

/// "Done" pressed: the team is told, or it was done already.
pub fn done_notice(told: Option<usize>) -> SlackView {
    match told {
        Some(_) => notice_modal(
            "Marked done",
            "Your team is being told that you did what you said you would.",
        ),
        None => notice_modal("Already done", "This commitment is already marked done."),
    }
}

/// "Still working on it" pressed: nothing is sent.
pub fn still_working_notice() -> SlackView {
    notice_modal(
        "Still working on it",
        "Noted. It stays open on your Home tab; nothing is sent to your team.",
    )
}

/// The team's latest commitment on a seller's App Home.
pub fn seller_commitment_blocks(commitment: &Commitment) -> Vec<Value> {
    let state = if commitment.done {
        "Marked done."
    } else {
        "In progress."
    };
    vec![section(&format!(
        "*What <@{}> committed to after the last pulse*\n{}\n_{state}_",
        commitment.manager_id,
        commitment_text(commitment)
    ))]
}
