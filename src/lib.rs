//! trustpulse: anonymous team-trust pulse surveys in Slack.
//!
//! Pure logic sits in the middle ([`survey`], [`privacy`]); I/O sits at the edges: [`store`]
//! holds every SQL statement, [`cli`] and the server wire things together. See DESIGN.md §5.
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
