//! Start timestamp lines of a `load` block: `metric{labels}@st -30s-1mx2 _ +1m`.
//!
//! Each position gives the start timestamp of the sample at the same position of the series'
//! own line, as an offset from that sample's time: `-1m` says the sample counts since one
//! minute before it, `0` since its own time. The expansion rules are those of values, with
//! durations for numbers: `a-bxn` is `n + 1` offsets starting at `a`, each `b` less than the
//! last; `axn` repeats `a` `n + 1` times; `_` is a sample without a start timestamp and `_xn`
//! is `n` of them.

use model::Labels;

use super::series::{parse_duration, parse_metric};

/// The marker that makes a load line a start timestamp line.
const MARKER: &str = "@st";

/// True when a load line gives start timestamps rather than values.
pub(crate) fn is_start_time_line(line: &str) -> bool {
    line.split([' ', '\t'])
        .next()
        .is_some_and(|first| first.ends_with(MARKER))
}

/// Parses a start timestamp line into its series and, per position, the offset (ms) from the
/// sample's time, `None` where the sample has none.
pub(crate) fn parse_start_time_line(line: &str) -> Result<(Labels, Vec<Option<i64>>), String> {
    let (labels, rest) = parse_metric(line)?;
    let rest = rest.strip_prefix(MARKER).ok_or_else(|| {
        format!(
            "expected {MARKER:?} after the series, found {:?}",
            rest.trim()
        )
    })?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!("expected a space after {MARKER:?}, found {rest:?}"));
    }
    let mut offsets = Vec::new();
    for item in rest.split_whitespace() {
        expand(item, &mut offsets).map_err(|e| format!("start timestamp {item:?}: {e}"))?;
    }
    Ok((labels, offsets))
}

/// Expands one item (`_`, `_x3`, `-1m`, `+1m`, `-1mx15`, `-30s-1mx2`) onto `out`.
fn expand(item: &str, out: &mut Vec<Option<i64>>) -> Result<(), String> {
    if item == "_" {
        out.push(None);
        return Ok(());
    }
    if let Some(rest) = item.strip_prefix('_') {
        out.extend(std::iter::repeat_n(None, repeat_count(rest)?));
        return Ok(());
    }
    let (body, count) = match item.rfind('x') {
        Some(at) => (&item[..at], Some(repeat_count(&item[at..])?)),
        None => (item, None),
    };
    let (first, rest) = signed_duration(body)?;
    let step = if rest.is_empty() {
        0
    } else {
        if count.is_none() {
            return Err("an increment needs a repeat count ('xN')".into());
        }
        let (step, rest) = signed_duration(rest)?;
        if !rest.is_empty() {
            return Err(format!("unexpected {rest:?} after the increment"));
        }
        step
    };
    let mut offset = first;
    for _ in 0..=count.unwrap_or(0) {
        out.push(Some(offset));
        offset = offset
            .checked_add(step)
            .ok_or("offsets overflow".to_string())?;
    }
    Ok(())
}

/// A duration with an optional sign at the start of `text`, and the text after it (which
/// starts at the next sign, if any).
fn signed_duration(text: &str) -> Result<(i64, &str), String> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = body.find(['+', '-']).unwrap_or(body.len());
    let magnitude = parse_duration(&body[..end])?;
    Ok((if negative { -magnitude } else { magnitude }, &body[end..]))
}

/// `xN` -> N.
fn repeat_count(text: &str) -> Result<usize, String> {
    text.strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("expected 'x' and a count, found {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(values: &str) -> Vec<Option<i64>> {
        parse_start_time_line(&format!("m{{a=\"b\"}}@st {values}"))
            .unwrap()
            .1
    }

    #[test]
    fn expansion_follows_the_value_rules_with_durations() {
        assert_eq!(
            offsets("_ -30s-1mx2"),
            [None, Some(-30_000), Some(-90_000), Some(-150_000)]
        );
        assert_eq!(offsets("-1mx2"), [Some(-60_000); 3]);
        assert_eq!(
            offsets("0-1mx1 +1m 1ms"),
            [Some(0), Some(-60_000), Some(60_000), Some(1)]
        );
        assert_eq!(offsets("-0msx1 _x2"), [Some(0), Some(0), None, None]);
        assert_eq!(offsets("-59999msx0"), [Some(-59_999)]);
    }

    #[test]
    fn the_series_is_read_and_lines_are_told_apart() {
        let (labels, _) = parse_start_time_line("m{a=\"b\"}@st -1m").unwrap();
        assert_eq!(labels.get("a"), Some("b"));
        assert_eq!(labels.metric_name(), Some("m"));
        assert!(is_start_time_line("m@st _ -1m"));
        assert!(!is_start_time_line("m{a=\"b\"} 1 2"));
    }

    #[test]
    fn bad_items_are_named() {
        for (line, fragment) in [
            ("m@st 1q", "\"1q\""),
            ("m@st -1m-1m", "needs a repeat count"),
            ("m@st -1mxz", "expected 'x' and a count"),
            ("m@st_ 1m", "expected a space"),
            ("m 1m", "expected \"@st\""),
        ] {
            let err = parse_start_time_line(line).unwrap_err();
            assert!(err.contains(fragment), "{line}: {err}");
        }
    }
}
