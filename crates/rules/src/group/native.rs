//! One native rule ([`crate::native::NativeRule`]) inside a group: its conditions' series
//! judged at `now` into levels, alerts keyed by their labels *and* level, no data for series
//! that stop arriving, dependencies, and the state machine with the rule's own policy.
//!
//! No data, precisely: a condition is *complete* when its expression returns every series it
//! watches (see [`crate::native::Condition::complete`]). For such a rule, an alert whose series
//! is missing from the result gets a no-data evaluation; a series that was in the last result
//! and is missing now raises an alert at the most urgent level the rule can give at `now`; and
//! a rule that has never found anything raises one alert labelled with its selector's equality
//! matchers (as `absent()` would). What a no-data evaluation means is the policy's `no_data`.

use std::collections::{BTreeMap, BTreeSet};

use model::alert::{AlertKey, AlertPhase, AlertRecord, Annotations};
use model::level::Level;
use model::{Labels, METRIC_NAME_LABEL, Timestamp};

use super::alert_series::alert_samples;
use super::alerting::{active, expand};
use super::query::EngineTemplateQuery;
use super::rule::{Env, Failure, query_vector};
use super::{ALERT_NAME_LABEL, OutputSample};
use crate::alert::{self, AlertPolicy, Evaluation, RuleStep, suppress_for_parent};
use crate::native::{LEVEL_LABEL, NativeRule, Test, absent_labels};
use crate::promql::{self, Expr, PreparedExpr};
use crate::template::{AlertData, Template};

/// How the series a Periscope rule found changed from one evaluation to the next. The rule
/// fires "no data" for a series it found last time and misses now, so that memory must survive a
/// restart; callers keep it up to date from these changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeenChange {
    /// Series (alert labels without `level` and `alertname`) found now and not last time.
    pub appeared: Vec<Labels>,
    /// Series found last time and missing now (each gets a no-data evaluation).
    pub vanished: Vec<Labels>,
}

impl SeenChange {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty() && self.vanished.is_empty()
    }
}

/// A native rule's parsed conditions, templates and alerts.
#[derive(Debug)]
pub(super) struct NativeAlerting {
    name: String,
    policy: AlertPolicy,
    conditions: Vec<(PreparedExpr, Test, bool)>,
    /// Labels of the alert for a rule that never found anything.
    absent: Labels,
    labels: Vec<(String, Template)>,
    annotations: Vec<(String, Template)>,
    pub(super) depends_on: Vec<String>,
    records: Vec<AlertRecord>,
    /// Series (alert labels without level) found at the last evaluation.
    known: BTreeSet<Labels>,
    /// How `known` changed at the last evaluation, until the group hands it out.
    seen_change: Option<SeenChange>,
}

