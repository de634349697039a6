//! Layout parsing against real-world timestamp texts.

use super::*;
use testkit::Rng;

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

// Differential tests of the short paths (same second, same minute, `time`): a parser used over
// a whole sequence of texts, as the scan uses it, must give what a parse without any cache
// gives for each text, including for invalid dates, truncated and altered timestamps.

/// Clock fields of a generated timestamp; out-of-range values are generated on purpose.
#[derive(Clone, Copy, Debug)]
struct Clock {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    ms: i64,
}

impl Clock {
    fn from_ms(epoch_ms: i64) -> Clock {
        let secs = epoch_ms.div_euclid(1000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        Clock {
            year: i64::from(y),
            month: i64::from(m),
            day: i64::from(d),
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
            ms: epoch_ms.rem_euclid(1000),
        }
    }
}

const MONTH_ABBR: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats `c` the way a logger would with a strftime format (plus the parser's `%.f`), with
/// random fraction widths, separators and offsets.
fn format_clock(format: &str, c: &Clock, rng: &mut Rng) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let fraction = |rng: &mut Rng| {
        let digits = 1 + rng.below(12) as usize;
        let mut f = format!("{:03}", c.ms.rem_euclid(1000));
        while f.len() < digits {
            f.push(char::from(b'0' + rng.below(10) as u8));
        }
        f.truncate(digits);
        f
    };
    let mut chars = format.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let _ = match chars.next() {
            Some('Y') => write!(out, "{:04}", c.year),
            Some('y') => write!(out, "{:02}", c.year.rem_euclid(100)),
            Some('m') if rng.chance(3) => write!(out, "{}", c.month),
            Some('m') => write!(out, "{:02}", c.month),
            Some('d') => write!(out, "{:02}", c.day),
            Some('e') => write!(out, "{:>2}", c.day),
            Some('H') => write!(out, "{:02}", c.hour),
            Some('I') => write!(out, "{:02}", (c.hour + 11) % 12 + 1),
            Some('p') => write!(out, "{}", if c.hour < 12 { "AM" } else { "PM" }),
            Some('M') => write!(out, "{:02}", c.minute),
            Some('S') => write!(out, "{:02}", c.second),
            Some('f') => write!(out, "{}", fraction(rng)),
            Some('.') => {
                chars.next();
                match rng.below(4) {
                    0 => Ok(()),
                    1 => write!(out, ",{}", fraction(rng)),
                    _ => write!(out, ".{}", fraction(rng)),
                }
            }
            Some('b') => write!(out, "{}", MONTH_ABBR[(c.month - 1).clamp(0, 11) as usize]),
            Some('a') => write!(out, "{}", ["Mon", "Tue", "Sun"][rng.below(3) as usize]),
            Some('z') => write!(
                out,
                "{}",
                ["+0200", "-07:00", "Z", "+00"][rng.below(4) as usize]
            ),
            Some('s') => write!(out, "{}", c.hour * 3600 + c.minute * 60 + c.second),
            other => panic!("test formatter lacks %{other:?}"),
        };
    }
    out
}

/// Bytes a mutation writes into a timestamp: digits and the separators layouts use.
const NOISE: &[u8] = b"0123456789 :-,.TZ+x\r\t/";

