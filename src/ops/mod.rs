//! The chat-agnostic core between the chat layer and the store: the state every use case
//! shares, and what it asks of a chat platform ([`chat::Chat`]). Nothing here names Slack;
//! `slack/` implements [`chat::Chat`] and maps Slack's payloads to these operations.

pub mod admin;
pub mod charts;
pub mod chat;
pub mod commitments;
pub mod digests;
pub mod state;
pub mod submissions;
pub mod views;
pub mod waves;

pub use state::{AppState, Clock};
