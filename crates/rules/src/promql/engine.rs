//! Evaluating an expression against a querier.
//!
//! A query runs in two phases. First every selector's data is fetched once, over the whole span
//! the query can look at (a range query's steps, offsets, `@`, lookback, ranges and subqueries
//! included): one [`Querier::select`] per selector, never one per step. Then the expression is
//! evaluated instant by instant from that memory, so a range query is a loop of instant
//! evaluations that share the fetched series.
//!
//! Times are milliseconds; windows are left-open, `(t - range, t]`, as in Prometheus 3.

mod aggregate;
mod binary;
mod fetch;

pub(super) use fetch::matcher_sets;
pub use prepared::PreparedExpr;
mod info;
pub(in crate::promql) mod labels;
mod modifiers;
mod prepared;
mod subquery;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use model::{Labels, Querier};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{AtModifier, Call, Offset};

use super::annotations::Notes;
use super::functions::{self, Arg, CallContext};
use super::{Annotations, EvalError, Expr, Matrix, Point, RangeSeries, Value, Vector};

/// The step of a subquery written without one (`x[1h:]`): Prometheus uses its global evaluation
/// interval, whose default is one minute, for instant and range queries alike.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Limits and defaults of the evaluator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// How far back a selector looks for the latest sample, in milliseconds (Prometheus: 5 min).
    pub lookback_ms: i64,
    /// Most series one selector may return.
    pub max_series: usize,
    /// Most samples a query may hold in memory at once.
    pub max_samples: usize,
    /// The step of a subquery written without one, in milliseconds: Prometheus' global
    /// evaluation interval ([`DEFAULT_SUBQUERY_STEP_MS`] unless set).
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            max_series: 1_000_000,
            max_samples: 50_000_000,
            default_subquery_step_ms: DEFAULT_SUBQUERY_STEP_MS,
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
    ///
    /// Samples that come straight from a selector carry their stored time; every computed
    /// sample carries `t`.
    pub fn instant(&self, querier: &dyn Querier, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        self.instant_annotated(querier, expr, t)
            .map(|(value, _)| value)
    }

    /// [`Engine::instant`] with the warnings and infos the evaluation gave.
    pub fn instant_annotated(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        let expr = info::with_info_selectors(expr)?;
        let ev = Evaluator::prepare(self.options, querier, &expr, t, t, 0, &[])?;
        let mut value = ev.eval(&expr, t)?;
        crate::promql::name_drop::finish_value(&mut value)?;
        Ok((value, ev.notes.take()))
    }

    /// [`Engine::range`] with the warnings and infos the evaluation gave.
    pub fn range_annotated(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        let (value, ev) = self.range_with(querier, expr, start, end, step)?;
        Ok((value, ev.notes.take()))
    }

    /// Evaluates `expr` at `start`, `start + step`, ... up to `end` (all milliseconds) and returns
    /// a [`Value::Matrix`] (a scalar result becomes one series without labels), sorted by labels.
    pub fn range(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value, EvalError> {
        self.range_with(querier, expr, start, end, step)
            .map(|(value, _)| value)
    }

    /// A range query, and the evaluator that ran it (holding its annotations).
    fn range_with(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Evaluator), EvalError> {
        if step <= 0 {
            return Err(EvalError::Invalid(format!(
                "range query step must be positive, got {step} ms"
            )));
        }
        if end < start {
            return Err(EvalError::Invalid(format!(
                "range query end ({end}) is before its start ({start})"
            )));
        }
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(EvalError::Invalid(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    type_name(other)
                )));
            }
        }
        let expr = info::with_info_selectors(expr)?;
        let ev = Evaluator::prepare(self.options, querier, &expr, start, end, step, &[])?;
        let mut out: Matrix = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut points = 0usize;
        let mut t = start;
        while t <= end {
            match ev.eval(&expr, t)? {
                Value::Scalar { v, .. } => {
                    push_point(&mut out, &mut index, Labels::new(), Point { t, v });
                    points += 1;
                }
                Value::Vector(mut vector) => {
                    // Each step's result is final: names marked for removal go now, and
                    // series that then share their labels at different steps are one series.
                    crate::promql::name_drop::finish_vector(&mut vector)?;
                    points += vector.len();
                    for s in vector {
                        push_point(&mut out, &mut index, s.labels, Point { t, v: s.value });
                    }
                }
                other => {
                    return Err(EvalError::Invalid(format!(
                        "range query step produced a {}, expected a scalar or instant vector",
                        value_name(&other)
                    )));
                }
            }
            ev.check_samples(points)?;
            t += step;
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        Ok((Value::Matrix(out), ev))
    }
}

