//! Group evaluation over an in-memory querier: the alert life cycle as Prometheus runs it,
//! templated labels and annotations, recording rules feeding later rules, `ALERTS` and health.

use model::alert::AlertPhase;
use model::{Matcher, Querier, TimeRange, Timestamp};

use super::{Group, GroupOptions, GroupOutcome, Health};
use crate::promql::is_stale_nan;
use crate::promqltest::{MemoryQuerier, SeqValue, parse_series};
use crate::rulefile;

const MIN: i64 = 60_000;

fn group_with(yaml: &str, options: &GroupOptions) -> Group {
    let file = rulefile::parse("rules.yml", yaml).expect("valid rule file");
    Group::new(&file.groups[0], options).expect("group builds")
}

fn group(yaml: &str) -> Group {
    group_with(yaml, &GroupOptions::default())
}

/// Loads `series values` (the test language's notation), one sample per minute from 0.
pub(super) fn load(q: &mut MemoryQuerier, line: &str) {
    let (labels, values) = parse_series(line).expect("valid series");
    for (i, v) in values.into_iter().enumerate() {
        if let SeqValue::Float(v) = v {
            q.add_sample(&labels, i as i64 * MIN, v);
        }
    }
}

/// Evaluates at `minute` and appends what the group produced, as a caller must.
pub(super) fn eval(g: &mut Group, q: &mut MemoryQuerier, minute: i64) -> GroupOutcome {
    let out = g.evaluate(q, minute * MIN);
    for s in &out.samples {
        q.add_sample(&s.labels, s.t, s.value);
    }
    out
}

/// The phases of the rule's remembered alerts, by their labels written `k=v,...`.
fn phases(g: &Group, rule: &str) -> Vec<(String, AlertPhase)> {
    let view = g.rules().find(|r| r.name == rule).expect("rule exists");
    view.alerts
        .iter()
        .map(|r| {
            let labels: Vec<String> = r
                .key
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            (labels.join(","), r.phase)
        })
        .collect()
}

fn sample_names(out: &GroupOutcome) -> Vec<String> {
    out.samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let v = if is_stale_nan(s.value) {
                "stale".to_string()
            } else {
                s.value.to_string()
            };
            format!("{} {v}", labels.join(","))
        })
        .collect()
}

const INSTANCE_DOWN: &str = r#"
groups:
  - name: g
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
"#;

#[test]
fn an_alert_is_pending_until_for_has_passed_then_fires() {
    let mut g = group(INSTANCE_DOWN);
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"up{job="api"} 1 0x10"#);
    eval(&mut g, &mut q, 0);
    assert!(phases(&g, "InstanceDown").is_empty(), "up is 1 at 0m");
    for minute in 1..6 {
        eval(&mut g, &mut q, minute);
        assert_eq!(
            phases(&g, "InstanceDown"),
            [(
                "alertname=InstanceDown,job=api,severity=page".into(),
                AlertPhase::Pending
            )],
            "at {minute}m the condition has held {} minutes, less than 5",
            minute - 1
        );
    }
    let out = eval(&mut g, &mut q, 6);
    assert_eq!(
        phases(&g, "InstanceDown")[0].1,
        AlertPhase::Firing,
        "5m after 1m"
    );
    let step = out.rules[0].alerts.as_ref().expect("alerting rule step");
    assert_eq!(step.transitions.len(), 1);
    assert!(step.transitions[0].notify, "starting to fire notifies");
}

