//! Inhibition: while the cause pages, its symptoms stay quiet. "While a `critical` alert fires
//! for a cluster, mute that cluster's `warning`s" is one rule: source matchers, target
//! matchers and the labels both must share (`equal`).
//!
//! The semantics are Alertmanager's. An alert is inhibited when some other firing alert
//! matches a rule's source matchers, the alert matches the rule's target matchers, and both
//! carry the same value for every `equal` label (a label both lack counts as equal; an empty
//! value is the same as none, as everywhere in Prometheus). An alert that matches both sides
//! of a rule is not inhibited by a source that also matches both, so two such alerts never mute
//! each other and no alert mutes itself.
//!
//! With a million firing alerts a check cannot scan them. Each rule files its firing sources
//! by their `equal` label values, so a check is one lookup per rule. The firing set is kept up
//! to date alert by alert ([`Inhibitor::update`]) or replaced whole
//! ([`Inhibitor::set_firing`]).

use std::collections::{BTreeMap, HashMap};

use model::alert::Fingerprint;
use model::{ConfigIssue, Labels, MatchOp, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::matcher::{self, Matchers};
use crate::mute::{MuteReason, Muter, describe};

/// One inhibition rule as written in configuration (`[[inhibit_rules]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInhibitRule {
    /// Matchers an alert must satisfy to inhibit others (the cause), e.g.
    /// `["level=\"critical\""]`.
    pub source_matchers: Vec<String>,
    /// Matchers an alert must satisfy to be inhibited (the symptom), e.g.
    /// `["level=\"non-critical\""]`.
    pub target_matchers: Vec<String>,
    /// Labels whose values source and target must share, e.g. `["cluster", "service"]`.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// Firing source alerts of one rule, filed by their `equal` label values; each shown as
/// `Name{...}` for the mute reason.
type Filed = HashMap<Vec<String>, BTreeMap<Fingerprint, String>>;

#[derive(Clone, Debug)]
struct Rule {
    source: Matchers,
    target: Matchers,
    equal: Vec<String>,
    /// Sources that do not also match the target matchers: they inhibit any target.
    one_sided: Filed,
    /// Sources that also match the target matchers: they inhibit only targets that are not
    /// sources themselves.
    two_sided: Filed,
}

impl Rule {
    /// The `equal` label values of `labels`, absent as `""`.
    fn key(&self, labels: &Labels) -> Vec<String> {
        self.equal
            .iter()
            .map(|l| labels.get(l).unwrap_or_default().to_string())
            .collect()
    }

    fn filed_for(&mut self, labels: &Labels) -> &mut Filed {
        if self.target.matches(labels) {
            &mut self.two_sided
        } else {
            &mut self.one_sided
        }
    }

    /// Files a firing alert when it is a source of this rule; true when it was.
    fn add(&mut self, fp: Fingerprint, labels: &Labels, shown: &str) -> bool {
        if !self.source.matches(labels) {
            return false;
        }
        let key = self.key(labels);
        self.filed_for(labels)
            .entry(key)
            .or_default()
            .insert(fp, shown.to_string());
        true
    }

    fn remove(&mut self, fp: Fingerprint, labels: &Labels) {
        if !self.source.matches(labels) {
            return;
        }
        let key = self.key(labels);
        let filed = self.filed_for(labels);
        if let Some(sources) = filed.get_mut(&key) {
            sources.remove(&fp);
            if sources.is_empty() {
                filed.remove(&key);
            }
        }
    }

    /// The source that inhibits `alert` under this rule, shown.
    fn inhibitor(&self, alert: &Alert) -> Option<&str> {
        let labels = &alert.labels;
        if !self.target.matches(labels) {
            return None;
        }
        let key = self.key(labels);
        let two_sided = (!self.source.matches(labels)).then_some(&self.two_sided);
        [Some(&self.one_sided), two_sided]
            .into_iter()
            .flatten()
            .filter_map(|filed| filed.get(&key))
            .flatten()
            .find(|(fp, _)| **fp != alert.fingerprint)
            .map(|(_, shown)| shown.as_str())
    }
}

/// The inhibition rules and the firing alerts that may act as their sources.
#[derive(Clone, Debug, Default)]
pub struct Inhibitor {
    rules: Vec<Rule>,
    /// The labels of every firing alert filed as a source somewhere, to unfile it again.
    sources: HashMap<Fingerprint, Labels>,
}

impl Inhibitor {
    /// Checks every rule; every problem is reported, at `N.source_matchers.M`,
    /// `N.target_matchers.M` or `N.equal.M` (N the rule's position, from 0).
    pub fn build(raw: &[RawInhibitRule]) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut rules = Vec::new();
        for (n, r) in raw.iter().enumerate() {
            let source = side(
                &r.source_matchers,
                &format!("{n}.source_matchers"),
                "cause",
                &mut issues,
            );
            let target = side(
                &r.target_matchers,
                &format!("{n}.target_matchers"),
                "symptoms",
                &mut issues,
            );
            for (i, label) in r.equal.iter().enumerate() {
                if !is_label_name(label) {
                    issues.push(
                        ConfigIssue::new(
                            format!("{n}.equal.{i}"),
                            format!("{label:?} is not a label name"),
                        )
                        .hint("letters, digits and '_', not starting with a digit"),
                    );
                }
            }
            if let (Some(source), Some(target)) = (source, target) {
                rules.push(Rule {
                    source,
                    target,
                    equal: r.equal.clone(),
                    one_sided: Filed::new(),
                    two_sided: Filed::new(),
                });
            }
        }
        if issues.is_empty() {
            Ok(Inhibitor {
                rules,
                sources: HashMap::new(),
            })
        } else {
            Err(issues)
        }
    }

    /// How many rules there are.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Replaces the whole firing set (after a restart, or to resynchronise); resolved alerts
    /// in `firing` are ignored.
    pub fn set_firing(&mut self, firing: &[Alert]) {
        self.sources.clear();
        for rule in &mut self.rules {
            rule.one_sided.clear();
            rule.two_sided.clear();
        }
        for alert in firing {
            self.update(alert);
        }
    }

    /// Takes note of one alert's change: a firing alert may now inhibit others, a resolved
    /// one no longer does. Keyed by fingerprint.
    pub fn update(&mut self, alert: &Alert) {
        let fp = alert.fingerprint;
        if alert.is_firing() && self.sources.get(&fp) == Some(&alert.labels) {
            return;
        }
        if let Some(old) = self.sources.remove(&fp) {
            for rule in &mut self.rules {
                rule.remove(fp, &old);
            }
        }
        if !alert.is_firing() {
            return;
        }
        // Most alerts are sources of no rule; they cost nothing to keep.
        let mut shown: Option<String> = None;
        let mut filed = false;
        for rule in &mut self.rules {
            if rule.source.matches(&alert.labels) {
                let text = shown.get_or_insert_with(|| describe(alert));
                filed |= rule.add(fp, &alert.labels, text);
            }
        }
        if filed {
            self.sources.insert(fp, alert.labels.clone());
        }
    }
}

