//! Behaviour tests of the evaluator over a tiny in-memory querier.

use std::sync::atomic::{AtomicUsize, Ordering};

use model::{Labels, Matcher, Querier, SeriesData, StoreError, TimeRange, Timestamp};

use super::{Engine, EngineOptions};
use crate::promql::{EvalError, STALE_NAN_BITS, Value, parse};

mod modifiers;

const MIN: i64 = 60_000;

/// Series in memory; counts `select` calls so tests can check that data is fetched once.
#[derive(Default)]
struct Mem {
    series: Vec<SeriesData>,
    selects: AtomicUsize,
}

impl Mem {
    /// Adds `spec` (`name{a="b",...}`) with samples `(minute, value)`.
    fn with(mut self, spec: &str, samples: &[(i64, f64)]) -> Self {
        let (name, rest) = spec.split_once('{').unwrap_or((spec, "}"));
        let mut labels = Labels::new().with(model::METRIC_NAME_LABEL, name);
        for pair in rest
            .trim_end_matches('}')
            .split(',')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap();
            labels.set(k, v.trim_matches('"'));
        }
        self.series.push(SeriesData {
            labels,
            timestamps: samples.iter().map(|(m, _)| Timestamp(m * MIN)).collect(),
            values: samples.iter().map(|(_, v)| *v).collect(),
            start_timestamps: Vec::new(),
        });
        self.series.sort_by(|a, b| a.labels.cmp(&b.labels));
        self
    }

    /// `name` with one sample per minute from 0 to `minutes`, value = `start + minute * inc`.
    fn counter(self, spec: &str, minutes: i64, start: f64, inc: f64) -> Self {
        let samples: Vec<(i64, f64)> = (0..=minutes).map(|m| (m, start + inc * m as f64)).collect();
        self.with(spec, &samples)
    }
}

impl Querier for Mem {
    fn select(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<SeriesData>, StoreError> {
        self.selects.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .series
            .iter()
            .filter(|s| Matcher::all_match(matchers, &s.labels))
            .map(|s| {
                let keep: Vec<usize> = (0..s.timestamps.len())
                    .filter(|&i| range.contains(s.timestamps[i]))
                    .collect();
                SeriesData {
                    labels: s.labels.clone(),
                    timestamps: keep.iter().map(|&i| s.timestamps[i]).collect(),
                    values: keep.iter().map(|&i| s.values[i]).collect(),
                    start_timestamps: Vec::new(),
                }
            })
            .filter(|s| !s.timestamps.is_empty())
            .collect())
    }

