//! `periscope check-rules FILE...`: lints Prometheus rule files (`rules::rulefile::check_files`)
//! and prints every problem with its file, line, group and rule, like `promtool check rules`.
//!
//! Exits 1 when a file has errors, or warnings under `--warnings-fatal`; 0 otherwise.

use std::path::PathBuf;

use rules::rulefile::check_files;

/// Checks every file; returns the exit code.
pub fn check_rules(files: &[PathBuf], warnings_fatal: bool) -> u8 {
    let report = check_files(files);
    let warnings = report.files.iter().any(|f| !f.warnings.is_empty());
    let failed = !report.ok() || (warnings_fatal && warnings);
    if failed {
        eprint!("{report}");
        if report.ok() {
            eprintln!("warnings are fatal (--warnings-fatal)");
        }
    } else {
        print!("{report}");
    }
    u8::from(failed)
}
