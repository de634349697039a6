//! The linter behind `periscope check-rules`: checks files and reports, per file, the rules
//! found by kind, the errors and the warnings, printed like promtool's `check rules` but with
//! every problem's line and a hint.

use std::fmt;
use std::path::Path;

use super::{Problem, ReadOptions, Severity, validate};

/// The result of checking one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileCheck {
    /// The path as given.
    pub path: String,
    /// Groups found.
    pub groups: usize,
    /// Valid alerting rules found.
    pub alerting: usize,
    /// Valid recording rules found.
    pub recording: usize,
    /// Problems that make the file unusable.
    pub errors: Vec<Problem>,
    /// Problems that do not (duplicate rules, empty groups).
    pub warnings: Vec<Problem>,
}

impl FileCheck {
    /// Whether the file would load.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Checks one file's text; `path` names it in messages.
    pub fn of_text(path: &str, text: &str) -> FileCheck {
        let (file, problems) = validate::parse_and_validate(path, text, ReadOptions::default());
        let (errors, warnings) = problems
            .into_iter()
            .partition(|p| p.severity == Severity::Error);
        FileCheck {
            path: path.to_string(),
            groups: file.as_ref().map_or(0, |f| f.groups.len()),
            alerting: file.as_ref().map_or(0, super::RuleFile::alerting_rules),
            recording: file.as_ref().map_or(0, super::RuleFile::recording_rules),
            errors,
            warnings,
        }
    }

    fn unreadable(path: &str, error: &std::io::Error) -> FileCheck {
        FileCheck {
            path: path.to_string(),
            groups: 0,
            alerting: 0,
            recording: 0,
            errors: vec![Problem {
                severity: Severity::Error,
                file: path.to_string(),
                line: 0,
                column: None,
                group: None,
                rule: None,
                message: format!("cannot read the file: {error}"),
                hint: None,
            }],
            warnings: Vec::new(),
        }
    }
}

/// The result of checking several files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    /// One entry per file, in the order given.
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// Whether every file would load (the CLI exits 0 then, 1 otherwise).
    pub fn ok(&self) -> bool {
        self.files.iter().all(FileCheck::ok)
    }
}

/// Checks rule files, reading each from disk; a file that cannot be read is a failed file,
/// not an early return, so one report covers every path.
pub fn check_files<P: AsRef<Path>>(paths: &[P]) -> CheckReport {
    let files = paths
        .iter()
        .map(|p| {
            let path = p.as_ref().display().to_string();
            match std::fs::read_to_string(p.as_ref()) {
                Ok(text) => FileCheck::of_text(&path, &text),
                Err(e) => FileCheck::unreadable(&path, &e),
            }
        })
        .collect();
    CheckReport { files }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn write_problem(f: &mut fmt::Formatter<'_>, label: &str, p: &Problem) -> fmt::Result {
    let bare = Problem {
        hint: None,
        ..p.clone()
    };
    writeln!(f, "  {label} {bare}")?;
    if let Some(h) = &p.hint {
        writeln!(f, "      hint: {h}")?;
    }
    Ok(())
}

impl fmt::Display for FileCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Checking {}", self.path)?;
        if self.ok() {
            write!(
                f,
                "  SUCCESS: {} found ({} alerting, {} recording) in {}",
                plural(self.alerting + self.recording, "rule"),
                self.alerting,
                self.recording,
                plural(self.groups, "group")
            )?;
            if !self.warnings.is_empty() {
                write!(f, ", {}", plural(self.warnings.len(), "warning"))?;
            }
            writeln!(f)?;
        } else {
            write!(f, "  FAILED: {}", plural(self.errors.len(), "error"))?;
            if !self.warnings.is_empty() {
                write!(f, ", {}", plural(self.warnings.len(), "warning"))?;
            }
            writeln!(f)?;
        }
        for p in &self.errors {
            write_problem(f, "ERROR", p)?;
        }
        for p in &self.warnings {
            write_problem(f, "WARNING", p)?;
        }
        Ok(())
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            write!(f, "{file}")?;
        }
        if self.files.len() > 1 {
            let failed = self.files.iter().filter(|c| !c.ok()).count();
            writeln!(
                f,
                "{} checked: {} passed, {} failed",
                plural(self.files.len(), "file"),
                self.files.len() - failed,
                failed
            )?;
        }
        Ok(())
    }
}
