//! Histogram functions over classic histograms: series that share all labels but `le`, each
//! holding the cumulative count of observations at or below its `le` bound. histogram_quantile,
//! histogram_quantiles and histogram_fraction estimate by linear interpolation inside a bucket.
//! The native-histogram accessors (histogram_count, _sum, _avg, _stddev, _stdvar) see no
//! native histogram among float samples and return nothing.

use std::collections::HashMap;

use model::Labels;

use super::{Args, CallContext, drop_name};
use crate::promql::{EvalError, InstantSample, Value, Vector};

/// Differences smaller than this relative amount between neighbouring cumulative counts are
/// rounding noise (e.g. from rate() over each bucket), not real decreases or increases.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Calls `name` if it belongs to this family.
pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    let out = match name {
        "histogram_quantile" => {
            args.expect_count(2, 2)?;
            let q = args.scalar(0)?;
            warn_if_invalid(q, ctx, 0);
            let v = args.vector(1)?;
            groups(v, ctx, 1)
                .into_iter()
                .map(|mut g| {
                    let value = quantile(q, &mut g.buckets, &mut g.fixed);
                    g.report_fix(ctx, 1);
                    sample(g.labels, ctx, value)
                })
                .collect()
        }
        "histogram_quantiles" => {
            args.expect_count(3, usize::MAX)?;
            let v = args.vector(0)?;
            let label = args.string(1)?;
            let qs = (2..args.len())
                .map(|i| args.scalar(i))
                .collect::<Result<Vec<_>, _>>()?;
            for (i, &q) in qs.iter().enumerate() {
                warn_if_invalid(q, ctx, i + 2);
            }
            let mut out = Vector::new();
            for mut g in groups(v, ctx, 0) {
                for &q in &qs {
                    let mut l = g.labels.clone();
                    l.set(label.clone(), format_quantile(q));
                    let value = quantile(q, &mut g.buckets, &mut g.fixed);
                    out.push(sample(l, ctx, value));
                }
                g.report_fix(ctx, 0);
            }
            out
        }
        "histogram_fraction" => {
            args.expect_count(3, 3)?;
            let (lower, upper) = (args.scalar(0)?, args.scalar(1)?);
            let v = args.vector(2)?;
            groups(v, ctx, 2)
                .into_iter()
                .map(|mut g| sample(g.labels, ctx, fraction(lower, upper, &mut g.buckets)))
                .collect()
        }
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            args.expect_count(1, 1)?;
            args.vector(0)?;
            Vec::new()
        }
        _ => return Ok(None),
    };
    Ok(Some(Value::Vector(out)))
}

fn sample(labels: Labels, ctx: &CallContext<'_>, value: f64) -> InstantSample {
    InstantSample {
        labels,
        t: ctx.t,
        value,
    }
}

/// How a quantile is written into a label: shortest form, whole numbers with ".0".
fn format_quantile(q: f64) -> String {
    if q.is_infinite() {
        return if q > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = format!("{q}");
    if q.is_finite() && !s.contains(['.', 'e']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// One bucket: its upper bound and the cumulative count at it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bucket {
    le: f64,
    count: f64,
}

/// One classic histogram: the buckets of series that share every label but `le`.
struct Group {
    /// The shared labels, without `le` and the metric name.
    labels: Labels,
    /// The metric name the buckets had, for messages.
    name: String,
    buckets: Vec<Bucket>,
    /// Set when the counts had to be made monotonic.
    fixed: bool,
}

impl Group {
    /// Tells the reader the counts were not cumulative (as Prometheus does, as an info).
    fn report_fix(&self, ctx: &CallContext<'_>, arg: usize) {
        if self.fixed {
            ctx.info(
                format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see \
                     https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) \
                     for metric name {:?}",
                    self.name
                ),
                arg,
            );
        }
    }
}

/// Groups bucket series into histograms: same labels apart from `le`. Series without a
/// parsable `le` are not buckets: they are skipped with a warning about argument `arg`.
/// Groups come out in the order of their first bucket.
fn groups(v: Vector, ctx: &CallContext<'_>, arg: usize) -> Vec<Group> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Group> = Vec::new();
    for mut s in v {
        let le_text = s.labels.remove("le");
        let Some(le) = le_text.as_deref().and_then(parse_le) else {
            ctx.warn(
                format!(
                    "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                    le_text.unwrap_or_default(),
                    s.labels.metric_name().unwrap_or_default()
                ),
                arg,
            );
            continue;
        };
        let bucket = Bucket { le, count: s.value };
        match index.get(&s.labels) {
            Some(&i) => out[i].buckets.push(bucket),
            None => {
                index.insert(s.labels.clone(), out.len());
                let mut labels = s.labels;
                let name = labels.metric_name().unwrap_or_default().to_string();
                drop_name(&mut labels);
                out.push(Group {
                    labels,
                    name,
                    buckets: vec![bucket],
                    fixed: false,
                });
            }
        }
    }
    out
}