/// A sequence of record texts in `format`: time moving on as in a busy log (same second, next
/// second, next minute, jumps), some fields out of range, some texts altered or cut.
fn texts(format: &str, seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed | 1);
    // 1990..2060, around the parser's `now` too.
    let mut t = 631_152_000_000 + rng.below(2_200_000_000_000) as i64;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        t += match rng.below(100) {
            0..=59 => rng.below(40) as i64,
            60..=89 => rng.below(3000) as i64,
            90..=95 => rng.below(200_000) as i64,
            96..=97 => rng.below(90 * 86_400_000) as i64,
            _ => -(rng.below(5000) as i64),
        };
        let mut c = Clock::from_ms(t);
        if rng.chance(3) {
            match rng.below(7) {
                0 => c.month = [0, 13, 19, 2][rng.below(4) as usize],
                1 => c.day = [0, 29, 30, 31, 32][rng.below(5) as usize],
                2 => c.hour = [24, 25, 99][rng.below(3) as usize],
                3 => c.minute = [60, 61, 99][rng.below(3) as usize],
                4 => c.second = [59, 60, 61, 99][rng.below(4) as usize],
                5 => (c.month, c.day) = (2, 29),
                _ => (c.month, c.day) = ([4, 6, 9, 11][rng.below(4) as usize], 31),
            }
        }
        let mut text = format_clock(format, &c, &mut rng).into_bytes();
        if rng.chance(4) && !text.is_empty() {
            let at = rng.below(text.len() as u64) as usize;
            text[at] = NOISE[rng.below(NOISE.len() as u64) as usize];
        }
        if rng.chance(2) {
            text.truncate(rng.below(text.len() as u64 + 1) as usize);
        }
        let tail: &[u8] = match rng.below(12) {
            0 => b"",
            1 => b"\r",
            2 => b"7 digits go on",
            3 => b"+01:00 x",
            4 => b"Z x",
            5 => b"-0500",
            6 => b",5 x",
            7 => b"] x",
            _ => b" INFO [main] org.example.Service: request done",
        };
        text.extend_from_slice(tail);
        out.push(text);
    }
    out
}

/// A parser with every cache emptied: each parse reads the whole layout and computes the
/// instant, as the first record of a check does.
fn forget_caches(p: &mut Parser) {
    p.head = None;
    p.last = None;
    p.cache_key = i64::MIN;
}

/// Parses `texts` in order with one long-lived parser (`parse`), another (`time`), and a
/// reference whose caches are emptied before every text: all must agree, and auto-detection
/// must move the same way. Returns how many texts had a timestamp.
fn differential(
    layouts: Vec<Layout>,
    auto: bool,
    zone: &str,
    now: &str,
    texts: &[Vec<u8>],
) -> usize {
    let new = || {
        Parser::new(
            layouts.clone(),
            auto,
            Zone::parse(zone).unwrap(),
            Timestamp(ms(now)),
        )
    };
    let (mut fast, mut time_only, mut reference) = (new(), new(), new());
    let mut parsed = 0;
    for text in texts {
        forget_caches(&mut reference);
        let want = reference.parse(text);
        let shown = String::from_utf8_lossy(text);
        assert_eq!(fast.parse(text), want, "parse {shown:?} in {zone}");
        assert_eq!(
            time_only.time(text),
            want.map(|(ms, _)| ms),
            "time {shown:?} in {zone}"
        );
        for p in [&fast, &time_only] {
            assert_eq!(
                (p.last_good, p.misses),
                (reference.last_good, reference.misses),
                "auto-detection state after {shown:?}"
            );
        }
        parsed += usize::from(want.is_some());
    }
    parsed
}

/// [`differential`] over texts that must exercise both outcomes.
fn differential_mixed(layouts: Vec<Layout>, auto: bool, zone: &str, now: &str, texts: &[Vec<u8>]) {
    let parsed = differential(layouts, auto, zone, now, texts);
    assert!(
        parsed > texts.len() / 4,
        "{parsed} of {} parsed",
        texts.len()
    );
    assert!(parsed < texts.len(), "every text parsed");
}

/// Formats generated by [`format_clock`] and the layouts that read them.
const DIFFERENTIAL_LAYOUTS: &[(&str, &str)] = &[
    ("%Y-%m-%d %H:%M:%S,%f", "%Y-%m-%d %H:%M:%S,%f"),
    ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f"),
    ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"),
    ("%y%m%d %H%M%S", "%y%m%d %H%M%S"),
    ("%y/%m/%d %H:%M:%S", "%y/%m/%d %H:%M:%S"),
    ("iso8601", "%Y-%m-%dT%H:%M:%S%.f"),
    ("iso8601", "%Y-%m-%d %H:%M:%S%.f%z"),
    ("syslog", "%b %e %H:%M:%S%.f"),
    ("apache_error", "[%a %b %d %H:%M:%S%.f %Y]"),
    ("[%Y-%m-%d %H:%M:%S%.f]", "[%Y-%m-%d %H:%M:%S%.f]"),
    ("%d-%b-%Y %H:%M:%S%.f", "%d-%b-%Y %H:%M:%S%.f"),
    ("%d/%b/%Y:%H:%M:%S %z", "%d/%b/%Y:%H:%M:%S %z"),
    ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%d %I:%M:%S %p"),
    ("%H:%M:%S,%f", "%H:%M:%S,%f"),
    ("%m/%d %H:%M:%S", "%m/%d %H:%M:%S"),
    ("epoch", "%s%.f"),
];

