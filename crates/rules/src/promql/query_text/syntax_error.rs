//! Where a query's syntax goes wrong, when the parser only says "invalid promql query".
//!
//! The parser reports unclosed brackets, bad strings and unknown functions in its own words,
//! but a misplaced token (`x > > 1`, `rate(x[5m]) +`, `foo bar`) comes back without a word on
//! what or where. Users fix queries by position, so the query's tokens are read again and the
//! first one that cannot follow the one before it is named, with its line and column:
//! - a binary operator that starts an expression or follows another operator (`+` and `-` are
//!   also signs and `and`, `or`, `unless`, `atan2` also metric names, so they may);
//! - a closing bracket, a comma or the end of the query right after an operator or an opening
//!   bracket;
//! - a name, number or string right after a complete operand (`foo bar`, `1 2`).
//!
//! Inside `{...}` (matchers) and `[...]` (ranges) other rules hold; tokens there are skipped.
//! When no rule finds the spot, the parser's own message stands.

use lrpar::{Lexeme, Lexer};
use promql_parser::parser::lex::lexer;
use promql_parser::parser::token::{
    T_ADD, T_ANCHORED, T_AT, T_ATAN2, T_BY, T_COMMA, T_EOF, T_EQL_REGEX, T_FILL, T_FILL_LEFT,
    T_FILL_RIGHT, T_GROUP_LEFT, T_GROUP_RIGHT, T_IDENTIFIER, T_IGNORING, T_LAND, T_LEFT_BRACE,
    T_LEFT_BRACKET, T_LEFT_PAREN, T_LOR, T_LUNLESS, T_METRIC_IDENTIFIER, T_NEQ_REGEX, T_NUMBER,
    T_ON, T_RIGHT_BRACE, T_RIGHT_BRACKET, T_RIGHT_PAREN, T_SMOOTHED, T_STRING, T_SUB, T_WITHOUT,
    TokenId, TokenType,
};

/// What the parser says when it has nothing more precise.
pub(super) const VAGUE_MESSAGE: &str = "invalid promql query";

/// One token: its kind and where it lies in the query.
#[derive(Clone, Copy)]
struct Token {
    id: TokenId,
    start: usize,
    end: usize,
}

/// The first misplaced token of `query`, as "unexpected X at LINE:COLUMN" (or "unexpected end
/// of input after X"); `None` when the tokens give no such spot.
pub(super) fn explain(query: &str) -> Option<String> {
    let lexed = lexer(query).ok()?;
    let mut tokens = Vec::new();
    for lexeme in lexed.iter() {
        let lexeme = lexeme.ok()?;
        if lexeme.tok_id() == T_EOF {
            break;
        }
        let span = lexeme.span();
        tokens.push(Token {
            id: lexeme.tok_id(),
            start: span.start(),
            end: span.end(),
        });
    }
    let text = |t: &Token| &query[t.start..t.end];
    let mut nesting = 0usize; // depth inside `{...}` and `[...]`
    // Per open parenthesis: whether it holds a modifier's list (`by (a)`, `on(b)`, `fill(0)`),
    // after which an operand follows directly.
    let mut parens: Vec<bool> = Vec::new();
    let mut previous: Option<Token> = None;
    for (at, token) in tokens.iter().enumerate() {
        match token.id {
            T_LEFT_BRACE | T_LEFT_BRACKET => nesting += 1,
            T_RIGHT_BRACE | T_RIGHT_BRACKET => nesting = nesting.saturating_sub(1),
            _ if nesting > 0 => continue,
            _ => {}
        }
        if !follows(previous.map(|p| p.id), token.id) {
            let (line, column) = position(query, token.start);
            return Some(format!("unexpected {:?} at {line}:{column}", text(token)));
        }
        previous = Some(*token);
        match token.id {
            T_LEFT_PAREN => parens.push(at > 0 && opens_list(tokens[at - 1].id)),
            T_RIGHT_PAREN if parens.pop() == Some(true) => previous = None,
            _ => {}
        }
    }
    let last = *tokens.last()?;
    let open = matches!(last.id, T_LEFT_PAREN | T_COMMA);
    (open || is_binary_operator(last.id) && !is_word(last.id))
        .then(|| format!("unexpected end of input after {:?}", text(&last)))
}

/// True for the modifiers whose list a following parenthesis holds.
fn opens_list(id: TokenId) -> bool {
    matches!(
        id,
        T_BY | T_WITHOUT
            | T_ON
            | T_IGNORING
            | T_GROUP_LEFT
            | T_GROUP_RIGHT
            | T_FILL
            | T_FILL_LEFT
            | T_FILL_RIGHT
    )
}

