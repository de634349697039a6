//! The `*_over_time` functions: one number per series from the points in its window (avg, min,
//! max, sum, count, first, last, present, stddev, stdvar, quantile, mad, the `ts_of_*` family),
//! and absent_over_time.

use model::Labels;
use promql_parser::parser::Expr;

use super::{Args, CallContext, per_series};
use crate::promql::numeric::{kahan_add, quantile};
use crate::promql::{EvalError, InstantSample, Point, Value};

/// Calls `name` if it belongs to this family.
pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    if name == "quantile_over_time" {
        args.expect_count(2, 2)?;
        let q = args.scalar(0)?;
        if !(0.0..=1.0).contains(&q) {
            ctx.warn(super::invalid_quantile(q), 0);
        }
        let m = args.matrix(1)?;
        let out = per_series(m, ctx, false, |p| {
            let mut values: Vec<f64> = p.iter().map(|p| p.v).collect();
            Some(quantile(q, &mut values))
        });
        return Ok(Some(Value::Vector(out)));
    }
    if name == "absent_over_time" {
        args.expect_count(1, 1)?;
        let m = args.matrix(0)?;
        let out = if m.iter().any(|s| !s.points.is_empty()) {
            Vec::new()
        } else {
            vec![InstantSample {
                labels: absent_labels(ctx.arg_exprs.first().map(AsRef::as_ref)),
                t: ctx.t,
                value: 1.0,
            }]
        };
        return Ok(Some(Value::Vector(out)));
    }
    let f: fn(&[Point]) -> f64 = match name {
        "avg_over_time" => avg,
        "sum_over_time" => sum,
        "count_over_time" => |p| p.len() as f64,
        "min_over_time" => |p| extreme(p, |v, best| v < best).1,
        "max_over_time" => |p| extreme(p, |v, best| v > best).1,
        "last_over_time" => |p| p[p.len() - 1].v,
        "first_over_time" => |p| p[0].v,
        "present_over_time" => |_| 1.0,
        "stdvar_over_time" => variance,
        "stddev_over_time" => |p| variance(p).sqrt(),
        "mad_over_time" => mad,
        "ts_of_min_over_time" => |p| seconds(extreme(p, |v, best| v <= best).0),
        "ts_of_max_over_time" => |p| seconds(extreme(p, |v, best| v >= best).0),
        "ts_of_last_over_time" => |p| seconds(p[p.len() - 1].t),
        "ts_of_first_over_time" => |p| seconds(p[0].t),
        _ => return Ok(None),
    };
    args.expect_count(1, 1)?;
    // These two pass a sample through unchanged, so it still is what its name says.
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let out = per_series(args.matrix(0)?, ctx, keep_name, |p| Some(f(p)));
    Ok(Some(Value::Vector(out)))
}

fn seconds(t: i64) -> f64 {
    t as f64 / 1000.0
}

/// The point that wins `better(value, best_so_far)`; NaN loses against any number, so the
/// result is NaN only when every value is. Ties go to the later point when `better` accepts
/// equality.
fn extreme(points: &[Point], better: impl Fn(f64, f64) -> bool) -> (i64, f64) {
    let mut best = points[0];
    for p in &points[1..] {
        if better(p.v, best.v) || (best.v.is_nan() && !p.v.is_nan()) {
            best = *p;
        }
    }
    (best.t, best.v)
}

