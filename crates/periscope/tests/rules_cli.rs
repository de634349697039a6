//! `periscope test-rules` and `periscope check-rules` run as a user runs them: real files in a
//! temporary folder, the real binary, exit codes and messages that name the file and line.

use std::path::Path;
use std::process::{Command, Output};

const RULES: &str = r#"groups:
  - name: availability
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 2m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is down"
"#;

const GOOD_TEST: &str = r#"rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - name: instance goes down
    interval: 1m
    input_series:
      - series: 'up{job="api", instance="a:9100"}'
        values: '1 1 0 0 0 0 0'
    alert_rule_test:
      - eval_time: 3m
        alertname: InstanceDown
        exp_alerts: []
      - eval_time: 4m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels:
              severity: page
              job: api
              instance: a:9100
            exp_annotations:
              summary: a:9100 is down
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 1m
        exp_samples:
          - labels: 'job:up:sum{job="api"}'
            value: 1
"#;

/// Expects the alert one minute too early, while it is still pending.
const FAILING_TEST: &str = r#"rule_files:
  - rules.yml
tests:
  - name: too early
    input_series:
      - series: 'up{job="api", instance="a:9100"}'
        values: '0 0 0 0'
    alert_rule_test:
      - eval_time: 1m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels:
              severity: page
              job: api
              instance: a:9100
            exp_annotations:
              summary: a:9100 is down
"#;

const BAD_SYNTAX_TEST: &str =
    "rule_files:\n  - rules.yml\ntests:\n  - name: x\n    input_series: [\n";

const BAD_RULES: &str = r#"groups:
  - name: broken
    rules:
      - alert: Broken
        expr: 'up +'
"#;

const DUPLICATE_RULES: &str = r#"groups:
  - name: twice
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:up:sum
        expr: sum by (job) (up)
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn periscope(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_periscope"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run periscope")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The 1-based line of the first line of `text` containing `marker`.
fn line_of(text: &str, marker: &str) -> usize {
    text.lines()
        .position(|l| l.contains(marker))
        .expect("marker present")
        + 1
}

fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.yml", RULES);
    write(dir.path(), "good_test.yml", GOOD_TEST);
    write(dir.path(), "failing_test.yml", FAILING_TEST);
    write(dir.path(), "bad_syntax_test.yml", BAD_SYNTAX_TEST);
    write(dir.path(), "bad_rules.yml", BAD_RULES);
    write(dir.path(), "duplicate_rules.yml", DUPLICATE_RULES);
    dir
}

#[test]
fn test_rules_passes_a_good_file_with_exit_0() {
    let dir = world();
    let out = periscope(dir.path(), &["test-rules", "good_test.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Unit Testing: good_test.yml\n  SUCCESS"),
        "{stdout}"
    );
}

#[test]
fn test_rules_reports_a_failing_alert_test_with_file_line_and_diff() {
    let dir = world();
    let out = periscope(
        dir.path(),
        &["test-rules", "good_test.yml", "failing_test.yml"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = line_of(FAILING_TEST, "eval_time: 1m");
    assert!(
        stderr.contains("Unit Testing: failing_test.yml\n  FAILED:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "failing_test.yml:{line}: test group \"too early\": alertname \"InstanceDown\" at 1m"
        )),
        "{stderr}"
    );
    // The expected alert is marked missing; nothing fires yet at 1m (pending for 2m).
    assert!(
        stderr.contains(
            r#"- {alertname="InstanceDown", instance="a:9100", job="api", severity="page"}"#
        ),
        "{stderr}"
    );
    assert!(stderr.contains("got (0)"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 files tested: 1 passed, 1 failed"),
        "{stdout}"
    );
}

#[test]
fn test_rules_names_the_line_of_a_yaml_error_and_of_a_broken_rule_file() {
    let dir = world();
    let out = periscope(dir.path(), &["test-rules", "bad_syntax_test.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("bad_syntax_test.yml:"), "{all}");
    assert!(all.contains("not a valid unit-test file"), "{all}");

    write(
        dir.path(),
        "uses_bad_rules.yml",
        "rule_files: [bad_rules.yml]\ntests:\n  - name: any\n",
    );
    let out = periscope(dir.path(), &["test-rules", "uses_bad_rules.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    let line = line_of(BAD_RULES, "expr:");
    assert!(all.contains(&format!("bad_rules.yml:{line}:")), "{all}");
}

#[test]
fn test_rules_ignore_unknown_fields_lets_rule_files_carry_fields_of_their_own() {
    let dir = world();
    // The same rules with an owner on the group and a runbook on a rule.
    let extended = RULES
        .replace(
            "  - name: availability\n",
            "  - name: availability\n    owner: { team: sre }\n",
        )
        .replace(
            "        for: 2m\n",
            "        for: 2m\n        runbook: https://wiki.example.com/down\n",
        );
    write(dir.path(), "rules.yml", &extended);
    let out = periscope(dir.path(), &["test-rules", "good_test.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("unknown field `owner`"), "{all}");

    let out = periscope(
        dir.path(),
        &["test-rules", "--ignore-unknown-fields", "good_test.yml"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("SUCCESS"), "{}", text(&out));
}

#[test]
fn check_rules_exit_codes_follow_errors_and_warnings_fatal() {
    let dir = world();
    let out = periscope(dir.path(), &["check-rules", "rules.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Checking rules.yml\n  SUCCESS"),
        "{}",
        text(&out)
    );

    let out = periscope(dir.path(), &["check-rules", "rules.yml", "bad_rules.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = line_of(BAD_RULES, "expr:");
    assert!(
        stderr.contains(&format!("bad_rules.yml:{line}:")),
        "{stderr}"
    );
    assert!(stderr.contains("Broken"), "{stderr}");

    // A duplicate rule is a warning: fine by default, fatal when asked.
    let out = periscope(dir.path(), &["check-rules", "duplicate_rules.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("WARNING"), "{}", text(&out));
    let out = periscope(
        dir.path(),
        &["check-rules", "--warnings-fatal", "duplicate_rules.yml"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn check_rules_reports_a_missing_file() {
    let dir = world();
    let out = periscope(dir.path(), &["check-rules", "nope.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nope.yml"), "{}", text(&out));
}

/// A disk that loses 100 bytes a minute from 10 000: empty 100 minutes after the start.
const DISK_RULES: &str = r#"groups:
  - name: disk
    rules:
      - alert: DiskFillsSoon
        expr: time_until_below(free_bytes[30m], 0) < 3600
"#;

const DISK_TEST: &str = r#"rule_files: [disk_rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: free_bytes{disk="a"}
        values: 10000-100x60
    alert_rule_test:
      - eval_time: 30m
        alertname: DiskFillsSoon
        exp_alerts: []
      - eval_time: 50m
        alertname: DiskFillsSoon
        exp_alerts:
          - exp_labels: {disk: a}
"#;

#[test]
fn rule_files_may_use_periscopes_forecast_functions() {
    let dir = world();
    write(dir.path(), "disk_rules.yml", DISK_RULES);
    write(dir.path(), "disk_test.yml", DISK_TEST);
    let out = periscope(dir.path(), &["check-rules", "disk_rules.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = periscope(dir.path(), &["test-rules", "disk_test.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn check_rules_names_a_misplaced_token_and_where_it_is() {
    let dir = world();
    write(
        dir.path(),
        "typo.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up > > 1\n",
    );
    let out = periscope(dir.path(), &["check-rules", "typo.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("typo.yml:5:15: group \"g\", rule 1 (\"A\"): could not parse expression \"up > > 1\": unexpected \">\" at 1:6"),
        "{}",
        text(&out)
    );
}
