//! One alerting rule inside a group: from the query's output series to alerts with expanded
//! labels and annotations, moved by the state machine, and written out as `ALERTS` and
//! `ALERTS_FOR_STATE` samples.

use std::collections::BTreeMap;

use model::alert::{AlertPhase, AlertRecord, Annotations};
use model::{Labels, METRIC_NAME_LABEL, Timestamp};

use super::alert_series::WrittenSeries;
use super::native::template_data;
use super::query::EngineTemplateQuery;
use super::rule::{Env, Failure, has_duplicates, query_vector};
use super::{ALERT_NAME_LABEL, OutputSample};
use crate::alert::{AlertPolicy, Failure as Instance, RuleOutcome, RuleStep, step_rule};
use crate::promql::PreparedExpr;
use crate::template::{AlertData, Template};

/// An alerting rule's settings, parsed templates and alerts.
#[derive(Debug)]
pub(super) struct AlertingRule {
    name: String,
    policy: AlertPolicy,
    /// Group and rule labels, as templates (the rule's own win).
    labels: Vec<NamedTemplate>,
    annotations: Vec<NamedTemplate>,
    /// True when some label or annotation template has an action, so expanding them needs
    /// the alert's data.
    needs_data: bool,
    /// The alerts remembered since the last evaluation, sorted by labels.
    records: Vec<AlertRecord>,
    /// The alerts the last evaluation expanded, sorted by output series, for reuse while a
    /// series keeps its value; `None` when a template runs queries (its text can change while
    /// the series and value do not).
    expanded: Option<Vec<Expanded>>,
    /// The `ALERTS` and `ALERTS_FOR_STATE` series of the active alerts.
    written: WrittenSeries,
}

/// An output series' alert as the last evaluation expanded it.
#[derive(Debug)]
struct Expanded {
    series: Labels,
    value_bits: u64,
    labels: Labels,
    annotations: Annotations,
    /// Set once this evaluation took the expansion over (a series appears once in a query's
    /// result, so this only guards against reusing an emptied entry).
    taken: bool,
}

/// A label or annotation template by name, with its text when it has no action (most rule
/// labels, such as `severity: warning`), which is then used as it is for every alert.
#[derive(Debug)]
struct NamedTemplate {
    name: String,
    template: Template,
    constant: Option<String>,
}

impl NamedTemplate {
    fn new((name, template): (String, Template)) -> Self {
        let constant = template.constant();
        NamedTemplate {
            name,
            template,
            constant,
        }
    }

    /// The expanded text.
    fn expand(&self, data: &AlertData, query: &EngineTemplateQuery<'_>) -> String {
        match &self.constant {
            Some(text) => text.clone(),
            None => expand(&self.template, data, query),
        }
    }
}

/// What a rule whose templates are all constant hands them (they never read it).
const NO_DATA: AlertData = AlertData {
    labels: BTreeMap::new(),
    external_labels: BTreeMap::new(),
    external_url: String::new(),
    value: 0.0,
};

/// True for an alert Prometheus reports (and writes to `ALERTS`): pending or firing.
pub(super) fn active(record: &AlertRecord) -> bool {
    matches!(record.phase, AlertPhase::Pending | AlertPhase::Firing)
}

impl AlertingRule {
    pub(super) fn new(
        name: &str,
        policy: AlertPolicy,
        labels: Vec<(String, Template)>,
        annotations: Vec<(String, Template)>,
    ) -> Self {
        let labels: Vec<NamedTemplate> = labels.into_iter().map(NamedTemplate::new).collect();
        let annotations: Vec<NamedTemplate> =
            annotations.into_iter().map(NamedTemplate::new).collect();
        let runs_queries = labels
            .iter()
            .chain(&annotations)
            .any(|t| t.template.runs_queries());
        AlertingRule {
            name: name.to_string(),
            policy,
            needs_data: labels
                .iter()
                .chain(&annotations)
                .any(|t| t.constant.is_none()),
            labels,
            annotations,
            records: Vec::new(),
            expanded: (!runs_queries).then(Vec::new),
            written: WrittenSeries::default(),
        }
    }

    pub(super) fn records(&self) -> &[AlertRecord] {
        &self.records
    }

    pub(super) fn restore(&mut self, mut records: Vec<AlertRecord>) {
        records.sort_by(|a, b| a.key.cmp(&b.key));
        self.records = records;
    }

