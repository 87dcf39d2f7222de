use super::*;
use jiff::civil::date;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn tz(name: &str) -> TimeZone {
    jiff::tz::db().get(name).unwrap()
}

fn cadence(flags: CadenceFlags) -> Cadence {
    let today = date(2026, 11, 23);
    flags
        .apply(&Cadence::builtin_default(today), today)
        .unwrap()
}

fn weekly(weekday: &str, time: &str, zone: &str) -> Cadence {
    cadence(CadenceFlags {
        weekday: Some(weekday.into()),
        time: Some(time.into()),
        tz: Some(zone.into()),
        ..Default::default()
    })
}

#[test]
fn weekly_monday_ten_opens_next_monday_in_the_named_zone() {
    let c = weekly("mon", "10:00", "Europe/Berlin");
    let slot = c.next_slot(&tz("Europe/Berlin"), ts("2026-11-24T12:00:00Z"));
    assert_eq!(slot.date, date(2026, 11, 30));
    assert_eq!(slot.opens_at, ts("2026-11-30T09:00:00Z"));
    // At the very instant, the slot is still "next" (the planner opens it at that tick).
    assert_eq!(c.next_slot(&tz("Europe/Berlin"), slot.opens_at), slot);
    assert_eq!(c.closes_at(slot.opens_at), ts("2026-12-03T09:00:00Z"));
    assert_eq!(c.remind_at(slot.opens_at), ts("2026-12-02T09:00:00Z"));
}

#[test]
fn every_two_weeks_skips_the_off_weeks_counted_from_the_anchor() {
    let c = cadence(CadenceFlags {
        every: Some("2w".into()),
        tz: Some("UTC".into()),
        ..Default::default()
    });
    assert_eq!(c.anchor, date(2026, 11, 23));
    let zone = TimeZone::UTC;
    let first = c.next_slot(&zone, ts("2026-11-23T00:00:00Z"));
    assert_eq!(first.date, date(2026, 11, 23));
    let second = c.next_slot(&zone, first.opens_at + SignedDuration::from_secs(1));
    assert_eq!(second.date, date(2026, 12, 7));
    let third = c.next_slot(&zone, second.opens_at + SignedDuration::from_secs(1));
    assert_eq!(third.date, date(2026, 12, 21));
}

#[test]
fn new_york_spring_gap_opens_when_the_clocks_jump() {
    // 2027-03-14: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    let c = weekly("sun", "02:30", "America/New_York");
    let slot = c.next_slot(&tz("America/New_York"), ts("2027-03-10T00:00:00Z"));
    assert_eq!(slot.date, date(2027, 3, 14));
    assert_eq!(slot.opens_at, ts("2027-03-14T07:00:00Z")); // 03:00 EDT
    // Exactly one opening that day: the next one is a week later at 02:30 EDT.
    let next = c.next_slot(
        &tz("America/New_York"),
        slot.opens_at + SignedDuration::from_secs(1),
    );
    assert_eq!(next.opens_at, ts("2027-03-21T06:30:00Z"));
}

#[test]
fn new_york_autumn_repeat_opens_once_at_the_first_occurrence() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    let zone = tz("America/New_York");
    let c = weekly("sun", "01:30", "America/New_York");
    let slot = c.next_slot(&zone, ts("2026-10-30T00:00:00Z"));
    assert_eq!(slot.opens_at, ts("2026-11-01T05:30:00Z")); // the first 01:30, EDT
    // Between the two 01:30s, and at the second, the next opening is a week later.
    for after in ["2026-11-01T05:30:01Z", "2026-11-01T06:30:00Z"] {
        let next = c.next_slot(&zone, ts(after));
        assert_eq!(next.date, date(2026, 11, 8), "after {after}");
        assert_eq!(next.opens_at, ts("2026-11-08T06:30:00Z"));
    }
}

#[test]
fn berlin_spring_gap_and_autumn_repeat() {
    let zone = tz("Europe/Berlin");
    // 2027-03-28: 02:00 CET jumps to 03:00 CEST.
    let spring = weekly("sun", "02:30", "Europe/Berlin");
    let slot = spring.next_slot(&zone, ts("2027-03-27T00:00:00Z"));
    assert_eq!(slot.opens_at, ts("2027-03-28T01:00:00Z")); // 03:00 CEST
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    let autumn = weekly("sun", "02:30", "Europe/Berlin");
    let slot = autumn.next_slot(&zone, ts("2026-10-24T00:00:00Z"));
    assert_eq!(slot.opens_at, ts("2026-10-25T00:30:00Z")); // first 02:30, CEST
    let next = autumn.next_slot(&zone, ts("2026-10-25T01:30:00Z")); // the second 02:30
    assert_eq!(next.date, date(2026, 11, 1));
}

