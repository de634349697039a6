//! Duration expressions, as Prometheus 3 allows them where a duration is written: a range
//! selector's brackets (`x[26m+4m]`), a subquery's range and step (`x[29s+1s:5s+5s]`) and an
//! offset (`x offset (1h - 5m)`, `x offset -step()`), with `+ - * / % ^`, parentheses, `step()`,
//! `range()`, `min_of(a, b)` and `max_of(a, b)`. An `@` takes a timestamp, not a duration.
//!
//! The PromQL parser reads only plain durations, so the query text is rewritten before it is
//! parsed: each expression is computed and replaced by the duration it comes to (padded with
//! spaces so the rest of the query keeps its character positions). `step()` and `range()` are
//! the query's own step and `end - start`, so the rewrite needs to know how the query will be
//! evaluated: both are zero for an instant query, as in Prometheus.

mod arith;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::time::Duration;

use arith::{Computed, Reader};

use super::skip_non_code;
use crate::promql::EvalError;

/// What `step()` and `range()` stand for in the durations of one query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurationContext {
    /// The range query's step in milliseconds; 0 for an instant query.
    pub step_ms: i64,
    /// The range query's `end - start` in milliseconds; 0 for an instant query.
    pub range_ms: i64,
}

impl DurationContext {
    /// An instant query (and a rule): `step()` and `range()` are both zero.
    pub const INSTANT: DurationContext = DurationContext {
        step_ms: 0,
        range_ms: 0,
    };

    /// A range query from `start` to `end` (milliseconds) every `step` milliseconds.
    pub fn range_query(start: i64, end: i64, step: i64) -> Self {
        DurationContext {
            step_ms: step,
            range_ms: end.saturating_sub(start),
        }
    }
}

/// A duration expression that cannot be computed: what is wrong and where (byte offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DurationError {
    /// Byte offset where the offending part starts.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// What is wrong.
    pub message: String,
}

impl DurationError {
    /// The error in the query's terms, quoting the offending part.
    fn into_eval_error(self, query: &str) -> EvalError {
        let part = query.get(self.start..self.end).unwrap_or("");
        EvalError::Parse(format!(
            "duration expression at {}:{} ({part:?}): {}",
            self.start, self.end, self.message
        ))
    }
}

/// Where a duration stands, which decides whether it may be negative or zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// A range selector's range or a subquery's range or step: must be positive.
    Bracket,
    /// An offset: any sign; zero means no offset.
    Offset,
}

/// One replacement in the query text.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// The query with every duration expression replaced by the plain duration it computes to;
/// borrowed unchanged when it has none.
pub(super) fn rewrite(query: &str, context: DurationContext) -> Result<Cow<'_, str>, EvalError> {
    let edits = find_edits(query, context).map_err(|e| e.into_eval_error(query))?;
    if edits.is_empty() {
        return Ok(Cow::Borrowed(query));
    }
    let mut out = String::with_capacity(query.len());
    let mut copied = 0;
    for edit in edits {
        out.push_str(&query[copied..edit.start]);
        out.push_str(&edit.text);
        let width = edit.end - edit.start;
        for _ in edit.text.len()..width {
            out.push(' ');
        }
        copied = edit.end;
    }
    out.push_str(&query[copied..]);
    Ok(Cow::Owned(out))
}

/// Walks the query's tokens outside strings, comments and label matchers, and computes the
/// duration expressions in brackets and after `offset`.
fn find_edits(query: &str, context: DurationContext) -> Result<Vec<Edit>, DurationError> {
    let bytes = query.as_bytes();
    let mut edits = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(next) = skip_non_code(bytes, i) {
            i = next;
            continue;
        }
        i = match bytes[i] {
            b'[' => brackets(query, i, context, &mut edits)?,
            c if c.is_ascii_digit() || c == b'.' => {
                // A number or duration: its letters (`5m`, `1e3`, `0x1f`) are not words.
                i + bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'.' || **b == b'_')
                    .count()
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b':')
                    .count();
                if query[i..i + len].eq_ignore_ascii_case("offset") {
                    offset(query, i, i + len, context, &mut edits)?
                } else {
                    i + len
                }
            }
            _ => i + 1,
        };
    }
    Ok(edits)
}

