//! What trustpulse asks of a chat platform, in its own terms: send a person a direct message,
//! mark a pulse's messages closed, show a person their home view, read the directory. The
//! platform renders each message and applies its own pacing; `slack::chat::SlackChat` is the
//! implementation `serve` uses.

use std::time::Duration;

use jiff::Timestamp;

use super::AppState;
use super::commitments::TeamLoop;
use crate::digest::Digest;
use crate::store::Commitment;
use crate::store::Person;

/// The longest a call to the platform may take; a job's lease allows for a few of these.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A message trustpulse sends to one person.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// The invitation to a pulse, with its button; `closes` is in the person's own time zone.
    Invitation {
        wave_id: String,
        closes: String,
        k: u32,
    },
    /// The one reminder every invitee gets, answered or not.
    Reminder {
        wave_id: String,
        closes: String,
        k: u32,
    },
    /// A manager's weekly digest, and where the team's loop stands (share, commitment).
    Digest(Box<Digest>, TeamLoop),
    /// A manager's commitment to their team, in the manager's own words only (or, `done`, that
    /// they did it).
    TeamNote { commitment: Commitment, done: bool },
}

/// A picture for one person's direct message: a PNG and the same in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub png: Vec<u8>,
    pub filename: String,
    pub title: String,
    /// What the picture shows, for screen readers and anyone who cannot see it.
    pub alt_text: String,
}

/// Not now: try again at `until`. `workspace_wide` when the whole workspace's budget for the
/// method is spent (so other jobs would wait too), not just one channel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferral {
    pub until: Timestamp,
    pub workspace_wide: bool,
}

/// The platform refused a call or could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The platform refuses the bot itself (token revoked, app uninstalled): stop sending.
    #[error("the chat platform refused the bot ({0})")]
    Auth(String),
    /// It refuses this one recipient or message for good: retrying cannot help.
    #[error("the chat platform refused this message ({0})")]
    Permanent(String),
    /// Too many calls: wait this long before calling again.
    #[error("rate limited (retry after {0:?})")]
    RateLimited(Duration),
    /// A network failure, a timeout, a server error: worth retrying later.
    #[error("could not reach the chat platform ({0})")]
    Transient(String),
}

impl ChatError {
    /// The platform's own word for it (`channel_not_found`, `ratelimited`, `transport`): a
    /// code, never anything from the request.
    pub fn code(&self) -> String {
        match self {
            ChatError::Auth(code) | ChatError::Permanent(code) | ChatError::Transient(code) => {
                code.clone()
            }
            ChatError::RateLimited(_) => "ratelimited".to_owned(),
        }
    }
}

/// Why something was not delivered this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDelivered {
    /// The platform refused or could not be reached.
    Chat(ChatError),
    /// Its pacing: not before this instant.
    Paced(Deferral),
}

impl From<ChatError> for NotDelivered {
    fn from(e: ChatError) -> Self {
        NotDelivered::Chat(e)
    }
}

impl From<Deferral> for NotDelivered {
    fn from(d: Deferral) -> Self {
        NotDelivered::Paced(d)
    }
}

/// Where a direct message landed, so that it can be updated when its pulse closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// A page of the platform's directory, and the cursor of the next (None: the last page).
pub type DirectoryPage = (Vec<Person>, Option<String>);

/// `Ok(Err(_))`: not delivered, for a reason the caller acts on; `Err(_)`: our own failure
/// (the database), which fails the caller.
pub type Delivered<T> = anyhow::Result<Result<T, NotDelivered>>;

#[async_trait::async_trait]
pub trait Chat: Send + Sync {
    /// Sends `message` to `person_id` in the bot's direct message with them (`known_channel`
    /// when it is known already; a new one is remembered).
    async fn send_dm(
        &self,
        person_id: &str,
        known_channel: Option<String>,
        message: &Outgoing,
        now: Timestamp,
    ) -> Delivered<Posted>;

    /// Uploads `picture` into the bot's direct message with `person_id`, and shares it nowhere
    /// else. Returns the platform's id for the file (to show it again on the person's home).
    async fn share_picture(
        &self,
        person_id: &str,
        known_channel: Option<String>,
        picture: &Picture,
        now: Timestamp,
    ) -> Delivered<String>;

    /// Turns a pulse's invitation or reminder into "this pulse closed on `closed_on`".
    async fn mark_closed(
        &self,
        channel: &str,
        ts: &str,
        closed_on: &str,
        now: Timestamp,
    ) -> Delivered<()>;

    /// Shows `person_id` their home view as it is now, with `notice` on top if there is one.
    async fn publish_home(
        &self,
        state: &AppState,
        person_id: &str,
        notice: Option<&str>,
        now: Timestamp,
    ) -> Delivered<()>;

    /// One page of the directory, from `cursor` (None: the first page).
    async fn directory_page(
        &self,
        cursor: Option<String>,
        now: Timestamp,
    ) -> Delivered<DirectoryPage>;
}
