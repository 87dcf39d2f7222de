//! The life of an outbox job, in one place: what kinds there are ([`Job`], stored by the
//! store in the same transaction as the change that queued it), how each kind is delivered
//! through the chat platform ([`delivery`]), and what happens after ([`retry`]): sent, put back
//! for pacing or a 429, retried with growing gaps, failed, or dead-lettered.

pub mod delivery;
pub mod retry;

pub use crate::store::Job;
pub use delivery::{Delivery, Prefetched, deliver};
pub use retry::{MAX_ATTEMPTS, backoff, run};
