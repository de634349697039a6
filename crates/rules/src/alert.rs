//! The alert state machine: pure functions from (record, policy, evaluation, `now`) to the next
//! record and, when something changed, a [`Transition`].
//!
//! # Life cycle
//!
//! `inactive -> pending -> firing -> resolved -> inactive`.
//!
//! - A **failing** evaluation makes an inactive alert pending (its `pending_since` is that
//!   evaluation). A pending alert fires at the first evaluation at which *both* its failing
//!   stretch has lasted [`AlertPolicy::for_ms`] (Prometheus' `for`) *and* it has failed
//!   [`AlertPolicy::for_checks`] evaluations in a row (Nagios' soft/hard states: a soft problem
//!   becomes hard after N checks). With `for_ms = 0` and `for_checks = 1` it fires at once.
//! - A **good** evaluation drops a pending alert back to inactive (a soft problem that
//!   recovered is forgotten, as Prometheus and Nagios do). A firing alert resolves only when it
//!   has been good [`AlertPolicy::recover_after_checks`] evaluations in a row (hysteresis) *and*
//!   its last failing evaluation is at least [`AlertPolicy::keep_firing_for_ms`] old
//!   (Prometheus' `keep_firing_for`).
//! - A resolved alert is inactive at its next evaluation; that bookkeeping step yields no
//!   transition. If that evaluation fails, the transition is `resolved -> pending` (or
//!   `-> firing`).
//! - **No data** counts as failing by default ([`NoData::Failing`]): a series that stops
//!   arriving is a problem, not a recovery. A rule can count it as good or ignore it instead.
//! - An **error** (the rule could not be evaluated) is a health problem, not a state: the record
//!   is left exactly as it was and the caller surfaces the error (see [`RuleStep::health`]).
//!
//! # Flapping
//!
//! Every counted evaluation pushes failing/good into the record's 21-entry history. The
//! *weighted share of changes* follows the idea of Nagios and Icinga (recent changes count
//! more), with our own weights: each of the 20 possible changes between neighbouring outcomes
//! counts with a weight rising linearly from 0.8 (the oldest) to 1.2 (the newest), and the sum
//! is divided by 20, so an alert that changes at every evaluation scores exactly 100 %. An alert starts flapping when the
//! share reaches [`FlapThresholds::high_percent`] and stops when it falls below
//! [`FlapThresholds::low_percent`]; the gap keeps the mark itself from flapping. The defaults
//! are Icinga 2's 30 % / 25 %: Nagios' sample 20 % / 5 % marks too late to save anyone's night,
//! and a 50 % high mark needs an alert that changes at nearly every other evaluation.
//!
//! A flapping alert notifies **once**, when it starts flapping. While it flaps its phase keeps
//! moving (and is recorded) but nothing is notified. When it stops flapping, one notification
//! goes out only if the alert settled on the other side of what people last heard (it is firing
//! and the last notice said it was not, or the reverse).
//!
//! # Notification
//!
//! A transition notifies when an alert starts firing, when a firing alert resolves *and* people
//! were told it was firing ([`AlertRecord::notified_firing`]), and as described for flapping.
//! Pending and inactive moves are recorded but quiet.

mod flap;
mod rule;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flap;
#[cfg(test)]
mod tests_rule;

use model::alert::{AlertPhase, AlertRecord, Annotations, Change, Transition};
use model::{ConfigIssue, Labels, Timestamp};

pub use flap::weighted_change_percent;
pub use rule::{RuleOutcome, RuleStep, step_rule, suppress, suppress_for_parent};

/// Icinga 2's default high flapping threshold, in percent.
pub const DEFAULT_FLAP_HIGH_PERCENT: f64 = 30.0;
/// Icinga 2's default low flapping threshold, in percent.
pub const DEFAULT_FLAP_LOW_PERCENT: f64 = 25.0;

/// How one rule's alerts move between phases.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertPolicy {
    /// How long an alert must keep failing before it fires, in milliseconds (Prometheus'
    /// `for`). 0: no minimum duration.
    pub for_ms: i64,
    /// How many failing evaluations in a row an alert needs before it fires (Nagios'
    /// `max_check_attempts`). 1: the first failing evaluation is enough.
    pub for_checks: u32,
    /// How long a firing alert keeps firing after its last failing evaluation, in milliseconds
    /// (Prometheus' `keep_firing_for`). 0: it may resolve at the first good evaluation.
    pub keep_firing_for_ms: i64,
    /// How many good evaluations in a row a firing alert needs to resolve. 1: the first one.
    pub recover_after_checks: u32,
    /// Flap detection thresholds; `None` turns flap detection off.
    pub flap: Option<FlapThresholds>,
    /// What an evaluation that finds no series means.
    pub no_data: NoData,
}

