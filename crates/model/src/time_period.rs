//! Time periods written plainly ("weekdays 08:00-18:00 Europe/London"), and values that depend
//! on them ([`Tiered`]).
//!
//! Rules use them for thresholds and levels that change with the hour; the response side uses
//! the same type for business hours, notification and maintenance windows and holidays. The one
//! decision behind it: a time period is a predicate on the **local wall clock** of its time
//! zone, evaluated pointwise. An instant is inside when the clock on the wall in that zone shows
//! a day and a time the period names. That single rule settles every DST question:
//!
//! - `08:00-18:00` in Europe/London is always 08:00-18:00 local time, GMT or BST.
//! - On the spring-forward day the wall clock skips an hour, so a range that starts inside the
//!   skipped hour starts at the first instant after the gap (the wall clock jumps past the
//!   start), and one that ends inside it ends at the gap.
//! - On the fall-back day the wall clock shows the repeated hour twice, so `01:00-02:00` covers
//!   both repeated hours (two real hours), and `00:00-01:30` covers 00:00-01:30 in summer time
//!   and again 01:00-01:30 in winter time.
//!
//! A range that crosses midnight (`22:00-06:00`) belongs to the day it starts on: `fri
//! 22:00-06:00` runs from Friday 22:00 to Saturday 06:00. Days of the week, months and dates
//! all constrain that starting day. Exceptions are periods of their own, subtracted pointwise;
//! an exception written without a time zone takes the zone of the period it belongs to.

mod named;
mod parse;
mod tiered;

use std::fmt;

use jiff::civil::Date;
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Timestamp;

pub use named::{RawTimePeriod, TimePeriods};
pub use tiered::{RawTiered, Tier, Tiered, TieredError};

/// Every day of the week: bit 0 is Monday.
const ALL_DAYS: u8 = 0b111_1111;
/// Every month: bit 0 is January.
const ALL_MONTHS: u16 = 0b1111_1111_1111;
const SECONDS_PER_DAY: u32 = 86_400;
/// How far [`TimePeriod::next_change`] looks at once.
const WINDOW_MS: i64 = 7 * 86_400_000;
/// How far past the present or the last date it names a period is searched for a change before
/// concluding it never changes: every (month, weekday) pair and every DST rule recurs within a
/// year.
const HORIZON_DAYS: i64 = 400;

/// An inclusive range of calendar dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DateRange {
    first: Date,
    last: Date,
}

/// A time-of-day range in seconds since local midnight, start inclusive, end exclusive. `end`
/// may be 86 400 (24:00). `start > end` crosses midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimeRange {
    start: u32,
    end: u32,
}

impl TimeRange {
    fn crosses_midnight(self) -> bool {
        self.start > self.end
    }
}

/// A set of instants described by the local calendar and clock of one time zone: days of the
/// week, times of day, months, dates, minus exceptions. See the module documentation for what it
/// means around DST changes and midnight.
///
/// Parse it from the one-line form with [`str::parse`] or deserialize it from either form; its
/// `Display` (and `Serialize`) is the one-line form.
#[derive(Clone, Debug, PartialEq)]
pub struct TimePeriod {
    /// Days of the week the period may start on; bit 0 is Monday.
    days: u8,
    /// Months the period may start in; bit 0 is January.
    months: u16,
    /// Dates the period may start on; empty means any date.
    dates: Vec<DateRange>,
    /// Times of day; empty means the whole day.
    times: Vec<TimeRange>,
    /// The zone whose wall clock is read.
    zone: TimeZone,
    /// The zone as written, for display.
    zone_name: String,
    /// Periods taken out of this one.
    except: Vec<TimePeriod>,
}

/// A time period that could not be read: where, the word, and what is accepted instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodError {
    /// Where: the text in quotes (`"weekdays 25:00-26:00"`) or the key of the table form
    /// (`` key `times` ``), innermost last.
    pub location: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl PeriodError {
    /// A problem in the one-line `text`.
    fn in_text(text: &str, message: String) -> Self {
        PeriodError {
            location: format!("{text:?}"),
            message,
        }
    }

    /// A problem under `key` of the table form.
    fn at_key(key: &str, message: String) -> Self {
        PeriodError {
            location: format!("key `{key}`"),
            message,
        }
    }

    /// The same problem inside the table entry `key`.
    fn under(mut self, key: &str) -> Self {
        self.location = format!("key `{key}`, {}", self.location);
        self
    }
}

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "time period {}: {}", self.location, self.message)
    }
}

impl std::error::Error for PeriodError {}

impl TimePeriod {
    /// Every instant, in UTC.
    pub fn always() -> Self {
        TimePeriod {
            days: ALL_DAYS,
            months: ALL_MONTHS,
            dates: Vec::new(),
            times: Vec::new(),
            zone: TimeZone::UTC,
            zone_name: "UTC".into(),
            except: Vec::new(),
        }
    }

