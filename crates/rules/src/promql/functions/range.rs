//! Functions of how a series moves inside a window: rate, increase, delta (extrapolated to the
//! window's edges), irate and idelta (the last two points), deriv and predict_linear (least
//! squares), resets, changes and double exponential smoothing. Over an `anchored` or
//! `smoothed` range, rate, increase, delta, resets and changes follow `extended`.

use super::counter_starts::{counting_since, overlap_warning, overlaps, restarted};
use super::extended::{anchor_index, extended_rate};
use super::{Args, CallContext, per_range_series, per_series};
use crate::promql::RangeModifier;
use crate::promql::numeric::kahan_add;
use crate::promql::{EvalError, Point, RangeSeries, Value};

/// Calls `name` if it belongs to this family.
pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    let out = match name {
        "rate" | "increase" | "delta" => {
            args.expect_count(1, 1)?;
            let m = args.matrix(0)?;
            let window = window(args, ctx)?;
            let (counter, rate) = (name != "delta", name == "rate");
            match ctx.modifier {
                None => per_range_series(m, ctx, false, |s| {
                    if counter {
                        warn_on_overlap(s, ctx);
                    }
                    extrapolated(&s.points, &s.start_times, window, counter, rate)
                }),
                Some(modifier) => {
                    let smoothed = modifier == RangeModifier::Smoothed;
                    per_series(m, ctx, false, |p| {
                        extended_rate(p, window, smoothed, counter, rate)
                    })
                }
            }
        }
        "irate" | "idelta" => {
            args.expect_count(1, 1)?;
            let rate = name == "irate";
            per_range_series(args.matrix(0)?, ctx, false, |s| {
                if rate {
                    warn_on_overlap(s, ctx);
                }
                instant_change(&s.points, &s.start_times, rate)
            })
        }
        "deriv" => {
            args.expect_count(1, 1)?;
            per_series(args.matrix(0)?, ctx, false, |p| {
                (p.len() >= 2).then(|| linear_regression(p, p[0].t).0)
            })
        }
        "predict_linear" => {
            args.expect_count(2, 2)?;
            let m = args.matrix(0)?;
            let seconds = args.scalar(1)?;
            per_series(m, ctx, false, |p| {
                (p.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(p, ctx.t);
                    slope * seconds + intercept
                })
            })
        }
        "resets" => {
            args.expect_count(1, 1)?;
            let m = args.matrix(0)?;
            let start = counted_from(args, ctx)?;
            per_range_series(m, ctx, false, |s| {
                let from = start(&s.points)?;
                let p = &s.points[from..];
                let starts = s.start_times.get(from..).unwrap_or_default();
                warn_on_overlap(s, ctx);
                let reset = |i: usize| p[i].v < p[i - 1].v || restarted(p, starts, i);
                Some((1..p.len()).filter(|&i| reset(i)).count() as f64)
            })
        }
        "changes" => {
            args.expect_count(1, 1)?;
            let m = args.matrix(0)?;
            let start = counted_from(args, ctx)?;
            per_series(m, ctx, false, |p| {
                let p = &p[start(p)?..];
                let changed =
                    |w: &[Point]| w[1].v != w[0].v && !(w[1].v.is_nan() && w[0].v.is_nan());
                Some(p.windows(2).filter(|w| changed(w)).count() as f64)
            })
        }
        "double_exponential_smoothing" | "holt_winters" => {
            args.expect_count(3, 3)?;
            let m = args.matrix(0)?;
            let (sf, tf) = (args.scalar(1)?, args.scalar(2)?);
            if !(sf > 0.0 && sf < 1.0) {
                return Err(args.invalid(format_args!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                )));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(args.invalid(format_args!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                )));
            }
            per_series(m, ctx, false, |p| smooth(p, sf, tf))
        }
        _ => return Ok(None),
    };
    Ok(Some(Value::Vector(out)))
}

/// The window the points were taken from; the evaluator always gives one with a range vector.
fn window(args: &Args, ctx: &CallContext<'_>) -> Result<(i64, i64), EvalError> {
    ctx.window
        .ok_or_else(|| args.invalid("the evaluator gave no window for the range vector"))
}

/// Warns when the series' start timestamps overlap (see `counter_starts::overlaps`).
fn warn_on_overlap(series: &RangeSeries, ctx: &CallContext<'_>) {
    if overlaps(&series.points, &series.start_times) {
        let metric = series.labels.metric_name().unwrap_or_default();
        ctx.warn(overlap_warning(metric), 0);
    }
}

/// Where `resets` and `changes` start counting in a series' points: at the first one, or over
/// an anchored range at the anchor (`None` when no point is inside the window).
fn counted_from(
    args: &Args,
    ctx: &CallContext<'_>,
) -> Result<impl Fn(&[Point]) -> Option<usize>, EvalError> {
    let anchored_start = match ctx.modifier {
        Some(RangeModifier::Anchored) => Some(window(args, ctx)?.0),
        _ => None,
    };
    Ok(move |p: &[Point]| match anchored_start {
        Some(start) => anchor_index(p, start),
        None => Some(0),
    })
}

