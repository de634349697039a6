//! The meta-alert `PeriscopeRuleFailing{rule, group, level="critical"}`: a rule that cannot be
//! evaluated (query error, store unreadable, a limit exceeded) is a health problem people must
//! see, not a rule that silently goes quiet. It goes through the same state machine and state
//! database as any alert, fires at the first failed evaluation and resolves at the first
//! evaluation that works again.

use std::time::Duration;

use model::alert::{AlertRecord, Annotations};
use model::level::Level;
use model::{Labels, Timestamp};

use super::alert_series::alert_samples;
use super::alerting::active;
use super::{ALERT_NAME_LABEL, Env, Health, OutputSample, RuleResult};
use crate::alert::{AlertPolicy, Failure, RuleOutcome, step_rule};
use crate::native::{LEVEL_LABEL, RULE_FAILING_ALERT};

/// Moves the meta-alert by one evaluation of the group: one failing instance per rule whose
/// health is an error in `results`.
pub(super) fn step(
    group: &str,
    records: &mut Vec<AlertRecord>,
    results: &[RuleResult],
    env: &Env<'_>,
) -> (RuleResult, Vec<OutputSample>) {
    let failures: Vec<Failure> = results
        .iter()
        .filter_map(|r| r.health.error().map(|e| (r.name.as_str(), e)))
        .map(|(rule, error)| {
            let labels = Labels::new()
                .with(ALERT_NAME_LABEL, RULE_FAILING_ALERT)
                .with("group", group)
                .with("rule", rule)
                .with(LEVEL_LABEL, Level::Critical.as_str());
            let mut annotations = Annotations::new();
            annotations.insert(
                "summary".to_string(),
                format!("rule {rule} of group {group} cannot be evaluated"),
            );
            annotations.insert("error".to_string(), error.to_string());
            Failure {
                labels,
                value: 1.0,
                annotations,
            }
        })
        .collect();
    // Health is not flapping: a rule that fails every other time should be seen each time.
    let policy = AlertPolicy {
        flap: None,
        ..AlertPolicy::default()
    };
    let step = step_rule(
        RULE_FAILING_ALERT,
        &policy,
        &RuleOutcome::Failing(failures),
        std::mem::take(records),
        Timestamp(env.now),
    );
    *records = step.records.clone();
    let samples = alert_samples(records.iter().filter(|r| active(r)), env);
    let result = RuleResult {
        name: RULE_FAILING_ALERT.to_string(),
        health: Health::Ok,
        duration: Duration::ZERO,
        series: records.iter().filter(|r| active(r)).count(),
        alerts: Some(step),
        seen: None,
    };
    (result, samples)
}