    /// Turns what was read into a period: exceptions without a zone take this period's zone,
    /// and names are looked up in `names`.
    fn build(
        spec: parse::Spec,
        inherited: Option<&(String, TimeZone)>,
        names: Option<&TimePeriods>,
    ) -> Result<Self, PeriodError> {
        if let Some(r) = spec.named {
            let mut base = match names.and_then(|n| n.get(&r.name)) {
                Some(found) => found.clone(),
                None if names.is_some() => {
                    let message =
                        format!("{}; nor is it the name of a defined time period", r.error);
                    return Err(PeriodError::in_text(&r.text, message));
                }
                None => return Err(PeriodError::in_text(&r.text, r.error)),
            };
            // A named period keeps the zone it was defined with; what is excepted from it
            // here reads that zone's clock unless it names its own.
            let own = (base.zone_name.clone(), base.zone.clone());
            for e in spec.except {
                base.except.push(TimePeriod::build(e, Some(&own), names)?);
            }
            return Ok(base);
        }
        let (zone_name, zone) = spec
            .zone
            .or_else(|| inherited.cloned())
            .unwrap_or_else(|| ("UTC".to_string(), TimeZone::UTC));
        let own = (zone_name, zone);
        let except = spec
            .except
            .into_iter()
            .map(|e| TimePeriod::build(e, Some(&own), names))
            .collect::<Result<_, _>>()?;
        let (zone_name, zone) = own;
        Ok(TimePeriod {
            days: parse::or_all_days(spec.days),
            months: parse::or_all_months(spec.months),
            dates: spec.dates,
            times: spec.times,
            zone,
            zone_name,
            except,
        })
    }

    /// The time zone whose wall clock the period reads, as written (`UTC` by default).
    pub fn time_zone(&self) -> &str {
        &self.zone_name
    }

    /// Whether `ts` is inside the period.
    pub fn contains(&self, ts: Timestamp) -> bool {
        self.contains_own(ts) && !self.except.iter().any(|e| e.contains(ts))
    }

    /// Whether `ts` is inside the period before exceptions.
    fn contains_own(&self, ts: Timestamp) -> bool {
        let local = self.zone.to_datetime(ts.to_jiff());
        let date = local.date();
        let t = local.time();
        let tod = t.hour() as u32 * 3600 + t.minute() as u32 * 60 + t.second() as u32;
        let today = self.day_matches(date);
        if self.times.is_empty() {
            return today;
        }
        let yesterday = || date.yesterday().is_ok_and(|d| self.day_matches(d));
        self.times.iter().any(|r| {
            if r.crosses_midnight() {
                (today && tod >= r.start) || (tod < r.end && yesterday())
            } else {
                today && r.start <= tod && tod < r.end
            }
        })
    }

    /// Whether a range may start on `date`.
    fn day_matches(&self, date: Date) -> bool {
        let weekday = date.weekday().to_monday_zero_offset();
        self.days & (1 << weekday) != 0
            && self.months & (1 << (date.month() - 1)) != 0
            && (self.dates.is_empty()
                || self.dates.iter().any(|r| r.first <= date && date <= r.last))
    }

    /// True when nothing constrains the period, so it contains every instant.
    fn is_always(&self) -> bool {
        self.days == ALL_DAYS
            && self.months == ALL_MONTHS
            && self.dates.is_empty()
            && (self.times.is_empty()
                || self
                    .times
                    .iter()
                    .any(|r| r.start == 0 && r.end == SECONDS_PER_DAY))
            && self.except.is_empty()
    }

    /// The first instant after `ts` at which [`contains`](Self::contains) gives the other
    /// answer, or `None` when it never does (`daily`, or dates that are all in the past).
    ///
    /// Used to schedule work for the start of the next business day and to know how long a
    /// threshold holds.
    pub fn next_change(&self, ts: Timestamp) -> Option<Timestamp> {
        if self.is_always() {
            return None;
        }
        let inside = self.contains(ts);
        let horizon = self.horizon(ts);
        let mut from = ts;
        let mut candidates = Vec::new();
        while from < horizon {
            let to = from.plus_millis(WINDOW_MS);
            candidates.clear();
            self.candidates(from, to, &mut candidates);
            candidates.sort_unstable();
            candidates.dedup();
            // Between two candidates no period's wall-clock answer can change, so the first
            // candidate with the other answer is the change.
            if let Some(&change) = candidates
                .iter()
                .filter(|&&c| c > from && c <= to)
                .find(|&&c| self.contains(c) != inside)
            {
                return Some(change);
            }
            from = to;
        }
        None
    }

    /// The instant after which no change can be new: a horizon past `ts` and past the last
    /// date any part of the period names.
    fn horizon(&self, ts: Timestamp) -> Timestamp {
        let last_date = self.last_date().and_then(|d| {
            d.to_zoned(TimeZone::UTC)
                .ok()
                .map(|z| Timestamp::from_jiff(z.timestamp()))
        });
        let base = last_date.map_or(ts, |d| d.max(ts));
        base.plus_millis(HORIZON_DAYS * 86_400_000)
    }

