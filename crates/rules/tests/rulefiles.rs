//! Prometheus rule files as users write them: promtool's own test files (read from
//! `/work/shared/testdata` at run time, skipped when absent) must be accepted or rejected as
//! promtool does, and small bad inputs must be rejected with a message naming the line and the
//! problem.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rules::rulefile::{
    self, CheckReport, FileCheck, Problem, Rule, RuleFileError, Severity, check_files,
};

const PROMTOOL: &str = "/work/shared/testdata/prometheus/promtool-testdata";

fn promtool_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(PROMTOOL);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {PROMTOOL} is absent");
        None
    }
}

/// Errors of a rule file that must be rejected.
fn errors(text: &str) -> Vec<Problem> {
    match rulefile::parse("test.yml", text) {
        Ok(f) => panic!("expected errors, got a valid file: {f:?}"),
        Err(RuleFileError::Invalid { problems, .. }) => problems,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn one_error(text: &str) -> Problem {
    let mut errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.remove(0)
}

/// What promtool does with a file: `Ok((alerting, recording, warnings))` or the lines its
/// errors must be on.
enum Expect {
    Accept {
        alerting: usize,
        recording: usize,
        warnings: usize,
    },
    Reject {
        lines: &'static [usize],
        says: &'static str,
    },
}

#[test]
fn promtool_rule_files_are_judged_as_promtool_judges_them() {
    let Some(dir) = promtool_dir() else { return };
    let table: &[(&str, Expect)] = &[
        (
            "rules.yml",
            Expect::Accept {
                alerting: 2,
                recording: 3,
                warnings: 0,
            },
        ),
        // The error is the many-to-many match, found only when the rule is evaluated.
        (
            "bad-rules-error.yml",
            Expect::Accept {
                alerting: 0,
                recording: 1,
                warnings: 0,
            },
        ),
        (
            "at-modifier.yml",
            Expect::Accept {
                alerting: 0,
                recording: 1,
                warnings: 0,
            },
        ),
        (
            "negative-offset.yml",
            Expect::Accept {
                alerting: 0,
                recording: 1,
                warnings: 0,
            },
        ),
        // promtool's default lint reports duplicates without failing.
        (
            "prometheus-rules.lint.yml",
            Expect::Accept {
                alerting: 2,
                recording: 0,
                warnings: 1,
            },
        ),
        (
            "rules_duplicates.yml",
            Expect::Accept {
                alerting: 0,
                recording: 5,
                warnings: 1,
            },
        ),
        (
            "prometheus-config.rules.good.yml",
            Expect::Accept {
                alerting: 0,
                recording: 0,
                warnings: 1,
            },
        ),
        (
            "rules-bad.yml",
            Expect::Reject {
                lines: &[12],
                says: "undefined variable \"$label\"",
            },
        ),
        (
            "bad-rules-syntax.yml",
            Expect::Reject {
                lines: &[7],
                says: "could not parse expression \"test +\"",
            },
        ),
        (
            "rules_extrafields.yml",
            Expect::Reject {
                lines: &[7],
                says: "unknown field `namespace`",
            },
        ),
        // promtool accepts this file only with --enable-feature flags for experimental syntax;
        // duration expressions and `anchored` are beyond our parser, as beyond promtool's
        // default.
        (
            "features.yml",
            Expect::Reject {
                lines: &[8, 10],
                says: "could not parse expression",
            },
        ),
    ];
    for (name, expect) in table {
        let path = dir.join(name);
        let check = &check_files(&[&path]).files[0];
        match expect {
            Expect::Accept {
                alerting,
                recording,
                warnings,
            } => {
                assert!(check.ok(), "{name} must be accepted:\n{check}");
                assert_eq!(
                    (check.alerting, check.recording),
                    (*alerting, *recording),
                    "{name}"
                );
                let real: Vec<_> = check
                    .warnings
                    .iter()
                    .filter(|w| !w.message.contains("classic"))
                    .collect();
                assert_eq!(real.len(), *warnings, "{name}: {:#?}", check.warnings);
            }
            Expect::Reject { lines, says } => {
                assert!(!check.ok(), "{name} must be rejected:\n{check}");
                let got: Vec<usize> = check.errors.iter().map(|e| e.line).collect();
                assert_eq!(&got, lines, "{name}:\n{check}");
                assert!(
                    check.errors.iter().all(|e| e.to_string().contains(says)),
                    "{name}:\n{check}"
                );
            }
        }
    }
    // Every rule file in the directory is in the table: a new upstream file is noticed.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let is_rule_file = text.lines().any(|l| l.starts_with("groups:"));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let known = table.iter().any(|(n, _)| *n == name) || name == "rules_large.yml";
        assert!(
            !is_rule_file || known,
            "{name} is a rule file missing from the table"
        );
    }
}

#[test]
fn large_rule_file_loads_with_its_duplicates_reported() {
    let Some(dir) = promtool_dir() else { return };
    let file = rulefile::load(&dir.join("rules_large.yml")).unwrap();
    assert_eq!(file.recording_rules(), 10_002);
    assert_eq!(file.groups.len(), 1);
    assert!(!file.warnings.is_empty());
    assert!(
        file.warnings
            .iter()
            .all(|w| w.message.starts_with("duplicate rule"))
    );
}

#[test]
fn loaded_rules_carry_what_the_file_says() {
    let Some(dir) = promtool_dir() else { return };
    let file = rulefile::load(&dir.join("rules.yml")).unwrap();
    let Rule::Alerting(down) = &file.groups[0].rules[0] else {
        panic!("alerting rule expected")
    };
    assert_eq!(down.name, "InstanceDown");
    assert_eq!(down.expr, "up == 0");
    assert_eq!(down.for_duration.as_secs(), 300);
    assert_eq!(down.labels["severity"], "page");
    assert_eq!(
        down.annotations["summary"],
        "Instance {{ $labels.instance }} down"
    );
    assert_eq!(down.line, 6);
    // `expr: 1` is a number in YAML and a PromQL expression in Prometheus.
    assert_eq!(file.groups[0].rules[1].expr(), "1");
    assert_eq!(file.groups[1].rules[2].name(), "suquery_interval_test");
}

#[test]
fn the_report_reads_like_promtool_with_lines_and_hints() {
    let Some(dir) = promtool_dir() else { return };
    let paths = [
        dir.join("rules.yml"),
        dir.join("rules-bad.yml"),
        dir.join("nonexistent.yml"),
    ];
    let report: CheckReport = check_files(&paths);
    assert!(!report.ok());
    let text = report.to_string().replace(PROMTOOL, "DIR");
    assert!(text.contains("Checking DIR/rules.yml\n  SUCCESS: 5 rules found (2 alerting, 3 recording) in 2 groups\n"), "{text}");
    assert!(text.contains("Checking DIR/rules-bad.yml\n  FAILED: 1 error\n  ERROR DIR/rules-bad.yml:12:20: group \"alerts\", rule 1 (\"InstanceDown\"): annotation \"summary\": template syntax error at line 1, column 13: undefined variable \"$label\"\n      hint: "), "{text}");
    assert!(text.contains("Checking DIR/nonexistent.yml\n  FAILED: 1 error\n  ERROR DIR/nonexistent.yml: cannot read the file"), "{text}");
    assert!(
        text.ends_with("3 files checked: 1 passed, 2 failed\n"),
        "{text}"
    );
}

const GOOD: &str = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n";

#[test]
fn forecast_functions_are_accepted_and_misplaced_tokens_are_located() {
    let text = "
groups:
- name: disk
  rules:
  - alert: DiskFillsSoon
    expr: time_until_full(used_bytes[6h], size_bytes[6h], 0.95) < 4 * 3600
  - alert: DiskFillsLikely
    expr: crossing_probability(free_bytes[1d], 0, 86400) > 0.5
";
    let file = rulefile::parse("disk.yml", text).unwrap();
    assert_eq!(file.groups[0].rules.len(), 2);

    for (expr, says) in [
        ("up > > 1", "\"up > > 1\": unexpected \">\" at 1:6"),
        ("rate(x[5m]) +", "unexpected end of input after \"+\""),
        ("up down", "unexpected \"down\" at 1:4"),
        // As promtool without its experimental features: the modifier is not PromQL here.
        ("rate(x[5m] anchored)", "unexpected \"anchored\" at 1:12"),
    ] {
        let text = format!("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: '{expr}'\n");
        let err = one_error(&text);
        assert_eq!(err.line, 5, "{expr}");
        assert!(err.message.contains(says), "{expr}: {}", err.message);
        let experimental = expr.contains("anchored");
        let hint = err.hint.as_deref().unwrap_or_default();
        assert_eq!(
            hint.contains("experimental"),
            experimental,
            "{expr}: {hint}"
        );
    }
}

#[test]
fn durations_of_every_unit_are_accepted_and_numbers_are_not() {
    let text = "groups:\n- name: g\n  interval: 1m30s\n  query_offset: 0\n  limit: 10\n  labels: {team: db}\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 1y2w3d4h5m6s7ms\n    keep_firing_for: 0s\n";
    let file = rulefile::parse("t.yml", text).unwrap();
    let g = &file.groups[0];
    assert_eq!(g.interval.unwrap().as_secs(), 90);
    assert_eq!(g.query_offset.unwrap().as_secs(), 0);
    assert_eq!((g.limit, g.labels["team"].as_str()), (10, "db"));
    let Rule::Alerting(a) = &g.rules[0] else {
        panic!()
    };
    let want = ((365 + 14 + 3) * 86_400 + 4 * 3600 + 5 * 60 + 6) * 1000 + 7;
    assert_eq!(a.for_duration.as_millis(), want);
    // Prometheus reads `for: 5` as the string "5", which is not a duration.
    let e = one_error(&format!("{GOOD}    for: 5\n"));
    assert_eq!((e.line, e.column), (6, Some(10)));
    assert!(
        e.message
            .contains("invalid `for`: not a valid duration string: \"5\""),
        "{e}"
    );
    for bad in ["5m1h", "1.5h", "-5m", "5 m", "1hour", "m"] {
        let e = one_error(&format!("{GOOD}    for: {bad:?}\n"));
        assert!(
            e.message.contains("not a valid duration string"),
            "{bad}: {e}"
        );
    }
    let e = one_error(&format!("{GOOD}    for: 99999999999999999999y\n"));
    assert!(e.message.contains("out of range"), "{e}");
}

#[test]
fn wrong_types_and_unknown_fields_are_rejected_with_their_line() {
    let e = one_error("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: [up]\n");
    assert_eq!(e.line, 5);
    assert!(
        e.hint.as_deref().unwrap_or("").contains("need quotes"),
        "{e}"
    );
    let e = one_error("groups:\n- name: g\n  limit: lots\n  rules: []\n");
    assert_eq!(e.line, 3);
    assert!(e.hint.unwrap().contains("whole number"));
    let e = one_error(&format!("{GOOD}    summary: oops\n"));
    assert_eq!(e.line, 6);
    assert!(e.message.contains("unknown field `summary`"), "{e}");
    let e = one_error("groups: {name: g}\n");
    assert_eq!(e.line, 1);
    let e = one_error(&format!("{GOOD}---\ngroups: []\n"));
    assert!(e.message.contains("more than one YAML document"), "{e}");
    let e = one_error("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: \"up\n");
    assert!(e.message.starts_with("invalid YAML"), "{e}");
}

#[test]
fn rule_problems_are_all_reported_at_once() {
    let text = "groups:
- name: g
  rules:
  - record: a-b
    expr: sum(rate(x[5m])
  - record: r
    expr: up
    for: 5m
    annotations: {summary: x}
  - alert: A
    record: B
    expr: up
  - alert: C
  - alert: D
    expr: up
    labels: {__name__: x}
    annotations:
      summary: '{{ humanise $value }}'
- name: g
  rules: []
- name: ''
  rules: []
";
    let errs = errors(text);
    let got: Vec<(usize, String)> = errs.iter().map(|e| (e.line, e.message.clone())).collect();
    let want_prefixes = [
        (
            5,
            "could not parse expression \"sum(rate(x[5m])\": unclosed left parenthesis",
        ),
        (8, "invalid field `for` in recording rule"),
        (9, "invalid field `annotations` in recording rule"),
        (10, "only one of `record` and `alert` may be set"),
        (13, "field `expr` must be set in rule"),
        (16, "invalid label name: \"__name__\""),
        (
            18,
            "annotation \"summary\": template syntax error at line 1, column 4: function \"humanise\" not defined",
        ),
        (19, "group name \"g\" is repeated in the same file"),
        (21, "group name must not be empty"),
    ];
    assert_eq!(got.len(), want_prefixes.len(), "{got:#?}");
    for ((line, msg), (want_line, want)) in got.iter().zip(want_prefixes) {
        assert_eq!(*line, want_line, "{msg}");
        assert!(msg.starts_with(want), "{msg:?} should start with {want:?}");
    }
    assert_eq!(errs[0].hint.as_deref(), Some("'(' is never closed"));
    assert_eq!(
        errs[4].rule.as_ref().map(|r| (r.index, r.name.as_str())),
        Some((4, "C"))
    );
    assert_eq!(errs[0].group.as_deref(), Some("g"));
}

#[test]
fn dashed_record_names_and_empty_groups_warn() {
    let check = FileCheck::of_text(
        "t.yml",
        "groups:\n- name: g\n  rules:\n  - record: http-requests:rate5m\n    expr: rate(x[5m])\n- name: h\n  rules: []\n",
    );
    assert!(check.ok(), "{check}");
    let msgs: Vec<&str> = check.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "recording rule name \"http-requests:rate5m\" is not a classic metric name",
            "the group has no rules"
        ]
    );
    assert!(
        check
            .warnings
            .iter()
            .all(|w| w.severity == Severity::Warning)
    );
    let text = check.to_string();
    assert!(
        text.contains("SUCCESS: 1 rule found (0 alerting, 1 recording) in 2 groups, 2 warnings"),
        "{text}"
    );
    let braces = one_error("groups:\n- name: g\n  rules:\n  - record: x{a=\"b\"}\n    expr: x\n");
    assert!(braces.message.contains("braces present"), "{braces}");
    let empty = FileCheck::of_text("e.yml", "");
    assert!(empty.ok());
    assert_eq!(empty.warnings[0].message, "the file has no rule groups");
}

