//! The `anchored` and `smoothed` modifiers of Prometheus 3 (`increase(x[1m] anchored)`,
//! `rate(x[5m] smoothed)`, `x smoothed`), which the PromQL parser does not know.
//!
//! The text is prepared in two passes. First each modifier word is blanked out (replaced by
//! spaces, so every other character keeps its position) and the text is parsed: a syntax error
//! anywhere is the parser's, at the query's own position. Then the selector each modifier
//! follows is found in the text and given a marker matcher, `__anchored__=""` or
//! `__smoothed__=""`, and that text is parsed into the expression the evaluator gets. A marker
//! matches every series (no series has the reserved label, and `=""` matches an absent label),
//! so whatever reads the selector without knowing the modifier still selects the same series;
//! the evaluator reads it with [`modifier_of`] and leaves it out of the store's matchers.
//!
//! As in Prometheus, a modifier may follow an instant or range selector, with or without its
//! `offset` and `@`; after anything else (a subquery, a parenthesis, a call, a number) it is an
//! error, and so is a selector given both modifiers.

#[cfg(test)]
mod tests;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Expr, VectorSelector};

use super::{skip_braces, skip_past, skip_quoted};
use crate::promql::EvalError;

/// How a selector reaches past the edges of its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeModifier {
    /// The window also takes the last sample at or before its start; the rate family computes
    /// on exactly that span, without extrapolation.
    Anchored,
    /// The values at the window's edges (or at the instant, for an instant selector) are
    /// interpolated between the samples around them.
    Smoothed,
}

impl RangeModifier {
    /// The word written in a query.
    pub fn keyword(self) -> &'static str {
        match self {
            RangeModifier::Anchored => "anchored",
            RangeModifier::Smoothed => "smoothed",
        }
    }

    /// The reserved label of the marker matcher that carries the modifier in the expression.
    fn marker_label(self) -> &'static str {
        match self {
            RangeModifier::Anchored => "__anchored__",
            RangeModifier::Smoothed => "__smoothed__",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        [RangeModifier::Anchored, RangeModifier::Smoothed]
            .into_iter()
            .find(|m| word.eq_ignore_ascii_case(m.keyword()))
    }
}

/// The modifier written after this selector, if any.
pub(crate) fn modifier_of(vs: &VectorSelector) -> Option<RangeModifier> {
    let all = vs
        .matchers
        .matchers
        .iter()
        .chain(vs.matchers.or_matchers.iter().flatten());
    for m in all {
        if let Some(modifier) = marker_modifier(m) {
            return Some(modifier);
        }
    }
    None
}

/// True for the matcher that carries a modifier (not a condition on the series).
pub(crate) fn is_marker(m: &Matcher) -> bool {
    marker_modifier(m).is_some()
}

fn marker_modifier(m: &Matcher) -> Option<RangeModifier> {
    if !matches!(m.op, MatchOp::Equal) || !m.value.is_empty() {
        return None;
    }
    [RangeModifier::Anchored, RangeModifier::Smoothed]
        .into_iter()
        .find(|modifier| m.name == modifier.marker_label())
}

/// `expr` as written in a query: a selector with a modifier prints the modifier word instead
/// of its marker matcher. Inside a larger expression the markers are only left out.
pub(crate) fn display(expr: &Expr) -> String {
    let (vs, modifier) = match expr {
        Expr::VectorSelector(vs) => (vs, modifier_of(vs)),
        Expr::MatrixSelector(ms) => (&ms.vs, modifier_of(&ms.vs)),
        _ => return without_markers(&expr.to_string()),
    };
    let Some(modifier) = modifier else {
        return expr.to_string();
    };
    let mut bare = vs.clone();
    bare.matchers.matchers.retain(|m| !is_marker(m));
    for alternative in &mut bare.matchers.or_matchers {
        alternative.retain(|m| !is_marker(m));
    }
    let printed = match expr {
        Expr::MatrixSelector(ms) => Expr::MatrixSelector(promql_parser::parser::MatrixSelector {
            vs: bare,
            range: ms.range,
        }),
        _ => Expr::VectorSelector(bare),
    };
    format!("{printed} {}", modifier.keyword())
}

/// A printed expression without marker matchers.
fn without_markers(printed: &str) -> String {
    let mut out = printed.to_string();
    for modifier in [RangeModifier::Anchored, RangeModifier::Smoothed] {
        let matcher = format!("{}=\"\"", modifier.marker_label());
        for form in [
            format!("{{{matcher}}}"),
            format!("{matcher},"),
            format!(", {matcher}"),
            format!(",{matcher}"),
        ] {
            out = out.replace(&form, "");
        }
    }
    out
}

/// One modifier word in the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Written {
    modifier: RangeModifier,
    /// Byte offsets of the word.
    start: usize,
    end: usize,
}

/// The modifier words of a query, and the query with them blanked out.
pub(super) struct Found {
    written: Vec<Written>,
    blanked: String,
}

