//! Finding the modifier words, placing their markers, and the errors of misplaced ones.

use promql_parser::parser::Expr;

use super::*;
use crate::promql::selectors::visit_selectors;

/// The selectors of `query` (as parsed) in text order, each as `name` and its modifier.
fn modifiers(query: &str) -> Vec<(String, Option<RangeModifier>)> {
    let expr = crate::promql::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut out = Vec::new();
    visit_selectors(&expr, &mut |vs| {
        out.push((vs.name.clone().unwrap_or_default(), modifier_of(vs)));
    });
    out
}

fn failure(query: &str) -> String {
    match crate::promql::parse(query) {
        Ok(expr) => panic!("{query} parsed as {expr}"),
        Err(e) => e.to_string(),
    }
}

const A: Option<RangeModifier> = Some(RangeModifier::Anchored);
const S: Option<RangeModifier> = Some(RangeModifier::Smoothed);

#[test]
fn the_words_are_blanked_in_place_so_positions_are_kept() {
    let query = "increase(x[1m] anchored) + y SMOOTHED";
    let found = find(query);
    assert_eq!(found.blanked(), "increase(x[1m]         ) + y         ");
    assert_eq!(found.blanked().len(), query.len());
    assert_eq!(
        found.marked().unwrap(),
        r#"increase(x{__anchored__=""}[1m]         ) + y{__smoothed__=""}         "#
    );
}

#[test]
fn the_marker_goes_to_the_selector_the_modifier_follows() {
    assert_eq!(
        modifiers("rate(x[5m] smoothed) / rate(y[5m])"),
        [("x".into(), S), ("y".into(), None)]
    );
    assert_eq!(
        modifiers(r#"changes(x{job="a", le="1"}[5m] offset 1m anchored)"#),
        [("x".into(), A)]
    );
    assert_eq!(
        modifiers(r#"resets({__name__="x", job="a",}[5m] @ 100 anchored)"#),
        [(String::new(), A)]
    );
    assert_eq!(
        modifiers("x @ start() offset -5m smoothed + 0"),
        [("x".into(), S)]
    );
    assert_eq!(modifiers("x offset (1m + 1m) smoothed"), [("x".into(), S)]);
    // The same modifier twice says it once.
    assert_eq!(modifiers("x anchored anchored"), [("x".into(), A)]);
}

#[test]
fn the_words_are_left_to_the_parser_where_no_operand_precedes_them() {
    // The parser knows them as keywords only, so it refuses them as names; what matters is
    // that they are not taken for modifiers (and blanked) there.
    for query in [
        "sum by (anchored) (x)",
        "x and smoothed",
        "anchored",
        "x + (smoothed)",
        r#"label_replace(x{anchored="1"}, "smoothed", "$1", "a", "(.*)")"#,
        "rate(x[5m]) # anchored",
    ] {
        assert!(find(query).is_empty(), "{query}");
    }
    assert_eq!(
        modifiers(r#"label_replace(x{anchored="1"}, "smoothed", "$1", "a", "(.*)")"#),
        [("x".into(), None)]
    );
}

#[test]
fn a_marker_selects_every_series_the_selector_did() {
    let expr = crate::promql::parse(r#"x{job="a"} smoothed"#).unwrap();
    let Expr::VectorSelector(vs) = expr else {
        panic!("{expr}");
    };
    let sets = crate::promql::selector_matchers(&vs).unwrap();
    assert_eq!(sets.len(), 1);
    assert!(sets[0].iter().all(|m| !m.name.starts_with("__smoothed")));
    assert_eq!(sets[0].len(), 2, "{:?}", sets[0]);
}

#[test]
fn a_modifier_after_anything_but_a_selector_fails_where_it_stands() {
    let e = failure("max_over_time(rate(x[5m])[10m:1m] anchored)");
    assert!(
        e.contains("1:35: modifier \"anchored\" at 34:42: anchored modifier is not supported for subqueries"),
        "{e}"
    );
    let e = failure("sum(x)\n  smoothed");
    assert!(
        e.contains("2:3: modifier \"smoothed\" at 9:17: smoothed modifier not implemented"),
        "{e}"
    );
    let e = failure("(x[5m]) anchored");
    assert!(e.contains("anchored modifier not implemented"), "{e}");
    let e = failure("1 + 2 anchored");
    assert!(e.contains("anchored modifier not implemented"), "{e}");
    let e = failure("rate(x[5m] anchored smoothed)");
    assert!(
        e.contains("1:21: modifier \"smoothed\" at 20:28: anchored and smoothed modifiers cannot be used together"),
        "{e}"
    );
}

#[test]
fn a_syntax_error_elsewhere_is_the_parsers_at_the_querys_position() {
    let with = failure("rate(x[5m] anchored) + )");
    let without = failure("rate(x[5m]         ) + )");
    assert_eq!(with, without);
}

#[test]
fn printed_for_messages_the_modifier_reads_as_written() {
    let expr = crate::promql::parse("x[5m] anchored").unwrap();
    assert_eq!(display(&expr), "x[5m] anchored");
    let expr = crate::promql::parse(r#"x{a="b"} offset 1m smoothed"#).unwrap();
    assert_eq!(display(&expr), r#"x{a="b"} offset 1m smoothed"#);
    let expr = crate::promql::parse("rate(x[5m] smoothed)").unwrap();
    assert_eq!(display(&expr), "rate(x[5m])");
}
