//! The values a PromQL expression evaluates to: shared by the evaluator (`rules`), the query
//! API (`web`) and the CLI, so results cross those seams without conversion.

use crate::Labels;

/// Prometheus' staleness marker: a NaN with exactly these bits ends a series (a target went
/// away, a rule stopped producing it). Selectors never return it as a value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True when `v` is the staleness marker (not any other NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample of a range: a time in milliseconds and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    /// The series' labels (the metric name already removed where PromQL drops it).
    pub labels: Labels,
    /// For a sample straight from a selector, the stored sample's own time (what `timestamp()`
    /// returns); for computed samples, the evaluation instant.
    pub t: i64,
    /// The value.
    pub value: f64,
}

/// An instant vector: at most one sample per label set.
pub type Vector = Vec<InstantSample>;

/// One series of a range vector: the points inside the window, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Points inside the window, ascending by time, stale markers removed.
    pub points: Vec<Point>,
    /// The points' start timestamps (ms, `0` for none), one per point, when the series came
    /// straight from a selector over data that has them; empty otherwise (a subquery's or a
    /// function's points have none).
    pub start_times: Vec<i64>,
}

/// A range vector (or a range query's result).
pub type Matrix = Vec<RangeSeries>;

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A single number at the evaluation instant.
    Scalar {
        /// The evaluation instant.
        t: i64,
        /// The number.
        v: f64,
    },
    /// A string literal.
    String {
        /// The evaluation instant.
        t: i64,
        /// The text.
        v: String,
    },
    /// An instant vector.
    Vector(Vector),
    /// A range vector, or the result of a range query.
    Matrix(Matrix),
}
