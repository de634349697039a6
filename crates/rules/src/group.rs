//! Rule groups at run time: a [`rulefile::RuleGroup`](crate::rulefile::RuleGroup) with its
//! expressions and templates parsed once, evaluated as Prometheus evaluates a group.
//!
//! [`Group::evaluate`] runs the rules in file order at `now - query_offset` and returns a
//! [`GroupOutcome`]: the samples to append (recorded series, `ALERTS`, `ALERTS_FOR_STATE` and
//! staleness markers for series a rule stopped producing), each rule's health and, for alerting
//! rules, the step of the alert state machine (records to keep, transitions to notify).
//!
//! The group never writes. A recording rule's result must still be visible to the later rules
//! of the same evaluation, as in Prometheus, so the group lays the samples it produced over the
//! caller's querier for the rest of the evaluation; the caller appends `samples` to its store
//! afterwards, before the next evaluation.
//!
//! Alerts follow Prometheus' semantics: one alert per output series, labelled with the series'
//! labels (without `__name__`), the rule's labels (templates expanded over `$labels` and
//! `$value`) and `alertname`; pending at the first evaluation that finds it, firing once it has
//! been found for `for`; a firing alert missing from the result keeps firing for
//! `keep_firing_for`, counted from the first evaluation that no longer found it; a pending alert
//! missing from the result is forgotten. Flap detection and the other Periscope extensions of
//! [`crate::alert`] stay off for these rules.
//!
//! Periscope's own rules ([`crate::native`]) run in groups built by [`Group::native`]: each
//! rule's conditions are judged into levels, its alerts follow its own
//! [`AlertPolicy`](crate::alert::AlertPolicy) (no data, soft/hard states, flapping), a rule
//! whose parent (`depends_on`) is firing has its new alerts suppressed
//! ([`Group::evaluate_with`] says which rules outside the group fire), and a rule that cannot
//! be evaluated raises the meta-alert `PeriscopeRuleFailing{rule, group}` (level critical)
//! until it evaluates again. [`Group::enable_meta_alerts`] turns the meta-alert on for a
//! Prometheus group too.
//!
//! Time is an argument: `now` comes from the caller; only the duration of an evaluation is
//! measured, with [`std::time::Instant`].

mod alert_series;
mod alerting;
mod build;
#[cfg(test)]
mod expansion_tests;
mod meta;
mod native;
mod overlay;
mod query;
mod rule;
mod staleness;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use model::alert::AlertRecord;
use model::{Labels, Querier};

use crate::alert::RuleStep;
use crate::promql::{self, Engine, EngineOptions, Expr};
use crate::template::TemplateError;
use rule::{Env, GroupRule, Kind};

pub use native::SeenChange;
pub use query::EngineTemplateQuery;

/// The metric name of the series that says which alerts are pending or firing.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The metric name of the series that keeps each active alert's start (Unix seconds).
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";
/// The label of `ALERTS` that says `pending` or `firing`.
pub const ALERT_STATE_LABEL: &str = "alertstate";
/// The label every alert carries with its rule's name.
pub const ALERT_NAME_LABEL: &str = "alertname";

/// What every group of a configuration shares.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupOptions {
    /// The interval of groups that set none (Prometheus' `evaluation_interval`, default 1m).
    pub default_interval: Duration,
    /// The query offset of groups that set none (Prometheus' `rule_query_offset`, default 0).
    pub default_query_offset: Duration,
    /// The server's external labels, visible to templates as `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// The server's external URL, visible to templates as `$externalURL`.
    pub external_url: String,
    /// Limits and defaults of the evaluator.
    pub engine: EngineOptions,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            default_interval: Duration::from_secs(60),
            default_query_offset: Duration::ZERO,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            engine: EngineOptions::default(),
        }
    }
}

/// Why a group could not be built. Rule files that passed [`crate::rulefile`] validation do not
/// fail here; this guards groups built by hand.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// A rule's expression is not valid PromQL.
    #[error("group {group:?}, rule {rule:?}: {source}")]
    Expr {
        /// The group.
        group: String,
        /// The rule's name.
        rule: String,
        /// The parser's complaint.
        source: promql::EvalError,
    },
    /// An alert label or annotation is not a valid template.
    #[error("group {group:?}, rule {rule:?}, {field} {name:?}: {source}")]
    Template {
        /// The group.
        group: String,
        /// The rule's name.
        rule: String,
        /// `label` or `annotation`.
        field: &'static str,
        /// The label or annotation name.
        name: String,
        /// The template's complaint.
        source: Box<TemplateError>,
    },
    /// A Periscope rule could not be built (its config was not checked by `native::compile`).
    #[error("group {group:?}, rule {rule:?}: {message}")]
    Native {
        /// The group.
        group: String,
        /// The rule's name.
        rule: String,
        /// What failed.
        message: String,
    },
}

/// Whether a rule's last evaluation worked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation worked.
    Ok,
    /// The last evaluation failed: the message says why. The rule's alerts kept their state.
    Error(String),
}

impl Health {
    /// Prometheus' name for it in `/api/v1/rules`: `unknown`, `ok` or `err`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Error(_) => "err",
        }
    }

    /// The error message, when there is one.
    pub fn error(&self) -> Option<&str> {
        match self {
            Health::Error(message) => Some(message),
            _ => None,
        }
    }
}

/// One sample a group produced, for the caller to append to its store.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSample {
    /// The series, with `__name__`.
    pub labels: Labels,
    /// Milliseconds since the Unix epoch: the evaluation time minus the query offset.
    pub t: i64,
    /// The value; a staleness marker ([`promql::is_stale_nan`]) when the series ended.
    pub value: f64,
}

