//! The rewriter: which texts are duration expressions, what they compute to, and the errors.

use super::*;

fn rewritten(query: &str, context: DurationContext) -> String {
    rewrite(query, context)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .into_owned()
}

fn instant(query: &str) -> String {
    rewritten(query, DurationContext::INSTANT)
}

/// Asserts that `query` rewrites to `expected` up to spacing, and keeps its length.
fn becomes(query: &str, context: DurationContext, expected: &str) {
    let text = rewritten(query, context);
    let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(words(&text), words(expected), "{query} became {text:?}");
    assert_eq!(text.len(), query.len(), "{query} became {text:?}");
}

fn failure(query: &str, context: DurationContext) -> String {
    match rewrite(query, context) {
        Ok(text) => panic!("{query} was rewritten to {text:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

const STEP_10S: DurationContext = DurationContext {
    step_ms: 10_000,
    range_ms: 10_000,
};

#[test]
fn arithmetic_in_a_range_becomes_its_duration_and_keeps_the_length() {
    let i = DurationContext::INSTANT;
    becomes("changes(x[26m+4m])", i, "changes(x[30m ])");
    becomes("x[2m*(10+5)]", i, "x[30m ]");
    becomes("x[24m+((1.5*2m)+2m)]", i, "x[29m ]");
    becomes("x[-5m+35m]", i, "x[30m ]");
    becomes("x[1h/2]", i, "x[30m ]");
    becomes("x[1h30m % 1h]", i, "x[30m ]");
    // `%` binds tighter than `-`.
    becomes("x[30m1s-30m1s % 1m]", i, "x[30m ]");
    becomes("x[(9m30s+30s)*3]", i, "x[30m ]");
    // Numbers are seconds; a longer result than the text is written out anyway.
    becomes("x[60*30]", i, "x[30m ]");
    assert_eq!(instant("x[1h/7]"), "x[8m34s285ms]");
}

#[test]
fn plain_durations_and_text_elsewhere_are_left_alone() {
    for query in [
        "rate(x[5m])",
        "x[1800]",
        "x offset 5m",
        "x offset -5m",
        r#"x{a=~"[0-9]+m*2", offset="1"}"#,
        r#"label_replace(x, "a", "offset (1m+1m)", "b", "[2m*3]")"#,
        "sum by (offset) (x)",
        "x[5m:]",
        "x # offset (1m + 1m)",
        "offset_total offset 1m",
    ] {
        assert_eq!(instant(query), query);
        assert!(matches!(
            rewrite(query, DurationContext::INSTANT),
            Ok(Cow::Borrowed(_))
        ));
    }
}

#[test]
fn subquery_range_and_step_are_computed_separately() {
    assert_eq!(
        instant("sum_over_time(m[29s+1s:5s+5s])"),
        "sum_over_time(m[30s   :10s  ])"
    );
    let text = instant("m[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms]");
    assert_eq!(text.split_whitespace().collect::<String>(), "m[30s:10s]");
}

#[test]
fn an_offset_ends_after_a_literal_a_call_or_a_signed_parenthesis() {
    let i = DurationContext::INSTANT;
    // `offset 100 + 2` is `(x offset 100) + 2`: nothing to rewrite.
    assert_eq!(instant("x offset 100 + 2"), "x offset 100 + 2");
    assert_eq!(instant("x offset -2 ^ 2"), "x offset -2 ^ 2");
    becomes("x offset (100 + 2)", i, "x offset 1m42s");
    becomes("x offset (-2 ^ 2)", i, "x offset -4s");
    becomes("x offset step()*0", STEP_10S, "x offset 10s *0");
    becomes(
        "x offset -min_of(step(), 1s)+8000",
        STEP_10S,
        "x offset -1s +8000",
    );
    becomes(
        "x offset -(min_of(step(), 2s)-5)+8000",
        STEP_10S,
        "x offset 3s +8000",
    );
    becomes("x offset (STEP()/10)", STEP_10S, "x offset 1s");
}

#[test]
fn an_unsigned_parenthesis_after_offset_may_go_on_with_arithmetic() {
    let i = DurationContext::INSTANT;
    becomes("x offset (1m) * 2", i, "x offset 2m");
    // So `+ y` goes on with the duration, and fails, as in Prometheus.
    let e = failure("x offset (1m) * 2 + y", i);
    assert!(e.contains("20:21 (\"y\"): unexpected character"), "{e}");
}

#[test]
fn step_and_range_come_from_the_query() {
    let range = DurationContext::range_query(50_000, 60_000, 5_000);
    assert_eq!(
        range,
        DurationContext {
            step_ms: 5_000,
            range_ms: 10_000
        }
    );
    becomes("c(m[step()+1])", range, "c(m[6s ])");
    becomes("c(m[STep()*2])", range, "c(m[10s ])");
    becomes("m offset range()", range, "m offset 10s");
    becomes("c(m[max_of(min_of(step()+1,1h),1ms)])", range, "c(m[6s ])");
    // A fraction of a millisecond is dropped, as Prometheus truncates.
    becomes("c(m[step()+1ms])", range, "c(m[5s1ms ])");
}

#[test]
fn a_zero_offset_is_no_offset() {
    // An instant query's range() is zero; the parser refuses `offset 0s`, so the offset goes.
    assert_eq!(instant("m offset range()"), "m               ");
    assert_eq!(instant("m offset 0"), "m         ");
}

#[test]
fn bad_durations_name_the_problem_and_where() {
    let e = failure("x[5m/0]", DurationContext::INSTANT);
    assert!(e.contains("division by zero"), "{e}");
    assert!(e.contains("2:6"), "{e}");
    assert!(e.contains("\"5m/0\""), "{e}");
    let e = failure("x[5m%(1-1)]", DurationContext::INSTANT);
    assert!(e.contains("modulo by zero"), "{e}");
    let e = failure("x[1m-2m]", DurationContext::INSTANT);
    assert!(e.contains("greater than 0"), "{e}");
    // In an instant query step() is zero, so it cannot be a range.
    let e = failure("x[step()]", DurationContext::INSTANT);
    assert!(e.contains("greater than 0"), "{e}");
    let e = failure("x[1m + foo]", DurationContext::INSTANT);
    assert!(e.contains("7:8 (\"f\"): unexpected character"), "{e}");
    let e = failure("x offset (1m + 1x)", DurationContext::INSTANT);
    assert!(e.contains("not a valid duration"), "{e}");
    let e = failure("x[min_of(1m)]", DurationContext::INSTANT);
    assert!(e.contains("(\")\"): unexpected character"), "{e}");
}

#[test]
fn rewritten_queries_parse_to_the_durations_computed() {
    let expr = crate::promql::parse("changes(x[26m+4m]) + y offset (1h - 5m)").unwrap();
    let text = expr.to_string();
    assert!(text.contains("x[30m]"), "{text}");
    assert!(text.contains("y offset 55m"), "{text}");
    let range = DurationContext::range_query(0, 60_000, 15_000);
    let expr = crate::promql::parse_for("x offset -step() * 2", range).unwrap();
    assert_eq!(expr.to_string(), "x offset -15s * 2");
}
