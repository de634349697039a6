//! Periscope's own rules, written in the main TOML config as `[rule.NAME]` tables, and their
//! compilation to PromQL conditions evaluated by the same [`Group`](crate::group::Group)
//! machinery as Prometheus rule files, with a Periscope [`AlertPolicy`].
//!
//! A [`RuleDef`] is the table as written (strict: unknown keys are refused by serde). It has a
//! general form (an `expr` and thresholds, or a boolean `expr` and a fixed `level`) and five
//! short forms (`monitor`, `log`, `heartbeat`, `errors`/`total`, `timing`) that
//! [`compile`] turns into the general form: one or more [`Condition`]s, each a PromQL
//! expression and a [`Test`] that says which [`Level`] a value reaches at an instant. The
//! PromQL each short form produces is documented on [`forms`] and in `docs/rules.md`.
//!
//! The one decision behind the module: **the level is part of an alert's identity**. Every
//! alert carries a `level` label (`logged`, `non-critical`, `critical`) from the threshold its
//! value crossed at that evaluation; a value moving from non-critical to critical resolves the
//! non-critical alert and raises a critical one, so a notification always says the level that
//! is true now, and "critical" can be routed differently from "non-critical".
//!
//! Semantics that differ from Prometheus rule files: no data is failing by default (a series
//! that stops arriving fires), flap detection is on, `for_checks`/`recover_after` count
//! evaluations (Nagios' soft/hard states), `depends_on` suppresses a child's new alerts while a
//! parent fires, and a rule that cannot be evaluated raises `PeriscopeRuleFailing`.

pub mod forms;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;
use model::level::{Direction, Level, LevelThresholds};
use model::time_period::{RawTiered, Tiered, TimePeriods};
use model::{ConfigIssue, Timestamp};
use serde::Deserialize;

use crate::alert::{AlertPolicy, FlapThresholds, NoData};
use crate::promql::{self, Expr};

/// The label every native alert carries with its level.
pub const LEVEL_LABEL: &str = "level";
/// The name of the meta-alert raised when a rule cannot be evaluated.
pub const RULE_FAILING_ALERT: &str = "PeriscopeRuleFailing";

/// A `[rule.NAME]` table as written. Exactly one form: `expr` (general), `monitor`, `log`,
/// `heartbeat`, `errors` (with `total`) or `timing`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// PromQL giving the values to compare with the thresholds, or (with `level`) a boolean
    /// condition: a filtering comparison (`up == 0`) fails for every series it returns; a
    /// comparison with `bool` (or any 0/1 expression) fails where the value is not 0, and
    /// then a series missing from its result is missing data.
    pub expr: Option<String>,
    /// Thresholds a value must rise strictly above, one per level:
    /// `above = { non_critical = 2, critical = 4 }`.
    pub above: Option<LevelValues>,
    /// Thresholds a value must fall strictly below, one per level.
    pub below: Option<LevelValues>,
    /// Time-tiered thresholds: `[[rule.NAME.when]]` entries with `during` (a time period or
    /// the name of a `[time_period.NAME]`) and `above` or `below`; the first entry whose period
    /// contains the evaluation time applies, and an entry without `during` (last) applies
    /// otherwise.
    pub when: Option<RawTiered<Thresholds>>,
    /// The level of a boolean `expr`, of a heartbeat (default `critical`) and of an error-ratio
    /// breach (default `non-critical`).
    pub level: Option<Level>,
    /// How long an alert must keep failing before it fires, e.g. `5m`. Not with `for_checks`.
    #[serde(rename = "for")]
    pub for_duration: Option<SignedDuration>,
    /// How many failing evaluations in a row before it fires (soft, then hard). Not with `for`.
    pub for_checks: Option<u32>,
    /// How many good evaluations in a row a firing alert needs to resolve. Default: 1.
    pub recover_after: Option<u32>,
    /// How long a firing alert keeps firing after its last failing evaluation.
    pub keep_firing_for: Option<SignedDuration>,
    /// What a series that stops arriving means: `failing` (default), `ok` or `keep`.
    pub no_data: Option<NoDataWord>,
    /// Mark alerts that change state too often as flapping and notify once. Default: true.
    pub flap_detection: Option<bool>,
    /// Rules whose firing suppresses this rule's new alerts.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Labels added to every alert (templates as in Prometheus rule files).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations of every alert (templates as in Prometheus rule files).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// How often the rule is evaluated. Default: `[rules] interval`.
    pub interval: Option<SignedDuration>,
    /// `false` keeps the rule in the config but never evaluates it. Default: true.
    pub enabled: Option<bool>,
    /// A few words on what the rule watches.
    pub description: Option<String>,
    /// Short form: the outcome of this monitor (`periscope_check_status`).
    pub monitor: Option<String>,
    /// With `monitor`: the least status that fails, `warning` (default), `critical` or
    /// `unknown`.
    pub status: Option<StatusWord>,
    /// Short form: the count of a log rule's matches, `MONITOR/RULE`, over `window`.
    pub log: Option<String>,
    /// The sliding window of `log`, `errors`/`total` and `timing` (and how far back `monitor`
    /// looks for the last check), e.g. `10m`.
    pub window: Option<SignedDuration>,
    /// Short form: a series whose value is a Unix timestamp of the last success.
    pub heartbeat: Option<String>,
    /// With `heartbeat`: the oldest acceptable age, e.g. `26h`.
    pub max_age: Option<SignedDuration>,
    /// Short form: a counter of failed requests (a series selector).
    pub errors: Option<String>,
    /// With `errors`: a counter of all requests (a series selector).
    pub total: Option<String>,
    /// With `errors`: the error ratio (0..1) above which the rule fails.
    pub ratio_above: Option<f64>,
    /// With `errors`: below this many requests in the window the ratio is not judged.
    pub min_total: Option<f64>,
    /// With `errors`: at least this many errors in the window is critical whatever the ratio.
    pub critical_errors: Option<f64>,
    /// With `errors`: the labels to keep apart (`sum by (...)`). Default: everything summed.
    #[serde(default)]
    pub by: Vec<String>,
    /// Short form: a series of durations to aggregate over `window`.
    pub timing: Option<String>,
    /// With `timing`: `avg`, `min`, `max`, `stddev`, `p50`, `p90`, `p95` or `p99`.
    pub stat: Option<Stat>,
}