#[test]
fn alert_templates_with_everything_real_files_use_are_accepted() {
    let text = r#"groups:
- name: g
  rules:
  - alert: DiskFilling
    expr: predict_linear(node_filesystem_free_bytes[6h], 4*3600) < 0
    for: 30m
    keep_firing_for: 10m
    labels:
      severity: '{{ if gt $value 0.0 }}warning{{ else }}critical{{ end }}'
    annotations:
      summary: "{{ $labels.instance | stripPort }}: disk {{ $labels.mountpoint }} full in 4h"
      value: '{{ printf "%.2f" $value }} ({{ $value | humanize1024 }}B)'
      runbook: '{{ $externalURL }}/runbooks/{{ .Labels.alertname | toLower }}'
      detail: |
        {{- range $i, $s := query "up" }}
          {{ $i }}: {{ $s.Labels.instance }}
        {{- end }}
        {{/* a comment */}}{{ with $labels.team }}team {{ . }}{{ end }}
"#;
    let file = rulefile::parse("t.yml", text).unwrap();
    let Rule::Alerting(a) = &file.groups[0].rules[0] else {
        panic!()
    };
    assert_eq!(
        (a.for_duration.as_secs(), a.keep_firing_for.as_secs()),
        (1800, 600)
    );
    assert_eq!(a.annotations.len(), 4);
}

