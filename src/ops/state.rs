//! What every use case, request handler and job needs: the store, the chat platform, the
//! privacy minimum and the clock. Built once by `app.rs`.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use secrecy::SecretString;
use tokio::sync::Notify;

use super::chat::Chat;
use crate::privacy::MinRespondents;
use crate::privacy::window::ReleasePolicy;
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
    /// Where messages go (Slack, in `serve`), paced by the platform's own rules.
    pub chat: Arc<dyn Chat>,
    pub k: MinRespondents,
    pub release_policy: ReleasePolicy,
    pub signing_secrets: Arc<Vec<SecretString>>,
    pub clock: Clock,
    /// How long a claimed outbox row is this process's before another may rescue it.
    pub lease: jiff::SignedDuration,
    /// Wakes the outbox worker when new work was queued.
    pub worker_kick: Arc<Notify>,
}

impl AppState {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
