//! Reading time periods: the one-line form (`"weekdays 08:00-18:00 Europe/London"`) and the
//! TOML table form (`weekdays = [...]`, `times = [...]`, ...), both into one [`Spec`].
//!
//! Both forms share the same word parsers, so a day, time or date means the same thing wherever
//! it is written, and every error names the word it could not read and lists what is accepted.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{ALL_DAYS, ALL_MONTHS, DateRange, PeriodError, SECONDS_PER_DAY, TimeRange};

/// What each kind of word looks like, for error messages.
const ACCEPTED: &str = "days (mon-fri, sat,sun, weekdays, weekends, daily), times (08:00-18:00, \
                        22:00-06:00), months (jan-mar, dec), dates (2026-12-25, \
                        2026-12-24..2026-12-26), an IANA time zone (Europe/London) or `except`";

const DAY_NAMES: [[&str; 2]; 7] = [
    ["mon", "monday"],
    ["tue", "tuesday"],
    ["wed", "wednesday"],
    ["thu", "thursday"],
    ["fri", "friday"],
    ["sat", "saturday"],
    ["sun", "sunday"],
];

const MONTH_NAMES: [[&str; 2]; 12] = [
    ["jan", "january"],
    ["feb", "february"],
    ["mar", "march"],
    ["apr", "april"],
    ["may", "may"],
    ["jun", "june"],
    ["jul", "july"],
    ["aug", "august"],
    ["sep", "september"],
    ["oct", "october"],
    ["nov", "november"],
    ["dec", "december"],
];

/// A time period as written, before exceptions inherit the time zone of what they except.
///
/// Zero masks mean "not constrained"; the builder turns them into "all".
#[derive(Clone, Debug, Default)]
pub(super) struct Spec {
    pub days: u8,
    pub months: u16,
    pub dates: Vec<DateRange>,
    pub times: Vec<TimeRange>,
    pub zone: Option<(String, TimeZone)>,
    pub except: Vec<Spec>,
    /// Set when the clause is one word that reads as nothing else: the name of a period
    /// defined elsewhere, resolved when the period is built.
    pub named: Option<NameRef>,
}

/// A word that may name a defined period, with what to say if it names none.
#[derive(Clone, Debug)]
pub(super) struct NameRef {
    /// The word.
    pub name: String,
    /// The text it came from, for the error.
    pub text: String,
    /// Why the word is not a day, time, date, month or zone.
    pub error: String,
}

/// A time period as it arrives from serde, before its words are read.
#[derive(Clone, Debug)]
pub(super) enum RawSpec {
    /// The one-line form.
    Line(String),
    /// The table form.
    Table(RawTable),
}

/// The TOML table form of a time period. Every list is optional; a missing list does not
/// constrain (an empty table is "always").
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    /// Days of the week: `"mon"`, `"mon-fri"`, `"sat,sun"`, `"weekdays"`, `"weekends"`,
    /// `"daily"`.
    #[serde(default)]
    weekdays: Vec<String>,
    /// Times of day, local to `time_zone`: `"08:00-18:00"`, `"22:00-06:00"` (crosses
    /// midnight: belongs to the day it starts on), `"18:00-24:00"`.
    #[serde(default)]
    times: Vec<String>,
    /// Months: `"jan"`, `"nov-feb"`.
    #[serde(default)]
    months: Vec<String>,
    /// Calendar dates, inclusive: `"2026-12-25"`, `"2026-12-24..2026-12-26"`.
    #[serde(default)]
    dates: Vec<String>,
    /// IANA time zone name (system tz database); default UTC, or the zone of the period an
    /// exception belongs to.
    #[serde(default)]
    time_zone: Option<String>,
    /// Periods taken out of this one (holidays), each in either form.
    #[serde(default)]
    except: Vec<RawSpec>,
}

impl<'de> Deserialize<'de> for RawSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a time period: a string such as \"weekdays 08:00-18:00 Europe/London\" \
                     or a table with weekdays, times, months, dates, time_zone, except",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSpec, E> {
                Ok(RawSpec::Line(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSpec, A::Error> {
                RawTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawSpec::Table)
            }
        }
        deserializer.deserialize_any(RawVisitor)
    }
}

impl RawSpec {
    /// Reads the words.
    pub fn read(&self) -> Result<Spec, PeriodError> {
        match self {
            RawSpec::Line(text) => parse_line(text),
            RawSpec::Table(table) => table.read(),
        }
    }
}

impl RawTable {
    fn read(&self) -> Result<Spec, PeriodError> {
        let mut spec = Spec::default();
        let fail = |key: &str, message: String| PeriodError::at_key(key, message);
        for word in &self.weekdays {
            spec.days |= parse_days(&word.to_ascii_lowercase()).map_err(|m| fail("weekdays", m))?;
        }
        for word in &self.times {
            spec.times
                .extend(parse_times(word).map_err(|m| fail("times", m))?);
        }
        for word in &self.months {
            spec.months |=
                parse_months(&word.to_ascii_lowercase()).map_err(|m| fail("months", m))?;
        }
        for word in &self.dates {
            spec.dates
                .extend(parse_dates(word).map_err(|m| fail("dates", m))?);
        }
        if let Some(name) = &self.time_zone {
            spec.zone = Some(parse_zone(name).map_err(|m| fail("time_zone", m))?);
        }
        for (i, raw) in self.except.iter().enumerate() {
            spec.except
                .push(raw.read().map_err(|e| e.under(&format!("except[{i}]")))?);
        }
        Ok(spec)
    }
}

