//! The trend as a picture: what the chart of a team's last releases shows, and the same in
//! words (its alt text). Only released numbers: a window without numbers (it expired under k)
//! and a window held now (still under k) are gaps, never zeros. Drawing it is `chart_png`.

use jiff::civil::Date;

use super::release::Release;
use super::view::TREND_RELEASES;
use crate::survey::Question;

/// One place on the chart's x axis: a release, or the window held now.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// The release's window end; None for the window held now (it has not ended).
    pub date: Option<Date>,
    /// Each question's mean, in [`Question::ALL`] order; None: no numbers (a gap).
    pub means: Option<[f64; Question::COUNT]>,
}

/// A commitment the manager shared, marked at its due date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub due: Date,
    /// Where it sits on the x axis, in slots (fractional between two releases' dates).
    pub x: f64,
}

/// The chart of a team's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendChart {
    /// Oldest first: the last releases, then the held window if there is one.
    pub slots: Vec<Slot>,
    pub marks: Vec<Mark>,
}

/// The chart of `releases` (oldest first; the last [`TREND_RELEASES`] are drawn), with a gap
/// for the window `held` now and `commitments` marked at their due dates. None when no release
/// has numbers: an empty chart says nothing the digest's words do not.
pub fn trend_chart(releases: &[Release], held: bool, commitments: &[Date]) -> Option<TrendChart> {
    let recent = &releases[releases.len().saturating_sub(TREND_RELEASES)..];
    if recent.iter().all(|r| r.result(Question::Care).is_none()) {
        return None;
    }
    let mut slots: Vec<Slot> = recent
        .iter()
        .map(|release| Slot {
            date: release.window_end.parse().ok(),
            means: release
                .result(Question::Care)
                .map(|_| Question::ALL.map(|q| release.result(q).map_or(0.0, |r| r.mean()))),
        })
        .collect();
    if held {
        slots.push(Slot {
            date: None,
            means: None,
        });
    }
    let dated: Vec<(f64, Date)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.date.map(|d| (i as f64, d)))
        .collect();
    let marks = commitments
        .iter()
        .filter_map(|due| {
            Some(Mark {
                due: *due,
                x: place(&dated, *due)?,
            })
        })
        .collect();
    Some(TrendChart { slots, marks })
}

/// Where `date` falls on an axis whose `dated` slots are at known dates: between two of them
/// in proportion to the days, or up to one slot past either end (one more week's spacing).
/// None when it is further out than that: it belongs to another stretch of the trend.
fn place(dated: &[(f64, Date)], date: Date) -> Option<f64> {
    let days = |a: Date, b: Date| (b - a).get_days() as f64;
    let (first, last) = (dated.first()?, dated.last()?);
    let spacing = if dated.len() > 1 {
        (days(first.1, last.1) / (last.0 - first.0)).max(1.0)
    } else {
        7.0
    };
    if date <= first.1 {
        let x = first.0 - days(date, first.1) / spacing;
        return (x >= first.0 - 1.0).then_some(x);
    }
    if date >= last.1 {
        let x = last.0 + days(last.1, date) / spacing;
        return (x <= last.0 + 1.0).then_some(x);
    }
    let after = dated.iter().position(|(_, d)| *d >= date)?;
    let (x0, d0) = dated[after - 1];
    let (x1, d1) = dated[after];
    Some(x0 + (x1 - x0) * days(d0, date) / days(d0, d1).max(1.0))
}

/// "3 Dec": a date on the chart's axis and in its alt text.
pub fn short_date(date: Date) -> String {
    date.strftime("%-d %b").to_string()
}

