//! Escalation as an on-call engineer lives it: who is paged when, what an acknowledgement
//! stops, and that a restart neither loses nor repeats a page.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::oncall::{RawPerson, RawSchedule};

const MIN: i64 = 60_000;

fn oncall() -> OnCall {
    let people: BTreeMap<String, RawPerson> = serde_json::from_value(json!({
        "alice": { "email": "alice@example.com" },
        "bob": { "email": "bob@example.com" },
        "carol": { "email": "carol@example.com" },
    }))
    .unwrap();
    let schedules: BTreeMap<String, RawSchedule> = serde_json::from_value(json!({
        "ops": { "time_zone": "UTC", "layer": [
            { "people": ["alice", "bob"], "handoff": "daily 09:00", "start": "2026-01-05" },
        ] },
        // Nobody on the leads rota until it starts in March.
        "leads": { "time_zone": "UTC", "layer": [
            { "people": ["carol"], "handoff": "weekly mon 09:00", "start": "2026-03-02" },
        ] },
    }))
    .unwrap();
    OnCall::build(&people, &schedules).unwrap()
}

fn policies(raw: serde_json::Value) -> Result<EscalationPolicies, Vec<ConfigIssue>> {
    let raw: BTreeMap<String, RawPolicy> = serde_json::from_value(raw).unwrap();
    EscalationPolicies::build(&raw, &oncall())
}

/// The policy of the configuration example: ops, then carol and the leads, twice.
fn payments() -> EscalationPolicy {
    policies(json!({ "payments": { "repeat": 2, "step": [
        { "notify": ["schedule:ops"], "after": "15m" },
        { "notify": ["person:carol", "schedule:leads"], "after": "30m" },
    ] } }))
    .unwrap()
    .get("payments")
    .unwrap()
    .clone()
}

fn utc(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse().unwrap())
}

fn steps(due: &[StepDue]) -> Vec<(u32, usize, Timestamp)> {
    due.iter().map(|d| (d.round, d.step, d.at)).collect()
}

#[test]
fn steps_fall_due_in_order_and_rounds_repeat_until_exhausted() {
    let policy = payments();
    let t0 = utc("2026-01-06T10:00:00Z");
    let mut e = Escalation::start("payments", t0);
    assert_eq!(e.next_wake(&policy), Some(t0));
    let now = e.due(&policy, t0);
    assert_eq!(steps(&now), [(0, 0, t0)]);
    assert_eq!(now[0].targets, [Target::Schedule("ops".into())]);
    e.mark_sent(0, 0);
    assert!(e.due(&policy, t0.plus_millis(15 * MIN - 1)).is_empty());
    assert_eq!(e.next_wake(&policy), Some(t0.plus_millis(15 * MIN)));

    let second = e.due(&policy, t0.plus_millis(15 * MIN));
    assert_eq!(steps(&second), [(0, 1, t0.plus_millis(15 * MIN))]);
    assert_eq!(
        second[0].targets,
        [
            Target::Person("carol".into()),
            Target::Schedule("leads".into())
        ]
    );
    e.mark_sent(0, 1);
    // The second round starts 30 minutes after the last step of the first.
    assert_eq!(e.next_wake(&policy), Some(t0.plus_millis(45 * MIN)));
    let round = e.due(&policy, t0.plus_millis(45 * MIN));
    assert_eq!(steps(&round), [(1, 0, t0.plus_millis(45 * MIN))]);
    e.mark_sent(1, 0);
    assert_eq!(e.next_wake(&policy), Some(t0.plus_millis(60 * MIN)));
    e.mark_sent(1, 1);
    // Every step of every round sent: nothing more, ever.
    assert_eq!(e.next_wake(&policy), None);
    assert!(e.due(&policy, t0.plus_millis(10_000 * MIN)).is_empty());
    // Marking an old step again does not rewind.
    e.mark_sent(0, 0);
    assert_eq!(e.next_wake(&policy), None);
}

#[test]
fn an_acknowledgement_or_a_resolution_stops_further_steps() {
    let policy = payments();
    let t0 = utc("2026-01-06T10:00:00Z");
    let mut e = Escalation::start("payments", t0);
    e.mark_sent(0, 0);
    e.acknowledge("alice", t0.plus_millis(5 * MIN));
    e.acknowledge("bob", t0.plus_millis(6 * MIN));
    assert!(e.due(&policy, t0.plus_millis(20 * MIN)).is_empty());
    assert_eq!(e.next_wake(&policy), None);
    let ack = e.acknowledged().unwrap();
    assert_eq!(
        (ack.by.as_str(), ack.at),
        ("alice", t0.plus_millis(5 * MIN))
    );

    let mut e = Escalation::start("payments", t0);
    e.mark_sent(0, 0);
    e.resolve(t0.plus_millis(10 * MIN));
    assert!(e.is_stopped());
    assert!(e.due(&policy, t0.plus_millis(20 * MIN)).is_empty());
    assert_eq!(e.next_wake(&policy), None);
    assert_eq!(e.resolved_at(), Some(t0.plus_millis(10 * MIN)));
}

