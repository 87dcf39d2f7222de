//! The only code that touches slack-morphism and Slack's wire formats: the Web API client,
//! the signed HTTP routes, Socket Mode, Block Kit rendering, and the mapping of Slack payloads
//! to trustpulse's operations.

pub mod blocks;
pub mod chat;
pub mod client;
pub mod commands;
pub mod errors;
mod form;
pub mod handlers;
pub mod home;
pub mod http;
pub mod pacing;
pub mod socket_mode;
pub mod team_loop;
pub mod verify;

#[cfg(test)]
mod digest_snapshots;
#[cfg(test)]
mod surface_snapshots;

/// What the Slack layer's handlers share: the core's state, and Slack itself (for what only
/// Slack has: modals, Socket Mode). Derefs to the core's state. One allocation behind an
/// `Arc`: axum clones it for every request, and cloning the parts (pools, the client and its
/// token, the pacer) cost an answer more than a few atomic counts.
#[derive(Clone)]
pub struct SlackApp(std::sync::Arc<(crate::ops::AppState, chat::SlackChat)>);

impl SlackApp {
    pub fn new(state: crate::ops::AppState, slack: chat::SlackChat) -> SlackApp {
        SlackApp(std::sync::Arc::new((state, slack)))
    }

    /// Slack itself, for what only Slack has (opening a modal, Socket Mode's client).
    pub fn slack(&self) -> &chat::SlackChat {
        &self.0.1
    }
}

impl std::ops::Deref for SlackApp {
    type Target = crate::ops::AppState;

    fn deref(&self) -> &Self::Target {
        &self.0.0
    }
}