/// Finds the modifier words of `text`: the words `anchored` and `smoothed` (in any case) where
/// they follow an operand. Elsewhere (`sum by (anchored)`, `x and smoothed`) they are left to
/// the parser, which knows them only as keywords and refuses them there.
pub(super) fn find(text: &str) -> Found {
    let tokens = tokens(text);
    let mut written = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let modifier = match token.kind {
            Kind::Word => RangeModifier::from_word(token.text(text)),
            _ => None,
        };
        let Some(modifier) = modifier else { continue };
        if i > 0 && ends_operand(&tokens[i - 1], text) {
            written.push(Written {
                modifier,
                start: token.start,
                end: token.end,
            });
        }
    }
    let mut blanked = text.to_string();
    for w in &written {
        blanked.replace_range(w.start..w.end, &" ".repeat(w.end - w.start));
    }
    Found { written, blanked }
}

impl Found {
    /// True when the query has no modifier.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The query with every modifier word replaced by spaces.
    pub fn blanked(&self) -> &str {
        &self.blanked
    }

    /// The blanked query with a marker matcher in each modified selector, or the error of a
    /// modifier that follows no selector or meets the other one on the same selector.
    pub fn marked(&self) -> Result<String, EvalError> {
        let tokens = tokens(&self.blanked);
        // (byte the marker goes in at, the marker's text, the word it stands for)
        let mut inserts: Vec<(usize, String, Written)> = Vec::new();
        for &w in &self.written {
            let before = tokens.partition_point(|t| t.end <= w.start);
            let place = before
                .checked_sub(1)
                .ok_or(Misplaced::NotASelector)
                .and_then(|last| selector_before(&tokens, last, &self.blanked))
                .map_err(|problem| problem.error(w, &self.blanked))?;
            let (at, text) = place.insertion(w.modifier, &self.blanked);
            match inserts.iter().find(|(other, _, _)| *other == at) {
                Some((_, _, first)) if first.modifier != w.modifier => {
                    return Err(Misplaced::Both.error(w, &self.blanked));
                }
                Some(_) => {} // the same modifier twice says nothing more
                None => inserts.push((at, text, w)),
            }
        }
        inserts.sort_by_key(|(at, _, _)| *at);
        let mut out = String::with_capacity(self.blanked.len() + inserts.len() * 20);
        let mut copied = 0;
        for (at, text, _) in &inserts {
            out.push_str(&self.blanked[copied..*at]);
            out.push_str(text);
            copied = *at;
        }
        out.push_str(&self.blanked[copied..]);
        Ok(out)
    }
}

/// Why a modifier cannot stand where it is written (Prometheus' wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Misplaced {
    Subquery,
    NotASelector,
    Both,
}

impl Misplaced {
    fn error(self, w: Written, text: &str) -> EvalError {
        let word = w.modifier.keyword();
        let message = match self {
            Misplaced::Subquery => format!("{word} modifier is not supported for subqueries"),
            Misplaced::NotASelector => format!("{word} modifier not implemented"),
            Misplaced::Both => "anchored and smoothed modifiers cannot be used together".into(),
        };
        let (line, column) = line_column(text, w.start);
        EvalError::Parse(format!(
            "{line}:{column}: modifier {word:?} at {}:{}: {message}",
            w.start, w.end
        ))
    }
}

/// 1-based line and column (in characters) of byte `at`, as the parser reports positions.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where a modified selector's marker goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Into the label matchers `{...}` spanning these bytes.
    Braces { start: usize, end: usize },
    /// After the metric name ending at this byte (the selector has no braces).
    AfterName(usize),
}

impl Place {
    /// The byte to insert at and the text to insert there.
    fn insertion(self, modifier: RangeModifier, text: &str) -> (usize, String) {
        let matcher = format!("{}=\"\"", modifier.marker_label());
        match self {
            Place::AfterName(end) => (end, format!("{{{matcher}}}")),
            Place::Braces { start, end } => {
                let close = end - 1;
                let inside = text[start + 1..close].trim();
                if inside.is_empty() || inside.ends_with(',') {
                    (close, matcher)
                } else {
                    (close, format!(",{matcher}"))
                }
            }
        }
    }
}

/// Words that are operators or clauses, never the end of an operand: a modifier word after
/// one of them is not a modifier.
const NON_OPERAND_WORDS: [&str; 12] = [
    "and",
    "or",
    "unless",
    "atan2",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
];

/// True when `token` can end the expression a modifier follows.
fn ends_operand(token: &Token, text: &str) -> bool {
    match token.kind {
        Kind::Word => {
            let word = token.text(text);
            !NON_OPERAND_WORDS
                .iter()
                .any(|w| word.eq_ignore_ascii_case(w))
        }
        Kind::Number | Kind::String | Kind::Braces => true,
        Kind::Punct(b) => b == b']' || b == b')',
    }
}

