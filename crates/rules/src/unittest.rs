//! Unit tests of rules in promtool's format (`promtool test rules`), behind
//! `periscope test-rules`: rule files, input series in the expanding notation, expected alerts
//! at given times and expected results of PromQL expressions.
//!
//! Each test group runs as promtool runs it: fresh rule groups (in `group_eval_order` first,
//! then in file order), input series loaded up to each evaluation time, every group evaluated
//! at each `evaluation_interval` from the group's `start_timestamp` up to its last `eval_time`,
//! what the rules write (recorded series, `ALERTS`, staleness markers) appended before the next
//! group runs, and an alert test checked against the firing alerts of the evaluation that covers
//! its `eval_time`. Expression tests run last, over everything loaded and written. A rule that
//! fails to evaluate fails the test group at once. Floats compare exactly unless the file sets
//! `fuzzy_compare`, which also accepts the neighbouring floats.
//!
//! One difference is counted apart rather than failed: an expression test that expects native
//! histogram samples is skipped (Periscope stores floats only), and the report says so.

mod file;
mod run;
mod show;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;

pub use file::{
    AlertTest, ExpectedAlert, ExpectedSample, ExprTest, FileError, InputSeries, TestFile,
    TestGroup, parse,
};

use crate::rulefile::{self, ReadOptions, RuleGroup};

/// How to run test files.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run only the test groups whose name matches one of these (all when empty), as
    /// promtool's `--run`.
    pub run: Vec<Regex>,
    /// Accept fields Prometheus does not know in the rule files the tests load, as promtool's
    /// `--ignore-unknown-fields`. The test file itself is read strictly either way, as promtool
    /// reads it.
    pub ignore_unknown_fields: bool,
}

impl Options {
    /// Options running the test groups whose name matches one of `patterns` (regular
    /// expressions, matching anywhere in the name); all groups when there is none.
    pub fn with_run<S: AsRef<str>>(patterns: &[S]) -> Result<Options, String> {
        let run = patterns
            .iter()
            .map(|p| {
                Regex::new(p.as_ref())
                    .map_err(|e| format!("{:?} is not a valid regular expression: {e}", p.as_ref()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Options {
            run,
            ignore_unknown_fields: false,
        })
    }
}

/// How one test file came out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The test file as given.
    pub file: String,
    /// Every failure, each a complete message naming the file and line.
    pub failures: Vec<String>,
    /// Test cases not run, with the reason.
    pub skipped: Vec<String>,
    /// Things worth knowing that do not fail the file (a rule file pattern matching nothing).
    pub warnings: Vec<String>,
}

impl FileReport {
    /// True when nothing failed: promtool's `SUCCESS`.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for FileReport {
    /// promtool's layout: `Unit Testing: FILE`, then `  SUCCESS` or `  FAILED:` and each
    /// failure indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Unit Testing: {}", self.file)?;
        for w in &self.warnings {
            writeln!(f, "  WARNING: {w}")?;
        }
        if self.passed() {
            writeln!(f, "  SUCCESS")?;
        } else {
            writeln!(f, "  FAILED:")?;
            for failure in &self.failures {
                for line in failure.lines() {
                    writeln!(f, "    {line}")?;
                }
                writeln!(f)?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(f, "  SKIPPED {}:", self.skipped.len())?;
            for s in &self.skipped {
                writeln!(f, "    {s}")?;
            }
        }
        Ok(())
    }
}

/// Runs the test file at `path`; rule files are found relative to its folder.
pub fn test_file(path: &Path, options: &Options) -> FileReport {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let dir = path.parent().unwrap_or_else(|| Path::new(""));
            test_text(&name, dir, &text, options)
        }
        Err(e) => FileReport {
            failures: vec![format!("{name}: cannot read the file: {e}")],
            file: name,
            ..FileReport::default()
        },
    }
}

