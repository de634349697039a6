//! The two text formats, one parser: OpenMetrics 1.0 (strict) and Prometheus text exposition
//! 0.0.4 (lenient).
//!
//! Lines are read one at a time; a line's syntax is [`sample`]'s, and what lines may follow which
//! (families, metadata, metrics, points) is [`strict`]'s or [`lenient`]'s. The one decision
//! behind it: a bad line is reported and skipped, never the end of reading, so `check-metrics`
//! lists every problem; a caller ingesting the payload takes any problem as "refuse it all".
//!
//! What the modes differ in (everything else is shared):
//!
//! | | strict (OpenMetrics) | lenient (Prometheus) |
//! |---|---|---|
//! | end | `# EOF` last, nothing after | end of input |
//! | blank lines, CR LF, BOM | refused | ignored |
//! | blanks between tokens | exactly one space | spaces and tabs, any number |
//! | other `#` lines | refused | comments |
//! | timestamps | seconds, real number | milliseconds, integer |
//! | types | OpenMetrics' eight | counter, gauge, histogram, summary, untyped |
//! | family rules | all of the spec's (suffixes, clashes, ordering, histograms...) | none |

mod lenient;
mod sample;
mod strict;

use crate::exposition::batch::MetricType;
use crate::exposition::compact::{Builder, CompactBatch};
use crate::exposition::error::{ParseErrors, Problems};
use crate::exposition::names::is_metric_name_char;

pub(crate) use sample::describe;

/// Which rules to read by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// OpenMetrics 1.0, every MUST of the spec.
    Strict,
    /// Prometheus text exposition 0.0.4, as Prometheus scrapes it.
    Lenient,
}

/// A metadata line: `# TYPE`, `# HELP` or `# UNIT` with its metric name and the rest.
#[derive(Debug)]
pub(crate) enum Meta<'a> {
    Type(&'a str, MetricType),
    Help(&'a str, String),
    Unit(&'a str, &'a str),
}

impl<'a> Meta<'a> {
    pub(crate) fn name(&self) -> &'a str {
        match self {
            Meta::Type(n, _) | Meta::Help(n, _) | Meta::Unit(n, _) => n,
        }
    }

    pub(crate) fn keyword(&self) -> &'static str {
        match self {
            Meta::Type(..) => "TYPE",
            Meta::Help(..) => "HELP",
            Meta::Unit(..) => "UNIT",
        }
    }
}

