//! Runs Prometheus' own PromQL test scripts (`../shared/testdata/prometheus/promqltest-testdata`)
//! through our runner and evaluator, and prints the pass rate of each file with its first
//! failures.
//!
//! It asserts only what must always hold: every file is read by the runner without a script
//! error, yields one case per `eval`, and its native histogram cases are skipped, not failed.
//! How many pass is a measure, not an assertion here; the conformance script
//! (`conformance/run.sh`) holds the per-file floor.

use std::path::{Path, PathBuf};

use rules::promqltest::{ScriptReport, run_script};

/// How many failures of each file to print.
const SHOWN_FAILURES: usize = 3;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/prometheus/promqltest-testdata")
}

#[test]
fn every_prometheus_script_runs_and_reports_its_pass_rate() {
    let dir = testdata();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());

    let mut reports: Vec<ScriptReport> = Vec::new();
    let mut broken = Vec::new();
    let mut miscounted = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        // One case per `eval` line, whatever becomes of it.
        let evals = text
            .lines()
            .filter(|l| l.trim_start().starts_with("eval"))
            .count();
        match run_script(&name, &text) {
            Ok(report) => {
                if report.cases.len() != evals {
                    miscounted.push(format!(
                        "{name}: {} cases for {evals} eval lines",
                        report.cases.len()
                    ));
                }
                reports.push(report);
            }
            Err(e) => broken.push(e.to_string()),
        }
    }

    println!(
        "{:<28} {:>13} {:>8} {:>7}",
        "file", "passed/total", "skipped", "rate"
    );
    for r in &reports {
        println!(
            "{:<28} {:>13} {:>8} {:>6.1}%",
            r.name,
            format!("{}/{}", r.passed(), r.run()),
            r.skipped(),
            rate(r.passed(), r.run())
        );
    }
    let (passed, run, skipped) = reports.iter().fold((0, 0, 0), |(p, n, s), r| {
        (p + r.passed(), n + r.run(), s + r.skipped())
    });
    println!(
        "{:<28} {:>13} {:>8} {:>6.1}%",
        "all",
        format!("{passed}/{run}"),
        skipped,
        rate(passed, run)
    );
    println!("(total counts the cases run; skipped cases need native histograms)");
    for r in &reports {
        for (case, reason) in r.failures().take(SHOWN_FAILURES) {
            println!("  {}:{}: {}: {reason}", r.name, case.line, case.expr);
        }
    }

    assert!(
        broken.is_empty(),
        "scripts the runner cannot read: {broken:#?}"
    );
    assert!(
        miscounted.is_empty(),
        "cases lost or invented: {miscounted:#?}"
    );
    // Native histogram cases are counted apart, never run as failures.
    if let Some(r) = reports.iter().find(|r| r.name == "native_histograms.test") {
        assert!(
            r.skipped() > r.run(),
            "{}: {} skipped, {} run",
            r.name,
            r.skipped(),
            r.run()
        );
    }
}

fn rate(passed: usize, run: usize) -> f64 {
    if run == 0 {
        0.0
    } else {
        100.0 * passed as f64 / run as f64
    }
}
