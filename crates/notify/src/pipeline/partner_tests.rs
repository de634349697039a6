//! Partners through the whole pipeline, on a manual clock: who is told, when, and never.

use std::collections::BTreeMap;
use std::sync::Arc;

use model::time_period::TimePeriods;
use model::{Labels, Timestamp};

use super::tests::{Inert, at, deliver_all, root_route};
use super::*;
use crate::partner::{Partner, RawPartner};

const OPS: &str = "ops/0:webhook";
const ACME: &str = "partner:acme/0:email";

/// Our own people on `ops`, and one partner `acme` configured by `partner` (JSON, as the
/// TOML would read).
fn setup(partner: serde_json::Value) -> Setup {
    let raw: RawPartner = serde_json::from_value(partner).unwrap();
    let built = Partners::build(
        &BTreeMap::from([("acme".to_string(), raw)]),
        &TimePeriods::default(),
    )
    .unwrap();
    let root = root_route();
    let periods = TimePeriods::default();
    let mut tree = RouteTree::build(&root, &|_| true, &periods).unwrap();
    for (name, route) in &built.routes {
        tree.add_side(&Partner::receiver_name(name), route, &|_| true, &periods)
            .unwrap();
    }
    let mut partner = Receiver::new("partner:acme", vec![Arc::new(Inert("email"))]);
    partner.partner = built.partners.get("acme").cloned();
    Setup {
        tree: Arc::new(tree),
        receivers: HashMap::from([
            (
                "ops".to_string(),
                Receiver::new("ops", vec![Arc::new(Inert("webhook"))]),
            ),
            ("partner:acme".to_string(), partner),
        ]),
        inhibitor: Inhibitor::build(&[]).unwrap(),
        maintenance: built.downtime,
        dependencies: Dependencies::build(&BTreeMap::new()).unwrap(),
        oncall: Arc::new(OnCall::build(&BTreeMap::new(), &BTreeMap::new()).unwrap()),
        policies: Arc::new(EscalationPolicies::default()),
        external_url: "http://periscope.test".into(),
        ack_links: None,
        partners: built.partners,
    }
}

fn alert(name: &str, extra: &[(&str, &str)], start: Timestamp) -> Alert {
    let mut labels: Labels = [
        ("alertname", name),
        ("partner", "acme"),
        ("level", "critical"),
    ]
    .into_iter()
    .collect();
    for (n, v) in extra {
        labels.set(*n, *v);
    }
    Alert::firing(labels, start)
}

/// The channels that got a message, in order, with the alert names and statuses it carried.
fn told(sent: &[Delivery]) -> Vec<(String, Vec<String>)> {
    sent.iter()
        .map(|d| {
            let alerts = d
                .entry
                .notification
                .alerts
                .iter()
                .map(|a| {
                    format!(
                        "{}:{}",
                        a.labels.get("alertname").unwrap(),
                        a.status().as_str()
                    )
                })
                .collect();
            (d.entry.integration.clone(), alerts)
        })
        .collect()
}

fn channels(sent: &[Delivery]) -> Vec<&str> {
    let mut c: Vec<&str> = sent.iter().map(|d| d.entry.integration.as_str()).collect();
    c.sort();
    c
}

