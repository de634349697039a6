//! A layer's rotation: when its handoffs happen (`daily 09:00`, `weekly mon 09:00`) and which
//! shift an instant falls in, plus reading the local times overrides are written in.
//!
//! Handoffs are wall-clock times in the schedule's zone, computed per calendar date and only
//! then turned into instants, so `daily 09:00` stays 09:00 local across DST changes (the shift
//! over a change is 23 or 25 hours long) instead of drifting by an hour.

use std::fmt;
use std::str::FromStr;

use jiff::ToSpan;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use model::Timestamp;

/// What a handoff may look like, for error hints.
pub(super) const ACCEPTED_HANDOFF: &str = "write \"daily HH:MM\" or \"weekly DAY HH:MM\", e.g. \"daily 09:00\" or \"weekly mon 09:00\" \
     (local time in the schedule's zone)";

/// The earliest instant, standing for "no boundary before".
pub(super) const NEVER_BEFORE: Timestamp = Timestamp(i64::MIN);
/// The latest instant, standing for "no boundary after".
pub(super) const NEVER_AFTER: Timestamp = Timestamp(i64::MAX);

/// When a layer hands over to the next person: a local time every day, or a local time on one
/// day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// Every day at this local time.
    Daily(Time),
    /// Every week on this day at this local time.
    Weekly(Weekday, Time),
}

impl FromStr for Handoff {
    type Err = String;

    /// `daily 09:00` or `weekly mon 09:00` (day names short or long, any case).
    fn from_str(text: &str) -> Result<Self, String> {
        let words: Vec<String> = text
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let bad = || format!("'{text}' is not a handoff");
        match words.as_slice() {
            ["daily", time] => Ok(Handoff::Daily(parse_clock(time).ok_or_else(bad)?)),
            ["weekly", day, time] => Ok(Handoff::Weekly(
                parse_weekday(day).ok_or_else(|| format!("'{day}' in '{text}' is not a day"))?,
                parse_clock(time).ok_or_else(bad)?,
            )),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Handoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handoff::Daily(t) => write!(f, "daily {}", t.strftime("%H:%M")),
            Handoff::Weekly(d, t) => write!(
                f,
                "weekly {} {}",
                DAY_NAMES[d.to_monday_zero_offset() as usize][0],
                t.strftime("%H:%M")
            ),
        }
    }
}

/// `HH:MM`, 00:00 to 23:59.
fn parse_clock(word: &str) -> Option<Time> {
    let (h, m) = word.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
    Time::new(h, m, 0, 0).ok()
}

const DAY_NAMES: [[&str; 2]; 7] = [
    ["mon", "monday"],
    ["tue", "tuesday"],
    ["wed", "wednesday"],
    ["thu", "thursday"],
    ["fri", "friday"],
    ["sat", "saturday"],
    ["sun", "sunday"],
];

fn parse_weekday(word: &str) -> Option<Weekday> {
    let index = DAY_NAMES.iter().position(|names| names.contains(&word))?;
    Weekday::from_monday_zero_offset(index as i8).ok()
}

/// The handoffs of one layer: handoff 0 is `start` at the handoff time, and handoff `k` starts
/// shift `k`, which ends at handoff `k + 1`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Rotation {
    handoff: Handoff,
    start: Date,
    zone: TimeZone,
    /// The local date of handoff 1.
    second: Date,
}

impl Rotation {
    /// A rotation from `start`; `None` when the dates overflow the calendar.
    pub(super) fn new(handoff: Handoff, start: Date, zone: TimeZone) -> Option<Self> {
        let second = match handoff {
            Handoff::Daily(_) => start.tomorrow().ok()?,
            // A start on another weekday makes the first shift short: it runs to the first
            // handoff day after the start, and every later shift is a whole week.
            Handoff::Weekly(day, _) => {
                let ahead = match start.weekday().until(day) {
                    0 => 7,
                    n => i64::from(n),
                };
                start.checked_add(ahead.days()).ok()?
            }
        };
        Some(Rotation {
            handoff,
            start,
            zone,
            second,
        })
    }

    fn time(&self) -> Time {
        match self.handoff {
            Handoff::Daily(t) | Handoff::Weekly(_, t) => t,
        }
    }

    fn date_of(&self, k: i64) -> Option<Date> {
        let step = match self.handoff {
            Handoff::Daily(_) => 1,
            Handoff::Weekly(..) => 7,
        };
        match k {
            0 => Some(self.start),
            k if k > 0 => self
                .second
                .checked_add(((k - 1).checked_mul(step)?).days())
                .ok(),
            _ => None,
        }
    }

    /// The instant of handoff `k`. A handoff time the wall clock skips (spring forward) happens
    /// as long after the jump as it was meant to be after the hour before it (01:30 becomes
    /// 02:30 BST, 24 hours after the previous 01:30), as calendars do; one it shows twice (fall
    /// back) happens the first time.
    pub(super) fn handoff(&self, k: i64) -> Option<Timestamp> {
        let local = self.date_of(k)?.to_datetime(self.time());
        to_instant(local, &self.zone)
    }

    /// The shift `at` falls in: its number, start and end (the end is [`NEVER_AFTER`] past the
    /// calendar's range). `None` before the first handoff.
    pub(super) fn shift_at(&self, at: Timestamp) -> Option<(i64, Timestamp, Timestamp)> {
        let first = self.handoff(0)?;
        if at < first {
            return None;
        }
        let local = self.zone.to_datetime(at.to_jiff()).date();
        let estimate = match self.handoff {
            Handoff::Daily(_) => days_between(self.start, local)?,
            Handoff::Weekly(..) if local < self.second => 0,
            Handoff::Weekly(..) => 1 + days_between(self.second, local)? / 7,
        };
        // The estimate is off by at most one around the handoff time of the day; a few steps
        // settle it either way.
        let mut k = estimate.max(0);
        for _ in 0..4 {
            if k > 0 && self.handoff(k).is_none_or(|h| h > at) {
                k -= 1;
            } else {
                break;
            }
        }
        for _ in 0..4 {
            match self.handoff(k + 1) {
                Some(next) if next <= at => k += 1,
                _ => break,
            }
        }
        let from = self.handoff(k)?;
        let until = self.handoff(k + 1).unwrap_or(NEVER_AFTER);
        Some((k, from, until))
    }
}

fn days_between(from: Date, to: Date) -> Option<i64> {
    to.since(from).ok().map(|span| i64::from(span.get_days()))
}

fn to_instant(local: DateTime, zone: &TimeZone) -> Option<Timestamp> {
    zone.to_ambiguous_timestamp(local)
        .compatible()
        .ok()
        .map(Timestamp::from_jiff)
}

/// What an override's `from`/`to` may look like, for error hints.
pub(super) const ACCEPTED_INSTANT: &str = "write a local time in the schedule's zone \
     (\"2026-12-24 18:00\", \"2026-12-24\" for midnight) or RFC 3339 (\"2026-12-24T18:00:00Z\")";

/// An instant written as RFC 3339 (with an offset), or as a local date and time (or a date,
/// meaning midnight) in `zone`.
pub(super) fn parse_instant(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(Timestamp::from_jiff(ts));
    }
    let local = match text.parse::<DateTime>() {
        Ok(dt) => dt,
        Err(_) => text.parse::<Date>().ok()?.to_datetime(Time::midnight()),
    };
    to_instant(local, zone)
}

/// `2026-12-24 18:00` in `zone`, for messages.
pub(super) fn local_text(at: Timestamp, zone: &TimeZone) -> String {
    zone.to_datetime(at.to_jiff())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}
