//! Preparing `info()` calls for evaluation. `info(v, {selector})` enriches the series of `v`
//! with labels of info series (by default `target_info`), matched on `instance` and `job`.
//!
//! Before the query runs, each call's second argument is replaced by the selector of the info
//! series to read: the effective `__name__` matchers (see [`info_name_matchers`]) and the data
//! label matchers, with the `@` and offset under which `v` itself reads, so that the info
//! series are looked up at the same instant as the samples they enrich. The selector is then
//! fetched and evaluated like any other, and `functions::info` joins the two vectors.

use std::borrow::Cow;
use std::time::Duration;

use model::METRIC_NAME_LABEL;
use promql_parser::label::{MatchOp, Matcher, Matchers};
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use super::offset_ms;
use crate::promql::EvalError;
use crate::promql::query_text::INFO_SELECTOR_MARKER;
use crate::promql::selectors::visit;

/// The info metric used when the selector names none.
const TARGET_INFO: &str = "target_info";

/// `expr` with every `info()` call's second argument made the selector of its info series;
/// borrowed unchanged when there is no `info()` call.
pub(super) fn with_info_selectors(expr: &Expr) -> Result<Cow<'_, Expr>, EvalError> {
    if !has_info_call(expr) {
        return Ok(Cow::Borrowed(expr));
    }
    let mut owned = expr.clone();
    rewrite(&mut owned)?;
    Ok(Cow::Owned(owned))
}

fn has_info_call(expr: &Expr) -> bool {
    let mut found = false;
    visit(expr, &mut |e| {
        found |= matches!(e, Expr::Call(c) if c.func.name == "info");
    });
    found
}

fn rewrite(expr: &mut Expr) -> Result<(), EvalError> {
    match expr {
        Expr::Aggregate(a) => {
            rewrite(&mut a.expr)?;
            if let Some(p) = &mut a.param {
                rewrite(p)?;
            }
        }
        Expr::Unary(u) => rewrite(&mut u.expr)?,
        Expr::Binary(b) => {
            rewrite(&mut b.lhs)?;
            rewrite(&mut b.rhs)?;
        }
        Expr::Paren(p) => rewrite(&mut p.expr)?,
        Expr::Subquery(s) => rewrite(&mut s.expr)?,
        Expr::Call(c) => {
            for a in &mut c.args.args {
                rewrite(a)?;
            }
            if c.func.name == "info" {
                let args = &mut c.args.args;
                let Some(base) = args.first() else {
                    return Err(EvalError::Invalid(
                        "info() needs an instant vector to enrich".into(),
                    ));
                };
                let selector = info_series_selector(base, args.get(1).map(|a| &**a))?;
                args.truncate(1);
                args.push(Box::new(Expr::VectorSelector(selector)));
            }
        }
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => {}
    }
    Ok(())
}

/// The selector of the info series for `info(base, labels)`.
fn info_series_selector(base: &Expr, labels: Option<&Expr>) -> Result<VectorSelector, EvalError> {
    let given: Vec<Matcher> = match labels {
        None => Vec::new(),
        Some(Expr::VectorSelector(vs)) => {
            let mut all: Vec<Matcher> = vs
                .name
                .iter()
                .map(|n| Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, n))
                .collect();
            all.extend(
                vs.matchers
                    .matchers
                    .iter()
                    .filter(|m| m.name != INFO_SELECTOR_MARKER)
                    .cloned(),
            );
            if !vs.matchers.or_matchers.is_empty() {
                return Err(EvalError::Invalid(format!(
                    "info(): the label selector {vs} may not use \"or\""
                )));
            }
            all
        }
        Some(other) => {
            return Err(EvalError::Invalid(format!(
                "info(): the second argument must be a label selector such as {{k8s_cluster_name=~\".+\"}}, got {other}"
            )));
        }
    };
    let (names, data): (Vec<Matcher>, Vec<Matcher>) =
        given.into_iter().partition(|m| m.name == METRIC_NAME_LABEL);
    let mut matchers = info_name_matchers(names)?;
    matchers.extend(data);
    let (at, offset) = reference(base).unwrap_or((None, 0));
    let mut selector = VectorSelector::new(None, Matchers::new(matchers));
    selector.at = at;
    selector.offset = match offset {
        0 => None,
        ms if ms > 0 => Some(Offset::Pos(Duration::from_millis(ms.unsigned_abs()))),
        ms => Some(Offset::Neg(Duration::from_millis(ms.unsigned_abs()))),
    };
    Ok(selector)
}

