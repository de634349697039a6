//! One alerting rule inside a group: from the query's output series to alerts with expanded
//! labels and annotations, moved by the state machine, and written out as `ALERTS` and
//! `ALERTS_FOR_STATE` samples.

use model::alert::{AlertPhase, AlertRecord, Annotations};
use model::{Labels, METRIC_NAME_LABEL, Timestamp};

use super::query::EngineTemplateQuery;
use super::{
    ALERT_NAME_LABEL, ALERT_STATE_LABEL, ALERTS_FOR_STATE_METRIC, ALERTS_METRIC, Env, Failure,
    OutputSample, has_duplicates, query_vector,
};
use crate::alert::{AlertPolicy, Failure as Instance, RuleOutcome, RuleStep, step_rule};
use crate::promql::Expr;
use crate::template::{AlertData, Template};

/// An alerting rule's settings, parsed templates and alerts.
#[derive(Debug)]
pub(super) struct AlertingRule {
    name: String,
    policy: AlertPolicy,
    /// Group and rule labels, as templates (the rule's own win).
    labels: Vec<(String, Template)>,
    annotations: Vec<(String, Template)>,
    /// The alerts remembered since the last evaluation, sorted by labels.
    records: Vec<AlertRecord>,
}

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
        AlertingRule {
            name: name.to_string(),
            policy,
            labels,
            annotations,
            records: Vec::new(),
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
        expr: &Expr,
    ) -> Result<(Vec<OutputSample>, Option<RuleStep>), Failure> {
        let series = query_vector(env, expr)?;
        let template_query = EngineTemplateQuery::new(env.engine, env.querier, env.now);
        let instances: Vec<Instance> = series
            .into_iter()
            .map(|(labels, value)| self.instance(env, &template_query, labels, value))
            .collect();
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
        let samples = alert_samples(self.records.iter().filter(|r| active(r)), env);
        Ok((samples, Some(step)))
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
        let data = AlertData {
            labels: series
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            external_labels: env.external_labels.clone(),
            external_url: env.external_url.to_string(),
            value,
        };
        let mut labels = series;
        labels.remove(METRIC_NAME_LABEL);
        for (name, template) in &self.labels {
            let text = expand(template, &data, query);
            // As in Prometheus, a label that expands to nothing is no label.
            if text.is_empty() {
                labels.remove(name);
            } else {
                labels.set(name.as_str(), text);
            }
        }
        labels.set(ALERT_NAME_LABEL, self.name.as_str());
        let annotations: Annotations = self
            .annotations
            .iter()
            .map(|(name, template)| (name.clone(), expand(template, &data, query)))
            .collect();
        Instance {
            labels,
            value,
            annotations,
        }
    }
}

/// The `ALERTS` and `ALERTS_FOR_STATE` samples of active alerts, stamped with the query time.
pub(super) fn alert_samples<'r>(
    records: impl Iterator<Item = &'r AlertRecord>,
    env: &Env<'_>,
) -> Vec<OutputSample> {
    let mut samples = Vec::new();
    for record in records {
        let mut alerts = record.key.labels.clone();
        alerts.set(METRIC_NAME_LABEL, ALERTS_METRIC);
        alerts.set(ALERT_STATE_LABEL, record.phase.as_str());
        samples.push(OutputSample {
            labels: alerts,
            t: env.t,
            value: 1.0,
        });
        let mut for_state = record.key.labels.clone();
        for_state.set(METRIC_NAME_LABEL, ALERTS_FOR_STATE_METRIC);
        let since = record.pending_since.unwrap_or(Timestamp(env.now)).0;
        samples.push(OutputSample {
            labels: for_state,
            t: env.t,
            value: since.div_euclid(1000) as f64,
        });
    }
    samples
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
