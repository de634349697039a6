//! Fetching: one `select` per selector over everything the query can look at, then picking an
//! instant's samples or a window's points out of that memory. A selector with the `anchored`
//! or `smoothed` modifier reads past its window (see `modifiers`).

use model::{AnchoredRegex, MatchOp, Matcher, Querier, SeriesData, TimeRange, Timestamp};
use promql_parser::label::{MatchOp as ParsedOp, Matcher as ParsedMatcher};
use promql_parser::parser::{MatrixSelector, VectorSelector};

use super::modifiers::{instant_margin_after, range_margins};
use super::prepared::{KnownMatchers, address};
use super::{Evaluator, Expr, millis, offset_ms};
use crate::promql::functions::extended::{extend_to_window, smoothed_value};
use crate::promql::query_text::{is_marker, modifier_of};
use crate::promql::{
    EvalError, InstantSample, Matrix, Point, RangeModifier, RangeSeries, Vector, is_stale_nan,
};

/// The series every selector of one query selected, keyed by the selector's node.
#[derive(Default)]
pub(super) struct Fetched {
    /// `(address of the selector node, its series sorted by labels)`. The address identifies the
    /// node for as long as the query's expression is borrowed, which outlives the evaluation.
    by_selector: Vec<(*const VectorSelector, Vec<SeriesData>)>,
    /// Samples held in memory, for [`EvalError::TooManySamples`].
    pub(super) samples: usize,
}

/// One selector to fetch and the inclusive time range it needs.
struct Need<'a> {
    selector: &'a VectorSelector,
    from: i64,
    to: i64,
}

/// Fetches the data of every selector in `expr` for evaluations between the evaluator's start
/// and end.
pub(super) fn fetch_all(
    ev: &Evaluator,
    querier: &dyn Querier,
    expr: &Expr,
    known: &KnownMatchers,
) -> Result<Fetched, EvalError> {
    let mut needs = Vec::new();
    plan(ev, expr, ev.start, ev.end, &mut needs);
    let mut fetched = Fetched {
        by_selector: Vec::with_capacity(needs.len()),
        samples: 0,
    };
    for need in needs {
        let series = select(ev, querier, &need, known)?;
        fetched.samples += series.iter().map(|s| s.values.len()).sum::<usize>();
        ev.check_samples_with(fetched.samples)?;
        fetched
            .by_selector
            .push((std::ptr::from_ref(need.selector), series));
    }
    Ok(fetched)
}

