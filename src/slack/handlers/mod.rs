//! What trustpulse does with each Slack event, interaction and command, whatever the transport
//! (signed HTTP or Socket Mode): one file per surface, each a thin map from Slack's payload to
//! an `ops` call or a store write, and from the result to a rendering. Handlers only write to
//! the store and queue work, except where Slack demands an immediate call (`views.open` needs
//! the `trigger_id` within 3 seconds).
//!
//! Logging rule: never a score, a comment, a view's state, a token or a raw payload. Submission
//! logs name the wave only, never the person.

mod admin;
mod events;
mod opt_out;
mod pulse_command;
mod self_check;
mod share;
mod survey;

use std::collections::HashMap;

use slack_morphism::prelude::*;

use super::SlackApp;
use super::blocks::ids;
use super::home::ids as admin_ids;
use super::team_loop::ids as loop_ids;
use crate::ops::chat::NotDelivered;
use crate::store::Job;

pub use events::on_event;
pub use pulse_command::on_command;

/// What to answer an interaction with.
#[derive(Debug)]
pub enum InteractionReply {
    /// A plain acknowledgement.
    Ack,
    /// Close the modal.
    Clear,
    /// Show these messages on the modal's fields (block id → message).
    Errors(HashMap<String, String>),
    /// Replace the modal with another view.
    Update(SlackView),
    /// Replace the survey's modal with its thanks: an `Update`, whose JSON, the same for every
    /// answer, the HTTP route makes once (`http.rs`).
    Thanks,
}

impl From<InteractionReply> for SlackInteractionResponse {
    fn from(reply: InteractionReply) -> Self {
        match reply {
            InteractionReply::Ack => SlackInteractionResponse::Empty,
            InteractionReply::Clear => {
                SlackViewSubmissionResponse::Clear(SlackViewSubmissionClearResponse::new()).into()
            }
            InteractionReply::Errors(errors) => {
                SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors))
                    .into()
            }
            InteractionReply::Update(view) => {
                SlackViewSubmissionResponse::Update(SlackViewSubmissionUpdateResponse::new(view))
                    .into()
            }
            InteractionReply::Thanks => {
                InteractionReply::Update(super::blocks::thanks_modal()).into()
            }
        }
    }
}

pub async fn on_interaction(
    state: &SlackApp,
    event: SlackInteractionEvent,
) -> anyhow::Result<InteractionReply> {
    match event {
        SlackInteractionEvent::BlockActions(ev) => on_block_action(state, ev).await,
        SlackInteractionEvent::ViewSubmission(ev) => on_view_submission(state, ev).await,
        _ => Ok(InteractionReply::Ack),
    }
}

/// A button pressed: in a DM (open the survey), on App Home (self-check, opt out, admin).
async fn on_block_action(
    state: &SlackApp,
    ev: SlackInteractionBlockActionsEvent,
) -> anyhow::Result<InteractionReply> {
    let Some(user) = ev.user.as_ref().map(|u| u.id.to_string()) else {
        return Ok(InteractionReply::Ack);
    };
    let Some(action) = ev.actions.as_ref().and_then(|a| a.first()) else {
        return Ok(InteractionReply::Ack);
    };
    let click = Click {
        trigger: ev.trigger_id.to_string(),
        user: user.clone(),
        channel: ev.channel.as_ref().map(|c| c.id.to_string()),
    };
    let value = action.value.clone().unwrap_or_default();
    match action.action_id.to_string().as_str() {
        ids::OPEN_SURVEY => survey::open(state, &click, value).await?,
        ids::SELF_CHECK => self_check::open(state, &click).await?,
        loop_ids::SHARE => share::open(state, &click, &value).await?,
        loop_ids::DONE | loop_ids::STILL_WORKING => {
            let done = action.action_id.0 == loop_ids::DONE;
            share::on_progress(state, &click, &value, done).await?
        }
        ids::OPT_OUT | ids::OPT_IN => {
            opt_out::set(state, &user, action.action_id.0 == ids::OPT_OUT).await?
        }
        admin_ids::EDIT_CADENCE
        | admin_ids::START
        | admin_ids::REMIND
        | admin_ids::CLOSE
        | admin_ids::ADD_ADMIN
        | admin_ids::REMOVE_ADMIN => {
            admin::on_action(state, &click, &action.action_id.0, &value).await?
        }
        _ => {}
    }
    Ok(InteractionReply::Ack)
}

