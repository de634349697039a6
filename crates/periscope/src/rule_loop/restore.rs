//! Handing the state database's alert records back to the groups after a start.
//!
//! A record says which group saved it, so two groups with rules of the same name each get their
//! own alerts back and neither resolves the other's. Where a record goes:
//!
//! - to the group it names, when that group has an alerting rule of the record's name;
//! - else, when exactly one group has such a rule, to that group: the rule moved (a renamed
//!   group, or a `[rule.NAME]` whose interval changed and so its group). Its row under the old
//!   group is superseded: [`superseded`] lists what to delete once the new group saves;
//! - a record saved before groups were stored (no group) goes to the first group with a rule of
//!   its name, as it always did;
//! - anything else found no rule: it is counted here, and when it is pending or firing the
//!   rule loop closes it (`removed.rs`): its rule was removed, so nothing would ever resolve it.
//!   Resolved and inactive records are pruned in time.
//!
//! When one group gets two records of the same alert, the better match wins: its own, else one
//! the rule moved with (the first given, when two old groups hold one), else one saved before
//! groups were stored. The other copy is not restored, and its row must not linger:
//!
//! - a copy saved before groups were stored is replaced by the group's first save of the alert;
//! - a copy the rule would have moved with stays under its old group, where nothing saves it
//!   any more (typically: the rule was taken out of a group while another group keeps a rule of
//!   that name raising the same alert). It is left behind ([`RuleIndex::unclaimed`]), and when
//!   pending or firing it is closed as the alert of a removed rule is (`removed.rs`): its end is
//!   announced only when it was announced firing and the winner is neither pending nor firing,
//!   so the notifier never hears of a second alert, nor of an end while the alert still fires.

use std::collections::{BTreeMap, BTreeSet};

use model::alert::{AlertKey, AlertRecord, StateBatch};
use rules::native::RULE_FAILING_ALERT;

use super::LoadedGroup;

/// How well a record's saved group matches the group it is handed to: a lower rank wins when one
/// group gets two records of the same alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    /// Saved by this group.
    Own,
    /// Saved by another group the rule moved from.
    Moved,
    /// Saved before groups were stored.
    Ungrouped,
}

/// What one group is given: per rule, per alert, the best record and how well it matched.
type Given = BTreeMap<String, BTreeMap<AlertKey, (Match, AlertRecord)>>;

/// Hands each alerting rule its stored records (see the module documentation). Returns how many
/// records found no rule.
pub fn restore(groups: &mut [LoadedGroup], records: Vec<AlertRecord>) -> usize {
    // The meta-alert is one name across groups: each group takes its own (by `group` label).
    let (meta, records): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| r.key.rule == RULE_FAILING_ALERT);
    let mut unclaimed = meta.len();
    for loaded in groups.iter_mut() {
        let before = loaded.group.meta_alerts().len();
        let mine: Vec<AlertRecord> = meta
            .iter()
            .filter(|r| r.key.labels.get("group") == Some(loaded.def.name.as_str()))
            .cloned()
            .map(|r| claimed(r, &loaded.def.name, &mut loaded.superseded))
            .collect();
        if loaded.group.restore(RULE_FAILING_ALERT, mine) {
            unclaimed -= loaded.group.meta_alerts().len() - before;
        }
    }

    let index = RuleIndex::of(groups);
    let mut given: Vec<Given> = vec![BTreeMap::new(); groups.len()];
    for record in records {
        let Some((slot, rank)) = index.home(&record) else {
            unclaimed += 1;
            continue;
        };
        let alerts = given[slot].entry(record.key.rule.clone()).or_default();
        let loser = match alerts.get(&record.key) {
            // The record already there matches better (or as well): this one is left over.
            Some((kept, _)) if *kept <= rank => Some(record),
            _ => alerts
                .insert(record.key.clone(), (rank, record))
                .map(|(_, displaced)| displaced),
        };
        if let Some(loser) = loser {
            unclaimed += 1;
            // A row under a group (the rule moved from there) that nothing saves any more; a
            // row without a group goes with the group's first save of the alert.
            if let Some(group) = loser.group {
                groups[slot].left_behind.push((group, loser.key));
            }
        }
    }
    for (loaded, rules) in groups.iter_mut().zip(given) {
        for (rule, alerts) in rules {
            let name = loaded.def.name.clone();
            let records: Vec<AlertRecord> = alerts
                .into_values()
                .map(|(_, r)| claimed(r, &name, &mut loaded.superseded))
                .collect();
            loaded.group.restore(&rule, records);
        }
    }
    unclaimed
}

/// `record` handed to the group `name`: its row under another group is noted in `superseded`,
/// and it now belongs to `name`.
fn claimed(
    mut record: AlertRecord,
    name: &str,
    superseded: &mut Vec<(String, AlertKey)>,
) -> AlertRecord {
    if let Some(old) = record.group.as_deref()
        && old != name
    {
        superseded.push((old.to_string(), record.key.clone()));
    }
    record.group = Some(name.to_string());
    record
}

