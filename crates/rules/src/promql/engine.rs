//! Evaluating an expression against a querier.

use model::Querier;

use super::{EvalError, Expr, Value};

/// Limits and defaults of the evaluator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// How far back a selector looks for the latest sample, in milliseconds (Prometheus: 5 min).
    pub lookback_ms: i64,
    /// Most series one selector may return.
    pub max_series: usize,
    /// Most samples a query may hold in memory at once.
    pub max_samples: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            max_series: 1_000_000,
            max_samples: 50_000_000,
        }
    }
}

/// The evaluator. Cheap to copy; holds no data between queries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Engine {
    /// Limits and defaults.
    pub options: EngineOptions,
}

impl Engine {
    /// An evaluator with these options.
    pub fn new(options: EngineOptions) -> Self {
        Engine { options }
    }

    /// Evaluates `expr` at instant `t` (milliseconds).
    pub fn instant(&self, querier: &dyn Querier, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        let _ = (querier, expr, t);
        Err(EvalError::Invalid(
            "evaluation is not implemented yet".into(),
        ))
    }

    /// Evaluates `expr` at `start`, `start + step`, ... up to `end` (all milliseconds) and returns
    /// a [`Value::Matrix`] (a scalar result becomes one series without labels).
    pub fn range(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value, EvalError> {
        let _ = (querier, expr, start, end, step);
        Err(EvalError::Invalid(
            "evaluation is not implemented yet".into(),
        ))
    }
}
