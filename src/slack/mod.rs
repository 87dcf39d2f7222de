//! The only code that touches slack-morphism and Slack's wire formats: the Web API client,
//! the signed HTTP routes, Socket Mode, Block Kit rendering, and the mapping of Slack payloads
//! to trustpulse's operations.

pub mod blocks;
pub mod client;
pub mod commands;
pub mod handlers;
pub mod home;
pub mod http;
pub mod outbound;
pub mod socket_mode;
pub mod verify;

#[cfg(test)]
mod digest_snapshots;