impl Default for AlertPolicy {
    /// Fires at the first failing evaluation, resolves at the first good one, flap detection
    /// with Icinga's thresholds, no data is failing.
    fn default() -> Self {
        AlertPolicy {
            for_ms: 0,
            for_checks: 1,
            keep_firing_for_ms: 0,
            recover_after_checks: 1,
            flap: Some(FlapThresholds::default()),
            no_data: NoData::Failing,
        }
    }
}

impl AlertPolicy {
    /// Every problem with these settings, by the key a rule file would use.
    pub fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if self.for_ms < 0 {
            issues.push(ConfigIssue::new("for", "must not be negative"));
        }
        if self.keep_firing_for_ms < 0 {
            issues.push(ConfigIssue::new("keep_firing_for", "must not be negative"));
        }
        if self.for_checks == 0 {
            issues.push(
                ConfigIssue::new("for_checks", "must be at least 1")
                    .hint("1 fires at the first failing evaluation"),
            );
        }
        if self.recover_after_checks == 0 {
            issues.push(
                ConfigIssue::new("recover_after_checks", "must be at least 1")
                    .hint("1 resolves at the first good evaluation"),
            );
        }
        if let Some(flap) = &self.flap {
            for (key, v) in [
                ("flap_high_percent", flap.high_percent),
                ("flap_low_percent", flap.low_percent),
            ] {
                if !(0.0..=100.0).contains(&v) {
                    issues.push(ConfigIssue::new(key, format!("{v} is not within 0..=100")));
                }
            }
            if flap.low_percent > flap.high_percent {
                issues.push(
                    ConfigIssue::new(
                        "flap_low_percent",
                        format!(
                            "{} is above flap_high_percent ({})",
                            flap.low_percent, flap.high_percent
                        ),
                    )
                    .hint("the low threshold ends flapping and must not exceed the high one"),
                );
            }
        }
        issues
    }
}

/// When an alert counts as flapping, as a weighted share of state changes in percent (see the
/// module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlapThresholds {
    /// Flapping starts when the share reaches this.
    pub high_percent: f64,
    /// Flapping stops when the share falls below this.
    pub low_percent: f64,
}

impl Default for FlapThresholds {
    fn default() -> Self {
        FlapThresholds {
            high_percent: DEFAULT_FLAP_HIGH_PERCENT,
            low_percent: DEFAULT_FLAP_LOW_PERCENT,
        }
    }
}

/// What an evaluation that finds no series means for an alert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NoData {
    /// It is failing: a series that stops arriving raises the alert.
    #[default]
    Failing,
    /// It is good: silence means all is well (e.g. an error counter that is only written when
    /// errors happen).
    Ok,
    /// It is not counted: the alert keeps its phase and counts until data returns.
    KeepState,
}

/// A failing alert instance found by one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The alert's labels (the series' labels plus the rule's); its identity within the rule.
    pub labels: Labels,
    /// The value that failed.
    pub value: f64,
    /// Annotations with templates expanded for this value.
    pub annotations: Annotations,
}

impl Failure {
    /// A failure with no annotations.
    pub fn new(labels: Labels, value: f64) -> Self {
        Failure {
            labels,
            value,
            annotations: Annotations::new(),
        }
    }
}

/// What one evaluation said about one alert.
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluation {
    /// The condition holds.
    Failing(Failure),
    /// The condition does not hold.
    Ok,
    /// The query found no series; what that means is [`AlertPolicy::no_data`].
    NoData,
    /// The rule could not be evaluated (query error, store unreadable): a health problem. The
    /// alert keeps its state.
    Error(String),
}

/// Moves one alert by one evaluation at `now`. Returns the next record and the transition, if
/// its phase or flapping mark changed. The record is the machine's whole memory.
pub fn step(
    record: AlertRecord,
    policy: &AlertPolicy,
    evaluation: &Evaluation,
    now: Timestamp,
) -> (AlertRecord, Option<Transition>) {
    let seen = match evaluation {
        Evaluation::Failing(f) => Seen::Failing(f),
        Evaluation::Ok => Seen::Ok,
        Evaluation::NoData => Seen::NoData,
        Evaluation::Error(_) => Seen::Error,
    };
    step_seen(record, policy, seen, now)
}

