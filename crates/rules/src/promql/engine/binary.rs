//! Binary operators: arithmetic, comparisons (filtering or `bool`), set operators, and vector
//! matching (`on`, `ignoring`, `group_left`, `group_right`) with Prometheus' errors for
//! ambiguous matches.

use std::collections::{HashMap, HashSet};

use model::Labels;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB, TokenId,
};
use promql_parser::parser::{BinModifier, BinaryExpr, VectorMatchCardinality};

use super::labels::{self, Grouping};
use super::{Evaluator, value_name};
use crate::promql::name_drop::{self, DROP_NAME_LABEL};
use crate::promql::{EvalError, InstantSample, Value, Vector};

/// Evaluates `lhs op rhs` at `t`.
pub(super) fn eval(ev: &Evaluator, b: &BinaryExpr, t: i64) -> Result<Value, EvalError> {
    let op = b.op.id();
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    match (lhs, rhs) {
        (Value::Scalar { v: l, .. }, Value::Scalar { v: r, .. }) => {
            let v = match compare(op, l, r) {
                Some(keep) => f64::from(u8::from(keep)),
                None => arithmetic(op, l, r)?,
            };
            Ok(Value::Scalar { t, v })
        }
        (Value::Vector(v), Value::Scalar { v: s, .. }) => {
            vector_scalar(v, s, op, return_bool, false, t).map(Value::Vector)
        }
        (Value::Scalar { v: s, .. }, Value::Vector(v)) => {
            vector_scalar(v, s, op, return_bool, true, t).map(Value::Vector)
        }
        (Value::Vector(l), Value::Vector(r)) => {
            let modifier = b.modifier.as_ref();
            match op {
                T_LAND | T_LOR | T_LUNLESS => Ok(Value::Vector(set_op(op, l, r, modifier, t))),
                _ => vector_vector(l, r, op, modifier, t).map(Value::Vector),
            }
        }
        (l, r) => Err(EvalError::Invalid(format!(
            "binary operator \"{}\" is not defined between {} and {}",
            b.op,
            value_name(&l),
            value_name(&r)
        ))),
    }
}

/// The result of a comparison operator, or `None` when `op` is not one.
fn compare(op: TokenId, l: f64, r: f64) -> Option<bool> {
    Some(match op {
        T_EQLC => l == r,
        T_NEQ => l != r,
        T_GTR => l > r,
        T_LSS => l < r,
        T_GTE => l >= r,
        T_LTE => l <= r,
        _ => return None,
    })
}

/// The result of an arithmetic operator (Go's `math.Mod` and `math.Pow` semantics, which Rust's
/// `%` and `powf` share).
fn arithmetic(op: TokenId, l: f64, r: f64) -> Result<f64, EvalError> {
    Ok(match op {
        T_ADD => l + r,
        T_SUB => l - r,
        T_MUL => l * r,
        T_DIV => l / r,
        T_MOD => l % r,
        T_POW => l.powf(r),
        T_ATAN2 => l.atan2(r),
        _ => {
            return Err(EvalError::Invalid(format!(
                "operator {} is not an arithmetic operator",
                promql_parser::parser::token::TokenType::new(op)
            )));
        }
    })
}

/// `vector op scalar` (or `scalar op vector` when `swapped`). Comparisons filter and keep the
/// vector's value and metric name; arithmetic and `bool` mark the name for removal.
fn vector_scalar(
    mut v: Vector,
    s: f64,
    op: TokenId,
    return_bool: bool,
    swapped: bool,
    t: i64,
) -> Result<Vector, EvalError> {
    let comparison = is_comparison(op);
    if comparison && !return_bool {
        v.retain(|sample| {
            let (l, r) = ordered(sample.value, s, swapped);
            compare(op, l, r).unwrap_or(false)
        });
        for sample in &mut v {
            sample.t = t;
        }
        return Ok(v);
    }
    for sample in &mut v {
        let (l, r) = ordered(sample.value, s, swapped);
        sample.value = match compare(op, l, r) {
            Some(keep) => f64::from(u8::from(keep)),
            None => arithmetic(op, l, r)?,
        };
        sample.t = t;
        name_drop::mark(&mut sample.labels);
    }
    crate::promql::numeric::ensure_unique(&v)?;
    Ok(v)
}