    fn label_names(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    fn label_values(
        &self,
        _: &str,
        _: &[Matcher],
        _: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

fn instant(q: &Mem, query: &str, t: i64) -> Result<Value, EvalError> {
    Engine::default().instant(q, &parse(query).unwrap(), t)
}

/// The instant vector as `(labels as text, value)`, sorted by labels.
fn vector(q: &Mem, query: &str, t: i64) -> Vec<(String, f64)> {
    match instant(q, query, t).unwrap() {
        Value::Vector(v) => {
            let mut out: Vec<(String, f64)> = v
                .into_iter()
                .map(|s| (super::labels::display(&s.labels), s.value))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("{query}: expected a vector, got {other:?}"),
    }
}

fn scalar(q: &Mem, query: &str, t: i64) -> f64 {
    match instant(q, query, t).unwrap() {
        Value::Scalar { v, .. } => v,
        other => panic!("{query}: expected a scalar, got {other:?}"),
    }
}

fn error(q: &Mem, query: &str, t: i64) -> String {
    instant(q, query, t).unwrap_err().to_string()
}

fn one(labels: &str, v: f64) -> Vec<(String, f64)> {
    vec![(labels.to_string(), v)]
}

#[test]
fn selectors_look_back_five_minutes_and_stop_at_staleness() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let q = Mem::default()
        .with("up{job=\"a\"}", &[(0, 1.0), (10, 2.0)])
        .with("up{job=\"b\"}", &[(0, 5.0), (2, stale)]);
    assert_eq!(
        vector(&q, "up{job=\"a\"}", 4 * MIN),
        one("{__name__=\"up\", job=\"a\"}", 1.0)
    );
    // Exactly five minutes after the sample it is out of the (t - 5m, t] window.
    assert!(vector(&q, "up{job=\"a\"}", 5 * MIN).is_empty());
    assert_eq!(vector(&q, "up", MIN).len(), 2);
    // A staleness marker ends the series at once, not after five minutes.
    assert_eq!(
        vector(&q, "up", 2 * MIN),
        one("{__name__=\"up\", job=\"a\"}", 1.0)
    );
    assert_eq!(vector(&q, "up offset 9m", 10 * MIN).len(), 2);
    assert_eq!(
        vector(&q, "up{job=\"a\"} offset -10m", 0),
        one("{__name__=\"up\", job=\"a\"}", 2.0)
    );
    assert_eq!(
        vector(&q, "up{job=\"a\"} @ 600", 0),
        one("{__name__=\"up\", job=\"a\"}", 2.0)
    );
    assert_eq!(
        vector(&q, "up{job=\"a\"} @ 600 offset 10m", 0),
        one("{__name__=\"up\", job=\"a\"}", 1.0)
    );
    assert_eq!(vector(&q, "up{job=~\"a|c\"}", 10 * MIN).len(), 1);
}

#[test]
fn range_vectors_are_left_open_and_skip_stale_markers() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let q = Mem::default().with("x", &[(0, 1.0), (1, 2.0), (2, stale), (3, 4.0)]);
    let Value::Matrix(m) = instant(&q, "x[3m]", 3 * MIN).unwrap() else {
        panic!()
    };
    let times: Vec<i64> = m[0].points.iter().map(|p| p.t / MIN).collect();
    // 0m is the open start of (0m, 3m]; 2m is a staleness marker.
    assert_eq!(times, vec![1, 3]);
}

#[test]
fn range_queries_fetch_each_selector_once_and_sort_by_labels() {
    let q = Mem::default()
        .counter("req{job=\"b\"}", 60, 0.0, 1.0)
        .counter("req{job=\"a\"}", 60, 0.0, 2.0);
    let expr = parse("req * 2 + req offset 5m").unwrap();
    let Value::Matrix(m) = Engine::default()
        .range(&q, &expr, 10 * MIN, 60 * MIN, MIN)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        q.selects.load(Ordering::Relaxed),
        2,
        "one select per selector"
    );
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].labels.get("job"), Some("a"));
    assert_eq!(m[0].points.len(), 51);
    // At 10m: 2 * 20 + 10.
    assert_eq!(m[0].points[0].v, 50.0);
    assert!(m[0].labels.get("__name__").is_none());
}

#[test]
fn comparisons_filter_and_keep_the_name_unless_bool() {
    let q = Mem::default()
        .with("load{host=\"a\"}", &[(0, 3.0)])
        .with("load{host=\"b\"}", &[(0, 7.0)]);
    assert_eq!(
        vector(&q, "load > 5", 0),
        one("{__name__=\"load\", host=\"b\"}", 7.0)
    );
    assert_eq!(
        vector(&q, "5 < load", 0),
        one("{__name__=\"load\", host=\"b\"}", 7.0)
    );
    assert_eq!(
        vector(&q, "load > bool 5", 0),
        vec![
            ("{host=\"a\"}".to_string(), 0.0),
            ("{host=\"b\"}".to_string(), 1.0)
        ]
    );
    assert_eq!(
        vector(&q, "load{host=\"a\"} * 2", 0),
        one("{host=\"a\"}", 6.0)
    );
    assert_eq!(
        vector(&q, "-load{host=\"a\"}", 0),
        one("{host=\"a\"}", -3.0)
    );
    assert_eq!(scalar(&q, "2 ^ 3 % 5 - 1", 0), 2.0);
    assert_eq!(scalar(&q, "1 >= bool 2", 0), 0.0);
}

