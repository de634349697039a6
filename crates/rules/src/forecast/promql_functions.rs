//! The forecasts as PromQL functions of our own, so operators write them in rules like any
//! other function: their declarations for the parser and their evaluation over already
//! evaluated arguments (the evaluator's function dispatcher calls
//! [`evaluate_forecast_function`] before its own table).
//!
//! Every function returns one sample per input series, labelled like it minus `__name__` (as
//! PromQL functions over range vectors do), timestamped at the evaluation instant. A series
//! with too little data to forecast gives no sample, as `predict_linear` does.

use std::sync::OnceLock;

use promql_parser::parser::function::{Function, register_extra_functions};
use promql_parser::parser::value::ValueType;

use super::capacity::{self, CapacityOptions};
use super::linear::{self, Direction};
use super::montecarlo::{self, MonteCarloOptions, Resampling};
use crate::promql::functions::Arg;
use crate::promql::{EvalError, InstantSample, Matrix, RangeSeries, Value};
use model::{Labels, METRIC_NAME_LABEL};

/// The forecast functions' names, as written in PromQL.
pub const FUNCTION_NAMES: [&str; 6] = [
    "time_until",
    "time_until_below",
    "time_until_above",
    "time_until_full",
    "crossing_probability",
    "crossing_time",
];

/// The parser's declarations: argument types, how many trailing ones are optional, result type.
fn declarations() -> Vec<Function> {
    use ValueType::{Matrix, Scalar, Vector};
    let f = |name, args, optional, result| Function::new(name, args, optional, result, false);
    vec![
        f("time_until", vec![Matrix, Scalar], 0, Vector),
        f("time_until_below", vec![Matrix, Scalar], 0, Vector),
        f("time_until_above", vec![Matrix, Scalar], 0, Vector),
        // used[w], capacity[w], optional full fraction
        f("time_until_full", vec![Matrix, Matrix, Scalar], 1, Vector),
        // v[w], threshold, horizon seconds, optional season seconds
        f(
            "crossing_probability",
            vec![Matrix, Scalar, Scalar, Scalar],
            1,
            Vector,
        ),
        // v[w], threshold, horizon seconds, quantile, optional season seconds
        f(
            "crossing_time",
            vec![Matrix, Scalar, Scalar, Scalar, Scalar],
            1,
            Vector,
        ),
    ]
}

/// The forecast functions could not be declared to the PromQL parser.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("declaring the forecast functions to the PromQL parser: {0}")]
pub struct RegisterError(pub String);

/// Declares the forecast functions to `promql-parser` (process-wide), so queries using them
/// parse. Idempotent and cheap after the first call (the outcome is kept), so a parse entry
/// point can call it every time. Fails only if a parser version ever gains a built-in function
/// of the same name.
pub fn register_parser_functions() -> Result<(), RegisterError> {
    static REGISTERED: OnceLock<Result<(), RegisterError>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| register_extra_functions(declarations()).map_err(RegisterError))
        .clone()
}

/// Evaluates the forecast function `name` over evaluated arguments at the instant `t`
/// (milliseconds). `None` when `name` is not a forecast function, so a dispatcher can try this
/// first and fall through to its own table.
pub fn evaluate_forecast_function(
    name: &str,
    args: &[Arg],
    t: i64,
) -> Option<Result<Value, EvalError>> {
    let result = match name {
        "time_until" => linear_fn(name, args, t, Direction::FromCurrentSide),
        "time_until_below" => linear_fn(name, args, t, Direction::Falling),
        "time_until_above" => linear_fn(name, args, t, Direction::Rising),
        "time_until_full" => time_until_full(args, t),
        "crossing_probability" => monte_carlo_fn(name, args, t, None),
        "crossing_time" => scalar(name, args, 3, "the quantile").and_then(|q| {
            if q > 0.0 && q <= 1.0 {
                monte_carlo_fn(name, args, t, Some(q))
            } else {
                Err(invalid(
                    name,
                    format!("the quantile must be in (0, 1], got {q}"),
                ))
            }
        }),
        _ => return None,
    };
    Some(result.map(Value::Vector))
}

fn linear_fn(
    name: &str,
    args: &[Arg],
    t: i64,
    direction: Direction,
) -> Result<Vec<InstantSample>, EvalError> {
    let series = matrix(name, args, 0)?;
    let threshold = scalar(name, args, 1, "the threshold")?;
    Ok(per_series(series, t, |s| {
        linear::time_until_in(&s.points, threshold, direction, t).map(|f| f.crossing.seconds())
    }))
}