/// Warns about a quantile outside [0, 1] given as argument `arg`.
fn warn_if_invalid(q: f64, ctx: &CallContext<'_>, arg: usize) {
    if !(0.0..=1.0).contains(&q) {
        ctx.warn(super::invalid_quantile(q), arg);
    }
}

/// An `le` value as Prometheus' clients write it ("0.1", ".2", "1e0", "+Inf").
fn parse_le(le: &str) -> Option<f64> {
    le.trim().parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// Sorts by bound and merges buckets with the same bound (different spellings of one `le`).
/// Returns `false` unless the last bucket is +Inf, without which the total is unknown.
fn prepare(buckets: &mut Vec<Bucket>) -> bool {
    buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
    if buckets.last().is_none_or(|b| b.le != f64::INFINITY) {
        return false;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.le == b.le => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    *buckets = merged;
    true
}

/// Makes cumulative counts non-decreasing: a decrease (scrapes of different buckets at
/// different moments, or rounding) is flattened to the previous count. Returns true when a real
/// decrease (beyond rounding noise) was flattened.
fn make_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut fixed = false;
    let Some(first) = buckets.first() else {
        return fixed;
    };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        if b.count != prev && almost_equal(prev, b.count, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if b.count < prev {
            b.count = prev;
            fixed = true;
            continue;
        }
        prev = b.count;
    }
    fixed
}

/// Relative comparison with `epsilon`, the way Prometheus compares counts.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < epsilon * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The φ-quantile of a classic histogram, interpolating linearly inside the bucket the rank
/// falls in. The lowest bucket is taken to start at 0 when its bound is positive; a rank in the
/// +Inf bucket gives the highest finite bound. φ < 0 is -Inf, φ > 1 +Inf, NaN stays NaN; no
/// +Inf bucket or no observation gives NaN.
/// `fixed` is set when the counts had to be made monotonic.
fn quantile(q: f64, buckets: &mut Vec<Bucket>, fixed: &mut bool) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if !prepare(buckets) {
        return f64::NAN;
    }
    *fixed |= make_monotonic(buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || total.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * total;
    // The first bucket whose count reaches the rank, among all but +Inf.
    let last_finite = buckets.len() - 1;
    let b = buckets[..last_finite]
        .iter()
        .position(|b| b.count >= rank)
        .unwrap_or(last_finite);
    if b == last_finite {
        return buckets[last_finite - 1].le;
    }
    if b == 0 && buckets[0].le <= 0.0 {
        return buckets[0].le;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].le, buckets[b].count);
    if b > 0 {
        start = buckets[b - 1].le;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// The estimated share of observations between `lower` and `upper`. Inside a finite bucket
/// the observations are taken as spread evenly; a bucket of infinite width contributes nothing
/// for a bound that falls inside it (where they lie in it is unknown). The lowest bucket starts
/// at 0 when its bound is positive, else at -Inf.
fn fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if !prepare(buckets) {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    (rank_at(upper, buckets) - rank_at(lower, buckets)) / total
}

/// Estimated number of observations at or below `x`.
fn rank_at(x: f64, buckets: &[Bucket]) -> f64 {
    let mut below = 0.0;
    for (i, b) in buckets.iter().enumerate() {
        let start = match i {
            0 if b.le > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => buckets[i - 1].le,
        };
        if x <= start {
            return below;
        }
        if x < b.le {
            return if start == f64::NEG_INFINITY {
                b.count
            } else if b.le == f64::INFINITY {
                below
            } else {
                below + (b.count - below) * (x - start) / (b.le - start)
            };
        }
        below = b.count;
    }
    below
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::functions::Arg;
    use crate::promql::functions::tests::{call_finished as call, ctx};

    fn histogram(buckets: &[(&str, f64)]) -> Vector {
        buckets
            .iter()
            .map(|&(le, count)| InstantSample {
                labels: Labels::new()
                    .with("__name__", "h_bucket")
                    .with("job", "a")
                    .with("le", le),
                t: 0,
                value: count,
            })
            .collect()
    }

    fn quantile_of(q: f64, buckets: &[(&str, f64)]) -> f64 {
        let args = vec![Arg::Scalar(q), Arg::Vector(histogram(buckets))];
        match call("histogram_quantile", args, &ctx(0, None)).unwrap() {
            Value::Vector(v) => {
                assert_eq!(v[0].labels, Labels::new().with("job", "a"));
                v[0].value
            }
            other => panic!("{other:?}"),
        }
    }

    fn fraction_of(lo: f64, hi: f64, buckets: &[(&str, f64)]) -> f64 {
        let args = vec![
            Arg::Scalar(lo),
            Arg::Scalar(hi),
            Arg::Vector(histogram(buckets)),
        ];
        match call("histogram_fraction", args, &ctx(0, None)).unwrap() {
            Value::Vector(v) => v[0].value,
            other => panic!("{other:?}"),
        }
    }

    const H: [(&str, f64); 5] = [
        ("0", 0.0),
        ("2", 10.0),
        ("4", 20.0),
        ("6", 30.0),
        ("+Inf", 30.0),
    ];

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        assert!((quantile_of(1.0 / 6.0, &H) - 1.0).abs() < 1e-12);
        assert!((quantile_of(0.5, &H) - 3.0).abs() < 1e-12);
        assert_eq!(quantile_of(1.0, &H), 6.0);
    }

    #[test]
    fn quantile_edge_cases() {
        assert_eq!(quantile_of(-0.1, &H), f64::NEG_INFINITY);
        assert_eq!(quantile_of(1.1, &H), f64::INFINITY);
        assert!(quantile_of(f64::NAN, &H).is_nan());
        // Without +Inf the total is unknown.
        assert!(quantile_of(0.5, &H[..4]).is_nan());
        // In the +Inf bucket: the highest finite bound.
        assert_eq!(quantile_of(0.99, &[("1", 1.0), ("+Inf", 10.0)]), 1.0);
        // A positive lowest bucket starts at zero.
        assert_eq!(quantile_of(0.5, &[("1", 10.0), ("+Inf", 10.0)]), 0.5);
    }

    #[test]
    fn non_monotonic_buckets_are_flattened() {
        let h = [("1", 10.0), ("2", 5.0), ("3", 20.0), ("+Inf", 20.0)];
        // Treated as 10 10 20 20: the median is at the end of bucket (0, 1].
        assert_eq!(quantile_of(0.5, &h), 1.0);
    }

    #[test]
    fn equal_bounds_spelled_differently_merge() {
        let h = [("0.2", 1.0), ("2e-1", 1.0), ("+Inf", 2.0), ("+inf", 2.0)];
        assert_eq!(quantile_of(0.5, &h), 0.2);
    }

    #[test]
    fn fraction_between_bounds() {
        let h = [("1", 1.0), ("2", 3.0), ("3", 6.0), ("+Inf", 100.0)];
        assert!((fraction_of(0.0, 1.5, &h) - 0.02).abs() < 1e-12);
        assert!((fraction_of(2.0, 5.0, &h) - 0.03).abs() < 1e-12);
        assert!((fraction_of(400.0, f64::INFINITY, &h) - 0.94).abs() < 1e-12);
        assert_eq!(fraction_of(3.0, 2.0, &h), 0.0);
        let neg = [("-3", 10.0), ("-2", 12.0), ("-1", 15.0), ("+Inf", 100.0)];
        assert!((fraction_of(-4.0, -2.0, &neg) - 0.02).abs() < 1e-12);
        assert!((fraction_of(f64::NEG_INFINITY, -1.5, &neg) - 0.135).abs() < 1e-12);
    }

    #[test]
    fn quantiles_label_each_result() {
        let args = vec![
            Arg::Vector(histogram(&H)),
            Arg::String("q".into()),
            Arg::Scalar(0.5),
            Arg::Scalar(1.0),
        ];
        let Value::Vector(v) = call("histogram_quantiles", args, &ctx(0, None)).unwrap() else {
            panic!()
        };
        let labels: Vec<_> = v.iter().map(|s| s.labels.get("q").unwrap()).collect();
        assert_eq!(labels, ["0.5", "1.0"]);
    }
}