/// The `__name__` matchers that pick info series, as Prometheus resolves them: `target_info`
/// when none is given; when only negative ones are given, every `*_info` metric they let
/// through (a negative matcher alone would take any metric for an info metric); otherwise all
/// of them, each of which must match.
fn info_name_matchers(given: Vec<Matcher>) -> Result<Vec<Matcher>, EvalError> {
    if given.is_empty() {
        return Ok(vec![Matcher::new(
            MatchOp::Equal,
            METRIC_NAME_LABEL,
            TARGET_INFO,
        )]);
    }
    let positive = given
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal | MatchOp::Re(_)));
    if positive {
        return Ok(given);
    }
    let any_info = regex::Regex::new("^(?:.+_info)$")
        .map_err(|e| EvalError::Invalid(format!("info(): building the *_info matcher: {e}")))?;
    let mut out = vec![Matcher::new(
        MatchOp::Re(any_info),
        METRIC_NAME_LABEL,
        ".+_info",
    )];
    out.extend(given);
    Ok(out)
}

/// The `@` and total offset (ms) under which the first selector of `expr` reads, following
/// subqueries: an inner `@` wins and only the offsets inside it count; without one, every
/// offset on the way adds up. `None` when `expr` reads no selector.
fn reference(expr: &Expr) -> Option<(Option<AtModifier>, i64)> {
    match expr {
        Expr::VectorSelector(vs) => Some((vs.at.clone(), offset_ms(vs.offset.as_ref()))),
        Expr::MatrixSelector(ms) => Some((ms.vs.at.clone(), offset_ms(ms.vs.offset.as_ref()))),
        Expr::Subquery(sq) => {
            let (inner_at, inner_offset) = reference(&sq.expr)?;
            if inner_at.is_some() {
                return Some((inner_at, inner_offset));
            }
            Some((
                sq.at.clone(),
                offset_ms(sq.offset.as_ref()).saturating_add(inner_offset),
            ))
        }
        Expr::Paren(p) => reference(&p.expr),
        Expr::Unary(u) => reference(&u.expr),
        Expr::Binary(b) => reference(&b.lhs).or_else(|| reference(&b.rhs)),
        Expr::Aggregate(a) => reference(&a.expr),
        Expr::Call(c) => c.args.args.iter().find_map(|a| reference(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_selector_of(query: &str) -> String {
        let expr = crate::promql::parse(query).unwrap();
        let prepared = with_info_selectors(&expr).unwrap();
        let Expr::Call(c) = prepared.as_ref() else {
            panic!("{query} is not a call");
        };
        c.args.args[1].to_string()
    }

    #[test]
    fn the_default_info_metric_is_target_info() {
        assert_eq!(
            info_selector_of("info(metric)"),
            r#"{__name__="target_info"}"#
        );
        let text = info_selector_of(r#"info(metric, {data=~".*"})"#);
        assert_eq!(text, r#"{__name__="target_info",data=~".*"}"#);
        assert!(!text.contains(INFO_SELECTOR_MARKER), "{text}");
    }

    #[test]
    fn negative_name_matchers_alone_pick_among_info_metrics() {
        let text = info_selector_of(r#"info(metric, {__name__!="target_info"})"#);
        assert_eq!(text, r#"{__name__!="target_info",__name__=~".+_info"}"#);
        let text = info_selector_of(r#"info(metric, {__name__=~"a.+", __name__!~"ab.*"})"#);
        assert_eq!(text, r#"{__name__!~"ab.*",__name__=~"a.+"}"#);
    }

    #[test]
    fn info_series_read_where_the_base_reads() {
        let text = info_selector_of("info(metric offset 1m)");
        assert!(text.ends_with("offset 1m"), "{text}");
        let text = info_selector_of("info(last_over_time((metric offset 1m)[10m:1m] @ 180))");
        assert!(text.ends_with("@ 180.000 offset 1m"), "{text}");
        let text = info_selector_of("info(last_over_time(metric[5m:1m] offset 6m))");
        assert!(text.ends_with("offset 6m"), "{text}");
        assert!(!text.contains('@'), "{text}");
        let text = info_selector_of("info(vector(1))");
        assert_eq!(text, r#"{__name__="target_info"}"#);
    }

    #[test]
    fn a_second_argument_that_is_not_a_selector_is_refused() {
        let expr = crate::promql::parse("info(metric, metric + 1)").unwrap();
        let err = with_info_selectors(&expr).unwrap_err().to_string();
        assert!(err.contains("label selector"), "{err}");
    }
}
