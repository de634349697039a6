//! Functions that work on labels rather than values: label_replace, label_join, sort,
//! sort_desc, sort_by_label, sort_by_label_desc, and absent.

use std::cmp::Ordering;

use regex::Regex;

use super::over_time::absent_labels;
use super::{Args, CallContext};
use crate::promql::{EvalError, InstantSample, Value, Vector};

/// Calls `name` if it belongs to this family.
pub(super) fn call(
    name: &str,
    args: &mut Args,
    ctx: &CallContext<'_>,
) -> Result<Option<Value>, EvalError> {
    let out = match name {
        "label_replace" => {
            args.expect_count(5, 5)?;
            label_replace(args)?
        }
        "label_join" => {
            args.expect_count(3, usize::MAX)?;
            label_join(args)?
        }
        "sort" | "sort_desc" => {
            args.expect_count(1, 1)?;
            let mut v = args.vector(0)?;
            let desc = name == "sort_desc";
            // NaN goes last in both directions.
            v.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ if desc => b.value.total_cmp(&a.value),
                _ => a.value.total_cmp(&b.value),
            });
            v
        }
        "sort_by_label" | "sort_by_label_desc" => {
            args.expect_count(1, usize::MAX)?;
            let mut v = args.vector(0)?;
            let names = (1..args.len())
                .map(|i| args.string(i))
                .collect::<Result<Vec<_>, _>>()?;
            v.sort_by(|a, b| {
                let order = by_labels(a, b, &names);
                if name == "sort_by_label_desc" {
                    order.reverse()
                } else {
                    order
                }
            });
            v
        }
        "absent" => {
            args.expect_count(1, 1)?;
            if args.vector(0)?.is_empty() {
                vec![InstantSample {
                    labels: absent_labels(ctx.arg_exprs.first().map(AsRef::as_ref)),
                    t: ctx.t,
                    value: 1.0,
                }]
            } else {
                Vec::new()
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Value::Vector(out)))
}

