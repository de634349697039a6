//! Plain-text helpers for reports read on a phone: one clean line, truncation, word wrap.

use std::borrow::Cow;

/// The width reports aim for: readable without sideways scrolling on a phone.
pub(crate) const WIDTH: usize = 60;

/// `text` as one line: ANSI colour sequences from logs are removed, other control characters
/// (line breaks, tabs) become spaces, runs of white space collapse, ends are trimmed.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in strip_ansi(text).split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `text` without ANSI escape sequences (colours, cursor moves): in log lines they are
/// presentation, not content, and on a phone or in a dashboard they only read as `[31m`.
/// A lone ESC that starts no sequence is left for the caller's control-character handling.
pub(crate) fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI (ECMA-48): parameter and intermediate bytes 0x20-0x3F, then a final 0x40-0x7E.
            Some('[') => {
                chars.next();
                while let Some(&n) = chars.peek() {
                    if ('\u{20}'..='\u{3f}').contains(&n) {
                        chars.next();
                    } else {
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            // OSC (window titles, hyperlinks): up to BEL or ST (ESC \).
            Some(']') => {
                chars.next();
                while let Some(n) = chars.next() {
                    if n == '\u{7}' || (n == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            // Two-character sequences such as ESC c or ESC 7.
            Some(&n) if ('\u{30}'..='\u{7e}').contains(&n) => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` cut to at most `max` characters, ending in `...` when cut. ASCII dots rather than
/// `…`: old phones and mail gateways show them, and they keep the mail body plain ASCII.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut out: String = text.chars().take(keep).collect();
    out.truncate(out.trim_end().len());
    out.push_str("...");
    out
}

/// `text` (made [`one_line`]) broken at spaces into lines of at most `width` characters, each
/// prefixed with `indent`. A word longer than the width (a path, a URL) keeps its own line
/// whole: cutting it would make it useless to copy.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    wrap_hanging(text, width, indent, indent)
}

/// Like [`wrap`], with `first` before the first line and `rest` before the others, so a
/// `Label: value` that runs long continues indented under itself.
pub(crate) fn wrap_hanging(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    let room = |lines: &Vec<String>| {
        let indent = if lines.is_empty() { first } else { rest };
        width.saturating_sub(indent.chars().count()).max(20)
    };
    let push = |lines: &mut Vec<String>, line: &str| {
        let indent = if lines.is_empty() { first } else { rest };
        lines.push(format!("{indent}{line}"));
    };
    for word in one_line(text).split(' ').filter(|w| !w.is_empty()) {
        let wlen = word.chars().count();
        if len > 0 && len + 1 + wlen > room(&lines) {
            push(&mut lines, &line);
            line.clear();
            len = 0;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += wlen;
    }
    if len > 0 {
        push(&mut lines, &line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_breaks_and_escape_sequences() {
        assert_eq!(
            one_line("  a\r\n\tb \u{1b}[31mred\u{1b}[0m\u{0} \u{1b} "),
            "a b red"
        );
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn ansi_sequences_are_removed_and_lone_escapes_kept() {
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("\u{1b}[1;31mERROR\u{1b}[0m: x"), "ERROR: x");
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{7}!"),
            "link!"
        );
        assert_eq!(strip_ansi("a \u{1b} b\u{1b}"), "a \u{1b} b\u{1b}");
        assert_eq!(strip_ansi("\u{1b}[31"), "");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééééééééé", 6), "ééé...");
        assert_eq!(truncate("word and more", 9), "word a...");
        assert_eq!(truncate("word and more", 8), "word...");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(
            wrap(
                "cannot open /very/long/path/that/does/not/fit/anywhere/at/all.log: denied",
                30,
                "  "
            ),
            [
                "  cannot open",
                "  /very/long/path/that/does/not/fit/anywhere/at/all.log:",
                "  denied"
            ]
        );
        assert!(wrap("   ", 30, "").is_empty());
        assert_eq!(
            wrap_hanging("Label: a value that goes on and on", 24, "", "  "),
            ["Label: a value that goes", "  on and on"]
        );
    }
}