#[test]
fn alerts_series_follow_the_state_and_end_with_a_staleness_marker() {
    let mut g = group(INSTANCE_DOWN);
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"up{job="api"} 0x10"#);
    let first = eval(&mut g, &mut q, 0);
    assert_eq!(
        sample_names(&first),
        [
            "__name__=ALERTS,alertname=InstanceDown,alertstate=pending,job=api,severity=page 1",
            "__name__=ALERTS_FOR_STATE,alertname=InstanceDown,job=api,severity=page 0",
        ]
    );
    for minute in 1..5 {
        eval(&mut g, &mut q, minute);
    }
    let fired = eval(&mut g, &mut q, 5);
    assert_eq!(
        sample_names(&fired),
        [
            "__name__=ALERTS,alertname=InstanceDown,alertstate=firing,job=api,severity=page 1",
            // The start of the alert is when it became pending, in seconds.
            "__name__=ALERTS_FOR_STATE,alertname=InstanceDown,job=api,severity=page 0",
            "__name__=ALERTS,alertname=InstanceDown,alertstate=pending,job=api,severity=page stale",
        ]
    );
    // Queried a minute later, the pending series is gone at once, not after the lookback.
    let pending = [
        Matcher::equal("__name__", "ALERTS"),
        Matcher::equal("alertstate", "pending"),
    ];
    let engine = crate::promql::Engine::default();
    let expr = crate::promql::parse(r#"ALERTS{alertstate="pending"}"#).unwrap();
    match engine.instant(&q, &expr, 5 * MIN + 30_000).unwrap() {
        crate::promql::Value::Vector(v) => assert!(v.is_empty(), "{v:?}"),
        other => panic!("{other:?}"),
    }
    let range = TimeRange::new(Timestamp(0), Timestamp(10 * MIN));
    assert_eq!(q.select(&pending, range).unwrap().len(), 1);
}

#[test]
fn a_firing_alert_resolves_at_the_first_evaluation_without_it() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - alert: High
        expr: x > 5
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, "x 10 10 1 1");
    eval(&mut g, &mut q, 0);
    assert_eq!(
        phases(&g, "High")[0].1,
        AlertPhase::Firing,
        "no `for`: fires at once"
    );
    eval(&mut g, &mut q, 1);
    let out = eval(&mut g, &mut q, 2);
    assert_eq!(phases(&g, "High")[0].1, AlertPhase::Resolved);
    let step = out.rules[0].alerts.as_ref().unwrap();
    assert_eq!(step.transitions[0].to, AlertPhase::Resolved);
    assert!(
        step.transitions[0].notify,
        "people heard it fire, so they hear it resolve"
    );
    assert!(
        sample_names(&out).iter().all(|s| s.ends_with("stale")),
        "{:?}",
        sample_names(&out)
    );
}

#[test]
fn keep_firing_for_counts_from_the_first_evaluation_without_the_alert() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - alert: High
        expr: x > 5
        keep_firing_for: 2m
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, "x 10 10 10 1 1 1 1");
    for minute in 0..3 {
        eval(&mut g, &mut q, minute);
    }
    // Absent from 3m on: Prometheus keeps it firing while less than 2m have passed since 3m.
    for minute in [3, 4] {
        eval(&mut g, &mut q, minute);
        assert_eq!(phases(&g, "High")[0].1, AlertPhase::Firing, "at {minute}m");
    }
    eval(&mut g, &mut q, 5);
    assert_eq!(phases(&g, "High")[0].1, AlertPhase::Resolved, "at 5m");
}

#[test]
fn a_pending_alert_that_disappears_is_forgotten_and_starts_over() {
    let mut g = group(INSTANCE_DOWN);
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"up{job="api"} 0 0 0 1 0 0 0 0 0 0"#);
    for minute in 0..4 {
        eval(&mut g, &mut q, minute);
    }
    assert!(
        phases(&g, "InstanceDown")
            .iter()
            .all(|(_, p)| *p == AlertPhase::Inactive)
    );
    for minute in 4..9 {
        eval(&mut g, &mut q, minute);
        assert_eq!(
            phases(&g, "InstanceDown")[0].1,
            AlertPhase::Pending,
            "{minute}m"
        );
    }
    eval(&mut g, &mut q, 9);
    assert_eq!(
        phases(&g, "InstanceDown")[0].1,
        AlertPhase::Firing,
        "5m after 4m"
    );
}