/// The order of sort_by_label: the named labels in natural order, then the whole label set so
/// the order is always the same.
fn by_labels(a: &InstantSample, b: &InstantSample, names: &[String]) -> Ordering {
    for n in names {
        let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
        match natural_cmp(x, y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    a.labels.cmp(&b.labels)
}

/// Compares strings so that runs of digits compare as numbers: "cpu2" < "cpu10",
/// "1.2.3" < "1.11.3".
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    while !x.is_empty() && !y.is_empty() {
        let (cx, rx) = split_chunk(x);
        let (cy, ry) = split_chunk(y);
        let order = if is_digits(cx) && is_digits(cy) {
            let (tx, ty) = (cx.trim_start_matches('0'), cy.trim_start_matches('0'));
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            cx.cmp(cy)
        };
        if order != Ordering::Equal {
            return order;
        }
        (x, y) = (rx, ry);
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

/// The leading run of digits or of non-digits, and the rest.
fn split_chunk(s: &str) -> (&str, &str) {
    let digit = s.as_bytes()[0].is_ascii_digit();
    let end = s
        .bytes()
        .position(|c| c.is_ascii_digit() != digit)
        .unwrap_or(s.len());
    s.split_at(end)
}

fn is_digits(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// A label name as Prometheus' classic rules allow (`[a-zA-Z_][a-zA-Z0-9_]*`), the names the
/// store accepts.
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// label_replace(v, dst, replacement, src, regex): where `regex` matches the whole value of
/// `src`, sets `dst` to `replacement` with `$1`, `${name}` expanded (empty removes `dst`).
fn label_replace(args: &mut Args) -> Result<Vector, EvalError> {
    let mut v = args.vector(0)?;
    let dst = args.string(1)?;
    let replacement = args.string(2)?;
    let src = args.string(3)?;
    let pattern = args.string(4)?;
    let regex = Regex::new(&format!("^(?s:{pattern})$"))
        .map_err(|e| args.invalid(format_args!("invalid regular expression {pattern:?}: {e}")))?;
    if !valid_label_name(&dst) {
        return Err(args.invalid(format_args!("invalid destination label name {dst:?}")));
    }
    for s in &mut v {
        let value = s.labels.get(&src).unwrap_or("").to_string();
        if let Some(caps) = regex.captures(&value) {
            let mut out = String::new();
            caps.expand(&replacement, &mut out);
            set_or_remove(&mut s.labels, &dst, out);
            if dst == model::METRIC_NAME_LABEL {
                // A name written on purpose stays.
                crate::promql::name_drop::unmark(&mut s.labels);
            }
        }
    }
    Ok(v)
}

/// label_join(v, dst, separator, src...): sets `dst` to the values of the `src` labels joined
/// by `separator` (a missing label counts as empty; an empty result removes `dst`).
fn label_join(args: &mut Args) -> Result<Vector, EvalError> {
    let mut v = args.vector(0)?;
    let dst = args.string(1)?;
    let separator = args.string(2)?;
    let sources = (3..args.len())
        .map(|i| args.string(i))
        .collect::<Result<Vec<_>, _>>()?;
    if !valid_label_name(&dst) {
        return Err(args.invalid(format_args!("invalid destination label name {dst:?}")));
    }
    if let Some(bad) = sources.iter().find(|s| !valid_label_name(s)) {
        return Err(args.invalid(format_args!("invalid source label name {bad:?}")));
    }
    for s in &mut v {
        let joined: Vec<&str> = sources
            .iter()
            .map(|n| s.labels.get(n).unwrap_or(""))
            .collect();
        let joined = joined.join(&separator);
        set_or_remove(&mut s.labels, &dst, joined);
        if dst == model::METRIC_NAME_LABEL {
            crate::promql::name_drop::unmark(&mut s.labels);
        }
    }
    Ok(v)
}

/// An empty label is the same as no label.
fn set_or_remove(labels: &mut model::Labels, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.set(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::functions::{Arg, call, tests::ctx};

    fn sample(pairs: &[(&str, &str)], value: f64) -> InstantSample {
        InstantSample {
            labels: pairs.iter().copied().collect(),
            t: 0,
            value,
        }
    }

    fn run(name: &str, v: Vector, strings: &[&str]) -> Result<Vector, EvalError> {
        let mut args = vec![Arg::Vector(v)];
        args.extend(strings.iter().map(|s| Arg::String(s.to_string())));
        match call(name, args, &ctx(0, None))? {
            Value::Vector(v) => Ok(v),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn label_replace_uses_capture_groups_on_the_whole_value() {
        let v = vec![sample(
            &[("__name__", "m"), ("src", "source-value-10")],
            0.0,
        )];
        let out = run(
            "label_replace",
            v.clone(),
            &["dst", "$2-$1", "src", "(.*)-value-(.*)"],
        )
        .unwrap();
        assert_eq!(out[0].labels.get("dst"), Some("10-source"));
        assert_eq!(out[0].labels.metric_name(), Some("m"));
        let partial = run("label_replace", v, &["dst", "x", "src", "value-(.*)"]).unwrap();
        assert_eq!(partial[0].labels.get("dst"), None);
    }

    #[test]
    fn label_replace_rejects_bad_regex_names_and_collisions() {
        let v = vec![
            sample(&[("src", "a"), ("i", "1")], 0.0),
            sample(&[("src", "a"), ("i", "2")], 1.0),
        ];
        let err = run("label_replace", v.clone(), &["dst", "", "src", "(.*"]).unwrap_err();
        assert!(err.to_string().contains("label_replace()"), "{err}");
        assert!(run("label_replace", v.clone(), &["1dst", "", "src", ".*"]).is_err());
        let err = run("label_replace", v, &["i", "", "", ""]).unwrap_err();
        assert!(err.to_string().contains("same labelset"), "{err}");
    }

    #[test]
    fn label_join_joins_in_order_with_missing_as_empty() {
        let v = vec![sample(&[("a", "x"), ("b", "y")], 0.0)];
        let out = run("label_join", v, &["dst", "-", "a", "missing", "b"]).unwrap();
        assert_eq!(out[0].labels.get("dst"), Some("x--y"));
    }

    #[test]
    fn sort_puts_nan_last_both_ways() {
        let v = vec![
            sample(&[("i", "0")], f64::NAN),
            sample(&[("i", "1")], 2.0),
            sample(&[("i", "2")], 1.0),
        ];
        let asc = run("sort", v.clone(), &[]).unwrap();
        assert_eq!(
            asc.iter()
                .map(|s| s.labels.get("i").unwrap())
                .collect::<String>(),
            "210"
        );
        let desc = run("sort_desc", v, &[]).unwrap();
        assert_eq!(
            desc.iter()
                .map(|s| s.labels.get("i").unwrap())
                .collect::<String>(),
            "120"
        );
    }

    #[test]
    fn sort_by_label_is_natural() {
        let v: Vector = ["10", "2", "1", "100"]
            .iter()
            .map(|c| sample(&[("cpu", c)], 0.0))
            .collect();
        let out = run("sort_by_label", v, &["cpu"]).unwrap();
        let order: Vec<&str> = out.iter().map(|s| s.labels.get("cpu").unwrap()).collect();
        assert_eq!(order, ["1", "2", "10", "100"]);
        assert_eq!(natural_cmp("1.2.3", "1.11.3"), Ordering::Less);
        assert_eq!(natural_cmp("4m600", "4m1000"), Ordering::Less);
    }

    #[test]
    fn absent_takes_labels_from_equality_matchers() {
        let selector = r#"nonexistent{job="a",job="b",foo="bar",instance="i",method=~".x"}"#;
        let exprs = [Box::new(crate::promql::parse(selector).unwrap())];
        let notes = crate::promql::annotations::Notes::default();
        let ctx = CallContext {
            t: 0,
            window: None,
            modifier: None,
            arg_exprs: &exprs,
            notes: &notes,
        };
        let out = call("absent", vec![Arg::Vector(vec![])], &ctx).unwrap();
        let expected = sample(&[("foo", "bar"), ("instance", "i")], 1.0);
        assert_eq!(out, Value::Vector(vec![expected]));
    }

    #[test]
    fn absent_reports_only_an_empty_vector() {
        let out = run("absent", vec![], &[]).unwrap();
        assert_eq!(out, vec![sample(&[], 1.0)]);
        assert!(
            run("absent", vec![sample(&[], 1.0)], &[])
                .unwrap()
                .is_empty()
        );
    }
}
