//! Walks alerts through time with `now` as an argument: fixtures for every policy knob, no data
//! and errors, the policy check, and a property test of the `for` guarantee. The shared helpers
//! here ([`fixture_key`], [`at_min`]) serve the flap and rule-level tests too.

use model::alert::{AlertPhase, AlertRecord};
use model::{Labels, Timestamp};
use proptest::prelude::*;

use super::fixture::{BASE, duration_ms, run};
use super::*;
use AlertPhase::{Firing, Resolved};

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

/// The key of the single alert the walk-through tests step.
pub(super) fn fixture_key() -> model::alert::AlertKey {
    model::alert::AlertKey::new("Fixture", Labels::new().with("instance", "a"))
}

/// `minutes` after [`BASE`], the time of the first evaluation.
pub(super) fn at_min(minutes: i64) -> Timestamp {
    BASE.plus_millis(minutes * 60_000)
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
