//! Every unit-test file of promtool's own test data gives promtool's verdict.
//!
//! The verdicts are those of `promtool test rules FILE` on the command line (which enables the
//! `@` modifier and negative offsets, and does not ignore unknown fields), decided from each
//! file's content and Prometheus' documentation. The data is read where it lies
//! (`../shared/testdata/prometheus/promtool-testdata`, or `$PERISCOPE_TESTDATA/prometheus/...`);
//! the test is skipped when it is absent.

use std::path::{Path, PathBuf};

use regex::Regex;
use rules::unittest::{Options, test_file};

/// promtool's verdict per unit-test file: true for SUCCESS.
const VERDICTS: &[(&str, bool)] = &[
    ("unittest.yml", true),
    ("long-period.yml", true),
    ("no-test-group-interval.yml", true),
    ("start-time-test.yml", true),
    ("at-modifier-test.yml", true),
    ("negative-offset-test.yml", true),
    ("failing.yml", false),
    ("bad-input-series.yml", false),
    ("bad-promql.yml", false),
    ("bad-rules-error-test.yml", false),
    ("bad-rules-syntax-test.yml", false),
    ("rules_run.yml", false),
    ("rules_run_no_fuzzy.yml", false),
    ("rules_run_fuzzy.yml", false),
    // Its rule file has fields Prometheus does not know; only --ignore-unknown-fields passes it.
    ("rules_run_extrafields.yml", false),
];

fn testdata() -> Option<PathBuf> {
    let base = std::env::var_os("PERISCOPE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"));
    let dir = base.join("prometheus/promtool-testdata");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

#[test]
fn every_unit_test_file_gets_promtools_verdict() {
    let Some(dir) = testdata() else { return };
    let mut wrong = Vec::new();
    for (name, pass) in VERDICTS {
        let report = test_file(&dir.join(name), &Options::default());
        if report.passed() != *pass {
            wrong.push(format!(
                "{name}: promtool says {}, we say:\n{report}",
                if *pass { "SUCCESS" } else { "FAILED" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_unit_test_file_in_the_folder_has_a_verdict() {
    // A new upstream test file must be looked at, not silently left out.
    let Some(dir) = testdata() else { return };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let is_unit_test = text.lines().any(|l| l.starts_with("tests:"));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if is_unit_test {
            assert!(
                VERDICTS.iter().any(|(n, _)| *n == name),
                "{name} is a unit-test file without a verdict here"
            );
        }
    }
}

#[test]
fn run_selects_test_groups_by_name_as_promtools_run_flag() {
    let Some(dir) = testdata() else { return };
    let run = |file: &str, patterns: &[&str]| {
        let options = Options {
            run: patterns.iter().map(|p| Regex::new(p).unwrap()).collect(),
            ..Options::default()
        };
        test_file(&dir.join(file), &options).passed()
    };
    assert!(run("rules_run.yml", &["correct"]));
    assert!(!run("rules_run.yml", &["correct", "wrong"]));
    assert!(run("rules_run_fuzzy.yml", &["correct"]));
    assert!(!run("rules_run_fuzzy.yml", &["wrong"]));
}

#[test]
fn ignore_unknown_fields_passes_the_file_made_for_it_as_promtools_flag() {
    let Some(dir) = testdata() else { return };
    let options = Options {
        ignore_unknown_fields: true,
        ..Options::default()
    };
    let report = test_file(&dir.join("rules_run_extrafields.yml"), &options);
    assert!(report.passed(), "{report}");
}

#[test]
fn skipped_histogram_cases_are_reported_not_hidden() {
    let Some(dir) = testdata() else { return };
    let report = test_file(&dir.join("unittest.yml"), &Options::default());
    assert_eq!(report.skipped.len(), 3, "{report}");
    assert!(report.to_string().contains("SKIPPED 3"), "{report}");
}
