//! The unit-test file as written (strict serde structs, as promtool reads it strictly) and its
//! typed form with durations and times resolved and the line of every test kept for messages.
//!
//! Scalars are read as text and converted here, because promtool reads `values: 0x10` as the
//! text `0x10` (eleven zeros in the expanding notation), not as the number 16.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::rulefile::parse_duration;

/// Prometheus' default `evaluation_interval`.
const DEFAULT_EVALUATION_INTERVAL_MS: i64 = 60_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    rule_files: Option<Vec<String>>,
    evaluation_interval: Option<Spanned<String>>,
    fuzzy_compare: Option<bool>,
    group_eval_order: Option<Vec<String>>,
    tests: Option<Vec<Spanned<RawTestGroup>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestGroup {
    interval: Option<Spanned<String>>,
    input_series: Option<Vec<Spanned<RawSeries>>>,
    name: Option<String>,
    start_timestamp: Option<Spanned<String>>,
    alert_rule_test: Option<Vec<Spanned<RawAlertTest>>>,
    promql_expr_test: Option<Vec<Spanned<RawExprTest>>>,
    external_labels: Option<BTreeMap<String, String>>,
    external_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    series: Option<String>,
    values: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertTest {
    eval_time: Option<Spanned<String>>,
    alertname: Option<String>,
    exp_alerts: Option<Vec<RawAlert>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    exp_labels: Option<BTreeMap<String, String>>,
    exp_annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExprTest {
    expr: Option<String>,
    eval_time: Option<Spanned<String>>,
    exp_samples: Option<Vec<Spanned<RawSample>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    labels: Option<String>,
    value: Option<String>,
    histogram: Option<String>,
}

/// A unit-test file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    /// Rule file patterns as written (relative to the test file).
    pub rule_files: Vec<String>,
    /// How often rules are evaluated (ms).
    pub evaluation_interval_ms: i64,
    /// Whether floats may differ in their last bit.
    pub fuzzy_compare: bool,
    /// Groups evaluated first, in this order.
    pub group_eval_order: Vec<String>,
    /// The test groups.
    pub tests: Vec<TestGroup>,
}

/// One `tests:` entry: series, and the alerts and expressions expected over them.
#[derive(Debug, Clone, PartialEq)]
pub struct TestGroup {
    /// Line in the test file.
    pub line: usize,
    /// `name`, empty when not given.
    pub name: String,
    /// Step of the input series (ms).
    pub interval_ms: i64,
    /// Where the group's time starts (ms since the epoch).
    pub start_ms: i64,
    /// The input series.
    pub input_series: Vec<InputSeries>,
    /// Alert expectations.
    pub alert_tests: Vec<AlertTest>,
    /// Expression expectations.
    pub expr_tests: Vec<ExprTest>,
    /// `$externalLabels` of templates.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` of templates.
    pub external_url: String,
}

/// One input series, still in the expanding notation.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSeries {
    /// Line in the test file.
    pub line: usize,
    /// `metric{labels}`.
    pub series: String,
    /// `1+1x10 _ stale ...`.
    pub values: String,
}

/// An `alert_rule_test` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTest {
    /// Line in the test file.
    pub line: usize,
    /// When to look, relative to the group's start (ms).
    pub eval_ms: i64,
    /// The alert's name; promtool refuses an entry without one.
    pub alertname: Option<String>,
    /// The firing alerts expected, without `alertname` among the labels.
    pub expected: Vec<ExpectedAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectedAlert {
    /// `exp_labels`.
    pub labels: BTreeMap<String, String>,
    /// `exp_annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// A `promql_expr_test` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprTest {
    /// Line in the test file.
    pub line: usize,
    /// The expression.
    pub expr: String,
    /// When to evaluate, relative to the group's start (ms).
    pub eval_ms: i64,
    /// The samples expected.
    pub expected: Vec<ExpectedSample>,
}

/// One expected sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSample {
    /// Line in the test file.
    pub line: usize,
    /// The series as a selector string (`metric{a="b"}`), empty for no labels.
    pub labels: String,
    /// The value.
    pub value: f64,
    /// A native histogram in the test notation, which Periscope cannot compare.
    pub histogram: Option<String>,
}

/// A test file that cannot be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// Line, from 1 (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn line_of<T>(s: &Spanned<T>) -> usize {
    usize::try_from(s.referenced.line()).unwrap_or(0)
}

