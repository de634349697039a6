//! Threshold ranges: `[@]start:end` from the Monitoring Plugins guidelines.

use std::fmt;

use model::Status;
use serde::{Deserialize, Serialize};

use super::number::parse_number_exact;

/// A threshold range, e.g. `10`, `10:`, `~:10`, `10:20` or `@10:20`.
///
/// The endpoints are inclusive. Without `@` a value *outside* the range alerts; with `@` a value
/// *inside* it does. `start` defaults to 0 when only an end is given (`10` is `0:10`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// Lower end; `None` is negative infinity (`~`).
    pub start: Option<f64>,
    /// Upper end; `None` is positive infinity (nothing after the colon).
    pub end: Option<f64>,
    /// True for `@` ranges: alert when the value is inside, not outside.
    pub inside: bool,
}

/// Why a range text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Nothing (or only `@`) was given.
    #[error("empty range")]
    Empty,
    /// An endpoint is not a number.
    #[error("'{0}' is not a number")]
    NotANumber(String),
    /// `start` is greater than `end`.
    #[error("start {start} is greater than end {end}")]
    StartAfterEnd {
        /// The lower end as written.
        start: String,
        /// The upper end as written.
        end: String,
    },
}

impl Range {
    /// Alert when the value is above `end` or below 0 (the plain `end` form).
    pub const fn up_to(end: f64) -> Range {
        Range {
            start: Some(0.0),
            end: Some(end),
            inside: false,
        }
    }

    /// Reads a range in the guidelines' `[@]start:end` format.
    pub fn parse(text: &str) -> Result<Range, RangeError> {
        let (inside, rest) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.is_empty() {
            return Err(RangeError::Empty);
        }
        let number =
            |s: &str| parse_number_exact(s).ok_or_else(|| RangeError::NotANumber(s.to_string()));
        let (start, end) = match rest.split_once(':') {
            // "start and ':' is not required if start=0"
            None => (Some(0.0), Some(number(rest)?)),
            Some((start, end)) => {
                let start = match start {
                    "~" => None,
                    // The plugins' own parser reads an empty start as 0 (`:10` is `0:10`).
                    "" => Some(0.0),
                    s => Some(number(s)?),
                };
                // "if range is of format "start:" and end is not specified, assume end is infinity"
                let end = if end.is_empty() {
                    None
                } else {
                    Some(number(end)?)
                };
                (start, end)
            }
        };
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(RangeError::StartAfterEnd {
                start: fmt_num(s),
                end: fmt_num(e),
            });
        }
        Ok(Range { start, end, inside })
    }

    /// True when `value` raises an alert under this range.
    ///
    /// NaN is outside every range, so it alerts for plain ranges and not for `@` ranges.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start.is_none_or(|s| value >= s) && self.end.is_none_or(|e| value <= e);
        within == self.inside
    }

    /// The same range with `f` applied to both ends (for unit conversions, which keep order).
    pub fn map_ends(&self, f: impl Fn(f64) -> f64) -> Range {
        Range {
            start: self.start.map(&f),
            end: self.end.map(&f),
            inside: self.inside,
        }
    }
}

/// The status `get_status()` of the plugins' C library gives a value: critical is checked first.
pub fn threshold_status(value: f64, warn: Option<&Range>, crit: Option<&Range>) -> Status {
    if crit.is_some_and(|r| r.alerts(value)) {
        Status::Critical
    } else if warn.is_some_and(|r| r.alerts(value)) {
        Status::Warning
    } else {
        Status::Ok
    }
}

impl fmt::Display for Range {
    /// The shortest text that parses back to this range (`10`, `10:`, `~:10`, `@10:20`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        match (self.start, self.end) {
            // `0:end` is written `end` ("start and ':' is not required if start=0").
            (Some(0.0), Some(e)) => write!(f, "{}", fmt_num(e)),
            (Some(s), end) => write!(f, "{}:{}", fmt_num(s), end.map(fmt_num).unwrap_or_default()),
            (None, end) => write!(f, "~:{}", end.map(fmt_num).unwrap_or_default()),
        }
    }
}

/// Formats a number so that it parses back to the same value (Rust's shortest round-trip form,
/// which never uses an exponent).
pub(crate) fn fmt_num(v: f64) -> String {
    format!("{v}")
}
