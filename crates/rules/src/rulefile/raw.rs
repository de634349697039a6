//! The rule file as written: strict serde structs with a source position on every value, read
//! by `serde-saphyr`. Checking what the values mean is `validate.rs`'s job.
//!
//! Scalars are read as strings where Prometheus reads strings, so `expr: 1` and `severity: 1`
//! are accepted as Prometheus accepts them; durations stay text until validation so a bad one
//! is reported with the others instead of stopping the read.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) groups: Option<Vec<Spanned<RawGroup>>>,
}

/// One `groups:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub(super) name: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) query_offset: Option<Spanned<String>>,
    pub(super) limit: Option<Spanned<i64>>,
    pub(super) labels: Option<BTreeMap<String, Spanned<String>>>,
    pub(super) rules: Option<Vec<Spanned<RawRule>>>,
}

/// One `rules:` entry, alerting or recording.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) record: Option<Spanned<String>>,
    pub(super) alert: Option<Spanned<String>>,
    pub(super) expr: Option<Spanned<String>>,
    #[serde(rename = "for")]
    pub(super) for_duration: Option<Spanned<String>>,
    pub(super) keep_firing_for: Option<Spanned<String>>,
    pub(super) labels: Option<BTreeMap<String, Spanned<String>>>,
    pub(super) annotations: Option<BTreeMap<String, Spanned<String>>>,
}

/// Where a value is: line and column from 1.
pub(super) fn at<T>(s: &Spanned<T>) -> (usize, usize) {
    let l = s.referenced;
    (
        usize::try_from(l.line()).unwrap_or(0),
        usize::try_from(l.column()).unwrap_or(0),
    )
}

/// A YAML or type error: message without the crate's own location suffix, line and column.
pub(super) struct ReadError {
    pub(super) message: String,
    pub(super) line: usize,
    pub(super) column: Option<usize>,
}

/// Reads the text; an empty document is a file with no groups, as in Prometheus.
pub(super) fn read(text: &str) -> Result<RawFile, ReadError> {
    let options = serde_saphyr::options! { with_snippet: false };
    match serde_saphyr::from_str_with_options::<Option<RawFile>>(text, options) {
        Ok(file) => Ok(file.unwrap_or(RawFile { groups: None })),
        Err(e) => {
            let e = e.without_snippet();
            let location = e.location();
            let mut message = e.to_string();
            let (line, column) = match location {
                Some(l) => {
                    let suffix = format!(" at line {}, column {}", l.line(), l.column());
                    if let Some(stripped) = message.strip_suffix(&suffix) {
                        message = stripped.to_string();
                    }
                    (
                        usize::try_from(l.line()).unwrap_or(0),
                        usize::try_from(l.column()).ok(),
                    )
                }
                None => (0, None),
            };
            Err(ReadError {
                message,
                line,
                column,
            })
        }
    }
}
