//! The calendar functions (minute, hour, day_of_week, day_of_month, day_of_year,
//! days_in_month, month, year), in UTC. Without an argument they describe the evaluation
//! instant; with one, each sample's value read as seconds since the epoch.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::{Args, CallContext, drop_name};
use crate::promql::{EvalError, InstantSample, Value};

/// Calls `name` if it belongs to this family.
pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    let part: fn(DateTime) -> f64 = match name {
        "minute" => |d| f64::from(d.minute()),
        "hour" => |d| f64::from(d.hour()),
        "day_of_week" => |d| f64::from(d.weekday().to_sunday_zero_offset()),
        "day_of_month" => |d| f64::from(d.day()),
        "day_of_year" => |d| f64::from(d.day_of_year()),
        "days_in_month" => |d| f64::from(d.days_in_month()),
        "month" => |d| f64::from(d.month()),
        "year" => |d| f64::from(d.year()),
        _ => return Ok(None),
    };
    args.expect_count(0, 1)?;
    let out = if args.len() == 0 {
        // Whole seconds, truncated, as Prometheus does with the evaluation time.
        vec![InstantSample {
            labels: model::Labels::new(),
            t: ctx.t,
            value: at(ctx.t / 1000).map_or(f64::NAN, part),
        }]
    } else {
        args.vector(0)?
            .into_iter()
            .map(|mut s| {
                drop_name(&mut s.labels);
                let value = if s.value.is_finite() {
                    at(s.value.trunc() as i64).map_or(f64::NAN, part)
                } else {
                    f64::NAN
                };
                InstantSample {
                    labels: s.labels,
                    t: ctx.t,
                    value,
                }
            })
            .collect()
    };
    Ok(Some(Value::Vector(out)))
}

/// The UTC date and time `seconds` after the epoch; `None` outside the years -9999..=9999.
fn at(seconds: i64) -> Option<DateTime> {
    let ts = Timestamp::from_second(seconds).ok()?;
    Some(TimeZone::UTC.to_datetime(ts))
}

#[cfg(test)]
mod tests {
    use model::Labels;

    use super::*;
    use crate::promql::functions::Arg;
    use crate::promql::functions::tests::{call_finished as call, ctx};

    fn of(name: &str, seconds: f64) -> f64 {
        let v = vec![InstantSample {
            labels: Labels::new().with("__name__", "t"),
            t: 0,
            value: seconds,
        }];
        match call(name, vec![Arg::Vector(v)], &ctx(0, None)).unwrap() {
            Value::Vector(v) => {
                assert_eq!(v[0].labels, Labels::new());
                v[0].value
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parts_of_a_known_date() {
        // 2006-01-02 22:04:05 UTC, a Monday.
        let t = 1136239445.0;
        assert_eq!(of("year", t), 2006.0);
        assert_eq!(of("month", t), 1.0);
        assert_eq!(of("day_of_month", t), 2.0);
        assert_eq!(of("day_of_year", t), 2.0);
        assert_eq!(of("day_of_week", t), 1.0);
        assert_eq!(of("hour", t), 22.0);
        assert_eq!(of("minute", t), 4.0);
    }

    #[test]
    fn leap_years() {
        assert_eq!(of("days_in_month", 1454284800.0), 29.0);
        assert_eq!(of("days_in_month", 1485907200.0), 28.0);
        assert_eq!(of("day_of_year", 1483191420.0), 366.0);
    }

    #[test]
    fn without_argument_the_evaluation_time_is_used() {
        // The epoch was a Thursday.
        let v = call("day_of_week", vec![], &ctx(0, None)).unwrap();
        assert!(matches!(v, Value::Vector(v) if v[0].value == 4.0));
        let v = call("hour", vec![], &ctx(5 * 3_600_000 + 59_999, None)).unwrap();
        assert!(matches!(v, Value::Vector(v) if v[0].value == 5.0));
    }

    #[test]
    fn non_finite_values_have_no_date() {
        assert!(of("year", f64::NAN).is_nan());
    }
}
