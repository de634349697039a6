//! One rule at one evaluation: the set of failing instances in, every alert of the rule moved
//! one step; and dependencies, which keep a child's new alerts quiet while a parent fires.

use std::cmp::Ordering;

use model::alert::{AlertKey, AlertPhase, AlertRecord, Change, StateBatch, Transition};
use model::{Labels, Timestamp};

use super::{AlertPolicy, Failure, Seen, step_seen};

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
    mut records: Vec<AlertRecord>,
    now: Timestamp,
) -> RuleStep {
    sort_records(&mut records);
    let failures = match outcome {
        RuleOutcome::Error(message) => {
            return RuleStep {
                records,
                health: Some(message.clone()),
                ..RuleStep::default()
            };
        }
        RuleOutcome::NoData { labels } => {
            // Every alert gets the no-data evaluation, and so does the one for `labels`.
            let key = AlertKey::new(rule, labels.clone());
            let created = match records.binary_search_by(|r| r.key.cmp(&key)) {
                Ok(_) => None,
                Err(at) => {
                    records.insert(at, AlertRecord::new(key, now));
                    Some(at)
                }
            };
            let mut result = RuleStep::default();
            for (i, record) in records.into_iter().enumerate() {
                let existed = created != Some(i);
                push_step(&mut result, record, existed, policy, Seen::NoData, now);
            }
            return result;
        }
        RuleOutcome::Failing(failures) => failures,
    };

    // The failing instances in key order (they all share `rule`, so label order); of
    // instances with the same labels the first is used.
    let mut failing: Vec<(usize, &Failure)> = failures.iter().enumerate().collect();
    failing.sort_by(|a, b| a.1.labels.cmp(&b.1.labels));
    let mut last_duplicate: Option<usize> = None;
    failing.dedup_by(|later, earlier| {
        let duplicate = later.1.labels == earlier.1.labels;
        if duplicate {
            last_duplicate = last_duplicate.max(Some(later.0));
        }
        duplicate
    });
    let mut result = RuleStep {
        health: last_duplicate.map(|i| {
            let key = AlertKey::new(rule, failures[i].labels.clone());
            format!(
                "two failing instances of {key}: after the rule's labels are added, \
                 instances must still have different labels (the first one is used)"
            )
        }),
        ..RuleStep::default()
    };

    // Every remembered alert and every failing instance, merged in key order.
    let mut records = records.into_iter().peekable();
    let mut failing = failing.into_iter().map(|(_, f)| f).peekable();
    loop {
        let order = match (records.peek(), failing.peek()) {
            (Some(r), Some(f)) => r
                .key
                .rule
                .as_str()
                .cmp(rule)
                .then_with(|| r.key.labels.cmp(&f.labels)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        let (record, existed, failure) = match order {
            Ordering::Less => (records.next(), true, None),
            Ordering::Equal => (records.next(), true, failing.next()),
            Ordering::Greater => {
                let f = failing.next();
                let new = f.map(|f| AlertRecord::new(AlertKey::new(rule, f.labels.clone()), now));
                (new, false, f)
            }
        };
        let Some(record) = record else { break };
        let seen = failure.map_or(Seen::Ok, Seen::Failing);
        push_step(&mut result, record, existed, policy, seen, now);
    }
    result
}

/// Sorts records by key, keeping the last of records with the same key (as collecting them
/// into a map did); records a rule kept are sorted already.
fn sort_records(records: &mut Vec<AlertRecord>) {
    if records.windows(2).all(|w| w[0].key < w[1].key) {
        return;
    }
    records.sort_by(|a, b| a.key.cmp(&b.key));
    records.dedup_by(|later, earlier| {
        let same = later.key == earlier.key;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
}

/// Steps one alert and files the outcome: the record kept, or its key removed when nothing
/// is left to remember (only for an alert that existed before).
fn push_step(
    result: &mut RuleStep,
    record: AlertRecord,
    existed: bool,
    policy: &AlertPolicy,
    seen: Seen<'_>,
    now: Timestamp,
) {
    let (record, transition) = step_seen(record, policy, seen, now);
    result.transitions.extend(transition);
    let forgettable =
        record.phase == AlertPhase::Inactive && !record.flapping && !record.history.any_failing();
    if !forgettable {
        result.records.push(record);
    } else if existed {
        result.removed.push(record.key);
    }
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