fn layout_of(name: &str) -> Layout {
    match Layout::preset(name) {
        Some((l, _)) => l,
        None => Layout::compile(name).unwrap(),
    }
}

#[test]
fn short_paths_agree_with_a_full_parse() {
    for (seed, (layout, format)) in DIFFERENTIAL_LAYOUTS.iter().enumerate() {
        for (zone, now) in [
            ("UTC", "2024-03-10T12:00:00Z"),
            ("+05:30", "2030-01-01T00:00:00Z"),
            // Named zones with daylight saving time: offsets change within the sequences.
            ("Europe/Amsterdam", "2024-10-27T01:30:00Z"),
            ("America/New_York", "2024-03-10T07:30:00Z"),
        ] {
            let texts = texts(format, 0x5EED + seed as u64, 20_000);
            differential_mixed(vec![layout_of(layout)], false, zone, now, &texts);
        }
    }
}

#[test]
fn short_paths_agree_with_a_full_parse_across_dst_changes() {
    // Records every few hundred milliseconds through the hours whose offset changes: the
    // same-minute path must not carry an offset across a change.
    for (zone, start) in [
        ("Europe/Amsterdam", "2024-03-31T00:30:00Z"),
        ("Europe/Amsterdam", "2024-10-27T00:30:00Z"),
        ("America/New_York", "2024-03-10T06:30:00Z"),
        ("America/New_York", "2024-11-03T05:30:00Z"),
    ] {
        let mut rng = Rng(7);
        let mut t = ms(start);
        let mut texts = Vec::new();
        for _ in 0..40_000 {
            t += rng.below(400) as i64;
            // Local wall-clock text, as the zone's logger writes it (naively: the text is
            // what matters, repeated and skipped hours included).
            let c = Clock::from_ms(t + 3_600_000 * rng.below(3) as i64);
            texts.push(format_clock("%Y-%m-%d %H:%M:%S,%f x", &c, &mut rng).into_bytes());
        }
        texts.push(b"not a time".to_vec());
        differential_mixed(
            vec![layout_of("%Y-%m-%d %H:%M:%S,%f")],
            false,
            zone,
            "2025-01-01T00:00:00Z",
            &texts,
        );
    }
}

#[test]
fn short_paths_agree_with_a_full_parse_when_auto_detecting() {
    // Every auto-detected layout, interleaved in runs, with lines that have no timestamp: the
    // short path applies only to the layout auto-detection settled on.
    let formats = [
        "%Y-%m-%d %H:%M:%S,%f",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "[%Y-%m-%d %H:%M:%S%.f]",
        "[%a %b %d %H:%M:%S%.f %Y]",
        "%b %e %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%d-%b-%Y %H:%M:%S%.f",
        "%y/%m/%d %H:%M:%S",
        "%y%m%d %H%M%S",
    ];
    let mut rng = Rng(99);
    let mut all = Vec::new();
    for run in 0..400 {
        let format = formats[rng.below(formats.len() as u64) as usize];
        let n = 1 + rng.below(120) as usize;
        if rng.chance(10) {
            all.extend((0..n).map(|i| format!("plain line {i}").into_bytes()));
        } else {
            all.extend(texts(format, run, n));
        }
    }
    differential_mixed(Layout::auto(), true, "UTC", "2024-03-10T12:00:00Z", &all);
    differential_mixed(
        Layout::auto(),
        true,
        "Europe/Amsterdam",
        "2024-03-10T12:00:00Z",
        &all,
    );
}

