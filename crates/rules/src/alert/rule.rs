//! One rule at one evaluation: the set of failing instances in, every alert of the rule moved
//! one step; and dependencies, which keep a child's new alerts quiet while a parent fires.

use std::collections::BTreeMap;

use model::alert::{AlertKey, AlertPhase, AlertRecord, Change, StateBatch, Transition};
use model::{Labels, Timestamp};

use super::{AlertPolicy, Evaluation, Failure, step};

/// What one evaluation of a rule found.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleOutcome {
    /// The query ran; these instances fail. Empty means every instance is fine, and every
    /// alert whose labels are not listed gets a good evaluation (and resolves in time).
    Failing(Vec<Failure>),
    /// The query ran but the series it watches are absent. Every existing alert of the rule
    /// gets a no-data evaluation, and so does the alert with `labels` (created if missing), so
    /// a rule that never had data still raises one alert (typically `labels` are the equality
    /// matchers of the query's selector, as Prometheus' `absent()` would give).
    NoData {
        /// Labels of the alert that stands for the whole missing query.
        labels: Labels,
    },
    /// The rule could not be evaluated: no alert moves, and the error is surfaced as
    /// [`RuleStep::health`].
    Error(String),
}

/// The result of [`step_rule`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleStep {
    /// The rule's alerts after the step, sorted by labels (those worth keeping).
    pub records: Vec<AlertRecord>,
    /// Alerts dropped because they are inactive with no failing evaluation among their last
    /// 21: nothing is left to remember. Delete them from the state database.
    pub removed: Vec<AlertKey>,
    /// What changed, in label order.
    pub transitions: Vec<Transition>,
    /// Set when the rule is unhealthy: it could not be evaluated, or its results were
    /// ambiguous. Shown to people (a meta-alert) rather than being a state of any alert.
    pub health: Option<String>,
}

impl RuleStep {
    /// The step as one state-database batch.
    pub fn into_batch(self) -> StateBatch {
        StateBatch {
            upserts: self.records,
            removals: self.removed,
            transitions: self.transitions,
            group: None,
        }
    }
}

/// Moves every alert of `rule` by one evaluation at `now`.
///
/// `records` are the rule's alerts from the last step (or from the state database after a
/// restart). An instance that fails and has no record yet gets one; an alert whose labels are
/// no longer among the failing instances gets a good evaluation, so it resolves (subject to
/// its policy) when its series stops failing.
pub fn step_rule(
    rule: &str,
    policy: &AlertPolicy,
    outcome: &RuleOutcome,
    records: Vec<AlertRecord>,
    now: Timestamp,
) -> RuleStep {
    let mut health = None;
    let mut alerts: BTreeMap<AlertKey, (AlertRecord, bool)> = records
        .into_iter()
        .map(|r| (r.key.clone(), (r, true)))
        .collect();
    let mut failing: BTreeMap<AlertKey, &Failure> = BTreeMap::new();
    match outcome {
        RuleOutcome::Error(message) => {
            return RuleStep {
                records: alerts.into_values().map(|(r, _)| r).collect(),
                health: Some(message.clone()),
                ..RuleStep::default()
            };
        }
        RuleOutcome::Failing(failures) => {
            for f in failures {
                let key = AlertKey::new(rule, f.labels.clone());
                if failing.contains_key(&key) {
                    health = Some(format!(
                        "two failing instances of {key}: after the rule's labels are added, \
                         instances must still have different labels (the first one is used)"
                    ));
                    continue;
                }
                failing.insert(key, f);
            }
        }
        RuleOutcome::NoData { labels } => {
            let key = AlertKey::new(rule, labels.clone());
            alerts
                .entry(key.clone())
                .or_insert_with(|| (AlertRecord::new(key, now), false));
        }
    }
    for key in failing.keys() {
        alerts
            .entry(key.clone())
            .or_insert_with(|| (AlertRecord::new(key.clone(), now), false));
    }

    let mut result = RuleStep {
        health,
        ..RuleStep::default()
    };
    for (key, (record, existed)) in alerts {
        let evaluation = match outcome {
            RuleOutcome::NoData { .. } => Evaluation::NoData,
            _ => match failing.get(&key) {
                Some(f) => Evaluation::Failing((*f).clone()),
                None => Evaluation::Ok,
            },
        };
        let (record, transition) = step(record, policy, &evaluation, now);
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

/// Keeps a child's new problem quiet because its parent `parent` is firing.
///
/// A transition that announces a problem (the alert starts firing, or a flapping notice) stops
/// notifying and names the parent; when the alert starts firing, the record is marked
/// suppressed for the rest of that firing, so its eventual resolution is recorded but not
/// notified either (nobody heard of it firing). Resolutions and other moves pass untouched:
/// an alert that people already heard of still tells them when it resolves. Returns true when
/// it suppressed something.
pub fn suppress(record: &mut AlertRecord, transition: &mut Transition, parent: &str) -> bool {
    let starts_firing = transition.to == AlertPhase::Firing
        && (transition.from != AlertPhase::Firing || transition.notify);
    let flapping_notice = transition.change == Change::FlappingStarted && transition.notify;
    if !starts_firing && !flapping_notice {
        return false;
    }
    transition.notify = false;
    transition.suppressed_by = Some(parent.to_string());
    if starts_firing {
        record.suppressed_by = Some(parent.to_string());
        record.notified_firing = false;
    }
    true
}

/// Applies [`suppress`] to every transition of a rule step while `firing_parent` (the name of
/// a rule or monitor the rule depends on that is firing now) is set; does nothing when no
/// parent fires.
pub fn suppress_for_parent(step: &mut RuleStep, firing_parent: Option<&str>) {
    let Some(parent) = firing_parent else {
        return;
    };
    for transition in &mut step.transitions {
        if let Some(record) = step.records.iter_mut().find(|r| r.key == transition.key) {
            suppress(record, transition, parent);
        }
    }
}