/// Appends a point to the series with these labels, creating it on first sight.
fn push_point(out: &mut Matrix, index: &mut HashMap<Labels, usize>, labels: Labels, p: Point) {
    match index.get(&labels) {
        Some(&i) => out[i].points.push(p),
        None => {
            index.insert(labels.clone(), out.len());
            out.push(RangeSeries {
                labels,
                points: vec![p],
                start_times: Vec::new(),
            });
        }
    }
}

/// The name PromQL error messages use for a value type.
fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}

/// The name PromQL error messages use for an evaluated value.
fn value_name(v: &Value) -> &'static str {
    match v {
        Value::Scalar { .. } => "scalar",
        Value::String { .. } => "string",
        Value::Vector(_) => "instant vector",
        Value::Matrix(_) => "range vector",
    }
}

/// A `std::time::Duration` from the parser as milliseconds (saturating; no query needs more
/// than 292 million years).
fn millis(d: &std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An `offset` as signed milliseconds (`offset -5m` looks into the future).
fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => -millis(d),
    }
}

/// One query's state: the fetched series and the query's own start, end and step (what
/// `@ start()`, `@ end()` and the functions `start()`, `end()`, `range()`, `step()` mean).
pub(super) struct Evaluator {
    options: EngineOptions,
    start: i64,
    end: i64,
    /// The range query's step; 0 for an instant query.
    step: i64,
    data: fetch::Fetched,
    /// Inner results of subqueries by instant, reused by the next steps of a range query.
    subqueries: subquery::Cache,
    /// Warnings and infos given while evaluating.
    notes: Notes,
}

/// Functions whose only effect is an order, which a range query's result does not keep.
const SORTING_FUNCTIONS: [&str; 4] = ["sort", "sort_desc", "sort_by_label", "sort_by_label_desc"];

impl Evaluator {
    /// Fetches every selector's data for a query evaluated at instants in `[start, end]`;
    /// `known` has the matchers of (some of) its selectors converted already.
    fn prepare(
        options: EngineOptions,
        querier: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        known: &prepared::KnownMatchers,
    ) -> Result<Self, EvalError> {
        let mut ev = Evaluator {
            options,
            start,
            end,
            step,
            data: fetch::Fetched::default(),
            subqueries: subquery::Cache::default(),
            notes: Notes::default(),
        };
        ev.data = fetch::fetch_all(&ev, querier, expr, known)?;
        Ok(ev)
    }

