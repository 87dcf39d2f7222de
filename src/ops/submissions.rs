//! Who may answer a pulse. The same rules are enforced again, atomically, when the answer is
//! recorded (`Store::record_submission`); this is the early check, so that nobody fills in the
//! survey for nothing.

use super::AppState;
use crate::store::SubmissionError;

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
