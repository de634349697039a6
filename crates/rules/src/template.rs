//! Alert templates: the Go `text/template` subset that Prometheus rule files use in alert labels
//! and annotations (`{{ $labels.instance }}`, `{{ $value | humanize }}`, `{{ if gt $value 0.5 }}`).
//!
//! [`Template::parse`] reports errors with a line and column inside the template, and rejects
//! at parse time what Go rejects then (undefined variables, unknown functions, a missing
//! `{{end}}`), so `check-rules` catches them. [`expand`] runs a template over one alert and, like
//! Prometheus, puts `<error expanding template: ...>` in the text when execution fails.
//!
//! Supported: text, `{{- -}}` trimming, comments, variables (`$x := ...`, `$x = ...`), fields
//! (`.Labels.job`, `$labels.job`), pipelines, parenthesised pipelines, `if`/`else if`/`else`,
//! `range` (over query results, label maps and integers), `with`, Go's builtins `and or not len
//! index print printf println eq ne lt le gt ge html urlquery`, and Prometheus' functions (see
//! `funcs.rs`). Not supported: `define`/`template`/`block` (Prometheus' rule templates do not
//! share definitions), `break`/`continue`, `js`, `slice`, `call`, `args` and `toDuration`.
//! `query` runs only when the caller hands over a [`TemplateQuery`]; without one it fails at
//! execution with a message saying so.

mod exec;
mod funcs;
mod gofmt;
mod lex;
mod parse;
mod value;

use std::collections::BTreeMap;
use std::fmt;

/// A line and column (both from 1, columns in characters) inside a template's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Pos {
    /// The position of byte offset `at` in `text`.
    pub(crate) fn of(text: &str, at: usize) -> Pos {
        let before = &text[..at.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a template could not be parsed or executed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid template (caught by `check-rules`).
    #[error("template syntax error at {pos}: {message}")]
    Parse {
        /// Where in the template text.
        pos: Pos,
        /// What is wrong.
        message: String,
    },
    /// The template is valid but failed on this alert's data (a function given the wrong
    /// type, a missing label compared with `eq`, `first` of an empty query result).
    #[error("template failed at {pos}: {message}")]
    Exec {
        /// The command that failed.
        pos: Pos,
        /// What went wrong.
        message: String,
    },
}

impl TemplateError {
    pub(crate) fn parse(pos: Pos, message: impl Into<String>) -> Self {
        TemplateError::Parse {
            pos,
            message: message.into(),
        }
    }
}

/// What an alert template sees: Prometheus' `$labels`, `$externalLabels`, `$externalURL` and
/// `$value` (also reachable as `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertData {
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The server's external labels.
    pub external_labels: BTreeMap<String, String>,
    /// The server's external URL.
    pub external_url: String,
    /// The value of the alert's expression for this alert.
    pub value: f64,
}

/// One element of a `query` result inside a template.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

/// The engine behind a template's `query` function: runs an instant query at the alert's
/// evaluation time. The evaluator hands one over; `check-rules` does not need one.
pub trait TemplateQuery {
    /// Runs `expr`, returning its samples or a message saying why it failed.
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String>;
}

/// A parsed alert template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `text`; the variables Prometheus predeclares (`$labels`, `$externalLabels`,
    /// `$externalURL`, `$value`) are in scope.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        Ok(Template {
            nodes: parse::parse(text)?,
        })
    }

    /// The text the template always prints, when it has no action (`severity: warning`): such
    /// a template needs no alert data to expand.
    pub fn constant(&self) -> Option<String> {
        self.nodes
            .iter()
            .map(|n| match n {
                parse::Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// True when the template calls `query`: its text may then change while the alert's
    /// labels and value stay the same.
    pub fn runs_queries(&self) -> bool {
        calls_query(&self.nodes)
    }

    /// Runs the template over one alert; `query` backs the template's `query` function.
    pub fn execute(
        &self,
        data: &AlertData,
        query: Option<&dyn TemplateQuery>,
    ) -> Result<String, TemplateError> {
        exec::execute(&self.nodes, data, query)
    }
}

/// True when a node calls the `query` function, at any depth.
fn calls_query(nodes: &[parse::Node]) -> bool {
    fn in_pipeline(p: &parse::Pipeline) -> bool {
        p.cmds.iter().flat_map(|c| &c.args).any(|a| match a {
            parse::Arg::Func(name) => name == "query",
            parse::Arg::Sub(inner, _) => in_pipeline(inner),
            _ => false,
        })
    }
    nodes.iter().any(|n| match n {
        parse::Node::Text(_) => false,
        parse::Node::Action(p) => in_pipeline(p),
        parse::Node::Branch(b) => {
            in_pipeline(&b.pipe) || calls_query(&b.body) || calls_query(&b.otherwise)
        }
    })
}

/// The result of [`expand`]: the text to use, and the error if there was one.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    /// The expanded text, or `<error expanding template: ...>` when expansion failed, as
    /// Prometheus puts it into the annotation.
    pub text: String,
    /// The failure, for the caller to log or count.
    pub error: Option<TemplateError>,
}

/// Parses and runs template `text` (named `name` in error text, e.g. `annotation "summary"`)
/// over one alert, never failing: a broken template yields Prometheus' error placeholder.
pub fn expand(
    name: &str,
    text: &str,
    data: &AlertData,
    query: Option<&dyn TemplateQuery>,
) -> Expanded {
    let result = Template::parse(text).and_then(|t| t.execute(data, query));
    match result {
        Ok(text) => Expanded { text, error: None },
        Err(e) => Expanded {
            text: format!("<error expanding template: {name}: {e}>"),
            error: Some(e),
        },
    }
}

#[cfg(test)]
mod tests;
