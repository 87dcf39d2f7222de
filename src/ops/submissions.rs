//! Who may answer a pulse. The same rules are enforced again, atomically, when the answer is
//! recorded (`Store::record_submission`); this is the early check, so that nobody fills in the
//! survey for nothing.

use super::AppState;
use crate::store::{SubmissionError, Wave};
use crate::survey::Answers;

/// Records `person`'s answers to `wave_id`, anonymously, or refuses them (the same rules as
/// [`may_answer`], checked atomically with the write). Acknowledged only once committed.
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

/// The pulse `person` may answer now, or why they cannot. Checked before the modal opens so
/// nobody fills it in for nothing; checked again, atomically, when it is submitted.
pub async fn may_answer(
    state: &AppState,
    wave_id: &str,
    person: &str,
) -> anyhow::Result<Result<Wave, SubmissionError>> {
    let Some(wave) = state.store.wave(wave_id).await? else {
        return Ok(Err(SubmissionError::UnknownWave));
    };
    if !wave.is_open_at(state.now()) {
        return Ok(Err(SubmissionError::WaveClosed));
    }
    if !state
        .store
        .invitees(wave_id)
        .await?
        .iter()
        .any(|p| p == person)
    {
        return Ok(Err(SubmissionError::NotInvited));
    }
    if state.store.has_answered(wave_id, person).await? == Some(true) {
        return Ok(Err(SubmissionError::AlreadyAnswered));
    }
    Ok(Ok(wave))
}
