//! trustpulse: anonymous team-trust pulse surveys in Slack.
//!
//! Pure logic sits in the middle ([`survey`], [`privacy`]); I/O sits at the edges ([`store`] holds
//! every SQL statement, the CLI and the server wire things together). See DESIGN.md §5.
#![warn(clippy::self_named_module_files)]

pub mod privacy;
pub mod survey;
