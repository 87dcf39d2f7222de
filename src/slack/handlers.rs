//! What trustpulse does with each Slack event, interaction and command, whatever the transport
//! (signed HTTP or Socket Mode). Handlers only write to the store and queue work, except where
//! Slack demands an immediate call (`views.open` needs the `trigger_id` within 3 seconds).
//!
//! Logging rule: never a score, a comment, a view's state, a token or a raw payload. Submission
//! logs name the wave only, never the person.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::*;

use super::SlackApp;
use super::blocks::{self, ids};
use super::home::{self, ids as admin_ids};
use crate::ops::waves;
use crate::store::{CadenceScope, Job, OpenWaveError, PredictionOutcome, SubmissionError};
use crate::survey::cadence::CadenceFlags;
use crate::survey::{AnswerError, Answers, Question, Score};

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
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// Handles one event delivery. Retries and replays of the same `event_id` have no effect.
pub async fn on_event(state: &SlackApp, callback: SlackPushEventCallback) -> anyhow::Result<()> {
    let now = state.now();
    let kind = event_kind(&callback.event);
    if !state
        .store
        .record_event(callback.event_id.as_ref(), kind, now)
        .await?
    {
        tracing::debug!(event_id = %callback.event_id, kind, "duplicate event delivery ignored");
        return Ok(());
    }
    tracing::info!(event_id = %callback.event_id, kind, "event");
    let team = callback.team_id.to_string();
    match callback.event {
        SlackEventCallbackBody::AppHomeOpened(ev)
            if ev.tab.as_deref().is_none_or(|tab| tab == "home") =>
        {
            let job = Job::PublishHome {
                person_id: ev.user.to_string(),
            };
            state.store.enqueue(&team, &job, now, now).await?;
            state.worker_kick.notify_one();
        }
        SlackEventCallbackBody::AppUninstalled(_) => uninstall(state, &team).await?,
        // slack-morphism does not model `tokens_revoked`; it arrives as raw JSON.
        SlackEventCallbackBody::Unknown(raw) if is_bot_token_revocation(&raw) => {
            uninstall(state, &team).await?
        }
        SlackEventCallbackBody::UserChange(ev) => {
            let person = super::client::person_from_slack(&ev.user);
            state.store.upsert_person(&person, now).await?;
        }
        SlackEventCallbackBody::TeamJoin(ev) => {
            let person = super::client::person_from_slack(&ev.user);
            state.store.upsert_person(&person, now).await?;
        }
        _ => {}
    }
    Ok(())
}

async fn uninstall(state: &SlackApp, team: &str) -> anyhow::Result<()> {
    let cancelled = state.store.uninstall(team, state.now()).await?;
    tracing::warn!(
        team,
        cancelled,
        "trustpulse was uninstalled or its token revoked: no further Slack calls"
    );
    Ok(())
}

fn is_bot_token_revocation(raw: &serde_json::Value) -> bool {
    raw["type"] == "tokens_revoked"
        && raw["tokens"]["bot"]
            .as_array()
            .is_some_and(|bots| !bots.is_empty())
}

