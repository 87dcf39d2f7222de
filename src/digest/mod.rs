//! From ballots to what a manager reads, as pure functions: a window's tally, its frozen
//! release (numbers only when the privacy rules allow), the trend across releases, the weakest
//! of the three questions and a coaching tip for it.

pub mod chart;
pub mod chart_png;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod release;
pub mod tips;
pub mod view;

pub use release::{
    FollowThroughResult, QuestionResult, Release, ReleaseBody, Tally, Thresholds, WindowFacts,
    compute_release,
};
pub use view::{Digest, build_digest};
