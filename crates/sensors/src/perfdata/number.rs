//! Numbers as plugins print them: `[+-]digits[.digits][e[+-]digits]`.
//!
//! The guidelines say values are in the class `[-0-9.]`; real plugins also print a leading `+`
//! and, rarely, an exponent (C's `%g`), so both are read. Words like `inf` and `nan` that Rust's
//! own float parser accepts are not: a plugin printing them is broken, and the value is useless.

/// Length in bytes of the longest number at the start of `s`, or `None` when there is none.
pub(crate) fn number_prefix_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_digits = digits(&b[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        frac_digits = digits(&b[i + 1..]);
        // "5." is a number (C's strtod says so); "." alone is not.
        if int_digits > 0 || frac_digits > 0 {
            i += 1 + frac_digits;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    // An exponent only counts when digits follow, so a unit such as `EB` stays a unit.
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_digits = digits(&b[j..]);
        if exp_digits > 0 {
            i = j + exp_digits;
        }
    }
    Some(i)
}

/// The whole of `s` as a finite number, or `None`.
pub(crate) fn parse_number_exact(s: &str) -> Option<f64> {
    match number_prefix_len(s) {
        Some(n) if n == s.len() => finite(&s[..n]),
        _ => None,
    }
}

/// A syntactically valid number text as a finite f64 (`1e999` overflows and is refused).
pub(crate) fn finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(number_prefix_len("12.5ms"), Some(4));
        assert_eq!(number_prefix_len("-0.5"), Some(4));
        assert_eq!(number_prefix_len("+3"), Some(2));
        assert_eq!(number_prefix_len("5."), Some(2));
        assert_eq!(number_prefix_len(".5"), Some(2));
        assert_eq!(number_prefix_len("1e-3s"), Some(4));
        assert_eq!(number_prefix_len("1EB"), Some(1));
        assert_eq!(number_prefix_len("1e"), Some(1));
        assert_eq!(number_prefix_len("."), None);
        assert_eq!(number_prefix_len("-"), None);
        assert_eq!(number_prefix_len("abc"), None);
        assert_eq!(number_prefix_len(""), None);
    }

    #[test]
    fn exact() {
        assert_eq!(parse_number_exact("10"), Some(10.0));
        assert_eq!(parse_number_exact("-1.25"), Some(-1.25));
        assert_eq!(parse_number_exact("1e999"), None);
        assert_eq!(parse_number_exact("inf"), None);
        assert_eq!(parse_number_exact("NaN"), None);
        assert_eq!(parse_number_exact("10s"), None);
        assert_eq!(parse_number_exact("1,5"), None);
    }
}
