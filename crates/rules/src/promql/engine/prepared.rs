//! Expressions evaluated again and again (a rule's, at every evaluation of its group): the
//! label matchers of their selectors are converted to the store's terms once, when the
//! expression is prepared, instead of at every evaluation (a few string copies per matcher,
//! a sizeable share of a simple rule's evaluation).

use model::{Matcher, Querier};
use promql_parser::parser::{Expr, VectorSelector};

use super::fetch::matcher_sets;
use super::{Engine, Evaluator, info};
use crate::promql::selectors::visit_selectors;
use crate::promql::{EvalError, Value};

/// The matcher sets of the selectors of one expression, by the address of the selector node.
pub(super) type KnownMatchers = [(usize, Vec<Vec<Matcher>>)];

/// A parsed expression with its selectors' matchers converted.
#[derive(Debug)]
pub struct PreparedExpr {
    /// Boxed so that the nodes' addresses, which key `matchers`, stay put when this moves.
    expr: Box<Expr>,
    /// Selectors whose matchers convert without error; the others are converted (and fail)
    /// when evaluated, as unprepared expressions are.
    matchers: Vec<(usize, Vec<Vec<Matcher>>)>,
}

impl PreparedExpr {
    /// Prepares `expr`.
    pub fn new(expr: Expr) -> Self {
        let expr = Box::new(expr);
        let mut matchers = Vec::new();
        visit_selectors(&expr, &mut |vs| {
            if let Ok(sets) = matcher_sets(vs) {
                matchers.push((address(vs), sets));
            }
        });
        PreparedExpr { expr, matchers }
    }

    /// The expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

/// The key of a selector node in [`KnownMatchers`].
pub(super) fn address(vs: &VectorSelector) -> usize {
    std::ptr::from_ref(vs) as usize
}

impl Engine {
    /// [`Engine::instant`] of a prepared expression.
    pub fn instant_prepared(
        &self,
        querier: &dyn Querier,
        prepared: &PreparedExpr,
        t: i64,
    ) -> Result<Value, EvalError> {
        // An `info()` call rewrites the expression into a copy, whose selectors are not the
        // prepared ones: those are converted as they are met.
        let expr = info::with_info_selectors(&prepared.expr)?;
        let ev = Evaluator::prepare(self.options, querier, &expr, t, t, 0, &prepared.matchers)?;
        let mut value = ev.eval(&expr, t)?;
        crate::promql::name_drop::finish_value(&mut value)?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use model::Labels;

    use super::*;
    use crate::promql;
    use crate::promqltest::MemoryQuerier;

    #[test]
    fn a_prepared_expression_gives_what_the_expression_gives() {
        let mut q = MemoryQuerier::new();
        for (job, v) in [("api", 1.0), ("web", 5.0), ("db", 3.0)] {
            let labels = Labels::new().with("__name__", "up").with("job", job);
            for t in 0..5 {
                q.add_sample(&labels, t * 60_000, v * t as f64);
            }
        }
        let target = Labels::new()
            .with("__name__", "target_info")
            .with("job", "web")
            .with("team", "a");
        q.add_sample(&target, 240_000, 1.0);
        let engine = Engine::default();
        for text in [
            r#"up{job=~"api|web"} > 2"#,
            "rate(up[3m]) * 2",
            // Two selectors of one name: each must read with its own matchers.
            r#"up{job="web"} - on() up{job="api"}"#,
            r#"sum by (job) (up{job!="db"}) or vector(7)"#,
            // Rewritten before it runs: the copy's selectors are converted as they are met.
            r#"info(up, {team="a"})"#,
        ] {
            let expr = promql::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let plain = engine
                .instant(&q, &expr, 240_000)
                .map_err(|e| e.to_string());
            let prepared = PreparedExpr::new(expr.clone());
            assert_eq!(prepared.expr(), &expr);
            // Moved after preparing, as a rule group moves its rules.
            let moved = Box::new(prepared);
            let got = engine
                .instant_prepared(&q, &moved, 240_000)
                .map_err(|e| e.to_string());
            assert_eq!(got, plain, "{text}");
            assert!(
                matches!(plain, Ok(Value::Vector(ref v)) if !v.is_empty()),
                "{text}: {plain:?}"
            );
        }
    }
}
