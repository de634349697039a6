//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `count_values`, `limitk`, `limit_ratio`) with `by` and
//! `without`. Sums and means use Kahan-Neumaier compensation as Prometheus does, so results
//! agree with it to the last bit on ordinary input.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use model::Labels;
use promql_parser::parser::AggregateExpr;
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK, TokenId,
};

use super::labels::Grouping;
use super::{Evaluator, value_name};
use crate::promql::name_drop;
use crate::promql::numeric::{kahan_add, quantile};
use crate::promql::{EvalError, InstantSample, Value, Vector};

/// Evaluates an aggregation at `t`.
pub(super) fn eval(ev: &Evaluator, a: &AggregateExpr, t: i64) -> Result<Value, EvalError> {
    let op = a.op.id();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, t)?),
        None => None,
    };
    let input = match ev.eval(&a.expr, t)? {
        Value::Vector(v) => v,
        other => {
            return Err(EvalError::Invalid(format!(
                "{}() expects an instant vector, got {}",
                a.op,
                value_name(&other)
            )));
        }
    };
    // Without a modifier everything falls into one group.
    let grouping = match &a.modifier {
        None => Grouping::Only(&[]),
        Some(m) => Grouping::of(Some(m)),
    };
    let out = match op {
        T_TOPK | T_BOTTOMK | T_LIMITK => {
            let k = k_param(param.as_ref())?;
            if k < 1 {
                Vector::new()
            } else {
                select_k(op, input, &grouping, k, t)
            }
        }
        T_LIMIT_RATIO => {
            let ratio = ratio_param(param.as_ref())?;
            limit_ratio(input, ratio, t)
        }
        T_COUNT_VALUES => {
            let label = match param {
                Some(Value::String { v, .. }) => v,
                _ => {
                    return Err(EvalError::Invalid(
                        "count_values() needs a string parameter".into(),
                    ));
                }
            };
            count_values(&input, &grouping, &label, t)?
        }
        _ => {
            let q = match (op, param) {
                (T_QUANTILE, Some(Value::Scalar { v, .. })) => {
                    if !(0.0..=1.0).contains(&v) {
                        ev.notes.warn(
                            format!(
                                "quantile value should be between 0 and 1, got {}",
                                crate::promql::annotations::show_number(v)
                            ),
                            a.param.as_deref(),
                        );
                    }
                    v
                }
                (T_QUANTILE, _) => {
                    return Err(EvalError::Invalid(
                        "quantile() needs a scalar parameter".into(),
                    ));
                }
                _ => f64::NAN,
            };
            fold(op, &input, &grouping, q, t)?
        }
    };
    Ok(Value::Vector(out))
}

/// The `k` of `topk`, `bottomk` and `limitk`, checked as Prometheus checks it.
fn k_param(param: Option<&Value>) -> Result<i64, EvalError> {
    let Some(Value::Scalar { v, .. }) = param else {
        return Err(EvalError::Invalid(
            "the first argument must be a scalar".into(),
        ));
    };
    if v.is_nan() {
        return Err(EvalError::Invalid("Parameter value is NaN".into()));
    }
    // 2^63 is the first float past i64::MAX.
    if *v >= 9_223_372_036_854_775_808.0 || *v < -9_223_372_036_854_775_808.0 {
        return Err(EvalError::Invalid(format!(
            "Scalar value {v} overflows int64"
        )));
    }
    // Truncation toward zero, as Go's int64(float64) conversion.
    Ok(*v as i64)
}

/// The ratio of `limit_ratio`, clamped to [-1, 1].
fn ratio_param(param: Option<&Value>) -> Result<f64, EvalError> {
    let Some(Value::Scalar { v, .. }) = param else {
        return Err(EvalError::Invalid(
            "the first argument must be a scalar".into(),
        ));
    };
    if v.is_nan() {
        return Err(EvalError::Invalid("Ratio value is NaN".into()));
    }
    Ok(v.clamp(-1.0, 1.0))
}

