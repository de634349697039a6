//! Prometheus durations (`1h30m`, `5m`, `0`, `1d`, `1w`, `1y`, `500ms`), parsed as Prometheus'
//! `model.ParseDuration` does (shared by rule files, routes, escalation steps and every other
//! duration in the config): units from largest to smallest, each at most once, integers only,
//! `d` = 24h, `w` = 7d, `y` = 365d.

use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing was given.
    Empty,
    /// The text is not `<number><unit>...` with units y, w, d, h, m, s, ms in that order.
    Invalid(String),
    /// The duration does not fit in 64-bit milliseconds.
    OutOfRange(String),
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurationError::Empty => f.write_str("empty duration string"),
            DurationError::Invalid(text) => write!(
                f,
                "not a valid duration string: {text:?} (write e.g. \"90s\", \"5m\", \"1h30m\", \"1d\"; units y, w, d, h, m, s, ms, largest first, each once)"
            ),
            DurationError::OutOfRange(text) => write!(f, "duration out of range: {text:?}"),
        }
    }
}

impl std::error::Error for DurationError {}

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration such as `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid(text.to_string());
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::OutOfRange(text.to_string()))?;
        rest = &rest[digits..];
        let letters = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let index = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(invalid)?
            + next_unit;
        next_unit = index + 1;
        let ms = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total.checked_add(ms))
            .filter(|ms| i64::try_from(*ms).is_ok())
            .ok_or_else(|| DurationError::OutOfRange(text.to_string()))?;
        total = ms;
    }
    Ok(Duration::from_millis(total))
}

/// A duration as the config writes it, the inverse of [`parse_duration`]: `1h30m`, `90ms`,
/// `1w`, `0s`. Sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_writes_what_parsing_reads() {
        for (ms, text) in [
            (0, "0s"),
            (250, "250ms"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
            (5_400_000, "1h30m"),
            (8 * 24 * 3_600_000, "1w1d"),
            (1_500, "1s500ms"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_whole_millisecond_duration_round_trips(ms in 0u64..(i64::MAX as u64)) {
            let d = Duration::from_millis(ms);
            proptest::prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
