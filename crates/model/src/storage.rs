//! The storage seams: [`Appender`] writes samples, [`Querier`] reads series back.
//!
//! Series identity follows Prometheus: a label set in which the metric name is the label
//! [`METRIC_NAME_LABEL`]. Writers resolve a label set to a [`SeriesRef`] once and append by
//! reference after that, so the hot path neither hashes nor copies labels per sample.

use std::fmt;

use crate::{BoxFuture, Labels, Timestamp};

/// The label that holds a series' metric name (`__name__`, as in Prometheus).
pub const METRIC_NAME_LABEL: &str = "__name__";

/// A series' handle inside one store: cheap to copy, valid for as long as that store is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

/// Why a sample was refused. Each reason is counted by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Older than the series' newest sample by more than the out-of-order window.
    TooOld,
    /// Later than the store's clock by more than the allowed future skew.
    TooFarInFuture,
    /// Same series and timestamp as a stored sample, with a different value. (The same value
    /// again is accepted and stored once: redelivered messages are not an error.)
    ConflictingDuplicate,
    /// The label set breaks the naming rules (empty name, bad characters, duplicate names).
    InvalidLabels,
}

impl Rejection {
    /// A stable snake_case name, used as the `reason` label of the rejection counter.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::TooOld => "too_old",
            Rejection::TooFarInFuture => "too_far_in_future",
            Rejection::ConflictingDuplicate => "conflicting_duplicate",
            Rejection::InvalidLabels => "invalid_labels",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::TooOld => "sample is older than the out-of-order window allows",
            Rejection::TooFarInFuture => "sample timestamp is too far in the future",
            Rejection::ConflictingDuplicate => {
                "a different value is already stored for this series and timestamp"
            }
            Rejection::InvalidLabels => "label set breaks the naming rules",
        })
    }
}

/// A storage failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The sample was refused; the rest of the batch is unaffected until commit.
    Rejected(Rejection),
    /// The store cannot take writes or answer now (disk full, closed, failing): retrying later
    /// may help, and callers holding messages should keep them.
    Unavailable(String),
    /// The request itself is wrong (e.g. an unknown series reference); retrying will not help.
    Invalid(String),
}

impl StoreError {
    /// True when the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Rejected(r) => write!(f, "rejected: {r}"),
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            StoreError::Invalid(m) => write!(f, "invalid request: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a commit made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// Samples written (including exact duplicates, which are stored once).
    pub samples: u64,
    /// Series created by this batch.
    pub new_series: u64,
}

/// A batch of writes. Nothing is visible or durable until [`Appender::commit`] resolves;
/// dropping an appender without committing discards the batch (all-or-nothing requests).
pub trait Appender: Send {
    /// Resolves a label set (with [`METRIC_NAME_LABEL`]) to its series, creating it if new.
    fn series(&mut self, labels: &Labels) -> Result<SeriesRef, StoreError>;

    /// Resolves many label sets at once: `out[i]` is `labels[i]`'s series. Fails as
    /// [`Appender::series`] would on the first label set it refuses. A store overrides it to
    /// take its locks once for all of them instead of once per series.
    fn series_many(
        &mut self,
        labels: &[Labels],
        out: &mut Vec<SeriesRef>,
    ) -> Result<(), StoreError> {
        out.clear();
        for l in labels {
            out.push(self.series(l)?);
        }
        Ok(())
    }

    /// Adds one sample to the batch. A refused sample returns [`StoreError::Rejected`] and the
    /// batch stays usable: the caller decides whether to drop it or to commit the rest.
    fn append(
        &mut self,
        series: SeriesRef,
        timestamp: Timestamp,
        value: f64,
    ) -> Result<(), StoreError>;

    /// Writes the batch to the write-ahead log; the future resolves once it is synced to disk.
    /// Only then may the caller acknowledge the data to its sender.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<CommitSummary, StoreError>>;
}

/// How a label is compared in a series selector.
#[derive(Clone, Debug)]
pub enum MatchOp {
    /// `=`: equal to the value (an absent label equals the empty string).
    Equal(String),
    /// `!=`: not equal to the value.
    NotEqual(String),
    /// `=~`: the whole value matches the regex.
    Regex(AnchoredRegex),
    /// `!~`: the whole value does not match the regex.
    NotRegex(AnchoredRegex),
}

/// A regex that must match a whole label value, as Prometheus anchors its matchers.
#[derive(Clone, Debug)]
pub struct AnchoredRegex {
    source: String,
    regex: regex::Regex,
}

impl AnchoredRegex {
    /// Compiles `pattern` anchored at both ends.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let regex = regex::Regex::new(&format!("^(?:{pattern})$"))?;
        Ok(AnchoredRegex {
            source: pattern.to_string(),
            regex,
        })
    }

