use std::collections::BTreeMap;

use model::Timestamp;
use model::time_period::TimePeriods;

use super::*;

fn at(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse().unwrap())
}

fn build(json: serde_json::Value) -> Result<Built, Vec<ConfigIssue>> {
    let raw: BTreeMap<String, RawPartner> = serde_json::from_value(json).unwrap();
    Partners::build(&raw, &TimePeriods::default())
}

fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.path.as_str()).collect()
}

fn firing(start: &str, labels: &[(&str, &str)]) -> Alert {
    let mut all: model::Labels = [("alertname", "QuoteErrors"), ("partner", "acme")]
        .into_iter()
        .collect();
    for (n, v) in labels {
        all.set(*n, *v);
    }
    Alert::firing(all, at(start))
}

#[test]
fn every_mistake_is_reported_at_its_path() {
    let issues = build(serde_json::json!({
        "acme": {
            "notify": "sometimes",
            "after": "an hour",
            "only_in_hours": true,
            "failure_mode": [{ "name": "", "matchers": ["error=~\"(\""] }],
            "downtime": [{ "from": "2026-11-18T09:00:00Z" }],
        },
        "zeta": { "hours": "someday 25:00-26:00" },
    }))
    .err()
    .unwrap();
    assert_eq!(
        paths(&issues),
        [
            "acme.notify",
            "acme.after",
            "acme.only_in_hours",
            "acme.failure_mode.0.name",
            "acme.failure_mode.0.matchers.0",
            "zeta.hours",
            "acme.downtime.0.to",
        ]
    );
    assert!(issues[2].hint.as_deref().unwrap().contains("hours ="));
}

#[test]
fn a_failure_mode_takes_what_it_leaves_out_from_the_partner() {
    let built = build(serde_json::json!({
        "acme": {
            "after": "1h",
            "failure_mode": [
                { "name": "outage", "matchers": ["error=\"down\""], "after": "0s" },
                { "name": "slow", "matchers": ["error=\"slow\""], "response": "call them" },
            ],
        },
    }))
    .unwrap();
    let acme = built.partners.get("acme").unwrap();
    let now = at("2026-11-18T10:10:00Z");
    // The outage mode is told at once; the slow mode keeps the partner's hour.
    assert_eq!(
        acme.decide(&firing("2026-11-18T10:00:00Z", &[("error", "down")]), now),
        Decision::Now
    );
    match acme.decide(&firing("2026-11-18T10:00:00Z", &[("error", "slow")]), now) {
        Decision::At(t, why) => {
            assert_eq!(t, at("2026-11-18T11:00:00Z"));
            assert!(why.contains("\"slow\"") && why.contains("1h"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let mut a = firing("2026-11-18T10:00:00Z", &[("error", "slow")]);
    a.annotations
        .insert("response".into(), "set by the rule".into());
    acme.annotate(&mut a);
    assert_eq!(&a.annotations["failure_mode"], "slow");
    assert_eq!(
        &a.annotations["response"], "set by the rule",
        "never overwritten"
    );
}

#[test]
fn a_delay_that_ends_outside_their_hours_waits_for_the_hours() {
    let built = build(serde_json::json!({
        "acme": {
            "hours": "mon-fri 09:00-17:00 America/New_York",
            "after": "1h",
            "only_in_hours": true,
        },
    }))
    .unwrap();
    let acme = built.partners.get("acme").unwrap();
    // Began Friday 16:30 New York (21:30 UTC); the hour is up at 17:30, after their hours:
    // Monday 09:00 New York, 14:00 UTC.
    let alert = firing("2026-11-20T21:30:00Z", &[]);
    match acme.decide(&alert, at("2026-11-20T21:31:00Z")) {
        Decision::At(t, _) => assert_eq!(t, at("2026-11-23T14:00:00Z")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        acme.decide(&alert, at("2026-11-23T14:00:00Z")),
        Decision::Now
    );
}

#[test]
fn downtime_windows_match_only_the_partners_alerts() {
    let built = build(serde_json::json!({
        "acme": { "downtime": [{ "when": "sun 02:00-04:00 UTC" }] },
    }))
    .unwrap();
    let sunday = at("2026-11-22T03:00:00Z");
    let reason = crate::mute::Muter::mute(
        &built.downtime,
        &firing("2026-11-22T02:30:00Z", &[]),
        sunday,
    );
    let reason = reason.map(|r| r.to_string()).unwrap_or_default();
    assert!(reason.contains("partner acme downtime"), "{reason}");
    let other = Alert::firing(
        [("alertname", "X"), ("partner", "zeta")]
            .into_iter()
            .collect(),
        sunday,
    );
    assert!(crate::mute::Muter::mute(&built.downtime, &other, sunday).is_none());
}
