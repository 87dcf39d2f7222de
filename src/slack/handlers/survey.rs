//! The survey: the invitation's button opens the modal (or says why not), and the modal's
//! submission is recorded anonymously.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Click, Form, InteractionReply, SlackApp, open_view};
use crate::ops::submissions;
use crate::slack::blocks::{self, ids};
use crate::store::SubmissionError;
use crate::survey::{AnswerError, Answers, FollowThrough, Question, Score};

/// Which pulse a survey modal answers, carried in Slack's `private_metadata`. Nothing about the
/// DM it was opened from: a submission never touches the invitation (see DESIGN §3).
#[derive(Debug, Serialize, Deserialize)]
struct SurveyMeta {
    wave: String,
}

/// The invitation's button: the survey modal, or why this person cannot answer.
pub(super) async fn open(state: &SlackApp, click: &Click, wave_id: String) -> anyhow::Result<()> {
    let view = match submissions::may_answer(state, &wave_id, &click.user).await? {
        Err(refusal) => blocks::refusal_modal(&refusal),
        Ok(wave) => {
            let meta = SurveyMeta { wave: wave_id };
            let ask = wave
                .follow_through_since
                .as_deref()
                .map(|since| (wave.manager_id.as_str(), since));
            blocks::survey_modal_asking(&serde_json::to_string(&meta)?, state.k.get(), ask)
        }
    };
    open_view(state, click, view).await;
    Ok(())
}

/// The submitted survey.
pub(super) async fn on_submit(state: &SlackApp, form: &Form) -> anyhow::Result<InteractionReply> {
    let (user, metadata) = (form.user.clone(), form.metadata.clone());
    let field = |block: &str, action: &str| form.field(block, action);
    let Ok(meta) = serde_json::from_str::<SurveyMeta>(&metadata) else {
        return Ok(InteractionReply::Update(blocks::refusal_modal(
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
    let scores = Question::ALL.map(&mut score);
    // No metric moves here or below: a live counter would show who is answering, and
    // when. Recorded answers are counted when their window is released.
    if !errors.is_empty() {
        return Ok(InteractionReply::Errors(errors));
    }
    let comment = field(ids::COMMENT_BLOCK, ids::COMMENT).and_then(|v| v.value.clone());
    // The optional follow-through item: kept only when the pulse asked it (the store checks).
    let follow_through = match field(ids::FOLLOW_THROUGH, ids::CHOICE)
        .and_then(|v| v.selected_option.as_ref())
        .map(|o| FollowThrough::parse(&o.value))
    {
        None => None,
        Some(Ok(answer)) => Some(answer.value()),
        Some(Err(_)) => {
            return Ok(InteractionReply::Errors(HashMap::from([(
                ids::FOLLOW_THROUGH.to_owned(),
                "Please choose one of the four answers.".to_owned(),
            )])));
        }
    };
    let answers = Answers {
        scores,
        follow_through,
        comment,
    };
    match submissions::record(state, &meta.wave, &user, &answers).await {
        Ok(()) => {
            // DEBUG, off by default: at INFO, timestamped lines per submission would give
            // whoever reads the logs a live count of who is answering.
            tracing::debug!(wave_id = %meta.wave, "submission recorded");
            // The thanks is in the modal; the invitation DM stays as it is until the
            // pulse closes, when every invitation is updated alike.
            Ok(InteractionReply::Thanks)
        }
        Err(SubmissionError::InvalidAnswer(AnswerError::CommentTooLong(e))) => {
            Ok(InteractionReply::Errors(blocks::comment_too_long(&e)))
        }
        Err(SubmissionError::Internal(e)) => {
            let kind = crate::slack::errors::error_kind(&e);
            // No wave id at ERROR (logged by default): one line per failed answer,
            // each naming its team's pulse, would say which teams were answering when.
            tracing::error!(error = %kind, "could not record a submission");
            Ok(InteractionReply::Update(blocks::refusal_modal(
                &SubmissionError::Internal(anyhow::anyhow!("")),
            )))
        }
        Err(refusal) => {
            tracing::debug!(wave_id = %meta.wave, reason = %refusal, "submission refused");
            Ok(InteractionReply::Update(blocks::refusal_modal(&refusal)))
        }
    }
}
