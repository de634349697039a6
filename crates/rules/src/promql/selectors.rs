//! Walking an expression: every node (the engine looks for `info()` calls), every selector
//! (what the promqltest runner checks loaded series against), and which monitors a rule reads
//! (so `serve` can evaluate it right after their checks).

use std::collections::BTreeSet;

use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, VectorSelector};

/// Calls `f` on `expr` and every expression inside it, parents first.
pub fn visit(expr: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(expr);
    match expr {
        Expr::Aggregate(a) => {
            visit(&a.expr, f);
            if let Some(p) = &a.param {
                visit(p, f);
            }
        }
        Expr::Unary(u) => visit(&u.expr, f),
        Expr::Binary(b) => {
            visit(&b.lhs, f);
            visit(&b.rhs, f);
        }
        Expr::Paren(p) => visit(&p.expr, f),
        Expr::Subquery(s) => visit(&s.expr, f),
        Expr::Call(c) => c.args.args.iter().for_each(|a| visit(a, f)),
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => {}
    }
}

/// Calls `f` on every vector selector of `expr` (those of matrix selectors included).
pub fn visit_selectors(expr: &Expr, f: &mut dyn FnMut(&VectorSelector)) {
    visit(expr, &mut |e| match e {
        Expr::VectorSelector(vs) => f(vs),
        Expr::MatrixSelector(ms) => f(&ms.vs),
        _ => {}
    });
}

/// The values some selector of `expr` requires `label` to equal (`label="value"`), e.g. the
/// monitors `periscope_check_status{monitor="disk"}` reads. Selectors that accept several
/// values (regexes, negations, or-ed matcher sets) add nothing.
pub fn required_values(expr: &Expr, label: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    visit_selectors(expr, &mut |vs| {
        if !vs.matchers.or_matchers.is_empty() {
            return;
        }
        for m in &vs.matchers.matchers {
            if m.name == label && matches!(m.op, MatchOp::Equal) {
                out.insert(m.value.clone());
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(query: &str) -> Vec<String> {
        let expr = crate::promql::parse(query).unwrap();
        required_values(&expr, "monitor").into_iter().collect()
    }

    #[test]
    fn equalities_on_the_label_are_found_in_every_position() {
        assert_eq!(
            values(r#"last_over_time(periscope_check_status{monitor="disk"}[1h]) > 0.5"#),
            ["disk"]
        );
        assert_eq!(
            values(
                r#"sum by (rule) (rate(periscope_log_matches{monitor="app"}[5m]))
                   / on() group_left max(up{monitor='db', job="x"})"#
            ),
            ["app", "db"]
        );
        assert_eq!(
            values(r#"max_over_time(x{monitor="sub"}[10m:1m] offset 5m)"#),
            ["sub"]
        );
    }

    #[test]
    fn selectors_that_accept_several_values_add_nothing() {
        assert!(values(r#"up{monitor=~"disk|db"}"#).is_empty());
        assert!(values(r#"up{monitor!="disk"}"#).is_empty());
        assert!(values(r#"up{job="x"} + vector(1)"#).is_empty());
    }
}