/// What one rule's evaluation gave.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleResult {
    /// The alert or record name.
    pub name: String,
    /// Its health after this evaluation.
    pub health: Health,
    /// How long it took.
    pub duration: Duration,
    /// How many series it produced (recorded series, or active alerts).
    pub series: usize,
    /// For an alerting rule, the state machine's step: records to keep, keys to forget and the
    /// transitions to notify.
    pub alerts: Option<RuleStep>,
    /// For a Periscope rule that watches its series for no data: how the series it found changed
    /// since the last evaluation, for the caller to keep across restarts (see
    /// [`Group::restore_seen`]). `None` when nothing changed, and for every other rule.
    pub seen: Option<SeenChange>,
}

/// What one evaluation of a group gave.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupOutcome {
    /// The evaluation time (ms), before the query offset is applied.
    pub at: i64,
    /// Every sample produced, in rule order: append them all before the next evaluation.
    pub samples: Vec<OutputSample>,
    /// Each rule's result, in rule order.
    pub rules: Vec<RuleResult>,
    /// How long the whole evaluation took.
    pub duration: Duration,
}

impl GroupOutcome {
    /// The rules that failed, with their messages.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules
            .iter()
            .filter_map(|r| r.health.error().map(|e| (r.name.as_str(), e)))
    }
}

/// A rule group ready to evaluate, with the state Prometheus keeps between evaluations: each
/// alerting rule's alerts and each rule's series of the last evaluation (to mark them stale
/// when they stop).
#[derive(Debug)]
pub struct Group {
    name: String,
    interval: Duration,
    query_offset: Duration,
    limit: usize,
    engine: Engine,
    external_labels: BTreeMap<String, String>,
    external_url: String,
    rules: Vec<GroupRule>,
    /// The records of the `PeriscopeRuleFailing` meta-alert, when it is on.
    meta: Option<Vec<AlertRecord>>,
}

/// Read-only view of one rule, for status pages and the rules API.
#[derive(Clone, Copy, Debug)]
pub struct RuleView<'a> {
    /// The alert or record name.
    pub name: &'a str,
    /// The expression, as the parser prints it.
    pub expr: &'a Expr,
    /// True for an alerting rule.
    pub alerting: bool,
    /// Health after the last evaluation.
    pub health: &'a Health,
    /// Time of the last evaluation (ms), if any.
    pub last_evaluation: Option<i64>,
    /// How long the last evaluation took.
    pub last_duration: Duration,
    /// The alerts an alerting rule remembers (pending, firing, recently resolved), sorted by
    /// labels; empty for a recording rule.
    pub alerts: &'a [AlertRecord],
}

impl Group {
    /// Evaluates every rule at `now` (ms) over `querier`, in order; see the module
    /// documentation. A rule that fails is reported in its [`RuleResult`] and the others run.
    pub fn evaluate(&mut self, querier: &dyn Querier, now: i64) -> GroupOutcome {
        self.evaluate_with(querier, now, &|_| false)
    }

    /// [`Group::evaluate`], with `firing_elsewhere` saying whether a rule outside this group
    /// (named in a `depends_on`) is firing now.
    pub fn evaluate_with(
        &mut self,
        querier: &dyn Querier,
        now: i64,
        firing_elsewhere: &dyn Fn(&str) -> bool,
    ) -> GroupOutcome {
        let started = Instant::now();
        let t = now - millis(self.query_offset);
        let mut overlay = overlay::Overlay::new(querier);
        let mut outcome = GroupOutcome {
            at: now,
            samples: Vec::new(),
            rules: Vec::with_capacity(self.rules.len()),
            duration: Duration::ZERO,
        };
        for i in 0..self.rules.len() {
            let parent = match &self.rules[i].kind {
                Kind::Native(n) => n
                    .depends_on
                    .iter()
                    .find(|p| {
                        self.rule_firing(p)
                            .unwrap_or_else(|| firing_elsewhere(p.as_str()))
                    })
                    .cloned(),
                _ => None,
            };
            let rule = &mut self.rules[i];
            let rule_started = Instant::now();
            let env = Env {
                engine: &self.engine,
                querier: &overlay,
                now,
                t,
                limit: self.limit,
                external_labels: &self.external_labels,
                external_url: &self.external_url,
            };
            let (result, produced) = rule.evaluate(&env, parent.as_deref());
            if let Some(produced) = produced {
                overlay.add(produced);
            }
            let duration = rule_started.elapsed();
            rule.last_duration = duration;
            rule.last_evaluation = Some(now);
            let seen = match &mut rule.kind {
                Kind::Native(n) => n.take_seen_change(),
                _ => None,
            };
            outcome.rules.push(RuleResult {
                name: rule.name.clone(),
                health: rule.health.clone(),
                duration,
                series: result.series,
                alerts: result.alerts,
                seen,
            });
        }
        if let Some(records) = &mut self.meta {
            let env = Env {
                engine: &self.engine,
                querier: &overlay,
                now,
                t,
                limit: 0,
                external_labels: &self.external_labels,
                external_url: &self.external_url,
            };
            let (result, samples) = meta::step(&self.name, records, &outcome.rules, &env);
            outcome.samples = overlay.into_samples();
            outcome.samples.extend(samples);
            outcome.rules.push(result);
        } else {
            outcome.samples = overlay.into_samples();
        }
        outcome.duration = started.elapsed();
        outcome
    }
}

/// A duration as milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
