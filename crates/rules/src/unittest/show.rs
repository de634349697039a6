//! How expected and actual results are printed: label sets in PromQL notation, durations as
//! Prometheus writes them, and a line diff in which `-` is expected but missing and `+` is
//! there but not expected.

use std::collections::BTreeMap;
use std::fmt;

/// One firing alert, as compared: labels (with `alertname`) and annotations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct AlertLine {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl fmt::Display for AlertLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", series(&self.labels))?;
        if !self.annotations.is_empty() {
            write!(f, " annotations {}", braces(&self.annotations))?;
        }
        Ok(())
    }
}

/// One sample of an expression's result, as compared.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SampleLine {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl fmt::Display for SampleLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", series(&self.labels), self.value)
    }
}

/// `name{a="1", b="2"}`, or `{}` for no labels at all.
pub(super) fn series(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("__name__").map_or("", String::as_str);
    let rest: BTreeMap<String, String> = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        name.to_string()
    } else {
        format!("{name}{}", braces(&rest))
    }
}

fn braces(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Milliseconds as a Prometheus duration: `0s`, `1m30s`, `1d`, `2m59s999ms`.
pub(super) fn duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (unit, size) in UNITS {
        let size = size.unsigned_abs();
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// Both lists, each line marked: ` ` when the other side has it, `-` when only expected, `+`
/// when only got.
pub(super) fn diff<T: fmt::Display>(
    expected: &[T],
    got: &[T],
    same: impl Fn(&T, &T) -> bool,
) -> String {
    let mut out = String::new();
    let mut section = |title: &str, items: &[T], others: &[T], mark: char| {
        out.push_str(&format!("      {title} ({}):\n", items.len()));
        if items.is_empty() {
            out.push_str("          (none)\n");
        }
        for item in items {
            let m = if others.iter().any(|o| same(item, o)) {
                ' '
            } else {
                mark
            };
            out.push_str(&format!("        {m} {item}\n"));
        }
    };
    section("expected", expected, got, '-');
    section("got", got, expected, '+');
    out.pop();
    out
}
