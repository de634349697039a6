//! `info(v, {selector})`: adds to each series of `v` the data labels of the info series that
//! share its identifying labels (`instance` and `job`), as Prometheus 3 does.
//!
//! By the time it is called the engine has turned the second argument into the selector of
//! the info series (see `engine/info.rs`) and evaluated it at the instant `v` reads, so the
//! work here is the join: per info metric, the newest info sample with the same identifying
//! labels; its labels that `v` lacks are added (only those named by a data label matcher, when
//! there are such matchers). A series of `v` that is itself an info series passes unchanged.
//! A series no info series matches is kept as it is, unless a data label matcher cannot match
//! an absent label, which makes the enrichment mandatory.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use model::{Labels, METRIC_NAME_LABEL};
use promql_parser::label::Matcher;
use promql_parser::parser::Expr;

use super::{Args, CallContext};
use crate::promql::engine::labels::display;
use crate::promql::{EvalError, InstantSample, Value, Vector};

/// The labels that tie a series to its info series.
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    if name != "info" {
        return Ok(None);
    }
    args.expect_count(2, 2)?;
    let base = args.vector(0)?;
    let infos = args.vector(1)?;
    let Some(Expr::VectorSelector(selector)) = ctx.arg_exprs.get(1).map(|e| &**e) else {
        return Err(args.invalid("the engine did not prepare the info series selector"));
    };
    enrich(base, &infos, &selector.matchers.matchers).map(|v| Some(Value::Vector(v)))
}

/// An info series' key in the join: its metric name and identifying label values.
type InfoKey<'a> = (&'a str, [&'a str; 2]);

fn identifying(labels: &Labels) -> [&str; 2] {
    IDENTIFYING_LABELS.map(|l| labels.get(l).unwrap_or(""))
}

/// Joins `base` with `infos`, the info series read by the selector with `matchers`.
fn enrich(base: Vector, infos: &Vector, matchers: &[Matcher]) -> Result<Vector, EvalError> {
    let (names, data): (Vec<&Matcher>, Vec<&Matcher>) =
        matchers.iter().partition(|m| m.name == METRIC_NAME_LABEL);
    let is_info_series = |labels: &Labels| {
        let name = labels.get(METRIC_NAME_LABEL).unwrap_or("");
        names.iter().all(|m| m.is_match(name))
    };
    // Only identifying labels that some series to enrich carries take part: an info series
    // must have each of them.
    let used: Vec<&str> = IDENTIFYING_LABELS
        .into_iter()
        .filter(|l| {
            base.iter()
                .any(|s| !is_info_series(&s.labels) && s.labels.get(l).is_some())
        })
        .collect();
    let mut newest: BTreeMap<InfoKey<'_>, &InstantSample> = BTreeMap::new();
    if !used.is_empty() {
        for info in infos {
            if used.iter().any(|l| info.labels.get(l).is_none()) {
                continue;
            }
            let name = info.labels.get(METRIC_NAME_LABEL).unwrap_or("");
            match newest.entry((name, identifying(&info.labels))) {
                Entry::Vacant(v) => {
                    v.insert(info);
                }
                Entry::Occupied(mut o) => {
                    let existing = *o.get();
                    if existing.t == info.t {
                        return Err(EvalError::Invalid(format!(
                            "info(): found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                            display(&existing.labels),
                            existing.t,
                            display(&info.labels),
                            info.t
                        )));
                    }
                    if info.t > existing.t {
                        o.insert(info);
                    }
                }
            }
        }
    }
    let mut info_names: Vec<&str> = newest.keys().map(|(name, _)| *name).collect();
    info_names.dedup();
    let mandatory = data.iter().any(|m| !m.is_match(""));
    let mut out = Vector::with_capacity(base.len());
    for sample in base {
        if is_info_series(&sample.labels) {
            out.push(sample);
            continue;
        }
        let key = identifying(&sample.labels);
        let mut added = Labels::new();
        let mut matched = false;
        for name in &info_names {
            let Some(info) = newest.get(&(*name, key)) else {
                continue;
            };
            matched = true;
            for (label, value) in info.labels.iter() {
                if label == METRIC_NAME_LABEL
                    || (!data.is_empty() && !data.iter().any(|m| m.name == label))
                {
                    continue;
                }
                if added.get(label).is_some_and(|v| v != value) {
                    return Err(EvalError::Invalid(format!(
                        "info(): conflicting label: {label} (the info series of {} disagree on it)",
                        display(&sample.labels)
                    )));
                }
                if sample.labels.get(label).is_none() {
                    added.set(label, value);
                }
            }
        }
        if !matched && mandatory {
            continue;
        }
        let mut labels = sample.labels;
        for (label, value) in added.iter() {
            labels.set(label, value);
        }
        out.push(InstantSample { labels, ..sample });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::promqltest::assert_script_passes;

    fn passes(script: &str) {
        assert_script_passes("info", script);
    }

    const DATA: &str = r#"
load 1m
    up{instance="h1", job="node"} 1 1 1 1
    up{instance="h2", job="node"} 0 0 0 0
    target_info{instance="h1", job="node", region="eu", rack="r1"} 1 1 1 1
    target_info{instance="h2", job="node", region="us"} 1 _ _ _
    build_info{instance="h1", job="node", version="1.2"} 1 1 1 1
"#;

    #[test]
    fn series_gain_the_labels_of_their_target_info() {
        passes(&format!(
            r#"{DATA}
eval instant at 1m info(up)
    up{{instance="h1", job="node", region="eu", rack="r1"}} 1
    up{{instance="h2", job="node", region="us"}} 0

eval instant at 1m info(up, {{region=~".+"}})
    up{{instance="h1", job="node", region="eu"}} 1
    up{{instance="h2", job="node", region="us"}} 0

eval instant at 1m info(up, {{__name__="build_info"}})
    up{{instance="h1", job="node", version="1.2"}} 1
    up{{instance="h2", job="node"}} 0
"#
        ));
    }

    #[test]
    fn a_data_matcher_that_needs_a_value_drops_series_without_info() {
        // h2's target_info has no rack: with `.+` no info series matches h2, with `.*` one does
        // (and adds nothing).
        passes(&format!(
            r#"{DATA}
eval instant at 3m info(up, {{rack=~".+"}})
    up{{instance="h1", job="node", rack="r1"}} 1

eval instant at 3m info(up, {{rack=~".*"}})
    up{{instance="h1", job="node", rack="r1"}} 1
    up{{instance="h2", job="node"}} 0
"#
        ));
    }

    #[test]
    fn info_series_pass_unchanged_and_the_newest_one_wins() {
        passes(
            r#"
load 1m
    m{instance="a", job="j"} 1 2 3
    target_info{instance="a", job="j", v="old"} 1 _ _
    target_info{instance="a", job="j", v="new"} _ 1 _

eval instant at 2m info(m)
    m{instance="a", job="j", v="new"} 3

eval instant at 0 info(target_info)
    target_info{instance="a", job="j", v="old"} 1

eval instant at 2m info(m offset 2m)
    m{instance="a", job="j", v="old"} 1
"#,
        );
    }

    #[test]
    fn info_series_disagreeing_on_a_label_fail_the_query() {
        passes(
            r#"
load 1m
    m{instance="a", job="j"} 1
    a_info{instance="a", job="j", x="1"} 1
    b_info{instance="a", job="j", x="2"} 1

eval instant at 0 info(m, {__name__=~".+_info"})
    expect fail regex: conflicting label: x
"#,
        );
    }
}