/// The selector whose last token (its own, or its `offset` or `@` value) is `tokens[last]`.
fn selector_before(tokens: &[Token], last: usize, text: &str) -> Result<Place, Misplaced> {
    let punct = |i: Option<usize>, c: u8| {
        i.and_then(|i| tokens.get(i)).map(|t| t.kind) == Some(Kind::Punct(c))
    };
    let word = |i: Option<usize>, words: &[&str]| {
        i.and_then(|i| tokens.get(i)).is_some_and(|t| {
            t.kind == Kind::Word && words.iter().any(|w| t.text(text).eq_ignore_ascii_case(w))
        })
    };
    let mut j = last;
    // Step back over `@ start()`, `@ end()`, `@ 100`, `offset 5m`, `offset -5m`.
    loop {
        let back = |n: usize| j.checked_sub(n);
        if punct(Some(j), b')')
            && punct(back(1), b'(')
            && word(back(2), &["start", "end"])
            && punct(back(3), b'@')
        {
            j = back(4).ok_or(Misplaced::NotASelector)?;
            continue;
        }
        if tokens[j].kind == Kind::Number {
            let mut k = back(1);
            if punct(k, b'-') || punct(k, b'+') {
                k = k.and_then(|k| k.checked_sub(1));
            }
            if punct(k, b'@') || word(k, &["offset"]) {
                j = k
                    .and_then(|k| k.checked_sub(1))
                    .ok_or(Misplaced::NotASelector)?;
                continue;
            }
        }
        break;
    }
    if punct(Some(j), b']') {
        let open = matching_open_bracket(tokens, j).ok_or(Misplaced::NotASelector)?;
        let is_subquery = tokens[open + 1..j]
            .iter()
            .any(|t| t.kind == Kind::Punct(b':'));
        if is_subquery {
            return Err(Misplaced::Subquery);
        }
        j = open.checked_sub(1).ok_or(Misplaced::NotASelector)?;
    }
    let token = &tokens[j];
    match token.kind {
        Kind::Braces => Ok(Place::Braces {
            start: token.start,
            end: token.end,
        }),
        Kind::Word if ends_operand(token, text) && !is_number_word(token.text(text)) => {
            Ok(Place::AfterName(token.end))
        }
        _ => Err(Misplaced::NotASelector),
    }
}

/// `Inf` and `NaN` are numbers, not metric names.
fn is_number_word(word: &str) -> bool {
    word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan")
}

/// The `[` that the `]` at `close` closes, skipping the brackets of ranges and subqueries
/// inside (`rate(x[5m])[1h:1m]`).
fn matching_open_bracket(tokens: &[Token], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    for i in (0..close).rev() {
        match tokens[i].kind {
            Kind::Punct(b']') => depth += 1,
            Kind::Punct(b'[') if depth == 0 => return Some(i),
            Kind::Punct(b'[') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// What a token of the query is, as far as finding modifiers needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A name or keyword (`rate`, `http_requests_total`, `by`, `anchored`).
    Word,
    /// A number or duration (`5m`, `1.5e+3`, `0x1f`).
    Number,
    /// A quoted string.
    String,
    /// A whole label matcher list, `{...}`.
    Braces,
    /// Any other character.
    Punct(u8),
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

impl Token {
    fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }
}

/// The tokens of `text`, comments and spaces left out.
fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let (kind, end) = match c {
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'#' => {
                i = skip_past(bytes, i + 1, b'\n');
                continue;
            }
            b'"' | b'\'' => (Kind::String, skip_quoted(bytes, i)),
            b'`' => (Kind::String, skip_past(bytes, i + 1, b'`')),
            b'{' => (Kind::Braces, skip_braces(bytes, i)),
            b if b.is_ascii_digit() || b == b'.' => (Kind::Number, number_end(bytes, i)),
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b':')
                    .count();
                (Kind::Word, i + len)
            }
            // Multi-byte characters appear only in strings and names quoted in braces; one
            // character is one token.
            b => (
                Kind::Punct(b),
                i + text[i..].chars().next().map_or(1, char::len_utf8),
            ),
        };
        out.push(Token {
            kind,
            start: i,
            end: end.min(bytes.len()),
        });
        i = end;
    }
    out
}

/// Past the number or duration starting at `i`, an exponent's sign included (`1.5e+3`).
fn number_end(bytes: &[u8], i: usize) -> usize {
    let hex = bytes[i..].starts_with(b"0x") || bytes[i..].starts_with(b"0X");
    let mut j = i;
    loop {
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'.' || bytes[j] == b'_')
        {
            j += 1;
        }
        let exponent_sign = !hex
            && j + 1 < bytes.len()
            && matches!(bytes[j - 1], b'e' | b'E')
            && matches!(bytes[j], b'+' | b'-')
            && bytes[j + 1].is_ascii_digit();
        if !exponent_sign {
            return j;
        }
        j += 1;
    }
}
