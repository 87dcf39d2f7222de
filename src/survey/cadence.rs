//! How often a team is asked, and when exactly a pulse opens.
//!
//! A cadence is "every N weeks, on a weekday, at a local time, in a time zone", where the zone is
//! either one IANA name for the whole team or `seller`: each seller is asked at that local time in
//! their own Slack time zone. Slots are identified by their civil date (the `period` of a wave),
//! so one slot is one wave whatever the zones.
//!
//! Daylight saving: a local time that does not exist (the spring gap) opens at the first valid
//! instant after the gap, i.e. when the clocks jump; a local time that happens twice (the autumn
//! repeat) opens at its first occurrence only.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp, Unit};

/// The longest cycle we allow between pulses: beyond a quarter, trust data is stale.
pub const MAX_EVERY_WEEKS: u8 = 12;

/// Where the local time of a cadence is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// Each seller's own Slack time zone.
    Seller,
    /// One IANA zone for the whole team (validated to exist).
    Named(String),
}

impl Zone {
    pub fn parse(text: &str) -> Result<Zone, String> {
        if text.eq_ignore_ascii_case("seller") {
            return Ok(Zone::Seller);
        }
        jiff::tz::db()
            .get(text)
            .map(|_| Zone::Named(text.to_owned()))
            .map_err(|_| format!("'{text}' is not a known IANA time zone"))
    }

    /// The time zone to use for one person, whose Slack zone is `person_tz`. Unknown or missing
    /// Slack zones fall back to UTC rather than skipping the person.
    pub fn resolve(&self, person_tz: Option<&str>) -> TimeZone {
        let name = match self {
            Zone::Named(name) => Some(name.as_str()),
            Zone::Seller => person_tz,
        };
        name.and_then(|name| jiff::tz::db().get(name).ok())
            .unwrap_or(TimeZone::UTC)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Seller => f.write_str("seller"),
            Zone::Named(name) => f.write_str(name),
        }
    }
}

/// A validated cadence. Build one with [`CadenceFlags::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence {
    pub every_weeks: u8,
    pub weekday: Weekday,
    pub time: Time,
    pub zone: Zone,
    pub open_for: SignedDuration,
    pub remind_after: SignedDuration,
    pub digest_weekday: Weekday,
    pub digest_time: Time,
    /// Monday of the week the cycle counts from: pulses fall in weeks 0, N, 2N… after it.
    pub anchor: Date,
}

/// One slot of a cadence: the civil date that names the wave, and when it opens in one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub date: Date,
    pub opens_at: Timestamp,
}

impl Cadence {
    /// The built-in org default, used until HR sets one: weekly on Monday at 10:00 in each
    /// seller's zone, open three days, a reminder after two, digest Monday 09:00.
    pub fn builtin_default(today: Date) -> Cadence {
        Cadence {
            every_weeks: 1,
            weekday: Weekday::Monday,
            time: Time::constant(10, 0, 0, 0),
            zone: Zone::Seller,
            open_for: SignedDuration::from_hours(72),
            remind_after: SignedDuration::from_hours(48),
            digest_weekday: Weekday::Monday,
            digest_time: Time::constant(9, 0, 0, 0),
            anchor: monday_of(today),
        }
    }

    /// The first slot date on or after `date`.
    pub fn slot_on_or_after(&self, date: Date) -> Date {
        let mut day = date;
        loop {
            if day.weekday() == self.weekday && self.is_active_week(day) {
                return day;
            }
            day = day.tomorrow().expect("dates stay far from jiff's limits");
        }
    }

    fn is_active_week(&self, day: Date) -> bool {
        let weeks = days_between(self.anchor, monday_of(day)).div_euclid(7);
        weeks.rem_euclid(i64::from(self.every_weeks)) == 0
    }

    /// When the slot on `date` opens in `tz`, with the DST rules of this module.
    pub fn opening_at(&self, date: Date, tz: &TimeZone) -> Timestamp {
        local_instant(date.to_datetime(self.time), tz)
    }

    /// The next slot whose opening in `tz` is at or after `now`.
    pub fn next_slot(&self, tz: &TimeZone, now: Timestamp) -> Slot {
        // Start a day early: a slot moved by a DST gap can open on the following local day.
        let today = tz.to_datetime(now).date();
        let mut date = self.slot_on_or_after(today.yesterday().expect("sane date"));
        loop {
            let opens_at = self.opening_at(date, tz);
            if opens_at >= now {
                return Slot { date, opens_at };
            }
            date = self.slot_on_or_after(date.tomorrow().expect("sane date"));
        }
    }

