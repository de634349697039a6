//! Non-critical news names the people of the receiver's first escalation step, each only
//! inside their own `hours`, and never escalates; critical news reaches them at any hour.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::tests::{Options, alert, at, deliver_all, plain, setup};
use super::*;
use crate::escalation::RawPolicy;
use crate::oncall::{OnCall, RawPerson};

/// `ops` with business hours 08:00-20:00 London and an escalation whose first step is alice
/// (hours 09:00-17:00 London) and carol (no hours), then bob.
fn office() -> Setup {
    let mut s = setup(Options {
        hours: Some("weekdays 08:00-20:00 Europe/London"),
        escalation: true,
        ..plain()
    });
    let person = |email: &str, hours: Option<&str>| RawPerson {
        email: email.into(),
        hours: hours.map(str::to_string),
        ..RawPerson::default()
    };
    let people = BTreeMap::from([
        (
            "alice".to_string(),
            person(
                "alice@example.com",
                Some("weekdays 09:00-17:00 Europe/London"),
            ),
        ),
        ("bob".to_string(), person("bob@example.com", None)),
        ("carol".to_string(), person("carol@example.com", None)),
    ]);
    let oncall = OnCall::build(&people, &BTreeMap::new()).unwrap();
    let policy: RawPolicy = serde_json::from_value(serde_json::json!({
        "step": [
            { "notify": ["person:alice", "person:carol"], "after": "15m" },
            { "notify": ["person:bob"] },
        ]
    }))
    .unwrap();
    let policies = EscalationPolicies::build(&BTreeMap::from([("ops".into(), policy)]), &oncall);
    s.oncall = Arc::new(oncall);
    s.policies = Arc::new(policies.unwrap());
    s
}

fn names(d: &Delivery) -> Vec<&str> {
    let people = &d.entry.notification.people;
    people.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn non_critical_news_names_the_first_step_inside_each_persons_hours() {
    let mut p = Pipeline::new(office());
    // Wednesday 10:00 London (UTC+0 in November): inside everyone's hours.
    let t0 = at("2026-11-25T10:00:00Z");
    p.ingest(alert("QueueSlow", "a", "non-critical", t0), t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    assert_eq!(sent.len(), 2, "both channels");
    assert_eq!(names(&sent[0]), ["alice", "carol"]);
    assert!(
        sent[0].entry.notification.ack_url.is_none(),
        "no escalation"
    );

    // 18:00: inside the receiver's hours, outside alice's: only carol is named.
    let t1 = at("2026-11-25T18:00:00Z");
    p.ingest(alert("DiskSlow", "b", "non-critical", t1), t1);
    let sent = deliver_all(&mut p, t1.plus_millis(30_000));
    assert_eq!(names(&sent[0]), ["carol"]);

    // Nobody is told next: fifteen minutes later, bob has heard nothing.
    let later = deliver_all(&mut p, t1.plus_millis(30_000 + 16 * 60_000));
    assert!(
        later.iter().all(|d| !names(d).contains(&"bob")),
        "no escalation"
    );
}

#[test]
fn the_morning_digest_names_whoever_is_in_hours_when_it_goes() {
    let mut p = Pipeline::new(office());
    // Friday 23:00: outside the receiver's hours; held until Monday 08:00 London.
    let night = at("2026-11-27T23:00:00Z");
    p.ingest(alert("QueueSlow", "a", "non-critical", night), night);
    assert!(deliver_all(&mut p, night.plus_millis(30_000)).is_empty());
    let monday = at("2026-11-30T08:00:00Z");
    let digest = deliver_all(&mut p, monday);
    let keys: Vec<&str> = digest.iter().map(|d| d.entry.group_key.as_str()).collect();
    assert_eq!(digest.len(), 2, "one digest per channel: {keys:?}");
    assert!(digest[0].entry.group_key.starts_with("digest:"));
    // 08:00: before alice's hours begin.
    assert_eq!(names(&digest[0]), ["carol"]);
}

#[test]
fn critical_news_reaches_people_outside_their_hours() {
    let mut p = Pipeline::new(office());
    let night = at("2026-11-28T03:00:00Z");
    p.ingest(alert("Down", "a", "critical", night), night);
    let sent = deliver_all(&mut p, night.plus_millis(30_000));
    assert_eq!(names(&sent[0]), ["alice", "carol"]);
    assert!(sent[0].entry.notification.ack_url.is_some(), "it escalates");
}
