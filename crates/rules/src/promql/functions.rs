//! PromQL functions. The evaluator evaluates the arguments and calls [`call`]; each family of
//! functions lives in its own file under `functions/`:
//! - `range`: the rate family and the other functions that look at how a series moves inside a
//!   window (rate, increase, delta, irate, idelta, deriv, predict_linear, resets, changes,
//!   double_exponential_smoothing);
//! - `counter_starts`: what the counter functions read from samples' start timestamps;
//! - `extended`: the arithmetic of the `anchored` and `smoothed` modifiers;
//! - `over_time`: the `*_over_time` aggregations of each series' points, and absent_over_time;
//! - `math`: element-wise arithmetic on instant vectors, and the scalar functions;
//! - `time`: the calendar functions (UTC);
//! - `labels`: label_replace, label_join, the sorts and absent;
//! - `histogram`: histogram_quantile and friends over classic `le` buckets;
//! - `info`: info(), the join with info series such as `target_info`.
//!
//! Semantics follow Prometheus' documentation and its `promqltest` scripts. Only float samples
//! exist here, so the native-histogram functions (`histogram_count`, `histogram_sum`, ...) see
//! no histogram and return nothing, as Prometheus does for float input.

mod counter_starts;
pub(in crate::promql) mod extended;
mod histogram;
mod info;
mod labels;
mod math;
mod over_time;
mod range;
mod time;

use model::Labels;
use promql_parser::parser::Expr;

use super::annotations::Notes;
use super::{EvalError, Matrix, Point, RangeModifier, RangeSeries, Value, Vector};
use crate::promql::InstantSample;

/// A function argument after evaluation at one instant.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A number.
    Scalar(f64),
    /// A string.
    String(String),
    /// An instant vector.
    Vector(Vector),
    /// A range vector: the points of each series inside [`CallContext::window`].
    Matrix(Matrix),
}

impl Arg {
    /// How the argument's type is called in messages.
    fn kind(&self) -> &'static str {
        match self {
            Arg::Scalar(_) => "a scalar",
            Arg::String(_) => "a string",
            Arg::Vector(_) => "an instant vector",
            Arg::Matrix(_) => "a range vector",
        }
    }
}

/// What a function may need besides its arguments.
#[derive(Clone, Copy, Debug)]
pub struct CallContext<'a> {
    /// The evaluation instant, in milliseconds.
    pub t: i64,
    /// For a function taking a range vector: the window its points were taken from, as
    /// `(start, end)` with `start` excluded and `end` included (offset and `@` already applied).
    pub window: Option<(i64, i64)>,
    /// The modifier of the range selector argument (`rate(x[5m] anchored)`): its points then
    /// reach past the window as [`RangeModifier`] says.
    pub modifier: Option<RangeModifier>,
    /// The unevaluated argument expressions (`absent` builds its labels from the selector).
    pub arg_exprs: &'a [Box<Expr>],
    /// Where warnings and infos about the call go.
    pub notes: &'a Notes,
}

impl CallContext<'_> {
    /// Adds a warning about argument `arg` (its position is what the message points at).
    pub fn warn(&self, message: impl Into<String>, arg: usize) {
        self.notes
            .warn(message, self.arg_exprs.get(arg).map(|e| &**e));
    }

    /// Adds an info about argument `arg`.
    pub fn info(&self, message: impl Into<String>, arg: usize) {
        self.notes
            .info(message, self.arg_exprs.get(arg).map(|e| &**e));
    }
}

/// Calls the function `name` (as the parser spells it) with evaluated arguments.
///
/// A vector result never holds two samples with the same labels: when dropping the metric name
/// or relabelling makes two series collide, the call fails, as in Prometheus.
pub fn call(name: &str, args: Vec<Arg>, ctx: &CallContext<'_>) -> Result<Value, EvalError> {
    // Periscope's own forecasting functions (registered with the parser by `promql::parse`).
    if let Some(result) = crate::forecast::evaluate_forecast_function(name, &args, ctx.t) {
        return result;
    }
    let mut args = Args::new(name, args);
    let value = dispatch(name, &mut args, ctx)?;
    if let Value::Vector(v) = &value {
        super::numeric::ensure_unique(v)?;
    }
    Ok(value)
}