    /// Evaluates the rule: the samples to write and the state machine's step.
    pub(super) fn evaluate(
        &mut self,
        env: &Env<'_>,
        expr: &PreparedExpr,
    ) -> Result<(Vec<OutputSample>, Option<RuleStep>), Failure> {
        let series = query_vector(env, expr)?;
        let template_query = EngineTemplateQuery::new(env.engine, env.querier, env.now);
        let instances = self.instances(env, &template_query, series);
        if has_duplicates(instances.iter().map(|i| &i.labels)) {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels"
                    .to_string()
                    .into(),
            );
        }
        let records = std::mem::take(&mut self.records);
        let step = step_rule(
            &self.name,
            &self.policy,
            &RuleOutcome::Failing(instances),
            records,
            Timestamp(env.now),
        );
        let active_count = step.records.iter().filter(|r| active(r)).count();
        if env.limit > 0 && active_count > env.limit {
            // Prometheus drops every alert of a rule over its limit, without resolving them.
            let dropped = RuleStep {
                removed: step.records.into_iter().map(|r| r.key).collect(),
                ..RuleStep::default()
            };
            return Err(Failure {
                message: format!("exceeded limit of {} with {active_count} alerts", env.limit),
                step: Some(dropped),
            });
        }
        self.records = step.records.clone();
        let samples = self
            .written
            .samples(self.records.iter().filter(|r| active(r)), env);
        Ok((samples, Some(step)))
    }

    /// The alert instances of the query's output series, reusing the last evaluation's
    /// expansion of a series with the same value: templates without queries give the same
    /// text for the same labels and value, and most alerts keep both from one evaluation to
    /// the next.
    fn instances(
        &mut self,
        env: &Env<'_>,
        query: &EngineTemplateQuery<'_>,
        series: Vec<(Labels, f64)>,
    ) -> Vec<Instance> {
        let Some(mut last) = self.expanded.take() else {
            return series
                .into_iter()
                .map(|(labels, value)| self.instance(env, query, labels, value))
                .collect();
        };
        let mut instances = Vec::with_capacity(series.len());
        let mut expanded = Vec::with_capacity(series.len());
        for (labels, value) in series {
            let value_bits = value.to_bits();
            let reusable = last
                .binary_search_by(|e| e.series.cmp(&labels))
                .ok()
                .filter(|&i| last[i].value_bits == value_bits && !last[i].taken);
            let e = match reusable {
                Some(i) => {
                    let old = &mut last[i];
                    old.taken = true;
                    Expanded {
                        series: labels,
                        value_bits,
                        labels: std::mem::take(&mut old.labels),
                        annotations: std::mem::take(&mut old.annotations),
                        taken: false,
                    }
                }
                None => {
                    let instance = self.instance(env, query, labels.clone(), value);
                    Expanded {
                        series: labels,
                        value_bits,
                        labels: instance.labels,
                        annotations: instance.annotations,
                        taken: false,
                    }
                }
            };
            instances.push(Instance {
                labels: e.labels.clone(),
                value,
                annotations: e.annotations.clone(),
            });
            expanded.push(e);
        }
        // Query results come sorted by labels already, mostly.
        expanded.sort_by(|a, b| a.series.cmp(&b.series));
        self.expanded = Some(expanded);
        instances
    }

    /// One output series as an alert instance: its labels without the metric name, the rule's
    /// labels expanded over it, `alertname`, and its annotations expanded.
    fn instance(
        &self,
        env: &Env<'_>,
        query: &EngineTemplateQuery<'_>,
        series: Labels,
        value: f64,
    ) -> Instance {
        // Built only when a template has an action: constant templates never read it.
        let built;
        let data = if self.needs_data {
            built = template_data(env, &series, value);
            &built
        } else {
            &NO_DATA
        };
        let mut labels = series;
        labels.remove(METRIC_NAME_LABEL);
        for t in &self.labels {
            let text = t.expand(data, query);
            // As in Prometheus, a label that expands to nothing is no label.
            if text.is_empty() {
                labels.remove(&t.name);
            } else {
                labels.set(t.name.as_str(), text);
            }
        }
        labels.set(ALERT_NAME_LABEL, self.name.as_str());
        let annotations: Annotations = self
            .annotations
            .iter()
            .map(|t| (t.name.clone(), t.expand(data, query)))
            .collect();
        Instance {
            labels,
            value,
            annotations,
        }
    }
}

/// Runs a template; a failure becomes Prometheus' placeholder text rather than an error, so one
/// broken annotation never silences an alert.
pub(super) fn expand(
    template: &Template,
    data: &AlertData,
    query: &EngineTemplateQuery<'_>,
) -> String {
    match template.execute(data, Some(query)) {
        Ok(text) => text,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}