    fn last_date(&self) -> Option<Date> {
        let own = self.dates.iter().map(|r| r.last);
        own.chain(self.except.iter().filter_map(|e| e.last_date()))
            .max()
    }

    /// Every instant in `(from, to]` (and a little around it) at which this period's or an
    /// exception's answer might change: the wall clock reaching a range boundary or midnight,
    /// and the time zone changing its offset.
    fn candidates(&self, from: Timestamp, to: Timestamp, out: &mut Vec<Timestamp>) {
        let first = self.zone.to_datetime(from.to_jiff()).date().yesterday();
        let last = self.zone.to_datetime(to.to_jiff()).date().tomorrow();
        let (Ok(mut day), Ok(last)) = (first, last) else {
            return;
        };
        let mut boundaries: Vec<u32> = vec![0];
        for r in &self.times {
            boundaries.push(r.start);
            if r.end < SECONDS_PER_DAY {
                boundaries.push(r.end);
            }
        }
        while day <= last {
            for &b in &boundaries {
                let dt = day.at((b / 3600) as i8, (b / 60 % 60) as i8, (b % 60) as i8, 0);
                let mut push = |offset: jiff::tz::Offset| {
                    if let Ok(t) = offset.to_timestamp(dt) {
                        out.push(Timestamp::from_jiff(t));
                    }
                };
                match self.zone.to_ambiguous_timestamp(dt).offset() {
                    AmbiguousOffset::Unambiguous { offset } => push(offset),
                    // The wall clock shows this time twice; either may change the answer.
                    AmbiguousOffset::Fold { before, after } => {
                        push(before);
                        push(after);
                    }
                    // The wall clock never shows it; the transition below is the change.
                    AmbiguousOffset::Gap { .. } => {}
                }
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        let end = to.to_jiff();
        for transition in self.zone.following(from.to_jiff()) {
            if transition.timestamp() > end {
                break;
            }
            out.push(Timestamp::from_jiff(transition.timestamp()));
        }
        for e in &self.except {
            e.candidates(from, to, out);
        }
    }
}

impl std::str::FromStr for TimePeriod {
    type Err = PeriodError;

    /// The one-line form: `weekdays 08:00-18:00 Europe/London except 2026-12-25`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimePeriod::build(parse::parse_line(s)?, None, None)
    }
}

impl<'de> Deserialize<'de> for TimePeriod {
    /// Either form: a one-line string or a table (`weekdays`, `times`, `months`, `dates`,
    /// `time_zone`, `except`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = parse::RawSpec::deserialize(deserializer)?;
        let spec = raw.read().map_err(serde::de::Error::custom)?;
        TimePeriod::build(spec, None, None).map_err(serde::de::Error::custom)
    }
}

impl Serialize for TimePeriod {
    /// The one-line form.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for TimePeriod {
    /// The one-line form, which parses back to the same period (nested exceptions of
    /// exceptions are the one thing it cannot say).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = Vec::new();
        if self.days != ALL_DAYS {
            words.push(runs(u32::from(self.days), 7, parse::day_name));
        } else if self.dates.is_empty() {
            words.push("daily".into());
        }
        if self.months != ALL_MONTHS {
            words.push(runs(u32::from(self.months), 12, parse::month_name));
        }
        if !self.dates.is_empty() {
            let dates: Vec<String> = self
                .dates
                .iter()
                .map(|r| {
                    if r.first == r.last {
                        r.first.to_string()
                    } else {
                        format!("{}..{}", r.first, r.last)
                    }
                })
                .collect();
            words.push(dates.join(","));
        }
        if !self.times.is_empty() {
            let times: Vec<String> = self
                .times
                .iter()
                .map(|r| format!("{}-{}", clock(r.start), clock(r.end)))
                .collect();
            words.push(times.join(","));
        }
        if self.zone_name != "UTC" {
            words.push(self.zone_name.clone());
        }
        f.write_str(&words.join(" "))?;
        for e in &self.except {
            write!(f, " except {e}")?;
        }
        Ok(())
    }
}

/// `mon-fri`, `sat,sun`, `nov-feb`-style text for a bit mask over a cycle of `len` names; runs
/// may wrap around the end of the cycle, as the parser accepts.
fn runs(mask: u32, len: usize, name: fn(usize) -> &'static str) -> String {
    let bit = |i: usize| mask & (1 << (i % len)) != 0;
    // Start just after a gap so that a run wrapping past the end is printed whole.
    let Some(first) = (0..len).find(|&i| bit(i) && !bit(i + len - 1)) else {
        return format!("{}-{}", name(0), name(len - 1));
    };
    let mut parts = Vec::new();
    let mut i = first;
    while i < first + len {
        if !bit(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < first + len && bit(i + 1) {
            i += 1;
        }
        let (a, b) = (name(start % len), name(i % len));
        parts.push(match i - start {
            0 => a.to_string(),
            1 => format!("{a},{b}"),
            _ => format!("{a}-{b}"),
        });
        i += 1;
    }
    parts.join(",")
}

/// `08:00`, `17:30:15`, `24:00`.
fn clock(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests;