/// Finds the family that implements `name`.
fn dispatch(name: &str, args: &mut Args, ctx: &CallContext<'_>) -> Result<Value, EvalError> {
    if let Some(v) = range::call(name, args, ctx)? {
        return Ok(v);
    }
    if let Some(v) = over_time::call(name, args, ctx)? {
        return Ok(v);
    }
    if let Some(v) = math::call(name, args, ctx)? {
        return Ok(v);
    }
    if let Some(v) = time::call(name, args, ctx)? {
        return Ok(v);
    }
    if let Some(v) = labels::call(name, args, ctx)? {
        return Ok(v);
    }
    if let Some(v) = histogram::call(name, args, ctx)? {
        return Ok(v);
    }
    if let Some(v) = info::call(name, args, ctx)? {
        return Ok(v);
    }
    Err(EvalError::Invalid(match name {
        "start" | "end" | "range" | "step" => format!(
            "function {name}() depends on the query's range and must be evaluated by the engine"
        ),
        _ => format!("function {name}() is not supported"),
    }))
}

/// The evaluated arguments of one call, taken one by one with type checks that name the
/// function and the argument.
struct Args {
    /// The function, for messages.
    func: String,
    /// The arguments; `None` once taken.
    items: Vec<Option<Arg>>,
}

impl Args {
    fn new(func: &str, items: Vec<Arg>) -> Self {
        Args {
            func: func.to_string(),
            items: items.into_iter().map(Some).collect(),
        }
    }

    /// Number of arguments given.
    fn len(&self) -> usize {
        self.items.len()
    }

    /// An error about this call.
    fn invalid(&self, message: impl std::fmt::Display) -> EvalError {
        EvalError::Invalid(format!("{}(): {message}", self.func))
    }

    /// Fails unless between `min` and `max` arguments were given.
    fn expect_count(&self, min: usize, max: usize) -> Result<(), EvalError> {
        let n = self.items.len();
        if n < min || n > max {
            let wanted = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.invalid(format_args!("expected {wanted} argument(s), got {n}")));
        }
        Ok(())
    }

    /// Takes argument `i` (0-based) out of the list.
    fn take(&mut self, i: usize) -> Result<Arg, EvalError> {
        match self.items.get_mut(i).and_then(Option::take) {
            Some(a) => Ok(a),
            None => Err(self.invalid(format_args!("argument {} is missing", i + 1))),
        }
    }

    fn wrong(&self, i: usize, wanted: &str, got: &Arg) -> EvalError {
        self.invalid(format_args!(
            "argument {} must be {wanted}, got {}",
            i + 1,
            got.kind()
        ))
    }

    /// Argument `i` as an instant vector.
    fn vector(&mut self, i: usize) -> Result<Vector, EvalError> {
        match self.take(i)? {
            Arg::Vector(v) => Ok(v),
            other => Err(self.wrong(i, "an instant vector", &other)),
        }
    }

    /// Argument `i` as a range vector.
    fn matrix(&mut self, i: usize) -> Result<Matrix, EvalError> {
        match self.take(i)? {
            Arg::Matrix(m) => Ok(m),
            other => Err(self.wrong(i, "a range vector", &other)),
        }
    }

    /// Argument `i` as a number.
    fn scalar(&mut self, i: usize) -> Result<f64, EvalError> {
        match self.take(i)? {
            Arg::Scalar(v) => Ok(v),
            other => Err(self.wrong(i, "a scalar", &other)),
        }
    }

    /// Argument `i` as a string.
    fn string(&mut self, i: usize) -> Result<String, EvalError> {
        match self.take(i)? {
            Arg::String(s) => Ok(s),
            other => Err(self.wrong(i, "a string", &other)),
        }
    }
}