/// Parses a whole text payload.
pub(crate) fn parse(
    body: &[u8],
    mode: Mode,
    batch: CompactBatch,
) -> Result<CompactBatch, ParseErrors> {
    let strict = mode == Mode::Strict;
    let mut problems = Problems::default();
    let mut builder = Builder::new(batch);
    // One sample per line at most: reserving up front keeps the vectors from being copied while
    // they grow (counting lines is far cheaper than a copy).
    let line_count = memchr::memchr_iter(b'\n', body).count() + 1;
    builder.reserve(line_count);
    let mut pairs = Vec::new();
    let mut strict_rules = strict::Families::default();
    let mut lenient_rules = lenient::Families::default();
    let mut eof = false;
    let mut last_line = 0;

    // A final LF ends the last line rather than starting an empty one.
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    // One check of the whole body is much faster than one per line; lines are checked one by
    // one only to locate the problem in a body that is not valid UTF-8.
    let whole = std::str::from_utf8(body).ok();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    let spans = ends.map(|end| {
        let span = (start, end);
        start = end + 1;
        span
    });
    let spans = spans.take(if body.is_empty() { 0 } else { usize::MAX });
    for (index, (start, end)) in spans.enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        last_line = line;
        if eof {
            problems.at_line(line, "nothing may follow \"# EOF\"");
            break;
        }
        // Line ends are ASCII, so they are character boundaries of the checked body.
        let full = match whole.and_then(|t| t.get(start..end)) {
            Some(t) => t,
            None => {
                let raw = &body[start..end];
                match std::str::from_utf8(raw) {
                    Ok(t) => t,
                    Err(e) => {
                        let valid = std::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or("");
                        problems.at_byte(line, valid, e.valid_up_to(), "not valid UTF-8");
                        continue;
                    }
                }
            }
        };
        let text = if strict {
            if line == 1 && full.starts_with('\u{feff}') {
                problems.at_line(line, "byte order marks are not allowed");
                continue;
            }
            full
        } else {
            let t = full.strip_suffix('\r').unwrap_or(full);
            let t = if line == 1 {
                t.strip_prefix('\u{feff}').unwrap_or(t)
            } else {
                t
            };
            t.trim_start_matches([' ', '\t'])
        };
        let offset = offset_in(full, text);
        if text.is_empty() || (!strict && text.trim_end_matches([' ', '\t']).is_empty()) {
            if strict {
                problems.at_line(line, "blank lines are not allowed");
            }
            continue;
        }
        if text.starts_with('#') {
            let meta = if strict {
                match strict_meta(text) {
                    Ok(None) => {
                        eof = true;
                        continue;
                    }
                    Ok(Some(m)) => m,
                    Err((at, message)) => {
                        problems.at_byte(line, full, offset + at, message);
                        continue;
                    }
                }
            } else {
                match lenient_meta(text) {
                    Ok(None) => continue, // a comment
                    Ok(Some(m)) => m,
                    Err((at, message)) => {
                        problems.at_byte(line, full, offset + at, message);
                        continue;
                    }
                }
            };
            let result = if strict {
                strict_rules.meta(meta, line, &mut builder, &mut problems)
            } else {
                lenient_rules.meta(meta, &mut builder)
            };
            if let Err(message) = result {
                problems.at_line(line, message);
            }
            continue;
        }
        let text = if strict {
            text
        } else {
            text.trim_end_matches([' ', '\t'])
        };
        match sample::parse_sample(text, strict, &mut pairs) {
            Ok(s) => {
                let result = if strict {
                    strict_rules.sample(&s, &pairs, line, &mut builder, &mut problems)
                } else {
                    lenient_rules.sample(&s, &pairs, line, &mut builder);
                    Ok(())
                };
                if let Err((at, message)) = result {
                    problems.at_byte(line, full, offset + at, message);
                }
            }
            Err(e) => problems.at_byte(line, full, offset + e.at, e.message),
        }
    }
    if strict {
        strict_rules.close(&mut builder, &mut problems);
        if !eof {
            problems.at_line(
                last_line.max(1),
                "missing \"# EOF\" at the end (OpenMetrics expositions must end with it)",
            );
        }
    }
    builder.finish(problems)
}

/// Where `part`, a slice of `full`, starts in it.
fn offset_in(full: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(full.as_ptr() as usize)
}

/// A strict metadata line; `None` for `# EOF`. Errors carry the byte offset.
fn strict_meta(text: &str) -> Result<Option<Meta<'_>>, (usize, String)> {
    if text == "# EOF" {
        return Ok(None);
    }
    let Some(rest) = text.strip_prefix("# ") else {
        return Err((
            0,
            "lines starting with \"#\" must be \"# TYPE\", \"# HELP\", \"# UNIT\" or \"# EOF\""
                .into(),
        ));
    };
    let keyword = rest.split(' ').next().unwrap_or("");
    if !matches!(keyword, "TYPE" | "HELP" | "UNIT") {
        return Err((
            2,
            format!(
                "unknown line \"# {keyword}\": lines starting with \"#\" must be \"# TYPE\", \"# HELP\", \"# UNIT\" or \"# EOF\""
            ),
        ));
    }
    let name_at = 2 + keyword.len() + 1;
    if text.as_bytes().get(name_at - 1) != Some(&b' ') {
        return Err((
            name_at - 1,
            format!("missing metric name after \"# {keyword}\""),
        ));
    }
    let b = text.as_bytes();
    let mut end = name_at;
    while end < b.len() && is_metric_name_char(b[end]) {
        end += 1;
    }
    let name = &text[name_at..end];
    if name.is_empty() || !crate::exposition::names::is_metric_name(name) {
        return Err((
            name_at,
            format!(
                "expected a metric name after \"# {keyword}\", found {}",
                describe(text, name_at)
            ),
        ));
    }
    let what = match keyword {
        "TYPE" => "type",
        "HELP" => "help text",
        _ => "unit",
    };
    match b.get(end) {
        Some(b' ') => {}
        None => {
            return Err((
                end,
                format!("missing space and {what} after metric name {name:?}"),
            ));
        }
        Some(_) => {
            return Err((
                end,
                format!(
                    "unexpected {} after metric name {name:?}",
                    describe(text, end)
                ),
            ));
        }
    }
    let value = &text[end + 1..];
    let meta = match keyword {
        "TYPE" => Meta::Type(name, openmetrics_type(value).map_err(|m| (end + 1, m))?),
        "HELP" => Meta::Help(name, unescape_help(value, true).map_err(|m| (end + 1, m))?),
        _ => {
            if let Some(bad) = value.bytes().position(|c| !is_metric_name_char(c)) {
                return Err((
                    end + 1 + bad,
                    format!("unit {value:?} may only contain letters, digits, \"_\" and \":\""),
                ));
            }
            Meta::Unit(name, value)
        }
    };
    Ok(Some(meta))
}

