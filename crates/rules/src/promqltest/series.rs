//! Series descriptions of the test language, `metric{label="value"} 1+2x3 _ stale`, as written
//! in `load` blocks and in expected results, and the durations used for times and steps.
//!
//! The expansion rules are Prometheus' (`promtool test rules` uses the same): `a+bxn` is `n + 1`
//! values starting at `a`, each `b` more than the last; `axn` repeats `a` `n + 1` times; `_` is
//! a missing sample and `_xn` is `n` of them; `stale` is the staleness marker. Native histogram
//! samples (`{{...}}`) are recognised and counted but not decoded: Periscope stores floats only.

use model::{Labels, METRIC_NAME_LABEL};

use crate::promql::STALE_NAN_BITS;

/// One position of an expanded value sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeqValue {
    /// A float sample (the staleness marker included).
    Float(f64),
    /// `_`: no sample at this position.
    Omitted,
    /// `{{...}}`: a native histogram sample, kept only as "something is here".
    Histogram,
}

/// Parses `metric{labels} values...` into the label set (the name under `__name__`) and the
/// expanded values.
pub fn parse_series(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let (labels, rest) = parse_metric(line)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!(
            "expected a space between the series and its values, found {:?}",
            rest.chars().next().unwrap_or(' ')
        ));
    }
    let mut values = Vec::new();
    for item in value_items(rest)? {
        expand_item(item, &mut values).map_err(|e| format!("value {item:?}: {e}"))?;
    }
    Ok((labels, values))
}

/// Parses the series part, `name`, `name{...}` or `{...}`, and returns the rest of the text.
pub fn parse_metric(text: &str) -> Result<(Labels, &str), String> {
    let text = text.trim_start();
    let mut labels = Labels::new();
    let name_len = identifier_len(text);
    if name_len > 0 {
        labels.set(METRIC_NAME_LABEL, &text[..name_len]);
    }
    let mut rest = &text[name_len..];
    if let Some(inner) = rest.strip_prefix('{') {
        rest = parse_label_list(inner, &mut labels)?;
    } else if name_len == 0 {
        return Err(format!(
            "expected a metric name or '{{' at {:?}",
            first_word(text)
        ));
    }
    Ok((labels, rest))
}

/// Parses `name="value", ...}` (the opening brace already consumed) into `labels`; returns the
/// text after the closing brace. A quoted string without `=` is the metric name, as in
/// `{"my.metric", job="a"}`.
fn parse_label_list<'a>(mut text: &'a str, labels: &mut Labels) -> Result<&'a str, String> {
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok(after);
        }
        let (name, quoted, after) = if text.starts_with(['"', '\'', '`']) {
            let (name, used) = unquote_prefix(text)?;
            (name, true, &text[used..])
        } else {
            let len = identifier_len(text);
            if len == 0 {
                return Err(format!("expected a label name at {:?}", first_word(text)));
            }
            (text[..len].to_string(), false, &text[len..])
        };
        text = after.trim_start();
        if let Some(after) = text.strip_prefix('=') {
            let after = after.trim_start();
            if !after.starts_with(['"', '\'', '`']) {
                return Err(format!("label {name}: expected a quoted value"));
            }
            let (value, used) = unquote_prefix(after)?;
            labels.set(name, value);
            text = &after[used..];
        } else if quoted {
            labels.set(METRIC_NAME_LABEL, name);
        } else {
            return Err(format!("label {name}: expected '='"));
        }
        text = text.trim_start();
        if let Some(after) = text.strip_prefix(',') {
            text = after;
        } else if !text.starts_with('}') {
            return Err(format!(
                "expected ',' or '}}' in the label list at {:?}",
                first_word(text)
            ));
        }
    }
}

/// Length of the metric or label name at the start of `text` (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn identifier_len(text: &str) -> usize {
    let mut len = 0;
    for (i, c) in text.char_indices() {
        let ok = c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

/// Reads a Go-style quoted string (`"..."`, `'...'` or `` `...` ``) at the start of `text`:
/// returns its value and how many bytes it took.
pub fn unquote_prefix(text: &str) -> Result<(String, usize), String> {
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next() else {
        return Err("expected a quoted string".into());
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + 1));
        }
        if c != '\\' || quote == '`' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' | '"' | '\'' => out.push(e),
            'x' | 'u' | 'U' => {
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(digits).map(|(_, c)| c).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .map_err(|_| format!("bad escape \\{e}{hex} in a quoted string"))?;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                let code = u32::from_str_radix(&format!("{e}{rest}"), 8)
                    .map_err(|_| format!("bad escape \\{e}{rest} in a quoted string"))?;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            other => return Err(format!("unknown escape \\{other} in a quoted string")),
        }
    }
    Err(format!("unterminated quoted string {text:?}"))
}