#[test]
fn auto_detection_gives_up_the_same_way_with_short_paths() {
    // After the plain lines the same timestamps come again: the cached head would match them,
    // but auto-detection has given up.
    let stamped = [
        "2024-03-10 11:00:00,100 a",
        "2024-03-10 11:00:00,200 b",
        "2024-03-10 11:00:01,300 c",
    ];
    let mut all: Vec<Vec<u8>> = stamped.iter().map(|t| t.as_bytes().to_vec()).collect();
    all.extend((0..1500).map(|i| format!("no time {i}").into_bytes()));
    all.extend(stamped.iter().map(|t| t.as_bytes().to_vec()));
    let parsed = differential(Layout::auto(), true, "UTC", "2024-03-10T12:00:00Z", &all);
    assert_eq!(parsed, 3);
}

#[test]
fn the_short_path_follows_the_layout_auto_detection_settled_on() {
    // A syslog head too long to cache (a run of blanks) leaves the ISO head in the cache while
    // auto-detection moves to syslog; the next ISO text must be found the way a full parse
    // finds it (syslog tried first), which moves auto-detection back.
    let blanks = " ".repeat(60);
    let all: Vec<Vec<u8>> = [
        "2024-03-10 11:00:00,100 a".to_string(),
        "2024-03-10 11:00:00,200 b".to_string(),
        format!("Mar{blanks}9 10:00:00 host x"),
        "2024-03-10 11:00:00,300 c".to_string(),
        format!("Mar{blanks}9 10:00:01 host y"),
        "2024-03-10 11:00:01,400 d".to_string(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let parsed = differential(Layout::auto(), true, "UTC", "2024-03-10T12:00:00Z", &all);
    assert_eq!(parsed, 6);
}

#[test]
fn the_same_minute_path_takes_leap_seconds_and_rejects_impossible_ones() {
    let mut p = parser("%Y-%m-%d %H:%M:%S,%f", "UTC");
    let at = |p: &mut Parser, t: &str| p.time(t.as_bytes());
    assert_eq!(
        at(&mut p, "2016-12-31 23:59:58,100"),
        Some(ms("2016-12-31T23:59:58.100Z"))
    );
    // 60 counts as 59; 61 and beyond are no second.
    assert_eq!(
        at(&mut p, "2016-12-31 23:59:60,200"),
        Some(ms("2016-12-31T23:59:59.200Z"))
    );
    assert_eq!(at(&mut p, "2016-12-31 23:59:61,200"), None);
    assert_eq!(at(&mut p, "2016-12-31 23:59:6x,200"), None);
    assert_eq!(
        at(&mut p, "2016-12-31 23:59:07,9"),
        Some(ms("2016-12-31T23:59:07.900Z"))
    );
    // An impossible date is never cached as an instant.
    let mut p = parser("%Y-%m-%d %H:%M:%S,%f", "UTC");
    for t in [
        "2023-02-29 10:00:00,1",
        "2023-02-29 10:00:01,1",
        "2023-02-29 10:00:01,2",
    ] {
        assert_eq!(at(&mut p, t), None, "{t}");
    }
}

#[test]
fn short_paths_agree_with_a_full_parse_on_loghub_logs() {
    // Real logs: each LogHub system's layout as its conformance config has it (the locating
    // pattern applied first), and auto-detection over the raw lines. Skipped without the data
    // (see `log::tests::loghub`).
    let dir = match std::env::var_os("PERISCOPE_TESTDATA") {
        Some(d) => std::path::PathBuf::from(d).join("loghub"),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/loghub"),
    };
    if !dir.is_dir() {
        eprintln!("skipped: no LogHub test data at {}", dir.display());
        return;
    }
    let systems: [(&str, &str, Option<&str>); 8] = [
        ("Apache", "apache_error", None),
        ("BGL", "epoch", Some(r"^\S+ (\d+) ")),
        ("HDFS", "%y%m%d %H%M%S", None),
        ("HPC", "epoch", Some(r"^\S+ \S+ \S+ \S+ (\d+) ")),
        ("Hadoop", "%Y-%m-%d %H:%M:%S,%f", None),
        (
            "OpenStack",
            "%Y-%m-%d %H:%M:%S.%f",
            Some(r"^\S+ (\S+ \S+) "),
        ),
        ("Spark", "%y/%m/%d %H:%M:%S", None),
        ("Zookeeper", "%Y-%m-%d %H:%M:%S,%f", None),
    ];
    for (system, layout, pattern) in systems {
        let data = std::fs::read(dir.join(format!("{system}/{system}_2k.log"))).unwrap();
        let lines: Vec<Vec<u8>> = data
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .collect();
        let located: Vec<Vec<u8>> = match pattern {
            None => lines.clone(),
            Some(p) => {
                let re = regex::bytes::Regex::new(p).unwrap();
                lines
                    .iter()
                    .map(|l| re.captures(l).map_or(Vec::new(), |c| c[1].to_vec()))
                    .collect()
            }
        };
        for zone in ["UTC", "Europe/Amsterdam"] {
            let parsed = differential(
                vec![layout_of(layout)],
                false,
                zone,
                "2024-03-10T12:00:00Z",
                &located,
            );
            assert!(parsed >= 2000, "{system}: {parsed}");
            differential(Layout::auto(), true, zone, "2024-03-10T12:00:00Z", &lines);
        }
    }
}

mod random {
    use proptest::prelude::*;

    use super::*;

    /// A text near a valid one: a generated timestamp with a few bytes replaced.
    fn near(format: &'static str) -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u64>(),
            proptest::collection::vec((any::<prop::sample::Index>(), 0..NOISE.len()), 0..3),
        )
            .prop_map(move |(seed, edits)| {
                let mut text = texts(format, seed, 1).pop().unwrap();
                for (at, b) in edits {
                    if !text.is_empty() {
                        let at = at.index(text.len());
                        text[at] = NOISE[b];
                    }
                }
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Random sequences, each text a neighbour of the previous one or a fresh one.
        #[test]
        fn short_paths_agree_on_random_sequences(
            layout in 0..DIFFERENTIAL_LAYOUTS.len(),
            picks in proptest::collection::vec((any::<bool>(), any::<u64>(), 0..3usize, any::<prop::sample::Index>()), 1..60),
            zone in prop::sample::select(vec!["UTC", "-03:00", "Europe/Amsterdam"]),
        ) {
            let (name, format) = DIFFERENTIAL_LAYOUTS[layout];
            let mut seq: Vec<Vec<u8>> = Vec::new();
            for (fresh, seed, edits, at) in picks {
                let mut text = match seq.last() {
                    Some(prev) if !fresh => prev.clone(),
                    _ => texts(format, seed, 1).pop().unwrap(),
                };
                let mut rng = Rng(seed | 1);
                for _ in 0..edits {
                    if !text.is_empty() {
                        let i = at.index(text.len()).min(text.len() - 1);
                        let i = (i + rng.below(4) as usize) % text.len();
                        text[i] = NOISE[rng.below(NOISE.len() as u64) as usize];
                    }
                }
                seq.push(text);
            }
            let want: Vec<_> = seq.iter().map(|t| parser(name, zone).parse(t)).collect();
            let mut fast = parser(name, zone);
            let mut time_only = parser(name, zone);
            for (t, w) in seq.iter().zip(&want) {
                prop_assert_eq!(fast.parse(t), *w, "{:?}", String::from_utf8_lossy(t));
                prop_assert_eq!(time_only.time(t), w.map(|(ms, _)| ms));
            }
        }

        /// Texts near valid ones, after a valid one of the same minute primed the caches.
        #[test]
        fn primed_short_paths_agree(text in near("%Y-%m-%d %H:%M:%S,%f x"), prime in near("%Y-%m-%d %H:%M:%S,%f x")) {
            let mut fast = parser("%Y-%m-%d %H:%M:%S,%f", "UTC");
            fast.parse(&prime);
            let mut time_only = parser("%Y-%m-%d %H:%M:%S,%f", "UTC");
            time_only.parse(&prime);
            let want = parser("%Y-%m-%d %H:%M:%S,%f", "UTC").parse(&text);
            prop_assert_eq!(fast.parse(&text), want);
            prop_assert_eq!(time_only.time(&text), want.map(|(ms, _)| ms));
        }
    }
}
