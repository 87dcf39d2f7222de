//! What happens when: wave operations (start, remind, close) shared by the CLI, Slack's admin
//! screens and the planner, and the outbox worker that talks to Slack. Time always comes in as
//! `now`; only the serve loop reads the clock.

pub mod pacing;
pub mod waves;
pub mod worker;
