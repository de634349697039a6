//! Prometheus rule files, accepted as they are: `groups` of alerting and recording rules with
//! `interval`, `query_offset`, `limit`, `labels`, `for`, `keep_firing_for` and templated
//! `annotations`.
//!
//! Reading is strict like Prometheus (an unknown field is an error, unless
//! [`ReadOptions::ignore_unknown_fields`]) and validation follows promtool's `check rules`:
//! expressions parse as PromQL, recording rule names are metric names, label names are valid,
//! alert label and annotation templates parse, group names are unique in a file. Every problem
//! found is returned at once, each with file, line, column, group, rule and a hint; duplicate
//! rules are warnings, as in promtool's lint. [`check_files`] is the entry point of
//! `periscope check-rules`.
//!
//! Names: Prometheus 3 accepts any UTF-8 metric and label name. So do we, but a name outside
//! the classic character sets (`[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics, `[a-zA-Z_][a-zA-Z0-9_]*`
//! for labels) gets a warning, because a dash in a recording rule name is far more often a typo
//! than intent and Prometheus 2 rejects it.

mod check;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub use check::{CheckReport, FileCheck, check_files};
pub use model::duration::{DurationError, parse_duration};

/// A rule file that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The file's name as given to [`load`] or [`parse`].
    pub name: String,
    /// The groups, in file order.
    pub groups: Vec<RuleGroup>,
    /// Problems that do not stop the file from loading (duplicate rules, empty groups).
    pub warnings: Vec<Problem>,
}

impl RuleFile {
    /// How many alerting rules the file holds.
    pub fn alerting_rules(&self) -> usize {
        self.rules()
            .filter(|r| matches!(r, Rule::Alerting(_)))
            .count()
    }

    /// How many recording rules the file holds.
    pub fn recording_rules(&self) -> usize {
        self.rules()
            .filter(|r| matches!(r, Rule::Recording(_)))
            .count()
    }

    /// Every rule of every group, in file order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.groups.iter().flat_map(|g| g.rules.iter())
    }
}

/// A group of rules evaluated together at one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// The group's name, unique within its file.
    pub name: String,
    /// How often the group is evaluated; `None` means the global evaluation interval.
    pub interval: Option<Duration>,
    /// How far into the past evaluations look; `None` means the global default.
    pub query_offset: Option<Duration>,
    /// The most alerts or series one rule of the group may produce; 0 is no limit.
    pub limit: i64,
    /// Labels added to every rule's output (a rule's own labels win).
    pub labels: BTreeMap<String, String>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Line of the group in its file.
    pub line: usize,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// An `alert:` rule.
    Alerting(AlertingRule),
    /// A `record:` rule.
    Recording(RecordingRule),
}

impl Rule {
    /// The alert name or the recorded metric name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(a) => &a.name,
            Rule::Recording(r) => &r.name,
        }
    }

    /// The PromQL expression.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Alerting(a) => &a.expr,
            Rule::Recording(r) => &r.expr,
        }
    }

    /// The rule's own labels (for alerting rules, templates not yet expanded).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Rule::Alerting(a) => &a.labels,
            Rule::Recording(r) => &r.labels,
        }
    }
}

/// An alerting rule: fires for each series its expression returns.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingRule {
    /// The alert's name (`alertname` label).
    pub name: String,
    /// The PromQL expression.
    pub expr: String,
    /// How long the expression must hold before the alert fires (pending until then).
    pub for_duration: Duration,
    /// How long the alert keeps firing after the expression stops returning it.
    pub keep_firing_for: Duration,
    /// Labels added to each alert; values are templates.
    pub labels: BTreeMap<String, String>,
    /// Annotations of each alert; values are templates.
    pub annotations: BTreeMap<String, String>,
    /// Line of the rule in its file.
    pub line: usize,
}

/// A recording rule: stores its expression's result under a new metric name.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// The metric name the result is stored under.
    pub name: String,
    /// The PromQL expression.
    pub expr: String,
    /// Labels added to the result.
    pub labels: BTreeMap<String, String>,
    /// Line of the rule in its file.
    pub line: usize,
}

/// How serious a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is rejected.
    Error,
    /// The file loads, but something looks wrong (promtool's lint).
    Warning,
}

/// Which rule a problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// Position in its group, from 1 (as promtool counts).
    pub index: usize,
    /// The alert or record name, empty when the rule has neither.
    pub name: String,
}

/// One problem in a rule file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The file.
    pub file: String,
    /// Line, from 1 (0 when the problem is about the file as a whole).
    pub line: usize,
    /// Column, from 1, when known.
    pub column: Option<usize>,
    /// The group's name, when the problem is inside a group.
    pub group: Option<String>,
    /// The rule, when the problem is inside a rule.
    pub rule: Option<RuleRef>,
    /// What is wrong.
    pub message: String,
    /// What would fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        let mut place = Vec::new();
        if let Some(g) = &self.group {
            place.push(format!("group {g:?}"));
        }
        if let Some(r) = &self.rule {
            if r.name.is_empty() {
                place.push(format!("rule {}", r.index));
            } else {
                place.push(format!("rule {} ({:?})", r.index, r.name));
            }
        }
        write!(f, ": ")?;
        if !place.is_empty() {
            write!(f, "{}: ", place.join(", "))?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// The file could not be read.
    #[error("reading rule file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid rule file; `problems` lists every error found.
    #[error("{}", list_problems(file, problems))]
    Invalid {
        /// The file's name.
        file: String,
        /// Every error found (warnings are not included).
        problems: Vec<Problem>,
    },
}

fn list_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = format!(
        "rule file {file} has {} error{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!("\n  {p}"));
    }
    out
}

/// How a rule file is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Accept fields Prometheus does not know instead of refusing them, as promtool's
    /// `test rules --ignore-unknown-fields` does (for rule files that carry metadata of their
    /// own). Everything else is checked as strictly.
    pub ignore_unknown_fields: bool,
}

/// Reads and validates the rule file at `path`.
pub fn load(path: &Path) -> Result<RuleFile, RuleFileError> {
    load_with(path, ReadOptions::default())
}

/// [`load`], read as `options` say.
pub fn load_with(path: &Path, options: ReadOptions) -> Result<RuleFile, RuleFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RuleFileError::Read {
        path: name.clone(),
        source,
    })?;
    parse_with(&name, &text, options)
}

/// Validates rule file text; `name` is used in messages.
pub fn parse(name: &str, text: &str) -> Result<RuleFile, RuleFileError> {
    parse_with(name, text, ReadOptions::default())
}

/// [`parse`], read as `options` say.
pub fn parse_with(name: &str, text: &str, options: ReadOptions) -> Result<RuleFile, RuleFileError> {
    let (file, problems) = validate::parse_and_validate(name, text, options);
    let (errors, warnings): (Vec<Problem>, Vec<Problem>) = problems
        .into_iter()
        .partition(|p| p.severity == Severity::Error);
    match file {
        Some(mut file) if errors.is_empty() => {
            file.warnings = warnings;
            Ok(file)
        }
        _ => Err(RuleFileError::Invalid {
            file: name.to_string(),
            problems: errors,
        }),
    }
}

#[cfg(test)]
mod tests;
