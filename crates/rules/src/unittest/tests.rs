//! The unit-test runner on small files of our own: when alerts are checked, what expression
//! tests see, group order, float comparison, and the messages of broken files.

use std::path::PathBuf;

use super::{FileReport, Options, parse, show, test_text};

/// A folder under the system temp dir, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let dir =
            std::env::temp_dir().join(format!("periscope-unittest-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Folder(dir)
    }

    fn write(&self, name: &str, text: &str) -> &Folder {
        std::fs::write(self.0.join(name), text).unwrap();
        self
    }

    fn run(&self, test: &str) -> FileReport {
        test_text("test.yml", &self.0, test, &Options::default())
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DOWN_RULES: &str = r#"
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 2m
        annotations:
          summary: '{{ $labels.job }} down since {{ $value }}'
"#;

fn down_test(eval_time: &str, firing: bool) -> String {
    let alerts = if firing {
        "\n          - exp_labels: {job: api}\n            exp_annotations: {summary: api down since 0}"
    } else {
        " []"
    };
    format!(
        r#"
rule_files: [rules.yml]
tests:
  - input_series:
      - series: 'up{{job="api"}}'
        values: 0x10
    alert_rule_test:
      - eval_time: {eval_time}
        alertname: Down
        exp_alerts:{alerts}
"#
    )
}

#[test]
fn an_alert_test_sees_the_firing_alerts_of_the_evaluation_covering_its_time() {
    let dir = Folder::new("alert-times");
    dir.write("rules.yml", DOWN_RULES);
    // Evaluations every minute; the alert is pending at 0m and 1m and fires from 2m on.
    for (eval_time, firing) in [
        ("0m", false),
        ("1m59s", false),
        ("2m", true),
        ("2m59s", true),
    ] {
        let report = dir.run(&down_test(eval_time, firing));
        assert!(report.passed(), "{eval_time}: {report}");
        let wrong = dir.run(&down_test(eval_time, !firing));
        assert!(
            !wrong.passed(),
            "{eval_time} with the wrong expectation passed"
        );
    }
}

#[test]
fn expression_tests_see_input_series_recorded_series_and_alerts() {
    let dir = Folder::new("expr");
    dir.write(
        "rules.yml",
        r#"
groups:
  - name: g
    rules:
      - record: job:x:sum
        expr: sum by (job) (x)
      - alert: Big
        expr: job:x:sum > 2
        for: 1m
"#,
    );
    let report = dir.run(
        r#"
rule_files: [rules.yml]
tests:
  - interval: 30s
    input_series:
      - series: 'x{job="a", i="1"}'
        values: '1 2 3 4'
      - series: 'x{job="a", i="2"}'
        values: '0 0 0 0'
    promql_expr_test:
      - expr: job:x:sum
        eval_time: 1m
        exp_samples:
          - labels: 'job:x:sum{job="a"}'
            value: 3
      - expr: timestamp(job:x:sum)
        eval_time: 1m30s
        exp_samples:
          - labels: '{job="a"}'
            value: 60
      - expr: ALERTS
        eval_time: 1m
        exp_samples:
          - labels: 'ALERTS{alertname="Big", alertstate="pending", job="a"}'
            value: 1
      - expr: scalar(x{i="2"})
        eval_time: 0
        exp_samples:
          - value: 0
"#,
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn a_rule_that_fails_to_evaluate_fails_the_test_group_and_is_named() {
    let dir = Folder::new("eval-error");
    dir.write(
        "rules.yml",
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: a + on(k) b\n",
    );
    let report = dir.run(
        r#"
rule_files: [rules.yml]
tests:
  - name: many to many
    input_series:
      - series: 'a{k="1"}'
        values: 1
      - series: 'b{k="1", j="1"}'
        values: 1
      - series: 'b{k="1", j="2"}'
        values: 1
"#,
    );
    assert!(!report.passed());
    let text = report.to_string();
    assert!(
        text.contains(
            "test.yml:4: test group \"many to many\": rule \"r\" of group \"g\" failed at 0s"
        ),
        "{text}"
    );
}

#[test]
fn group_eval_order_runs_listed_groups_first() {
    let dir = Folder::new("order");
    dir.write(
        "rules.yml",
        r#"
groups:
  - name: uses
    rules:
      - record: doubled
        expr: base * 2
  - name: makes
    rules:
      - record: base
        expr: vector(21)
"#,
    );
    let test = |order: &str, expected: &str| {
        format!(
            "rule_files: [rules.yml]\n{order}tests:\n  - promql_expr_test:\n      - expr: doubled\n        eval_time: 0\n        exp_samples: {expected}\n"
        )
    };
    // In file order `uses` runs before `base` exists; listed first, `makes` feeds it at once.
    assert!(dir.run(&test("", "[]")).passed());
    let ordered = "group_eval_order: [makes, uses]\n";
    let report = dir.run(&test(ordered, "[{labels: doubled, value: 42}]"));
    assert!(report.passed(), "{report}");
    let unknown = dir.run(&test("group_eval_order: [nope]\n", "[]"));
    assert!(
        unknown
            .to_string()
            .contains("group \"nope\" of group_eval_order"),
        "{unknown}"
    );
}

#[test]
fn floats_compare_exactly_unless_fuzzy_compare_is_set() {
    let dir = Folder::new("fuzzy");
    let test = |fuzzy: bool, value: &str| {
        format!(
            "fuzzy_compare: {fuzzy}\ntests:\n  - input_series:\n      - series: x\n        values: '{value}'\n    promql_expr_test:\n      - expr: x\n        eval_time: 0\n        exp_samples: [{{labels: x, value: 0.3}}]\n"
        )
    };
    // 0.30000000000000004 is the float right above 0.3.
    assert!(!dir.run(&test(false, "0.30000000000000004")).passed());
    assert!(dir.run(&test(true, "0.30000000000000004")).passed());
    assert!(!dir.run(&test(true, "0.3000000000000001")).passed());
}

#[test]
fn rule_files_are_found_relative_to_the_test_file_with_globs() {
    let dir = Folder::new("glob");
    dir.write("rules-a.yml", DOWN_RULES);
    dir.write(
        "rules-b.yml",
        "groups:\n  - name: other\n    rules:\n      - record: one\n        expr: vector(1)\n",
    );
    let report = dir.run(
        "rule_files: ['rules-*.yml', missing.yml]\ntests:\n  - promql_expr_test:\n      - expr: one\n        eval_time: 0\n        exp_samples: [{labels: one, value: 1}]\n",
    );
    assert!(report.passed(), "{report}");
    assert_eq!(
        report.warnings,
        ["no file matches the rule_files pattern \"missing.yml\""]
    );
}

#[test]
fn a_test_file_is_read_as_promtool_reads_it() {
    let file = parse(
        "evaluation_interval: 30s\ntests:\n  - start_timestamp: '2024-01-01T00:00:00Z'\n    input_series:\n      - series: up\n        values: 0x10\n    alert_rule_test:\n      - eval_time: 2m59s999ms\n        alertname: A\n",
    )
    .unwrap();
    assert_eq!(file.evaluation_interval_ms, 30_000);
    let tg = &file.tests[0];
    assert_eq!(tg.interval_ms, 30_000, "the group interval defaults to it");
    assert_eq!(tg.start_ms, 1_704_067_200_000);
    assert_eq!(tg.input_series[0].values, "0x10", "text, not the number 16");
    assert_eq!(tg.alert_tests[0].eval_ms, 179_999);
    assert_eq!(tg.alert_tests[0].line, 8);

    let unknown = parse("tests:\n  - nmae: x\n").unwrap_err();
    assert_eq!(unknown.line, 2);
    assert!(unknown.message.contains("nmae"), "{}", unknown.message);
    let bad = parse("tests:\n  - promql_expr_test:\n      - expr: x\n        eval_time: 5x\n")
        .unwrap_err();
    assert_eq!(bad.line, 4);
}

#[test]
fn an_alert_test_without_alertname_is_an_error() {
    let dir = Folder::new("no-alertname");
    let report = dir.run("tests:\n  - alert_rule_test:\n      - eval_time: 1m\n");
    assert!(!report.passed());
    assert!(
        report
            .to_string()
            .contains("test.yml:3: an alert_rule_test entry has no alertname")
    );
}

#[test]
fn a_file_without_test_groups_never_reads_its_rule_files() {
    // As promtool: the rules are loaded per test group.
    let dir = Folder::new("no-groups");
    let report = dir.run("rule_files: [does-not-parse.yml]\ntests: []\n");
    assert!(report.passed(), "{report}");
}

#[test]
fn durations_print_as_prometheus_writes_them() {
    assert_eq!(show::duration(0), "0s");
    assert_eq!(show::duration(90_000), "1m30s");
    assert_eq!(show::duration(179_999), "2m59s999ms");
    assert_eq!(show::duration(86_400_000), "1d");
}

/// A rule file with fields of its own: one on a group, one on a rule.
const RULES_WITH_EXTRA_FIELDS: &str = r#"
groups:
  - name: g
    ownership: { team: payments }
    rules:
      - record: job:up:sum
        expr: sum(up)
        owner: alice
"#;

const RECORDED_SUM_TEST: &str = r#"
rule_files: [rules.yml]
tests:
  - input_series:
      - series: 'up{job="a"}'
        values: 1x5
      - series: 'up{job="b"}'
        values: 1x5
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 2m
        exp_samples:
          - labels: job:up:sum
            value: 2
"#;

#[test]
fn unknown_fields_in_rule_files_fail_unless_ignored_as_promtool_allows() {
    let dir = Folder::new("extra-fields");
    dir.write("rules.yml", RULES_WITH_EXTRA_FIELDS);
    let strict = dir.run(RECORDED_SUM_TEST);
    assert!(!strict.passed(), "{strict}");
    assert!(
        strict.failures[0].contains("unknown field `ownership`"),
        "{strict}"
    );

    let lenient = Options {
        ignore_unknown_fields: true,
        ..Options::default()
    };
    let report = test_text("test.yml", &dir.0, RECORDED_SUM_TEST, &lenient);
    assert!(
        report.passed(),
        "the rules still load and evaluate: {report}"
    );

    // The flag is about rule files: the test file itself stays strict, as in promtool.
    let extra_in_test = RECORDED_SUM_TEST.replace(
        "    promql_expr_test:",
        "    owner: bob\n    promql_expr_test:",
    );
    assert_ne!(extra_in_test, RECORDED_SUM_TEST);
    let report = test_text("test.yml", &dir.0, &extra_in_test, &lenient);
    assert!(!report.passed(), "{report}");
    assert!(report.failures[0].contains("owner"), "{report}");
}

/// A recorded subquery and an expression test with a subquery, neither with a step, over a
/// series with a sample every 30 s; `EVAL` is the file's evaluation interval.
const SUBQUERY_TEST: &str = r#"
rule_files: [rules.yml]
evaluation_interval: EVAL
tests:
  - interval: 30s
    input_series:
      - series: x
        values: 0+1x20
    promql_expr_test:
      - expr: count_over_time(x[5m:])
        eval_time: 5m
        exp_samples:
          - value: COUNT
      - expr: recorded_points
        eval_time: 5m
        exp_samples:
          - labels: recorded_points
            value: COUNT
"#;

#[test]
fn a_subquery_without_a_step_steps_at_the_files_evaluation_interval() {
    let dir = Folder::new("subquery-step");
    dir.write(
        "rules.yml",
        "groups:\n  - name: g\n    rules:\n      - record: recorded_points\n        \
         expr: count_over_time(x[5m:])\n",
    );
    // Five minutes back from 5m, at every multiple of the step: ten points at 30 s, five at
    // the 1 m default.
    for (eval, count) in [("30s", "10"), ("1m", "5")] {
        let test = SUBQUERY_TEST.replace("EVAL", eval).replace("COUNT", count);
        let report = dir.run(&test);
        assert!(report.passed(), "evaluation_interval {eval}: {report}");
    }
    let wrong = SUBQUERY_TEST.replace("EVAL", "30s").replace("COUNT", "5");
    assert!(
        !dir.run(&wrong).passed(),
        "the 1 m step is not used at 30 s"
    );
}
