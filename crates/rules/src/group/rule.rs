//! One rule of a group at run time: what it remembers between evaluations, what it needs from
//! its group for one evaluation ([`Env`]), and how a recording rule runs. Alerting rules run in
//! `alerting` (Prometheus rules) and `native` (Periscope rules); both share the query and
//! duplicate checks kept here.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use model::{Labels, METRIC_NAME_LABEL, Querier};

use super::{Health, OutputSample, alerting, native, staleness};
use crate::alert::RuleStep;
use crate::promql::{self, Engine, PreparedExpr, Value};

/// One rule of a group and what it remembers.
#[derive(Debug)]
pub(super) struct GroupRule {
    pub(super) name: String,
    /// The expression, prepared for evaluation at every evaluation of the group.
    pub(super) expr: PreparedExpr,
    pub(super) kind: Kind,
    pub(super) health: Health,
    pub(super) last_evaluation: Option<i64>,
    pub(super) last_duration: Duration,
    /// Series written at the last successful evaluation, sorted (see `staleness`).
    pub(super) previous: Vec<Labels>,
}

#[derive(Debug)]
pub(super) enum Kind {
    Recording {
        /// Group labels overlaid with the rule's own.
        labels: Vec<(String, String)>,
    },
    Alerting(alerting::AlertingRule),
    Native(native::NativeAlerting),
}

/// What a rule needs from its group for one evaluation.
pub(super) struct Env<'a> {
    pub(super) engine: &'a Engine,
    pub(super) querier: &'a dyn Querier,
    /// The evaluation time.
    pub(super) now: i64,
    /// The time queries run at (`now` minus the query offset); samples carry it.
    pub(super) t: i64,
    pub(super) limit: usize,
    pub(super) external_labels: &'a BTreeMap<String, String>,
    pub(super) external_url: &'a str,
}

/// A rule's part of a [`RuleResult`](super::RuleResult).
pub(super) struct Evaluated {
    pub(super) series: usize,
    pub(super) alerts: Option<RuleStep>,
}

impl GroupRule {
    /// Evaluates the rule, updates its health and returns what it produced (with staleness
    /// markers for the series it no longer produces), or `None` when it failed.
    pub(super) fn evaluate(
        &mut self,
        env: &Env<'_>,
        parent: Option<&str>,
    ) -> (Evaluated, Option<Vec<OutputSample>>) {
        let result = match &mut self.kind {
            Kind::Recording { labels } => {
                record(env, &self.name, &self.expr, labels).map(|s| (s, None))
            }
            Kind::Alerting(a) => a.evaluate(env, &self.expr),
            Kind::Native(n) => n.evaluate(env, parent),
        };
        match result {
            Ok((mut samples, alerts)) => {
                self.health = Health::Ok;
                let series = match &alerts {
                    Some(step) => step.records.iter().filter(|r| alerting::active(r)).count(),
                    None => samples.len(),
                };
                let ended = staleness::ended_series(&mut self.previous, &samples);
                samples.extend(ended.into_iter().map(|labels| OutputSample {
                    labels,
                    t: env.t,
                    value: f64::from_bits(promql::STALE_NAN_BITS),
                }));
                (Evaluated { series, alerts }, Some(samples))
            }
            Err(failure) => {
                self.health = Health::Error(failure.message);
                (
                    Evaluated {
                        series: 0,
                        alerts: failure.step,
                    },
                    None,
                )
            }
        }
    }
}

/// Why a rule's evaluation failed, and for an alerting rule the step it still made (a rule over
/// its limit drops its alerts, as Prometheus does).
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) step: Option<RuleStep>,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            message,
            step: None,
        }
    }
}

/// Runs a recording rule: its result renamed `name` and labelled, stamped with the query time.
fn record(
    env: &Env<'_>,
    name: &str,
    expr: &PreparedExpr,
    labels: &[(String, String)],
) -> Result<Vec<OutputSample>, Failure> {
    let samples: Vec<OutputSample> = query_vector(env, expr)?
        .into_iter()
        .map(|(mut series, value)| {
            series.set(METRIC_NAME_LABEL, name);
            for (k, v) in labels {
                // As in Prometheus, an empty value removes the label.
                if v.is_empty() {
                    series.remove(k);
                } else {
                    series.set(k.as_str(), v.as_str());
                }
            }
            OutputSample {
                labels: series,
                t: env.t,
                value,
            }
        })
        .collect();
    if has_duplicates(samples.iter().map(|s| &s.labels)) {
        return Err(
            "vector contains metrics with the same labelset after applying rule labels"
                .to_string()
                .into(),
        );
    }
    if env.limit > 0 && samples.len() > env.limit {
        return Err(format!(
            "exceeded limit of {} with {} series",
            env.limit,
            samples.len()
        )
        .into());
    }
    Ok(samples)
}

/// Runs `expr` at `t` and returns its samples as (labels, value); a scalar is one sample without
/// labels, as Prometheus' rule manager treats it.
pub(super) fn query_vector(
    env: &Env<'_>,
    expr: &PreparedExpr,
) -> Result<Vec<(Labels, f64)>, String> {
    match env.engine.instant_prepared(env.querier, expr, env.t) {
        Ok(Value::Vector(v)) => Ok(v.into_iter().map(|s| (s.labels, s.value)).collect()),
        Ok(Value::Scalar { v, .. }) => Ok(vec![(Labels::new(), v)]),
        Ok(_) => Err("rule result is not a vector or scalar".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// True when two of the label sets are equal.
pub(super) fn has_duplicates<'a>(
    labels: impl ExactSizeIterator<Item = &'a Labels> + Clone,
) -> bool {
    match labels.len() {
        0 | 1 => false,
        // A rule's result is mostly a handful of series: comparing pairs (one length and byte
        // comparison each) is cheaper than hashing every set.
        2..=16 => {
            let mut rest = labels;
            while let Some(a) = rest.next() {
                if rest.clone().any(|b| a == b) {
                    return true;
                }
            }
            false
        }
        _ => {
            let mut seen = HashSet::new();
            labels.into_iter().any(|l| !seen.insert(l))
        }
    }
}