/// Runs a test file's text; `name` is used in messages and `dir` is where relative rule file
/// paths start.
pub fn test_text(name: &str, dir: &Path, text: &str, options: &Options) -> FileReport {
    let mut report = FileReport {
        file: name.to_string(),
        ..FileReport::default()
    };
    let file = match parse(text) {
        Ok(file) => file,
        Err(e) => {
            report.failures.push(format!(
                "{name}:{}: not a valid unit-test file: {}",
                e.line, e.message
            ));
            return report;
        }
    };
    let selected: Vec<&TestGroup> = file
        .tests
        .iter()
        .filter(|t| options.run.is_empty() || options.run.iter().any(|r| r.is_match(&t.name)))
        .collect();
    // promtool loads the rule files for each test group it runs, so a file without any never
    // reads them.
    if selected.is_empty() {
        return report;
    }
    let read = ReadOptions {
        ignore_unknown_fields: options.ignore_unknown_fields,
    };
    let Some(rule_groups) = load_rules(name, dir, &file, read, &mut report) else {
        return report;
    };
    let ctx = run::Context {
        name,
        file: &file,
        rule_groups: &rule_groups,
    };
    for tg in selected {
        let result = run::run_group(&ctx, tg);
        report.failures.extend(result.failures);
        report.skipped.extend(result.skipped);
    }
    report
}

/// Reads every rule file and orders the groups; `None` after reporting why that failed.
fn load_rules(
    name: &str,
    dir: &Path,
    file: &TestFile,
    read: ReadOptions,
    report: &mut FileReport,
) -> Option<Vec<RuleGroup>> {
    let mut groups = Vec::new();
    let mut failed = false;
    for pattern in &file.rule_files {
        let matches = match resolve(dir, pattern) {
            Ok(m) => m,
            Err(e) => {
                report
                    .failures
                    .push(format!("{name}: rule_files {pattern:?}: {e}"));
                failed = true;
                continue;
            }
        };
        if matches.is_empty() {
            report.warnings.push(format!(
                "no file matches the rule_files pattern {pattern:?}"
            ));
        }
        for path in matches {
            match rulefile::load_with(&path, read) {
                Ok(rf) => groups.extend(rf.groups),
                Err(e) => {
                    report.failures.push(e.to_string());
                    failed = true;
                }
            }
        }
    }
    if failed {
        return None;
    }
    let mut ordered = Vec::with_capacity(groups.len());
    for (i, wanted) in file.group_eval_order.iter().enumerate() {
        if file.group_eval_order[..i].contains(wanted) {
            report.failures.push(format!(
                "{name}: group {wanted:?} is listed twice in group_eval_order"
            ));
            return None;
        }
        match groups.iter().position(|g| &g.name == wanted) {
            Some(at) => ordered.push(groups.remove(at)),
            None => {
                report.failures.push(format!(
                    "{name}: group {wanted:?} of group_eval_order is in none of the rule files"
                ));
                return None;
            }
        }
    }
    ordered.extend(groups);
    Some(ordered)
}

/// The files a `rule_files` entry names: relative to `dir`, with `*`, `?` and `[...]` allowed
/// in the file name (as Go's `filepath.Glob`), sorted.
fn resolve(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if !file_name.contains(['*', '?', '[']) {
        return Ok(if path.exists() {
            vec![path]
        } else {
            Vec::new()
        });
    }
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    let regex = glob_regex(&file_name)?;
    let entries = match std::fs::read_dir(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    }) {
        Ok(entries) => entries,
        Err(_) => return Ok(Vec::new()),
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| regex.is_match(&e.file_name().to_string_lossy()))
        .map(|e| parent.join(e.file_name()))
        .collect();
    out.sort();
    Ok(out)
}

/// A file-name glob as an anchored regex.
fn glob_regex(glob: &str) -> Result<Regex, String> {
    let mut re = String::from("^");
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                re.push('[');
                let mut first = true;
                loop {
                    let Some(c) = chars.next() else {
                        return Err(format!("unterminated '[' in {glob:?}"));
                    };
                    match c {
                        ']' if !first => break,
                        '^' | '!' if first => re.push('^'),
                        '\\' | '[' | '&' | '~' => {
                            re.push('\\');
                            re.push(c);
                        }
                        _ => re.push(c),
                    }
                    first = false;
                }
                re.push(']');
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("bad pattern {glob:?}: {e}"))
}
