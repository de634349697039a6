//! The evaluator's side of the `anchored` and `smoothed` modifiers: which functions take a
//! modified range (the others refuse it, as Prometheus does, before reading any data), and how
//! far past its window a modified selector reads. The arithmetic is `functions::extended`.

use promql_parser::parser::{Call, Expr};

use crate::promql::query_text::modifier_of;
use crate::promql::{EvalError, RangeModifier};

/// The functions an anchored range may be given to, in the order messages list them.
const ANCHORED_FUNCTIONS: [&str; 5] = ["changes", "delta", "increase", "rate", "resets"];

/// The functions a smoothed range may be given to.
const SMOOTHED_FUNCTIONS: [&str; 3] = ["delta", "increase", "rate"];

/// The modifier of a range selector argument (parentheses looked through).
pub(super) fn of_range_argument(arg: &Expr) -> Option<RangeModifier> {
    match arg {
        Expr::MatrixSelector(ms) => modifier_of(&ms.vs),
        Expr::Paren(p) => of_range_argument(&p.expr),
        _ => None,
    }
}

/// Fails when `call` is given a modified range it does not take (Prometheus' message).
pub(super) fn check_call(call: &Call) -> Result<(), EvalError> {
    let name = call.func.name;
    for arg in &call.args.args {
        let Some(modifier) = of_range_argument(arg) else {
            continue;
        };
        let allowed: &[&str] = match modifier {
            RangeModifier::Anchored => &ANCHORED_FUNCTIONS,
            RangeModifier::Smoothed => &SMOOTHED_FUNCTIONS,
        };
        if !allowed.contains(&name) {
            return Err(EvalError::Invalid(format!(
                "{} modifier can only be used with: {} - not with {name}",
                modifier.keyword(),
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// How far before a range selector's window and after its end the selector reads, in
/// milliseconds: one lookback before for both modifiers, one after when smoothed.
pub(super) fn range_margins(modifier: Option<RangeModifier>, lookback_ms: i64) -> (i64, i64) {
    match modifier {
        None => (0, 0),
        Some(RangeModifier::Anchored) => (lookback_ms, 0),
        Some(RangeModifier::Smoothed) => (lookback_ms, lookback_ms),
    }
}

/// How far after its instant an instant selector reads: a smoothed one looks one lookback
/// ahead for the sample to interpolate towards.
pub(super) fn instant_margin_after(modifier: Option<RangeModifier>, lookback_ms: i64) -> i64 {
    match modifier {
        Some(RangeModifier::Smoothed) => lookback_ms,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_of(query: &str) -> Call {
        match crate::promql::parse(query).unwrap() {
            Expr::Call(c) => c,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn only_the_functions_prometheus_allows_take_a_modified_range() {
        for ok in [
            "rate(x[5m] anchored)",
            "changes((x[5m] anchored))",
            "resets(x[5m] anchored)",
            "delta(x[5m] smoothed)",
            "increase(x[5m] smoothed)",
            "max_over_time(x[5m])",
        ] {
            assert!(check_call(&call_of(ok)).is_ok(), "{ok}");
        }
        let err = check_call(&call_of("resets(x[5m] smoothed)")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "smoothed modifier can only be used with: delta, increase, rate - not with resets"
        );
        let err = check_call(&call_of("predict_linear(x[5m] anchored, 4)")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "anchored modifier can only be used with: changes, delta, increase, rate, resets - \
             not with predict_linear"
        );
    }
}