    pub fn closes_at(&self, opens_at: Timestamp) -> Timestamp {
        opens_at + self.open_for
    }

    pub fn remind_at(&self, opens_at: Timestamp) -> Timestamp {
        opens_at + self.remind_after
    }

    /// One line a person can read: "every week on mon at 10:00 (each seller's time zone, …), …".
    pub fn describe(&self) -> String {
        let every = match self.every_weeks {
            1 => "every week".to_owned(),
            n => format!("every {n} weeks"),
        };
        let zone = match &self.zone {
            // Invitations go out at least k at a time (`privacy::invitation_groups`).
            Zone::Seller => {
                "each seller's time zone, or a later zone's when too few of the team share it"
                    .to_owned()
            }
            Zone::Named(name) => name.clone(),
        };
        format!(
            "{every} on {} at {} ({zone}), open for {}, reminder after {}; digest {} at {} (manager's time zone)",
            weekday_name(self.weekday),
            format_time(self.time),
            format_duration(self.open_for),
            format_duration(self.remind_after),
            weekday_name(self.digest_weekday),
            format_time(self.digest_time),
        )
    }
}

/// The next instant at or after `now` that is `weekday` at `time` in `tz`, e.g. a digest time.
pub fn next_weekly(weekday: Weekday, time: Time, tz: &TimeZone, now: Timestamp) -> Timestamp {
    let mut date = tz.to_datetime(now).date().yesterday().expect("sane date");
    loop {
        if date.weekday() == weekday {
            let at = local_instant(date.to_datetime(time), tz);
            if at >= now {
                return at;
            }
        }
        date = date.tomorrow().expect("sane date");
    }
}

/// A local date-time as an instant: in a gap, the moment the clocks jump (the first valid
/// instant after the requested time); in a fold, the first occurrence.
pub fn local_instant(local: DateTime, tz: &TimeZone) -> Timestamp {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local),
        AmbiguousOffset::Gap { after, .. } => after.to_timestamp(local).map(|guess| {
            // Read with the post-gap offset, the local time lies before the jump; the jump
            // itself is the next transition.
            tz.following(guess)
                .next()
                .map(|transition| transition.timestamp())
                .unwrap_or(guess)
        }),
    }
    .expect("cadence instants stay far from jiff's limits")
}

pub fn monday_of(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(Span::new().days(back)).expect("sane date")
}

fn days_between(from: Date, to: Date) -> i64 {
    i64::from(from.until(to).expect("sane dates").get_days())
}

/// `cadence set` as typed by a person (CLI or Slack modal): every field optional, so a change
/// can name only what changes. Errors name the flag and show a good value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CadenceFlags {
    pub every: Option<String>,
    pub weekday: Option<String>,
    pub time: Option<String>,
    pub tz: Option<String>,
    pub open_for: Option<String>,
    pub remind_after: Option<String>,
    pub digest_weekday: Option<String>,
    pub digest_time: Option<String>,
}

/// A bad cadence value: which flag, what was wrong, and an example of a good value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{flag}: {problem} (for example: --{flag} {example})")]
pub struct CadenceError {
    pub flag: &'static str,
    pub problem: String,
    pub example: &'static str,
}

impl CadenceError {
    fn new(flag: &'static str, problem: impl Into<String>, example: &'static str) -> Self {
        CadenceError {
            flag,
            problem: problem.into(),
            example,
        }
    }
}

impl CadenceFlags {
    /// Applies these flags on top of `base` and validates the result as a whole. When the cycle
    /// length or weekday changes, the cycle restarts from the week of `today`.
    pub fn apply(&self, base: &Cadence, today: Date) -> Result<Cadence, CadenceError> {
        let mut cadence = base.clone();
        if let Some(every) = &self.every {
            cadence.every_weeks = parse_every(every)?;
        }
        if let Some(weekday) = &self.weekday {
            cadence.weekday = parse_weekday(weekday).ok_or_else(|| {
                CadenceError::new(
                    "weekday",
                    format!("'{weekday}' is not a day of the week"),
                    "mon",
                )
            })?;
        }
        if let Some(time) = &self.time {
            cadence.time = parse_time(time).map_err(|p| CadenceError::new("time", p, "10:00"))?;
        }
        if let Some(tz) = &self.tz {
            cadence.zone = Zone::parse(tz).map_err(|p| {
                CadenceError::new(
                    "tz",
                    format!("{p}; use 'seller' for each seller's own zone"),
                    "Europe/Berlin",
                )
            })?;
        }
        if let Some(open_for) = &self.open_for {
            cadence.open_for =
                parse_duration(open_for).map_err(|p| CadenceError::new("open-for", p, "3d"))?;
        }
        if let Some(remind_after) = &self.remind_after {
            cadence.remind_after = parse_duration(remind_after)
                .map_err(|p| CadenceError::new("remind-after", p, "2d"))?;
        }
        if let Some(weekday) = &self.digest_weekday {
            cadence.digest_weekday = parse_weekday(weekday).ok_or_else(|| {
                CadenceError::new(
                    "digest-weekday",
                    format!("'{weekday}' is not a day of the week"),
                    "mon",
                )
            })?;
        }
        if let Some(time) = &self.digest_time {
            cadence.digest_time =
                parse_time(time).map_err(|p| CadenceError::new("digest-time", p, "09:00"))?;
        }
        if cadence.every_weeks != base.every_weeks || cadence.weekday != base.weekday {
            cadence.anchor = monday_of(today);
        }
        validate(&cadence)?;
        Ok(cadence)
    }
}