/// Kahan-compensated sum.
fn sum(points: &[Point]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for p in points {
        (s, c) = kahan_add(p.v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// The mean: a compensated sum divided by the count while the sum stays finite; if it would
/// overflow, an incremental mean takes over so that huge but finite values still average.
fn avg(points: &[Point]) -> f64 {
    let (mut s, mut c) = (points[0].v, 0.0);
    let mut mean = 0.0;
    let mut incremental = false;
    let mut count = 1.0;
    for (i, p) in points.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_add(p.v, s, c);
            if !ns.is_infinite() {
                (s, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = s / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_add(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        s / count + c / count
    }
}

/// Population variance (Welford's method with compensated sums).
fn variance(points: &[Point]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        count += 1.0;
        let delta = p.v - (mean + c_mean);
        (mean, c_mean) = kahan_add(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_add(delta * (p.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Median absolute deviation from the median; any NaN makes it NaN.
fn mad(points: &[Point]) -> f64 {
    if points.iter().any(|p| p.v.is_nan()) {
        return f64::NAN;
    }
    let mut values: Vec<f64> = points.iter().map(|p| p.v).collect();
    let median = quantile(0.5, &mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    quantile(0.5, &mut deviations)
}

/// The labels `absent()` and `absent_over_time()` report: the selector's equality matchers
/// (a label matched more than once, or not by equality, is left out), without the name.
pub(super) fn absent_labels(expr: Option<&Expr>) -> Labels {
    let mut expr = expr;
    // Prometheus looks through parentheses around the argument.
    while let Some(Expr::Paren(p)) = expr {
        expr = Some(&p.expr);
    }
    let selector = match expr {
        Some(Expr::VectorSelector(vs)) => vs,
        Some(Expr::MatrixSelector(ms)) => &ms.vs,
        _ => return Labels::new(),
    };
    let mut labels = Labels::new();
    let mut seen = std::collections::HashSet::new();
    for m in &selector.matchers.matchers {
        if m.name == model::METRIC_NAME_LABEL || crate::promql::query_text::is_marker(m) {
            continue;
        }
        let first = seen.insert(m.name.as_str());
        if first && matches!(m.op, promql_parser::label::MatchOp::Equal) {
            labels.set(m.name.clone(), m.value.clone());
        } else {
            labels.remove(&m.name);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::RangeSeries;
    use crate::promql::functions::Arg;
    use crate::promql::functions::tests::{call_finished, ctx};

    fn run(name: &str, values: &[f64], scalar: Option<f64>) -> Vec<InstantSample> {
        let s = RangeSeries {
            labels: Labels::new().with("__name__", "m").with("a", "b"),
            points: values
                .iter()
                .enumerate()
                .map(|(i, &v)| Point {
                    t: i as i64 * 10_000,
                    v,
                })
                .collect(),
            start_times: Vec::new(),
        };
        let mut args: Vec<Arg> = scalar.map(Arg::Scalar).into_iter().collect();
        args.push(Arg::Matrix(vec![s]));
        match call_finished(name, args, &ctx(60_000, Some((0, 60_000)))).unwrap() {
            Value::Vector(v) => v,
            other => panic!("{other:?}"),
        }
    }

    fn one(name: &str, values: &[f64]) -> f64 {
        run(name, values, None)[0].value
    }

    #[test]
    fn aggregations_of_a_window() {
        let v = [0.0, 8.0, 8.0, 2.0, 3.0];
        assert_eq!(one("avg_over_time", &v), 4.2);
        assert_eq!(one("sum_over_time", &v), 21.0);
        assert_eq!(one("count_over_time", &v), 5.0);
        assert_eq!(one("min_over_time", &v), 0.0);
        assert_eq!(one("max_over_time", &v), 8.0);
        assert!((one("stdvar_over_time", &v) - 10.56).abs() < 1e-12);
        assert!((one("stddev_over_time", &v) - 3.249615).abs() < 1e-6);
        assert_eq!(one("ts_of_max_over_time", &v), 20.0);
        assert_eq!(one("ts_of_min_over_time", &v), 0.0);
    }

    #[test]
    fn nan_only_wins_min_and_max_when_alone() {
        assert_eq!(one("min_over_time", &[2.0, f64::NAN, 1.0]), 1.0);
        assert_eq!(one("max_over_time", &[f64::NAN, 0.0, 1.0]), 1.0);
        assert!(one("max_over_time", &[f64::NAN, f64::NAN]).is_nan());
    }

    #[test]
    fn average_of_huge_values_does_not_overflow() {
        let big = 9.988_465_674_311_58e307;
        assert_eq!(one("avg_over_time", &[big, big]), big);
        assert_eq!(one("sum_over_time", &[big, big]), f64::INFINITY);
    }

    #[test]
    fn last_and_first_keep_the_name_others_drop_it() {
        let last = run("last_over_time", &[1.0, 2.0], None);
        assert_eq!(
            (last[0].labels.metric_name(), last[0].value),
            (Some("m"), 2.0)
        );
        assert_eq!(run("first_over_time", &[1.0, 2.0], None)[0].value, 1.0);
        assert_eq!(
            run("avg_over_time", &[1.0], None)[0].labels.metric_name(),
            None
        );
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        let q = |p: f64| run("quantile_over_time", &[0.0, 1.0, 4.0], Some(p))[0].value;
        assert_eq!(q(0.5), 1.0);
        assert_eq!(q(0.75), 2.5);
        assert!((q(0.8) - 2.8).abs() < 1e-12);
        assert_eq!(q(2.0), f64::INFINITY);
        assert_eq!(q(-1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn mad_is_the_median_deviation() {
        assert_eq!(
            one("mad_over_time", &[4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0]),
            1.0
        );
        assert!(one("mad_over_time", &[1.0, 2.0, f64::NAN, 4.0]).is_nan());
    }

    #[test]
    fn absent_over_time_reports_only_when_nothing_is_there() {
        let present = run("absent_over_time", &[1.0], None);
        assert!(present.is_empty());
        let empty = call_finished(
            "absent_over_time",
            vec![Arg::Matrix(vec![])],
            &ctx(0, Some((0, 1))),
        )
        .unwrap();
        assert_eq!(
            empty,
            Value::Vector(vec![InstantSample {
                labels: Labels::new(),
                t: 0,
                value: 1.0
            }])
        );
    }
}