/// `(vector value, scalar)` in the operator's order.
fn ordered(vector_value: f64, scalar: f64, swapped: bool) -> (f64, f64) {
    if swapped {
        (scalar, vector_value)
    } else {
        (vector_value, scalar)
    }
}

/// True for `==`, `!=`, `>`, `<`, `>=`, `<=`.
fn is_comparison(op: TokenId) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

/// `and`, `or`, `unless`: the samples of one side whose match group does (or does not) occur
/// on the other side, labels untouched.
fn set_op(op: TokenId, lhs: Vector, rhs: Vector, modifier: Option<&BinModifier>, t: i64) -> Vector {
    let grouping = Grouping::of(modifier.and_then(|m| m.matching.as_ref()));
    let mut out = match op {
        T_LAND | T_LUNLESS => {
            let want = op == T_LAND;
            if rhs.is_empty() {
                if want { Vector::new() } else { lhs }
            } else {
                let right: HashSet<Vec<&str>> =
                    rhs.iter().map(|s| grouping.signature(&s.labels)).collect();
                lhs.into_iter()
                    .filter(|s| right.contains(&grouping.signature(&s.labels)) == want)
                    .collect()
            }
        }
        _ => {
            if lhs.is_empty() {
                rhs
            } else if rhs.is_empty() {
                lhs
            } else {
                let left: HashSet<Vec<&str>> =
                    lhs.iter().map(|s| grouping.signature(&s.labels)).collect();
                let extra: Vec<InstantSample> = rhs
                    .into_iter()
                    .filter(|s| !left.contains(&grouping.signature(&s.labels)))
                    .collect();
                drop(left);
                let mut out = lhs;
                out.extend(extra);
                out
            }
        }
    };
    for s in &mut out {
        s.t = t;
    }
    out
}

