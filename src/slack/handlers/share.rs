//! Closing the loop: the manager's "Share with your team" button and modal, and "Done" /
//! "Still working on it" on their commitment. Only the team's own manager can share about a
//! release or mark its commitment done.

use super::{Click, Form, InteractionReply, SlackApp, open_view, refresh_home};
use crate::ops::commitments::{self, ShareForm, ShareOutcome, ShareStart};
use crate::slack::blocks::notice_modal;
use crate::slack::team_loop::{self, ids};

const NOT_YOURS: &str = "Only the team's own manager can share about its results.";

/// The share button: a draft to edit, or what was already sent.
pub(super) async fn open(state: &SlackApp, click: &Click, window_id: &str) -> anyhow::Result<()> {
    let view = match commitments::start_share(state, &click.user, window_id, state.now()).await? {
        ShareStart::Draft {
            window_id,
            heard,
            will_do,
            due_on,
        } => team_loop::share_modal(&window_id, &heard, &will_do, due_on),
        ShareStart::Already(commitment) => team_loop::already_shared(&commitment),
        ShareStart::NotYours => notice_modal("Not your team", NOT_YOURS),
    };
    open_view(state, click, view).await;
    Ok(())
}

/// The submitted share modal.
pub(super) async fn on_submit(state: &SlackApp, form: &Form) -> anyhow::Result<InteractionReply> {
    let text = |block: &str| {
        form.field(block, ids::TEXT)
            .and_then(|v| v.value.clone())
            .unwrap_or_default()
    };
    let share = ShareForm {
        heard: text(ids::HEARD),
        will_do: text(ids::WILL_DO),
        due_on: form
            .field(ids::DUE, ids::DATE)
            .and_then(|v| v.selected_date.clone()),
    };
    let outcome =
        commitments::share(state, &form.user, &form.metadata, &share, state.now()).await?;
    Ok(match outcome {
        ShareOutcome::Shared { notes } => {
            tracing::info!(notes, "commitment shared with the team");
            refresh_home(state, &form.user).await?;
            InteractionReply::Update(team_loop::shared_notice(notes))
        }
        ShareOutcome::Already(commitment) => {
            InteractionReply::Update(team_loop::already_shared(&commitment))
        }
        ShareOutcome::NotYours => {
            InteractionReply::Update(notice_modal("Not your team", NOT_YOURS))
        }
        ShareOutcome::Invalid(problems) => {
            InteractionReply::Errors(team_loop::share_errors(&problems))
        }
    })
}

/// "Done" or "Still working on it" on the manager's commitment.
pub(super) async fn on_progress(
    state: &SlackApp,
    click: &Click,
    commitment_id: &str,
    done: bool,
) -> anyhow::Result<()> {
    let user = click.user.as_str();
    let view = if done {
        let told = commitments::mark_done(state, user, commitment_id, state.now()).await?;
        refresh_home(state, user).await?;
        team_loop::done_notice(told)
    } else {
        team_loop::still_working_notice()
    };
    open_view(state, click, view).await;
    Ok(())
}
