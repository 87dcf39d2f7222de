//! What every request handler and job needs: the store, the Slack client, the privacy minimum
//! and the clock. Built once by `app.rs`.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use secrecy::SecretString;
use tokio::sync::Notify;

use crate::privacy::MinRespondents;
use crate::privacy::window::ReleasePolicy;
use crate::schedule::pacing::Pacer;
use crate::slack::client::SlackApi;
use crate::store::Store;

/// Where "now" comes from: the system clock, or a clock tests and the demo move by hand.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<Mutex<Timestamp>>),
}

impl Clock {
    pub fn manual(at: Timestamp) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Manual(at) => *at.lock().expect("clock lock"),
        }
    }

    /// Moves a manual clock; a no-op on the system clock.
    pub fn set(&self, to: Timestamp) {
        if let Clock::Manual(at) = self {
            *at.lock().expect("clock lock") = to;
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub slack: SlackApi,
    pub k: MinRespondents,
    pub release_policy: ReleasePolicy,
    pub signing_secrets: Arc<Vec<SecretString>>,
    pub clock: Clock,
    /// How long a claimed outbox row is this process's before another may rescue it.
    pub lease: jiff::SignedDuration,
    /// Paces Slack calls for every sender in this process.
    pub pacer: Arc<Pacer>,
    /// Wakes the outbox worker when new work was queued.
    pub worker_kick: Arc<Notify>,
}

impl AppState {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
