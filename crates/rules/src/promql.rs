//! The PromQL evaluator. `promql-parser` turns text into an [`Expr`]; everything after that is
//! ours: selecting series through [`model::Querier`], lookback and staleness, functions,
//! aggregations, vector matching and subqueries, with Prometheus' semantics.
//!
//! The value types live in [`model::query`] (re-exported here) so the query API can return them.
//!
//! Contract shared by the parts of this module (each in its own file under `promql/`):
//! - times are milliseconds since the Unix epoch (`model::Timestamp.0`), durations milliseconds;
//! - [`Engine::instant`] evaluates at one instant, [`Engine::range`] at every step of a range
//!   and returns a matrix; both fetch each selector's data once per query;
//! - functions are called through [`functions::call`] with already-evaluated arguments;
//! - the text is prepared before `promql-parser` reads it (`query_text`: Prometheus 3 duration
//!   expressions, `info()` selectors, the `anchored` and `smoothed` modifiers), so
//!   [`parse_for`] needs to know the query's step and range;
//! - a dropped metric name is only marked until the evaluation ends (`name_drop`), as in
//!   Prometheus 3; [`Engine`] results never carry the mark.

pub mod annotations;
mod engine;
mod error;
pub mod functions;
mod name_drop;
mod numeric;
mod query_text;
pub mod selectors;

pub use annotations::{Annotation, Annotations};
pub use engine::{Engine, EngineOptions, PreparedExpr};
pub use error::EvalError;
pub use model::query::{
    InstantSample, Matrix, Point, RangeSeries, STALE_NAN_BITS, Value, Vector, is_stale_nan,
};
pub use promql_parser::parser::Expr;
pub use query_text::{DurationContext, RangeModifier};

/// A selector's matchers in the store's terms: one set per `or` alternative, each with the
/// metric name when the selector names one. Regexes are anchored as PromQL anchors them.
pub fn selector_matchers(
    vs: &promql_parser::parser::VectorSelector,
) -> Result<Vec<Vec<model::Matcher>>, EvalError> {
    engine::matcher_sets(vs)
}

/// Parses a PromQL expression to be evaluated as an instant query (or a rule), with the
/// parser's message on failure. Periscope's own functions (the forecasts of
/// [`crate::forecast`]) are known to the parser from the first call on.
///
/// Duration expressions (`x[26m+4m]`, `offset step()`) are computed with `step()` and
/// `range()` zero, as for any instant query; a range query's text goes through
/// [`parse_for`] with its own step and range.
pub fn parse(query: &str) -> Result<Expr, EvalError> {
    parse_for(query, DurationContext::INSTANT)
}

/// Parses PromQL as Prometheus does without its experimental features, which is how promtool
/// checks rule files: Periscope's forecast functions are known, but the `anchored`/`smoothed`
/// modifiers and duration arithmetic (`x[1m * 2]`) are refused, as promtool refuses them.
pub fn parse_standard(query: &str) -> Result<Expr, EvalError> {
    crate::forecast::register_parser_functions().map_err(|e| EvalError::Parse(e.to_string()))?;
    query_text::parse_plain(query).map_err(EvalError::Parse)
}

/// Parses a PromQL expression to be evaluated in `context`: what `step()` and `range()` stand
/// for in its duration expressions.
pub fn parse_for(query: &str, context: DurationContext) -> Result<Expr, EvalError> {
    crate::forecast::register_parser_functions().map_err(|e| EvalError::Parse(e.to_string()))?;
    query_text::parse(query, context)
}
