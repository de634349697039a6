//! Alert labels and annotations across evaluations: the group reuses an alert's expansion
//! while its series keeps its value, and the text must still follow every change a template
//! can see. Also what the rules of one evaluation see of each other's output.

use model::alert::Annotations;

use super::tests::{eval, load};
use super::{Group, GroupOptions};
use crate::promql::is_stale_nan;
use crate::promqltest::MemoryQuerier;
use crate::rulefile;

fn group(yaml: &str) -> Group {
    let file = rulefile::parse("rules.yml", yaml).expect("valid rule file");
    Group::new(&file.groups[0], &GroupOptions::default()).expect("group builds")
}

/// Each remembered alert of the group's first rule as `instance: summary`.
fn summaries(g: &Group) -> Vec<String> {
    let view = g.rules().next().expect("a rule");
    view.alerts
        .iter()
        .map(|r| {
            let annotations: &Annotations = &r.annotations;
            let summary = annotations
                .iter()
                .find(|(k, _)| *k == "summary")
                .map_or("", |(_, v)| v);
            format!(
                "{}: {summary}",
                r.key.labels.get("instance").unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn annotations_follow_the_value_and_the_labels_at_every_evaluation() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - alert: HighLoad
        expr: load > 1
        for: 10m
        labels:
          severity: '{{ if gt $value 3.0 }}page{{ else }}ticket{{ end }}'
        annotations:
          summary: '{{ $labels.instance }} has a load of {{ $value }}'
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"load{instance="a"} 2 2 5 2"#);
    load(&mut q, r#"load{instance="b"} 2 2 2 2"#);
    eval(&mut g, &mut q, 0);
    eval(&mut g, &mut q, 1);
    assert_eq!(
        summaries(&g),
        ["a: a has a load of 2", "b: b has a load of 2"]
    );
    // The value of `a` changes: its label template moves it to another alert.
    eval(&mut g, &mut q, 2);
    let view = g.rules().next().unwrap();
    let severities: Vec<String> = view
        .alerts
        .iter()
        .map(|r| {
            let l = &r.key.labels;
            format!(
                "{} {}",
                l.get("instance").unwrap(),
                l.get("severity").unwrap()
            )
        })
        .collect();
    assert_eq!(severities, ["a page", "a ticket", "b ticket"]);
    let out = eval(&mut g, &mut q, 3);
    let alerts: Vec<String> = out
        .samples
        .iter()
        .filter(|s| s.labels.metric_name() == Some("ALERTS") && !is_stale_nan(s.value))
        .map(|s| {
            let l = &s.labels;
            format!(
                "{} {}",
                l.get("instance").unwrap(),
                l.get("severity").unwrap()
            )
        })
        .collect();
    assert_eq!(
        alerts,
        ["a ticket", "b ticket"],
        "back at 2, `a` is a ticket again"
    );
}

#[test]
fn a_template_that_queries_is_expanded_at_every_evaluation() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        annotations:
          summary: '{{ with query "count(up == 0)" }}{{ . | first | value }}{{ end }} down'
"#,
    );
    let mut q = MemoryQuerier::new();
    load(&mut q, r#"up{instance="a"} 0 0 0"#);
    load(&mut q, r#"up{instance="b"} 1 0 0"#);
    eval(&mut g, &mut q, 0);
    assert_eq!(summaries(&g), ["a: 1 down"]);
    // `a` keeps its labels and value; what its template queries changed.
    eval(&mut g, &mut q, 1);
    assert_eq!(summaries(&g), ["a: 2 down", "b: 2 down"]);
}

#[test]
fn later_rules_see_the_last_of_equal_records_and_select_them_by_any_matcher() {
    let mut g = group(
        r#"
groups:
  - name: g
    rules:
      - record: x
        expr: vector(1)
      - record: x
        expr: vector(2)
      - record: from_x
        expr: x + 0
      - record: both
        expr: count({__name__=~"x|from_x"})
"#,
    );
    let q = MemoryQuerier::new();
    let out = g.evaluate(&q, 0);
    let values: Vec<String> = out
        .samples
        .iter()
        .map(|s| format!("{} {}", s.labels.metric_name().unwrap(), s.value))
        .collect();
    assert_eq!(values, ["x 1", "x 2", "from_x 2", "both 2"]);
}