fn openmetrics_type(s: &str) -> Result<MetricType, String> {
    Ok(match s {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "gaugehistogram" => MetricType::GaugeHistogram,
        "summary" => MetricType::Summary,
        "stateset" => MetricType::StateSet,
        "info" => MetricType::Info,
        "unknown" => MetricType::Unknown,
        "untyped" => {
            return Err(
                "type \"untyped\" is Prometheus 0.0.4; OpenMetrics calls it \"unknown\"".into(),
            );
        }
        _ => {
            return Err(format!(
                "unknown type {s:?} (expected counter, gauge, histogram, gaugehistogram, summary, stateset, info or unknown)"
            ));
        }
    })
}

/// A lenient `#` line: `# HELP` or `# TYPE` with a name, or a comment (`None`).
fn lenient_meta(text: &str) -> Result<Option<Meta<'_>>, (usize, String)> {
    let after_hash = text[1..].trim_start_matches([' ', '\t']);
    let mut at = text.len() - after_hash.len();
    let keyword = after_hash.split([' ', '\t']).next().unwrap_or("");
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(None);
    }
    at += keyword.len();
    let rest = &text[at..];
    let rest_trimmed = rest.trim_start_matches([' ', '\t']);
    if rest_trimmed.len() == rest.len() && !rest.is_empty() {
        return Ok(None); // `# HELPER ...` is a comment
    }
    at += rest.len() - rest_trimmed.len();
    let name = rest_trimmed.split([' ', '\t']).next().unwrap_or("");
    if name.is_empty() {
        return Err((at, format!("missing metric name after \"# {keyword}\"")));
    }
    if let Some(problem) = crate::exposition::names::metric_name_problem(name) {
        return Err((at, problem));
    }
    at += name.len();
    let value = text[at..].trim_start_matches([' ', '\t']);
    let value_at = text.len() - value.len();
    if keyword == "HELP" {
        let help =
            unescape_help(value.trim_end_matches([' ', '\t']), false).map_err(|m| (value_at, m))?;
        return Ok(Some(Meta::Help(name, help)));
    }
    let kind = match value.trim_end_matches([' ', '\t']) {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Unknown,
        "" => return Err((value_at, format!("missing type after metric name {name:?}"))),
        other => {
            return Err((
                value_at,
                format!(
                    "unknown type {other:?} (expected counter, gauge, histogram, summary or untyped)"
                ),
            ));
        }
    };
    Ok(Some(Meta::Type(name, kind)))
}

/// Undoes HELP escaping: `\\` and `\n` (and `\"` in OpenMetrics). Other escaped characters keep
/// their backslash. A lone backslash at the end is an error in strict mode.
fn unescape_help(s: &str, strict: bool) -> Result<String, String> {
    if !s.contains('\\') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if strict => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None if strict => return Err("help text ends with a lone backslash".into()),
            None => out.push('\\'),
        }
    }
    Ok(out)
}
