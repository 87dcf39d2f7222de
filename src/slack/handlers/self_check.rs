//! The manager's self-check: a prediction of the team's answers, compared in the digest once
//! the results are released.

use super::{Click, Form, InteractionReply, SlackApp, open_view, refresh_home};
use crate::slack::blocks;
use crate::slack::blocks::ids;
use crate::survey::{Question, Score};

/// App Home's self-check button: the prediction modal, or why there is nothing to predict.
pub(super) async fn open(state: &SlackApp, click: &Click) -> anyhow::Result<()> {
    let view = if state.store.can_predict(&click.user).await? {
        blocks::self_check_modal()
    } else {
        blocks::self_check_notice(None)
    };
    open_view(state, click, view).await;
    Ok(())
}

/// The submitted prediction.
pub(super) async fn on_submit(state: &SlackApp, form: &Form) -> anyhow::Result<InteractionReply> {
    let user = form.user.clone();
    let field = |block: &str, action: &str| form.field(block, action);
    let chosen = |question: Question| {
        field(question.key(), ids::SCORE)
            .and_then(|v| v.selected_option.as_ref())
            .and_then(|o| Score::parse(&o.value).ok())
    };
    let chosen_all = Question::ALL.map(chosen);
    if chosen_all.iter().any(Option::is_none) {
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
    }
    let prediction = crate::survey::Ballot::from_scores(|q| {
        chosen_all[q.index()].expect("every question was checked above")
    });
    let outcome = state.store.record_prediction(&user, &prediction).await?;
    refresh_home(state, &user).await?;
    Ok(InteractionReply::Update(blocks::self_check_notice(Some(
        outcome,
    ))))
}
