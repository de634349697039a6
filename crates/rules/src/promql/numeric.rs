//! Numeric building blocks shared by aggregations and functions, written once so `sum` and
//! `sum_over_time`, `quantile` and `quantile_over_time` agree to the last bit, as they do in
//! Prometheus.

use std::collections::HashSet;

use super::{EvalError, Vector};

/// One step of Kahan-Babuska-Neumaier summation: adds `inc` to `sum`, keeping the lost
/// low-order bits in `c`. Prometheus sums this way, so sums of values of very different
/// magnitudes agree with its results.
pub(super) fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The φ-quantile of `values` with linear interpolation between the closest ranks (NaN sorts
/// first, as in Prometheus); φ below 0 gives -Inf, above 1 +Inf, NaN gives NaN.
pub(super) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Fails when two samples of `v` carry the same labels: PromQL's rule for any vector, which
/// dropping the metric name can break.
pub(super) fn ensure_unique(v: &Vector) -> Result<(), EvalError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.labels) {
            // Prometheus' exact wording: operators search for it, and its test scripts
            // compare it verbatim.
            return Err(EvalError::Invalid(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_keeps_small_terms_next_to_huge_ones() {
        let mut s = (0.0, 0.0);
        for v in [1.0, 1e100, 1.0, -1e100] {
            s = kahan_add(v, s.0, s.1);
        }
        assert_eq!(s.0 + s.1, 2.0);
    }

    #[test]
    fn quantile_interpolates_and_sorts_nan_first() {
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(quantile(0.25, &mut [4.0, 0.0]), 1.0);
        assert!(quantile(0.0, &mut [1.0, f64::NAN]).is_nan());
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }
}