/// Reads the one-line form: words separated by spaces, in any order, then optional
/// `except ...` clauses, each a period of its own.
pub(super) fn parse_line(text: &str) -> Result<Spec, PeriodError> {
    let fail = |message: String| PeriodError::in_text(text, message);
    let words = words(text);
    if words.is_empty() {
        return Err(fail(format!("empty time period: write {ACCEPTED}")));
    }
    let mut clauses = words.split(|w| w.eq_ignore_ascii_case("except"));
    let main = clauses.next().unwrap_or_default();
    if main.is_empty() {
        return Err(fail(
            "nothing before `except`: say what the period is first, e.g. \
             \"daily except 2026-12-25\""
                .into(),
        ));
    }
    let mut spec = parse_clause(text, main).map_err(fail)?;
    for clause in clauses {
        if clause.is_empty() {
            return Err(fail("`except` with nothing after it".into()));
        }
        spec.except.push(parse_clause(text, clause).map_err(fail)?);
    }
    Ok(spec)
}

/// One clause of the one-line form; a lone word that reads as nothing else may be the name of
/// a defined period (`business_hours except holidays`).
fn parse_clause(text: &str, words: &[String]) -> Result<Spec, String> {
    let result = parse_words(words);
    match (words, result) {
        ([word], Err(error)) if is_name(word) => Ok(Spec {
            named: Some(NameRef {
                name: word.clone(),
                text: text.to_string(),
                error,
            }),
            ..Spec::default()
        }),
        (_, result) => result,
    }
}

/// What a defined period's name may look like: `business_hours`, `uk-holidays`.
pub(super) fn is_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_alphabetic())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Splits on whitespace, keeping `mon - fri`, `08:00 - 18:00`, `sat, sun` and
/// `2026-12-24 .. 2026-12-26` together as one word.
fn words(text: &str) -> Vec<String> {
    let joins = |c: char| matches!(c, ',' | '-' | '.');
    let mut out: Vec<String> = Vec::new();
    for piece in text.split_whitespace() {
        match out.last_mut() {
            Some(last) if last.ends_with(joins) || piece.starts_with(joins) => last.push_str(piece),
            _ => out.push(piece.to_string()),
        }
    }
    out
}

fn parse_words(words: &[String]) -> Result<Spec, String> {
    let mut spec = Spec::default();
    for word in words {
        let lower = word.to_ascii_lowercase();
        let first = lower.split([',', '-']).next().unwrap_or_default();
        if lower.starts_with(|c: char| c.is_ascii_digit()) {
            let bytes = lower.as_bytes();
            let looks_like_date =
                bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-';
            if lower.contains(':') {
                spec.times.extend(parse_times(word)?);
            } else if looks_like_date {
                spec.dates.extend(parse_dates(word)?);
            } else {
                return Err(format!(
                    "'{word}' is neither a time range (HH:MM-HH:MM, e.g. 08:00-18:00) nor a date \
                     (YYYY-MM-DD, e.g. 2026-12-25)"
                ));
            }
        } else if day_keyword(first).is_some() || day_index(first).is_some() {
            spec.days |= parse_days(&lower)?;
        } else if month_index(first).is_some() {
            spec.months |= parse_months(&lower)?;
        } else {
            if let Some((old, _)) = &spec.zone {
                return Err(format!(
                    "two time zones, '{old}' and '{word}': a period has one time zone"
                ));
            }
            spec.zone = Some(parse_zone(word).map_err(|m| {
                if word.contains('/') {
                    m
                } else {
                    format!("unknown word '{word}': expected {ACCEPTED}")
                }
            })?);
        }
    }
    Ok(spec)
}

fn day_index(word: &str) -> Option<u8> {
    DAY_NAMES
        .iter()
        .position(|names| names.contains(&word))
        .map(|i| i as u8)
}

fn day_keyword(word: &str) -> Option<u8> {
    match word {
        "weekdays" | "weekday" => Some(0b001_1111),
        "weekends" | "weekend" => Some(0b110_0000),
        "daily" => Some(ALL_DAYS),
        _ => None,
    }
}

fn month_index(word: &str) -> Option<u8> {
    MONTH_NAMES
        .iter()
        .position(|names| names.contains(&word))
        .map(|i| i as u8)
}

/// `mon`, `mon-fri`, `fri-mon` (wraps through the weekend), `sat,sun`, `weekdays`, ...
fn parse_days(word: &str) -> Result<u8, String> {
    let mut mask = 0u8;
    for item in word.split(',') {
        if let Some(m) = day_keyword(item) {
            mask |= m;
            continue;
        }
        let (from, to) = item.split_once('-').unwrap_or((item, item));
        let index = |name: &str| {
            day_index(name).ok_or_else(|| {
                format!(
                    "unknown day '{name}' in '{word}': expected mon, tue, wed, thu, fri, sat, sun \
                     (or full names), a range such as mon-fri, or weekdays, weekends, daily"
                )
            })
        };
        mask |= wrapping_range(index(from)?, index(to)?, 7) as u8;
    }
    Ok(mask)
}

