//! What an admin may do from the chat (App Home) besides the CLI: start, remind or close a
//! team's pulse, remove an admin, and change a cadence. The chat layer checks that the person
//! is an admin and renders the outcome.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::AppState;
use super::waves;
use crate::store::{CadenceScope, OpenWaveError};
use crate::survey::cadence::{Cadence, CadenceError, CadenceFlags};

/// An admin's action on one team (or one admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction<'a> {
    Start { manager: &'a str },
    Remind { manager: &'a str },
    Close { manager: &'a str },
    RemoveAdmin { person: &'a str },
}

/// What it did, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOutcome {
    Started {
        manager: String,
        invited: usize,
    },
    /// Why the pulse did not start (no one to ask, already open), in the refusal's words.
    NotStarted(String),
    ReminderQueued {
        manager: String,
    },
    NothingToRemind {
        manager: String,
    },
    Closed {
        manager: String,
    },
    NothingToClose {
        manager: String,
    },
    /// The last admin cannot be removed: someone must be able to set trustpulse up.
    LastAdmin,
    AdminRemoved,
}

pub async fn act(
    state: &AppState,
    action: AdminAction<'_>,
    now: Timestamp,
) -> anyhow::Result<AdminOutcome> {
    Ok(match action {
        AdminAction::Start { manager } => {
            match waves::start_wave(&state.store, manager, state.k, now).await {
                Ok(opened) => {
                    state.worker_kick.notify_one();
                    tracing::info!(wave_id = %opened.wave.wave_id, invited = opened.invitees.len(), "pulse started by an admin");
                    AdminOutcome::Started {
                        manager: manager.to_owned(),
                        invited: opened.invitees.len(),
                    }
                }
                Err(OpenWaveError::Internal(e)) => return Err(e),
                Err(refusal) => AdminOutcome::NotStarted(refusal.to_string()),
            }
        }
        AdminAction::Remind { manager } => {
            match waves::remind_wave(&state.store, manager, now).await? {
                Some(_) => {
                    state.worker_kick.notify_one();
                    AdminOutcome::ReminderQueued {
                        manager: manager.to_owned(),
                    }
                }
                None => AdminOutcome::NothingToRemind {
                    manager: manager.to_owned(),
                },
            }
        }
        AdminAction::Close { manager } => {
            match waves::close_wave(&state.store, manager, &state.release_policy, now).await? {
                Some(_) => AdminOutcome::Closed {
                    manager: manager.to_owned(),
                },
                None => AdminOutcome::NothingToClose {
                    manager: manager.to_owned(),
                },
            }
        }
        AdminAction::RemoveAdmin { person } => {
            if state.store.admins().await?.len() <= 1 {
                AdminOutcome::LastAdmin
            } else {
                state.store.remove_admin(person).await?;
                AdminOutcome::AdminRemoved
            }
        }
    })
}

/// The cadence in force for `scope`, to edit: the org default (or the built-in one), or the
/// team's own (or the org's).
pub async fn cadence_to_edit(
    state: &AppState,
    scope: &CadenceScope,
    now: Timestamp,
) -> anyhow::Result<Cadence> {
    let today = now.to_zoned(TimeZone::UTC).date();
    match scope {
        CadenceScope::Org => state.store.org_cadence(today).await,
        CadenceScope::Manager(manager) => state.store.effective_cadence(manager, today).await,
    }
}

/// Applies `flags` to `scope`'s cadence and saves it; a bad value is refused with the flag
/// and a good example, and nothing changes.
pub async fn set_cadence(
    state: &AppState,
    scope: &CadenceScope,
    flags: &CadenceFlags,
    now: Timestamp,
) -> anyhow::Result<Result<(), CadenceError>> {
    let base = cadence_to_edit(state, scope, now).await?;
    let today = now.to_zoned(TimeZone::UTC).date();
    match flags.apply(&base, today) {
        Ok(cadence) => {
            state.store.set_cadence(scope, &cadence, now).await?;
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(e)),
    }
}