impl Muter for Inhibitor {
    fn mute(&self, alert: &Alert, _now: Timestamp) -> Option<MuteReason> {
        self.rules
            .iter()
            .find_map(|r| r.inhibitor(alert))
            .map(|by| MuteReason::Inhibited { by: by.to_string() })
    }
}

/// One side's matchers, or `None` after recording why they are unusable.
fn side(
    texts: &[String],
    path: &str,
    role: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Matchers> {
    let mut all = Vec::new();
    let mut ok = true;
    for (i, text) in texts.iter().enumerate() {
        match matcher::parse(text) {
            Ok(m) => all.extend(m.0),
            Err(e) => {
                issues.push(ConfigIssue::new(format!("{path}.{i}"), e.to_string()));
                ok = false;
            }
        }
    }
    // Every alert update is checked against every rule's source matchers: equalities first,
    // so most alerts are turned away by a string comparison before any regex runs.
    all.sort_by_key(|m| matches!(m.op, MatchOp::Regex(_) | MatchOp::NotRegex(_)));
    if ok && all.is_empty() {
        issues.push(
            ConfigIssue::new(
                path,
                format!("no matchers: say which alerts are the {role}"),
            )
            .hint("an empty list would select every alert, e.g. write level=\"critical\""),
        );
        return None;
    }
    ok.then_some(Matchers(all))
}

/// A Prometheus label name.
fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
