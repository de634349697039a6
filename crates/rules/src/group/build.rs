//! Building groups: a Prometheus rule group from a rule file, with its expressions and
//! templates parsed once, and a group of Periscope rules ordered by their dependencies.

use std::collections::BTreeMap;
use std::time::Duration;

use super::rule::{GroupRule, Kind};
use super::{Group, GroupError, GroupOptions, Health, alerting, millis, native};
use crate::alert::AlertPolicy;
use crate::native::NativeRule;
use crate::promql::{self, Engine, PreparedExpr};
use crate::rulefile::{Rule, RuleGroup};
use crate::template::Template;

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