#[test]
fn load_reports_a_missing_file() {
    let err = rulefile::load(Path::new("/nonexistent/rules.yml")).unwrap_err();
    assert!(matches!(err, RuleFileError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/rules.yml"), "{err}");
}

#[test]
fn invalid_file_error_lists_every_problem() {
    let err = rulefile::parse(
        "x.yml",
        "groups:\n- name: g\n  rules:\n  - record: r\n  - alert: a\n",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("rule file x.yml has 2 errors:\n  x.yml:4:5: group \"g\", rule 1 (\"r\"): field `expr` must be set"), "{text}");
    assert!(
        text.contains("\n  x.yml:5:5: group \"g\", rule 2 (\"a\"): field `expr` must be set"),
        "{text}"
    );
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_loader(text in "\\PC*") {
        let _ = rulefile::parse("p.yml", &text);
    }

    #[test]
    fn rule_file_shaped_text_never_panics_the_loader(
        name in "[a-z{}$ ]{0,8}",
        expr in "[a-z0-9()+\\[\\]{}=\" ]{0,16}",
        tmpl in "[a-z{}$|. \\-/*]{0,24}",
        dur in "[0-9a-z]{0,6}",
    ) {
        let text = format!(
            "groups:\n- name: {name:?}\n  rules:\n  - alert: {name:?}\n    expr: {expr:?}\n    for: {dur:?}\n    annotations:\n      a: {tmpl:?}\n"
        );
        let _ = rulefile::parse("p.yml", &text);
        if let Ok(t) = rules::template::Template::parse(&tmpl) {
            let _ = t.execute(&rules::template::AlertData::default(), None);
        }
    }
}