/// Handles `[range]` or `[range:step]` opening at `open`; returns where scanning goes on.
fn brackets(
    query: &str,
    open: usize,
    context: DurationContext,
    edits: &mut Vec<Edit>,
) -> Result<usize, DurationError> {
    let Some(close) = query[open..].find(']').map(|at| open + at) else {
        // Unclosed: the PromQL parser says so.
        return Ok(query.len());
    };
    let inner = &query[open + 1..close];
    let segments = match inner.find(':') {
        Some(colon) => vec![(open + 1, open + 1 + colon), (open + 1 + colon + 1, close)],
        None => vec![(open + 1, close)],
    };
    for (start, end) in segments {
        if query[start..end].trim().is_empty() {
            continue; // `[5m:]`: the default step.
        }
        let mut reader = Reader::new(&query[..end], start, context);
        let computed = reader.expression()?;
        if reader.position() != end {
            let at = reader.position();
            return Err(DurationError {
                start: at,
                end,
                message: "unexpected text after the duration".into(),
            });
        }
        if computed.is_literal && computed.seconds > 0.0 {
            continue;
        }
        let ms = milliseconds(&computed, Position::Bracket)?;
        edits.push(Edit {
            start: computed.start,
            end: computed.end,
            text: format_ms(ms.unsigned_abs()),
        });
    }
    Ok(close + 1)
}

/// Handles the word `offset` at `word_start..word_end`; returns where scanning goes on.
fn offset(
    query: &str,
    word_start: usize,
    word_end: usize,
    context: DurationContext,
    edits: &mut Vec<Edit>,
) -> Result<usize, DurationError> {
    let mut reader = Reader::new(query, word_end, context);
    let Some(computed) = reader.offset()? else {
        return Ok(word_end); // a label called `offset`
    };
    if computed.is_literal && computed.seconds != 0.0 {
        return Ok(computed.end);
    }
    let ms = milliseconds(&computed, Position::Offset)?;
    edits.push(if ms == 0 {
        // The parser refuses `offset 0s`; no offset is the same thing.
        Edit {
            start: word_start,
            end: computed.end,
            text: String::new(),
        }
    } else {
        let sign = if ms < 0 { "-" } else { "" };
        Edit {
            start: computed.start,
            end: computed.end,
            text: format!("{sign}{}", format_ms(ms.unsigned_abs())),
        }
    });
    Ok(computed.end)
}

/// Seconds to whole milliseconds as Prometheus converts them (truncating), checked for the
/// position's sign rule.
fn milliseconds(computed: &Computed, position: Position) -> Result<i64, DurationError> {
    let fail = |message: &str| DurationError {
        start: computed.start,
        end: computed.end,
        message: message.to_string(),
    };
    let seconds = computed.seconds;
    if seconds.is_nan() {
        return Err(fail("the duration is not a number"));
    }
    if position == Position::Bracket && seconds <= 0.0 {
        return Err(fail(&format!(
            "duration must be greater than 0, it is {seconds}s"
        )));
    }
    let ms = (seconds * 1000.0).trunc();
    // Both bounds are exact in f64 and the parser's durations are unsigned 64-bit.
    if ms.abs() >= 9.2e18 {
        return Err(fail("duration is out of range"));
    }
    let ms = ms as i64;
    if position == Position::Bracket && ms == 0 {
        return Err(fail("duration must be at least 1ms"));
    }
    Ok(ms)
}

/// A positive number of milliseconds as a duration literal the parser reads (`1h30m`).
fn format_ms(ms: u64) -> String {
    model::duration::format_duration(Duration::from_millis(ms))
}