/// Prometheus' `extrapolatedRate`: the change between the first and last point (counter resets
/// added back for counters), extrapolated towards the window's edges. Each side is extended to
/// the edge when the gap is under 1.1 times the average interval, else by half an interval
/// (the series presumably started or ended inside the window); a counter is never extrapolated
/// below zero. Needs at least two points.
///
/// A counter's start timestamps (`starts`, empty when none) add restarts, and when the first
/// point started counting inside the window, its value counts from zero at that start instead
/// of extrapolating towards the window's start; one such point is then enough.
pub(super) fn extrapolated(
    points: &[Point],
    starts: &[i64],
    window: (i64, i64),
    counter: bool,
    rate: bool,
) -> Option<f64> {
    let since = if counter {
        counting_since(points, starts, window.0)
    } else {
        None
    };
    if points.len() < 2 && since.is_none() {
        return None;
    }
    let (start, end) = window;
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut result = last.v - first.v;
    if counter {
        for i in 1..points.len() {
            if points[i].v < points[i - 1].v || restarted(points, starts, i) {
                result += points[i - 1].v;
            }
        }
    }
    let mut to_end = (end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    // One point alone (possible with a start timestamp) has no interval to go by.
    let average = if points.len() > 1 {
        sampled / (points.len() - 1) as f64
    } else {
        0.0
    };
    let threshold = average * 1.1;
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let (sampled, to_start) = match since {
        Some(since) => {
            result += first.v;
            ((last.t - since) as f64 / 1000.0, 0.0)
        }
        None => {
            let mut to_start = (first.t - start) as f64 / 1000.0;
            if to_start >= threshold {
                to_start = average / 2.0;
            }
            if counter && result > 0.0 && first.v >= 0.0 {
                // Where the counter would have been zero, if it rose at the same pace before
                // the first point: extrapolating further would invent negative counts.
                let to_zero = sampled * (first.v / result);
                if to_zero < to_start {
                    to_start = to_zero;
                }
            }
            (sampled, to_start)
        }
    };
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= (end - start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// irate and idelta: the change between the last two points; for irate a drop, or a restart
/// its start timestamps show, is a counter reset (the last value is the increase) and the
/// result is per second.
pub(super) fn instant_change(points: &[Point], starts: &[i64], rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (prev, last) = (points[points.len() - 2], points[points.len() - 1]);
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    let mut value = last.v;
    // With NaN the comparison is false, so a NaN difference comes out, as in Prometheus.
    let dropped = last.v < prev.v && !last.v.is_nan() && !prev.v.is_nan();
    if !rate || !(dropped || restarted(points, starts, points.len() - 1)) {
        value = last.v - prev.v;
    }
    if rate {
        value /= interval as f64 / 1000.0;
    }
    Some(value)
}

/// Least-squares line through the points, with x in seconds relative to `intercept_t`
/// (milliseconds): returns (slope per second, value at `intercept_t`). A constant series has
/// slope 0, unless the constant is infinite (then NaN).
pub(super) fn linear_regression(points: &[Point], intercept_t: i64) -> (f64, f64) {
    let first = points[0].v;
    if points.iter().all(|p| p.v == first) {
        if first.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first);
    }
    let n = points.len() as f64;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for p in points {
        let x = (p.t - intercept_t) as f64 / 1000.0;
        (sx, cx) = kahan_add(x, sx, cx);
        (sy, cy) = kahan_add(p.v, sy, cy);
        (sxy, cxy) = kahan_add(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_add(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// Double exponential smoothing (Holt's linear method) with smoothing factor `sf` and trend
/// factor `tf`; needs two points to estimate the initial trend.
fn smooth(points: &[Point], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let mut s0 = 0.0;
    let mut s1 = points[0].v;
    let mut trend = points[1].v - points[0].v;
    for (i, p) in points.iter().enumerate().skip(1) {
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let next = sf * p.v + (1.0 - sf) * (s1 + trend);
        s0 = s1;
        s1 = next;
    }
    Some(s1)
}

#[cfg(test)]
mod tests {
    use model::Labels;

    use super::*;
    use crate::promql::RangeSeries;
    use crate::promql::functions::Arg;
    use crate::promql::functions::tests::{call_finished, ctx};

    const MIN: i64 = 60_000;

    /// A series with one point every `step` ms starting at `start`.
    fn series(start: i64, step: i64, values: &[f64]) -> RangeSeries {
        RangeSeries {
            labels: Labels::new().with("__name__", "c").with("job", "a"),
            points: values
                .iter()
                .enumerate()
                .map(|(i, &v)| Point {
                    t: start + i as i64 * step,
                    v,
                })
                .collect(),
            start_times: Vec::new(),
        }
    }

    fn eval(name: &str, s: RangeSeries, t: i64, range: i64, extra: &[f64]) -> Option<f64> {
        let mut args = vec![Arg::Matrix(vec![s])];
        args.extend(extra.iter().map(|&v| Arg::Scalar(v)));
        match call_finished(name, args, &ctx(t, Some((t - range, t)))).unwrap() {
            Value::Vector(v) => {
                assert!(v.iter().all(|s| s.labels.metric_name().is_none()));
                v.first().map(|s| s.value)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn increase_adds_back_a_counter_reset() {
        // 0 1 2 3 2 3 4 every 5 minutes: the drop to 2 is a reset, so 3 + 4 = 7.
        let s = series(0, 5 * MIN, &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0]);
        assert_eq!(eval("increase", s, 30 * MIN, 30 * MIN, &[]), Some(7.0));
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // Points at 5..50 min, window (0, 50 min]: the gap to the start is one interval, under
        // 1.1 intervals, so the increase is extrapolated to the edge (but not below zero).
        let s = series(
            5 * MIN,
            5 * MIN,
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
        );
        let r = eval("rate", s, 50 * MIN, 50 * MIN, &[]).unwrap();
        assert!((r - 100.0 / 3000.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn counters_are_not_extrapolated_below_zero() {
        // Starts at 1 rising by 10 per 5 min: zero was 30 s before the first point.
        let s = series(
            0,
            5 * MIN,
            &(0..=10).map(|i| 1.0 + 10.0 * i as f64).collect::<Vec<_>>(),
        );
        let inc = eval("increase", s, 50 * MIN, 100 * MIN, &[]).unwrap();
        assert!((inc - 101.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn a_far_edge_is_extrapolated_by_half_an_interval_only() {
        // Points 10..40 min in a window (0, 50 min]: 10 min gaps on both sides are over 1.1 x
        // the 5 min interval, so each side gains 2.5 min.
        let s = series(10 * MIN, 5 * MIN, &[0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]);
        let d = eval("delta", s, 50 * MIN, 50 * MIN, &[]).unwrap();
        assert!((d - 30.0 * 35.0 / 30.0).abs() < 1e-9, "{d}");
    }

    #[test]
    fn one_point_gives_no_rate() {
        assert_eq!(
            eval("rate", series(0, MIN, &[3.0]), MIN, 5 * MIN, &[]),
            None
        );
    }

    #[test]
    fn irate_uses_the_last_two_points_and_resets() {
        let s = series(0, 5 * MIN, &[0.0, 10.0, 20.0]);
        assert_eq!(
            eval("irate", s, 10 * MIN, 50 * MIN, &[]),
            Some(10.0 / 300.0)
        );
        let s = series(0, 5 * MIN, &[0.0, 30.0, 6.0]);
        assert_eq!(eval("irate", s, 10 * MIN, 50 * MIN, &[]), Some(6.0 / 300.0));
        let s = series(0, 5 * MIN, &[0.0, 30.0, 6.0]);
        assert_eq!(eval("idelta", s, 10 * MIN, 50 * MIN, &[]), Some(-24.0));
    }

    #[test]
    fn deriv_and_predict_linear_fit_a_line() {
        // Prometheus' worked example: 0 10 20 30 40 0 10 20 30 40 50 every 5 minutes.
        let values = [
            0.0, 10.0, 20.0, 30.0, 40.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0,
        ];
        let d = eval(
            "deriv",
            series(0, 5 * MIN, &values),
            50 * MIN,
            100 * MIN,
            &[],
        )
        .unwrap();
        assert!((d - 0.010606060606060607).abs() < 1e-15, "{d}");
        let p = eval(
            "predict_linear",
            series(0, 5 * MIN, &values),
            50 * MIN,
            100 * MIN,
            &[3600.0],
        );
        assert!((p.unwrap() - 76.81818181818181).abs() < 1e-9, "{p:?}");
    }

    #[test]
    fn resets_and_changes_count_steps() {
        let v = [1.0, 2.0, 3.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0];
        assert_eq!(
            eval("resets", series(0, MIN, &v), 10 * MIN, 10 * MIN, &[]),
            Some(3.0)
        );
        assert_eq!(
            eval("changes", series(0, MIN, &v), 10 * MIN, 10 * MIN, &[]),
            Some(8.0)
        );
        let nan = [f64::NAN, f64::NAN, 1.0];
        assert_eq!(
            eval("changes", series(0, MIN, &nan), 10 * MIN, 10 * MIN, &[]),
            Some(1.0)
        );
    }

    #[test]
    fn smoothing_follows_a_straight_line() {
        let v: Vec<f64> = (0..7).map(|i| 10.0 * i as f64).collect();
        let r = eval(
            "double_exponential_smoothing",
            series(0, 10_000, &v),
            MIN,
            MIN,
            &[0.01, 0.1],
        );
        assert!((r.unwrap() - 60.0).abs() < 1e-9, "{r:?}");
        let bad = call_finished(
            "double_exponential_smoothing",
            vec![Arg::Matrix(vec![]), Arg::Scalar(1.0), Arg::Scalar(0.5)],
            &ctx(0, Some((0, 1))),
        );
        assert!(bad.unwrap_err().to_string().contains("smoothing factor"));
    }
}