/// Splits `input` into groups, returning each sample's group index and each group's first
/// member, in order of first appearance.
fn group_indices(input: &Vector, grouping: &Grouping<'_>) -> (Vec<usize>, Vec<usize>) {
    if let Grouping::Only([]) = grouping {
        return (
            vec![0; input.len()],
            if input.is_empty() { vec![] } else { vec![0] },
        );
    }
    let mut index: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut firsts = Vec::new();
    let mut of_sample = Vec::with_capacity(input.len());
    for (i, s) in input.iter().enumerate() {
        let next = firsts.len();
        let g = *index.entry(grouping.signature(&s.labels)).or_insert(next);
        if g == next {
            firsts.push(i);
        }
        of_sample.push(g);
    }
    (of_sample, firsts)
}

/// Running state of one group of a folding aggregation.
#[derive(Clone, Default)]
struct Acc {
    count: f64,
    value: f64,
    comp: f64,
    mean: f64,
    incremental: bool,
    values: Vec<f64>,
}

impl Acc {
    /// Starts a group with its first value.
    fn first(op: TokenId, v: f64) -> Self {
        let mut acc = Acc {
            count: 1.0,
            value: v,
            mean: v,
            ..Acc::default()
        };
        match op {
            // A lone NaN or infinity has no defined spread.
            T_STDDEV | T_STDVAR => acc.value = if v.is_finite() { 0.0 } else { f64::NAN },
            T_QUANTILE => acc.values.push(v),
            _ => {}
        }
        acc
    }

    /// Adds a further value.
    fn add(&mut self, op: TokenId, v: f64) {
        match op {
            T_SUM => {
                (self.value, self.comp) = kahan_add(v, self.value, self.comp);
            }
            T_AVG => self.add_to_mean(v),
            T_COUNT => self.count += 1.0,
            T_GROUP => {}
            // A NaN is replaced by any number that follows it.
            T_MIN if self.value > v || self.value.is_nan() => self.value = v,
            T_MAX if self.value < v || self.value.is_nan() => self.value = v,
            T_STDDEV | T_STDVAR => {
                self.count += 1.0;
                let delta = v - (self.mean + self.comp);
                (self.mean, self.comp) = kahan_add(delta / self.count, self.mean, self.comp);
                self.value += delta * (v - (self.mean + self.comp));
            }
            T_QUANTILE => self.values.push(v),
            _ => {}
        }
    }

