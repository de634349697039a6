//! The rule-level step: one alert per failing series, no data and errors at the rule level,
//! records handed back after a restart, and suppression by a firing parent rule.

use model::Labels;
use model::alert::{AlertPhase, Transition};

use super::fixture::policy;
use super::tests::at_min;
use super::*;
use AlertPhase::{Firing, Inactive, Pending, Resolved};

fn disk(instance: &str) -> Labels {
    Labels::new().with("instance", instance)
}

fn failing(instances: &[(&str, f64)]) -> RuleOutcome {
    RuleOutcome::Failing(
        instances
            .iter()
            .map(|(i, v)| Failure::new(disk(i), *v))
            .collect(),
    )
}

fn phases(step: &RuleStep) -> Vec<(String, AlertPhase)> {
    step.records
        .iter()
        .map(|r| {
            (
                r.key.labels.get("instance").unwrap_or("").to_string(),
                r.phase,
            )
        })
        .collect()
}

fn moves(step: &RuleStep) -> Vec<(AlertPhase, AlertPhase, bool)> {
    step.transitions
        .iter()
        .map(|t| (t.from, t.to, t.notify))
        .collect()
}

#[test]
fn a_rule_raises_one_alert_per_failing_series_and_resolves_the_ones_that_disappear() {
    let p = policy("policy for=1m");
    let s0 = step_rule(
        "DiskFull",
        &p,
        &failing(&[("a", 91.0), ("b", 95.0)]),
        vec![],
        at_min(0),
    );
    assert_eq!(phases(&s0), [("a".into(), Pending), ("b".into(), Pending)]);
    let s1 = step_rule(
        "DiskFull",
        &p,
        &failing(&[("a", 92.0), ("b", 96.0)]),
        s0.records,
        at_min(1),
    );
    assert_eq!(
        moves(&s1),
        [(Pending, Firing, true), (Pending, Firing, true)]
    );
    // b's series is fine again (the query no longer returns it); c starts failing.
    let s2 = step_rule(
        "DiskFull",
        &p,
        &failing(&[("a", 93.0), ("c", 99.0)]),
        s1.records,
        at_min(2),
    );
    assert_eq!(
        phases(&s2),
        [
            ("a".into(), Firing),
            ("b".into(), Resolved),
            ("c".into(), Pending)
        ]
    );
    assert_eq!(
        moves(&s2),
        [(Firing, Resolved, true), (Inactive, Pending, false)]
    );
    assert_eq!(s2.transitions[0].key.labels, disk("b"));
    assert_eq!(s2.records[0].last_value, Some(93.0));
    assert_eq!(s2.health, None);
}

#[test]
fn alerts_with_nothing_left_to_remember_are_removed() {
    let p = AlertPolicy::default();
    let mut step = step_rule("Down", &p, &failing(&[("a", 0.0)]), vec![], at_min(0));
    let mut removed_at = None;
    for minute in 1..=30 {
        step = step_rule("Down", &p, &failing(&[]), step.records, at_min(minute));
        if !step.removed.is_empty() {
            assert_eq!(step.removed, [alert_key("Down", "a")]);
            assert!(step.records.is_empty());
            removed_at = Some(minute);
            break;
        }
    }
    // The failing outcome must leave the 21-evaluation history first (flap detection needs it).
    assert_eq!(removed_at, Some(21));
    // An ok evaluation of a rule with no alerts creates nothing.
    let quiet = step_rule("Down", &p, &failing(&[]), vec![], at_min(40));
    assert_eq!(quiet, RuleStep::default());
}

fn alert_key(rule: &str, instance: &str) -> model::alert::AlertKey {
    model::alert::AlertKey::new(rule, disk(instance))
}

#[test]
fn no_data_raises_the_rule_level_alert_and_data_coming_back_resolves_it() {
    let p = AlertPolicy::default();
    let absent = RuleOutcome::NoData {
        labels: Labels::new().with("job", "backup"),
    };
    let s0 = step_rule("BackupSilent", &p, &absent, vec![], at_min(0));
    assert_eq!(s0.records.len(), 1);
    assert_eq!(s0.records[0].key.labels.get("job"), Some("backup"));
    assert_eq!(moves(&s0), [(Inactive, Firing, true)]);
    assert_eq!(s0.transitions[0].value, None);
    let s1 = step_rule("BackupSilent", &p, &failing(&[]), s0.records, at_min(1));
    assert_eq!(moves(&s1), [(Firing, Resolved, true)]);
    // With no data meaning "fine", nothing is created.
    let ok = policy("policy no_data=ok");
    assert_eq!(
        step_rule("BackupSilent", &ok, &absent, vec![], at_min(0)),
        RuleStep::default()
    );
}

#[test]
fn an_unevaluable_rule_is_a_health_problem_not_a_state() {
    let p = AlertPolicy::default();
    let s0 = step_rule("Up", &p, &failing(&[("a", 0.0)]), vec![], at_min(0));
    let before = s0.records.clone();
    let s1 = step_rule(
        "Up",
        &p,
        &RuleOutcome::Error("cannot read block 01H: checksum mismatch".into()),
        s0.records,
        at_min(1),
    );
    assert_eq!(s1.records, before);
    assert!(s1.transitions.is_empty() && s1.removed.is_empty());
    assert_eq!(
        s1.health.as_deref(),
        Some("cannot read block 01H: checksum mismatch")
    );
}

