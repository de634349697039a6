//! Unit tests of the pieces of rule file validation that the file-level tests reach only
//! indirectly: the duration parser and the PromQL hints.

use std::time::Duration;

use super::validate::promql_hint;
use super::{DurationError, parse_duration};

#[test]
fn durations_parse_as_prometheus_parses_them() {
    let ms = |n: u64| Ok(Duration::from_millis(n));
    assert_eq!(parse_duration("0"), ms(0));
    assert_eq!(parse_duration("0s"), ms(0));
    assert_eq!(parse_duration("500ms"), ms(500));
    assert_eq!(parse_duration("5m"), ms(300_000));
    assert_eq!(parse_duration("1h30m"), ms(5_400_000));
    assert_eq!(parse_duration("1d"), ms(86_400_000));
    assert_eq!(parse_duration("1w"), ms(604_800_000));
    assert_eq!(parse_duration("1y"), ms(31_536_000_000));
    assert_eq!(parse_duration("1m1s1ms"), ms(61_001));
    assert_eq!(parse_duration(""), Err(DurationError::Empty));
    for bad in [
        "5", "1s1m", "1h1h", "1.5s", "-1s", " 1s", "1s ", "1S", "1mo", "s", "1ms1s",
    ] {
        assert_eq!(
            parse_duration(bad),
            Err(DurationError::Invalid(bad.into())),
            "{bad}"
        );
    }
    assert!(matches!(
        parse_duration("300000000y"),
        Err(DurationError::OutOfRange(_))
    ));
    let message = DurationError::Invalid("5".into()).to_string();
    assert!(
        message.contains("\"5\"") && message.contains("\"1h30m\""),
        "{message}"
    );
}

#[test]
fn promql_hints_point_at_the_likely_mistake() {
    assert_eq!(
        promql_hint("sum(rate(x[5m])").as_deref(),
        Some("'(' is never closed")
    );
    assert_eq!(
        promql_hint("x{a=\"b\"").as_deref(),
        Some("'{' is never closed")
    );
    assert_eq!(promql_hint("x)").as_deref(), Some("unbalanced ')'"));
    assert_eq!(
        promql_hint("x{a=\"b}").as_deref(),
        Some("unterminated string")
    );
    assert!(
        promql_hint("test +")
            .unwrap()
            .contains("ends with an operator")
    );
    assert!(
        promql_hint("a and")
            .unwrap()
            .contains("ends with an operator")
    );
    assert_eq!(promql_hint("x{a=\"(\"} > bool 1"), None);
    assert_eq!(promql_hint("vendor_error"), None);
}
