//! Numbers of the text formats: sample values, OpenMetrics timestamps (seconds) and the exact
//! conversion of a decimal seconds value to milliseconds.
//!
//! The grammar is OpenMetrics' `number`: a decimal real number with optional exponent, or
//! `[+-]Inf`/`[+-]Infinity`/`NaN` in any case. Hex floats, `_` separators and the like are
//! refused in both modes: they are not in either format, and accepting them would make the
//! formats differ from what other readers of the same payload see.

/// True when `b` is a decimal real number: `[+-]digits[.digits][e[+-]digits]`, with digits on at
/// least one side of the point.
pub(crate) fn is_realnumber(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// A sample value: a real number, `[+-]Inf`, `[+-]Infinity` or `NaN` (any case).
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if is_realnumber(b) {
        return s.parse().ok();
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        })
    } else if s.eq_ignore_ascii_case("nan") {
        Some(f64::NAN)
    } else {
        None
    }
}

/// An OpenMetrics timestamp (seconds since the epoch, a real number), as
/// `(seconds as f64, milliseconds)`. The f64 orders timestamps; the milliseconds are exact
/// (decimal arithmetic, no float rounding), floored, and clamped to the `i64` range.
pub(crate) fn parse_seconds(s: &str) -> Option<(f64, i64)> {
    if !is_realnumber(s.as_bytes()) {
        return None;
    }
    Some((s.parse().ok()?, seconds_to_millis(s)))
}

/// Exact decimal `s` seconds (already checked by [`is_realnumber`]) in whole milliseconds,
/// rounded down, clamped to `i64`.
fn seconds_to_millis(s: &str) -> i64 {
    let b = s.as_bytes();
    let negative = b.first() == Some(&b'-');
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], parse_exponent(&body[i + 1..])),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // Each digit's power of ten, in milliseconds: the last fraction digit has power
    // `exponent + 3 - frac_len`.
    let frac_len = i64::try_from(frac_part.len()).unwrap_or(i64::MAX);
    let last_power = exponent.saturating_add(3).saturating_sub(frac_len);
    let digits = int_part.bytes().chain(frac_part.bytes());
    let count = i64::try_from(int_part.len() + frac_part.len()).unwrap_or(i64::MAX);
    let mut whole: i128 = 0;
    let mut fraction_left = false;
    for (k, d) in digits.enumerate() {
        let k = i64::try_from(k).unwrap_or(i64::MAX);
        let power = (count - 1 - k).saturating_add(last_power);
        let d = i128::from(d - b'0');
        if power >= 0 {
            whole = whole.saturating_mul(10).saturating_add(d);
        } else if d != 0 {
            fraction_left = true;
        }
    }
    if last_power > 0 && whole != 0 {
        for _ in 0..last_power.min(40) {
            whole = whole.saturating_mul(10);
        }
    }
    let signed = if negative {
        -whole - i128::from(fraction_left)
    } else {
        whole
    };
    i64::try_from(signed).unwrap_or(if negative { i64::MIN } else { i64::MAX })
}

/// A decimal exponent, saturating (an exponent beyond ±10^6 clamps the result anyway).
fn parse_exponent(s: &str) -> i64 {
    let negative = s.starts_with('-');
    let digits = s.trim_start_matches(['+', '-']);
    let mut v: i64 = 0;
    for d in digits.bytes() {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        v = v.min(1_000_000);
    }
    if negative { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_numbers_follow_the_openmetrics_grammar() {
        for ok in [
            "1", "-1", "+1.5", "1.", ".5", "1e5", "1.5E-3", "0001", "1.e2",
        ] {
            assert!(is_realnumber(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", ".", "e5", "1e", "1.1.1", "0x1", "1_2", "1z", "Inf", "NaN", "1 ", "+",
        ] {
            assert!(!is_realnumber(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn values_include_infinities_and_nan_in_any_case() {
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value("inf"), Some(f64::INFINITY));
        assert!(parse_value("NaN").unwrap().is_nan());
        assert!(parse_value("nan").unwrap().is_nan());
        assert_eq!(parse_value("+NaN"), None);
        assert_eq!(parse_value("0x1p-3"), None);
        assert_eq!(
            parse_value("9223372036854775808"),
            Some(9.223372036854776e18)
        );
    }

    #[test]
    fn seconds_become_exact_milliseconds() {
        let ms = |s| parse_seconds(s).unwrap().1;
        assert_eq!(ms("1520879607.789"), 1_520_879_607_789);
        assert_eq!(ms("1.520430000123e+09"), 1_520_430_000_123);
        assert_eq!(ms("1.5e3"), 1_500_000);
        assert_eq!(ms("0.0000000001"), 0);
        assert_eq!(ms("000"), 0);
        assert_eq!(ms("-1.5"), -1500);
        assert_eq!(ms("-0.0001"), -1); // floored, so order is kept
        assert_eq!(ms("-1.1"), -1100);
        assert_eq!(ms("12345678901234567890.1234567890"), i64::MAX);
        assert_eq!(ms("1e999999999999"), i64::MAX);
        assert_eq!(ms("-1e400"), i64::MIN);
        assert_eq!(ms("1e-400"), 0);
        assert_eq!(ms("123"), 123_000);
        assert_eq!(parse_seconds("Inf"), None);
        assert_eq!(parse_seconds("1z"), None);
    }
}