/// Arithmetic and comparisons between two vectors with one-to-one, many-to-one or one-to-many
/// matching, and the `fill` modifiers that stand in for a missing partner.
fn vector_vector(
    lhs: Vector,
    rhs: Vector,
    op: TokenId,
    modifier: Option<&BinModifier>,
    t: i64,
) -> Result<Vector, EvalError> {
    // `fill_right` stands in for a missing "one"-side partner and `fill_left` for a missing
    // "many"-side one, also with group_right (Prometheus does not swap them with the sides).
    let fill_one = modifier.and_then(|m| m.fill_values.rhs);
    let fill_many = modifier.and_then(|m| m.fill_values.lhs);
    if (lhs.is_empty() || rhs.is_empty()) && fill_one.is_none() && fill_many.is_none() {
        return Ok(Vector::new());
    }
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let grouping = Grouping::of(matching);
    let return_bool = modifier.is_some_and(|m| m.return_bool);
    let card = modifier.map_or(&VectorMatchCardinality::OneToOne, |m| &m.card);
    let (include, swapped): (&[String], bool) = match card {
        VectorMatchCardinality::ManyToOne(l) => (&l.labels, false),
        VectorMatchCardinality::OneToMany(l) => (&l.labels, true),
        _ => (&[], false),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    // The "many" side is walked; the "one" side is looked up by match group.
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };

    let mut one_by_sig: HashMap<Vec<&str>, usize> = HashMap::with_capacity(one.len());
    for (i, s) in one.iter().enumerate() {
        let sig = grouping.signature(&s.labels);
        if let Some(&first) = one_by_sig.get(&sig) {
            return Err(duplicate_on_one_side(
                &one[first].labels,
                &s.labels,
                &grouping,
                swapped,
            ));
        }
        one_by_sig.insert(sig, i);
    }

    let comparison = is_comparison(op);
    let apply = |many_value: f64, one_value: f64| -> Result<(f64, bool), EvalError> {
        let (l, r) = if swapped {
            (one_value, many_value)
        } else {
            (many_value, one_value)
        };
        Ok(match compare(op, l, r) {
            Some(keep) if return_bool => (f64::from(u8::from(keep)), true),
            Some(keep) => (l, keep),
            None => (arithmetic(op, l, r)?, true),
        })
    };
    let mut partnered = vec![false; if fill_many.is_some() { one.len() } else { 0 }];
    let mut matched: HashMap<Vec<&str>, HashSet<Labels>> = HashMap::new();
    let mut out = Vector::with_capacity(many.len().min(one.len().max(1) * 4));
    for m in &many {
        let sig = grouping.signature(&m.labels);
        let partner = match (one_by_sig.get(&sig), fill_one) {
            (Some(&oi), _) => {
                if let Some(p) = partnered.get_mut(oi) {
                    *p = true;
                }
                Some(&one[oi])
            }
            (None, Some(_)) => None,
            (None, None) => continue,
        };
        let one_value = partner.map_or(fill_one.unwrap_or(f64::NAN), |o| o.value);
        let (value, keep) = apply(m.value, one_value)?;
        let mut result = result_labels(&m.labels, comparison, one_to_one, matching);
        for name in include {
            match partner
                .and_then(|o| o.labels.get(name))
                .filter(|v| !v.is_empty())
            {
                Some(v) => result.set(name.as_str(), v),
                None => {
                    result.remove(name);
                }
            }
        }
        if return_bool {
            name_drop::mark(&mut result);
        }
        // Ambiguity is an error even for pairs a comparison then filters out.
        if one_to_one {
            if matched.insert(sig, HashSet::new()).is_some() {
                return Err(EvalError::Invalid(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
        } else if !matched.entry(sig).or_default().insert(result.clone()) {
            return Err(EvalError::Invalid(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        if keep {
            out.push(InstantSample {
                labels: result,
                t,
                value,
            });
        }
    }
    if let Some(fill) = fill_many {
        // "One"-side samples nobody matched: one result per match group, with its labels.
        for (o, _) in one.iter().zip(&partnered).filter(|(_, p)| !**p) {
            let (value, keep) = apply(fill, o.value)?;
            if keep {
                out.push(InstantSample {
                    labels: grouping.group_labels(&o.labels),
                    t,
                    value,
                });
            }
        }
    }
    Ok(out)
}

/// The labels of a matched pair's result, before `group_x` extra labels: the "many" side's,
/// the name marked for removal for arithmetic, and for one-to-one matching reduced to the `on` labels or
/// without the `ignoring` ones.
fn result_labels(
    many: &Labels,
    comparison: bool,
    one_to_one: bool,
    matching: Option<&promql_parser::parser::LabelModifier>,
) -> Labels {
    use promql_parser::parser::LabelModifier;
    let mut out = many.clone();
    if !comparison {
        name_drop::mark(&mut out);
    }
    if one_to_one {
        match matching {
            Some(LabelModifier::Include(on)) => {
                out.retain(|n, _| n == DROP_NAME_LABEL || on.labels.iter().any(|l| l == n));
            }
            Some(LabelModifier::Exclude(ignoring)) => {
                out.retain(|n, _| !ignoring.labels.iter().any(|l| l == n));
            }
            None => {}
        }
    }
    out
}

/// Prometheus' many-to-many error, naming the match group and both series in label order.
fn duplicate_on_one_side(
    a: &Labels,
    b: &Labels,
    grouping: &Grouping<'_>,
    swapped: bool,
) -> EvalError {
    let side = if swapped { "left" } else { "right" };
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let group = grouping.group_labels(a);
    EvalError::Invalid(format!(
        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
        labels::display(&group),
        labels::display(first),
        labels::display(second),
    ))
}
