//! `periscope test-rules FILE...`: runs unit tests of rules written in promtool's format
//! (`rules::unittest`) and prints each file's verdict the way `promtool test rules` does.
//!
//! A file that passes is reported on stdout; a file that fails, with every difference between
//! what it expected and what the rules did, on stderr. Exits 0 when every file passes, 1
//! otherwise (also for a file that cannot be read or a `--run` pattern that is not a regex).

use std::io::Write;
use std::path::PathBuf;

use rules::unittest::{Options, test_file};

/// Runs every file; returns the exit code. `ignore_unknown_fields` lets the rule files carry
/// fields Prometheus does not know, as promtool's flag of that name does.
pub fn test_rules(files: &[PathBuf], run: &[String], ignore_unknown_fields: bool) -> u8 {
    let options = match Options::with_run(run) {
        Ok(o) => Options {
            ignore_unknown_fields,
            ..o
        },
        Err(e) => {
            eprintln!("periscope: --run {e}");
            return 1;
        }
    };
    let mut failed = 0;
    for file in files {
        let report = test_file(file, &options);
        // Whole reports at once, so stdout and stderr never interleave inside one.
        if report.passed() {
            let _ = writeln!(std::io::stdout().lock(), "{report}");
        } else {
            failed += 1;
            let _ = writeln!(std::io::stderr().lock(), "{report}");
        }
    }
    if files.len() > 1 {
        println!(
            "{} files tested: {} passed, {failed} failed",
            files.len(),
            files.len() - failed
        );
    }
    u8::from(failed > 0)
}