    /// The instant `@` pins a selector or subquery to.
    fn at_time(&self, at: &AtModifier) -> i64 {
        match at {
            AtModifier::Start => self.start,
            AtModifier::End => self.end,
            AtModifier::At(time) => match time.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => millis(&d),
                Err(before) => -millis(&before.duration()),
            },
        }
    }

    /// The instant a selector or subquery evaluated at `t` actually looks at.
    fn ref_time(&self, at: Option<&AtModifier>, offset: Option<&Offset>, t: i64) -> i64 {
        let base = at.map_or(t, |a| self.at_time(a));
        base - offset_ms(offset)
    }

    /// Fails when a query would hold more than the allowed samples: those fetched plus `extra`.
    fn check_samples(&self, extra: usize) -> Result<(), EvalError> {
        if self.data.samples.saturating_add(extra) > self.options.max_samples {
            return Err(EvalError::TooManySamples {
                limit: self.options.max_samples,
            });
        }
        Ok(())
    }

    /// Evaluates `expr` at instant `t`.
    fn eval(&self, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar { t, v: n.val }),
            Expr::StringLiteral(s) => Ok(Value::String {
                t,
                v: s.val.clone(),
            }),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar { v, .. } => Ok(Value::Scalar { t, v: -v }),
                Value::Vector(mut vector) => {
                    for s in &mut vector {
                        s.value = -s.value;
                        s.t = t;
                        crate::promql::name_drop::mark(&mut s.labels);
                    }
                    crate::promql::numeric::ensure_unique(&vector)?;
                    Ok(Value::Vector(vector))
                }
                other => Err(EvalError::Invalid(format!(
                    "unary minus needs a scalar or instant vector, got {}",
                    value_name(&other)
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.data.instant(self, vs, t)?)),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(self.data.range_value(self, ms, t)?)),
            Expr::Subquery(_) => Ok(Value::Matrix(self.eval_range_vector(expr, t)?.0)),
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Call(c) => self.eval_call(c, t),
            Expr::Extension(e) => Err(EvalError::Invalid(format!(
                "extension expression {} is not supported",
                e.expr.name()
            ))),
        }
    }

    /// Evaluates an expression of range-vector type at `t`, with the window its points come
    /// from as `(start, end]`.
    fn eval_range_vector(&self, expr: &Expr, t: i64) -> Result<(Matrix, (i64, i64)), EvalError> {
        match expr {
            Expr::MatrixSelector(ms) => self.data.range(self, ms, t),
            Expr::Subquery(sq) => subquery::eval(self, sq, t),
            Expr::Paren(p) => self.eval_range_vector(&p.expr, t),
            other => Err(EvalError::Invalid(format!(
                "expected a range vector, got {}",
                type_name(other.value_type())
            ))),
        }
    }

    /// `start_timestamp(v)`: the start timestamps of a selector's samples. Only a selector's
    /// samples carry them, so for any other expression the result is empty.
    fn start_timestamp(&self, call: &Call, t: i64) -> Result<Value, EvalError> {
        let [arg] = call.args.args.as_slice() else {
            return Err(EvalError::Invalid(format!(
                "function start_timestamp() takes one argument, got {}",
                call.args.args.len()
            )));
        };
        let mut arg = &**arg;
        while let Expr::Paren(p) = arg {
            arg = &p.expr;
        }
        match arg {
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.data.start_timestamps(self, vs, t)?)),
            other => {
                // Evaluated all the same, so an expression that fails still reports its error.
                self.eval(other, t)?;
                Ok(Value::Vector(Vector::new()))
            }
        }
    }

    /// Evaluates the arguments of a function call and calls it.
    fn eval_call(&self, call: &Call, t: i64) -> Result<Value, EvalError> {
        // Functions of the query's own range are the engine's to answer (in seconds).
        let of_query = match call.func.name {
            "start" => Some(self.start),
            "end" => Some(self.end),
            "range" => Some(self.end - self.start),
            "step" => Some(self.step),
            _ => None,
        };
        if let Some(ms) = of_query {
            return Ok(Value::Scalar {
                t,
                v: ms as f64 / 1000.0,
            });
        }
        if call.func.name == "start_timestamp" {
            return self.start_timestamp(call, t);
        }
        modifiers::check_call(call)?;
        let exprs = &call.args.args;
        let mut args = Vec::with_capacity(exprs.len());
        let mut window = None;
        let mut modifier = None;
        for e in exprs {
            if e.value_type() == ValueType::Matrix {
                let (m, w) = self.eval_range_vector(e, t)?;
                window = Some(w);
                modifier = modifiers::of_range_argument(e);
                args.push(Arg::Matrix(m));
                continue;
            }
            args.push(match self.eval(e, t)? {
                Value::Scalar { v, .. } => Arg::Scalar(v),
                Value::String { v, .. } => Arg::String(v),
                Value::Vector(v) => Arg::Vector(v),
                Value::Matrix(m) => Arg::Matrix(m),
            });
        }
        let ctx = CallContext {
            t,
            window,
            modifier,
            arg_exprs: exprs,
            notes: &self.notes,
        };
        if self.step > 0 && SORTING_FUNCTIONS.contains(&call.func.name) {
            self.notes.warn(
                "sort is ineffective for range queries since results are always ordered by labels",
                Some(&Expr::Call(call.clone())),
            );
        }
        let out = functions::call(call.func.name, args, &ctx)?;
        if let Value::Vector(v) = &out {
            // Functions that drop the metric name can merge series; PromQL refuses that.
            crate::promql::numeric::ensure_unique(v)?;
        }
        Ok(out)
    }
}