fn time_until_full(args: &[Arg], t: i64) -> Result<Vec<InstantSample>, EvalError> {
    const NAME: &str = "time_until_full";
    let used = matrix(NAME, args, 0)?;
    let capacities = matrix(NAME, args, 1)?;
    let mut options = CapacityOptions::default();
    if args.len() > 2 {
        let fraction = scalar(NAME, args, 2, "the full fraction")?;
        if !(fraction > 0.0 && fraction.is_finite()) {
            return Err(invalid(
                NAME,
                format!("the full fraction must be above 0, got {fraction}"),
            ));
        }
        options.full_fraction = fraction;
    }
    let mut by_labels: Vec<(Labels, &RangeSeries)> = Vec::with_capacity(capacities.len());
    for series in capacities {
        let key = without_name(&series.labels);
        if by_labels.iter().any(|(k, _)| *k == key) {
            return Err(invalid(
                NAME,
                format!(
                    "several capacity series have the labels {key:?} once __name__ is dropped; \
                     narrow the capacity selector so each used series has one partner"
                ),
            ));
        }
        by_labels.push((key, series));
    }
    Ok(per_series(used, t, |s| {
        let key = without_name(&s.labels);
        let (_, capacity) = by_labels.iter().find(|(k, _)| *k == key)?;
        let forecast = capacity::time_until_full(&s.points, &capacity.points, t, &options)?;
        Some(forecast.seconds_until_full()).filter(|v| !v.is_nan())
    }))
}

fn monte_carlo_fn(
    name: &str,
    args: &[Arg],
    t: i64,
    quantile: Option<f64>,
) -> Result<Vec<InstantSample>, EvalError> {
    let series = matrix(name, args, 0)?;
    let threshold = scalar(name, args, 1, "the threshold")?;
    let horizon = scalar(name, args, 2, "the horizon")?;
    let season_at = if quantile.is_some() { 4 } else { 3 };
    let mut options = MonteCarloOptions::default();
    if args.len() > season_at {
        let season = scalar(name, args, season_at, "the season")?;
        if !(season.is_finite() && season >= 1.0) {
            return Err(invalid(
                name,
                format!("the season must be at least 1 second, got {season}"),
            ));
        }
        options.resampling = Resampling::seasonal((season * 1000.0).round() as i64);
    }
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let forecast = montecarlo::crossing_probability(
            &s.points,
            threshold,
            Direction::FromCurrentSide,
            horizon,
            t,
            &options,
        )
        .map_err(|e| invalid(name, e.to_string()))?;
        let Some(forecast) = forecast else { continue };
        let value = match quantile {
            None => forecast.probability,
            Some(q) => forecast.quantile(q).unwrap_or(f64::INFINITY),
        };
        out.push(sample(&s.labels, t, value));
    }
    Ok(out)
}

/// One output sample per series for which `f` has an answer.
fn per_series(
    series: &Matrix,
    t: i64,
    f: impl Fn(&RangeSeries) -> Option<f64>,
) -> Vec<InstantSample> {
    series
        .iter()
        .filter_map(|s| f(s).map(|v| sample(&s.labels, t, v)))
        .collect()
}

fn sample(labels: &Labels, t: i64, value: f64) -> InstantSample {
    InstantSample {
        labels: without_name(labels),
        t,
        value,
    }
}

fn without_name(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    labels.remove(METRIC_NAME_LABEL);
    labels
}

fn invalid(name: &str, message: String) -> EvalError {
    EvalError::Invalid(format!("{name}(): {message}"))
}

fn matrix<'a>(name: &str, args: &'a [Arg], i: usize) -> Result<&'a Matrix, EvalError> {
    match args.get(i) {
        Some(Arg::Matrix(m)) => Ok(m),
        _ => Err(invalid(
            name,
            format!("argument {} must be a range vector, such as x[6h]", i + 1),
        )),
    }
}

