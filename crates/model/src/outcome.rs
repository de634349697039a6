//! The result of one check, in the vocabulary of Nagios-compatible plugins.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a check came out. The plugin exit codes (0-3) are the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Everything the check looks at is as expected.
    Ok,
    /// Above a warning threshold: worth a look, not yet a failure.
    Warning,
    /// Above a critical threshold, or the checked thing is down.
    Critical,
    /// The check could not tell: its source was missing, it timed out, crashed or misbehaved.
    Unknown,
}

impl Status {
    /// Every status, best first by [`Status::severity`].
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::Warning,
        Status::Unknown,
        Status::Critical,
    ];

    /// The plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub const fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// The status a plugin exit code means; anything outside 0-3 is UNKNOWN.
    pub const fn from_exit_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::Warning,
            2 => Status::Critical,
            _ => Status::Unknown,
        }
    }

    /// How bad it is, for "worst first" ordering: OK < WARNING < UNKNOWN < CRITICAL.
    ///
    /// UNKNOWN ranks above WARNING because a check that cannot see is worse than one that sees a
    /// small problem, and below CRITICAL because a known failure beats a possible one (the order
    /// Icinga uses when it rolls states up).
    pub const fn severity(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: Status) -> Status {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Upper-case name as plugins print it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A check's verdict: a status, a one-line summary and optional long text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// How it came out.
    pub status: Status,
    /// One line a person reads first, e.g. `3 errors in payments.log`.
    pub summary: String,
    /// Further lines: plugin long output, the reason behind UNKNOWN, and so on.
    pub details: String,
}

impl CheckOutcome {
    /// An outcome with no long text.
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        CheckOutcome {
            status,
            summary: summary.into(),
            details: String::new(),
        }
    }

    /// UNKNOWN with the reason as the summary.
    pub fn unknown(reason: impl Into<String>) -> Self {
        CheckOutcome::new(Status::Unknown, reason)
    }

    /// The same outcome with long text attached.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_round_trip_and_out_of_range_is_unknown() {
        for s in Status::ALL {
            assert_eq!(Status::from_exit_code(s.exit_code()), s);
        }
        assert_eq!(Status::from_exit_code(4), Status::Unknown);
        assert_eq!(Status::from_exit_code(-1), Status::Unknown);
        assert_eq!(Status::from_exit_code(127), Status::Unknown);
    }

    #[test]
    fn worst_ranks_critical_over_unknown_over_warning() {
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
        assert_eq!(Status::Critical.worst(Status::Unknown), Status::Critical);
        assert_eq!(Status::Ok.worst(Status::Warning), Status::Warning);
    }
}
