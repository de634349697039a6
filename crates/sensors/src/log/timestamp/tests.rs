//! Layout parsing against real-world timestamp texts.

use super::*;

fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn parser(format: &str, zone: &str) -> Parser {
    let layout = match Layout::preset(format) {
        Some((l, _)) => l,
        None => Layout::compile(format).unwrap(),
    };
    Parser::new(
        vec![layout],
        false,
        Zone::parse(zone).unwrap(),
        Timestamp(ms("2024-03-10T12:00:00Z")),
    )
}

#[test]
fn parses_common_layouts() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "%Y-%m-%d %H:%M:%S,%f",
            "UTC",
            "2015-10-18 18:01:47,978 INFO",
            "2015-10-18T18:01:47.978Z",
        ),
        (
            "iso8601",
            "UTC",
            "2015-07-29T17:41:44.747+02:00 x",
            "2015-07-29T15:41:44.747Z",
        ),
        (
            "iso8601",
            "+01:00",
            "2015-07-29 17:41:44 x",
            "2015-07-29T16:41:44Z",
        ),
        (
            "%y%m%d %H%M%S",
            "UTC",
            "081109 203615 148 INFO",
            "2008-11-09T20:36:15Z",
        ),
        (
            "%y/%m/%d %H:%M:%S",
            "UTC",
            "17/06/09 20:10:40 INFO",
            "2017-06-09T20:10:40Z",
        ),
        (
            "%a %b %d %H:%M:%S %Y",
            "UTC",
            "Sun Dec 04 04:47:44 2005",
            "2005-12-04T04:47:44Z",
        ),
        (
            "apache_error",
            "UTC",
            "[Sun Dec 04 04:47:44.5 2005] [error]",
            "2005-12-04T04:47:44.5Z",
        ),
        ("epoch", "UTC", "1117838570 x", "2005-06-03T22:42:50Z"),
        (
            "epoch_ms",
            "UTC",
            "1117838570123",
            "2005-06-03T22:42:50.123Z",
        ),
        (
            "%d/%b/%Y:%H:%M:%S %z",
            "UTC",
            "10/Oct/2000:13:55:36 -0700",
            "2000-10-10T20:55:36Z",
        ),
        (
            "%Y-%m-%d %I:%M:%S %p",
            "UTC",
            "2024-01-02 12:05:00 AM",
            "2024-01-02T00:05:00Z",
        ),
        (
            "%Y-%m-%d %H:%M:%S",
            "Europe/Amsterdam",
            "2024-07-01 12:00:00",
            "2024-07-01T10:00:00Z",
        ),
        (
            "%Y-%m-%d %H:%M:%S",
            "Europe/Amsterdam",
            "2024-01-01 12:00:00",
            "2024-01-01T11:00:00Z",
        ),
    ];
    for (fmt, zone, text, want) in cases {
        let got = parser(fmt, zone).parse(text.as_bytes()).map(|(m, _)| m);
        assert_eq!(got, Some(ms(want)), "{fmt} on {text}");
    }
}

#[test]
fn syslog_without_year_is_never_in_the_future() {
    let mut p = parser("syslog", "UTC");
    assert_eq!(
        p.parse(b"Mar  9 10:00:00 host x").unwrap().0,
        ms("2024-03-09T10:00:00Z")
    );
    assert_eq!(
        p.parse(b"Dec 31 23:00:00 host x").unwrap().0,
        ms("2023-12-31T23:00:00Z")
    );
}

#[test]
fn rejects_impossible_dates_and_garbage() {
    let mut p = parser("%Y-%m-%d %H:%M:%S", "UTC");
    for bad in [
        "2023-02-29 10:00:00",
        "2024-13-01 10:00:00",
        "2024-01-01 24:00:00",
        "hello",
        "",
    ] {
        assert_eq!(p.parse(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn compile_reports_the_bad_directive() {
    assert!(Layout::compile("%Y-%m-%d %Q").unwrap_err().contains("%Q"));
    assert!(Layout::compile("%Y-%").unwrap_err().contains("lone"));
    assert!(Layout::compile("abc").unwrap_err().contains("neither"));
    assert!(Layout::compile("%I:%M").unwrap_err().contains("%p"));
}

#[test]
fn auto_detection_finds_each_layout() {
    let now = Timestamp(ms("2024-03-10T12:00:00Z"));
    let mut p = Parser::new(Layout::auto(), true, Zone::Fixed(0), now);
    for line in [
        "2024-03-10 11:00:00,123 INFO x",
        "[2024-03-10 11:00:00] x",
        "[Sun Mar 10 11:00:00 2024] [error] x",
        "Mar 10 11:00:00 host x",
        "2024/03/10 11:00:00 [error] x",
        "10-Mar-2024 11:00:00.5 SEVERE x",
        "24/03/10 11:00:00 INFO x",
        "240310 110000 INFO x",
    ] {
        let (got, _) = p.parse(line.as_bytes()).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(got / 1000, ms("2024-03-10T11:00:00Z") / 1000, "{line}");
    }
    assert_eq!(p.parse(b"no time here"), None);
}

#[test]
fn civil_round_trip() {
    for d in [-800_000i64, -1, 0, 1, 11_016, 19_000, 2_932_896] {
        let (y, m, dd) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, dd), d);
    }
}

#[test]
fn the_head_cache_never_changes_a_result() {
    // Consecutive records in the same second reuse the parsed head; each result must equal a
    // fresh parse.
    let texts = [
        "2024-01-01 10:00:00,100 a",
        "2024-01-01 10:00:00,250 b",
        "2024-01-01 10:00:00 no fraction",
        "2024-01-01 10:00:01,000 c",
        "2024-01-01 10:00:01.5+01:00 d",
        "2024-01-01 10:00:01,5 e",
        "2024-01-01 10:00:0 broken",
        "2024-01-01 10:00:01,7 f",
    ];
    let mut cached = parser("iso8601", "Europe/Amsterdam");
    for t in texts {
        let fresh = parser("iso8601", "Europe/Amsterdam").parse(t.as_bytes());
        assert_eq!(cached.parse(t.as_bytes()), fresh, "{t}");
    }
    let mut cached = parser("%d/%m/%Y %H:%M:%S %d", "UTC");
    for t in [
        "01/02/2024 10:00:00 1",
        "01/02/2024 10:00:00 12",
        "01/02/2024 10:00:00 1x",
    ] {
        let fresh = parser("%d/%m/%Y %H:%M:%S %d", "UTC").parse(t.as_bytes());
        assert_eq!(cached.parse(t.as_bytes()), fresh, "{t}");
    }
}
