//! Closing the loop: after a release the manager tells the team what they heard and what they
//! will do, by when; later they mark it done. The manager's own words only: the bot attaches
//! no score, share or comment, and the draft it offers says the weakest question in words,
//! never a number.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::AppState;
use super::digests::digest_for;
use crate::digest::tips::{heard, pledge};
use crate::store::{Commitment, NewCommitment, Shared};
use crate::survey::typed_text;

/// The longest text of each field the manager writes (Slack's own input limit is 3,000).
pub const NOTE_MAX_CHARS: usize = 1000;

/// How long a commitment runs by default.
const DEFAULT_DAYS: i64 = 14;

/// Where the team's loop stands, for the manager's digest and App Home.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamLoop {
    /// The latest release, when the manager has not shared about it yet.
    pub can_share: Option<String>,
    /// The team's latest commitment.
    pub commitment: Option<Commitment>,
}

pub async fn team_loop(state: &AppState, manager: &str) -> anyhow::Result<TeamLoop> {
    let store = &state.store;
    let latest = store.latest_release_window(manager).await?;
    let shared = match &latest {
        Some(window) => store.commitment_for_window(window).await?.is_some(),
        None => true,
    };
    Ok(TeamLoop {
        can_share: latest.filter(|_| !shared),
        commitment: store.latest_commitment(manager).await?,
    })
}

/// What the share button opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareStart {
    /// A draft for the manager to edit.
    Draft {
        window_id: String,
        heard: String,
        will_do: String,
        due_on: Date,
    },
    /// This release was shared already: what was sent.
    Already(Commitment),
    /// Not a release of this person's team.
    NotYours,
}

pub async fn start_share(
    state: &AppState,
    manager: &str,
    window_id: &str,
    now: Timestamp,
) -> anyhow::Result<ShareStart> {
    if !state.store.is_release_of(window_id, manager).await? {
        return Ok(ShareStart::NotYours);
    }
    if let Some(commitment) = state.store.commitment_for_window(window_id).await? {
        return Ok(ShareStart::Already(commitment));
    }
    let digest = digest_for(state, manager, now).await?;
    let (heard, will_do) = match digest.focus {
        Some((weakest, tip)) => (
            heard(weakest).to_owned(),
            pledge(weakest, tip).unwrap_or(tip).to_owned(),
        ),
        None => (String::new(), String::new()),
    };
    Ok(ShareStart::Draft {
        window_id: window_id.to_owned(),
        heard,
        will_do,
        due_on: now.to_zoned(TimeZone::UTC).date() + Span::new().days(DEFAULT_DAYS),
    })
}

/// Why a share was not accepted: which field, and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareProblem {
    HeardMissing,
    HeardTooLong,
    WillDoMissing,
    WillDoTooLong,
    DueMissing,
    DueInThePast,
}

/// What the manager submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareForm {
    pub heard: String,
    pub will_do: String,
    pub due_on: Option<String>,
}

impl ShareForm {
    /// Both texts as they will be stored: trimmed, without NULs (see [`typed_text`]).
    fn texts(&self) -> (String, String) {
        let stored = |text: &str| typed_text(text).trim().to_owned();
        (stored(&self.heard), stored(&self.will_do))
    }
}

/// Checks the form: both texts written and not too long, a date from today on.
pub fn check(form: &ShareForm, today: Date) -> Result<Date, Vec<ShareProblem>> {
    let mut problems = Vec::new();
    let (heard, will_do) = form.texts();
    let (heard, will_do) = (heard.as_str(), will_do.as_str());
    if heard.is_empty() {
        problems.push(ShareProblem::HeardMissing);
    } else if heard.chars().count() > NOTE_MAX_CHARS {
        problems.push(ShareProblem::HeardTooLong);
    }
    if will_do.is_empty() {
        problems.push(ShareProblem::WillDoMissing);
    } else if will_do.chars().count() > NOTE_MAX_CHARS {
        problems.push(ShareProblem::WillDoTooLong);
    }
    let due = form.due_on.as_deref().and_then(|d| d.parse::<Date>().ok());
    match due {
        None => problems.push(ShareProblem::DueMissing),
        Some(due) if due < today => problems.push(ShareProblem::DueInThePast),
        Some(_) => {}
    }
    match (problems.is_empty(), due) {
        (true, Some(due)) => Ok(due),
        _ => Err(problems),
    }
}

/// The outcome of a share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareOutcome {
    Shared { notes: usize },
    Already(Commitment),
    NotYours,
    Invalid(Vec<ShareProblem>),
}

pub async fn share(
    state: &AppState,
    manager: &str,
    window_id: &str,
    form: &ShareForm,
    now: Timestamp,
) -> anyhow::Result<ShareOutcome> {
    if !state.store.is_release_of(window_id, manager).await? {
        return Ok(ShareOutcome::NotYours);
    }
    let due_on = match check(form, now.to_zoned(TimeZone::UTC).date()) {
        Ok(due) => due,
        Err(problems) => return Ok(ShareOutcome::Invalid(problems)),
    };
    let (heard, will_do) = form.texts();
    let new = NewCommitment {
        manager_id: manager.to_owned(),
        window_id: window_id.to_owned(),
        heard,
        will_do,
        due_on: due_on.to_string(),
    };
    Ok(match state.store.share_commitment(&new, now).await? {
        Shared::Now { notes, .. } => {
            state.worker_kick.notify_one();
            ShareOutcome::Shared { notes }
        }
        Shared::Already(commitment) => ShareOutcome::Already(commitment),
    })
}

/// Marks the commitment done and tells the team, once. None: not theirs, or done already.
pub async fn mark_done(
    state: &AppState,
    manager: &str,
    commitment_id: &str,
    now: Timestamp,
) -> anyhow::Result<Option<usize>> {
    let notes = state
        .store
        .mark_commitment_done(manager, commitment_id, now)
        .await?;
    if notes.is_some() {
        state.worker_kick.notify_one();
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn form(heard: &str, will_do: &str, due: Option<&str>) -> ShareForm {
        ShareForm {
            heard: heard.into(),
            will_do: will_do.into(),
            due_on: due.map(Into::into),
        }
    }

    #[test]
    fn a_share_needs_both_texts_and_a_date_from_today() {
        let today = date(2026, 11, 30);
        assert_eq!(
            check(&form("heard", "do", Some("2026-12-14")), today),
            Ok(date(2026, 12, 14))
        );
        assert_eq!(
            check(&form(" ", "", Some("2026-11-29")), today),
            Err(vec![
                ShareProblem::HeardMissing,
                ShareProblem::WillDoMissing,
                ShareProblem::DueInThePast
            ])
        );
        let long = "x".repeat(NOTE_MAX_CHARS + 1);
        assert_eq!(
            check(&form(&long, "do", None), today),
            Err(vec![ShareProblem::HeardTooLong, ShareProblem::DueMissing])
        );
    }

    /// PostgreSQL's text cannot hold a NUL: the share would fail with an internal error.
    #[test]
    fn a_nul_character_is_dropped_from_what_the_manager_writes() {
        let today = date(2026, 11, 30);
        let written = form(" I heard\0 you ", "\0call\0 weekly", Some("2026-12-14"));
        assert_eq!(
            written.texts(),
            ("I heard you".to_owned(), "call weekly".to_owned())
        );
        assert_eq!(
            check(&form("\0 \0", "do", Some("2026-12-14")), today),
            Err(vec![ShareProblem::HeardMissing])
        );
    }
}