#[test]
fn instances_with_the_same_labels_are_reported_as_unhealthy() {
    let p = AlertPolicy::default();
    let s = step_rule(
        "Up",
        &p,
        &failing(&[("a", 1.0), ("a", 2.0)]),
        vec![],
        at_min(0),
    );
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0].last_value, Some(1.0));
    let health = s.health.expect("a health message");
    assert!(health.contains(r#"Up{instance="a"}"#), "{health}");
}

#[test]
fn records_handed_back_in_any_order_are_stepped_once_each_in_label_order() {
    let p = AlertPolicy::default();
    let all = failing(&[("c", 0.0), ("a", 0.0), ("b", 0.0)]);
    let s0 = step_rule("Up", &p, &all, vec![], at_min(0));
    let mut restored = s0.records;
    restored.reverse();
    // The same alert twice, as a careless restore could hand it back.
    restored.push(restored[0].clone());
    let s1 = step_rule(
        "Up",
        &p,
        &failing(&[("d", 0.0), ("b", 0.0)]),
        restored,
        at_min(1),
    );
    assert_eq!(
        phases(&s1),
        [
            ("a".into(), Resolved),
            ("b".into(), Firing),
            ("c".into(), Resolved),
            ("d".into(), Firing)
        ]
    );
    assert_eq!(
        moves(&s1),
        [
            (Firing, Resolved, true),
            (Firing, Resolved, true),
            (Inactive, Firing, true)
        ]
    );
}

#[test]
fn restart_keeps_pending_start_and_firing_since() {
    let p = policy("policy for=5m");
    let s0 = step_rule("DiskFull", &p, &failing(&[("a", 91.0)]), vec![], at_min(0));
    let s1 = step_rule(
        "DiskFull",
        &p,
        &failing(&[("a", 92.0)]),
        s0.records,
        at_min(1),
    );
    // Saved at 1m; the process is down for ten minutes; the next process starts from what
    // was saved and nothing else.
    let saved = s1.into_batch().upserts;
    let s2 = step_rule("DiskFull", &p, &failing(&[("a", 93.0)]), saved, at_min(11));
    assert_eq!(moves(&s2), [(Pending, Firing, true)]);
    assert_eq!(s2.records[0].pending_since, Some(at_min(0)));
    assert_eq!(s2.records[0].active_since, Some(at_min(11)));
    // Another restart while firing: still the same firing, no new notification.
    let saved = s2.into_batch().upserts;
    let s3 = step_rule("DiskFull", &p, &failing(&[("a", 94.0)]), saved, at_min(40));
    assert!(s3.transitions.is_empty());
    assert_eq!(s3.records[0].active_since, Some(at_min(11)));
    // A firing alert that recovered while we were down resolves at the first evaluation.
    let s4 = step_rule(
        "DiskFull",
        &p,
        &failing(&[]),
        s3.into_batch().upserts,
        at_min(90),
    );
    assert_eq!(moves(&s4), [(Firing, Resolved, true)]);
}

#[test]
fn a_child_that_fires_while_its_parent_fires_is_suppressed_and_resolves_quietly() {
    let p = AlertPolicy::default();
    let mut s0 = step_rule("AppDown", &p, &failing(&[("a", 0.0)]), vec![], at_min(0));
    suppress_for_parent(&mut s0, Some("RouterDown"));
    let t: &Transition = &s0.transitions[0];
    assert_eq!((t.to, t.notify), (Firing, false));
    assert_eq!(t.suppressed_by.as_deref(), Some("RouterDown"));
    assert_eq!(s0.records[0].suppressed_by.as_deref(), Some("RouterDown"));
    // Still failing after the parent resolved: stays marked, no new notice.
    let mut s1 = step_rule(
        "AppDown",
        &p,
        &failing(&[("a", 0.0)]),
        s0.records,
        at_min(1),
    );
    suppress_for_parent(&mut s1, None);
    assert!(s1.transitions.is_empty());
    assert_eq!(s1.records[0].suppressed_by.as_deref(), Some("RouterDown"));
    // Its resolution is recorded; nobody heard of it firing, so nobody is told.
    let s2 = step_rule("AppDown", &p, &failing(&[]), s1.records, at_min(2));
    assert_eq!(moves(&s2), [(Firing, Resolved, false)]);
    // The next problem is new and notifies.
    let s3 = step_rule(
        "AppDown",
        &p,
        &failing(&[("a", 0.0)]),
        s2.records,
        at_min(3),
    );
    assert_eq!(moves(&s3), [(Resolved, Firing, true)]);
    assert_eq!(s3.records[0].suppressed_by, None);
}

#[test]
fn resolutions_flow_while_the_parent_fires() {
    let p = AlertPolicy::default();
    let s0 = step_rule("AppDown", &p, &failing(&[("a", 0.0)]), vec![], at_min(0));
    assert_eq!(moves(&s0), [(Inactive, Firing, true)]);
    let mut s1 = step_rule(
        "AppDown",
        &p,
        &failing(&[("b", 0.0)]),
        s0.records,
        at_min(1),
    );
    suppress_for_parent(&mut s1, Some("RouterDown"));
    // a (heard of before the parent fired) resolves and says so; b is new and suppressed.
    assert_eq!(
        moves(&s1),
        [(Firing, Resolved, true), (Inactive, Firing, false)]
    );
    assert_eq!(s1.transitions[0].suppressed_by, None);
    assert_eq!(
        s1.transitions[1].suppressed_by.as_deref(),
        Some("RouterDown")
    );
}