/// A submitted modal: who submitted it, which modal (its callback id and private metadata),
/// and the values of its inputs, by block id and then action id.
#[derive(Debug, PartialEq)]
struct Form {
    user: String,
    callback: String,
    metadata: String,
    values: HashMap<String, HashMap<String, InputValue>>,
}

impl Form {
    /// The value of `action` in input block `block`, if it was filled in.
    fn field(&self, block: &str, action: &str) -> Option<&InputValue> {
        self.values
            .get(block)
            .and_then(|actions| actions.get(action))
    }
}

/// One input of a submitted modal, as trustpulse's modals read it: typed text, the chosen
/// option's value, a date, a person. Slack sends more of each input (its element's type, the
/// chosen option's label); nothing reads it, so it is not kept. slack-morphism's
/// `SlackViewStateValue` reads all of it, a dozen fields with a string each: on the answer
/// path, where each string is an allocation, that was most of reading the form.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
struct InputValue {
    value: Option<String>,
    selected_option: Option<ChosenOption>,
    selected_date: Option<String>,
    selected_user: Option<String>,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct ChosenOption {
    value: String,
}

/// The inputs of a view slack-morphism has read (a submission the fast read left to it).
fn input_values(state: Option<SlackViewState>) -> HashMap<String, HashMap<String, InputValue>> {
    let blocks = state.map(|s| s.values).unwrap_or_default();
    blocks
        .into_iter()
        .map(|(block, actions)| {
            let actions = actions
                .into_iter()
                .map(|(action, v)| {
                    let input = InputValue {
                        value: v.value,
                        selected_option: v.selected_option.map(|o| ChosenOption { value: o.value }),
                        selected_date: v.selected_date,
                        selected_user: v.selected_user.map(|u| u.to_string()),
                    };
                    (action.to_string(), input)
                })
                .collect();
            (block.to_string(), actions)
        })
        .collect()
}

async fn on_view_submission(
    state: &SlackApp,
    ev: SlackInteractionViewSubmissionEvent,
) -> anyhow::Result<InteractionReply> {
    let (callback, metadata) = match &ev.view.view {
        SlackView::Modal(m) => (
            m.callback_id
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            m.private_metadata.clone().unwrap_or_default(),
        ),
        SlackView::Home(_) => return Ok(InteractionReply::Ack),
    };
    let form = Form {
        user: ev.user.id.to_string(),
        callback,
        metadata,
        values: input_values(ev.view.state_params.state),
    };
    on_form(state, form).await
}

/// The parts of a `view_submission` payload trustpulse reads, and nothing of the view's
/// blocks. slack-morphism's `SlackInteractionEvent` first copies the whole payload into an
/// intermediate tree (it is an internally tagged enum, and its view has two flattened parts)
/// and then reads the tree: that took 19% of the CPU of recording an answer. This reads the
/// same fields straight from the JSON, and of each input only what the modals read
/// ([`InputValue`]).
#[derive(serde::Deserialize)]
struct SubmissionPayload {
    #[serde(rename = "type")]
    kind: String,
    user: PayloadUser,
    view: PayloadView,
}

#[derive(serde::Deserialize)]
struct PayloadUser {
    id: String,
}

#[derive(serde::Deserialize)]
struct PayloadView {
    #[serde(rename = "type")]
    kind: String,
    callback_id: Option<String>,
    private_metadata: Option<String>,
    state: Option<SubmittedState>,
}

#[derive(serde::Deserialize)]
struct SubmittedState {
    values: HashMap<String, HashMap<String, InputValue>>,
}

impl SubmissionPayload {
    /// A `view_submission`'s form, or None for any other interaction (or a payload that is not
    /// one), which then goes through slack-morphism's full parse.
    fn parse(payload: &str) -> Option<Option<Form>> {
        let parsed: SubmissionPayload = serde_json::from_str(payload).ok()?;
        if parsed.kind != "view_submission" {
            return None;
        }
        // A submitted App Home has no form (as `on_view_submission` treats it).
        Some((parsed.view.kind == "modal").then(|| Form {
            user: parsed.user.id,
            callback: parsed.view.callback_id.unwrap_or_default(),
            metadata: parsed.view.private_metadata.unwrap_or_default(),
            values: parsed.view.state.map(|s| s.values).unwrap_or_default(),
        }))
    }
}

/// A submitted modal read straight from the interaction's JSON (see [`SubmissionPayload`]).
/// None when `payload` is not a `view_submission`: parse it as a `SlackInteractionEvent`.
pub async fn on_submission_payload(
    state: &SlackApp,
    payload: &str,
) -> Option<anyhow::Result<InteractionReply>> {
    Some(match SubmissionPayload::parse(payload)? {
        Some(form) => on_form(state, form).await,
        None => Ok(InteractionReply::Ack),
    })
}

async fn on_form(state: &SlackApp, form: Form) -> anyhow::Result<InteractionReply> {
    match form.callback.as_str() {
        ids::SURVEY_MODAL => survey::on_submit(state, &form).await,
        ids::SELF_CHECK_MODAL => self_check::on_submit(state, &form).await,
        loop_ids::SHARE_MODAL => share::on_submit(state, &form).await,
        admin_ids::CADENCE_MODAL => admin::on_cadence_submit(state, &form).await,
        admin_ids::ADD_ADMIN_MODAL => admin::on_add_admin_submit(state, &form).await,
        _ => Ok(InteractionReply::Ack),
    }
}

/// A button pressed: the trigger that lets the bot open a modal for it, who pressed it, and
/// the conversation it was in (none on App Home).
struct Click {
    trigger: String,
    user: String,
    channel: Option<String>,
}

/// Opens the modal a click asked for. If Slack refuses (most often `expired_trigger_id`: the
/// trigger lives 3 seconds), the person would otherwise see nothing happen, so they are told to
/// press it again (unless Slack could not be reached at all: see `modal_not_opened`): where
/// the button was in a conversation, in a message only they see and Slack does not keep; on
/// App Home, on top of their Home, published again.
async fn open_view(state: &SlackApp, click: &Click, view: SlackView) {
    let api = &state.slack().api;
    let Err(e) = api.open_view(&click.trigger, view).await else {
        return;
    };
    tracing::warn!(error = %e.code(), "could not open a modal");
    let Some(text) = super::blocks::modal_not_opened(&e) else {
        return;
    };
    let said = match &click.channel {
        Some(channel) => api
            .post_ephemeral(channel, &click.user, &text)
            .await
            .map_err(|e| e.code().to_string()),
        None => match state
            .chat
            .publish_home(state, &click.user, Some(&text), state.now())
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(NotDelivered::Chat(e))) => Err(e.code()),
            // Home is published again the next time the person opens it.
            Ok(Err(NotDelivered::Paced(_))) => Err("views.publish paced".to_owned()),
            Err(e) => Err(crate::telemetry::error_kind(&e).to_string()),
        },
    };
    if let Err(error) = said {
        tracing::warn!(%error, "could not say that a modal did not open");
    }
}