    /// The mean: a compensated sum divided at the end while the sum stays finite, switching to
    /// an incremental mean once it would overflow (Prometheus' approach).
    fn add_to_mean(&mut self, v: f64) {
        self.count += 1.0;
        if self.incremental && self.mean.is_infinite() {
            // An infinite mean stays as it is unless a NaN or the opposite infinity arrives.
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if v.is_finite() {
                return;
            }
        }
        if !self.incremental {
            let (sum, c) = kahan_add(v, self.value, self.comp);
            if !sum.is_infinite() || v.is_infinite() {
                (self.value, self.comp) = (sum, c);
                return;
            }
            self.incremental = true;
            self.mean = self.value / (self.count - 1.0);
            self.comp /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        (self.mean, self.comp) = kahan_add(v / self.count, q * self.mean, q * self.comp);
    }

    /// The group's result.
    fn finish(mut self, op: TokenId, q: f64) -> f64 {
        match op {
            T_SUM => self.value + self.comp,
            T_AVG if self.incremental => self.mean + self.comp,
            T_AVG => (self.value + self.comp) / self.count,
            T_COUNT => self.count,
            T_GROUP => 1.0,
            T_STDVAR => self.value / self.count,
            T_STDDEV => (self.value / self.count).sqrt(),
            T_QUANTILE => quantile(q, &mut self.values),
            _ => self.value,
        }
    }
}

/// The aggregations that fold each group into one number.
fn fold(
    op: TokenId,
    input: &Vector,
    grouping: &Grouping<'_>,
    q: f64,
    t: i64,
) -> Result<Vector, EvalError> {
    let (of_sample, firsts) = group_indices(input, grouping);
    let mut accs: Vec<Option<Acc>> = vec![None; firsts.len()];
    // A group kept by its name drops the name when any member's name is marked for removal.
    let mut marked = vec![false; firsts.len()];
    for (s, &g) in input.iter().zip(&of_sample) {
        marked[g] |= name_drop::is_marked(&s.labels);
        match &mut accs[g] {
            Some(acc) => acc.add(op, s.value),
            slot => *slot = Some(Acc::first(op, s.value)),
        }
    }
    Ok(firsts
        .iter()
        .zip(accs)
        .zip(marked)
        .filter_map(|((&first, acc), marked)| {
            acc.map(|acc| {
                let mut labels = grouping.group_labels(&input[first].labels);
                if marked {
                    name_drop::mark(&mut labels);
                }
                InstantSample {
                    labels,
                    t,
                    value: acc.finish(op, q),
                }
            })
        })
        .collect())
}

/// `topk`, `bottomk` (largest/smallest `k` per group, NaN last, in that order) and `limitk`
/// (the first `k` per group). The series keep all their labels.
fn select_k(op: TokenId, input: Vector, grouping: &Grouping<'_>, k: i64, t: i64) -> Vector {
    let (of_sample, firsts) = group_indices(&input, grouping);
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); firsts.len()];
    for (i, &g) in of_sample.iter().enumerate() {
        members[g].push(i);
    }
    let mut keep: Vec<usize> = Vec::new();
    for mut m in members {
        if op != T_LIMITK {
            let top = op == T_TOPK;
            m.sort_by(|&a, &b| {
                let (x, y) = (input[a].value, input[b].value);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if top => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
        }
        keep.extend(m.into_iter().take(k));
    }
    let mut slots: Vec<Option<InstantSample>> = input.into_iter().map(Some).collect();
    keep.into_iter()
        .filter_map(|i| slots[i].take())
        .map(|mut s| {
            s.t = t;
            s
        })
        .collect()
}

/// `limit_ratio`: a stable pseudo-random share of the series, decided by a hash of the labels
/// so the same series stay in from one evaluation to the next. A negative ratio keeps the
/// complement of the positive one. (The hash is ours, not Prometheus', so which series are
/// kept differs from Prometheus; the share and the stability are the same.)
fn limit_ratio(input: Vector, ratio: f64, t: i64) -> Vector {
    input
        .into_iter()
        .filter(|s| {
            let offset = sample_offset(&s.labels);
            if ratio >= 0.0 {
                offset < ratio
            } else {
                offset >= 1.0 + ratio
            }
        })
        .map(|mut s| {
            s.t = t;
            s
        })
        .collect()
}

/// A label set's position in [0, 1), stable across runs.
fn sample_offset(labels: &Labels) -> f64 {
    let mut h = std::hash::DefaultHasher::new();
    labels.hash(&mut h);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `count_values`: per group, how many samples have each value, the value as a label.
fn count_values(
    input: &Vector,
    grouping: &Grouping<'_>,
    label: &str,
    t: i64,
) -> Result<Vector, EvalError> {
    if label.is_empty() || label.contains('\u{fffd}') {
        return Err(EvalError::Invalid(format!("invalid label name {label:?}")));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out = Vector::new();
    for s in input {
        let mut labels = grouping.group_labels(&s.labels);
        if name_drop::is_marked(&s.labels) {
            name_drop::mark(&mut labels);
        }
        labels.set(label, format_value(s.value));
        match index.get(&labels) {
            Some(&i) => out[i].value += 1.0,
            None => {
                index.insert(labels.clone(), out.len());
                out.push(InstantSample {
                    labels,
                    t,
                    value: 1.0,
                });
            }
        }
    }
    Ok(out)
}

/// A value as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: shortest round-trip
/// digits, no exponent, `+Inf`/`-Inf`/`NaN`.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}