/// Walks the expression, noting each selector with the range it reads when its node is
/// evaluated at instants in `[lo, hi]`.
fn plan<'a>(ev: &Evaluator, expr: &'a Expr, lo: i64, hi: i64, out: &mut Vec<Need<'a>>) {
    match expr {
        Expr::VectorSelector(vs) => {
            let (rlo, rhi) = ref_span(ev, vs, lo, hi);
            let lookback = ev.options.lookback_ms;
            out.push(Need {
                selector: vs,
                from: rlo - lookback + 1,
                to: rhi + instant_margin_after(modifier_of(vs), lookback),
            });
        }
        Expr::MatrixSelector(ms) => {
            let (rlo, rhi) = ref_span(ev, &ms.vs, lo, hi);
            let (before, after) = range_margins(modifier_of(&ms.vs), ev.options.lookback_ms);
            out.push(Need {
                selector: &ms.vs,
                from: rlo - millis(&ms.range) - before + 1,
                to: rhi + after,
            });
        }
        Expr::Subquery(sq) => {
            let (rlo, rhi) = match &sq.at {
                Some(at) => {
                    let t = ev.at_time(at) - offset_ms(sq.offset.as_ref());
                    (t, t)
                }
                None => {
                    let off = offset_ms(sq.offset.as_ref());
                    (lo - off, hi - off)
                }
            };
            plan(ev, &sq.expr, rlo - millis(&sq.range) + 1, rhi, out);
        }
        Expr::Paren(p) => plan(ev, &p.expr, lo, hi, out),
        Expr::Unary(u) => plan(ev, &u.expr, lo, hi, out),
        Expr::Binary(b) => {
            plan(ev, &b.lhs, lo, hi, out);
            plan(ev, &b.rhs, lo, hi, out);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                plan(ev, p, lo, hi, out);
            }
            plan(ev, &a.expr, lo, hi, out);
        }
        Expr::Call(c) => {
            for arg in &c.args.args {
                plan(ev, arg, lo, hi, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The instants a selector looks at when evaluated in `[lo, hi]` (after `@` and offset).
fn ref_span(ev: &Evaluator, vs: &VectorSelector, lo: i64, hi: i64) -> (i64, i64) {
    let off = offset_ms(vs.offset.as_ref());
    match &vs.at {
        Some(at) => {
            let t = ev.at_time(at) - off;
            (t, t)
        }
        None => (lo - off, hi - off),
    }
}

/// Runs the selector's `select` (one per `or` alternative) and enforces the series limit.
fn select(
    ev: &Evaluator,
    querier: &dyn Querier,
    need: &Need<'_>,
    known: &KnownMatchers,
) -> Result<Vec<SeriesData>, EvalError> {
    let range = TimeRange::new(Timestamp(need.from), Timestamp(need.to));
    let converted;
    let key = address(need.selector);
    let sets: &[Vec<Matcher>] = match known.iter().find(|(k, _)| *k == key) {
        Some((_, sets)) => sets,
        None => {
            converted = matcher_sets(need.selector)?;
            &converted
        }
    };
    let mut series = Vec::new();
    for set in sets {
        let room = ev.options.max_series - series.len();
        let Some(mut got) = querier.select_at_most(set, range, room)? else {
            return Err(EvalError::TooManySeries {
                limit: ev.options.max_series,
            });
        };
        if series.is_empty() {
            series = got;
        } else {
            series.append(&mut got);
        }
        if series.len() > ev.options.max_series {
            return Err(EvalError::TooManySeries {
                limit: ev.options.max_series,
            });
        }
    }
    if sets.len() > 1 {
        // Alternatives can select the same series twice; keep one, in label order.
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        series.dedup_by(|a, b| a.labels == b.labels);
    }
    Ok(series)
}

/// The selector's matchers in the store's terms: one set per `or` alternative, each with the
/// metric name when the selector names one. A modifier's marker is no condition on the series
/// and is left out.
pub(in crate::promql) fn matcher_sets(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, EvalError> {
    let mut common = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        common.push(Matcher::equal(model::METRIC_NAME_LABEL, name.as_str()));
    }
    for m in vs.matchers.matchers.iter().filter(|m| !is_marker(m)) {
        common.push(convert(m)?);
    }
    if vs.matchers.or_matchers.is_empty() {
        return Ok(vec![common]);
    }
    let mut sets = Vec::with_capacity(vs.matchers.or_matchers.len());
    for alternative in &vs.matchers.or_matchers {
        let mut set = common.clone();
        for m in alternative.iter().filter(|m| !is_marker(m)) {
            set.push(convert(m)?);
        }
        sets.push(set);
    }
    Ok(sets)
}

/// One parsed matcher in the store's terms.
fn convert(m: &ParsedMatcher) -> Result<Matcher, EvalError> {
    let op = match &m.op {
        ParsedOp::Equal => MatchOp::Equal(m.value.clone()),
        ParsedOp::NotEqual => MatchOp::NotEqual(m.value.clone()),
        ParsedOp::Re(r) => MatchOp::Regex(anchored(&m.name, r.as_str())?),
        ParsedOp::NotRe(r) => MatchOp::NotRegex(anchored(&m.name, r.as_str())?),
    };
    Ok(Matcher {
        name: m.name.clone(),
        op,
    })
}

/// The parser's compiled regex is already anchored (and has Go-only syntax such as a bare `{`
/// escaped); take its pattern back out of the anchors so the store's regex accepts it too.
fn anchored(label: &str, compiled: &str) -> Result<AnchoredRegex, EvalError> {
    let inner = compiled
        .strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(compiled);
    AnchoredRegex::new(inner)
        .map_err(|e| EvalError::Invalid(format!("invalid regex for label {label}: {e}")))
}

impl Evaluator {
    /// Like [`Evaluator::check_samples`] for the fetch phase, where the running total is not
    /// stored yet.
    fn check_samples_with(&self, total: usize) -> Result<(), EvalError> {
        if total > self.options.max_samples {
            return Err(EvalError::TooManySamples {
                limit: self.options.max_samples,
            });
        }
        Ok(())
    }
}

impl Fetched {
    /// The series fetched for this selector node.
    fn series(&self, vs: &VectorSelector) -> Result<&[SeriesData], EvalError> {
        let key = std::ptr::from_ref(vs);
        self.by_selector
            .iter()
            .find(|(k, _)| std::ptr::eq(*k, key))
            .map(|(_, s)| s.as_slice())
            .ok_or_else(|| EvalError::Invalid(format!("selector {vs} was not fetched")))
    }

    /// The instant vector `vs` selects at `t`: per series the latest sample in
    /// `(ref - lookback, ref]`, unless that sample is a staleness marker.
    pub(super) fn instant(
        &self,
        ev: &Evaluator,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vector, EvalError> {
        if modifier_of(vs) == Some(RangeModifier::Smoothed) {
            return self.smoothed_instant(ev, vs, t);
        }
        self.latest_each(ev, vs, t, |s, i| InstantSample {
            labels: s.labels.clone(),
            t: s.timestamps[i].0,
            value: s.values[i],
        })
    }

    /// `start_timestamp(vs)` at `t`: per series the start timestamp (seconds, `0` for none) of
    /// the sample [`Fetched::instant`] would pick, at `t`, without the metric name.
    pub(super) fn start_timestamps(
        &self,
        ev: &Evaluator,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vector, EvalError> {
        self.latest_each(ev, vs, t, |s, i| {
            let mut labels = s.labels.clone();
            crate::promql::name_drop::mark(&mut labels);
            let st = s.start_timestamps.get(i).copied().unwrap_or(0);
            InstantSample {
                labels,
                t,
                value: st as f64 / 1000.0,
            }
        })
    }

    /// One sample per series of `vs` that has one to read at `t` (see [`latest`]), made by
    /// `sample` from the series and the index of that sample.
    fn latest_each(
        &self,
        ev: &Evaluator,
        vs: &VectorSelector,
        t: i64,
        mut sample: impl FnMut(&SeriesData, usize) -> InstantSample,
    ) -> Result<Vector, EvalError> {
        let series = self.series(vs)?;
        let at = ev.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
        let mut out = Vector::with_capacity(series.len());
        for s in series {
            if let Some(i) = latest(ev, s, at) {
                out.push(sample(s, i));
            }
        }
        Ok(out)
    }

    /// The range vector `ms` selects at `t`: per series the points in `(ref - range, ref]`
    /// without staleness markers, and that window. Series without points are left out.
    ///
    /// With a modifier the points reach past the window, as the functions taking such a
    /// range expect: one lookback before it, and after it too when smoothed.
    pub(super) fn range(
        &self,
        ev: &Evaluator,
        ms: &MatrixSelector,
        t: i64,
    ) -> Result<(Matrix, (i64, i64)), EvalError> {
        let series = self.series(&ms.vs)?;
        let end = ev.ref_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), t);
        let start = end - millis(&ms.range);
        let (before, after) = range_margins(modifier_of(&ms.vs), ev.options.lookback_ms);
        let mut out = Matrix::new();
        for s in series {
            let (from, to) = (start - before, end + after);
            let points = points_in(s, from, to);
            if !points.is_empty() {
                out.push(RangeSeries {
                    labels: s.labels.clone(),
                    points,
                    start_times: start_times_in(s, from, to),
                });
            }
        }
        Ok((out, (start, end)))
    }

    /// The range vector `ms` selects at `t` as a value of its own (a query's result): with a
    /// modifier, each series cut back to its window with a point on either edge holding the
    /// value there; series that do not reach into the window are left out.
    pub(super) fn range_value(
        &self,
        ev: &Evaluator,
        ms: &MatrixSelector,
        t: i64,
    ) -> Result<Matrix, EvalError> {
        let (mut matrix, window) = self.range(ev, ms, t)?;
        let Some(modifier) = modifier_of(&ms.vs) else {
            return Ok(matrix);
        };
        let smoothed = modifier == RangeModifier::Smoothed;
        for series in &mut matrix {
            series.points = extend_to_window(&series.points, window, smoothed);
            // The edge points are computed: the start timestamps no longer line up with them.
            series.start_times.clear();
        }
        matrix.retain(|s| !s.points.is_empty());
        Ok(matrix)
    }

    /// A smoothed instant selector at `t`: per series the value at its reference instant,
    /// interpolated between the samples within one lookback before and after it (staleness
    /// markers left out), carrying the instant as its time.
    fn smoothed_instant(
        &self,
        ev: &Evaluator,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<Vector, EvalError> {
        let series = self.series(vs)?;
        let at = ev.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
        let lookback = ev.options.lookback_ms;
        let mut out = Vector::with_capacity(series.len());
        for s in series {
            let points = points_in(s, at - lookback, at + lookback);
            if let Some(value) = smoothed_value(&points, at) {
                out.push(InstantSample {
                    labels: s.labels.clone(),
                    t,
                    value,
                });
            }
        }
        Ok(out)
    }
}

/// The index of the sample an instant selector reads at reference time `at`: the latest in
/// `(at - lookback, at]`, unless it is a staleness marker.
fn latest(ev: &Evaluator, s: &SeriesData, at: i64) -> Option<usize> {
    let i = s.timestamps.partition_point(|x| x.0 <= at).checked_sub(1)?;
    let fresh = s.timestamps[i].0 > at - ev.options.lookback_ms;
    (fresh && !is_stale_nan(s.values[i])).then_some(i)
}

/// The points of `s` in `(from, to]`, staleness markers left out.
fn points_in(s: &SeriesData, from: i64, to: i64) -> Vec<Point> {
    let (first, last) = bounds(s, from, to);
    s.timestamps[first..last]
        .iter()
        .zip(&s.values[first..last])
        .filter(|(_, v)| !is_stale_nan(**v))
        .map(|(ts, v)| Point { t: ts.0, v: *v })
        .collect()
}

/// The start timestamps of the points [`points_in`] gives for the same arguments; empty when
/// `s` has none.
fn start_times_in(s: &SeriesData, from: i64, to: i64) -> Vec<i64> {
    if s.start_timestamps.is_empty() {
        return Vec::new();
    }
    let (first, last) = bounds(s, from, to);
    s.start_timestamps[first..last]
        .iter()
        .zip(&s.values[first..last])
        .filter(|(_, v)| !is_stale_nan(**v))
        .map(|(st, _)| *st)
        .collect()
}

/// The index range of `s`' samples in `(from, to]` (empty when none).
fn bounds(s: &SeriesData, from: i64, to: i64) -> (usize, usize) {
    let first = s.timestamps.partition_point(|x| x.0 <= from);
    let last = s.timestamps.partition_point(|x| x.0 <= to);
    (first, last.max(first))
}
