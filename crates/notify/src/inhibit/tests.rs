//! Inhibition as an operator relies on it: the cause mutes its symptoms, only where the
//! `equal` labels agree, never itself, and only while it fires.

use super::*;

fn rule(source: &[&str], target: &[&str], equal: &[&str]) -> RawInhibitRule {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    RawInhibitRule {
        source_matchers: own(source),
        target_matchers: own(target),
        equal: own(equal),
    }
}

fn alert(pairs: &[(&str, &str)]) -> Alert {
    Alert::firing(pairs.iter().copied().collect(), Timestamp(0))
}

fn critical_mutes_warnings() -> Inhibitor {
    Inhibitor::build(&[rule(
        &[r#"severity="critical""#],
        &[r#"severity="warning""#],
        &["cluster", "service"],
    )])
    .unwrap()
}

const NOW: Timestamp = Timestamp(1_000);

#[test]
fn a_firing_cause_mutes_symptoms_that_share_the_equal_labels() {
    let mut inhibitor = critical_mutes_warnings();
    let down = alert(&[
        ("alertname", "ClusterDown"),
        ("severity", "critical"),
        ("cluster", "eu1"),
        ("service", "db"),
    ]);
    let slow_eu1 = alert(&[
        ("alertname", "Slow"),
        ("severity", "warning"),
        ("cluster", "eu1"),
        ("service", "db"),
    ]);
    let slow_us1 = alert(&[
        ("alertname", "Slow"),
        ("severity", "warning"),
        ("cluster", "us1"),
        ("service", "db"),
    ]);
    assert_eq!(inhibitor.mute(&slow_eu1, NOW), None, "nothing fires yet");

    inhibitor.update(&down);
    assert_eq!(
        inhibitor.mute(&slow_eu1, NOW),
        Some(MuteReason::Inhibited {
            by: r#"ClusterDown{cluster="eu1", service="db", severity="critical"}"#.into()
        })
    );
    assert_eq!(inhibitor.mute(&slow_us1, NOW), None, "another cluster");
    assert_eq!(inhibitor.mute(&down, NOW), None, "a source is not a target");
}

#[test]
fn a_label_both_lack_counts_as_equal_but_one_lacking_it_does_not() {
    let mut inhibitor = critical_mutes_warnings();
    // A cluster-wide alert without a service label.
    inhibitor.update(&alert(&[
        ("alertname", "ClusterDown"),
        ("severity", "critical"),
        ("cluster", "eu1"),
    ]));
    let no_service = alert(&[
        ("alertname", "Slow"),
        ("severity", "warning"),
        ("cluster", "eu1"),
    ]);
    let empty_service = alert(&[
        ("alertname", "Slow"),
        ("severity", "warning"),
        ("cluster", "eu1"),
        ("service", ""),
    ]);
    let with_service = alert(&[
        ("alertname", "Slow"),
        ("severity", "warning"),
        ("cluster", "eu1"),
        ("service", "db"),
    ]);
    assert!(inhibitor.mute(&no_service, NOW).is_some());
    assert!(
        inhibitor.mute(&empty_service, NOW).is_some(),
        "empty is absent"
    );
    assert!(inhibitor.mute(&with_service, NOW).is_none());
}

#[test]
fn an_alert_matching_both_sides_never_mutes_itself_or_its_peers() {
    // Any disk alert mutes the other disk alerts of the same host.
    let mut inhibitor = Inhibitor::build(&[rule(
        &[r#"alertname=~"Disk.*""#],
        &[r#"alertname=~"Disk.*|Inode.*""#],
        &["host"],
    )])
    .unwrap();
    let full = alert(&[("alertname", "DiskFull"), ("host", "db1")]);
    inhibitor.update(&full);
    assert_eq!(inhibitor.mute(&full, NOW), None, "not itself");

    // A second alert matching both sides: neither mutes the other, so neither is lost.
    let slow = alert(&[("alertname", "DiskSlow"), ("host", "db1")]);
    inhibitor.update(&slow);
    assert_eq!(inhibitor.mute(&full, NOW), None);
    assert_eq!(inhibitor.mute(&slow, NOW), None);

    // A target that is no source is muted by them.
    let inodes = alert(&[("alertname", "InodesLow"), ("host", "db1")]);
    assert!(inhibitor.mute(&inodes, NOW).is_some());
}

#[test]
fn a_resolved_source_stops_inhibiting() {
    let mut inhibitor = critical_mutes_warnings();
    let down = alert(&[
        ("alertname", "ClusterDown"),
        ("severity", "critical"),
        ("cluster", "eu1"),
    ]);
    let other_down = alert(&[
        ("alertname", "NodesDown"),
        ("severity", "critical"),
        ("cluster", "eu1"),
    ]);
    let slow = alert(&[
        ("alertname", "Slow"),
        ("severity", "warning"),
        ("cluster", "eu1"),
    ]);
    inhibitor.update(&down);
    inhibitor.update(&other_down);
    inhibitor.update(&down.clone().resolved_at(Timestamp(500)));
    assert_eq!(
        inhibitor.mute(&slow, NOW),
        Some(MuteReason::Inhibited {
            by: r#"NodesDown{cluster="eu1", severity="critical"}"#.into()
        }),
        "the remaining source still inhibits"
    );
    inhibitor.update(&other_down.clone().resolved_at(Timestamp(600)));
    assert_eq!(inhibitor.mute(&slow, NOW), None);

    // Replacing the firing set drops sources not in it, and ignores resolved entries.
    inhibitor.update(&down);
    assert!(inhibitor.mute(&slow, NOW).is_some());
    inhibitor.set_firing(&[other_down.resolved_at(Timestamp(700)), slow.clone()]);
    assert_eq!(inhibitor.mute(&slow, NOW), None);
    inhibitor.set_firing(std::slice::from_ref(&down));
    assert!(inhibitor.mute(&slow, NOW).is_some());
}

#[test]
fn a_source_whose_labels_change_is_refiled() {
    let mut inhibitor = critical_mutes_warnings();
    let mut down = alert(&[
        ("alertname", "ClusterDown"),
        ("severity", "critical"),
        ("cluster", "eu1"),
    ]);
    inhibitor.update(&down);
    // Same fingerprint, now in another cluster (as a relabelled alert would be).
    down.labels.set("cluster", "us1");
    inhibitor.update(&down);
    let slow = |cluster| {
        alert(&[
            ("alertname", "Slow"),
            ("severity", "warning"),
            ("cluster", cluster),
        ])
    };
    assert!(inhibitor.mute(&slow("eu1"), NOW).is_none());
    assert!(inhibitor.mute(&slow("us1"), NOW).is_some());
}

#[test]
fn bad_rules_are_reported_at_their_key_paths() {
    let issues = Inhibitor::build(&[
        rule(&[r#"severity="critical""#], &[r#"severity="warning""#], &[]),
        rule(&[r#"severity=~"(""#], &[], &["cluster", "1bad"]),
        rule(&["{}"], &[r#"a="b""#, "nope"], &[]),
    ])
    .unwrap_err();
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    let at = |path: &str| {
        text.iter()
            .find(|t| t.starts_with(&format!("{path}: ")))
            .unwrap_or_else(|| panic!("no issue at {path}: {text:?}"))
    };
    assert!(at("1.source_matchers.0").contains("invalid regex"));
    assert!(at("1.target_matchers").contains("symptoms"));
    assert!(at("1.equal.1").contains("\"1bad\" is not a label name"));
    assert!(at("2.source_matchers").contains("cause"));
    assert!(at("2.target_matchers.1").contains("expected one of"));
    assert_eq!(issues.len(), 5, "{text:?}");
}

#[test]
fn unknown_keys_in_a_rule_are_refused() {
    let typo =
        r#"{"source_matchers": ["a=\"b\""], "target_matchers": ["c=\"d\""], "equals": ["x"]}"#;
    let e = serde_json::from_str::<RawInhibitRule>(typo)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `equals`"), "{e}");
    let ok = r#"{"source_matchers": ["a=\"b\""], "target_matchers": ["c=\"d\""]}"#;
    let r: RawInhibitRule = serde_json::from_str(ok).unwrap();
    assert!(r.equal.is_empty());
    assert_eq!(Inhibitor::build(&[r]).unwrap().rule_count(), 1);
}
