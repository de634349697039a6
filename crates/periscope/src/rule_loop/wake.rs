//! Evaluating a rule group right after a check it reads, not only on its interval.
//!
//! A rule on a monitor's outcome or log counts (`periscope_check_status{monitor="disk"}`,
//! `periscope_log_matches{monitor="app",...}`) learns nothing new between two checks of that
//! monitor. Evaluated only on its own interval, it sees a check up to one interval late, which
//! is most of the time from a log line to a notification. So `serve` wakes every group whose
//! rules name a monitor (`monitor="M"` in a selector) once M's samples are stored, and the group
//! evaluates at once; its interval timer then restarts from there, so one check is not counted
//! twice by `for_checks` when the interval and the monitor's schedule agree. Groups that read no
//! monitor keep their interval alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;

use super::LoadedGroup;

/// Which groups read which monitors, and the bell of each group.
#[derive(Default)]
pub struct Wakes {
    by_monitor: BTreeMap<String, Vec<usize>>,
    bells: Vec<Arc<Notify>>,
}

impl Wakes {
    /// Reads every rule of `groups` (by position) for the monitors it names.
    pub fn build(groups: &[LoadedGroup]) -> Wakes {
        let mut wakes = Wakes::default();
        for (slot, loaded) in groups.iter().enumerate() {
            wakes.bells.push(Arc::new(Notify::new()));
            for rule in &loaded.def.rules {
                // A rule that does not parse never evaluates either: nothing to wake.
                let Ok(expr) = rules::promql::parse(rule.expr()) else {
                    continue;
                };
                for monitor in rules::promql::selectors::required_values(&expr, "monitor") {
                    let slots = wakes.by_monitor.entry(monitor).or_default();
                    if !slots.contains(&slot) {
                        slots.push(slot);
                    }
                }
            }
        }
        wakes
    }

    /// `monitor`'s check is stored: the groups reading it evaluate now. Wakes while a group is
    /// evaluating are kept (one), so the check is seen by the next evaluation.
    pub fn checked(&self, monitor: &str) {
        for &slot in self.by_monitor.get(monitor).into_iter().flatten() {
            if let Some(bell) = self.bells.get(slot) {
                bell.notify_one();
            }
        }
    }

    /// The bell of the group at `slot`: it rings after a check the group reads.
    pub fn bell(&self, slot: usize) -> Arc<Notify> {
        self.bells
            .get(slot)
            .cloned()
            .unwrap_or_else(|| Arc::new(Notify::new()))
    }

    /// The monitors whose checks wake the group at `slot`.
    #[cfg(test)]
    fn monitors_of(&self, slot: usize) -> Vec<&str> {
        self.by_monitor
            .iter()
            .filter(|(_, slots)| slots.contains(&slot))
            .map(|(m, _)| m.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn groups(yaml: &str) -> Vec<LoadedGroup> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yml");
        std::fs::write(&path, yaml).unwrap();
        let file = rules::rulefile::load(&path).unwrap();
        let config = crate::config::RulesConfig {
            enabled: true,
            interval: Duration::from_secs(60),
            files: vec![file],
            native: Vec::new(),
        };
        super::super::build_groups(&config).unwrap()
    }

    const RULES: &str = r#"
groups:
  - name: checks
    rules:
      - alert: DiskCheckFailing
        expr: last_over_time(periscope_check_status{monitor="disk"}[5m]) > 1
      - alert: AppErrors
        expr: sum_over_time(periscope_log_matches{monitor="app", rule="error"}[5m]) > 0
  - name: pushed
    rules:
      - record: queue:depth:max
        expr: max(queue_depth{monitor=~".+"})
"#;

    #[test]
    fn groups_are_woken_by_the_monitors_their_rules_name() {
        let wakes = Wakes::build(&groups(RULES));
        assert_eq!(wakes.monitors_of(0), ["app", "disk"]);
        assert!(wakes.monitors_of(1).is_empty(), "a regex names no monitor");
    }

    #[tokio::test]
    async fn a_check_rings_the_groups_that_read_it_and_no_other() {
        let wakes = Wakes::build(&groups(RULES));
        let (checks, pushed) = (wakes.bell(0), wakes.bell(1));
        wakes.checked("disk");
        wakes.checked("nobody-reads-this");
        let rang = tokio::time::timeout(Duration::from_secs(1), checks.notified()).await;
        assert!(rang.is_ok(), "the checks group is woken");
        let quiet = tokio::time::timeout(Duration::from_millis(50), pushed.notified()).await;
        assert!(quiet.is_err(), "the pushed group is not");
    }
}
