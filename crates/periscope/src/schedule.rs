//! When `serve` runs a monitor: every N, or on a cron expression in a time zone.
//!
//! Pure: the next due time is a function of `now`, so schedules are tested without waiting.

use std::fmt;
use std::time::Duration;

use croner::Cron;
use jiff::tz::TimeZone;
use model::Timestamp;

/// A monitor's schedule.
#[derive(Clone)]
pub enum Schedule {
    /// Every fixed interval, counted from the previous start.
    Every(Duration),
    /// At the times a cron expression matches, read in a time zone (DST-aware).
    Cron {
        /// The parsed expression.
        cron: Box<Cron>,
        /// The expression as written, for messages.
        expr: String,
        /// Time zone the expression is read in.
        tz: TimeZone,
    },
}

impl Schedule {
    /// A fixed interval.
    pub fn every(interval: Duration) -> Self {
        Schedule::Every(interval)
    }

    /// A cron schedule; the error says what is wrong with the expression.
    pub fn cron(expr: &str, tz: TimeZone) -> Result<Self, String> {
        let cron: Cron = expr.parse().map_err(|e| format!("{e}"))?;
        Ok(Schedule::Cron {
            cron: Box::new(cron),
            expr: expr.to_string(),
            tz,
        })
    }

    /// The first due time strictly after `now`.
    pub fn next_after(&self, now: Timestamp) -> Timestamp {
        match self {
            Schedule::Every(d) => now.plus_millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Schedule::Cron { cron, tz, .. } => {
                let zoned = now.to_jiff().to_zoned(tz.clone());
                match cron.find_next_occurrence(&zoned, false) {
                    Ok(next) => Timestamp::from_jiff(next.timestamp()),
                    // An expression that never matches again (e.g. a past year): park it far away.
                    Err(_) => now.plus_millis(365 * 24 * 3_600_000),
                }
            }
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", sensors::runner::human_duration(*d)),
            Schedule::Cron { expr, tz, .. } => {
                write!(f, "cron `{expr}` ({})", tz.iana_name().unwrap_or("local"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::from_jiff(s.parse().unwrap())
    }

    #[test]
    fn interval_counts_from_now() {
        let s = Schedule::every(Duration::from_secs(90));
        assert_eq!(
            s.next_after(at("2026-11-21T10:00:00Z")),
            at("2026-11-21T10:01:30Z")
        );
    }

    #[test]
    fn cron_is_read_in_its_time_zone() {
        let s = Schedule::cron("55 23 * * *", TimeZone::get("Europe/London").unwrap()).unwrap();
        // London is UTC+1 in summer: 23:55 BST is 22:55 UTC.
        assert_eq!(
            s.next_after(at("2026-07-01T12:00:00Z")),
            at("2026-07-01T22:55:00Z")
        );
        assert_eq!(
            s.next_after(at("2026-12-01T12:00:00Z")),
            at("2026-12-01T23:55:00Z")
        );
    }

    #[test]
    fn cron_across_a_dst_change_keeps_local_time() {
        // Every day at 05:30 local; the clocks go forward on 2026-03-29 in London.
        let s = Schedule::cron("30 5 * * *", TimeZone::get("Europe/London").unwrap()).unwrap();
        assert_eq!(
            s.next_after(at("2026-03-28T12:00:00Z")),
            at("2026-03-29T04:30:00Z")
        );
    }

    #[test]
    fn bad_cron_says_why() {
        assert!(Schedule::cron("61 * * * *", TimeZone::UTC).is_err());
        assert!(Schedule::cron("not cron", TimeZone::UTC).is_err());
    }
}
