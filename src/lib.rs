//! trustpulse: anonymous team-trust pulse surveys in Slack.
//!
//! The code in layers, each importing only the ones below it (checked from the imports by
//! `tests/api/architecture.rs`):
//!
//! ```text
//! app, cli, sim        wiring: settings, the server, the commands, the demo and the fake Slack
//! slack                the only user of slack-morphism: HTTP and Socket Mode transport, request
//!                      signatures, one handler per surface (payload → ops call → rendering),
//!                      every surface a pure function of a model, the Web API client, Slack's
//!                      pacing; implements ops::chat::Chat
//! schedule             the planner, the outbox worker, and the life of a job (schedule::job:
//!                      its kinds, its delivery through Chat, its retry policy)
//! ops                  chat-agnostic use cases: start / remind / close a pulse, who may answer,
//!                      what each person may see (ops::views), digests; the Chat trait
//! store                every SQL statement (SQLite and PostgreSQL through sqlx)
//! survey privacy digest pure logic: the questions (survey::Question::ALL), cadences, rosters;
//!                      k and the release gates; the release and the digest
//! config, telemetry, config_error   settings and logs, used from anywhere
//! ```
//!
//! See DESIGN.md §5.
#![warn(clippy::self_named_module_files)]

pub mod app;
pub mod cli;
pub mod config;
pub mod config_error;
pub mod digest;
pub mod ops;
pub mod privacy;
pub mod schedule;
pub mod sim;
pub mod slack;
pub mod store;
pub mod survey;
pub mod telemetry;
