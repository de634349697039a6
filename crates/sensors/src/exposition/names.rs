//! Naming rules shared by every format: metric names, label names, reserved names, duplicates.
//!
//! The rules are Prometheus': metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names
//! `[a-zA-Z_][a-zA-Z0-9_]*`, and label names starting with `__` reserved (the only one a payload
//! may carry is `__name__`, and only where the format has no other place for the metric name:
//! remote-write).

use std::borrow::Cow;

/// One label as a parser read it: the value is borrowed from the payload unless escapes had to
/// be undone. `at` is the byte offset in the line (text formats) for error columns.
#[derive(Clone, Debug)]
pub(crate) struct LabelPair<'a> {
    pub name: &'a str,
    pub value: Cow<'a, str>,
    pub at: usize,
}

pub(crate) fn is_metric_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

pub(crate) fn is_metric_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

pub(crate) fn is_label_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when `s` is a valid metric name.
pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_metric_name_start(b[0]) && b[1..].iter().all(|&c| is_metric_name_char(c))
}

/// True when `s` is a valid label name (reserved or not).
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..].iter().all(|&c| is_label_name_char(c))
}

/// Why `name` cannot be a metric name, if it cannot.
pub(crate) fn metric_name_problem(name: &str) -> Option<String> {
    if is_metric_name(name) {
        None
    } else if name.is_empty() {
        Some("metric name is empty".into())
    } else {
        Some(format!(
            "metric name {name:?} is not valid (it must match [a-zA-Z_:][a-zA-Z0-9_:]*)"
        ))
    }
}

/// Why `name` cannot be a label name in a payload, if it cannot: not valid, or reserved.
pub(crate) fn label_name_problem(name: &str) -> Option<String> {
    if !is_label_name(name) {
        Some(format!(
            "label name {name:?} is not valid (it must match [a-zA-Z_][a-zA-Z0-9_]*)"
        ))
    } else if name.starts_with("__") {
        Some(format!(
            "label name {name:?} is reserved (names starting with \"__\" are for internal use)"
        ))
    } else {
        None
    }
}

/// Sorts labels by name and returns the first name that appears twice, with its position.
pub(crate) fn sort_and_find_duplicate<'p>(
    pairs: &'p mut [LabelPair<'_>],
) -> Option<&'p LabelPair<'p>> {
    // Exporters usually write labels sorted already; checking first is cheaper than sorting.
    if !pairs.is_sorted_by(|a, b| a.name <= b.name) {
        pairs.sort_by(|a, b| a.name.cmp(b.name).then(a.at.cmp(&b.at)));
    }
    pairs
        .windows(2)
        .find(|w| w[0].name == w[1].name)
        .map(|w| if w[0].at >= w[1].at { &w[0] } else { &w[1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus() {
        assert!(is_metric_name("a:b_c9"));
        assert!(is_metric_name("_x"));
        assert!(!is_metric_name("9a"));
        assert!(!is_metric_name("a.b"));
        assert!(!is_metric_name(""));
        assert!(is_label_name("_a1"));
        assert!(!is_label_name("a:b"));
        assert!(!is_label_name("1x"));
        assert!(label_name_problem("__x").unwrap().contains("reserved"));
        assert!(label_name_problem("1x").unwrap().contains("not valid"));
        assert_eq!(label_name_problem("job"), None);
    }

    #[test]
    fn duplicates_are_found_after_sorting() {
        let pair = |name, at| LabelPair {
            name,
            value: Cow::Borrowed("v"),
            at,
        };
        let mut pairs = vec![pair("b", 0), pair("a", 5), pair("b", 9)];
        let dup = sort_and_find_duplicate(&mut pairs).map(|p| (p.name, p.at));
        assert_eq!(dup, Some(("b", 9)));
        assert_eq!(pairs[0].name, "a");
        let mut ok = vec![pair("a", 0), pair("b", 1)];
        assert!(sort_and_find_duplicate(&mut ok).is_none());
    }
}
