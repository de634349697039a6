//! `info()`'s second argument is a label selector over info series, where matchers that all
//! match the empty string make sense (`info(x, {data=~".*"})`: enrich with `data` when there
//! is one, keep the series either way). The PromQL parser refuses such a selector, so each
//! bare `{...}` second argument of `info` gets one more matcher, [`INFO_SELECTOR_MARKER`],
//! which the evaluator removes before using the selector.

use super::{skip_braces, skip_non_code};

/// The marker matcher's label; `__`-prefixed names are reserved, so no series has it.
pub(crate) const INFO_SELECTOR_MARKER: &str = "__info_selector__";

/// The query with every `info()` label selector marked, or `None` when it has none.
pub(super) fn mark(query: &str) -> Option<String> {
    let bytes = query.as_bytes();
    let mut inserts: Vec<(usize, &'static str)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(next) = skip_non_code(bytes, i) {
            i = next;
            continue;
        }
        if !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') {
            i += 1;
            continue;
        }
        let len = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b':')
            .count();
        if &query[i..i + len] == "info"
            && let Some(insert) = second_argument_selector(query, i + len)
        {
            inserts.push(insert);
        }
        i += len;
    }
    if inserts.is_empty() {
        return None;
    }
    inserts.sort_by_key(|(at, _)| *at);
    let mut out = String::with_capacity(query.len() + inserts.len() * 32);
    let mut copied = 0;
    for (at, text) in inserts {
        out.push_str(&query[copied..at]);
        out.push_str(text);
        copied = at;
    }
    out.push_str(&query[copied..]);
    Some(out)
}

/// For a call whose name ends at `name_end`: where to insert the marker into its second
/// argument, when that argument is a bare `{...}` selector, and what to insert.
fn second_argument_selector(query: &str, name_end: usize) -> Option<(usize, &'static str)> {
    let bytes = query.as_bytes();
    let open = name_end + (query[name_end..].len() - query[name_end..].trim_start().len());
    if bytes.get(open) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut j = open + 1;
    while j < bytes.len() {
        if let Some(next) = skip_non_code(bytes, j) {
            j = next;
            continue;
        }
        match bytes[j] {
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth == 0 => return None,
            b')' | b']' => depth -= 1,
            b',' if depth == 0 => return selector_after(query, j + 1),
            _ => {}
        }
        j += 1;
    }
    None
}

/// The insertion for a `{...}` selector starting (after spaces) at `from`.
fn selector_after(query: &str, from: usize) -> Option<(usize, &'static str)> {
    let rest = &query[from..];
    let brace = from + (rest.len() - rest.trim_start().len());
    if query.as_bytes().get(brace) != Some(&b'{') {
        return None;
    }
    let end = skip_braces(query.as_bytes(), brace);
    if query.as_bytes().get(end.checked_sub(1)?) != Some(&b'}') {
        return None;
    }
    let close = end - 1;
    let content = query[brace + 1..close].trim();
    let text = if content.is_empty() || content.ends_with(',') {
        r#" __info_selector__="1""#
    } else {
        r#", __info_selector__="1""#
    };
    Some((close, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_selectors_get_the_marker_and_nothing_else_does() {
        let marked = mark(r#"info(x, {data=~".*"}) + y{a=~".*", b="1"}"#).unwrap();
        assert_eq!(
            marked,
            r#"info(x, {data=~".*", __info_selector__="1"}) + y{a=~".*", b="1"}"#
        );
        let marked = mark(r#"sum(info(rate(x[5m]), {a=~".*",}))"#).unwrap();
        assert!(
            marked.contains(r#"{a=~".*", __info_selector__="1"}"#),
            "{marked}"
        );
        assert_eq!(mark("info(x)"), None);
        assert_eq!(mark(r#"info(x, target_info{a=~".*"})"#), None);
        assert_eq!(mark(r#"label_replace(x, "info", "{a}", ",", "")"#), None);
    }

    #[test]
    fn the_marked_text_parses() {
        let expr = super::super::parse(
            r#"info(x, {data=~".*"})"#,
            super::super::DurationContext::INSTANT,
        )
        .unwrap();
        assert!(expr.to_string().contains(INFO_SELECTOR_MARKER), "{expr}");
    }
}
