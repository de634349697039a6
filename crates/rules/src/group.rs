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
//! rule's conditions are judged into levels, its alerts follow its own [`AlertPolicy`] (no
//! data, soft/hard states, flapping), a rule whose parent (`depends_on`) is firing has its new
//! alerts suppressed ([`Group::evaluate_with`] says which rules outside the group fire), and a
//! rule that cannot be evaluated raises the meta-alert `PeriscopeRuleFailing{rule, group}`
//! (level critical) until it evaluates again. [`Group::enable_meta_alerts`] turns the
//! meta-alert on for a Prometheus group too.
//!
//! Time is an argument: `now` comes from the caller; only the duration of an evaluation is
//! measured, with [`std::time::Instant`].

mod alert_series;
mod alerting;
#[cfg(test)]
mod expansion_tests;
mod meta;
mod native;
mod overlay;
mod query;
mod staleness;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use model::alert::AlertRecord;
use model::{Labels, METRIC_NAME_LABEL, Querier};

use crate::alert::{AlertPolicy, RuleStep};
use crate::native::NativeRule;
use crate::promql::{self, Engine, EngineOptions, Expr, PreparedExpr, Value};
use crate::rulefile::{Rule, RuleGroup};
use crate::template::{Template, TemplateError};

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

/// One rule of a group and what it remembers.
#[derive(Debug)]
struct GroupRule {
    name: String,
    /// The expression, prepared for evaluation at every evaluation of the group.
    expr: PreparedExpr,
    kind: Kind,
    health: Health,
    last_evaluation: Option<i64>,
    last_duration: Duration,
    /// Series written at the last successful evaluation, sorted (see `staleness`).
    previous: Vec<Labels>,
}

