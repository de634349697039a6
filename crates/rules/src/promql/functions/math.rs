//! Element-wise arithmetic on instant vectors (abs, exp, the trig family, clamp, round, sgn,
//! ...), timestamp, and the functions that make or take scalars (vector, scalar, time, pi,
//! min_of, max_of).

use std::f64::consts::PI;

use super::{Args, CallContext, drop_name, go_max, go_min};
use crate::promql::{EvalError, InstantSample, Value, Vector};

/// Calls `name` if it belongs to this family.
pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    if let Some(f) = unary(name) {
        args.expect_count(1, 1)?;
        return Ok(Some(Value::Vector(map(args.vector(0)?, ctx, f))));
    }
    let scalar = |v: f64| Ok(Some(Value::Scalar { t: ctx.t, v }));
    match name {
        "clamp" => {
            args.expect_count(3, 3)?;
            let v = args.vector(0)?;
            let (lo, hi) = (args.scalar(1)?, args.scalar(2)?);
            // An empty range clamps everything away.
            let out = if hi < lo {
                Vec::new()
            } else {
                map(v, ctx, |x| go_max(lo, go_min(hi, x)))
            };
            Ok(Some(Value::Vector(out)))
        }
        "clamp_min" | "clamp_max" => {
            args.expect_count(2, 2)?;
            let v = args.vector(0)?;
            let bound = args.scalar(1)?;
            let out = if name == "clamp_min" {
                map(v, ctx, |x| go_max(bound, x))
            } else {
                map(v, ctx, |x| go_min(bound, x))
            };
            Ok(Some(Value::Vector(out)))
        }
        "round" => {
            args.expect_count(1, 2)?;
            let v = args.vector(0)?;
            let to_nearest = if args.len() > 1 { args.scalar(1)? } else { 1.0 };
            // Rounding half up, through the inverse, as Prometheus does: round(-2.5) is -2.
            let inverse = 1.0 / to_nearest;
            Ok(Some(Value::Vector(map(v, ctx, |x| {
                (x * inverse + 0.5).floor() / inverse
            }))))
        }
        "timestamp" => {
            args.expect_count(1, 1)?;
            let out = args
                .vector(0)?
                .into_iter()
                .map(|mut s| {
                    drop_name(&mut s.labels);
                    InstantSample {
                        labels: s.labels,
                        t: ctx.t,
                        value: s.t as f64 / 1000.0,
                    }
                })
                .collect();
            Ok(Some(Value::Vector(out)))
        }
        "vector" => {
            args.expect_count(1, 1)?;
            let v = args.scalar(0)?;
            Ok(Some(Value::Vector(vec![InstantSample {
                labels: model::Labels::new(),
                t: ctx.t,
                value: v,
            }])))
        }
        "scalar" => {
            args.expect_count(1, 1)?;
            let v = args.vector(0)?;
            scalar(if v.len() == 1 { v[0].value } else { f64::NAN })
        }
        "time" => {
            args.expect_count(0, 0)?;
            scalar(ctx.t as f64 / 1000.0)
        }
        "pi" => {
            args.expect_count(0, 0)?;
            scalar(PI)
        }
        "min_of" | "max_of" => {
            args.expect_count(2, 2)?;
            let (a, b) = (args.scalar(0)?, args.scalar(1)?);
            scalar(if name == "min_of" {
                go_min(a, b)
            } else {
                go_max(a, b)
            })
        }
        _ => Ok(None),
    }
}

/// The element-wise function `name`, if it is one.
fn unary(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |x| x * 180.0 / PI,
        "rad" => |x| x * PI / 180.0,
        // Zero and NaN are their own sign.
        "sgn" => |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        },
        _ => return None,
    })
}

/// Applies `f` to every value; the result no longer is what the metric name measured.
fn map(v: Vector, ctx: &CallContext<'_>, f: impl Fn(f64) -> f64) -> Vector {
    v.into_iter()
        .map(|mut s| {
            drop_name(&mut s.labels);
            InstantSample {
                labels: s.labels,
                t: ctx.t,
                value: f(s.value),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use model::Labels;

    use super::*;
    use crate::promql::functions::Arg;
    use crate::promql::functions::tests::{call_finished as call, ctx};

    fn vector(values: &[f64]) -> Vector {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| InstantSample {
                labels: Labels::new().with("__name__", "m").with("i", i.to_string()),
                t: 1234,
                value: v,
            })
            .collect()
    }

    fn values(name: &str, input: &[f64], scalars: &[f64]) -> Vec<f64> {
        let mut args = vec![Arg::Vector(vector(input))];
        args.extend(scalars.iter().map(|&s| Arg::Scalar(s)));
        match call(name, args, &ctx(60_000, None)).unwrap() {
            Value::Vector(v) => {
                assert!(v.iter().all(|s| s.labels.metric_name().is_none()), "{name}");
                v.into_iter().map(|s| s.value).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rounding_goes_half_up_and_to_a_step() {
        assert_eq!(
            values("round", &[2.5, -2.5, 1.4], &[]),
            vec![3.0, -2.0, 1.0]
        );
        assert_eq!(values("round", &[7.3, 12.6], &[5.0]), vec![5.0, 15.0]);
        assert_eq!(values("ceil", &[2.1, -2.5], &[]), vec![3.0, -2.0]);
    }

    #[test]
    fn clamp_bounds_values_and_nan_bounds_give_nan() {
        assert_eq!(
            values("clamp", &[-50.0, 0.0, 100.0], &[-25.0, 75.0]),
            vec![-25.0, 0.0, 75.0]
        );
        assert!(values("clamp", &[1.0], &[0.0, f64::NAN])[0].is_nan());
        assert!(values("clamp", &[1.0], &[5.0, -5.0]).is_empty());
        assert_eq!(
            values("clamp_min", &[-50.0, 3.0], &[-25.0]),
            vec![-25.0, 3.0]
        );
        assert_eq!(
            values("clamp_max", &[-50.0, 300.0], &[75.0]),
            vec![-50.0, 75.0]
        );
    }

    #[test]
    fn sign_keeps_nan_and_zero() {
        let v = values("sgn", &[f64::NEG_INFINITY, 0.0, 3.0, f64::NAN], &[]);
        assert_eq!(&v[..3], &[-1.0, 0.0, 1.0]);
        assert!(v[3].is_nan());
    }

    #[test]
    fn degrees_and_radians() {
        assert_eq!(values("deg", &[10.0], &[]), vec![572.9577951308232]);
        assert_eq!(values("rad", &[10.0], &[]), vec![0.17453292519943295]);
    }

    #[test]
    fn timestamp_returns_the_sample_time_in_seconds() {
        assert_eq!(values("timestamp", &[5.0], &[]), vec![1.234]);
    }

    #[test]
    fn scalar_needs_exactly_one_sample() {
        let s = |v: &[f64]| call("scalar", vec![Arg::Vector(vector(v))], &ctx(0, None)).unwrap();
        assert_eq!(s(&[4.0]), Value::Scalar { t: 0, v: 4.0 });
        assert!(matches!(s(&[1.0, 2.0]), Value::Scalar { v, .. } if v.is_nan()));
        let time = call("time", vec![], &ctx(3_600_000, None)).unwrap();
        assert_eq!(
            time,
            Value::Scalar {
                t: 3_600_000,
                v: 3600.0
            }
        );
    }
}