#[test]
fn a_partner_is_told_at_once_with_its_contacts_as_the_people() {
    let t0 = at("2026-11-18T10:00:00Z");
    let mut p = Pipeline::new(setup(serde_json::json!({
        "contact": [{ "name": "ACME NOC", "email": "noc@acme.example" }],
    })));
    p.ingest(alert("QuoteErrors", &[], t0), t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    assert_eq!(channels(&sent), [OPS, ACME]);
    let to_acme = sent.iter().find(|d| d.entry.integration == ACME).unwrap();
    assert_eq!(to_acme.entry.notification.receiver, "partner:acme");
    assert_eq!(to_acme.entry.notification.people[0].name, "ACME NOC");
    assert_eq!(
        to_acme.entry.notification.people[0].email.as_deref(),
        Some("noc@acme.example")
    );
    // Alerts for other partners, or none, never reach acme.
    let other = Alert::firing(
        [("alertname", "Other"), ("partner", "zeta")]
            .into_iter()
            .collect(),
        t0,
    );
    p.ingest(other, t0.plus_millis(60_000));
    let sent = deliver_all(&mut p, t0.plus_millis(90_000));
    assert_eq!(channels(&sent), [OPS]);
}

#[test]
fn a_partner_who_knows_first_is_never_told_but_our_people_are() {
    let t0 = at("2026-11-18T10:00:00Z");
    let mut p = Pipeline::new(setup(serde_json::json!({ "notify": "never" })));
    p.ingest(alert("QuoteErrors", &[], t0), t0);
    let mut sent = Vec::new();
    let mut now = t0;
    for _ in 0..24 {
        now = now.plus_millis(600_000);
        sent.extend(deliver_all(&mut p, now));
    }
    assert_eq!(
        told(&sent),
        [(OPS.to_string(), vec!["QuoteErrors:firing".to_string()])]
    );
    assert!(p.counters().partner_held > 0);
    // Its resolution reaches only those who heard it fire.
    p.ingest(alert("QuoteErrors", &[], t0).resolved_at(now), now);
    let sent = deliver_all(&mut p, now.plus_millis(300_000));
    assert_eq!(
        told(&sent),
        [(OPS.to_string(), vec!["QuoteErrors:resolved".to_string()])]
    );
}

#[test]
fn a_partner_is_told_only_if_still_failing_after_the_delay_and_exactly_then() {
    let t0 = at("2026-11-18T10:00:00Z");
    let mut p = Pipeline::new(setup(serde_json::json!({ "after": "1h" })));
    p.ingest(alert("QuoteErrors", &[], t0), t0);
    // A blip that clears within the hour: the partner never hears of it.
    p.ingest(alert("Timeouts", &[], t0), t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    assert_eq!(channels(&sent), [OPS, OPS]);
    let cleared = t0.plus_millis(20 * 60_000);
    p.ingest(alert("Timeouts", &[], t0).resolved_at(cleared), cleared);
    let mut now = t0.plus_millis(30_000);
    let mut before = Vec::new();
    let due = t0.plus_millis(3_600_000);
    while let Some(wake) = p.next_wake(now).filter(|w| *w < due) {
        now = wake;
        before.extend(deliver_all(&mut p, now));
    }
    assert!(
        before.iter().all(|d| d.entry.integration == OPS),
        "{:?}",
        told(&before)
    );
    // The pipeline wakes exactly when the hour is up, not at the next group interval.
    assert_eq!(p.next_wake(now), Some(due));
    let sent = deliver_all(&mut p, due);
    assert_eq!(
        told(&sent),
        [(ACME.to_string(), vec!["QuoteErrors:firing".to_string()])]
    );
    // Nothing more for the partner until it changes; then it hears the resolution.
    let later = due.plus_millis(600_000);
    assert!(deliver_all(&mut p, later).is_empty());
    p.ingest(alert("QuoteErrors", &[], t0).resolved_at(later), later);
    let sent = deliver_all(&mut p, later.plus_millis(300_000));
    assert_eq!(channels(&sent), [OPS, ACME]);
}

#[test]
fn only_in_their_hours_waits_for_monday_morning_in_their_time_zone() {
    // Saturday 02:00 in London; their hours begin Monday 08:00 London (GMT in November).
    let t0 = at("2026-11-21T02:00:00Z");
    let mut p = Pipeline::new(setup(serde_json::json!({
        "hours": "mon-fri 08:00-18:00 Europe/London",
        "only_in_hours": true,
    })));
    p.ingest(alert("QuoteErrors", &[], t0), t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    assert_eq!(channels(&sent), [OPS], "our people hear at once");
    let monday = at("2026-11-23T08:00:00Z");
    let mut now = t0.plus_millis(30_000);
    let mut weekend = Vec::new();
    while let Some(wake) = p.next_wake(now).filter(|w| *w < monday) {
        now = wake;
        weekend.extend(deliver_all(&mut p, now));
    }
    assert!(weekend.iter().all(|d| d.entry.integration == OPS));
    let sent = deliver_all(&mut p, monday);
    assert_eq!(channels(&sent), [ACME]);
}

#[test]
fn a_failure_mode_has_its_own_rule_and_its_agreed_response_travels_with_the_alert() {
    let t0 = at("2026-11-18T10:00:00Z");
    let mut p = Pipeline::new(setup(serde_json::json!({
        "failure_mode": [{
            "name": "zip code mismatch",
            "matchers": ["error=\"zip\""],
            "response": "WONTFIX: they update twice a year",
            "notify": "never",
        }],
    })));
    p.ingest(alert("Mismatch", &[("error", "zip")], t0), t0);
    p.ingest(alert("Garbled", &[("error", "xml")], t0), t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    let to_partner: Vec<_> = told(&sent).into_iter().filter(|(c, _)| c == ACME).collect();
    assert_eq!(
        to_partner,
        [(ACME.to_string(), vec!["Garbled:firing".to_string()])]
    );
    let ours = sent
        .iter()
        .find(|d| {
            d.entry.integration == OPS
                && d.entry.notification.alerts[0].labels.get("alertname") == Some("Mismatch")
        })
        .unwrap();
    let annotations = &ours.entry.notification.alerts[0].annotations;
    assert_eq!(&annotations["failure_mode"], "zip code mismatch");
    assert_eq!(
        &annotations["response"],
        "WONTFIX: they update twice a year"
    );
}

#[test]
fn their_planned_downtime_mutes_their_alerts_for_everyone_and_only_theirs() {
    let t0 = at("2026-11-18T10:00:00Z");
    let mut p = Pipeline::new(setup(serde_json::json!({
        "downtime": [{ "from": "2026-11-18T09:00:00Z", "to": "2026-11-18T11:00:00Z" }],
    })));
    p.ingest(alert("QuoteErrors", &[], t0), t0);
    let ours = Alert::firing(
        [("alertname", "DiskFull"), ("level", "critical")]
            .into_iter()
            .collect(),
        t0,
    );
    p.ingest(ours, t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    assert_eq!(
        told(&sent),
        [(OPS.to_string(), vec!["DiskFull:firing".to_string()])]
    );
    let reason = p
        .mute_reason(0, &alert("QuoteErrors", &[], t0), t0)
        .map(|r| r.to_string())
        .unwrap_or_default();
    assert!(reason.contains("partner acme downtime"), "{reason}");
    // Still failing when the downtime ends: now both hear of it.
    let after = at("2026-11-18T11:00:30Z");
    let mut now = t0.plus_millis(30_000);
    let mut sent = Vec::new();
    while now < after.plus_millis(300_000) {
        now = now.plus_millis(300_000);
        sent.extend(deliver_all(&mut p, now));
    }
    assert_eq!(channels(&sent), [OPS, ACME]);
}
