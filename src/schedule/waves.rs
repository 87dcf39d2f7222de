//! Starting, reminding and closing a team's pulse by hand (or from the planner).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::privacy::MinRespondents;
use crate::store::{OpenWaveError, OpenedWave, Store, Wave, WaveTiming};

/// Opens a pulse for `manager_id` now, open for the team's cadence's `open_for`, and queues the
/// invitations.
pub async fn start_wave(
    store: &Store,
    manager_id: &str,
    k: MinRespondents,
    now: Timestamp,
) -> Result<OpenedWave, OpenWaveError> {
    if !store.is_current_manager(manager_id).await? {
        return Err(OpenWaveError::NoEligibleSellers {
            manager_id: manager_id.to_owned(),
        });
    }
    if let Some(open) = store.open_wave_of(manager_id).await? {
        return Err(OpenWaveError::AlreadyOpen {
            manager_id: manager_id.to_owned(),
            wave_id: open.wave_id,
        });
    }
    let today = now.to_zoned(TimeZone::UTC).date();
    let cadence = store.effective_cadence(manager_id, today).await?;
    // A pulse started by hand is its own slot, named by the instant it started.
    let period = format!("manual-{}", now.as_second());
    // By hand, everyone is asked now, and reminded after the cadence's delay.
    let schedule = |_: Option<&str>| (now, Some(cadence.remind_at(now)));
    let timing = WaveTiming {
        closes_at: cadence.closes_at(now),
        schedule: &schedule,
    };
    store.open_wave(manager_id, &period, &timing, k, now).await
}

/// Queues the one reminder for everyone in the team's open pulse who has not answered.
pub async fn remind_wave(
    store: &Store,
    manager_id: &str,
    now: Timestamp,
) -> anyhow::Result<Option<(Wave, usize)>> {
    let Some(wave) = store.open_wave_of(manager_id).await? else {
        return Ok(None);
    };
    let queued = store.queue_reminders(&wave.wave_id, now).await?;
    Ok(Some((wave, queued)))
}

/// Closes the team's open pulse now. Returns the wave that was closed, if there was one.
pub async fn close_wave(
    store: &Store,
    manager_id: &str,
    now: Timestamp,
) -> anyhow::Result<Option<Wave>> {
    let Some(wave) = store.open_wave_of(manager_id).await? else {
        return Ok(None);
    };
    store.close_wave(&wave.wave_id, now).await?;
    Ok(Some(wave))
}