    /// The pattern as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// One label condition of a series selector, e.g. `job=~"api|web"`.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// The label name (`__name__` for the metric name).
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
}

impl Matcher {
    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal(value.into()),
        }
    }

    /// True when a label value (`""` for an absent label) satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal(v) => v == value,
            MatchOp::NotEqual(v) => v != value,
            MatchOp::Regex(r) => r.is_match(value),
            MatchOp::NotRegex(r) => !r.is_match(value),
        }
    }

    /// True when this matcher also selects series that lack the label, e.g. `x=""` or `x!~"a"`.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// True when every matcher is satisfied by `labels`.
    pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
        matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (op, value) = match &self.op {
            MatchOp::Equal(v) => ("=", v.as_str()),
            MatchOp::NotEqual(v) => ("!=", v.as_str()),
            MatchOp::Regex(r) => ("=~", r.as_str()),
            MatchOp::NotRegex(r) => ("!~", r.as_str()),
        };
        write!(f, "{}{op}{value:?}", self.name)
    }
}

/// An inclusive time range, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant included.
    pub start: Timestamp,
    /// Last instant included.
    pub end: Timestamp,
}

impl TimeRange {
    /// Everything from `start` to `end`, both included.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeRange { start, end }
    }

    /// True when `t` lies inside the range.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t <= self.end
    }
}

/// One stored series and its samples inside the asked range, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    /// The label set, including [`METRIC_NAME_LABEL`].
    pub labels: Labels,
    /// Sample timestamps, ascending and unique.
    pub timestamps: Vec<Timestamp>,
    /// Sample values, one per timestamp.
    pub values: Vec<f64>,
    /// Start timestamps (ms), one per sample, or empty when the source keeps none. A start
    /// timestamp says since when a counter sample counts (its creation, or a delta's window
    /// start); `0` marks a sample without one. Counter functions read restarts and the
    /// window's first increase from them.
    pub start_timestamps: Vec<i64>,
}

/// Read access to stored series. Results are sorted by label set.
pub trait Querier: Send + Sync {
    /// The series matching every matcher, with their samples inside `range`. Series without
    /// samples in the range are left out.
    fn select(&self, matchers: &[Matcher], range: TimeRange)
    -> Result<Vec<SeriesData>, StoreError>;

    /// Like [`Querier::select`], but answers `None` when more than `max_series` series match,
    /// deciding before the samples are loaded where the implementation can, so a query that
    /// would select millions of series is refused without the memory it would take.
    fn select_at_most(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
        max_series: usize,
    ) -> Result<Option<Vec<SeriesData>>, StoreError> {
        let series = self.select(matchers, range)?;
        Ok((series.len() <= max_series).then_some(series))
    }

    /// Label names used by series that match (all series when `matchers` is empty), sorted.
    fn label_names(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError>;

    /// Values of `name` among matching series, sorted.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError>;
}

/// A store that hands out appenders and answers queries.
pub trait Storage: Querier {
    /// A fresh, empty batch.
    fn appender(&self) -> Box<dyn Appender>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_follow_prometheus_semantics() {
        let labels = Labels::new().with("__name__", "up").with("job", "api");
        let re = |p: &str| AnchoredRegex::new(p).unwrap();
        let m = |name: &str, op| Matcher {
            name: name.into(),
            op,
        };
        assert!(Matcher::all_match(&[Matcher::equal("job", "api")], &labels));
        assert!(!Matcher::all_match(&[Matcher::equal("job", "ap")], &labels));
        // Regexes are anchored: "ap" does not match "api".
        assert!(!m("job", MatchOp::Regex(re("ap"))).matches("api"));
        assert!(m("job", MatchOp::Regex(re("api|web"))).matches("api"));
        // An absent label is the empty string.
        assert!(Matcher::all_match(&[Matcher::equal("zone", "")], &labels));
        assert!(m("zone", MatchOp::NotRegex(re("eu.*"))).matches_empty());
        assert_eq!(
            m("job", MatchOp::NotRegex(re("a|b"))).to_string(),
            r#"job!~"a|b""#
        );
    }
}