#[derive(Debug)]
enum Kind {
    Recording {
        /// Group labels overlaid with the rule's own.
        labels: Vec<(String, String)>,
    },
    Alerting(alerting::AlertingRule),
    Native(native::NativeAlerting),
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
    /// Builds a group: parses every expression and template once, and sets each alerting
    /// rule's policy from its `for` and `keep_firing_for`.
    pub fn new(group: &RuleGroup, options: &GroupOptions) -> Result<Group, GroupError> {
        let interval = group.interval.unwrap_or(options.default_interval);
        let mut rules = Vec::with_capacity(group.rules.len());
        for rule in &group.rules {
            let expr = promql::parse(rule.expr()).map_err(|source| GroupError::Expr {
                group: group.name.clone(),
                rule: rule.name().to_string(),
                source,
            })?;
            let mut labels = group.labels.clone();
            labels.extend(rule.labels().iter().map(|(k, v)| (k.clone(), v.clone())));
            let kind = match rule {
                Rule::Recording(_) => Kind::Recording {
                    labels: labels.into_iter().collect(),
                },
                Rule::Alerting(a) => {
                    let parse = |field: &'static str, map: &BTreeMap<String, String>| {
                        map.iter()
                            .map(|(name, text)| {
                                Template::parse(text)
                                    .map(|t| (name.clone(), t))
                                    .map_err(|source| GroupError::Template {
                                        group: group.name.clone(),
                                        rule: a.name.clone(),
                                        field,
                                        name: name.clone(),
                                        source: Box::new(source),
                                    })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    };
                    Kind::Alerting(alerting::AlertingRule::new(
                        &a.name,
                        policy(a.for_duration, a.keep_firing_for, interval),
                        parse("label", &labels)?,
                        parse("annotation", &a.annotations)?,
                    ))
                }
            };
            rules.push(GroupRule {
                name: rule.name().to_string(),
                expr: PreparedExpr::new(expr),
                kind,
                health: Health::Unknown,
                last_evaluation: None,
                last_duration: Duration::ZERO,
                previous: Vec::new(),
            });
        }
        Ok(Group {
            name: group.name.clone(),
            interval,
            query_offset: group.query_offset.unwrap_or(options.default_query_offset),
            limit: usize::try_from(group.limit).unwrap_or(0),
            engine: Engine::new(options.engine),
            external_labels: options.external_labels.clone(),
            external_url: options.external_url.clone(),
            rules,
            meta: None,
        })
    }

    /// Builds a group of Periscope rules evaluated every `interval`, with the meta-alert on.
    /// Rules are ordered so that a rule comes after the rules of this group it depends on,
    /// which are then judged by their state at this evaluation.
    pub fn native(
        name: &str,
        interval: Duration,
        rules: &[NativeRule],
        options: &GroupOptions,
    ) -> Result<Group, GroupError> {
        let mut ordered: Vec<&NativeRule> = Vec::with_capacity(rules.len());
        let mut left: Vec<&NativeRule> = rules.iter().collect();
        while !left.is_empty() {
            let ready = left
                .iter()
                .position(|r| {
                    r.depends_on
                        .iter()
                        .all(|p| !left.iter().any(|o| &o.name == p))
                })
                // A cycle (refused by the config) is evaluated in the order given.
                .unwrap_or(0);
            ordered.push(left.remove(ready));
        }
        let mut built = Vec::with_capacity(rules.len());
        for rule in ordered {
            let (alerting, expr) =
                native::NativeAlerting::new(rule).map_err(|message| GroupError::Native {
                    group: name.to_string(),
                    rule: rule.name.clone(),
                    message,
                })?;
            built.push(GroupRule {
                name: rule.name.clone(),
                expr: PreparedExpr::new(expr),
                kind: Kind::Native(alerting),
                health: Health::Unknown,
                last_evaluation: None,
                last_duration: Duration::ZERO,
                previous: Vec::new(),
            });
        }
        Ok(Group {
            name: name.to_string(),
            interval,
            query_offset: options.default_query_offset,
            limit: 0,
            engine: Engine::new(options.engine),
            external_labels: options.external_labels.clone(),
            external_url: options.external_url.clone(),
            rules: built,
            meta: Some(Vec::new()),
        })
    }

    /// Raises `PeriscopeRuleFailing{rule, group}` for every rule of this group that cannot be
    /// evaluated (on already for [`Group::native`] groups).
    pub fn enable_meta_alerts(&mut self) {
        self.meta.get_or_insert_with(Vec::new);
    }

    /// The records of the meta-alert (empty when it is off or nothing failed).
    pub fn meta_alerts(&self) -> &[AlertRecord] {
        self.meta.as_deref().unwrap_or_default()
    }

    /// True when the rule `name` of this group has a firing alert; `None` when the group has
    /// no alerting rule of that name.
    pub fn rule_firing(&self, name: &str) -> Option<bool> {
        self.rules
            .iter()
            .filter(|r| r.name == name)
            .find_map(|r| match &r.kind {
                Kind::Native(n) => Some(n.firing()),
                Kind::Alerting(a) => Some(
                    a.records()
                        .iter()
                        .any(|r| r.phase == model::alert::AlertPhase::Firing),
                ),
                Kind::Recording { .. } => None,
            })
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How often the group is meant to be evaluated.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How far into the past the group's queries look.
    pub fn query_offset(&self) -> Duration {
        self.query_offset
    }

    /// The rules, in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = RuleView<'_>> {
        self.rules.iter().map(|r| RuleView {
            name: &r.name,
            expr: r.expr.expr(),
            alerting: !matches!(r.kind, Kind::Recording { .. }),
            health: &r.health,
            last_evaluation: r.last_evaluation,
            last_duration: r.last_duration,
            alerts: match &r.kind {
                Kind::Alerting(a) => a.records(),
                Kind::Native(n) => n.records(),
                Kind::Recording { .. } => &[],
            },
        })
    }

    /// Hands the alerts of the alerting rule `rule` back after a restart (from the state
    /// database), so pending alerts keep their start and firing ones keep firing. Returns false
    /// when the group has no alerting rule of that name.
    ///
    /// Records of the meta-alert are taken only when their `group` label names this group.
    pub fn restore(&mut self, rule: &str, records: Vec<AlertRecord>) -> bool {
        if rule == crate::native::RULE_FAILING_ALERT
            && let Some(meta) = &mut self.meta
        {
            meta.extend(
                records
                    .into_iter()
                    .filter(|r| r.key.labels.get("group") == Some(self.name.as_str())),
            );
            meta.sort_by(|a, b| a.key.cmp(&b.key));
            return true;
        }
        for r in &mut self.rules {
            if r.name != rule {
                continue;
            }
            match &mut r.kind {
                Kind::Alerting(a) => a.restore(records),
                Kind::Native(n) => n.restore(records),
                Kind::Recording { .. } => continue,
            }
            return true;
        }
        false
    }

    /// Hands a Periscope rule back the series it found at its last evaluation before a restart
    /// (from [`RuleResult::seen`] changes the caller kept). Returns false when the group has no
    /// Periscope rule of that name.
    pub fn restore_seen(&mut self, rule: &str, series: Vec<Labels>) -> bool {
        for r in &mut self.rules {
            if r.name == rule
                && let Kind::Native(n) = &mut r.kind
            {
                n.restore_seen(series);
                return true;
            }
        }
        false
    }

    /// The series the Periscope rule `rule` found at its last evaluation; `None` when the group
    /// has no Periscope rule of that name.
    pub fn seen(&self, rule: &str) -> Option<&std::collections::BTreeSet<Labels>> {
        self.rules
            .iter()
            .filter(|r| r.name == rule)
            .find_map(|r| match &r.kind {
                Kind::Native(n) => Some(n.seen()),
                _ => None,
            })
    }

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

/// What a rule needs from its group for one evaluation.
struct Env<'a> {
    engine: &'a Engine,
    querier: &'a dyn Querier,
    /// The evaluation time.
    now: i64,
    /// The time queries run at (`now` minus the query offset); samples carry it.
    t: i64,
    limit: usize,
    external_labels: &'a BTreeMap<String, String>,
    external_url: &'a str,
}

/// A rule's part of a [`RuleResult`].
struct Evaluated {
    series: usize,
    alerts: Option<RuleStep>,
}

impl GroupRule {
    /// Evaluates the rule, updates its health and returns what it produced (with staleness
    /// markers for the series it no longer produces), or `None` when it failed.
    fn evaluate(
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
struct Failure {
    message: String,
    step: Option<RuleStep>,
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
fn query_vector(env: &Env<'_>, expr: &PreparedExpr) -> Result<Vec<(Labels, f64)>, String> {
    match env.engine.instant_prepared(env.querier, expr, env.t) {
        Ok(Value::Vector(v)) => Ok(v.into_iter().map(|s| (s.labels, s.value)).collect()),
        Ok(Value::Scalar { v, .. }) => Ok(vec![(Labels::new(), v)]),
        Ok(_) => Err("rule result is not a vector or scalar".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The alerting policy of a Prometheus rule: `for` and `keep_firing_for`, nothing else.
///
/// The state machine counts `keep_firing_for` from the last evaluation that found the alert;
/// Prometheus counts it from the first evaluation that no longer did, one interval later. Adding
/// one interval makes the two agree for a group evaluated at its interval.
fn policy(for_duration: Duration, keep_firing_for: Duration, interval: Duration) -> AlertPolicy {
    let keep = millis(keep_firing_for);
    AlertPolicy {
        for_ms: millis(for_duration),
        keep_firing_for_ms: if keep > 0 {
            keep.saturating_add(millis(interval))
        } else {
            0
        },
        flap: None,
        ..AlertPolicy::default()
    }
}

/// A duration as milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// True when two of the label sets are equal.
fn has_duplicates<'a>(labels: impl ExactSizeIterator<Item = &'a Labels> + Clone) -> bool {
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
