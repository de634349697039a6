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
//! - functions are called through [`functions::call`] with already-evaluated arguments.

pub mod annotations;
mod engine;
mod error;
pub mod functions;
mod numeric;

pub use annotations::{Annotation, Annotations};
pub use engine::{Engine, EngineOptions};
pub use error::EvalError;
pub use model::query::{
    InstantSample, Matrix, Point, RangeSeries, STALE_NAN_BITS, Value, Vector, is_stale_nan,
};
pub use promql_parser::parser::Expr;

/// A selector's matchers in the store's terms: one set per `or` alternative, each with the
/// metric name when the selector names one. Regexes are anchored as PromQL anchors them.
pub fn selector_matchers(
    vs: &promql_parser::parser::VectorSelector,
) -> Result<Vec<Vec<model::Matcher>>, EvalError> {
    engine::matcher_sets(vs)
}

/// Parses a PromQL expression, with the parser's message on failure. Periscope's own functions
/// (the forecasts of [`crate::forecast`]) are known to the parser from the first call on.
pub fn parse(query: &str) -> Result<Expr, EvalError> {
    crate::forecast::register_parser_functions().map_err(|e| EvalError::Parse(e.to_string()))?;
    promql_parser::parser::parse(query).map_err(EvalError::Parse)
}