/// Marks the metric name for removal: the value no longer measures what the name says. It
/// goes when the evaluation ends, with `__type__` and `__unit__` (see `promql::name_drop`).
fn drop_name(labels: &mut Labels) {
    super::name_drop::mark(labels);
}

/// Applies `f` to every series of a range vector that has points in the window; a series for
/// which `f` returns `None` is left out. The result carries the evaluation instant and, unless
/// `keep_name`, a metric name marked for removal.
fn per_series(
    m: Matrix,
    ctx: &CallContext<'_>,
    keep_name: bool,
    mut f: impl FnMut(&[Point]) -> Option<f64>,
) -> Vector {
    per_range_series(m, ctx, keep_name, |s| f(&s.points))
}

/// [`per_series`] for functions that need more of a series than its points (its start
/// timestamps, its labels).
fn per_range_series(
    m: Matrix,
    ctx: &CallContext<'_>,
    keep_name: bool,
    mut f: impl FnMut(&RangeSeries) -> Option<f64>,
) -> Vector {
    let mut out = Vector::with_capacity(m.len());
    for mut series in m {
        if series.points.is_empty() {
            continue;
        }
        let Some(value) = f(&series) else {
            continue;
        };
        if !keep_name {
            drop_name(&mut series.labels);
        }
        out.push(InstantSample {
            labels: series.labels,
            t: ctx.t,
            value,
        });
    }
    out
}

/// The minimum as Go's `math.Min` defines it (NaN wins), which Prometheus relies on.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The maximum as Go's `math.Max` defines it (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// The warning for a quantile outside [0, 1] (Prometheus' wording).
pub(super) fn invalid_quantile(q: f64) -> String {
    format!(
        "quantile value should be between 0 and 1, got {}",
        super::annotations::show_number(q)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`call`] with the result as the engine returns it: names marked for removal removed.
    pub(super) fn call_finished(
        name: &str,
        args: Vec<Arg>,
        ctx: &CallContext<'_>,
    ) -> Result<Value, EvalError> {
        let mut value = call(name, args, ctx)?;
        crate::promql::name_drop::finish_value(&mut value)?;
        Ok(value)
    }

    pub(super) fn ctx(t: i64, window: Option<(i64, i64)>) -> CallContext<'static> {
        CallContext {
            t,
            window,
            modifier: None,
            arg_exprs: &[],
            // A test's few leaked bytes; Notes is not Sync, so it cannot be a static.
            notes: Box::leak(Box::default()),
        }
    }

    #[test]
    fn unknown_function_is_named_in_the_error() {
        let err = call("no_such_fn", vec![], &ctx(0, None)).unwrap_err();
        assert!(err.to_string().contains("no_such_fn()"), "{err}");
    }

    #[test]
    fn wrong_argument_type_names_function_and_argument() {
        let err = call("abs", vec![Arg::Scalar(1.0)], &ctx(0, None)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("abs()") && msg.contains("argument 1"), "{msg}");
        assert!(msg.contains("instant vector"), "{msg}");
    }

    #[test]
    fn a_dropped_name_is_only_marked_until_the_evaluation_ends() {
        let v = vec![
            InstantSample {
                labels: Labels::new().with("__name__", "a").with("x", "1"),
                t: 0,
                value: -1.0,
            },
            InstantSample {
                labels: Labels::new().with("__name__", "b").with("x", "1"),
                t: 0,
                value: 2.0,
            },
        ];
        let Value::Vector(out) = call("abs", vec![Arg::Vector(v)], &ctx(0, None)).unwrap() else {
            panic!("abs() returns a vector");
        };
        // Both names are still there, marked; the engine removes them at the end and then
        // refuses the two series with the same labels.
        assert_eq!(out[0].labels.get("__name__"), Some("a"));
        assert!(
            out.iter()
                .all(|s| crate::promql::name_drop::is_marked(&s.labels))
        );
        let mut out = out;
        let err = crate::promql::name_drop::finish_vector(&mut out).unwrap_err();
        assert!(err.to_string().contains("same labelset"), "{err}");
    }
}