/// Unquotes a whole string such as `"Foo"` or `` `Foo` ``; anything after the closing quote is
/// an error.
pub fn unquote(text: &str) -> Result<String, String> {
    let (value, used) = unquote_prefix(text)?;
    if used != text.len() {
        return Err(format!(
            "unexpected text after the quoted string in {text:?}"
        ));
    }
    Ok(value)
}

/// Splits the values part into items at whitespace, keeping `{{...}}` histogram descriptions
/// (which contain spaces) whole.
fn value_items(text: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let mut start = None;
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if bytes[i..].starts_with(b"{{") {
            depth += 1;
            start.get_or_insert(i);
            i += 2;
            continue;
        }
        if depth > 0 && bytes[i..].starts_with(b"}}") {
            depth -= 1;
            i += 2;
            continue;
        }
        if depth == 0 && b.is_ascii_whitespace() {
            if let Some(s) = start.take() {
                items.push(&text[s..i]);
            }
        } else {
            start.get_or_insert(i);
        }
        i += 1;
    }
    if depth > 0 {
        return Err("unterminated histogram description '{{'".into());
    }
    if let Some(s) = start {
        items.push(&text[s..]);
    }
    Ok(items)
}

/// Expands one item (`1`, `1+2x3`, `_x2`, `stale`, `{{...}}x2`) onto `out`.
fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if item.starts_with("{{") {
        // `{{h}}`, `{{h}}xN` or `{{a}}+{{b}}xN`: only how many samples matters here.
        let end = item.rfind("}}").unwrap_or(0) + 2;
        let count = match &item[end..] {
            "" => 1,
            rest => repeat_count(rest)? + 1,
        };
        out.extend(std::iter::repeat_n(SeqValue::Histogram, count));
        return Ok(());
    }
    if item == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(rest) = item.strip_prefix('_') {
        out.extend(std::iter::repeat_n(SeqValue::Omitted, repeat_count(rest)?));
        return Ok(());
    }
    if item == "stale" {
        out.push(SeqValue::Float(f64::from_bits(STALE_NAN_BITS)));
        return Ok(());
    }
    let (first, rest) = number_prefix(item, true)?;
    if rest.is_empty() {
        out.push(SeqValue::Float(first));
        return Ok(());
    }
    if rest.starts_with('x') {
        let n = repeat_count(rest)?;
        out.extend(std::iter::repeat_n(SeqValue::Float(first), n + 1));
        return Ok(());
    }
    let (delta, rest) = number_prefix(rest, true)?;
    let n = repeat_count(rest)?;
    // Repeated addition rather than `first + i * delta`: the same rounding as Prometheus.
    let mut v = first;
    for _ in 0..=n {
        out.push(SeqValue::Float(v));
        v += delta;
    }
    Ok(())
}

/// `xN` -> N.
fn repeat_count(text: &str) -> Result<usize, String> {
    text.strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("expected 'x' and a count, found {text:?}"))
}

/// Reads a number at the start of `text` (optionally signed): decimal with fraction and
/// exponent, `Inf` or `NaN` in any case. Returns the number and the rest.
fn number_prefix(text: &str, signed: bool) -> Result<(f64, &str), String> {
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') if signed => (-1.0, &text[1..]),
        Some(b'+') if signed => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    for (word, value) in [("inf", f64::INFINITY), ("nan", f64::NAN)] {
        if body.len() >= 3 && body[..3].eq_ignore_ascii_case(word) {
            return Ok((sign * value, &body[3..]));
        }
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    let mut any = digits(&mut i);
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        any |= digits(&mut i);
    }
    if !any {
        return Err(format!("expected a number at {text:?}"));
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if digits(&mut j) {
            i = j;
        }
    }
    let value: f64 = body[..i]
        .parse()
        .map_err(|_| format!("bad number {:?}", &body[..i]))?;
    Ok((sign * value, &body[i..]))
}

