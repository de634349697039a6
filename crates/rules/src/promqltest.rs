//! A runner for Prometheus' PromQL test scripts (`load`, `clear`, `eval instant`, `eval range`
//! with their `expect` lines), over an in-memory [`MemoryQuerier`] and our evaluator.
//!
//! It measures the evaluator rather than stopping at the first difference: every `eval` becomes
//! a [`CaseReport`] that passed, failed with a one-line reason, or was skipped. A case is
//! judged as Prometheus' own runner judges it: the instant query, the same query with every
//! selector pinned by `@` and evaluated at other times, and the same query run as a range query
//! around the instant must all give the expected result; floats compare with a relative
//! tolerance of 1e-6.
//!
//! What Periscope cannot represent is counted apart rather than failed: cases whose data or
//! expected result holds native histogram samples (`{{...}}`, `load_with_nhcb`) are skipped.
//! Start timestamps (`metric@st` lines) load with their samples, and the counter functions
//! use them as Prometheus does.
//! A range case's `step()` and `range()` in duration expressions are its own step and range;
//! an instant case's are zero, as in Prometheus.

mod compare;
mod querier;
mod runner;
mod script;
mod series;
mod start_times;
#[cfg(test)]
mod tests;

use model::Querier;

pub use compare::almost_equal;
pub use querier::MemoryQuerier;
pub use series::{SeqValue, parse_metric, parse_series};

use crate::promql::{Annotations, Engine, EvalError, Expr, Value};

/// What runs the queries: our [`Engine`], or anything that answers like it.
pub trait Evaluator {
    /// Evaluates `expr` at `t` (ms), as [`Engine::instant`].
    fn instant(&self, querier: &dyn Querier, expr: &Expr, t: i64) -> Result<Value, EvalError>;

    /// Evaluates `expr` over a range (ms), as [`Engine::range`]: a matrix sorted by labels.
    fn range(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value, EvalError>;

    /// [`Evaluator::instant`] with the annotations it gave; none unless the evaluator has them.
    fn instant_annotated(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        self.instant(querier, expr, t)
            .map(|v| (v, Annotations::default()))
    }

    /// [`Evaluator::range`] with the annotations it gave.
    fn range_annotated(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        self.range(querier, expr, start, end, step)
            .map(|v| (v, Annotations::default()))
    }
}

impl Evaluator for Engine {
    fn instant(&self, querier: &dyn Querier, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        Engine::instant(self, querier, expr, t)
    }

    fn range(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value, EvalError> {
        Engine::range(self, querier, expr, start, end, step)
    }

    fn instant_annotated(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        Engine::instant_annotated(self, querier, expr, t)
    }

    fn range_annotated(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        Engine::range_annotated(self, querier, expr, start, end, step)
    }
}

/// A script that cannot be run at all: the line and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{script}:{line}: {message}")]
pub struct ScriptError {
    /// The script's name as given to [`run_script`].
    pub script: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Why a case was not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The case's data or expected result holds native histogram samples, which Periscope's
    /// store does not hold.
    NativeHistograms,
    /// The case lies between `ignore` and `resume`.
    Ignored,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::NativeHistograms => "native histograms",
            SkipReason::Ignored => "ignored by the script",
        })
    }
}

/// How one `eval` came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check of the case held.
    Passed,
    /// The first check that did not hold, in one line.
    Failed(String),
    /// The case was not run.
    Skipped(SkipReason),
}

/// One `eval` command and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseReport {
    /// 1-based line of the `eval` line.
    pub line: usize,
    /// The expression as written.
    pub expr: String,
    /// How it came out.
    pub outcome: Outcome,
}

/// Every case of one script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptReport {
    /// The script's name.
    pub name: String,
    /// The cases in script order.
    pub cases: Vec<CaseReport>,
}

impl ScriptReport {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Cases not run, for any reason.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    /// Cases run (passed or failed): the denominator of the pass rate.
    pub fn run(&self) -> usize {
        self.passed() + self.failed()
    }

    /// The failed cases with their reasons.
    pub fn failures(&self) -> impl Iterator<Item = (&CaseReport, &str)> {
        self.cases.iter().filter_map(|c| match &c.outcome {
            Outcome::Failed(reason) => Some((c, reason.as_str())),
            _ => None,
        })
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }
}

/// Runs a script against our [`Engine`] with default options. Fails only when the script
/// itself cannot be read; every case's outcome is in the report.
pub fn run_script(name: &str, text: &str) -> Result<ScriptReport, ScriptError> {
    run_script_with(&Engine::default(), name, text)
}

/// Runs a script of the crate's own tests and fails the test unless it has cases and every
/// one passed, naming the first that did not.
#[cfg(test)]
pub(crate) fn assert_script_passes(name: &str, text: &str) {
    let report = run_script(name, text).unwrap();
    assert!(!report.cases.is_empty(), "{name}: no cases");
    for case in &report.cases {
        assert_eq!(
            case.outcome,
            Outcome::Passed,
            "{name} line {}: {}",
            case.line,
            case.expr
        );
    }
}

/// Runs a script against any [`Evaluator`].
pub fn run_script_with(
    evaluator: &dyn Evaluator,
    name: &str,
    text: &str,
) -> Result<ScriptReport, ScriptError> {
    let commands = script::parse_script(name, text)?;
    Ok(ScriptReport {
        name: name.to_string(),
        cases: runner::run(evaluator, &commands),
    })
}
