//! A faithful fake Slack and a simulated sales org, for the tests and `trustpulse demo`.
//!
//! The fake serves the Web API methods trustpulse calls, built from Slack's method reference
//! (`slack_api_ref/`, copied from slack-ruby/slack-api-ref with its MIT license): it checks the
//! bearer token, rejects unknown methods and missing required arguments with Slack's error
//! shape, answers with the documented response shapes, and records every call. It also plays
//! Slack's side: signed events, interactions and commands over HTTP, and Socket Mode.

pub mod demo;
pub mod fake_slack;
pub mod methods;
pub mod payloads;
pub mod slack_side;
pub mod socket;