#[test]
fn vector_matching_with_group_left_copies_labels_from_the_one_side() {
    let q = Mem::default()
        .with("errors{job=\"api\",code=\"500\"}", &[(0, 5.0)])
        .with("errors{job=\"api\",code=\"503\"}", &[(0, 15.0)])
        .with("errors{job=\"web\",code=\"500\"}", &[(0, 1.0)])
        .with("total{job=\"api\",team=\"core\"}", &[(0, 100.0)]);
    assert_eq!(
        vector(&q, "errors / on(job) group_left(team) total", 0),
        vec![
            (
                "{code=\"500\", job=\"api\", team=\"core\"}".to_string(),
                0.05
            ),
            (
                "{code=\"503\", job=\"api\", team=\"core\"}".to_string(),
                0.15
            ),
        ]
    );
    assert_eq!(
        vector(&q, "total / on(job) group_right errors", 0),
        vec![
            ("{code=\"500\", job=\"api\"}".to_string(), 20.0),
            ("{code=\"503\", job=\"api\"}".to_string(), 100.0 / 15.0),
        ]
    );
    assert_eq!(
        vector(&q, "sum by (job) (errors) / ignoring(team) total", 0),
        one("{job=\"api\"}", 0.2)
    );
    assert!(
        error(&q, "errors / on(job) total", 0).contains("many-to-one matching must be explicit")
    );
    assert_eq!(
        error(&q, "total > on(job) errors", 0),
        "found duplicate series for the match group {job=\"api\"} on the right hand-side of the operation: \
         [{__name__=\"errors\", code=\"500\", job=\"api\"}, {__name__=\"errors\", code=\"503\", job=\"api\"}];\
         many-to-many matching not allowed: matching labels must be unique on one side"
    );
}

#[test]
fn set_operators_match_on_labels_without_the_name() {
    let q = Mem::default()
        .with("a{x=\"1\"}", &[(0, 1.0)])
        .with("a{x=\"2\"}", &[(0, 2.0)])
        .with("b{x=\"2\"}", &[(0, 20.0)])
        .with("b{x=\"3\"}", &[(0, 30.0)]);
    assert_eq!(
        vector(&q, "a and b", 0),
        one("{__name__=\"a\", x=\"2\"}", 2.0)
    );
    assert_eq!(
        vector(&q, "a unless b", 0),
        one("{__name__=\"a\", x=\"1\"}", 1.0)
    );
    assert_eq!(vector(&q, "a or b", 0).len(), 3);
    assert_eq!(vector(&q, "a and on() b", 0).len(), 2);
}

#[test]
fn aggregations_group_by_and_without() {
    let q = Mem::default()
        .with("m{job=\"a\",i=\"1\"}", &[(0, 1.0)])
        .with("m{job=\"a\",i=\"2\"}", &[(0, 3.0)])
        .with("m{job=\"b\",i=\"1\"}", &[(0, 10.0)]);
    assert_eq!(
        vector(&q, "sum by (job) (m)", 0),
        vec![
            ("{job=\"a\"}".to_string(), 4.0),
            ("{job=\"b\"}".to_string(), 10.0)
        ]
    );
    assert_eq!(
        vector(&q, "avg without (i) (m)", 0)[0],
        ("{job=\"a\"}".to_string(), 2.0)
    );
    assert_eq!(vector(&q, "count(m)", 0), one("{}", 3.0));
    assert_eq!(vector(&q, "max(m)", 0), one("{}", 10.0));
    assert_eq!(vector(&q, "quantile(0.5, m)", 0), one("{}", 3.0));
    assert_eq!(
        vector(&q, "stddev by (job) (m)", 0)[0],
        ("{job=\"a\"}".to_string(), 1.0)
    );
    assert_eq!(vector(&q, "count_values(\"v\", m)", 0).len(), 3);
    let Value::Vector(top) = instant(&q, "topk(2, m)", 0).unwrap() else {
        panic!()
    };
    let values: Vec<f64> = top.iter().map(|s| s.value).collect();
    assert_eq!(values, vec![10.0, 3.0], "topk is ordered, largest first");
    assert_eq!(top[0].labels.get("__name__"), Some("m"));
    assert_eq!(error(&q, "topk(NaN, m)", 0), "Parameter value is NaN");
}

#[test]
fn subqueries_evaluate_at_absolute_multiples_of_the_step() {
    let q = Mem::default().counter("c", 30, 0.0, 1.0);
    let Value::Matrix(m) = instant(&q, "c[5m:2m]", 10 * MIN + 30_000).unwrap() else {
        panic!()
    };
    let times: Vec<i64> = m[0].points.iter().map(|p| p.t).collect();
    assert_eq!(times, vec![6 * MIN, 8 * MIN, 10 * MIN]);
    let values: Vec<f64> = m[0].points.iter().map(|p| p.v).collect();
    assert_eq!(values, vec![6.0, 8.0, 10.0]);
    let Value::Matrix(m) = instant(&q, "c[4m:2m] offset 2m", 10 * MIN).unwrap() else {
        panic!()
    };
    assert_eq!(
        m[0].points.iter().map(|p| p.t).collect::<Vec<_>>(),
        vec![6 * MIN, 8 * MIN]
    );
}