async fn refresh_home(state: &SlackApp, person: &str) -> anyhow::Result<()> {
    let now = state.now();
    let job = Job::PublishHome {
        person_id: person.to_owned(),
    };
    state.store.enqueue(&job, now, now).await?;
    state.worker_kick.notify_one();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{fake_slack::stateful_view, payloads};
    use crate::slack::blocks::survey_modal_asking;

    /// The fast read of a submission gives the form slack-morphism's full parse gives.
    #[test]
    fn a_submission_reads_the_same_either_way() {
        let modal = survey_modal_asking("{\"wave\":\"W1\"}", 5, None);
        let modal = stateful_view(&serde_json::to_value(modal).unwrap(), 7);
        let values = payloads::survey_values(["4", "2", "5"], Some("More ride-alongs"));
        let payload = payloads::view_submission("U0SELLER1", &modal, values).to_string();

        let fast = SubmissionPayload::parse(&payload).unwrap().unwrap();
        let Ok(SlackInteractionEvent::ViewSubmission(ev)) = serde_json::from_str(&payload) else {
            panic!("a view submission");
        };
        let SlackView::Modal(m) = &ev.view.view else {
            panic!("a modal")
        };
        let full = Form {
            user: ev.user.id.to_string(),
            callback: m.callback_id.as_ref().unwrap().to_string(),
            metadata: m.private_metadata.clone().unwrap(),
            values: input_values(ev.view.state_params.state.clone()),
        };
        assert_eq!(fast, full);
        assert_eq!(fast.callback, ids::SURVEY_MODAL);
        assert!(fast.field(ids::COMMENT_BLOCK, ids::COMMENT).is_some());
        // Anything else is left to slack-morphism.
        let click = r#"{"type":"block_actions","user":{"id":"U1"},"view":{"type":"modal"}}"#;
        assert!(SubmissionPayload::parse(click).is_none());
    }
}
