//! Walks alerts through time with `now` as an argument: fixtures for every policy knob, the
//! rule-level step, restarts, dependencies, and a property test of the `for` guarantee.

use model::alert::{AlertPhase, AlertRecord, Change, Transition};
use model::{Labels, Timestamp};
use proptest::prelude::*;

use super::fixture::{BASE, duration_ms, policy, run};
use super::*;
use AlertPhase::{Firing, Inactive, Pending, Resolved};

#[test]
fn for_holds_an_alert_pending_until_the_duration_has_passed() {
    run("
        policy for=5m
        0m        fail 91  -> pending quiet
        1m..4m/1m fail 92  -> pending
        5m        fail 93  -> firing notify
        6m        fail 94  -> firing
        7m        ok       -> resolved notify
        8m        ok       -> inactive
        9m        ok       -> inactive
    ");
}

#[test]
fn a_good_evaluation_forgets_a_pending_alert_and_restarts_its_clock() {
    run("
        policy for=5m
        0m  fail 1 -> pending quiet
        3m  ok     -> inactive quiet
        4m  fail 1 -> pending quiet
        8m  fail 1 -> pending
        9m  fail 1 -> firing notify
    ");
}

#[test]
fn without_for_the_first_failing_evaluation_fires() {
    let record = run("
        0m  fail 7 -> firing notify
        1m  fail 8 -> firing
    ");
    assert_eq!(record.active_since, Some(BASE));
    assert_eq!(record.pending_since, Some(BASE));
    assert_eq!(record.last_value, Some(8.0));
}

#[test]
fn for_checks_needs_consecutive_failures_soft_then_hard() {
    run("
        policy for_checks=3
        0m  fail 1 -> pending quiet
        1m  fail 1 -> pending
        2m  ok     -> inactive quiet
        3m  fail 1 -> pending quiet
        4m  fail 1 -> pending
        5m  fail 1 -> firing notify
    ");
}

#[test]
fn for_and_for_checks_must_both_be_met() {
    // Evaluated every 10 minutes, the duration passes first and the count decides.
    run("
        policy for=5m for_checks=3
        0m   fail 1 -> pending quiet
        10m  fail 1 -> pending
        20m  fail 1 -> firing notify
    ");
    // Evaluated every minute, the count is reached first and the duration decides.
    run("
        policy for=5m for_checks=3
        0m        fail 1 -> pending quiet
        1m..4m/1m fail 1 -> pending
        5m        fail 1 -> firing notify
    ");
}

#[test]
fn keep_firing_for_holds_a_firing_alert_after_its_last_failure() {
    run("
        policy keep_firing_for=10m
        0m          fail 5 -> firing notify
        1m..4m/1m   ok     -> firing
        5m          fail 6 -> firing
        6m..14m/1m  ok     -> firing
        15m         ok     -> resolved notify
        16m         ok     -> inactive
    ");
}

#[test]
fn recovery_needs_consecutive_good_evaluations() {
    run("
        policy recover_after_checks=3
        0m  fail 1 -> firing notify
        1m  ok     -> firing
        2m  ok     -> firing
        3m  fail 2 -> firing
        4m  ok     -> firing
        5m  ok     -> firing
        6m  ok     -> resolved notify
        7m  ok     -> inactive
    ");
}

#[test]
fn keep_firing_for_and_recovery_checks_must_both_be_met() {
    // Every 5 minutes: 2 minutes pass at once, the third good evaluation decides.
    run("
        policy keep_firing_for=2m recover_after_checks=3
        0m    fail 1 -> firing notify
        5m    ok     -> firing
        10m   ok     -> firing
        15m   ok     -> resolved notify
    ");
    // Every 30 seconds: three good evaluations come first, the duration decides.
    run("
        policy keep_firing_for=2m recover_after_checks=3
        0s             fail 1 -> firing notify
        30s..90s/30s   ok     -> firing
        120s           ok     -> resolved notify
    ");
}

#[test]
fn a_resolved_alert_that_fails_again_goes_pending() {
    run("
        policy for=2m
        0m  fail 1 -> pending quiet
        2m  fail 1 -> firing notify
        3m  ok     -> resolved notify
        4m  fail 1 -> pending quiet
        6m  fail 1 -> firing notify
    ");
}

#[test]
fn a_flapping_alert_notifies_once_and_settles_firing_with_one_notice() {
    // The weighted share of changes climbs 6, 11.9, 17.7, 23.4, 29.0 then 34.4 % at 6m,
    // passing the 30 % high mark; once the alert holds steady the share decays and drops
    // below 25 % at 23m (21.1 %). People last heard "resolved" (5m), so the stop says firing.
    run("
        0m           fail 1 -> firing notify
        1m           ok     -> resolved notify
        2m           fail 1 -> firing notify
        3m           ok     -> resolved notify
        4m           fail 1 -> firing notify
        5m           ok     -> resolved notify
        6m           fail 1 -> firing notify flap-start flapping
        7m           ok     -> resolved quiet flapping
        8m           fail 1 -> firing quiet flapping
        9m..22m/1m   fail 1 -> firing flapping
        23m          fail 1 -> firing notify flap-stop
        24m          fail 1 -> firing
    ");
}

#[test]
fn a_flapping_alert_that_settles_where_people_last_heard_stops_quietly() {
    run("
        0m            fail 1 -> firing notify
        1m            ok     -> resolved notify
        2m            fail 1 -> firing notify
        3m            ok     -> resolved notify
        4m            fail 1 -> firing notify
        5m            ok     -> resolved notify
        6m            fail 1 -> firing notify flap-start flapping
        7m            ok     -> resolved quiet flapping
        8m            fail 1 -> firing quiet flapping
        9m            ok     -> resolved quiet flapping
        10m..23m/1m   ok     -> inactive flapping
        24m           ok     -> inactive quiet flap-stop
    ");
}

#[test]
fn a_flapping_alert_that_settles_after_a_firing_notice_announces_the_recovery() {
    // Thresholds 15/10: flapping starts on the recovery at 3m, which is then not notified; the
    // last notice said firing, so the stop at 21m (8.1 %) tells people it is over.
    let record = run("
        policy flap=15/10
        0m           fail 1 -> firing notify
        1m           ok     -> resolved notify
        2m           fail 1 -> firing notify
        3m           ok     -> resolved notify flap-start flapping
        4m..20m/1m   ok     -> inactive flapping
        21m          ok     -> inactive notify flap-stop
    ");
    assert!(!record.notified_firing);
}

#[test]
fn flap_detection_can_be_turned_off() {
    // An alert that changes at every evaluation notifies every change when detection is off.
    let mut record = AlertRecord::new(fixture_key(), BASE);
    let policy = policy("policy flap=off");
    for i in 0..40 {
        let evaluation = if i % 2 == 0 {
            Evaluation::Failing(Failure::new(Labels::new(), 1.0))
        } else {
            Evaluation::Ok
        };
        let (next, transition) = step(record, &policy, &evaluation, at_min(i));
        record = next;
        let t = transition.expect("every evaluation changes the phase");
        assert!(t.notify && t.change == Change::Phase, "{t:?}");
        assert!(!record.flapping);
    }
}

#[test]
fn no_data_is_a_failure_by_default() {
    let record = run("
        policy for=2m
        0m  fail 3 -> pending quiet
        1m  nodata -> pending
        2m  nodata -> firing notify
        3m  fail 4 -> firing
        4m  nodata -> firing
        5m  ok     -> resolved notify
    ");
    assert_eq!(record.last_value, None, "a resolved alert reports no value");
    // A rule that never had data fires too.
    run("
        0m  nodata -> firing notify
    ");
}

#[test]
fn no_data_can_mean_all_is_well_or_be_ignored() {
    run("
        policy no_data=ok
        0m  fail 3 -> firing notify
        1m  nodata -> resolved notify
    ");
    run("
        policy for=2m no_data=keep
        0m  fail 3 -> pending quiet
        1m  nodata -> pending
        2m  nodata -> pending
        3m  fail 3 -> firing notify
        4m  nodata -> firing
        5m  ok     -> resolved notify
    ");
}

#[test]
fn an_error_keeps_the_state_and_the_for_clock_runs_on() {
    run("
        policy for=5m
        0m         fail 1 -> pending quiet
        1m..4m/1m  error  -> pending
        5m         fail 1 -> firing notify
        6m         error  -> firing
    ");
    let (record, _) = step(
        AlertRecord::new(fixture_key(), BASE),
        &AlertPolicy::default(),
        &Evaluation::Failing(Failure::new(Labels::new(), 2.0)),
        BASE,
    );
    let (same, transition) = step(
        record.clone(),
        &AlertPolicy::default(),
        &Evaluation::Error("store unreadable".into()),
        at_min(1),
    );
    assert_eq!((same, transition), (record, None));
}

fn fixture_key() -> model::alert::AlertKey {
    model::alert::AlertKey::new("Fixture", Labels::new().with("instance", "a"))
}

fn at_min(minutes: i64) -> Timestamp {
    BASE.plus_millis(minutes * 60_000)
}

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

#[test]
fn policy_check_reports_every_problem_by_key() {
    let bad = AlertPolicy {
        for_ms: -1,
        for_checks: 0,
        recover_after_checks: 0,
        flap: Some(FlapThresholds {
            high_percent: 20.0,
            low_percent: 120.0,
        }),
        ..AlertPolicy::default()
    };
    let keys: Vec<String> = bad.check().into_iter().map(|i| i.path).collect();
    assert_eq!(
        keys,
        [
            "for",
            "for_checks",
            "recover_after_checks",
            "flap_low_percent",
            "flap_low_percent"
        ]
    );
    assert!(AlertPolicy::default().check().is_empty());
    assert_eq!(duration_ms("1h30m"), 5_400_000);
}

fn arb_policy() -> impl Strategy<Value = AlertPolicy> {
    (
        0i64..=10,
        1u32..=5,
        0i64..=5,
        1u32..=4,
        any::<bool>(),
        0u8..3,
    )
        .prop_map(
            |(for_min, for_checks, keep_min, recover, flap, no_data)| AlertPolicy {
                for_ms: for_min * 60_000,
                for_checks,
                keep_firing_for_ms: keep_min * 60_000,
                recover_after_checks: recover,
                flap: flap.then(FlapThresholds::default),
                no_data: [NoData::Failing, NoData::Ok, NoData::KeepState][usize::from(no_data)],
            },
        )
}

proptest! {
    /// Whatever the evaluations and their spacing, an alert never starts firing before it has
    /// failed `for_checks` counted evaluations in a row spanning at least `for`, and never
    /// resolves before `recover_after_checks` good ones and `keep_firing_for` since the last
    /// failure.
    #[test]
    fn firing_and_resolving_respect_the_policy(
        policy in arb_policy(),
        evaluations in prop::collection::vec((1i64..=300, 0u8..4), 1..120),
    ) {
        let mut record = AlertRecord::new(fixture_key(), BASE);
        let mut now = BASE;
        let (mut fail_run, mut fail_start, mut good_run) = (0u32, BASE, 0u32);
        let mut last_fail = None;
        for (gap_s, kind) in evaluations {
            now = now.plus_millis(gap_s * 1000);
            let evaluation = match kind {
                0 => Evaluation::Failing(Failure::new(Labels::new(), 1.0)),
                1 => Evaluation::Ok,
                2 => Evaluation::NoData,
                _ => Evaluation::Error("boom".into()),
            };
            let counted = match (&evaluation, policy.no_data) {
                (Evaluation::Failing(_), _) | (Evaluation::NoData, NoData::Failing) => Some(true),
                (Evaluation::Ok, _) | (Evaluation::NoData, NoData::Ok) => Some(false),
                _ => None,
            };
            match counted {
                Some(true) => {
                    if fail_run == 0 {
                        fail_start = now;
                    }
                    fail_run += 1;
                    good_run = 0;
                    last_fail = Some(now);
                }
                Some(false) => {
                    fail_run = 0;
                    good_run += 1;
                }
                None => {}
            }
            let (next, transition) = step(record, &policy, &evaluation, now);
            record = next;
            if let Some(t) = transition {
                if t.to == Firing && t.from != Firing {
                    prop_assert!(fail_run >= policy.for_checks, "{t:?} after {fail_run}");
                    prop_assert!(now.millis_since(fail_start) >= policy.for_ms, "{t:?}");
                }
                if t.to == Resolved && t.from == Firing {
                    prop_assert!(good_run >= policy.recover_after_checks, "{t:?}");
                    let quiet = last_fail.map_or(i64::MAX, |l| now.millis_since(l));
                    prop_assert!(quiet >= policy.keep_firing_for_ms, "{t:?}");
                }
            }
        }
    }
}
