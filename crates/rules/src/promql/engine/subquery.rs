//! Subqueries: `expr[range:step]` evaluates `expr` at every multiple of `step` inside the
//! window `(ref - range, ref]` and returns the results as a range vector. Steps are aligned to
//! absolute multiples of the step (not to the query's start), as Prometheus aligns them, so
//! consecutive evaluations see the same inner instants. A range query therefore keeps the inner
//! results in a [`Cache`] and evaluates each inner instant once, not once per outer step.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use model::Labels;
use promql_parser::parser::SubqueryExpr;

use super::{Evaluator, millis, value_name};
use crate::promql::{EvalError, InstantSample, Matrix, Point, RangeSeries, Value, Vector};

/// Inner results per subquery node (by address, valid while the query's expression is
/// borrowed) and inner instant. The result of an expression at an instant depends on nothing
/// else within one query, so reuse is always exact.
#[derive(Default)]
pub(super) struct Cache(RefCell<Vec<(*const SubqueryExpr, BTreeMap<i64, Vector>)>>);

impl Cache {
    /// The cached result of `sq`'s inner expression at `ts`.
    fn get(&self, sq: &SubqueryExpr, ts: i64) -> Option<Vector> {
        let cache = self.0.borrow();
        let (_, by_time) = cache.iter().find(|(k, _)| std::ptr::eq(*k, sq))?;
        by_time.get(&ts).cloned()
    }

    /// Remembers `sq`'s inner result at `ts`.
    fn put(&self, sq: &SubqueryExpr, ts: i64, v: Vector) {
        let mut cache = self.0.borrow_mut();
        match cache.iter_mut().find(|(k, _)| std::ptr::eq(*k, sq)) {
            Some((_, by_time)) => {
                by_time.insert(ts, v);
            }
            None => cache.push((std::ptr::from_ref(sq), BTreeMap::from([(ts, v)]))),
        }
    }

    /// Forgets `sq`'s results at or before `start`: later steps of a range query only look at
    /// later windows.
    fn forget_until(&self, sq: &SubqueryExpr, start: i64) {
        let mut cache = self.0.borrow_mut();
        if let Some((_, by_time)) = cache.iter_mut().find(|(k, _)| std::ptr::eq(*k, sq)) {
            *by_time = by_time.split_off(&(start + 1));
        }
    }
}

/// Evaluates a subquery at `t`: its series and the window `(start, end]` they cover.
pub(super) fn eval(
    ev: &Evaluator,
    sq: &SubqueryExpr,
    t: i64,
) -> Result<(Matrix, (i64, i64)), EvalError> {
    let end = ev.ref_time(sq.at.as_ref(), sq.offset.as_ref(), t);
    let start = end - millis(&sq.range);
    let step = match sq.step.as_ref().map(millis) {
        Some(s) if s > 0 => s,
        // At least a millisecond: an interval below one must not stall the loop below.
        _ => ev.options.default_subquery_step_ms.max(1),
    };
    // Only a range query revisits the same inner instants.
    let cached = ev.step > 0;
    // The first multiple of the step strictly after the window's open start.
    let mut ts = start.div_euclid(step) * step;
    if ts <= start {
        ts += step;
    }
    let mut out: Matrix = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut points = 0usize;
    while ts <= end {
        let inner = match cached.then(|| ev.subqueries.get(sq, ts)).flatten() {
            Some(v) => v,
            None => {
                let v = inner_vector(ev, sq, ts)?;
                if cached {
                    ev.subqueries.put(sq, ts, v.clone());
                }
                v
            }
        };
        points += inner.len();
        for s in inner {
            let p = Point { t: ts, v: s.value };
            match index.get(&s.labels) {
                Some(&i) => out[i].points.push(p),
                None => {
                    index.insert(s.labels.clone(), out.len());
                    out.push(RangeSeries {
                        labels: s.labels,
                        points: vec![p],
                        start_times: Vec::new(),
                    });
                }
            }
        }
        ev.check_samples(points)?;
        ts += step;
    }
    if cached {
        ev.subqueries.forget_until(sq, start);
    }
    Ok((out, (start, end)))
}

/// The inner expression's result at `ts` as a vector (a scalar becomes one unlabelled sample).
fn inner_vector(ev: &Evaluator, sq: &SubqueryExpr, ts: i64) -> Result<Vector, EvalError> {
    match ev.eval(&sq.expr, ts)? {
        Value::Vector(v) => Ok(v),
        Value::Scalar { v, .. } => Ok(vec![InstantSample {
            labels: Labels::new(),
            t: ts,
            value: v,
        }]),
        other => Err(EvalError::Invalid(format!(
            "subquery is only allowed on an instant vector, got {}",
            value_name(&other)
        ))),
    }
}