/// Which groups have which alerting rules, by name: what tells where a stored record goes. Kept
/// apart from the groups so the state database can be tidied while they evaluate.
#[derive(Clone, Debug, Default)]
pub struct RuleIndex {
    /// The groups' names, by position.
    groups: Vec<String>,
    /// For each alerting rule name, the groups (by position) that have a rule of that name.
    homes: BTreeMap<String, Vec<usize>>,
    /// The rows the groups did not restore at the start because they restored their own record
    /// of the same alert instead, by the group they are saved under.
    left_behind: BTreeMap<String, BTreeSet<AlertKey>>,
}

impl RuleIndex {
    /// The alerting rules of `groups`, and the rows [`restore`] left behind for them.
    pub fn of(groups: &[LoadedGroup]) -> RuleIndex {
        let mut homes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut left_behind: BTreeMap<String, BTreeSet<AlertKey>> = BTreeMap::new();
        for (i, loaded) in groups.iter().enumerate() {
            for rule in loaded.group.rules().filter(|r| r.alerting) {
                let slots = homes.entry(rule.name.to_string()).or_default();
                if slots.last() != Some(&i) {
                    slots.push(i);
                }
            }
            for (group, key) in &loaded.left_behind {
                left_behind
                    .entry(group.clone())
                    .or_default()
                    .insert(key.clone());
            }
        }
        RuleIndex {
            groups: groups.iter().map(|g| g.def.name.clone()).collect(),
            homes,
            left_behind,
        }
    }

    /// The group (by position) an alert record of a rule goes to, and how well it matches; see
    /// the module documentation. The meta-alert is not placed here: every group keeps its own.
    fn home(&self, record: &AlertRecord) -> Option<(usize, Match)> {
        let candidates = self.homes.get(record.key.rule.as_str())?;
        match record.group.as_deref() {
            Some(saved) => candidates
                .iter()
                .find(|&&i| self.groups[i] == saved)
                .map(|&i| (i, Match::Own))
                .or_else(|| (candidates.len() == 1).then(|| (candidates[0], Match::Moved))),
            None => Some((candidates[0], Match::Ungrouped)),
        }
    }

    /// True when no loaded group takes `record` back: its rule (or, for the meta-alert, the
    /// group it names) is no longer configured, or it was left behind at the start because the
    /// group its rule moved to restored its own record of the same alert.
    pub fn unclaimed(&self, record: &AlertRecord) -> bool {
        if record.key.rule == RULE_FAILING_ALERT {
            return record
                .key
                .labels
                .get("group")
                .is_none_or(|named| !self.groups.iter().any(|g| g == named));
        }
        let left_behind = record
            .group
            .as_ref()
            .and_then(|group| self.left_behind.get(group))
            .is_some_and(|keys| keys.contains(&record.key));
        left_behind || self.home(record).is_none()
    }
}