/// True unless `next` certainly cannot come right after `previous` (`None`: the query's start)
/// outside matchers and ranges.
fn follows(previous: Option<TokenId>, next: TokenId) -> bool {
    // `+` and `-` are also signs; `and`, `or`, `unless` and `atan2` are also metric names.
    let sign = matches!(next, T_ADD | T_SUB) || is_word(next);
    let closes = matches!(
        next,
        T_RIGHT_PAREN | T_RIGHT_BRACE | T_RIGHT_BRACKET | T_COMMA
    );
    match previous {
        None => !closes && (sign || !is_binary_operator(next)),
        Some(p) if is_binary_operator(p) && !is_word(p) => {
            !closes && (sign || !is_binary_operator(next))
        }
        Some(T_LEFT_PAREN) => !(matches!(next, T_COMMA) || is_binary_operator(next) && !sign),
        Some(p) if ends_operand(p) => !starts_operand(next),
        Some(_) => true,
    }
}

/// Binary operators between expressions (not `@`, and not the regex matchers of selectors).
fn is_binary_operator(id: TokenId) -> bool {
    TokenType::new(id).is_operator() && !matches!(id, T_AT | T_EQL_REGEX | T_NEQ_REGEX)
}

/// The operators spelt as words, which may also be metric names.
fn is_word(id: TokenId) -> bool {
    matches!(id, T_LAND | T_LOR | T_LUNLESS | T_ATAN2)
}

/// Tokens that complete an operand.
fn ends_operand(id: TokenId) -> bool {
    matches!(
        id,
        T_IDENTIFIER
            | T_METRIC_IDENTIFIER
            | T_NUMBER
            | T_STRING
            | T_RIGHT_PAREN
            | T_RIGHT_BRACE
            | T_RIGHT_BRACKET
    )
}

/// Tokens that are an operand of their own, which needs an operator before it. The
/// `anchored` and `smoothed` modifiers are here too: where the parser sees them, they were not
/// taken as modifiers (rule files are read without them, as promtool reads them).
fn starts_operand(id: TokenId) -> bool {
    matches!(
        id,
        T_IDENTIFIER | T_METRIC_IDENTIFIER | T_NUMBER | T_STRING | T_ANCHORED | T_SMOOTHED
    )
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(query: &str, at: usize) -> (usize, usize) {
    let before = &query[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misplaced_tokens_are_named_with_their_position() {
        for (query, said) in [
            ("x > > 1", "unexpected \">\" at 1:5"),
            ("x +", "unexpected end of input after \"+\""),
            ("rate(x[5m]) * ", "unexpected end of input after \"*\""),
            ("foo bar", "unexpected \"bar\" at 1:5"),
            ("sum(x) 2", "unexpected \"2\" at 1:8"),
            ("* x", "unexpected \"*\" at 1:1"),
            ("sum(x +)", "unexpected \")\" at 1:8"),
            ("max(, x)", "unexpected \",\" at 1:5"),
            ("rate(x[5m] anchored)", "unexpected \"anchored\" at 1:12"),
            ("x\n  >\n  / y", "unexpected \"/\" at 3:3"),
        ] {
            assert_eq!(explain(query).as_deref(), Some(said), "{query}");
        }
    }

    #[test]
    fn valid_shapes_are_not_blamed() {
        for query in [
            "x > -1",
            "x > bool 1",
            "-x + +1",
            "sum by (a) (rate(x{a=~\"b|c\", d!~\"e\"}[5m:1m] offset 5m))",
            "x @ 100 / on(a) group_left(b) y",
            "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")",
            "topk(3, x) / ignoring(a) y",
            // Operators spelt as words are metric names too.
            "and",
            "and * sum",
            "x or unless",
        ] {
            assert!(promql_parser::parser::parse(query).is_ok(), "{query}");
            assert_eq!(explain(query), None, "{query}");
        }
    }

    #[test]
    fn the_parser_still_says_this_when_tokens_give_no_spot() {
        // Every token may follow the one before it; the grammar still refuses the whole.
        let query = "sum by (a) by (b) (x)";
        assert_eq!(
            promql_parser::parser::parse(query).unwrap_err(),
            VAGUE_MESSAGE
        );
        assert_eq!(explain(query), None);
        let err = crate::promql::parse(query).unwrap_err();
        assert_eq!(err.to_string(), format!("invalid PromQL: {VAGUE_MESSAGE}"));
        let err = crate::promql::parse("rate(x[5m]) +").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid PromQL: unexpected end of input after \"+\""
        );
    }

    proptest::proptest! {
        /// Queries made of PromQL's pieces in any order: a query the parser accepts is never
        /// blamed, and nothing panics.
        #[test]
        fn accepted_queries_are_never_blamed(pieces in proptest::collection::vec(0usize..PIECES.len(), 1..12)) {
            let query: String = pieces.iter().map(|&i| PIECES[i]).collect::<Vec<_>>().join(" ");
            let blamed = explain(&query);
            if promql_parser::parser::parse(&query).is_ok() {
                proptest::prop_assert_eq!(blamed, None, "{}", query);
            }
        }
    }

    const PIECES: &[&str] = &[
        "x",
        "y{a=\"b\"}",
        "z[5m]",
        "1",
        "\"s\"",
        "(",
        ")",
        ",",
        "+",
        "-",
        "*",
        ">",
        "and",
        "bool",
        "on(a)",
        "group_left(b)",
        "by (c)",
        "sum",
        "rate(",
        "offset 5m",
        "@ 10",
        "[1m:]",
    ];
}