#[test]
fn limits_stop_oversized_queries_with_a_clear_error() {
    let mut q = Mem::default();
    for i in 0..20 {
        q = q.with(&format!("wide{{i=\"{i}\"}}"), &[(0, 1.0), (1, 1.0)]);
    }
    let engine = Engine::new(EngineOptions {
        max_series: 10,
        max_samples: 30,
        ..EngineOptions::default()
    });
    let err = engine
        .instant(&q, &parse("sum(wide)").unwrap(), MIN)
        .unwrap_err();
    assert!(
        matches!(err, EvalError::TooManySeries { limit: 10 }),
        "{err}"
    );
    assert!(err.to_string().contains("more than 10 series"));
    let engine = Engine::new(EngineOptions {
        max_samples: 30,
        ..EngineOptions::default()
    });
    let err = engine
        .instant(&q, &parse("sum(wide)").unwrap(), MIN)
        .unwrap_err();
    assert!(
        matches!(err, EvalError::TooManySamples { limit: 30 }),
        "{err}"
    );
}

#[test]
fn dropping_the_name_must_not_merge_series() {
    let q = Mem::default()
        .with("a{x=\"1\"}", &[(0, 1.0)])
        .with("b{x=\"1\"}", &[(0, 2.0)]);
    assert_eq!(
        error(&q, "-{__name__=~\"a|b\"}", 0),
        "vector cannot contain metrics with the same labelset"
    );
    assert_eq!(vector(&q, "{__name__=~\"a|b\"} > 1", 0).len(), 1);
}

#[test]
fn range_queries_over_subqueries_agree_with_instant_queries_at_each_step() {
    let q = Mem::default()
        .counter("c{job=\"a\"}", 90, 0.0, 3.0)
        .with("c{job=\"b\"}", &[(0, 1.0), (20, 5.0), (41, 2.0), (70, 9.0)]);
    for text in [
        "sum_over_time((c * 2)[7m:2m])",
        "max_over_time(sum_over_time(c[3m:1m])[10m:3m] offset 1m)",
        "count_over_time(c[5m:1m] @ 1800)",
    ] {
        let expr = parse(text).unwrap();
        let Value::Matrix(m) = Engine::default()
            .range(&q, &expr, 0, 90 * MIN, 90_000)
            .unwrap()
        else {
            panic!()
        };
        for series in &m {
            for p in &series.points {
                let Value::Vector(v) = Engine::default().instant(&q, &expr, p.t).unwrap() else {
                    panic!()
                };
                let at_step = v.iter().find(|s| s.labels == series.labels).unwrap();
                assert_eq!(at_step.value, p.v, "{text} at {}", p.t);
            }
        }
        assert!(!m.is_empty(), "{text}");
    }
}

#[test]
fn fill_modifiers_stand_in_for_missing_partners() {
    let q = Mem::default()
        .with("used{disk=\"a\"}", &[(0, 10.0)])
        .with("used{disk=\"b\"}", &[(0, 20.0)])
        .with("extra{disk=\"b\"}", &[(0, 5.0)])
        .with("extra{disk=\"c\"}", &[(0, 7.0)]);
    assert_eq!(
        vector(&q, "used + fill(0) extra", 0),
        vec![
            ("{disk=\"a\"}".to_string(), 10.0),
            ("{disk=\"b\"}".to_string(), 25.0),
            ("{disk=\"c\"}".to_string(), 7.0),
        ]
    );
    assert_eq!(vector(&q, "used + fill_right(0) extra", 0).len(), 2);
    assert_eq!(
        vector(&q, "used - fill_left(100) extra", 0)[1],
        ("{disk=\"c\"}".to_string(), 93.0)
    );
}

#[test]
fn query_range_functions_answer_in_seconds() {
    let q = Mem::default();
    assert_eq!(
        scalar(&q, "start() + end() + step() + range()", 60_000),
        120.0
    );
    let expr = parse("vector(end() - start() + step())").unwrap();
    let Value::Matrix(m) = Engine::default()
        .range(&q, &expr, 0, 10 * MIN, 5 * MIN)
        .unwrap()
    else {
        panic!()
    };
    let values: Vec<f64> = m[0].points.iter().map(|p| p.v).collect();
    assert_eq!(values, vec![900.0, 900.0, 900.0]);
}