/// The batches that delete the rows a move superseded (one per old group), taking them from the
/// groups: run them once the state database is writable. Until they run, the next start finds the
/// old rows again and moves them again.
pub fn superseded(groups: &mut [LoadedGroup]) -> Vec<StateBatch> {
    let mut by_group: BTreeMap<String, Vec<AlertKey>> = BTreeMap::new();
    for loaded in groups {
        for (old, key) in loaded.superseded.drain(..) {
            by_group.entry(old).or_default().push(key);
        }
    }
    by_group
        .into_iter()
        .map(|(group, removals)| StateBatch {
            removals,
            group: Some(group),
            ..StateBatch::default()
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use model::alert::AlertPhase;
    use model::{Labels, Timestamp};

    use super::*;
    use crate::config::RulesConfig;

    /// The groups of a rule file given as YAML text.
    pub(in crate::rule_loop) fn groups(yaml: &str) -> Vec<LoadedGroup> {
        let file = rules::rulefile::parse("rules.yml", yaml).expect("valid rule file");
        let config = RulesConfig {
            enabled: true,
            interval: std::time::Duration::from_secs(60),
            files: vec![file],
            native: Vec::new(),
        };
        super::super::build_groups(&config).expect("groups build")
    }

    /// Groups `api` and `db`, each with an alerting rule `Down`.
    pub(in crate::rule_loop) const TWO_GROUPS: &str = r#"
groups:
  - name: api
    rules:
      - alert: Down
        expr: up{job="api"} == 0
  - name: db
    rules:
      - alert: Down
        expr: up{job="db"} == 0
"#;

    fn firing(job: &str, group: Option<&str>, since: i64) -> AlertRecord {
        let key = AlertKey::new(
            "Down",
            Labels::new().with("alertname", "Down").with("job", job),
        );
        let mut r = AlertRecord::new(key, Timestamp(since));
        r.phase = AlertPhase::Firing;
        r.active_since = Some(Timestamp(since));
        r.group = group.map(str::to_string);
        r
    }

    fn held(g: &LoadedGroup) -> Vec<(String, Option<i64>)> {
        g.group
            .rules()
            .flat_map(|r| r.alerts.iter())
            .map(|r| {
                (
                    r.key.labels.get("job").unwrap_or("").to_string(),
                    r.active_since.map(|t| t.0),
                )
            })
            .collect()
    }

    #[test]
    fn each_group_gets_its_own_records_of_a_shared_alert_name() {
        let mut g = groups(TWO_GROUPS);
        let orphans = restore(
            &mut g,
            vec![firing("api", Some("api"), 1), firing("db", Some("db"), 2)],
        );
        assert_eq!(orphans, 0);
        assert_eq!(held(&g[0]), [("api".to_string(), Some(1))]);
        assert_eq!(held(&g[1]), [("db".to_string(), Some(2))]);
        assert!(superseded(&mut g).is_empty());
    }

    #[test]
    fn records_without_a_group_go_to_the_first_group_as_before() {
        let mut g = groups(TWO_GROUPS);
        restore(&mut g, vec![firing("api", None, 1), firing("db", None, 2)]);
        assert_eq!(held(&g[0]).len(), 2);
        assert!(held(&g[1]).is_empty());
        // Their rows are replaced by the group's first save; nothing to delete by hand.
        assert!(superseded(&mut g).is_empty());
    }

    #[test]
    fn a_groups_own_record_beats_an_older_copy_of_the_same_alert() {
        let mut g = groups(TWO_GROUPS);
        let orphans = restore(
            &mut g,
            vec![firing("api", None, 1), firing("api", Some("api"), 5)],
        );
        assert_eq!(orphans, 1);
        assert_eq!(held(&g[0]), [("api".to_string(), Some(5))]);
    }

    #[test]
    fn a_rule_that_moved_to_another_group_keeps_its_alerts_and_the_old_row_goes() {
        let mut g = groups(
            r#"
groups:
  - name: renamed
    rules:
      - alert: Down
        expr: up == 0
"#,
        );
        let orphans = restore(&mut g, vec![firing("api", Some("old"), 1)]);
        assert_eq!(orphans, 0);
        assert_eq!(held(&g[0]), [("api".to_string(), Some(1))]);
        let batches = superseded(&mut g);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].group.as_deref(), Some("old"));
        assert_eq!(batches[0].removals, [firing("api", None, 1).key]);
    }

    /// One group `core` with the rule `Down`.
    pub(in crate::rule_loop) const CORE: &str = r#"
groups:
  - name: core
    rules:
      - alert: Down
        expr: up == 0
"#;

    #[test]
    fn a_moved_copy_of_an_alert_the_group_has_its_own_record_of_is_left_behind() {
        let own = firing("api", Some("core"), 5);
        let moved = firing("api", Some("edge"), 1);
        // Whichever comes first, the group's own record wins.
        for records in [
            vec![own.clone(), moved.clone()],
            vec![moved.clone(), own.clone()],
        ] {
            let mut g = groups(CORE);
            assert_eq!(restore(&mut g, records), 1);
            assert_eq!(held(&g[0]), [("api".to_string(), Some(5))]);
            let index = RuleIndex::of(&g);
            // Not deleted as if it had moved: it did not, and its end may be owed to someone.
            assert!(superseded(&mut g).is_empty());
            assert!(index.unclaimed(&moved), "the copy under edge is nobody's");
            assert!(!index.unclaimed(&own), "core's own record is core's");
        }
    }

    #[test]
    fn of_two_copies_a_rule_moved_with_the_first_moves_and_the_other_is_left_behind() {
        let mut g = groups(CORE);
        let first = firing("api", Some("a"), 1);
        let second = firing("api", Some("b"), 2);
        assert_eq!(restore(&mut g, vec![first.clone(), second.clone()]), 1);
        assert_eq!(held(&g[0]), [("api".to_string(), Some(1))]);
        let index = RuleIndex::of(&g);
        let batches = superseded(&mut g);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].group.as_deref(), Some("a"));
        assert!(index.unclaimed(&second) && !index.unclaimed(&first));
    }

    #[test]
    fn a_copy_saved_before_groups_were_stored_is_not_left_behind() {
        let mut g = groups(CORE);
        let old = firing("api", None, 1);
        restore(&mut g, vec![old.clone(), firing("api", Some("core"), 5)]);
        // The group's first save of the alert replaces that row.
        assert!(!RuleIndex::of(&g).unclaimed(&old));
    }

    #[test]
    fn a_record_of_an_unknown_group_is_not_guessed_when_the_name_is_shared() {
        let mut g = groups(TWO_GROUPS);
        let orphans = restore(&mut g, vec![firing("web", Some("gone"), 1)]);
        assert_eq!(orphans, 1);
        assert!(held(&g[0]).is_empty() && held(&g[1]).is_empty());
    }
}