fn validate(cadence: &Cadence) -> Result<(), CadenceError> {
    let hour = SignedDuration::from_hours(1);
    // A day of slack between one pulse's close and the next one's opening, so that waves of a
    // team never overlap even when sellers sit in zones a day apart.
    let longest = SignedDuration::from_hours(24 * (7 * i64::from(cadence.every_weeks) - 1));
    if cadence.open_for < hour {
        return Err(CadenceError::new(
            "open-for",
            "a pulse must stay open at least 1 hour",
            "3d",
        ));
    }
    if cadence.open_for > longest {
        return Err(CadenceError::new(
            "open-for",
            format!(
                "a pulse every {} week(s) can stay open at most {} days, so that it closes a day before the next one opens",
                cadence.every_weeks,
                longest.as_hours() / 24
            ),
            "3d",
        ));
    }
    if cadence.remind_after <= SignedDuration::ZERO || cadence.remind_after >= cadence.open_for {
        return Err(CadenceError::new(
            "remind-after",
            format!(
                "the reminder must come after the pulse opens and before it closes (it is open for {})",
                format_duration(cadence.open_for)
            ),
            "2d",
        ));
    }
    Ok(())
}

fn parse_every(text: &str) -> Result<u8, CadenceError> {
    let bad = || {
        CadenceError::new(
            "every",
            format!("'{text}' is not a number of weeks from 1 to {MAX_EVERY_WEEKS}"),
            "2w",
        )
    };
    let digits = text.trim().strip_suffix(['w', 'W']).ok_or_else(bad)?;
    match digits.parse::<u8>() {
        Ok(n) if (1..=MAX_EVERY_WEEKS).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

pub fn parse_weekday(text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    let days = [
        ("mon", "monday", Weekday::Monday),
        ("tue", "tuesday", Weekday::Tuesday),
        ("wed", "wednesday", Weekday::Wednesday),
        ("thu", "thursday", Weekday::Thursday),
        ("fri", "friday", Weekday::Friday),
        ("sat", "saturday", Weekday::Saturday),
        ("sun", "sunday", Weekday::Sunday),
    ];
    days.iter()
        .find(|(short, long, _)| lower == *short || lower == *long)
        .map(|(_, _, day)| *day)
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// `HH:MM`, 24-hour clock.
pub fn parse_time(text: &str) -> Result<Time, String> {
    let bad = || format!("'{text}' is not a time of day as HH:MM on a 24-hour clock");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let hour: i8 = h.parse().map_err(|_| bad())?;
    let minute: i8 = m.parse().map_err(|_| bad())?;
    Time::new(hour, minute, 0, 0).map_err(|_| bad())
}

pub fn format_time(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// A length of time such as `3d`, `36h`, `2d 12h` or `90m` (jiff's friendly format); a day is
/// counted as 24 hours.
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let bad = || format!("'{text}' is not a length of time such as 3d, 36h or 2d12h");
    let span = Span::from_str(text.trim()).map_err(|_| bad())?;
    let seconds = span
        .total((Unit::Second, SpanRelativeTo::days_are_24_hours()))
        .map_err(|_| bad())?;
    if !seconds.is_finite() || seconds.fract() != 0.0 {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(seconds as i64))
}

/// The inverse of [`parse_duration`] for display: `3d`, `1d12h`, `90m`.
pub fn format_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs();
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let minutes = rest / 60;
    let mut out = String::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
        if n != 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0m".to_owned() } else { out }
}

#[cfg(test)]
#[path = "cadence_tests.rs"]
mod tests;
