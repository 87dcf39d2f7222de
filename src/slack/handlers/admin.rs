//! The admin's App Home: the cadence, starting, reminding and closing a team's pulse, and who
//! the admins are. Every action checks that the person is an admin, and a replayed click has
//! no second effect.

use slack_morphism::prelude::*;

use super::{Click, Form, InteractionReply, SlackApp, open_view, refresh_home};
use crate::ops::admin::{self, AdminAction};
use crate::slack::home::{self, ids as admin_ids};
use crate::store::CadenceScope;
use crate::survey::cadence::CadenceFlags;

/// An admin button on App Home.
pub(super) async fn on_action(
    state: &SlackApp,
    click: &Click,
    action: &str,
    value: &str,
) -> anyhow::Result<()> {
    let (user, trigger) = (click.user.as_str(), click.trigger.as_str());
    let now = state.now();
    if !state.store.is_admin(user).await? {
        open_view(state, click, home::admins_only()).await;
        return Ok(());
    }
    // Slack makes a new trigger id for every click: a signed request replayed within its five
    // minutes carries the same one and has no second effect.
    if !state
        .store
        .record_event(&format!("trigger:{trigger}"), "admin_action", now)
        .await?
    {
        tracing::warn!("ignored a replayed admin action");
        return Ok(());
    }
    let view = on_admin_action(state, action, value).await?;
    if let Some(view) = view {
        open_view(state, click, view).await;
    }
    refresh_home(state, user).await
}

async fn on_admin_action(
    state: &SlackApp,
    action: &str,
    value: &str,
) -> anyhow::Result<Option<SlackView>> {
    let now = state.now();
    let action = match action {
        admin_ids::EDIT_CADENCE => {
            let current = admin::cadence_to_edit(state, &cadence_scope(value), now).await?;
            return Ok(Some(home::cadence_modal(value, &current)));
        }
        admin_ids::ADD_ADMIN => return Ok(Some(home::add_admin_modal())),
        admin_ids::START => AdminAction::Start { manager: value },
        admin_ids::REMIND => AdminAction::Remind { manager: value },
        admin_ids::CLOSE => AdminAction::Close { manager: value },
        admin_ids::REMOVE_ADMIN => AdminAction::RemoveAdmin { person: value },
        _ => return Ok(None),
    };
    Ok(home::admin_notice(&admin::act(state, action, now).await?))
}

/// The cadence a modal edits: its `private_metadata` is [`admin_ids::ORG_SCOPE`] or a
/// manager's id.
fn cadence_scope(metadata: &str) -> CadenceScope {
    if metadata == admin_ids::ORG_SCOPE {
        CadenceScope::Org
    } else {
        CadenceScope::Manager(metadata.to_owned())
    }
}

/// The submitted cadence modal (org-wide, or one team's).
pub(super) async fn on_cadence_submit(
    state: &SlackApp,
    form: &Form,
) -> anyhow::Result<InteractionReply> {
    let (user, metadata) = (form.user.clone(), form.metadata.clone());
    let field = |block: &str, action: &str| form.field(block, action);
    if !state.store.is_admin(&user).await? {
        return Ok(InteractionReply::Update(home::admins_only()));
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
    match admin::set_cadence(state, &cadence_scope(&metadata), &flags, state.now()).await? {
        Ok(()) => {
            refresh_home(state, &user).await?;
            Ok(InteractionReply::Clear)
        }
        Err(e) => Ok(InteractionReply::Errors(home::cadence_errors(&e))),
    }
}

/// The submitted "add an admin" modal.
pub(super) async fn on_add_admin_submit(
    state: &SlackApp,
    form: &Form,
) -> anyhow::Result<InteractionReply> {
    let user = form.user.clone();
    let field = |block: &str, action: &str| form.field(block, action);
    if !state.store.is_admin(&user).await? {
        return Ok(InteractionReply::Update(home::admins_only()));
    }
    let chosen = field(admin_ids::ADMIN_USER_BLOCK, admin_ids::ADMIN_USER)
        .and_then(|v| v.selected_user.clone());
    let Some(person) = chosen else {
        return Ok(InteractionReply::Errors(home::no_person_chosen()));
    };
    state.store.add_admin(person.as_ref(), state.now()).await?;
    refresh_home(state, &user).await?;
    Ok(InteractionReply::Clear)
}
