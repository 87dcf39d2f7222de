//! Integration tests: one binary (zero-to-production style). Store tests run on SQLite and on
//! PostgreSQL; see `helpers::TestDb`.

mod app;
mod architecture;
mod crash;
mod demo;
mod deploy;
mod first_pulse;
mod first_run;
mod follow_through;
mod forensics;
mod helpers;
mod manifests;
mod metrics;
mod participation;
mod schedule;

mod cli;
mod releases;
mod replicas;
mod roster_email;
mod slack_events;
mod slack_logs;
mod slack_security;
mod slack_surfaces;
mod slack_wave;
mod store_cadences;
mod store_commitments;
mod store_outbox;
mod store_releases;
mod store_roster;
mod store_schema;
mod store_submissions;
mod store_waves;
mod team_loop;
mod token_secret;
mod trend_chart;