impl TrendChart {
    /// The chart in words, for screen readers and for anyone whose Slack does not show the
    /// image: every number it draws, every gap and every mark.
    pub fn alt_text(&self) -> String {
        let releases = self.slots.iter().filter(|s| s.date.is_some()).count();
        let mut parts = vec![format!(
            "Trend of your team's last {releases} release{}, each question's average on the 1 to 5 scale, oldest first.",
            if releases == 1 { "" } else { "s" }
        )];
        for question in Question::ALL {
            let values: Vec<String> = self
                .slots
                .iter()
                .map(|slot| match (slot.date, slot.means) {
                    (Some(date), Some(means)) => {
                        format!("{} {:.1}", short_date(date), means[question.index()])
                    }
                    (Some(date), None) => format!("{} no numbers", short_date(date)),
                    (None, _) => "held now".to_owned(),
                })
                .collect();
            parts.push(format!("{}: {}.", question.label(), values.join(", ")));
        }
        if self.slots.iter().any(|s| s.means.is_none()) {
            parts.push(
                "Gaps are windows too few answered to show (under the privacy minimum).".to_owned(),
            );
        }
        if !self.marks.is_empty() {
            let dates: Vec<String> = self.marks.iter().map(|m| short_date(m.due)).collect();
            parts.push(format!("Your commitments were due {}.", dates.join(", ")));
        }
        parts.join(" ")
    }

    /// The latest release the chart shows, as a date.
    pub fn latest(&self) -> Option<Date> {
        self.slots.iter().rev().find_map(|s| s.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::fixtures::{WEEK1, release_of_one_wave};
    use jiff::civil::date;

    fn weeks() -> Vec<Release> {
        vec![
            release_of_one_wave("2026-11-05", WEEK1, &[]),
            release_of_one_wave("2026-11-12", &WEEK1[..3], &[]),
            release_of_one_wave("2026-11-19", WEEK1, &[]),
        ]
    }

    #[test]
    fn no_chart_without_a_number() {
        let short = vec![release_of_one_wave("2026-11-12", &WEEK1[..3], &[])];
        assert_eq!(trend_chart(&short, true, &[]), None);
        assert_eq!(trend_chart(&[], false, &[]), None);
    }

    #[test]
    fn short_and_held_windows_are_gaps_not_zeros() {
        let chart = trend_chart(&weeks(), true, &[]).unwrap();
        let means: Vec<_> = chart.slots.iter().map(|s| s.means.is_some()).collect();
        assert_eq!(means, [true, false, true, false]);
        assert_eq!(chart.slots[3].date, None);
        let alt = chart.alt_text();
        assert!(
            alt.contains("Care: 5 Nov 4.0, 12 Nov no numbers, 19 Nov 4.0, held now."),
            "{alt}"
        );
        assert!(alt.contains("Help: 5 Nov 2.5,"), "{alt}");
        assert!(alt.contains("Gaps are windows too few answered"), "{alt}");
        assert!(
            alt.starts_with("Trend of your team's last 3 releases"),
            "{alt}"
        );
    }

    #[test]
    fn commitments_sit_between_the_releases_around_their_date() {
        let due = [
            date(2026, 11, 8),  // between the first and second release
            date(2026, 11, 26), // a week after the last: one slot on
            date(2026, 12, 30), // far beyond: not on this chart
            date(2026, 10, 1),  // long before: not on this chart
        ];
        let chart = trend_chart(&weeks(), false, &due).unwrap();
        let xs: Vec<f64> = chart.marks.iter().map(|m| m.x).collect();
        assert_eq!(xs.len(), 2, "{xs:?}");
        assert!((xs[0] - 3.0 / 7.0).abs() < 1e-9, "{xs:?}");
        assert!((xs[1] - 3.0).abs() < 1e-9, "{xs:?}");
        assert!(
            chart
                .alt_text()
                .ends_with("Your commitments were due 8 Nov, 26 Nov.")
        );
    }

    #[test]
    fn only_the_last_twelve_releases_are_drawn() {
        let releases: Vec<Release> = (1..=15)
            .map(|d| release_of_one_wave(&format!("2026-10-{d:02}"), WEEK1, &[]))
            .collect();
        let chart = trend_chart(&releases, false, &[]).unwrap();
        assert_eq!(chart.slots.len(), TREND_RELEASES);
        assert_eq!(chart.slots[0].date, Some(date(2026, 10, 4)));
        assert_eq!(chart.latest(), Some(date(2026, 10, 15)));
    }
}