#[test]
fn a_restart_in_the_middle_sends_a_missed_step_once() {
    let policy = policies(json!({ "p": { "step": [
        { "notify": ["schedule:ops"], "after": "15m" },
        { "notify": ["person:carol"] },
    ] } }))
    .unwrap()
    .get("p")
    .unwrap()
    .clone();
    let t0 = utc("2026-01-06T10:00:00Z");
    let mut e = Escalation::start("p", t0);
    e.mark_sent(0, 0);
    let saved = serde_json::to_string(&e).unwrap();

    // The process is down for three hours; the second step fell due meanwhile.
    let mut back: Escalation = serde_json::from_str(&saved).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.policy(), "p");
    let later = t0.plus_millis(180 * MIN);
    assert_eq!(back.next_wake(&policy), Some(t0.plus_millis(15 * MIN)));
    let missed = back.due(&policy, later);
    assert_eq!(steps(&missed), [(0, 1, t0.plus_millis(15 * MIN))]);
    back.mark_sent(missed[0].round, missed[0].step);
    assert!(back.due(&policy, later).is_empty());
    // And once more through a save: still sent once.
    let again: Escalation = serde_json::from_str(&serde_json::to_string(&back).unwrap()).unwrap();
    assert!(again.due(&policy, later.plus_millis(MIN)).is_empty());
    assert_eq!(again.next_wake(&policy), None);
}

#[test]
fn a_long_gap_returns_every_missed_step_in_order() {
    let policy = payments();
    let t0 = utc("2026-01-06T10:00:00Z");
    let e = Escalation::start("payments", t0);
    let all = e.due(&policy, t0.plus_millis(24 * 60 * MIN));
    assert_eq!(
        steps(&all),
        [
            (0, 0, t0),
            (0, 1, t0.plus_millis(15 * MIN)),
            (1, 0, t0.plus_millis(45 * MIN)),
            (1, 1, t0.plus_millis(60 * MIN)),
        ]
    );
}

#[test]
fn schedule_targets_resolve_to_whoever_is_on_call_when_the_step_is_sent() {
    let oc = oncall();
    let policy = payments();
    // Started ten minutes before the 09:00 handoff from alice (Jan 5) to bob (Jan 6).
    let t0 = utc("2026-01-06T08:50:00Z");
    let mut e = Escalation::start("payments", t0);
    let first = &e.due(&policy, t0)[0];
    let who = e.resolve_targets(&first.targets, &oc, first.at);
    let names: Vec<&str> = who.people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alice"]);
    assert_eq!(who.people[0].email.as_deref(), Some("alice@example.com"));
    assert!(who.notes.is_empty());
    e.mark_sent(0, 0);

    // Step 1 (09:05): the leads rota has not started, so carol alone, and a note saying why
    // the rota gave nobody.
    let second = &e.due(&policy, t0.plus_millis(15 * MIN))[0];
    let who = e.resolve_targets(&second.targets, &oc, second.at);
    let names: Vec<&str> = who.people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["carol"]);
    assert_eq!(who.notes.len(), 1);
    assert!(
        who.notes[0].contains("schedule 'leads' has nobody on call"),
        "{:?}",
        who.notes
    );
    e.mark_sent(0, 1);
    // Step 0 again in round 1 (09:35) goes to bob, who took over from alice at 09:00.
    let third = &e.due(&policy, t0.plus_millis(45 * MIN))[0];
    assert_eq!((third.round, third.step), (1, 0));
    let who = e.resolve_targets(&third.targets, &oc, third.at);
    assert_eq!(who.people[0].name, "bob");

    // A person named directly and through a schedule is told once.
    let both = [Target::Person("bob".into()), Target::Schedule("ops".into())];
    let who = e.resolve_targets(&both, &oc, third.at);
    assert_eq!(who.people.len(), 1);
}

#[test]
fn every_policy_mistake_is_reported_at_once_with_its_path() {
    let issues = policies(json!({
        "payments": { "repeat": 2, "step": [
            { "notify": ["schedule:ops", "schedule:nightwatch"], "after": "15 minutes" },
            { "notify": ["person:carol", "person:zed", "team:leads"] },
        ] },
        "silent": { "step": [] },
        "quiet": { "repeat": 0, "step": [{ "notify": [], "after": "1h" }] },
    }))
    .unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "escalation.payments.step.0.notify.1",
            "escalation.payments.step.0.after",
            "escalation.payments.step.1.notify.1",
            "escalation.payments.step.1.notify.2",
            "escalation.payments.step.1.after",
            "escalation.quiet.repeat",
            "escalation.quiet.step.0.notify",
            "escalation.silent.step",
        ],
        "{issues:#?}"
    );
    let at = |path: &str| issues.iter().find(|i| i.path == path).unwrap();
    assert!(
        at("escalation.payments.step.0.notify.1")
            .message
            .contains("unknown schedule 'nightwatch'")
    );
    assert!(
        at("escalation.payments.step.0.notify.1")
            .hint
            .as_deref()
            .unwrap()
            .contains("leads, ops")
    );
    assert!(
        at("escalation.payments.step.1.notify.1")
            .message
            .contains("unknown person 'zed'")
    );
    assert!(
        at("escalation.payments.step.1.after")
            .message
            .contains("next round")
    );
    assert!(issues.iter().all(|i| i.hint.is_some()), "{issues:#?}");
    // The last step needs no `after` when nothing follows it.
    assert!(policies(json!({ "once": { "step": [{ "notify": ["person:alice"] }] } })).is_ok());
    let unknown_key = serde_json::from_value::<RawStep>(json!({ "notify": [], "wait": "5m" }));
    assert!(unknown_key.is_err());
}

#[test]
fn targets_read_and_print_back() {
    assert_eq!("schedule:ops".parse(), Ok(Target::Schedule("ops".into())));
    assert_eq!("person:alice".parse(), Ok(Target::Person("alice".into())));
    assert_eq!(Target::Schedule("ops".into()).to_string(), "schedule:ops");
    assert!("ops".parse::<Target>().is_err());
    assert!("person:".parse::<Target>().is_err());
}