#[test]
fn labels_and_annotations_are_templated_per_alert() {
    let options = GroupOptions {
        external_labels: [("site".to_string(), "lon".to_string())].into(),
        external_url: "http://periscope.example".into(),
        ..GroupOptions::default()
    };
    let mut g = group_with(
        r#"
groups:
  - name: g
    labels:
      team: core
    rules:
      - alert: DiskFull
        expr: disk_used_ratio > 0.8
        labels:
          severity: '{{ if gt $value 0.9 }}critical{{ else }}warning{{ end }}'
          empty: '{{ if false }}x{{ end }}'
        annotations:
          summary: '{{ $labels.mount }} on {{ $labels.instance }} is {{ $value | humanizePercentage }} full'
          where: '{{ $externalLabels.site }} {{ $externalURL }}'
          total: '{{ with query "count(disk_used_ratio)" }}{{ . | first | value }}{{ end }}'
"#,
        &options,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"disk_used_ratio{instance="db1", mount="/"} 0.95"#);
    load(
        &mut q,
        r#"disk_used_ratio{instance="db2", mount="/var"} 0.85"#,
    );
    eval(&mut g, &mut q, 0);
    let view = g.rules().next().unwrap();
    let alerts: Vec<(String, Vec<(String, String)>)> = view
        .alerts
        .iter()
        .map(|r| {
            let labels: Vec<String> = r
                .key
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            (
                labels.join(","),
                r.annotations.clone().into_iter().collect(),
            )
        })
        .collect();
    let ann = |summary: &str| {
        vec![
            ("summary".to_string(), summary.to_string()),
            ("total".to_string(), "2".to_string()),
            (
                "where".to_string(),
                "lon http://periscope.example".to_string(),
            ),
        ]
    };
    assert_eq!(
        alerts,
        [
            (
                "alertname=DiskFull,instance=db1,mount=/,severity=critical,team=core".to_string(),
                ann("/ on db1 is 95% full")
            ),
            (
                "alertname=DiskFull,instance=db2,mount=/var,severity=warning,team=core".to_string(),
                ann("/var on db2 is 85% full")
            ),
        ]
    );
}

#[test]
fn a_recorded_series_is_visible_to_the_next_rule_in_the_same_evaluation() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - record: job:requests:sum
        expr: sum by (job) (requests)
        labels:
          source: rule
      - alert: TooMany
        expr: job:requests:sum > 5
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"requests{job="api", instance="a"} 4"#);
    load(&mut q, r#"requests{job="api", instance="b"} 3"#);
    // Nothing is appended between the rules: the group itself must make the record visible.
    let out = g.evaluate(&q, 0);
    assert_eq!(
        sample_names(&out)[0],
        "__name__=job:requests:sum,job=api,source=rule 7"
    );
    assert_eq!(
        phases(&g, "TooMany"),
        [(
            "alertname=TooMany,job=api,source=rule".into(),
            AlertPhase::Firing
        )]
    );
    assert!(out.rules.iter().all(|r| r.health == Health::Ok));
}

#[test]
fn a_rule_whose_query_fails_is_unhealthy_and_the_others_still_run() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - record: joined
        expr: join_1 + on(a) join_2
      - record: fine
        expr: sum(join_2)
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"join_1{a="1", b="2"} 1"#);
    load(&mut q, r#"join_2{a="1", b="3"} 2"#);
    load(&mut q, r#"join_2{a="1", b="4"} 3"#);
    let out = eval(&mut g, &mut q, 0);
    let errors: Vec<(&str, &str)> = out.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "joined");
    assert!(errors[0].1.contains("many"), "{}", errors[0].1);
    assert_eq!(sample_names(&out), ["__name__=fine 5"]);
    let views: Vec<_> = g.rules().collect();
    assert_eq!(views[0].health.as_str(), "err");
    assert_eq!(views[1].health, &Health::Ok);
    assert_eq!(views[0].last_evaluation, Some(0));
}

#[test]
fn a_rule_over_its_limit_fails_and_drops_its_alerts() {
    let mut g = group(
        r#"
groups:
  - name: g
    limit: 1
    rules:
      - alert: Down
        expr: up == 0
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"up{job="a"} 0 0"#);
    eval(&mut g, &mut q, 0);
    assert_eq!(phases(&g, "Down").len(), 1);
    load(&mut q, r#"up{job="b"} 0 0"#);
    let out = eval(&mut g, &mut q, 1);
    assert_eq!(
        out.rules[0].health,
        Health::Error("exceeded limit of 1 with 2 alerts".into())
    );
    assert!(phases(&g, "Down").is_empty());
    assert!(out.samples.is_empty());
}

#[test]
fn queries_run_at_now_minus_the_query_offset() {
    let mut g = group(
        r#"
groups:
  - name: g
    query_offset: 2m
    rules:
      - record: copy
        expr: x
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, "x 0 1 2 3 4 5");
    let out = eval(&mut g, &mut q, 5);
    assert_eq!(out.samples.len(), 1);
    assert_eq!((out.samples[0].t, out.samples[0].value), (3 * MIN, 3.0));
    assert_eq!(out.at, 5 * MIN);
}

#[test]
fn alerts_restored_after_a_restart_keep_their_start() {
    let mut before = group(INSTANCE_DOWN);
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"up{job="api"} 0x10"#);
    for minute in 0..3 {
        eval(&mut before, &mut q, minute);
    }
    let records = before.rules().next().unwrap().alerts.to_vec();
    let mut after = group(INSTANCE_DOWN);
    assert!(after.restore("InstanceDown", records));
    assert!(!after.restore("NoSuchRule", Vec::new()));
    eval(&mut after, &mut q, 4);
    assert_eq!(phases(&after, "InstanceDown")[0].1, AlertPhase::Pending);
    eval(&mut after, &mut q, 5);
    assert_eq!(
        phases(&after, "InstanceDown")[0].1,
        AlertPhase::Firing,
        "5m after 0m"
    );
}