/// Reads and checks a test file's text.
pub fn parse(text: &str) -> Result<TestFile, FileError> {
    let options = serde_saphyr::options! { with_snippet: false };
    let raw = match serde_saphyr::from_str_with_options::<Option<RawFile>>(text, options) {
        Ok(raw) => raw,
        Err(e) => {
            let e = e.without_snippet();
            let mut message = e.to_string();
            let line = match e.location() {
                Some(l) => {
                    // The position goes in front, as in every other message.
                    let suffix = format!(" at line {}, column {}", l.line(), l.column());
                    if let Some(stripped) = message.strip_suffix(&suffix) {
                        message = format!("column {}: {stripped}", l.column());
                    }
                    usize::try_from(l.line()).unwrap_or(0)
                }
                None => 0,
            };
            return Err(FileError { line, message });
        }
    };
    let Some(raw) = raw else {
        return Ok(TestFile {
            rule_files: Vec::new(),
            evaluation_interval_ms: DEFAULT_EVALUATION_INTERVAL_MS,
            fuzzy_compare: false,
            group_eval_order: Vec::new(),
            tests: Vec::new(),
        });
    };
    let evaluation_interval_ms = match &raw.evaluation_interval {
        Some(d) => match duration(d)? {
            0 => DEFAULT_EVALUATION_INTERVAL_MS,
            ms => ms,
        },
        None => DEFAULT_EVALUATION_INTERVAL_MS,
    };
    let tests = raw
        .tests
        .unwrap_or_default()
        .into_iter()
        .map(|g| test_group(g, evaluation_interval_ms))
        .collect::<Result<_, _>>()?;
    Ok(TestFile {
        rule_files: raw.rule_files.unwrap_or_default(),
        evaluation_interval_ms,
        fuzzy_compare: raw.fuzzy_compare.unwrap_or(false),
        group_eval_order: raw.group_eval_order.unwrap_or_default(),
        tests,
    })
}

fn test_group(g: Spanned<RawTestGroup>, default_interval: i64) -> Result<TestGroup, FileError> {
    let line = line_of(&g);
    let g = g.value;
    let interval_ms = match &g.interval {
        Some(d) => match duration(d)? {
            0 => default_interval,
            ms => ms,
        },
        None => default_interval,
    };
    let start_ms = match &g.start_timestamp {
        Some(s) => start_timestamp(&s.value).map_err(|message| FileError {
            line: line_of(s),
            message,
        })?,
        None => 0,
    };
    let input_series = g
        .input_series
        .unwrap_or_default()
        .into_iter()
        .map(|s| InputSeries {
            line: line_of(&s),
            series: s.value.series.unwrap_or_default(),
            values: s.value.values.unwrap_or_default(),
        })
        .collect();
    let alert_tests = g
        .alert_rule_test
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            Ok(AlertTest {
                line: line_of(&a),
                eval_ms: optional_duration(a.value.eval_time.as_ref())?,
                alertname: a.value.alertname,
                expected: a
                    .value
                    .exp_alerts
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| ExpectedAlert {
                        labels: e.exp_labels.unwrap_or_default(),
                        annotations: e.exp_annotations.unwrap_or_default(),
                    })
                    .collect(),
            })
        })
        .collect::<Result<_, FileError>>()?;
    let expr_tests = g
        .promql_expr_test
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let line = line_of(&e);
            let expected = e
                .value
                .exp_samples
                .unwrap_or_default()
                .into_iter()
                .map(|s| {
                    let line = line_of(&s);
                    let value = match s.value.value.as_deref() {
                        None => 0.0,
                        Some(text) => number(text).ok_or_else(|| FileError {
                            line,
                            message: format!("value {text:?} is not a number"),
                        })?,
                    };
                    Ok(ExpectedSample {
                        line,
                        labels: s.value.labels.unwrap_or_default(),
                        value,
                        histogram: s.value.histogram.filter(|h| !h.trim().is_empty()),
                    })
                })
                .collect::<Result<_, FileError>>()?;
            Ok(ExprTest {
                line,
                expr: e.value.expr.unwrap_or_default(),
                eval_ms: optional_duration(e.value.eval_time.as_ref())?,
                expected,
            })
        })
        .collect::<Result<_, FileError>>()?;
    Ok(TestGroup {
        line,
        name: g.name.unwrap_or_default(),
        interval_ms,
        start_ms,
        input_series,
        alert_tests,
        expr_tests,
        external_labels: g.external_labels.unwrap_or_default(),
        external_url: g.external_url.unwrap_or_default(),
    })
}

/// A Prometheus duration in milliseconds, or an error at its line.
fn duration(d: &Spanned<String>) -> Result<i64, FileError> {
    let text = d.value.trim();
    parse_duration(text)
        .map_err(|e| FileError {
            line: line_of(d),
            message: e.to_string(),
        })
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn optional_duration(d: Option<&Spanned<String>>) -> Result<i64, FileError> {
    d.map_or(Ok(0), duration)
}

/// `start_timestamp`: Unix seconds or an RFC 3339 time, as milliseconds.
fn start_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return secs
            .checked_mul(1000)
            .ok_or_else(|| format!("start_timestamp {text} is out of range"));
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| {
            format!(
                "start_timestamp {text:?} is neither Unix seconds nor an RFC 3339 time ({e}); \
                 write e.g. 1609459200 or \"2021-01-01T00:00:00Z\""
            )
        })
}

/// A YAML number as Go's YAML reader gives it to a float: decimal, `0x`/`0o` integers, `.inf`,
/// `-.inf` and `.nan`.
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let radix = [("0x", 16), ("0o", 8)]
        .into_iter()
        .find_map(|(p, r)| body.strip_prefix(p).map(|digits| (digits, r)));
    if let Some((digits, r)) = radix {
        let v = i64::from_str_radix(digits, r).ok()? as f64;
        return Some(if negative { -v } else { v });
    }
    // Only plain decimal notation: Rust would also take "inf" and "NaN", which YAML does not.
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    text.parse().ok()
}
