//! Comparing a query's result with an `eval` command's expectation, the way Prometheus' runner
//! does: floats within a relative tolerance (NaN equals NaN, the stale marker only itself),
//! label sets exactly, order only when asked, a matrix point by point at the expected times.

use std::fmt::Write as _;

use model::Labels;

use super::script::{EvalCmd, ExpectedSeries};
use super::series::SeqValue;
use crate::promql::{Matrix, RangeSeries, Value, Vector, is_stale_nan};

/// Relative error allowed between an expected and an actual value (Prometheus' runner's).
const EPSILON: f64 = 0.000_001;

/// True when `a` and `b` are equal within [`EPSILON`], as Prometheus' test runner decides.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// Renders a label set as `name{a="b", ...}` for messages.
pub fn show_labels(labels: &Labels) -> String {
    let mut out = labels.metric_name().unwrap_or("").to_string();
    let rest: Vec<String> = labels
        .iter()
        .filter(|(n, _)| *n != model::METRIC_NAME_LABEL)
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    if !rest.is_empty() || out.is_empty() {
        let _ = write!(out, "{{{}}}", rest.join(", "));
    }
    out
}

/// Compares a result with the expectation; the error is a one-line reason.
pub fn compare(cmd: &EvalCmd, value: &Value) -> Result<(), String> {
    match value {
        Value::Matrix(m) => compare_matrix(cmd, m),
        Value::Vector(v) => compare_vector(cmd, v),
        Value::Scalar { v, .. } => match cmd.scalar {
            None => Err(format!("expected a vector or matrix, got the scalar {v}")),
            Some(e) if !almost_equal(e, *v) => Err(format!("expected scalar {e}, got {v}")),
            Some(_) => Ok(()),
        },
        Value::String { v, .. } if *v != cmd.string => {
            Err(format!("expected string {:?}, got {v:?}", cmd.string))
        }
        Value::String { .. } => Ok(()),
    }
}

/// The value of an expected instant sample (`_` counts as 0, as in Prometheus).
fn first_value(e: &ExpectedSeries) -> f64 {
    match e.values.first() {
        Some(SeqValue::Float(v)) => *v,
        _ => 0.0,
    }
}

pub(crate) fn compare_vector(cmd: &EvalCmd, vector: &Vector) -> Result<(), String> {
    if cmd.scalar.is_some() {
        return Err(format!(
            "expected a scalar, got a vector of {} samples",
            vector.len()
        ));
    }
    let mut seen = vec![false; cmd.expected.len()];
    for (pos, sample) in vector.iter().enumerate() {
        let Some((index, expected)) = cmd
            .expected
            .iter()
            .enumerate()
            .find(|(_, (l, _))| **l == sample.labels)
            .map(|(i, (_, e))| (i, e))
        else {
            return Err(format!(
                "unexpected series {} in the result, value {}",
                show_labels(&sample.labels),
                sample.value
            ));
        };
        if cmd.ordered && expected.pos != pos + 1 {
            return Err(format!(
                "expected {} at position {}, it came at {}",
                show_labels(&sample.labels),
                expected.pos,
                pos + 1
            ));
        }
        let want = first_value(expected);
        if !almost_equal(want, sample.value) {
            return Err(format!(
                "expected {want} for {}, got {}",
                show_labels(&sample.labels),
                sample.value
            ));
        }
        seen[index] = true;
    }
    if let Some((labels, e)) = cmd
        .expected
        .iter()
        .zip(&seen)
        .find(|(_, s)| !**s)
        .map(|(e, _)| e)
    {
        return Err(format!(
            "expected series {} with value {} is missing from the result ({} samples)",
            show_labels(labels),
            first_value(e),
            vector.len()
        ));
    }
    Ok(())
}

/// Checks that series come in label order, as every matrix must.
pub(crate) fn check_sorted(matrix: &Matrix) -> Result<(), String> {
    match matrix.windows(2).find(|w| w[0].labels > w[1].labels) {
        Some(w) => Err(format!(
            "matrix not sorted by labels: {} comes before {}",
            show_labels(&w[0].labels),
            show_labels(&w[1].labels)
        )),
        None => Ok(()),
    }
}

fn show_points(series: &RangeSeries) -> String {
    const MAX: usize = 6;
    let mut out: Vec<String> = series
        .points
        .iter()
        .take(MAX)
        .map(|p| format!("{}@{}", p.v, p.t))
        .collect();
    if series.points.len() > MAX {
        out.push(format!("... {} in all", series.points.len()));
    }
    format!("[{}]", out.join(" "))
}

fn compare_matrix(cmd: &EvalCmd, matrix: &Matrix) -> Result<(), String> {
    if cmd.ordered {
        return Err("expected an ordered result, got a matrix".into());
    }
    if cmd.scalar.is_some() {
        return Err(format!(
            "expected a scalar, got a matrix of {} series",
            matrix.len()
        ));
    }
    check_sorted(matrix)?;
    let mut seen = vec![false; cmd.expected.len()];
    for series in matrix {
        let name = show_labels(&series.labels);
        let Some((index, expected)) = cmd
            .expected
            .iter()
            .enumerate()
            .find(|(_, (l, _))| **l == series.labels)
            .map(|(i, (_, e))| (i, e))
        else {
            return Err(format!(
                "unexpected series {name} in the result, points {}",
                show_points(series)
            ));
        };
        seen[index] = true;
        let mut want = Vec::new();
        for (i, v) in expected.values.iter().enumerate() {
            let t = cmd.start + i as i64 * cmd.step;
            if t > cmd.end {
                return Err(format!(
                    "{} points expected for {name}, more than the time range holds",
                    expected.values.len()
                ));
            }
            if let SeqValue::Float(v) = v {
                want.push((t, *v));
            }
        }
        if want.len() != series.points.len() {
            return Err(format!(
                "expected {} points for {name}, got {}: {}",
                want.len(),
                series.points.len(),
                show_points(series)
            ));
        }
        for (i, ((t, v), p)) in want.iter().zip(&series.points).enumerate() {
            if *t != p.t {
                return Err(format!(
                    "point {i} of {name}: expected time {t}, got {} ({})",
                    p.t,
                    show_points(series)
                ));
            }
            if !almost_equal(*v, p.v) {
                return Err(format!(
                    "point {i} (t={t}) of {name}: expected {v}, got {} ({})",
                    p.v,
                    show_points(series)
                ));
            }
        }
    }
    if let Some((labels, _)) = cmd
        .expected
        .iter()
        .zip(&seen)
        .find(|(_, s)| !**s)
        .map(|(e, _)| e)
    {
        return Err(format!(
            "expected series {} is missing from the result ({} series)",
            show_labels(labels),
            matrix.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::STALE_NAN_BITS;

    #[test]
    fn tolerance_is_relative_and_nan_equals_nan() {
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.0001));
        assert!(almost_equal(1e12, 1e12 + 1.0));
        assert!(almost_equal(f64::NAN, -f64::NAN));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!almost_equal(0.0, 1e-300), "zero only equals (almost) zero");
        let stale = f64::from_bits(STALE_NAN_BITS);
        assert!(almost_equal(stale, stale));
        assert!(
            !almost_equal(stale, f64::NAN),
            "the stale marker is not any NaN"
        );
    }

    #[test]
    fn labels_render_like_promql() {
        let l = Labels::new().with("__name__", "up").with("job", "a\"b");
        assert_eq!(show_labels(&l), r#"up{job="a\"b"}"#);
        assert_eq!(show_labels(&Labels::new()), "{}");
    }
}