/// Up to three thresholds, one per level.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LevelValues {
    /// Values beyond this are recorded at level `logged`.
    pub logged: Option<f64>,
    /// Values beyond this are `non-critical`.
    pub non_critical: Option<f64>,
    /// Values beyond this are `critical`.
    pub critical: Option<f64>,
}

/// One time tier's thresholds: `above` or `below`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Thresholds a value must rise above.
    pub above: Option<LevelValues>,
    /// Thresholds a value must fall below.
    pub below: Option<LevelValues>,
}

/// `no_data` as written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NoDataWord {
    /// A series that stops arriving is failing.
    Failing,
    /// A series that stops arriving is fine.
    Ok,
    /// A series that stops arriving keeps its alert as it is.
    Keep,
}

/// `status` of the monitor short form: the least check status that fails.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusWord {
    /// WARNING (1) and worse.
    Warning,
    /// CRITICAL (2) and UNKNOWN (3).
    Critical,
    /// UNKNOWN (3) only.
    Unknown,
}

/// `stat` of the timing short form.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Population standard deviation.
    Stddev,
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
}

/// Which level a value reaches at an instant.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// Thresholds, possibly depending on the time of day.
    Thresholds(Tiered<LevelThresholds>),
    /// Any value other than 0 (and not NaN) fails at this level.
    NonZero(Level),
    /// A value of at least `min` fails at `level`.
    AtLeast {
        /// The least failing value.
        min: f64,
        /// The level it fails at.
        level: Level,
    },
}

impl Test {
    /// The level `value` reaches at `now`, if any.
    pub fn level_for(&self, value: f64, now: Timestamp) -> Option<Level> {
        match self {
            Test::Thresholds(t) => t.at(now)?.level_for(value),
            Test::NonZero(level) => (value != 0.0 && !value.is_nan()).then_some(*level),
            Test::AtLeast { min, level } => (value >= *min).then_some(*level),
        }
    }

    /// The most urgent level this test can give at `now` (the level of a no-data alert).
    pub fn worst_at(&self, now: Timestamp) -> Option<Level> {
        match self {
            Test::Thresholds(t) => {
                let t = t.at(now)?;
                Level::ALL
                    .into_iter()
                    .rev()
                    .find(|l| t.threshold(*l).is_some())
            }
            Test::NonZero(level) | Test::AtLeast { level, .. } => Some(*level),
        }
    }
}