#[test]
fn seller_cadence_opens_at_ten_in_each_sellers_zone() {
    let c = weekly("mon", "10:00", "seller");
    let now = ts("2026-11-24T00:00:00Z");
    let opens: Vec<(Date, Timestamp)> = ["America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo"]
        .into_iter()
        .map(|name| {
            let slot = c.next_slot(&c.zone.resolve(Some(name)), now);
            (slot.date, slot.opens_at)
        })
        .collect();
    assert_eq!(
        opens,
        vec![
            (date(2026, 11, 30), ts("2026-11-30T18:00:00Z")),
            (date(2026, 11, 30), ts("2026-11-30T09:00:00Z")),
            (date(2026, 11, 30), ts("2026-11-30T01:00:00Z")),
        ]
    );
    // A seller whose Slack zone is unknown is still asked, at 10:00 UTC.
    assert_eq!(c.zone.resolve(Some("Mars/Olympus")), TimeZone::UTC);
}

#[test]
fn seller_cadence_across_a_dst_change_uses_each_sellers_rules() {
    // New York changes on 2027-03-14, Berlin two weeks later: on Monday 2027-03-15 10:00 New
    // York is already UTC-4 while Berlin is still UTC+1.
    let c = weekly("mon", "10:00", "seller");
    let now = ts("2027-03-13T00:00:00Z");
    let ny = c.next_slot(&c.zone.resolve(Some("America/New_York")), now);
    let berlin = c.next_slot(&c.zone.resolve(Some("Europe/Berlin")), now);
    assert_eq!(ny.opens_at, ts("2027-03-15T14:00:00Z"));
    assert_eq!(berlin.opens_at, ts("2027-03-15T09:00:00Z"));
}

#[test]
fn digest_time_is_the_next_weekday_time_in_the_managers_zone() {
    let zone = tz("Asia/Tokyo");
    let at = next_weekly(
        Weekday::Monday,
        Time::constant(9, 0, 0, 0),
        &zone,
        ts("2026-11-23T01:00:00Z"),
    );
    assert_eq!(at, ts("2026-11-30T00:00:00Z"));
}

#[test]
fn bad_values_name_the_flag_and_show_a_good_one() {
    let today = date(2026, 11, 23);
    let base = Cadence::builtin_default(today);
    let cases = [
        (
            CadenceFlags {
                every: Some("0w".into()),
                ..Default::default()
            },
            "every",
            "--every 2w",
        ),
        (
            CadenceFlags {
                every: Some("13w".into()),
                ..Default::default()
            },
            "every",
            "--every 2w",
        ),
        (
            CadenceFlags {
                every: Some("weekly".into()),
                ..Default::default()
            },
            "every",
            "--every 2w",
        ),
        (
            CadenceFlags {
                weekday: Some("funday".into()),
                ..Default::default()
            },
            "weekday",
            "--weekday mon",
        ),
        (
            CadenceFlags {
                time: Some("25:00".into()),
                ..Default::default()
            },
            "time",
            "--time 10:00",
        ),
        (
            CadenceFlags {
                time: Some("10h".into()),
                ..Default::default()
            },
            "time",
            "--time 10:00",
        ),
        (
            CadenceFlags {
                tz: Some("Europe/Atlantis".into()),
                ..Default::default()
            },
            "tz",
            "--tz Europe/Berlin",
        ),
        (
            CadenceFlags {
                open_for: Some("soon".into()),
                ..Default::default()
            },
            "open-for",
            "--open-for 3d",
        ),
        (
            CadenceFlags {
                open_for: Some("7d".into()),
                ..Default::default()
            },
            "open-for",
            "--open-for 3d",
        ),
        (
            CadenceFlags {
                open_for: Some("30m".into()),
                ..Default::default()
            },
            "open-for",
            "--open-for 3d",
        ),
        (
            CadenceFlags {
                remind_after: Some("3d".into()),
                ..Default::default()
            },
            "remind-after",
            "--remind-after 2d",
        ),
        (
            CadenceFlags {
                remind_after: Some("0h".into()),
                ..Default::default()
            },
            "remind-after",
            "--remind-after 2d",
        ),
        (
            CadenceFlags {
                digest_time: Some("9am".into()),
                ..Default::default()
            },
            "digest-time",
            "--digest-time 09:00",
        ),
    ];
    for (flags, flag, example) in cases {
        let err = flags.apply(&base, today).unwrap_err();
        assert_eq!(err.flag, flag, "{flags:?}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("--{flag}: ")), "{message}");
        assert!(message.contains(example), "{message}");
    }
}

#[test]
fn an_override_changes_only_what_it_names() {
    let today = date(2026, 11, 23);
    let base = weekly("tue", "11:30", "Europe/Berlin");
    let changed = CadenceFlags {
        open_for: Some("2d12h".into()),
        ..Default::default()
    }
    .apply(&base, today)
    .unwrap();
    assert_eq!(changed.weekday, Weekday::Tuesday);
    assert_eq!(changed.time, Time::constant(11, 30, 0, 0));
    assert_eq!(changed.open_for, SignedDuration::from_hours(60));
    assert_eq!(format_duration(changed.open_for), "2d12h");
}

#[test]
fn longer_cycles_allow_longer_pulses() {
    let today = date(2026, 11, 23);
    let base = Cadence::builtin_default(today);
    let ok = CadenceFlags {
        every: Some("2w".into()),
        open_for: Some("10d".into()),
        ..Default::default()
    };
    assert_eq!(
        ok.apply(&base, today).unwrap().open_for,
        SignedDuration::from_hours(240)
    );
}