fn event_kind(event: &SlackEventCallbackBody) -> &'static str {
    match event {
        SlackEventCallbackBody::AppHomeOpened(_) => "app_home_opened",
        SlackEventCallbackBody::AppUninstalled(_) => "app_uninstalled",
        SlackEventCallbackBody::Unknown(raw) if raw["type"] == "tokens_revoked" => "tokens_revoked",
        SlackEventCallbackBody::UserChange(_) => "user_change",
        SlackEventCallbackBody::TeamJoin(_) => "team_join",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------------
// Interactions

/// Which pulse a survey modal answers, carried in Slack's `private_metadata`. Nothing about the
/// DM it was opened from: a submission never touches the invitation (see DESIGN §3).
#[derive(Debug, Serialize, Deserialize)]
struct SurveyMeta {
    wave: String,
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

async fn on_block_action(
    state: &SlackApp,
    ev: SlackInteractionBlockActionsEvent,
) -> anyhow::Result<InteractionReply> {
    let Some(user) = ev.user.as_ref().map(|u| u.id.to_string()) else {
        return Ok(InteractionReply::Ack);
    };
    let trigger = ev.trigger_id.to_string();
    let Some(action) = ev.actions.as_ref().and_then(|a| a.first()) else {
        return Ok(InteractionReply::Ack);
    };
    let value = action.value.clone().unwrap_or_default();
    let now = state.now();
    let k = state.k.get();
    match action.action_id.to_string().as_str() {
        ids::OPEN_SURVEY => {
            let view = match refusal_for(state, &value, &user).await? {
                Some(refusal) => refusal_modal(&refusal),
                None => {
                    let meta = SurveyMeta { wave: value };
                    blocks::survey_modal(&serde_json::to_string(&meta)?, k)
                }
            };
            open_view(state, &trigger, view).await;
        }
        ids::SELF_CHECK => {
            let view = if state.store.can_predict(&user).await? {
                blocks::self_check_modal()
            } else {
                blocks::notice_modal(
                    "Self-check",
                    "There is no pulse to predict right now, or you already made this one's prediction.",
                )
            };
            open_view(state, &trigger, view).await;
        }
        ids::OPT_OUT | ids::OPT_IN => {
            state
                .store
                .set_opted_out(&user, action.action_id.0 == ids::OPT_OUT, now)
                .await?;
            refresh_home(state, &user).await?;
        }
        admin_ids::EDIT_CADENCE
        | admin_ids::START
        | admin_ids::REMIND
        | admin_ids::CLOSE
        | admin_ids::ADD_ADMIN
        | admin_ids::REMOVE_ADMIN => {
            if !state.store.is_admin(&user).await? {
                open_view(
                    state,
                    &trigger,
                    blocks::notice_modal("Admins only", NOT_ADMIN),
                )
                .await;
                return Ok(InteractionReply::Ack);
            }
            // Slack makes a new trigger id for every click: a signed request replayed within
            // its five minutes carries the same one and has no second effect.
            if !state
                .store
                .record_event(&format!("trigger:{trigger}"), "admin_action", now)
                .await?
            {
                tracing::warn!("ignored a replayed admin action");
                return Ok(InteractionReply::Ack);
            }
            let view = on_admin_action(state, &action.action_id.0, &value).await?;
            if let Some(view) = view {
                open_view(state, &trigger, view).await;
            }
            refresh_home(state, &user).await?;
        }
        _ => {}
    }
    Ok(InteractionReply::Ack)
}

const NOT_ADMIN: &str =
    "Only trustpulse admins can do this. Your HR team can add you with `trustpulse admin add`.";

async fn on_admin_action(
    state: &SlackApp,
    action: &str,
    value: &str,
) -> anyhow::Result<Option<SlackView>> {
    let now = state.now();
    let today = now.to_zoned(TimeZone::UTC).date();
    let notice = |title: &str, text: String| Some(blocks::notice_modal(title, &text));
    Ok(match action {
        admin_ids::EDIT_CADENCE => {
            let current = if value == admin_ids::ORG_SCOPE {
                state.store.org_cadence(today).await?
            } else {
                state.store.effective_cadence(value, today).await?
            };
            Some(home::cadence_modal(value, &current))
        }
        admin_ids::START => match waves::start_wave(&state.store, value, state.k, now).await {
            Ok(opened) => {
                state.worker_kick.notify_one();
                tracing::info!(wave_id = %opened.wave.wave_id, invited = opened.invitees.len(), "pulse started from Slack");
                notice(
                    "Pulse started",
                    format!(
                        "<@{value}>'s team has a pulse open now: {} invitations are on their way.",
                        opened.invitees.len()
                    ),
                )
            }
            Err(OpenWaveError::Internal(e)) => return Err(e),
            Err(refusal) => notice("Not started", refusal.to_string()),
        },
        admin_ids::REMIND => match waves::remind_wave(&state.store, value, now).await? {
            Some(_) => {
                state.worker_kick.notify_one();
                notice(
                    "Reminder queued",
                    format!(
                        "Everyone invited in <@{value}>'s team gets one reminder, answered or not, so that no one can tell who answered."
                    ),
                )
            }
            None => notice(
                "Nothing to remind",
                format!("<@{value}>'s team has no open pulse."),
            ),
        },
        admin_ids::CLOSE => {
            match waves::close_wave(&state.store, value, &state.release_policy, now).await? {
                Some(_) => notice(
                    "Pulse closed",
                    format!("<@{value}>'s pulse is closed; no more answers are accepted."),
                ),
                None => notice(
                    "Nothing to close",
                    format!("<@{value}>'s team has no open pulse."),
                ),
            }
        }
        admin_ids::ADD_ADMIN => Some(home::add_admin_modal()),
        admin_ids::REMOVE_ADMIN => {
            if state.store.admins().await?.len() <= 1 {
                notice(
                    "Still needed",
                    "You are the last admin. Add another admin before removing this one."
                        .to_owned(),
                )
            } else {
                state.store.remove_admin(value).await?;
                None
            }
        }
        _ => None,
    })
}

async fn open_view(state: &SlackApp, trigger: &str, view: SlackView) {
    if let Err(e) = state.slack.api.open_view(trigger, view).await {
        tracing::warn!(error = %e.code(), "could not open a modal");
    }
}

async fn refresh_home(state: &SlackApp, person: &str) -> anyhow::Result<()> {
    let now = state.now();
    let job = Job::PublishHome {
        person_id: person.to_owned(),
    };
    state.store.enqueue("", &job, now, now).await?;
    state.worker_kick.notify_one();
    Ok(())
}

/// Why `person` cannot answer `wave_id` right now, if they cannot. Checked before the modal
/// opens so nobody fills it in for nothing; checked again, atomically, when it is submitted.
async fn refusal_for(
    state: &SlackApp,
    wave_id: &str,
    person: &str,
) -> anyhow::Result<Option<SubmissionError>> {
    let Some(wave) = state.store.wave(wave_id).await? else {
        return Ok(Some(SubmissionError::UnknownWave));
    };
    if wave.state != crate::store::WaveState::Open || state.now() >= wave.closes_at {
        return Ok(Some(SubmissionError::WaveClosed));
    }
    if !state
        .store
        .invitees(wave_id)
        .await?
        .iter()
        .any(|p| p == person)
    {
        return Ok(Some(SubmissionError::NotInvited));
    }
    if state.store.has_answered(wave_id, person).await? == Some(true) {
        return Ok(Some(SubmissionError::AlreadyAnswered));
    }
    Ok(None)
}

fn refusal_modal(refusal: &SubmissionError) -> SlackView {
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
    blocks::notice_modal(title, text)
}

async fn on_view_submission(
    state: &SlackApp,
    ev: SlackInteractionViewSubmissionEvent,
) -> anyhow::Result<InteractionReply> {
    let user = ev.user.id.to_string();
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
    let values = ev
        .view
        .state_params
        .state
        .map(|s| s.values)
        .unwrap_or_default();
    let field = |block: &str, action: &str| -> Option<&SlackViewStateValue> {
        values
            .get(&block.into())
            .and_then(|actions| actions.get(&action.into()))
    };
    match callback.as_str() {
        ids::SURVEY_MODAL => {
            let Ok(meta) = serde_json::from_str::<SurveyMeta>(&metadata) else {
                return Ok(InteractionReply::Update(refusal_modal(
                    &SubmissionError::UnknownWave,
                )));
            };
            let mut errors = HashMap::new();
            let mut score = |question: Question| -> i64 {
                let chosen = field(question.key(), ids::SCORE)
                    .and_then(|v| v.selected_option.as_ref())
                    .map(|o| o.value.as_str());
                match chosen.map(Score::parse) {
                    Some(Ok(score)) => score.value(),
                    Some(Err(_)) => {
                        errors.insert(
                            question.key().to_owned(),
                            "Please choose one of the five answers.".to_owned(),
                        );
                        0
                    }
                    None => {
                        errors.insert(
                            question.key().to_owned(),
                            "Please choose an answer.".to_owned(),
                        );
                        0
                    }
                }
            };
            let (care, help, trust) = (
                score(Question::Care),
                score(Question::Help),
                score(Question::Trust),
            );
            // No metric moves here or below: a live counter would show who is answering, and
            // when. Recorded answers are counted when their window is released.
            if !errors.is_empty() {
                return Ok(InteractionReply::Errors(errors));
            }
            let comment = field(ids::COMMENT_BLOCK, ids::COMMENT).and_then(|v| v.value.clone());
            let answers = Answers {
                care,
                help,
                trust,
                comment,
            };
            match state
                .store
                .record_submission(&meta.wave, &user, &answers, state.now())
                .await
            {
                Ok(()) => {
                    // DEBUG, off by default: at INFO, timestamped lines per submission would give
                    // whoever reads the logs a live count of who is answering.
                    tracing::debug!(wave_id = %meta.wave, "submission recorded");
                    // The thanks is in the modal; the invitation DM stays as it is until the
                    // pulse closes, when every invitation is updated alike.
                    Ok(InteractionReply::Update(blocks::notice_modal(
                        "Thank you",
                        "Your answers are recorded, anonymously. Your manager will see them only as part of the team's results.",
                    )))
                }
                Err(SubmissionError::InvalidAnswer(AnswerError::CommentTooLong(e))) => {
                    Ok(InteractionReply::Errors(HashMap::from([(
                        ids::COMMENT_BLOCK.to_owned(),
                        format!("Please shorten this: {e}."),
                    )])))
                }
                Err(SubmissionError::Internal(e)) => {
                    let kind = super::errors::error_kind(&e);
                    // No wave id at ERROR (logged by default): one line per failed answer,
                    // each naming its team's pulse, would say which teams were answering when.
                    tracing::error!(error = %kind, "could not record a submission");
                    Ok(InteractionReply::Update(refusal_modal(
                        &SubmissionError::Internal(anyhow::anyhow!("")),
                    )))
                }
                Err(refusal) => {
                    tracing::debug!(wave_id = %meta.wave, reason = %refusal, "submission refused");
                    Ok(InteractionReply::Update(refusal_modal(&refusal)))
                }
            }
        }
        ids::SELF_CHECK_MODAL => {
            let chosen = |question: Question| {
                field(question.key(), ids::SCORE)
                    .and_then(|v| v.selected_option.as_ref())
                    .and_then(|o| Score::parse(&o.value).ok())
            };
            let (Some(care), Some(help), Some(trust)) = (
                chosen(Question::Care),
                chosen(Question::Help),
                chosen(Question::Trust),
            ) else {
                let errors = Question::ALL
                    .into_iter()
                    .filter(|q| chosen(*q).is_none())
                    .map(|q| {
                        (
                            q.key().to_owned(),
                            "Please choose one of the five answers.".to_owned(),
                        )
                    })
                    .collect();
                return Ok(InteractionReply::Errors(errors));
            };
            let prediction = crate::survey::Ballot { care, help, trust };
            let text = match state.store.record_prediction(&user, &prediction).await? {
                PredictionOutcome::Recorded => {
                    "Saved. When the results are released, your digest shows how close you were."
                }
                PredictionOutcome::AlreadyPredicted => {
                    "You already made your prediction for this pulse; it stays as it was."
                }
                PredictionOutcome::NoOpenWindow => "There is no pulse to predict right now.",
            };
            refresh_home(state, &user).await?;
            Ok(InteractionReply::Update(blocks::notice_modal(
                "Self-check",
                text,
            )))
        }
        admin_ids::CADENCE_MODAL => {
            if !state.store.is_admin(&user).await? {
                return Ok(InteractionReply::Update(blocks::notice_modal(
                    "Admins only",
                    NOT_ADMIN,
                )));
            }
            let text = |block: &str| field(block, "value").and_then(|v| v.value.clone());
            let flags = CadenceFlags {
                every: text("every"),
                weekday: text("weekday"),
                time: text("time"),
                tz: text("tz"),
                open_for: text("open-for"),
                remind_after: text("remind-after"),
                digest_weekday: text("digest-weekday"),
                digest_time: text("digest-time"),
            };
            let now = state.now();
            let today = now.to_zoned(TimeZone::UTC).date();
            let (scope, base) = if metadata == admin_ids::ORG_SCOPE {
                (CadenceScope::Org, state.store.org_cadence(today).await?)
            } else {
                let base = state.store.effective_cadence(&metadata, today).await?;
                (CadenceScope::Manager(metadata.clone()), base)
            };
            match flags.apply(&base, today) {
                Ok(cadence) => {
                    state.store.set_cadence(&scope, &cadence, now).await?;
                    refresh_home(state, &user).await?;
                    Ok(InteractionReply::Clear)
                }
                Err(e) => Ok(InteractionReply::Errors(HashMap::from([(
                    e.flag.to_owned(),
                    format!("{} (for example: {})", e.problem, e.example),
                )]))),
            }
        }
        admin_ids::ADD_ADMIN_MODAL => {
            if !state.store.is_admin(&user).await? {
                return Ok(InteractionReply::Update(blocks::notice_modal(
                    "Admins only",
                    NOT_ADMIN,
                )));
            }
            let chosen = field(admin_ids::ADMIN_USER_BLOCK, admin_ids::ADMIN_USER)
                .and_then(|v| v.selected_user.clone());
            let Some(person) = chosen else {
                return Ok(InteractionReply::Errors(HashMap::from([(
                    admin_ids::ADMIN_USER_BLOCK.to_owned(),
                    "Please choose a person.".to_owned(),
                )])));
            };
            state.store.add_admin(person.as_ref(), state.now()).await?;
            refresh_home(state, &user).await?;
            Ok(InteractionReply::Clear)
        }
        _ => Ok(InteractionReply::Ack),
    }
}

// ---------------------------------------------------------------------------------------------
// /pulse

/// Answers a `/pulse` command. Every reply is ephemeral.
pub async fn on_command(
    state: &SlackApp,
    command: &SlackCommandEvent,
) -> anyhow::Result<SlackCommandEventResponse> {
    let text = super::commands::reply(
        state,
        command.user_id.as_ref(),
        command.text.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}
