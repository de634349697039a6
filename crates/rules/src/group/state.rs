//! What a group shows of itself between evaluations (its rules, their alerts, the meta-alert)
//! and the state handed back to it after a restart.

use std::collections::BTreeSet;
use std::time::Duration;

use model::Labels;
use model::alert::AlertRecord;

use super::rule::Kind;
use super::{Group, RuleView};

impl Group {
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
    /// (from [`RuleResult::seen`](super::RuleResult::seen) changes the caller kept). Returns
    /// false when the group has no Periscope rule of that name.
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
    pub fn seen(&self, rule: &str) -> Option<&BTreeSet<Labels>> {
        self.rules
            .iter()
            .filter(|r| r.name == rule)
            .find_map(|r| match &r.kind {
                Kind::Native(n) => Some(n.seen()),
                _ => None,
            })
    }
}
