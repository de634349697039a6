//! Time periods and tiers at fixed instants: days, boundaries, midnight, holidays, zones, the
//! DST days of Europe/London and America/New_York, parse errors, and a property test of
//! `next_change`.

use std::collections::BTreeMap;

use jiff::civil::date;
use proptest::prelude::*;
use serde::Deserialize;

use super::*;
use crate::level::{Level, LevelThresholds};

/// An instant written in UTC: `2026-03-29T01:00:00Z`.
fn utc(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse::<jiff::Timestamp>().unwrap())
}

/// A wall-clock time in a zone (never a DST-ambiguous one in these tests).
fn local(text: &str, zone: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = text.parse().unwrap();
    Timestamp::from_jiff(dt.in_tz(zone).unwrap().timestamp())
}

fn period(text: &str) -> TimePeriod {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn parse_error(text: &str) -> String {
    text.parse::<TimePeriod>()
        .expect_err(&format!("{text:?} should not parse"))
        .to_string()
}

const LONDON: &str = "Europe/London";
const NEW_YORK: &str = "America/New_York";

#[test]
fn business_hours_hold_on_weekdays_not_weekends() {
    let p = period("weekdays 08:00-18:00 Europe/London");
    assert!(
        p.contains(local("2026-06-10T12:00", LONDON)),
        "Wednesday noon"
    );
    assert!(
        !p.contains(local("2026-06-13T12:00", LONDON)),
        "Saturday noon"
    );
    assert!(
        !p.contains(local("2026-06-14T12:00", LONDON)),
        "Sunday noon"
    );
    assert!(
        !p.contains(local("2026-06-10T20:00", LONDON)),
        "Wednesday evening"
    );
    let weekend = period("sat-sun");
    assert!(weekend.contains(local("2026-06-13T00:00", "UTC")));
    assert!(!weekend.contains(local("2026-06-12T23:59:59.999", "UTC")));
    assert_eq!(period("weekends"), weekend);
}

#[test]
fn start_is_inside_and_end_is_outside() {
    let p = period("weekdays 08:00-18:00 Europe/London");
    assert!(p.contains(local("2026-06-10T08:00", LONDON)));
    assert!(!p.contains(local("2026-06-10T07:59:59.999", LONDON)));
    assert!(p.contains(local("2026-06-10T17:59:59.999", LONDON)));
    assert!(!p.contains(local("2026-06-10T18:00", LONDON)));
    assert_eq!(
        p.next_change(local("2026-06-10T12:00", LONDON)),
        Some(local("2026-06-10T18:00", LONDON))
    );
    assert_eq!(
        p.next_change(local("2026-06-12T18:00", LONDON)),
        Some(local("2026-06-15T08:00", LONDON)),
        "Friday evening changes next on Monday morning"
    );
}

#[test]
fn the_same_wall_clock_is_a_different_instant_in_each_zone() {
    let london = period("weekdays 08:00-18:00 Europe/London");
    // 08:00 BST is 07:00 UTC in summer; 08:00 GMT is 08:00 UTC in winter.
    assert!(london.contains(utc("2026-06-10T07:00:00Z")));
    assert!(!london.contains(utc("2026-06-10T06:59:59Z")));
    assert!(!london.contains(utc("2026-01-07T07:30:00Z")));
    assert!(london.contains(utc("2026-01-07T08:00:00Z")));
    let ny = period("mon-fri 09:00-17:30 America/New_York");
    assert!(ny.contains(utc("2026-01-05T14:00:00Z")), "09:00 EST");
    assert!(ny.contains(utc("2026-01-05T22:29:59Z")));
    assert!(!ny.contains(utc("2026-01-05T22:30:00Z")), "17:30 EST");
    // Monday 02:00 UTC is still Sunday evening in New York.
    assert!(!period("mon America/New_York").contains(utc("2026-01-05T02:00:00Z")));
    assert!(period("UTC mon").contains(utc("2026-01-05T02:00:00Z")));
}

#[test]
fn ranges_crossing_midnight_belong_to_the_day_they_start() {
    let nightly = period("daily 22:00-06:00");
    assert!(nightly.contains(utc("2026-06-10T23:00:00Z")));
    assert!(nightly.contains(utc("2026-06-11T05:59:59Z")));
    assert!(!nightly.contains(utc("2026-06-11T06:00:00Z")));
    assert!(!nightly.contains(utc("2026-06-11T21:59:59Z")));
    assert_eq!(
        nightly.next_change(utc("2026-06-10T23:00:00Z")),
        Some(utc("2026-06-11T06:00:00Z"))
    );
    let friday_night = period("fri 22:00-06:00");
    assert!(friday_night.contains(utc("2026-06-12T23:00:00Z")), "Friday");
    assert!(
        friday_night.contains(utc("2026-06-13T05:00:00Z")),
        "Saturday"
    );
    assert!(
        !friday_night.contains(utc("2026-06-13T22:30:00Z")),
        "Saturday night"
    );
    assert!(
        !friday_night.contains(utc("2026-06-12T05:00:00Z")),
        "Thursday's night"
    );
}

#[test]
fn midnight_as_end_of_day() {
    let evening = period("mon 18:00-24:00");
    assert!(evening.contains(utc("2026-06-08T23:59:59.999Z")));
    assert!(!evening.contains(utc("2026-06-09T00:00:00Z")));
    assert_eq!(
        evening.next_change(utc("2026-06-08T20:00:00Z")),
        Some(utc("2026-06-09T00:00:00Z"))
    );
    assert_eq!(
        period("daily 00:00-24:00").next_change(utc("2026-06-08T20:00:00Z")),
        None
    );
}

#[test]
fn holidays_are_taken_out() {
    // 2026-12-25 is a Friday and 2026-12-28 a Monday.
    let p = period("weekdays 08:00-18:00 Europe/London except 2026-12-25, 2026-12-28");
    assert!(p.contains(local("2026-12-24T10:00", LONDON)));
    assert!(!p.contains(local("2026-12-25T10:00", LONDON)));
    assert!(!p.contains(local("2026-12-28T10:00", LONDON)));
    assert_eq!(
        p.next_change(local("2026-12-24T18:00", LONDON)),
        Some(local("2026-12-29T08:00", LONDON)),
        "the next business day after Christmas Eve is Tuesday the 29th"
    );
    let range = period("daily except 2026-12-24..2026-12-26");
    assert!(range.contains(utc("2026-12-23T23:59:59Z")));
    assert!(!range.contains(utc("2026-12-26T12:00:00Z")));
    assert_eq!(
        range.next_change(utc("2026-12-24T00:00:00Z")),
        Some(utc("2026-12-27T00:00:00Z"))
    );
}

#[test]
fn exceptions_take_the_zone_of_their_period_unless_they_name_one() {
    // 23:30 UTC on 30 June is 00:30 BST on 1 July, the holiday.
    let london = period("daily Europe/London except 2026-07-01");
    assert!(!london.contains(utc("2026-06-30T23:30:00Z")));
    assert!(london.contains(utc("2026-06-30T22:59:59Z")));
    let mixed = period("daily Europe/London except 2026-07-01 America/New_York");
    assert!(
        mixed.contains(utc("2026-07-01T02:00:00Z")),
        "still 30 June in New York"
    );
    assert!(!mixed.contains(utc("2026-07-01T04:00:00Z")));
}

#[test]
fn months_and_dates_constrain_the_day() {
    let winter = period("nov-feb");
    assert!(winter.contains(utc("2026-01-15T12:00:00Z")));
    assert!(winter.contains(utc("2026-11-01T00:00:00Z")));
    assert!(!winter.contains(utc("2026-03-01T00:00:00Z")));
    assert_eq!(
        winter.next_change(utc("2026-01-15T12:00:00Z")),
        Some(utc("2026-03-01T00:00:00Z"))
    );
    let once = period("2027-06-01 09:00-10:00");
    assert_eq!(
        once.next_change(utc("2026-01-01T00:00:00Z")),
        Some(utc("2027-06-01T09:00:00Z")),
        "a date well over a year ahead is still found"
    );
    assert_eq!(
        period("2020-01-01").next_change(utc("2026-01-01T00:00:00Z")),
        None
    );
    assert_eq!(
        period("daily").next_change(utc("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn london_spring_forward_reads_the_wall_clock() {
    // 2026-03-29: at 01:00 UTC the clocks go from 01:00 GMT to 02:00 BST.
    let business = period("daily 08:00-18:00 Europe/London");
    assert!(
        !business.contains(utc("2026-03-28T07:30:00Z")),
        "07:30 GMT on Saturday"
    );
    assert!(
        business.contains(utc("2026-03-29T07:30:00Z")),
        "08:30 BST on Sunday"
    );
    assert_eq!(
        business.next_change(utc("2026-03-28T18:00:00Z")),
        Some(utc("2026-03-29T07:00:00Z"))
    );
    // A range starting inside the skipped hour starts at the first instant after the gap.
    let skipped = period("daily 01:30-03:00 Europe/London");
    assert!(!skipped.contains(utc("2026-03-29T00:59:59.999Z")));
    assert!(skipped.contains(utc("2026-03-29T01:00:00Z")));
    assert_eq!(
        skipped.next_change(utc("2026-03-29T00:30:00Z")),
        Some(utc("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        skipped.next_change(utc("2026-03-29T01:00:00Z")),
        Some(utc("2026-03-29T02:00:00Z")),
        "ends at 03:00 BST"
    );
    // A range ending inside the gap ends at the gap.
    let early = period("daily 00:00-01:30 Europe/London");
    assert_eq!(
        early.next_change(utc("2026-03-29T00:00:00Z")),
        Some(utc("2026-03-29T01:00:00Z"))
    );
}

#[test]
fn london_fall_back_covers_both_repeated_hours() {
    // 2026-10-25: at 01:00 UTC the clocks go from 02:00 BST back to 01:00 GMT.
    let repeated = period("daily 01:00-02:00 Europe/London");
    assert!(!repeated.contains(utc("2026-10-24T23:59:59Z")), "00:59 BST");
    assert!(repeated.contains(utc("2026-10-25T00:00:00Z")), "01:00 BST");
    assert!(repeated.contains(utc("2026-10-25T01:30:00Z")), "01:30 GMT");
    assert!(!repeated.contains(utc("2026-10-25T02:00:00Z")), "02:00 GMT");
    assert_eq!(
        repeated.next_change(utc("2026-10-24T12:00:00Z")),
        Some(utc("2026-10-25T00:00:00Z"))
    );
    assert_eq!(
        repeated.next_change(utc("2026-10-25T00:00:00Z")),
        Some(utc("2026-10-25T02:00:00Z")),
        "two real hours, no flip at the transition"
    );
    // A range ending inside the repeated hour is met twice by the wall clock.
    let early = period("daily 00:00-01:30 Europe/London");
    let steps = [
        "2026-10-24T23:00:00Z", // 00:00 BST: in
        "2026-10-25T00:30:00Z", // 01:30 BST: out
        "2026-10-25T01:00:00Z", // 01:00 GMT: in again
        "2026-10-25T01:30:00Z", // 01:30 GMT: out
    ];
    for pair in steps.windows(2) {
        assert_eq!(
            early.next_change(utc(pair[0])),
            Some(utc(pair[1])),
            "after {}",
            pair[0]
        );
    }
}

#[test]
fn new_york_dst_days() {
    // 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
    let skipped = period("daily 02:30-04:00 America/New_York");
    assert!(!skipped.contains(utc("2026-03-08T06:59:59Z")));
    assert!(skipped.contains(utc("2026-03-08T07:00:00Z")));
    assert_eq!(
        skipped.next_change(utc("2026-03-08T05:00:00Z")),
        Some(utc("2026-03-08T07:00:00Z"))
    );
    assert_eq!(
        skipped.next_change(utc("2026-03-08T07:00:00Z")),
        Some(utc("2026-03-08T08:00:00Z"))
    );
    // 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00 UTC.
    let repeated = period("daily 01:00-02:00 America/New_York");
    assert!(repeated.contains(utc("2026-11-01T05:00:00Z")), "01:00 EDT");
    assert!(!repeated.contains(local("2026-11-01T00:59:59", NEW_YORK)));
    assert!(repeated.contains(utc("2026-11-01T06:30:00Z")), "01:30 EST");
    assert_eq!(
        repeated.next_change(utc("2026-11-01T05:00:00Z")),
        Some(utc("2026-11-01T07:00:00Z"))
    );
    let business = period("weekdays 09:00-17:00 America/New_York");
    assert_eq!(
        business.next_change(utc("2026-11-02T00:00:00Z")),
        Some(utc("2026-11-02T14:00:00Z")),
        "09:00 EST on the Monday after the change"
    );
}

#[test]
fn a_year_of_next_change_visits_every_business_day_once() {
    let p = period("weekdays 08:00-18:00 Europe/London except 2026-12-25");
    let start = utc("2026-01-01T00:00:00Z");
    let end = utc("2027-01-01T00:00:00Z");
    let mut t = start;
    let mut inside = p.contains(t);
    let mut changes = 0;
    while let Some(next) = p.next_change(t) {
        assert!(next > t, "next_change must move forward");
        if next >= end {
            break;
        }
        assert_ne!(p.contains(next), inside, "flips at {next}");
        inside = !inside;
        t = next;
        changes += 1;
    }
    let mut business_days = 0;
    let mut day = date(2026, 1, 1);
    while day.year() == 2026 {
        if day.weekday().to_monday_zero_offset() < 5 && day != date(2026, 12, 25) {
            business_days += 1;
        }
        day = day.tomorrow().unwrap();
    }
    assert_eq!(changes, 2 * business_days);
}

#[test]
fn bad_words_are_named_with_what_is_accepted() {
    let err = parse_error("mon-fry 08:00-18:00");
    assert!(err.contains("'fry'") && err.contains("mon-fri"), "{err}");
    let err = parse_error("weekdays 25:00-26:00");
    assert!(err.contains("'25:00'") && err.contains("00 to 23"), "{err}");
    let err = parse_error("weekdays 08:00-18:00 Europe/Lundon");
    assert!(err.contains("unknown time zone 'Europe/Lundon'"), "{err}");
    let err = parse_error("weekdayz 08:00-18:00");
    assert!(
        err.contains("'weekdayz'") && err.contains("Europe/London"),
        "{err}"
    );
    let err = parse_error("24:00-08:00");
    assert!(err.contains("end of a range"), "{err}");
    let err = parse_error("08:00-08:00");
    assert!(err.contains("empty"), "{err}");
    let err = parse_error("08:00-18:60");
    assert!(err.contains("'18:60'"), "{err}");
    let err = parse_error("8-18");
    assert!(err.contains("'8-18' is neither a time range"), "{err}");
    assert!(
        parse_error("1é2é").contains("'1é2é'"),
        "no panic on non-ASCII"
    );
    let err = parse_error("2026-02-30");
    assert!(err.contains("'2026-02-30'"), "{err}");
    let err = parse_error("2026-12-26..2026-12-24");
    assert!(err.contains("ends before it starts"), "{err}");
    let err = parse_error("daily UTC Europe/London");
    assert!(err.contains("two time zones"), "{err}");
    assert!(parse_error("").contains("empty"));
    assert!(parse_error("except 2026-12-25").contains("before `except`"));
}

#[test]
fn display_is_the_one_line_form_and_parses_back() {
    for text in [
        "mon-fri 08:00-18:00 Europe/London",
        "sat,sun",
        "mon,wed,fri 09:00-12:00,13:00-17:30 America/New_York",
        "daily 22:00-06:00",
        "mon nov-feb",
        "fri-mon jun,aug",
        "2026-12-24..2026-12-26 10:00:30-24:00",
        "mon-fri 08:00-18:00 Europe/London except 2026-12-25 Europe/London",
    ] {
        let p = period(text);
        assert_eq!(p.to_string(), text);
        assert_eq!(period(&p.to_string()), p);
    }
    assert_eq!(period("weekdays").to_string(), "mon-fri");
    assert_eq!(period("Europe/London").to_string(), "daily Europe/London");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Holder {
    period: TimePeriod,
}

fn from_toml(text: &str) -> Result<TimePeriod, String> {
    toml::from_str::<Holder>(text)
        .map(|h| h.period)
        .map_err(|e| e.to_string())
}

#[test]
fn table_form_means_the_same_as_one_line() {
    let table = from_toml(
        r#"
        [period]
        weekdays = ["mon-fri"]
        times = ["08:00-18:00"]
        time_zone = "Europe/London"
        except = ["2026-12-25", { dates = ["2026-12-28"] }]
        "#,
    )
    .unwrap();
    assert_eq!(
        table,
        period("mon-fri 08:00-18:00 Europe/London except 2026-12-25 except 2026-12-28")
    );
    let line = from_toml(r#"period = "sat-sun 10:00-12:00""#).unwrap();
    assert_eq!(line, period("weekends 10:00-12:00"));
    assert_eq!(from_toml("[period]").unwrap(), TimePeriod::always());
}

#[test]
fn table_form_errors_name_the_key_and_the_word() {
    let err = from_toml("[period]\ndays = [\"mon\"]").unwrap_err();
    assert!(err.contains("days") && err.contains("weekdays"), "{err}");
    let err = from_toml("[period]\nweekdays = [\"funday\"]").unwrap_err();
    assert!(
        err.contains("weekdays") && err.contains("'funday'"),
        "{err}"
    );
    let err = from_toml("[period]\ntime_zone = \"Mars/Olympus\"").unwrap_err();
    assert!(
        err.contains("time_zone") && err.contains("Mars/Olympus"),
        "{err}"
    );
    let err = from_toml("[period]\nexcept = [\"2026-13-01\"]").unwrap_err();
    assert!(
        err.contains("except[0]") && err.contains("2026-13-01"),
        "{err}"
    );
    let err = from_toml("period = 5").unwrap_err();
    assert!(err.contains("weekdays 08:00-18:00"), "{err}");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[allow(dead_code)] // read by the rule engine, here only to show the shape
    expr: String,
    when: Tiered<LevelThresholds>,
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    rule: BTreeMap<String, Rule>,
}

const CHECKOUT: &str = r#"
[rule.checkout_latency]
expr = "checkout_latency_seconds"
[[rule.checkout_latency.when]]
during = "weekdays 08:00-18:00 Europe/London"
critical = 4.0
[[rule.checkout_latency.when]]
critical = 10.0   # otherwise
"#;

#[test]
fn thresholds_follow_business_hours() {
    let file: RuleFile = toml::from_str(CHECKOUT).unwrap();
    let when = &file.rule["checkout_latency"].when;
    let office = local("2026-06-10T10:00", LONDON);
    let night = local("2026-06-10T20:00", LONDON);
    let level = |ts, v| when.at(ts).and_then(|t: &LevelThresholds| t.level_for(v));
    assert_eq!(level(office, 5.0), Some(Level::Critical));
    assert_eq!(level(night, 5.0), None);
    assert_eq!(level(night, 11.0), Some(Level::Critical));
    assert_eq!(when.tier_at(night).map(|(i, _)| i), Some(1));
    assert_eq!(
        when.next_change(office),
        Some(local("2026-06-10T18:00", LONDON))
    );
}

#[test]
fn tier_errors_are_clear() {
    let typo = CHECKOUT.replace("critical = 4.0", "critcal = 4.0");
    let err = toml::from_str::<RuleFile>(&typo).unwrap_err().to_string();
    assert!(err.contains("critcal"), "{err}");
    let bad = CHECKOUT.replace("08:00-18:00", "08:00-25:00");
    let err = toml::from_str::<RuleFile>(&bad).unwrap_err().to_string();
    assert!(err.contains("'25:00'"), "{err}");
    let misordered = r#"
[rule.x]
expr = "x"
[[rule.x.when]]
critical = 10.0
[[rule.x.when]]
during = "weekdays"
critical = 4.0
"#;
    let err = toml::from_str::<RuleFile>(misordered)
        .unwrap_err()
        .to_string();
    assert!(err.contains("move it last"), "{err}");
    let empty = "[rule.x]\nexpr = \"x\"\nwhen = []";
    let err = toml::from_str::<RuleFile>(empty).unwrap_err().to_string();
    assert!(err.contains("at least one"), "{err}");
}

#[test]
fn tiers_without_otherwise_give_nothing_outside_their_periods() {
    let tiers = Tiered::new(vec![Tier {
        during: Some(period("sat-sun")),
        value: 1,
    }])
    .unwrap();
    assert_eq!(tiers.at(utc("2026-06-13T12:00:00Z")), Some(&1));
    assert_eq!(tiers.at(utc("2026-06-10T12:00:00Z")), None);
    assert_eq!(
        Tiered::constant(7).at(utc("2026-06-10T12:00:00Z")),
        Some(&7)
    );
}

/// Periods the property test draws from: DST zones, midnight crossings, holidays, months.
const SAMPLES: [&str; 8] = [
    "weekdays 08:00-18:00 Europe/London except 2026-12-25",
    "daily 01:00-02:00 Europe/London",
    "daily 00:30-01:30 America/New_York",
    "daily 22:00-06:00 Asia/Tokyo",
    "fri 23:00-02:30 America/New_York",
    "nov-feb sat-sun 09:00-17:00 Australia/Sydney",
    "daily 02:15-02:45 Europe/London except sun",
    "2026-03-29..2026-03-30 01:30-03:00 Europe/London",
];

/// DST changes of 2026 in the sampled zones, where mistakes hide: London, New York, Sydney.
const DST_CHANGES: [&str; 6] = [
    "2026-03-29T01:00:00Z",
    "2026-10-25T01:00:00Z",
    "2026-03-08T07:00:00Z",
    "2026-11-01T06:00:00Z",
    "2026-04-04T16:00:00Z",
    "2026-10-03T16:00:00Z",
];

/// Instants anywhere in 2025-2027, or within four hours of a DST change.
fn instants() -> impl Strategy<Value = i64> {
    prop_oneof![
        1_735_689_600_000i64..1_830_297_600_000i64,
        (0..DST_CHANGES.len(), -14_400_000i64..14_400_000i64).prop_map(|(i, offset)| utc(
            DST_CHANGES[i]
        )
        .as_millis()
            + offset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// For any instant the answer holds until `next_change` and flips exactly there.
    #[test]
    fn answer_is_constant_until_next_change_and_flips_there(
        start in instants(),
        fractions in proptest::collection::vec(0.0f64..1.0, 12),
    ) {
        let t = Timestamp(start);
        for (which, text) in SAMPLES.iter().enumerate() {
            let p = period(text);
            let inside = p.contains(t);
            let Some(next) = p.next_change(t) else {
                prop_assert!(which == 7, "only the dated period stops changing: {}", text);
                continue;
            };
            prop_assert!(next > t);
            prop_assert_ne!(p.contains(next), inside, "{} flips at {}", text, next);
            prop_assert_eq!(p.contains(next.plus_millis(-1)), inside, "{}", text);
            let span = next.millis_since(t) - 1;
            for f in &fractions {
                let probe = t.plus_millis((span as f64 * f) as i64);
                prop_assert_eq!(p.contains(probe), inside, "{} at {} before {}", text, probe, next);
            }
        }
    }
}

proptest! {
    /// Any text is either a period or an error naming what is wrong; never a panic.
    #[test]
    fn any_text_parses_or_errors(
        words in proptest::collection::vec(
            prop_oneof![
                Just("mon-fri".to_string()),
                Just("24:00-08:00".to_string()),
                Just("except".to_string()),
                Just("Europe/London".to_string()),
                Just("2026-12-24..2026-12-26".to_string()),
                "[0-9:.,a-z/-]{1,12}",
                ".{1,8}",
            ],
            0..5,
        ),
    ) {
        let text = words.join(" ");
        match text.parse::<TimePeriod>() {
            Ok(p) => prop_assert_eq!(period(&p.to_string()), p),
            Err(e) => prop_assert!(!e.message.is_empty()),
        }
    }
}
