//! The `anchored` and `smoothed` modifiers through the evaluator: how far past its window a
//! modified selector reads, and which functions take one.

use super::{Engine, EngineOptions, MIN, Mem, Value, error, instant, one, parse, vector};

const SEC: i64 = 1000;

#[test]
fn anchored_increase_starts_from_the_last_sample_before_the_window() {
    // A counter seen at 0m, 4m and 6m; window (5m30s, 6m30s] holds only the 6m sample.
    let q = Mem::default().with("c", &[(0, 10.0), (4, 14.0), (6, 20.0)]);
    let t = 6 * MIN + 30 * SEC;
    // One sample in the window: no plain increase, but the anchor at 4m is within lookback.
    assert!(vector(&q, "increase(c[1m])", t).is_empty());
    assert_eq!(vector(&q, "increase(c[1m] anchored)", t), one("{}", 6.0));
    assert_eq!(vector(&q, "rate(c[1m] anchored)", t), one("{}", 0.1));
    // With a one-minute lookback the anchor is out of reach: the 6m sample stands alone.
    let short = Engine::new(EngineOptions {
        lookback_ms: MIN,
        ..EngineOptions::default()
    });
    let expr = parse("increase(c[1m] anchored)").unwrap();
    let Value::Vector(v) = short.instant(&q, &expr, t).unwrap() else {
        panic!()
    };
    assert_eq!(v[0].value, 0.0);
}

#[test]
fn anchored_changes_count_the_step_into_the_window() {
    let q = Mem::default().with("g", &[(0, 1.0), (1, 2.0), (2, 2.0), (3, 5.0)]);
    // Window (1m, 3m]: 2 -> 5 inside; anchored also sees 2 (at 1m) -> 2 (at 2m).
    assert_eq!(vector(&q, "changes(g[2m])", 3 * MIN), one("{}", 1.0));
    assert_eq!(
        vector(&q, "changes(g[2m] anchored)", 3 * MIN),
        one("{}", 1.0)
    );
    // Window (30s, 2m30s]: the anchor 1 at 0m makes 1 -> 2 a change.
    let t = 2 * MIN + 30 * SEC;
    assert_eq!(vector(&q, "changes(g[2m])", t), one("{}", 0.0));
    assert_eq!(vector(&q, "changes(g[2m] anchored)", t), one("{}", 1.0));
}

#[test]
fn smoothed_instant_selectors_interpolate_at_the_shifted_instant() {
    let q = Mem::default().with("g", &[(0, 0.0), (2, 20.0), (4, 10.0)]);
    let v = |query: &str, t: i64| vector(&q, query, t);
    assert_eq!(v("g smoothed", MIN), one("{__name__=\"g\"}", 10.0));
    assert_eq!(v("g smoothed", 3 * MIN), one("{__name__=\"g\"}", 15.0));
    // Past the last sample its value carries on, within the lookback.
    assert_eq!(v("g smoothed", 6 * MIN), one("{__name__=\"g\"}", 10.0));
    assert_eq!(
        v("g offset 1m smoothed", 2 * MIN),
        one("{__name__=\"g\"}", 10.0)
    );
    assert_eq!(v("g @ 180 smoothed", 0), one("{__name__=\"g\"}", 15.0));
    // Before the first sample there is nothing to carry.
    assert!(v("g smoothed", -MIN).is_empty());
    // The interpolated sample carries the evaluation instant.
    let Value::Vector(s) = instant(&q, "g smoothed", 3 * MIN).unwrap() else {
        panic!()
    };
    assert_eq!(s[0].t, 3 * MIN);
}

#[test]
fn a_modified_range_selector_alone_has_a_point_on_each_edge() {
    let q = Mem::default().with("g", &[(0, 0.0), (2, 20.0), (4, 10.0)]);
    let Value::Matrix(m) = instant(&q, "g[2m] smoothed", 3 * MIN).unwrap() else {
        panic!()
    };
    let points: Vec<(i64, f64)> = m[0].points.iter().map(|p| (p.t / SEC, p.v)).collect();
    assert_eq!(points, vec![(60, 10.0), (120, 20.0), (180, 15.0)]);
}

#[test]
fn functions_that_take_no_modified_range_refuse_it_even_without_data() {
    let q = Mem::default();
    assert_eq!(
        error(&q, "max_over_time(nothing[3m] anchored)", MIN),
        "anchored modifier can only be used with: changes, delta, increase, rate, resets - \
         not with max_over_time"
    );
    assert_eq!(
        error(&q, "changes(nothing[3m] smoothed)", MIN),
        "smoothed modifier can only be used with: delta, increase, rate - not with changes"
    );
    assert!(vector(&q, "resets(nothing[3m] anchored)", MIN).is_empty());
}
