//! Slack's events: App Home opened, the app uninstalled or its token revoked, a person changed
//! or joined.

use slack_morphism::prelude::*;

use super::super::SlackApp;
use crate::store::Job;

/// Handles one event delivery. Retries and replays of the same `event_id` have no effect.
pub async fn on_event(state: &SlackApp, callback: SlackPushEventCallback) -> anyhow::Result<()> {
    let now = state.now();
    let kind = event_kind(&callback.event);
    // Someone opening the app's DM, where the invitation is, is the step before answering.
    // Nothing is done about it, so it leaves nothing either: no inbox row (whose time would
    // date the answer that follows; with invitations sent at each seller's local morning, the
    // time alone can point at one seller) and no log line at the default level.
    if let SlackEventCallbackBody::AppHomeOpened(ev) = &callback.event
        && !opens_home(ev)
    {
        tracing::debug!(kind, "the app's messages tab opened; nothing to do");
        return Ok(());
    }
    if !state
        .store
        .record_event(callback.event_id.as_ref(), kind, now)
        .await?
    {
        tracing::debug!(event_id = %callback.event_id, kind, "duplicate event delivery ignored");
        return Ok(());
    }
    // Home's opening at DEBUG too: one timestamped line per person opening the app, at the
    // default level, would be a live trace of who is using it while a pulse is open.
    if matches!(callback.event, SlackEventCallbackBody::AppHomeOpened(_)) {
        tracing::debug!(event_id = %callback.event_id, kind, "event");
    } else {
        tracing::info!(event_id = %callback.event_id, kind, "event");
    }
    let team = callback.team_id.to_string();
    match callback.event {
        SlackEventCallbackBody::AppHomeOpened(ev) if opens_home(&ev) => {
            let job = Job::PublishHome {
                person_id: ev.user.to_string(),
            };
            state.store.enqueue(&job, now, now).await?;
            state.worker_kick.notify_one();
        }
        SlackEventCallbackBody::AppUninstalled(_) => uninstall(state, &team).await?,
        // slack-morphism does not model `tokens_revoked`; it arrives as raw JSON.
        SlackEventCallbackBody::Unknown(raw) if is_bot_token_revocation(&raw) => {
            uninstall(state, &team).await?
        }
        SlackEventCallbackBody::UserChange(ev) => {
            let person = crate::slack::client::person_from_slack(&ev.user);
            state.store.upsert_person(&person, now).await?;
        }
        SlackEventCallbackBody::TeamJoin(ev) => {
            let person = crate::slack::client::person_from_slack(&ev.user);
            state.store.upsert_person(&person, now).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Whether an `app_home_opened` is for the Home tab (Slack also sends it for the messages tab).
fn opens_home(ev: &SlackAppHomeOpenedEvent) -> bool {
    ev.tab.as_deref().is_none_or(|tab| tab == "home")
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
