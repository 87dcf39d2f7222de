//! The admin's App Home: the cadence, starting, reminding and closing a team's pulse, and who
//! the admins are. Every action checks that the person is an admin, and a replayed click has
//! no second effect.

use jiff::tz::TimeZone;
use slack_morphism::prelude::*;

use super::{Form, InteractionReply, SlackApp, open_view, refresh_home};
use crate::ops::waves;
use crate::slack::home::{self, AdminNotice, ids as admin_ids};
use crate::store::{CadenceScope, OpenWaveError};
use crate::survey::cadence::CadenceFlags;

/// An admin button on App Home.
pub(super) async fn on_action(
    state: &SlackApp,
    trigger: &str,
    action: &str,
    value: &str,
    user: &str,
) -> anyhow::Result<()> {
    let now = state.now();
    if !state.store.is_admin(user).await? {
        open_view(state, trigger, home::admin_notice(&AdminNotice::AdminsOnly)).await;
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
        open_view(state, trigger, view).await;
    }
    refresh_home(state, user).await
}

async fn on_admin_action(
    state: &SlackApp,
    action: &str,
    value: &str,
) -> anyhow::Result<Option<SlackView>> {
    let now = state.now();
    let today = now.to_zoned(TimeZone::UTC).date();
    let notice = |n: AdminNotice| Some(home::admin_notice(&n));
    let manager = value.to_owned();
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
                notice(AdminNotice::Started {
                    manager,
                    invited: opened.invitees.len(),
                })
            }
            Err(OpenWaveError::Internal(e)) => return Err(e),
            Err(refusal) => notice(AdminNotice::NotStarted(refusal.to_string())),
        },
        admin_ids::REMIND => match waves::remind_wave(&state.store, value, now).await? {
            Some(_) => {
                state.worker_kick.notify_one();
                notice(AdminNotice::ReminderQueued { manager })
            }
            None => notice(AdminNotice::NothingToRemind { manager }),
        },
        admin_ids::CLOSE => {
            match waves::close_wave(&state.store, value, &state.release_policy, now).await? {
                Some(_) => notice(AdminNotice::Closed { manager }),
                None => notice(AdminNotice::NothingToClose { manager }),
            }
        }
        admin_ids::ADD_ADMIN => Some(home::add_admin_modal()),
        admin_ids::REMOVE_ADMIN => {
            if state.store.admins().await?.len() <= 1 {
                notice(AdminNotice::LastAdmin)
            } else {
                state.store.remove_admin(value).await?;
                None
            }
        }
        _ => None,
    })
}

/// The submitted cadence modal (org-wide, or one team's).
pub(super) async fn on_cadence_submit(
    state: &SlackApp,
    form: &Form,
) -> anyhow::Result<InteractionReply> {
    let (user, metadata) = (form.user.clone(), form.metadata.clone());
    let field = |block: &str, action: &str| form.field(block, action);
    if !state.store.is_admin(&user).await? {
        return Ok(InteractionReply::Update(home::admin_notice(
            &AdminNotice::AdminsOnly,
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
        return Ok(InteractionReply::Update(home::admin_notice(
            &AdminNotice::AdminsOnly,
        )));
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
