//! Time as a value: [`Timestamp`] and the [`Clock`] seam.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// Milliseconds match what the metric store and the Prometheus APIs speak; conversions to
/// [`jiff::Timestamp`] are lossless for every date Periscope meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The same instant as a jiff timestamp (saturating at jiff's range).
    pub fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(if self.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }

    /// From a jiff timestamp (sub-millisecond precision is dropped).
    pub fn from_jiff(ts: jiff::Timestamp) -> Self {
        Timestamp(ts.as_millisecond())
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This instant moved by `ms` milliseconds.
    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-21T02:30:00.125Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.to_jiff())
    }
}

/// The only way Periscope learns the time. Evaluators, schedulers and reports take `now` as an
/// argument; the binary hands them `clock.now()`, tests hand them a manual clock.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the wall clock
    fn now(&self) -> Timestamp {
        Timestamp::from_jiff(jiff::Timestamp::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_rfc3339_utc_with_millis() {
        assert_eq!(
            Timestamp(1_700_000_000_125).to_string(),
            "2023-11-14T22:13:20.125Z"
        );
    }

    #[test]
    fn jiff_round_trip() {
        let t = Timestamp(1_234_567_890_123);
        assert_eq!(Timestamp::from_jiff(t.to_jiff()), t);
    }
}