impl NativeAlerting {
    /// Parses the rule's conditions and templates; the error names what failed.
    pub(super) fn new(rule: &NativeRule) -> Result<(Self, Expr), String> {
        let mut conditions = Vec::new();
        for c in &rule.conditions {
            let expr = promql::parse(&c.expr).map_err(|e| format!("{}: {e}", c.expr))?;
            conditions.push((PreparedExpr::new(expr), c.test.clone(), c.complete));
        }
        let first = conditions
            .first()
            .map(|(e, _, _)| e.expr().clone())
            .ok_or_else(|| "no condition".to_string())?;
        let parse = |map: &BTreeMap<String, String>| {
            map.iter()
                .map(|(k, v)| {
                    Template::parse(v)
                        .map(|t| (k.clone(), t))
                        .map_err(|e| format!("{k}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok((
            NativeAlerting {
                name: rule.name.clone(),
                policy: rule.policy.clone(),
                absent: absent_labels(&first),
                conditions,
                labels: parse(&rule.labels)?,
                annotations: parse(&rule.annotations)?,
                depends_on: rule.depends_on.clone(),
                records: Vec::new(),
                known: BTreeSet::new(),
                seen_change: None,
            },
            first,
        ))
    }

    pub(super) fn records(&self) -> &[AlertRecord] {
        &self.records
    }

    pub(super) fn restore(&mut self, mut records: Vec<AlertRecord>) {
        records.sort_by(|a, b| a.key.cmp(&b.key));
        self.records = records;
    }

    /// Gives back the series found at the last evaluation before a restart, so a series that
    /// stopped arriving just before it still gets its no-data evaluation after it.
    pub(super) fn restore_seen(&mut self, series: impl IntoIterator<Item = Labels>) {
        self.known.extend(series);
    }

    /// The series found at the last evaluation (what [`Self::restore_seen`] takes back).
    pub(super) fn seen(&self) -> &BTreeSet<Labels> {
        &self.known
    }

    /// How the series found changed at the last evaluation, once: `None` when they did not.
    pub(super) fn take_seen_change(&mut self) -> Option<SeenChange> {
        self.seen_change.take()
    }

    /// True when one of its alerts is firing.
    pub(super) fn firing(&self) -> bool {
        self.records.iter().any(|r| r.phase == AlertPhase::Firing)
    }

    /// Evaluates the rule at `env.now`; `parent` is a rule it depends on that fires now.
    pub(super) fn evaluate(
        &mut self,
        env: &Env<'_>,
        parent: Option<&str>,
    ) -> Result<(Vec<OutputSample>, Option<RuleStep>), Failure> {
        let now = Timestamp(env.now);
        let query = EngineTemplateQuery::new(env.engine, env.querier, env.now);
        // Per series: the most urgent level any condition gives it, with that value.
        let mut worst: BTreeMap<Labels, (Option<Level>, f64, Labels)> = BTreeMap::new();
        let mut present = BTreeSet::new();
        for (expr, test, complete) in &self.conditions {
            for (series, value) in query_vector(env, expr)? {
                let base = self.base_labels(env, &query, &series, value);
                if *complete {
                    present.insert(base.clone());
                }
                let level = match test {
                    // A filtering comparison returns only what fails, whatever its value
                    // (`up == 0` returns 0): presence is failure, as in Prometheus.
                    Test::NonZero(level) if !*complete => Some(*level),
                    _ => test.level_for(value, now),
                };
                let entry = worst
                    .entry(base)
                    .or_insert_with(|| (None, value, series.clone()));
                if level > entry.0 {
                    *entry = (level, value, series);
                }
            }
        }
        let mut evaluations: BTreeMap<AlertKey, Evaluation> = BTreeMap::new();
        for (base, (level, value, series)) in &worst {
            let Some(level) = level else { continue };
            let labels = self.alert_labels(base, *level);
            let mut data_labels = series.clone();
            data_labels.set(LEVEL_LABEL, level.as_str());
            let annotations = self.annotations(env, &query, &data_labels, *value);
            evaluations.insert(
                AlertKey::new(self.name.as_str(), labels.clone()),
                Evaluation::Failing(alert::Failure {
                    labels,
                    value: *value,
                    annotations,
                }),
            );
        }
        let watches = self.conditions.iter().any(|(_, _, complete)| *complete);
        let absent_base = self.base_labels(env, &query, &Labels::new(), f64::NAN);
        let absent_base = merge(&self.absent, &absent_base);
        for record in &self.records {
            if evaluations.contains_key(&record.key) {
                continue;
            }
            let base = base_of(&record.key.labels);
            // The alert of a rule that found nothing resolves once anything is found.
            let absent_alert_answered = base == absent_base && !present.is_empty();
            let missing = watches && !present.contains(&base) && !absent_alert_answered;
            let evaluation = if missing {
                Evaluation::NoData
            } else {
                Evaluation::Ok
            };
            evaluations.insert(record.key.clone(), evaluation);
        }
        if watches
            && let Some(level) = self
                .conditions
                .iter()
                .filter_map(|(_, t, _)| t.worst_at(now))
                .max()
        {
            let with_alert: BTreeSet<Labels> = self
                .records
                .iter()
                .map(|r| base_of(&r.key.labels))
                .collect();
            let mut gone: Vec<Labels> = self
                .known
                .iter()
                .filter(|b| !present.contains(*b) && !with_alert.contains(*b))
                .cloned()
                .collect();
            if present.is_empty() && self.known.is_empty() && self.records.is_empty() {
                gone.push(absent_base);
            }
            for base in gone {
                let key = AlertKey::new(self.name.as_str(), self.alert_labels(&base, level));
                evaluations.entry(key).or_insert(Evaluation::NoData);
            }
        }
        let change = SeenChange {
            appeared: present.difference(&self.known).cloned().collect(),
            vanished: self.known.difference(&present).cloned().collect(),
        };
        self.seen_change = (!change.is_empty()).then_some(change);
        self.known = present;

        let records = std::mem::take(&mut self.records);
        let mut step = step_all(&self.policy, evaluations, records, now);
        suppress_for_parent(&mut step, parent);
        self.records = step.records.clone();
        let samples = alert_samples(self.records.iter().filter(|r| active(r)), env);
        Ok((samples, Some(step)))
    }

    /// The series' labels without the metric name, with the rule's labels expanded over it.
    fn base_labels(
        &self,
        env: &Env<'_>,
        query: &EngineTemplateQuery<'_>,
        series: &Labels,
        value: f64,
    ) -> Labels {
        let mut labels = series.clone();
        labels.remove(METRIC_NAME_LABEL);
        if self.labels.is_empty() {
            return labels;
        }
        let data = template_data(env, series, value);
        for (name, template) in &self.labels {
            let text = expand(template, &data, query);
            if text.is_empty() {
                labels.remove(name);
            } else {
                labels.set(name.as_str(), text);
            }
        }
        labels
    }

    fn alert_labels(&self, base: &Labels, level: Level) -> Labels {
        let mut labels = base.clone();
        labels.set(LEVEL_LABEL, level.as_str());
        labels.set(ALERT_NAME_LABEL, self.name.as_str());
        labels
    }

    fn annotations(
        &self,
        env: &Env<'_>,
        query: &EngineTemplateQuery<'_>,
        series: &Labels,
        value: f64,
    ) -> Annotations {
        let data = template_data(env, series, value);
        self.annotations
            .iter()
            .map(|(name, template)| (name.clone(), expand(template, &data, query)))
            .collect()
    }
}

/// What templates see of an alert on `series` with `value`.
pub(super) fn template_data(env: &Env<'_>, series: &Labels, value: f64) -> AlertData {
    AlertData {
        labels: series
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        external_labels: env.external_labels.clone(),
        external_url: env.external_url.to_string(),
        value,
    }
}

/// `extra` laid over `base`.
fn merge(base: &Labels, extra: &Labels) -> Labels {
    let mut out = base.clone();
    for (k, v) in extra.iter() {
        out.set(k, v);
    }
    out
}

/// An alert's labels without `level` and `alertname`: the series it stands for.
fn base_of(labels: &Labels) -> Labels {
    let mut base = labels.clone();
    base.remove(LEVEL_LABEL);
    base.remove(ALERT_NAME_LABEL);
    base
}

/// Moves every alert by its evaluation (an alert without one is good), creating records for
/// new ones and dropping those with nothing left to remember, as [`crate::alert::step_rule`]
/// does for a single outcome.
fn step_all(
    policy: &AlertPolicy,
    evaluations: BTreeMap<AlertKey, Evaluation>,
    records: Vec<AlertRecord>,
    now: Timestamp,
) -> RuleStep {
    let mut alerts: BTreeMap<AlertKey, (AlertRecord, bool)> = records
        .into_iter()
        .map(|r| (r.key.clone(), (r, true)))
        .collect();
    for key in evaluations.keys() {
        alerts
            .entry(key.clone())
            .or_insert_with(|| (AlertRecord::new(key.clone(), now), false));
    }
    let mut result = RuleStep::default();
    for (key, (record, existed)) in alerts {
        let evaluation = evaluations.get(&key).cloned().unwrap_or(Evaluation::Ok);
        let (record, transition) = alert::step(record, policy, &evaluation, now);
        result.transitions.extend(transition);
        let forgettable = record.phase == AlertPhase::Inactive
            && !record.flapping
            && !record.history.any_failing();
        if !forgettable {
            result.records.push(record);
        } else if existed {
            result.removed.push(key);
        }
    }
    result
}
