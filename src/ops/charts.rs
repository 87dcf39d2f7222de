//! The trend chart that follows a manager's digest: drawn from released numbers only, uploaded
//! into the manager's direct message and nowhere else, and remembered so that App Home shows
//! the same picture.

use jiff::Timestamp;
use jiff::civil::Date;

use super::AppState;
use super::chat::{Delivered, Picture};
use crate::digest::chart::{TrendChart, short_date, trend_chart};
use crate::digest::chart_png;
use crate::digest::view::TREND_RELEASES;
use crate::store::SharedChart;

/// The chart of `manager`'s last releases, with the held window as a gap and the team's
/// commitments marked. None while no release has numbers.
pub async fn trend_of(state: &AppState, manager: &str) -> anyhow::Result<Option<TrendChart>> {
    let store = &state.store;
    let releases = store.releases_of(manager, TREND_RELEASES as i64).await?;
    let held = store
        .held_window(manager, state.release_policy.max_window_waves)
        .await?
        .is_some();
    let commitments: Vec<Date> = store
        .commitment_dates(manager, TREND_RELEASES as i64)
        .await?
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    Ok(trend_chart(&releases, held, &commitments))
}

/// The chart as a picture, with its words. Drawing takes a few milliseconds of CPU, so it runs
/// off the async threads.
pub async fn picture_of(chart: TrendChart) -> anyhow::Result<Picture> {
    let until = chart.latest();
    let alt_text = chart.alt_text();
    let png = tokio::task::spawn_blocking(move || chart_png::render(&chart)).await??;
    Ok(Picture {
        png,
        filename: format!(
            "trust-trend-{}.png",
            until.map(|d| d.to_string()).unwrap_or_default()
        ),
        title: format!(
            "Your team's trust, to {}",
            until.map(short_date).unwrap_or_default()
        ),
        alt_text,
    })
}

/// Draws `manager`'s chart and shares it in their direct message. `Ok(Ok(false))`: no release
/// has numbers yet, so there is nothing to draw.
pub async fn share_chart(
    state: &AppState,
    manager: &str,
    known_channel: Option<String>,
    now: Timestamp,
) -> Delivered<bool> {
    let Some(chart) = trend_of(state, manager).await? else {
        return Ok(Ok(false));
    };
    let shows_until = chart.latest().map(|d| d.to_string()).unwrap_or_default();
    let picture = picture_of(chart).await?;
    let file_id = match state
        .chat
        .share_picture(manager, known_channel, &picture, now)
        .await?
    {
        Ok(file_id) => file_id,
        Err(e) => return Ok(Err(e)),
    };
    let shared = SharedChart {
        file_id,
        alt_text: picture.alt_text,
        shows_until,
    };
    state.store.remember_chart(manager, &shared, now).await?;
    Ok(Ok(true))
}