fn scalar(name: &str, args: &[Arg], i: usize, what: &str) -> Result<f64, EvalError> {
    match args.get(i) {
        Some(Arg::Scalar(v)) => Ok(*v),
        _ => Err(invalid(
            name,
            format!("argument {} ({what}) must be a number", i + 1),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::Point;

    const NOW: i64 = 1_700_000_000_000;

    fn range(labels: &[(&str, &str)], f: impl Fn(f64) -> f64) -> RangeSeries {
        RangeSeries {
            labels: labels.iter().copied().collect(),
            // One point a minute for the hour before NOW, valued f(minutes before NOW).
            points: (0..=60)
                .rev()
                .map(|m| Point {
                    t: NOW - m * 60_000,
                    v: f(m as f64),
                })
                .collect(),
            start_times: Vec::new(),
        }
    }

    fn vector(value: Option<Result<Value, EvalError>>) -> Vec<InstantSample> {
        match value {
            Some(Ok(Value::Vector(v))) => v,
            other => panic!("expected a vector, got {other:?}"),
        }
    }

    fn error(value: Option<Result<Value, EvalError>>) -> String {
        match value {
            Some(Err(e)) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn operators_queries_parse_once_registered() {
        register_parser_functions().unwrap();
        register_parser_functions().unwrap(); // idempotent
        for query in [
            "time_until(node_filesystem_free_bytes[6h], 0) < 4 * 3600",
            "time_until_below(queue_free_slots[30m], 10) < 600",
            "time_until_above(temperature_celsius[1h], 80)",
            "time_until_full((node_filesystem_size_bytes - node_filesystem_free_bytes)[6h:5m], \
             node_filesystem_size_bytes[6h]) < 86400",
            "time_until_full(used_bytes[6h], size_bytes[6h], 0.95)",
            "crossing_probability(queue_depth[7d], 1000, 12 * 3600, 86400) > 0.5",
            "crossing_time(queue_depth[1d], 1000, 43200, 0.9)",
        ] {
            crate::promql::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        }
        let wrong = crate::promql::parse("time_until(x[6h])")
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("time_until"), "{wrong}");
        assert!(crate::promql::parse("time_until(x, 0)").is_err()); // needs a range
    }

    #[test]
    fn time_until_answers_per_series_without_the_name() {
        let falling = range(&[("__name__", "free"), ("disk", "a")], |m| 100.0 + m);
        let rising = range(&[("__name__", "free"), ("disk", "b")], |m| 100.0 - m);
        let single = RangeSeries {
            labels: [("__name__", "free"), ("disk", "c")].into_iter().collect(),
            points: vec![Point { t: NOW, v: 1.0 }],
            start_times: Vec::new(),
        };
        let args = [
            Arg::Matrix(vec![falling, rising, single]),
            Arg::Scalar(40.0),
        ];
        let out = vector(evaluate_forecast_function("time_until", &args, NOW));
        // Disk a falls 1 a minute from 100: 60 minutes to 40. Disk b rises away: never. Disk c
        // has one point: no answer.
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].labels, [("disk", "a")].into_iter().collect());
        assert!((out[0].value - 3600.0).abs() < 1e-6, "{}", out[0].value);
        assert_eq!(out[0].t, NOW);
        assert_eq!(out[1].value, f64::INFINITY);

        let below = vector(evaluate_forecast_function("time_until_below", &args, NOW));
        assert_eq!(
            (below[0].value, below[1].value),
            (out[0].value, f64::INFINITY)
        );
        // Disk a falls away from 130: never; disk b rises 1 a minute from 100: 30 minutes.
        let above = [args[0].clone(), Arg::Scalar(130.0)];
        let above = vector(evaluate_forecast_function("time_until_above", &above, NOW));
        assert_eq!(above[0].value, f64::INFINITY);
        assert!((above[1].value - 1800.0).abs() < 1e-6, "{}", above[1].value);
        // Disk b is already below 120: `time_until_below` says 0 where `time_until` (from the
        // side it is on) says 20 minutes until it rises through 120.
        let at_120 = [args[0].clone(), Arg::Scalar(120.0)];
        let below = vector(evaluate_forecast_function("time_until_below", &at_120, NOW));
        assert_eq!(below[1].value, 0.0);
        let either = vector(evaluate_forecast_function("time_until", &at_120, NOW));
        assert!(
            (either[1].value - 1200.0).abs() < 1e-6,
            "{}",
            either[1].value
        );
    }

    #[test]
    fn time_until_full_pairs_series_by_labels_without_the_name() {
        let used = |disk| range(&[("disk", disk)], |m| 50.0 - m / 6.0); // 10 an hour, 50 now
        let size = |disk, v| range(&[("__name__", "size"), ("disk", disk)], move |_| v);
        let args = [
            Arg::Matrix(vec![used("a"), used("orphan")]),
            Arg::Matrix(vec![size("a", 100.0), size("b", 100.0)]),
        ];
        let out = vector(evaluate_forecast_function("time_until_full", &args, NOW));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].labels, [("disk", "a")].into_iter().collect());
        assert!(
            (out[0].value - 5.0 * 3600.0).abs() < 1e-6,
            "{}",
            out[0].value
        );

        let mut with_fraction = args.to_vec();
        with_fraction.push(Arg::Scalar(0.9));
        let out = vector(evaluate_forecast_function(
            "time_until_full",
            &with_fraction,
            NOW,
        ));
        assert!(
            (out[0].value - 4.0 * 3600.0).abs() < 1e-6,
            "{}",
            out[0].value
        );

        let twice = [
            Arg::Matrix(vec![used("a")]),
            Arg::Matrix(vec![
                size("a", 100.0),
                range(&[("__name__", "size_too"), ("disk", "a")], |_| 1.0),
            ]),
        ];
        let message = error(evaluate_forecast_function("time_until_full", &twice, NOW));
        assert!(message.contains("several capacity series"), "{message}");
    }

    #[test]
    fn monte_carlo_functions_and_their_argument_checks() {
        // Rising exactly 1 a minute: +30 in 30 minutes in every future.
        let series = || Arg::Matrix(vec![range(&[("__name__", "q")], |m| 100.0 - m)]);
        let args = [series(), Arg::Scalar(130.0), Arg::Scalar(3600.0)];
        let p = vector(evaluate_forecast_function(
            "crossing_probability",
            &args,
            NOW,
        ));
        assert_eq!(p[0].value, 1.0);
        let args = [
            series(),
            Arg::Scalar(130.0),
            Arg::Scalar(3600.0),
            Arg::Scalar(0.9),
        ];
        let t = vector(evaluate_forecast_function("crossing_time", &args, NOW));
        assert!((t[0].value - 1800.0).abs() < 1e-6, "{}", t[0].value);
        // Out of reach within the horizon: no time, reported as +Inf so `< x` is false.
        let args = [
            series(),
            Arg::Scalar(1e6),
            Arg::Scalar(3600.0),
            Arg::Scalar(0.5),
        ];
        let t = vector(evaluate_forecast_function("crossing_time", &args, NOW));
        assert_eq!(t[0].value, f64::INFINITY);

        let bad_q = [
            series(),
            Arg::Scalar(1.0),
            Arg::Scalar(60.0),
            Arg::Scalar(2.0),
        ];
        let message = error(evaluate_forecast_function("crossing_time", &bad_q, NOW));
        assert!(
            message.starts_with("crossing_time(): the quantile"),
            "{message}"
        );
        let bad_horizon = [series(), Arg::Scalar(1.0), Arg::Scalar(-5.0)];
        let message = error(evaluate_forecast_function(
            "crossing_probability",
            &bad_horizon,
            NOW,
        ));
        assert!(message.contains("horizon"), "{message}");
        let bad_season = [
            series(),
            Arg::Scalar(1.0),
            Arg::Scalar(60.0),
            Arg::Scalar(0.0),
        ];
        let message = error(evaluate_forecast_function(
            "crossing_probability",
            &bad_season,
            NOW,
        ));
        assert!(message.contains("season"), "{message}");
        // An hour of history is not a day: a seasonal forecast has no answer yet.
        let seasonal = [
            series(),
            Arg::Scalar(130.0),
            Arg::Scalar(3600.0),
            Arg::Scalar(86400.0),
        ];
        assert!(
            vector(evaluate_forecast_function(
                "crossing_probability",
                &seasonal,
                NOW
            ))
            .is_empty()
        );
    }

    #[test]
    fn other_names_fall_through_and_wrong_types_are_named() {
        assert!(evaluate_forecast_function("rate", &[], NOW).is_none());
        let message = error(evaluate_forecast_function(
            "time_until",
            &[Arg::Scalar(1.0), Arg::Scalar(0.0)],
            NOW,
        ));
        assert_eq!(
            message,
            "time_until(): argument 1 must be a range vector, such as x[6h]"
        );
    }
}