/// One PromQL expression and how its values are judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The PromQL text.
    pub expr: String,
    /// How a value is judged.
    pub test: Test,
    /// True when the expression returns every watched series whether it fails or not, so a
    /// series missing from the result means no data (thresholds, boolean comparisons with
    /// `bool`); false when an absent series simply is not failing (a filtering comparison).
    pub complete: bool,
}

/// A compiled `[rule.NAME]`: ready to be evaluated by a group.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeRule {
    /// The rule's name (the `alertname` of its alerts).
    pub name: String,
    /// What it watches.
    pub description: String,
    /// Its own evaluation interval, if it set one.
    pub interval: Option<Duration>,
    /// False when the config disabled it.
    pub enabled: bool,
    /// What is evaluated; a series' level is the most urgent any condition gives it.
    pub conditions: Vec<Condition>,
    /// How its alerts move.
    pub policy: AlertPolicy,
    /// Rules whose firing suppresses this rule's new alerts.
    pub depends_on: Vec<String>,
    /// Alert labels (templates).
    pub labels: BTreeMap<String, String>,
    /// Alert annotations (templates).
    pub annotations: BTreeMap<String, String>,
}

impl NativeRule {
    /// The PromQL of every condition, `;`-separated, as status pages show the rule.
    pub fn query_text(&self) -> String {
        let parts: Vec<&str> = self.conditions.iter().map(|c| c.expr.as_str()).collect();
        parts.join(" ; ")
    }
}

/// Compiles `def` (the table `[rule.NAME]`), resolving period names in `periods`. Every
/// problem is returned, each at its key path under the rule (`when.1.during`, `for_checks`).
pub fn compile(
    name: &str,
    def: &RuleDef,
    periods: &TimePeriods,
) -> Result<NativeRule, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut conditions = forms::conditions(def, periods, &mut issues);
    for (i, c) in conditions.iter_mut().enumerate() {
        match promql::parse(&c.expr) {
            // A filtering comparison leaves out what passes: absence is not missing data.
            Ok(parsed) => c.complete &= !filters(&parsed),
            Err(e) => {
                let key = if def.expr.is_some() {
                    "expr".to_string()
                } else {
                    format!("(compiled condition {})", i + 1)
                };
                issues.push(ConfigIssue::new(key, format!("not valid PromQL: {e}")));
            }
        }
    }
    let policy = policy(def, &mut issues);
    for (key, text) in def
        .labels
        .iter()
        .map(|(k, v)| (format!("labels.{k}"), v))
        .chain(
            def.annotations
                .iter()
                .map(|(k, v)| (format!("annotations.{k}"), v)),
        )
    {
        if let Err(e) = crate::template::Template::parse(text) {
            issues.push(ConfigIssue::new(key, format!("bad template: {e}")));
        }
    }
    if def.labels.contains_key(LEVEL_LABEL) {
        issues.push(
            ConfigIssue::new("labels.level", "`level` is set by the thresholds")
                .hint("use `level = \"...\"` with a boolean expr, or above/below thresholds"),
        );
    }
    if def.depends_on.iter().any(|d| d == name) {
        issues.push(ConfigIssue::new(
            "depends_on",
            "a rule cannot depend on itself",
        ));
    }
    let interval = def
        .interval
        .map(|d| positive(d, "interval", &mut issues))
        .filter(|d| !d.is_zero());
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(NativeRule {
        name: name.to_string(),
        description: def.description.clone().unwrap_or_default(),
        interval,
        enabled: def.enabled.unwrap_or(true),
        conditions,
        policy,
        depends_on: def.depends_on.clone(),
        labels: def.labels.clone(),
        annotations: def.annotations.clone(),
    })
}

