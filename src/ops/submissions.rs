//! Who may answer a pulse. The same rules are enforced again, atomically, when the answer is
//! recorded (`Store::record_submission`); this is the early check, so that nobody fills in the
//! survey for nothing.

use super::AppState;
use crate::store::SubmissionError;
use crate::survey::Answers;

/// Records `person`'s answers to `wave_id`, anonymously, or refuses them (the same rules as
/// [`refusal_for`], checked atomically with the write). Acknowledged only once committed.
pub async fn record(
    state: &AppState,
    wave_id: &str,
    person: &str,
    answers: &Answers,
) -> Result<(), SubmissionError> {
    state
        .store
        .record_submission(wave_id, person, answers, state.now())
        .await
}

/// Why `person` cannot answer `wave_id` right now, if they cannot. Checked before the modal
/// opens so nobody fills it in for nothing; checked again, atomically, when it is submitted.
pub async fn refusal_for(
    state: &AppState,
    wave_id: &str,
    person: &str,
) -> anyhow::Result<Option<SubmissionError>> {
    let Some(wave) = state.store.wave(wave_id).await? else {
        return Ok(Some(SubmissionError::UnknownWave));
    };
    if !wave.is_open_at(state.now()) {
        return Ok(Some(SubmissionError::WaveClosed));
    }
    if !state
        .store
        .invitees(wave_id)
        .await?
        .iter()
        .any(|p| p == person)
    {
        return Ok(Some(SubmissionError::NotInvited));
    }
    if state.store.has_answered(wave_id, person).await? == Some(true) {
        return Ok(Some(SubmissionError::AlreadyAnswered));
    }
    Ok(None)
}

/// Whether the pulse asks the follow-through item: the manager and the commitment's date.
pub async fn follow_through_ask(
    state: &AppState,
    wave_id: &str,
) -> anyhow::Result<Option<(String, String)>> {
    Ok(state
        .store
        .wave(wave_id)
        .await?
        .and_then(|w| w.follow_through_since.map(|since| (w.manager_id, since))))
}
