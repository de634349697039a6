//! The rule file as written: strict serde structs with a source position on every value, read
//! by `serde-saphyr` (or lenient ones, for promtool's `--ignore-unknown-fields`). Checking what
//! the values mean is `validate.rs`'s job.
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

/// Reads the text; an empty document is a file with no groups, as in Prometheus. An unknown
/// field is an error unless `ignore_unknown_fields` (promtool's `--ignore-unknown-fields`).
pub(super) fn read(text: &str, ignore_unknown_fields: bool) -> Result<RawFile, ReadError> {
    let file = if ignore_unknown_fields {
        deserialize::<lenient::File>(text)?.map(RawFile::from)
    } else {
        deserialize::<RawFile>(text)?
    };
    Ok(file.unwrap_or(RawFile { groups: None }))
}

/// The document as `T`, `None` when it is empty.
fn deserialize<T: serde::de::DeserializeOwned>(text: &str) -> Result<Option<T>, ReadError> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<Option<T>>(text, options).map_err(|e| {
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
        ReadError {
            message,
            line,
            column,
        }
    })
}

/// The structs above without `deny_unknown_fields`: with `--ignore-unknown-fields` a rule file
/// may carry fields of its own (an owner, a runbook) that Prometheus would refuse. Converted
/// to the strict structs field by field, so a field added there must be added here too (the
/// conversion does not compile otherwise).
mod lenient {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_saphyr::Spanned;

    #[derive(Debug, Deserialize)]
    pub(super) struct File {
        pub(super) groups: Option<Vec<Spanned<Group>>>,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct Group {
        pub(super) name: Option<Spanned<String>>,
        pub(super) interval: Option<Spanned<String>>,
        pub(super) query_offset: Option<Spanned<String>>,
        pub(super) limit: Option<Spanned<i64>>,
        pub(super) labels: Option<BTreeMap<String, Spanned<String>>>,
        pub(super) rules: Option<Vec<Spanned<Rule>>>,
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct Rule {
        pub(super) record: Option<Spanned<String>>,
        pub(super) alert: Option<Spanned<String>>,
        pub(super) expr: Option<Spanned<String>>,
        #[serde(rename = "for")]
        pub(super) for_duration: Option<Spanned<String>>,
        pub(super) keep_firing_for: Option<Spanned<String>>,
        pub(super) labels: Option<BTreeMap<String, Spanned<String>>>,
        pub(super) annotations: Option<BTreeMap<String, Spanned<String>>>,
    }
}

/// `s` with its value converted, at the same place.
fn respan<A, B: From<A>>(s: Spanned<A>) -> Spanned<B> {
    Spanned::new(B::from(s.value), s.referenced, s.defined)
}

impl From<lenient::File> for RawFile {
    fn from(f: lenient::File) -> Self {
        RawFile {
            groups: f
                .groups
                .map(|groups| groups.into_iter().map(respan).collect()),
        }
    }
}

impl From<lenient::Group> for RawGroup {
    fn from(g: lenient::Group) -> Self {
        RawGroup {
            name: g.name,
            interval: g.interval,
            query_offset: g.query_offset,
            limit: g.limit,
            labels: g.labels,
            rules: g.rules.map(|rules| rules.into_iter().map(respan).collect()),
        }
    }
}

impl From<lenient::Rule> for RawRule {
    fn from(r: lenient::Rule) -> Self {
        RawRule {
            record: r.record,
            alert: r.alert,
            expr: r.expr,
            for_duration: r.for_duration,
            keep_firing_for: r.keep_firing_for,
            labels: r.labels,
            annotations: r.annotations,
        }
    }
}
