//! How values read in text: times in the reader's zone, durations and numbers for people.

use jiff::tz::TimeZone;
use model::{FactValue, Timestamp};

use crate::text::one_line;

/// `2026-11-21 00:05:09`: year first so no reader mistakes day for month, in `tz`.
pub(crate) fn local_time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_jiff()
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The zone's abbreviation at `t` (`UTC`, `CET`, `CEST`), or its offset when it has none.
pub(crate) fn zone_name(t: Timestamp, tz: &TimeZone) -> String {
    t.to_jiff().to_zoned(tz.clone()).strftime("%Z").to_string()
}

/// The calendar day of `t` in `tz`, `2026-11-21`.
pub(crate) fn local_date(t: Timestamp, tz: &TimeZone) -> String {
    t.to_jiff()
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d")
        .to_string()
}

/// A duration for people: `250 ms`, `3.8 s`, `3 min 48 s`, `2 h 5 min`, `3 d 4 h`.
pub(crate) fn duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms} ms");
    }
    // Tenths of a second up to a minute: the precision people compare run times by.
    if ms < 59_950 {
        let tenths = (ms + 50) / 100;
        return format!("{sign}{}.{} s", tenths / 10, tenths % 10);
    }
    let s = (ms + 500) / 1000;
    let (big, small, big_unit, small_unit) = match s {
        0..3600 => (s / 60, s % 60, "min", "s"),
        3600..86_400 => (s / 3600, s % 3600 / 60, "h", "min"),
        _ => (s / 86_400, s % 86_400 / 3600, "d", "h"),
    };
    if small == 0 {
        format!("{sign}{big} {big_unit}")
    } else {
        format!("{sign}{big} {big_unit} {small} {small_unit}")
    }
}

/// A measured number for people: whole numbers plainly, others to two decimals (three
/// significant digits below one), trailing zeros dropped. No thousands separators: `1,000`
/// reads as one in some countries and as a thousand in others.
pub(crate) fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let decimals = if v.abs() >= 1.0 {
        2
    } else {
        ((-v.abs().log10()).floor() as usize + 3).min(12)
    };
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A number with its unit: `12.5%` (no space before `%`), `3.8 s`, `100000 GBP`.
pub(crate) fn with_unit(v: f64, unit: Option<&str>) -> String {
    match unit.map(str::trim) {
        None | Some("") => number(v),
        Some("%") => format!("{}%", number(v)),
        Some(u) => format!("{} {u}", number(v)),
    }
}

/// A fact's value as one line of text.
pub(crate) fn fact_text(value: &FactValue, tz: &TimeZone) -> String {
    match value {
        FactValue::Text(s) => one_line(s),
        FactValue::Count(n) => n.to_string(),
        FactValue::Number { value, unit } => with_unit(*value, unit.as_deref()),
        FactValue::Time(t) => local_time(*t, tz),
        FactValue::DurationMs(ms) => duration(*ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_say_them() {
        let cases = [
            (0, "0 ms"),
            (250, "250 ms"),
            (999, "999 ms"),
            (1000, "1.0 s"),
            (3800, "3.8 s"),
            (59_949, "59.9 s"),
            (59_950, "1 min"),
            (228_000, "3 min 48 s"),
            (3_600_000, "1 h"),
            (7_500_000, "2 h 5 min"),
            (273_600_000, "3 d 4 h"),
            (-1500, "-1.5 s"),
        ];
        for (ms, want) in cases {
            assert_eq!(duration(ms), want, "{ms} ms");
        }
    }

    #[test]
    fn numbers_keep_what_matters() {
        let cases = [
            (100000.0, "100000"),
            (3.8456, "3.85"),
            (2.5, "2.5"),
            (0.000123456, "0.000123"),
            (0.5, "0.5"),
            (-0.0, "0"),
            (-12.004, "-12"),
            (1e20, "100000000000000000000"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(number(v), want, "{v}");
        }
        assert_eq!(with_unit(12.5, Some("%")), "12.5%");
        assert_eq!(with_unit(3.8, Some("s")), "3.8 s");
        assert_eq!(with_unit(3.0, Some(" ")), "3");
    }

    #[test]
    fn times_are_in_the_readers_zone() {
        let t = Timestamp(1_795_217_109_000); // 2026-11-20T23:25:09Z
        assert_eq!(local_time(t, &TimeZone::UTC), "2026-11-20 23:25:09");
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(local_time(t, &paris), "2026-11-21 00:25:09");
        assert_eq!(local_date(t, &paris), "2026-11-21");
        assert_eq!(zone_name(t, &paris), "CET");
    }
}
