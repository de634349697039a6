//! `periscope promql-test FILE...`: runs Prometheus-style PromQL test scripts (`load`, `eval`,
//! `expect` ...) against Periscope's evaluator and prints each file's pass rate and failures.
//!
//! A failing case is a measurement, not an error: the command exits 0 whatever the rates, and 1
//! only when a file cannot be read or is not a valid script. `conformance/run.sh` compares the
//! passed counts with a baseline.

use std::path::Path;

use rules::promqltest::{Outcome, ScriptReport, run_script};

/// Failures printed per file without `--verbose`.
const SHOWN_FAILURES: usize = 5;

/// Runs every file and prints failures, then the table of rates. Returns the exit code.
pub fn promql_test(files: &[impl AsRef<Path>], verbose: bool) -> u8 {
    let mut reports = Vec::new();
    let mut code = 0;
    for file in files {
        let path = file.as_ref();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().to_string(),
        );
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("periscope: cannot read {}: {e}", path.display());
                code = 1;
                continue;
            }
        };
        match run_script(&name, &text) {
            Ok(report) => {
                print_cases(&report, verbose);
                reports.push(report);
            }
            Err(e) => {
                eprintln!(
                    "periscope: {} is not a valid test script: {e}",
                    path.display()
                );
                code = 1;
            }
        }
    }
    print_table(&reports);
    code
}

/// The failures of one file (the first few, or all with their skipped cases when verbose).
fn print_cases(report: &ScriptReport, verbose: bool) {
    let failed = report.failed();
    if failed == 0 && !(verbose && report.skipped() > 0) {
        return;
    }
    println!("== {}: {failed} failed", report.name);
    let limit = if verbose { usize::MAX } else { SHOWN_FAILURES };
    for (case, reason) in report.failures().take(limit) {
        println!("  line {}: {}\n      {reason}", case.line, case.expr);
    }
    if failed > limit {
        println!(
            "  ... and {} more; --verbose shows them all",
            failed - limit
        );
    }
    if verbose {
        for case in &report.cases {
            if let Outcome::Skipped(why) = &case.outcome {
                println!("  line {}: {}\n      skipped: {why}", case.line, case.expr);
            }
        }
    }
}

/// One row per file: passed/total (total = cases run), skipped, rate; then the sum.
fn print_table(reports: &[ScriptReport]) {
    if reports.is_empty() {
        return;
    }
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(9);
    println!(
        "{:<width$}  {:>12}  {:>7}  {:>6}",
        "file", "passed/total", "skipped", "rate"
    );
    let row = |name: &str, passed: usize, run: usize, skipped: usize| {
        let rate = if run == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", 100.0 * passed as f64 / run as f64)
        };
        println!(
            "{name:<width$}  {:>12}  {skipped:>7}  {rate:>6}",
            format!("{passed}/{run}")
        );
    };
    let (mut passed, mut run, mut skipped) = (0, 0, 0);
    for r in reports {
        row(&r.name, r.passed(), r.run(), r.skipped());
        passed += r.passed();
        run += r.run();
        skipped += r.skipped();
    }
    if reports.len() > 1 {
        row("all files", passed, run, skipped);
    }
    if skipped > 0 {
        println!(
            "total counts the cases run; skipped cases need native histograms, which Periscope \
             does not store (or lie between ignore and resume)"
        );
    }
}