/// The alert policy of a native rule: Periscope's defaults (no data failing, flap detection
/// on) with the table's settings.
fn policy(def: &RuleDef, issues: &mut Vec<ConfigIssue>) -> AlertPolicy {
    if def.for_duration.is_some() && def.for_checks.is_some() {
        issues.push(
            ConfigIssue::new("for_checks", "set either `for` or `for_checks`, not both")
                .hint("`for` waits a duration, `for_checks` counts failing evaluations"),
        );
    }
    let for_ms = def
        .for_duration
        .map_or(0, |d| millis(positive(d, "for", issues)));
    let keep_firing_for_ms = def
        .keep_firing_for
        .map_or(0, |d| millis(positive(d, "keep_firing_for", issues)));
    let mut policy = AlertPolicy {
        for_ms,
        for_checks: def.for_checks.unwrap_or(1),
        keep_firing_for_ms,
        recover_after_checks: def.recover_after.unwrap_or(1),
        flap: def
            .flap_detection
            .unwrap_or(true)
            .then(FlapThresholds::default),
        no_data: match def.no_data.unwrap_or(NoDataWord::Failing) {
            NoDataWord::Failing => NoData::Failing,
            NoDataWord::Ok => NoData::Ok,
            NoDataWord::Keep => NoData::KeepState,
        },
    };
    if def.heartbeat.is_some() && def.no_data.is_some_and(|w| w != NoDataWord::Failing) {
        issues.push(ConfigIssue::new(
            "no_data",
            "a heartbeat fires when its series is absent; no_data cannot change that",
        ));
        policy.no_data = NoData::Failing;
    }
    for issue in policy.check() {
        let path = if issue.path == "recover_after_checks" {
            "recover_after".to_string()
        } else {
            issue.path.clone()
        };
        issues.push(ConfigIssue { path, ..issue });
    }
    policy
}

/// `d` as a non-negative duration; a negative one is an issue at `key`.
fn positive(d: SignedDuration, key: &str, issues: &mut Vec<ConfigIssue>) -> Duration {
    Duration::try_from(d).unwrap_or_else(|_| {
        issues.push(ConfigIssue::new(
            key,
            format!("must not be negative, got `{d:#}`"),
        ));
        Duration::ZERO
    })
}

/// A duration as milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `values` as checked thresholds in `direction`.
fn level_thresholds(
    values: LevelValues,
    direction: Direction,
) -> Result<LevelThresholds, model::level::ThresholdError> {
    LevelThresholds::new(
        values.logged,
        values.non_critical,
        values.critical,
        direction,
    )
}

/// The thresholds of one tier: exactly one of `above`/`below`.
fn tier_thresholds(t: Thresholds) -> Result<LevelThresholds, String> {
    match (t.above, t.below) {
        (Some(a), None) => level_thresholds(a, Direction::Above).map_err(|e| e.to_string()),
        (None, Some(b)) => level_thresholds(b, Direction::Below).map_err(|e| e.to_string()),
        (Some(_), Some(_)) => Err("set either `above` or `below`, not both".to_string()),
        (None, None) => Err("no thresholds: set `above` or `below`".to_string()),
    }
}

/// The leftmost vector selector's equality matchers (without the metric name): the labels of
/// the alert that stands for a query that finds nothing at all, as `absent()` would give.
pub(crate) fn absent_labels(expr: &Expr) -> model::Labels {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::Expr as E;
    let selector = match expr {
        E::VectorSelector(vs) => Some(vs),
        E::MatrixSelector(ms) => Some(&ms.vs),
        E::Aggregate(a) => return absent_labels(&a.expr),
        E::Unary(u) => return absent_labels(&u.expr),
        E::Paren(p) => return absent_labels(&p.expr),
        E::Subquery(s) => return absent_labels(&s.expr),
        E::Binary(b) => {
            let left = absent_labels(&b.lhs);
            return if left.is_empty() {
                absent_labels(&b.rhs)
            } else {
                left
            };
        }
        E::Call(c) => {
            return c
                .args
                .args
                .iter()
                .map(|a| absent_labels(a))
                .find(|l| !l.is_empty())
                .unwrap_or_default();
        }
        _ => None,
    };
    let mut labels = model::Labels::new();
    if let Some(vs) = selector {
        for m in &vs.matchers.matchers {
            if matches!(m.op, MatchOp::Equal) && m.name != model::METRIC_NAME_LABEL {
                labels.set(m.name.as_str(), m.value.as_str());
            }
        }
    }
    labels
}

/// True when `expr` is a comparison that filters (no `bool`): its result leaves out the
/// series that pass, so an absent series is good rather than missing.
pub(crate) fn filters(expr: &Expr) -> bool {
    use promql_parser::parser::Expr as E;
    match expr {
        E::Paren(p) => filters(&p.expr),
        E::Binary(b) => {
            b.op.is_comparison_operator() && !b.modifier.as_ref().is_some_and(|m| m.return_bool)
                || b.op.is_set_operator()
        }
        _ => false,
    }
}