/// Parses a whole line as one number, the way Prometheus recognises a scalar expectation:
/// integers in any Go base notation (`0x1f`), otherwise a float (`1.5e3`, `Inf`, `NaN`).
pub fn parse_number(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let radix = |p: &str| {
        body.get(..2)
            .filter(|s| s.eq_ignore_ascii_case(p))
            .map(|_| &body[2..])
    };
    let int = if let Some(h) = radix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = radix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = radix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else {
        None
    };
    if let Some(i) = int {
        let v = i as f64;
        return Some(if neg { -v } else { v });
    }
    // Rust's float syntax is Go's for everything the test files use (it also takes "inf").
    text.parse::<f64>().ok()
}

/// Parses a Prometheus duration such as `0`, `90s`, `1m30s`, `1h`, `2d`, `1w`, `1y` or
/// `20s500ms` into milliseconds. Units must come largest first, as Prometheus requires.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    if text == "0" {
        return Ok(0);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1_000),
    ];
    // Order of the units as they must appear ("ms" is smallest although checked before "m").
    let rank = |u: &str| match u {
        "y" => 0,
        "w" => 1,
        "d" => 2,
        "h" => 3,
        "m" => 4,
        "s" => 5,
        _ => 6,
    };
    let bad = || format!("invalid duration {text:?}");
    let mut rest = text;
    let mut total: i64 = 0;
    let mut last_rank = -1;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n_len == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..n_len].parse().map_err(|_| bad())?;
        rest = &rest[n_len..];
        let (unit, ms) = UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .ok_or_else(bad)?;
        let r = rank(unit);
        if r <= last_rank {
            return Err(bad());
        }
        last_rank = r;
        rest = &rest[unit.len()..];
        total = n
            .checked_mul(*ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(values: &[SeqValue]) -> Vec<f64> {
        values
            .iter()
            .map(|v| match v {
                SeqValue::Float(f) => *f,
                _ => -999.0,
            })
            .collect()
    }

    #[test]
    fn expanding_notation_follows_prometheus() {
        let (labels, values) =
            parse_series(r#"http{job="api", code='200'} 1+2x3 5x2 _x2 _ -1-1x1"#).unwrap();
        assert_eq!(labels.metric_name(), Some("http"));
        assert_eq!(labels.get("code"), Some("200"));
        assert_eq!(
            floats(&values),
            vec![
                1.0, 3.0, 5.0, 7.0, 5.0, 5.0, 5.0, -999.0, -999.0, -999.0, -1.0, -2.0
            ]
        );
        assert_eq!(values[7], SeqValue::Omitted);
    }

    #[test]
    fn special_values_and_histograms_are_recognised() {
        let (labels, values) =
            parse_series("{a=\"b\"} stale Inf -Inf NaN {{schema:1 sum:3 buckets:[5 10]}}x2 1e3")
                .unwrap();
        assert_eq!(labels.metric_name(), None);
        assert!(matches!(values[0], SeqValue::Float(f) if f.to_bits() == STALE_NAN_BITS));
        assert_eq!(values[1], SeqValue::Float(f64::INFINITY));
        assert_eq!(values[2], SeqValue::Float(f64::NEG_INFINITY));
        assert!(matches!(values[3], SeqValue::Float(f) if f.is_nan()));
        assert_eq!(&values[4..7], &[SeqValue::Histogram; 3]);
        assert_eq!(values[7], SeqValue::Float(1000.0));
    }

    #[test]
    fn quoted_names_and_escapes() {
        let (labels, values) = parse_series(r#"{"my.metric", "a b"="x\"y\n"} 1"#).unwrap();
        assert_eq!(labels.metric_name(), Some("my.metric"));
        assert_eq!(labels.get("a b"), Some("x\"y\n"));
        assert_eq!(values.len(), 1);
        assert!(parse_series("foo{a=b} 1").is_err());
        assert!(parse_series("foo 1+x").is_err());
    }

    #[test]
    fn durations_and_numbers() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("20s500ms"), Ok(20_500));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        assert!(parse_duration("30s1m").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number("-1.5e3"), Some(-1500.0));
        assert!(parse_number("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_number("foo 1"), None);
    }
}