/// An [`Evaluation`] with its failure borrowed, so that stepping a rule's alerts copies no
/// failure.
#[derive(Clone, Copy)]
enum Seen<'a> {
    Failing(&'a Failure),
    Ok,
    NoData,
    Error,
}

/// [`step`] over a borrowed evaluation.
fn step_seen(
    mut record: AlertRecord,
    policy: &AlertPolicy,
    seen: Seen<'_>,
    now: Timestamp,
) -> (AlertRecord, Option<Transition>) {
    let failing = match seen {
        Seen::Failing(_) => true,
        Seen::Ok => false,
        Seen::NoData => match policy.no_data {
            NoData::Failing => true,
            NoData::Ok => false,
            NoData::KeepState => return (record, None),
        },
        Seen::Error => return (record, None),
    };
    let from = record.phase;
    let was_flapping = record.flapping;
    record.last_evaluated_at = now;
    record.history.push(failing);
    if record.phase == AlertPhase::Resolved {
        record.phase = AlertPhase::Inactive;
    }
    if failing {
        on_failing(&mut record, policy, seen, now);
    } else {
        on_good(&mut record, policy, now);
    }
    record.flapping = match &policy.flap {
        None => false,
        Some(t) => {
            let share = weighted_change_percent(record.history);
            if was_flapping {
                share >= t.low_percent
            } else {
                share >= t.high_percent
            }
        }
    };

    // Resolved -> inactive is bookkeeping, not an event.
    let phase_changed = from != record.phase
        && !(from == AlertPhase::Resolved && record.phase == AlertPhase::Inactive);
    let change = match (was_flapping, record.flapping) {
        (false, true) => Change::FlappingStarted,
        (true, false) => Change::FlappingStopped,
        _ if phase_changed => Change::Phase,
        _ => return (record, None),
    };
    let firing = record.phase == AlertPhase::Firing;
    let notify = match change {
        Change::FlappingStarted => true,
        Change::FlappingStopped => firing != record.notified_firing,
        Change::Phase if record.flapping => false,
        Change::Phase => match record.phase {
            AlertPhase::Firing => true,
            AlertPhase::Resolved => record.notified_firing,
            AlertPhase::Inactive | AlertPhase::Pending => false,
        },
        // Only the rule loop closes alerts of removed rules; an evaluation never does.
        Change::RuleRemoved => false,
    };
    if notify && change != Change::FlappingStarted {
        record.notified_firing = firing;
    }
    let transition = Transition {
        key: record.key.clone(),
        change,
        from,
        to: record.phase,
        at: now,
        notify,
        value: if failing { record.last_value } else { None },
        suppressed_by: None,
    };
    (record, Some(transition))
}

fn on_failing(record: &mut AlertRecord, policy: &AlertPolicy, seen: Seen<'_>, now: Timestamp) {
    record.consecutive_failing = record.consecutive_failing.saturating_add(1);
    record.consecutive_good = 0;
    record.last_failing_at = Some(now);
    match seen {
        Seen::Failing(f) => {
            record.last_value = Some(f.value);
            record.annotations = f.annotations.clone();
        }
        // No data: there is no value; the annotations of the last real failure stay.
        _ => record.last_value = None,
    }
    if record.phase == AlertPhase::Inactive {
        record.phase = AlertPhase::Pending;
        record.pending_since = Some(now);
        record.active_since = None;
        record.suppressed_by = None;
    }
    if record.phase == AlertPhase::Pending {
        let since = record.pending_since.unwrap_or(now);
        if now.millis_since(since) >= policy.for_ms
            && record.consecutive_failing >= policy.for_checks.max(1)
        {
            record.phase = AlertPhase::Firing;
            record.active_since = Some(now);
        }
    }
}

fn on_good(record: &mut AlertRecord, policy: &AlertPolicy, now: Timestamp) {
    record.consecutive_good = record.consecutive_good.saturating_add(1);
    record.consecutive_failing = 0;
    match record.phase {
        AlertPhase::Pending => {
            record.phase = AlertPhase::Inactive;
            record.pending_since = None;
        }
        AlertPhase::Firing => {
            let quiet_for = record
                .last_failing_at
                .map_or(i64::MAX, |t| now.millis_since(t));
            if record.consecutive_good >= policy.recover_after_checks.max(1)
                && quiet_for >= policy.keep_firing_for_ms
            {
                record.phase = AlertPhase::Resolved;
                record.resolved_at = Some(now);
                record.pending_since = None;
            }
        }
        AlertPhase::Inactive | AlertPhase::Resolved => {}
    }
}
