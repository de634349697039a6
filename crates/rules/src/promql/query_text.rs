//! The query text before the PromQL parser reads it. `promql-parser` follows an older grammar
//! than Prometheus 3 in two places, so the text is rewritten into what it reads:
//! - duration expressions (`x[26m+4m]`, `offset -step()`) are computed ([`durations`]);
//! - `info()`'s label selector may hold only matchers that match the empty string
//!   (`info(x, {data=~".*"})`), which the parser refuses for a selector; such a selector gets a
//!   marker matcher ([`info_selector`]) that the evaluator removes again;
//! - the `anchored` and `smoothed` modifiers (`rate(x[5m] smoothed)`) become marker matchers
//!   of the selectors they follow ([`range_modifiers`]), which the evaluator reads.

mod durations;
mod info_selector;
mod range_modifiers;
mod syntax_error;

pub use durations::DurationContext;
pub(crate) use info_selector::INFO_SELECTOR_MARKER;
pub use range_modifiers::RangeModifier;
pub(crate) use range_modifiers::{display, is_marker, modifier_of};

use super::{EvalError, Expr};

/// The parser's complaint about a selector whose matchers all match the empty string.
const EMPTY_SELECTOR_MESSAGE: &str = "at least one non-empty matcher";

/// Rewrites the duration expressions of `query` for `context`, then parses it. With range
/// modifiers, the text without them is parsed first, so that a syntax error is reported where
/// the query has it; then the text with their markers is.
pub(super) fn parse(query: &str, context: DurationContext) -> Result<Expr, EvalError> {
    let text = durations::rewrite(query, context)?;
    let modifiers = range_modifiers::find(&text);
    if modifiers.is_empty() {
        return parse_text(&text);
    }
    parse_text(modifiers.blanked())?;
    parse_text(&modifiers.marked()?)
}

/// Parses text as the PromQL parser reads it, without Periscope's preparation; a syntax error
/// the parser leaves vague is located (see `syntax_error`).
pub(super) fn parse_plain(text: &str) -> Result<Expr, String> {
    promql_parser::parser::parse(text).map_err(|message| {
        if message == syntax_error::VAGUE_MESSAGE {
            syntax_error::explain(text).unwrap_or(message)
        } else {
            message
        }
    })
}

/// Parses prepared text; an `info()` label selector the parser refuses as empty is marked and
/// the text parsed once more.
fn parse_text(text: &str) -> Result<Expr, EvalError> {
    let message = match parse_plain(text) {
        Ok(expr) => return Ok(expr),
        Err(message) => message,
    };
    if !message.contains(EMPTY_SELECTOR_MESSAGE) {
        return Err(EvalError::Parse(message));
    }
    match info_selector::mark(text) {
        Some(marked) => promql_parser::parser::parse(&marked).map_err(EvalError::Parse),
        None => Err(EvalError::Parse(message)),
    }
}

/// Past a `"` or `'` string starting at `i`, escapes included.
fn skip_quoted(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b if b == quote => return j + 1,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Past the next `end` byte at or after `from`.
fn skip_past(bytes: &[u8], from: usize, end: u8) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|b| *b == end)
        .map_or(bytes.len(), |at| from + at + 1)
}

/// Past a label matcher list `{...}` starting at `i`, strings inside included.
fn skip_braces(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'"' | b'\'' => j = skip_quoted(bytes, j),
            b'`' => j = skip_past(bytes, j + 1, b'`'),
            b'}' => return j + 1,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Where the token at `i` ends when it is not code to look into: a string, a comment or a
/// label matcher list; `None` for anything else.
fn skip_non_code(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes[i] {
        b'"' | b'\'' => Some(skip_quoted(bytes, i)),
        b'`' => Some(skip_past(bytes, i + 1, b'`')),
        b'#' => Some(skip_past(bytes, i + 1, b'\n')),
        b'{' => Some(skip_braces(bytes, i)),
        _ => None,
    }
}
