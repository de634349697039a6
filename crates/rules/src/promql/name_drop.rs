//! Delayed removal of the metric name, as in Prometheus 3. An operation whose result no longer
//! measures what the name says (arithmetic, `bool` comparisons, most functions) does not
//! remove `__name__` at once: it marks the series, and the name goes when the evaluation ends.
//! Until then the name can still be read and grouped by, so
//! `label_replace(rate(x[5m]), "__name__", "rate_$1", "__name__", "(.+)")` keeps a name and
//! `sum by (__name__) (rate(x[5m]))` groups per metric. Prometheus' type-and-unit labels
//! (`__type__`, `__unit__`) describe the named metric and go with the name.
//!
//! The mark is a label, [`DROP_NAME_LABEL`], so it travels with the labels through every
//! operation without a change to the sample type. Its name starts with a NUL character, which
//! no stored series carries; matching and grouping leave it out (`engine/labels.rs`).

use model::{Labels, METRIC_NAME_LABEL};

use super::{EvalError, Value, Vector};

/// The label that marks a series whose name is to be removed at the end of the evaluation.
pub(crate) const DROP_NAME_LABEL: &str = "\u{0}drop_name";

/// The labels that describe the metric and leave with its name.
const NAME_LABELS: [&str; 3] = [METRIC_NAME_LABEL, "__type__", "__unit__"];

/// Marks the series' name (and type and unit) for removal; a series without them needs none.
pub(crate) fn mark(labels: &mut Labels) {
    if NAME_LABELS.iter().any(|l| labels.get(l).is_some()) {
        labels.set(DROP_NAME_LABEL, "1");
    }
}

/// True when the series' name is marked for removal.
pub(crate) fn is_marked(labels: &Labels) -> bool {
    labels.get(DROP_NAME_LABEL).is_some()
}

/// Keeps the name after all: an operation wrote `__name__` itself.
pub(crate) fn unmark(labels: &mut Labels) {
    labels.remove(DROP_NAME_LABEL);
}

/// Carries out a mark: removes the name, type, unit and the mark itself.
pub(crate) fn finish(labels: &mut Labels) {
    if is_marked(labels) {
        // One pass (one new label set), not one removal per label.
        labels.retain(|name, _| name != DROP_NAME_LABEL && !NAME_LABELS.contains(&name));
    }
}

/// Carries out every mark in a vector, failing when two series end up with the same labels.
pub(crate) fn finish_vector(vector: &mut Vector) -> Result<(), EvalError> {
    let mut any = false;
    for s in vector.iter_mut() {
        any |= is_marked(&s.labels);
        finish(&mut s.labels);
    }
    if any {
        super::numeric::ensure_unique(vector)?;
    }
    Ok(())
}

/// Carries out every mark in a query's result.
pub(crate) fn finish_value(value: &mut Value) -> Result<(), EvalError> {
    match value {
        Value::Vector(v) => finish_vector(v),
        Value::Matrix(m) => {
            let mut any = false;
            for s in m.iter_mut() {
                any |= is_marked(&s.labels);
                finish(&mut s.labels);
            }
            if any {
                let mut seen = std::collections::HashSet::with_capacity(m.len());
                if !m.iter().all(|s| seen.insert(&s.labels)) {
                    return Err(EvalError::Invalid(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
            }
            Ok(())
        }
        Value::Scalar { .. } | Value::String { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::InstantSample;

    fn sample(labels: Labels) -> InstantSample {
        InstantSample {
            labels,
            t: 0,
            value: 1.0,
        }
    }

    #[test]
    fn a_marked_name_stays_until_finished_and_takes_type_and_unit_along() {
        let mut labels = Labels::new()
            .with("__name__", "http_requests_total")
            .with("__type__", "counter")
            .with("__unit__", "request")
            .with("job", "api");
        mark(&mut labels);
        assert_eq!(labels.get("__name__"), Some("http_requests_total"));
        assert!(is_marked(&labels));
        finish(&mut labels);
        assert_eq!(labels, Labels::new().with("job", "api"));
    }

    #[test]
    fn an_unmarked_name_stays_and_nameless_series_need_no_mark() {
        let mut named = Labels::new().with("__name__", "up");
        mark(&mut named);
        unmark(&mut named);
        finish(&mut named);
        assert_eq!(named.get("__name__"), Some("up"));
        let mut nameless = Labels::new().with("job", "a");
        mark(&mut nameless);
        assert!(!is_marked(&nameless));
    }

    #[test]
    fn series_that_differ_only_by_a_dropped_name_collide() {
        let mut v = vec![
            sample(Labels::new().with("__name__", "a").with("x", "1")),
            sample(Labels::new().with("__name__", "b").with("x", "1")),
        ];
        for s in &mut v {
            mark(&mut s.labels);
        }
        let err = finish_vector(&mut v).unwrap_err();
        assert!(err.to_string().contains("same labelset"), "{err}");
    }

    #[test]
    fn queries_can_still_read_a_name_marked_for_removal() {
        crate::promqltest::assert_script_passes(
            "names",
            r#"
load 1m
    a_total{job="x"} 0+1x10
    b_total{job="x"} 0+2x10
    c{job="x"} 1

eval instant at 5m label_replace(rate(a_total[5m]), "from", "$1", "__name__", "(.+)")
    {job="x", from="a_total"} 0.016666666666666666

eval instant at 5m label_replace(rate(a_total[5m]), "__name__", "rate_$1", "__name__", "(.+)")
    rate_a_total{job="x"} 0.016666666666666666

eval instant at 5m sum by (__name__) (-a_total)
    {} -5

eval instant at 5m -{job="x"}
    expect fail regex: same labelset

# Once c is past the lookback, b_total's series takes over: one series, not two.

eval range from 0 to 10m step 5m -c or -b_total
    {job="x"} -1 -10 -20
"#,
        );
    }
}