/// `jan`, `jan-mar`, `nov-feb` (wraps through the new year), `jun,aug`.
fn parse_months(word: &str) -> Result<u16, String> {
    let mut mask = 0u16;
    for item in word.split(',') {
        let (from, to) = item.split_once('-').unwrap_or((item, item));
        let index = |name: &str| {
            month_index(name).ok_or_else(|| {
                format!(
                    "unknown month '{name}' in '{word}': expected jan, feb, ... dec (or full \
                     names) or a range such as nov-feb"
                )
            })
        };
        mask |= wrapping_range(index(from)?, index(to)?, 12) as u16;
    }
    Ok(mask)
}

/// The bits `from..=to` of a cycle of `len`, wrapping past the end.
fn wrapping_range(from: u8, to: u8, len: u8) -> u32 {
    let mut mask = 0u32;
    let mut i = from;
    loop {
        mask |= 1 << i;
        if i == to {
            return mask;
        }
        i = (i + 1) % len;
    }
}

/// `08:00-18:00`, `22:00-06:00`, `18:00-24:00`, `09:00-12:00,13:00-17:30`.
fn parse_times(word: &str) -> Result<Vec<TimeRange>, String> {
    word.split(',')
        .map(|item| {
            let (from, to) = item.split_once('-').ok_or_else(|| {
                format!("'{item}' is not a time range: expected HH:MM-HH:MM such as 08:00-18:00")
            })?;
            let start = parse_time_of_day(from, item, false)?;
            let end = parse_time_of_day(to, item, true)?;
            if start == end {
                return Err(format!(
                    "'{item}' is empty: for a whole day leave the times out or write 00:00-24:00"
                ));
            }
            Ok(TimeRange { start, end })
        })
        .collect()
}

/// `HH:MM` or `HH:MM:SS` as seconds since midnight; `24:00` only as the end of a range.
fn parse_time_of_day(text: &str, range: &str, is_end: bool) -> Result<u32, String> {
    let bad = |why: &str| format!("bad time '{text}' in '{range}': {why}");
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("expected HH:MM or HH:MM:SS, e.g. 08:00 or 17:30"));
    }
    let num = |i: usize| parts.get(i).map_or(0, |p| p.parse::<u32>().unwrap_or(99));
    let (h, m, s) = (num(0), num(1), num(2));
    if h == 24 && m == 0 && s == 0 {
        return if is_end {
            Ok(SECONDS_PER_DAY)
        } else {
            Err(bad(
                "24:00 is only accepted as the end of a range; start at 00:00",
            ))
        };
    }
    if h > 23 {
        return Err(bad(
            "hours go from 00 to 23 (24:00 only as the end of a range)",
        ));
    }
    if m > 59 || s > 59 {
        return Err(bad("minutes and seconds go from 00 to 59"));
    }
    Ok(h * 3600 + m * 60 + s)
}

/// `2026-12-25` or `2026-12-24..2026-12-26` (inclusive), comma-separated.
fn parse_dates(word: &str) -> Result<Vec<DateRange>, String> {
    word.split(',')
        .map(|item| {
            let (from, to) = item.split_once("..").unwrap_or((item, item));
            let date = |text: &str| {
                text.parse::<Date>().map_err(|e| {
                    format!(
                        "bad date '{text}' in '{item}': expected YYYY-MM-DD or a range \
                         YYYY-MM-DD..YYYY-MM-DD ({e})"
                    )
                })
            };
            let (first, last) = (date(from)?, date(to)?);
            if last < first {
                return Err(format!(
                    "date range '{item}' ends before it starts: write the earlier date first"
                ));
            }
            Ok(DateRange { first, last })
        })
        .collect()
}

/// An IANA name from the system tz database.
fn parse_zone(name: &str) -> Result<(String, TimeZone), String> {
    TimeZone::get(name)
        .map(|tz| (name.to_string(), tz))
        .map_err(|_| {
            format!(
                "unknown time zone '{name}': expected an IANA name from the tz database such as \
                 UTC, Europe/London or America/New_York"
            )
        })
}

/// Used by the builder: masks of zero mean "any".
pub(super) fn or_all_days(mask: u8) -> u8 {
    if mask == 0 { ALL_DAYS } else { mask }
}

/// Used by the builder: masks of zero mean "any".
pub(super) fn or_all_months(mask: u16) -> u16 {
    if mask == 0 { ALL_MONTHS } else { mask }
}

/// Names for display: `mon`, `jan`.
pub(super) fn day_name(index: usize) -> &'static str {
    DAY_NAMES[index][0]
}

/// Names for display: `mon`, `jan`.
pub(super) fn month_name(index: usize) -> &'static str {
    MONTH_NAMES[index][0]
}
