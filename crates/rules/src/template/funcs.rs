//! The functions alert templates can call: Go's builtins and Prometheus' additions, with
//! Prometheus' documented outputs (`humanize 1234567` is `1.235M`).

use super::gofmt::{format_g, sprintf};
use super::value::Value;
use super::{QuerySample, TemplateQuery};

/// Every function name a template may use. `query` is known here but runs in the executor,
/// because it needs the engine.
const NAMES: &[&str] = &[
    // Go's builtins.
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "urlquery",
    // Prometheus' additions.
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "reReplaceAll",
    "match",
    "safeHtml",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "stripPort",
    "stripDomain",
];

/// Whether a function of that name exists.
pub(crate) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// The known function closest to a misspelt `name` (at most two edits away), for hints.
pub(crate) fn closest(name: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// What a function call needs besides its arguments.
pub(crate) struct Ctx<'a> {
    /// The alert's external URL, for `pathPrefix` and `externalURL`.
    pub(crate) external_url: &'a str,
    /// The engine behind `query`, when there is one.
    pub(crate) query: Option<&'a dyn TemplateQuery>,
}

/// Calls function `name` with already evaluated arguments.
pub(crate) fn call(name: &str, args: &[Value], ctx: &Ctx<'_>) -> Result<Value, String> {
    let v = match name {
        "and" => args
            .iter()
            .find(|a| !a.truth())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "or" => args
            .iter()
            .find(|a| a.truth())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "not" => Value::Bool(!one(args)?.truth()),
        "len" => Value::Int(length(one(args)?)?),
        "index" => index(args)?,
        "print" => Value::Str(go_sprint(args)),
        "println" => {
            let items: Vec<String> = args.iter().map(Value::display).collect();
            Value::Str(format!("{}\n", items.join(" ")))
        }
        "printf" => {
            let (format, rest) = args
                .split_first()
                .ok_or("wrong number of args: want at least 1 got 0")?;
            Value::Str(sprintf(&string(format)?, rest))
        }
        "eq" => {
            let (first, rest) = args
                .split_first()
                .ok_or("missing argument for comparison")?;
            if rest.is_empty() {
                return Err("missing argument for comparison".into());
            }
            let mut any = false;
            for other in rest {
                any |= compare(first, other)? == std::cmp::Ordering::Equal;
            }
            Value::Bool(any)
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            let [a, b] = two(args)?;
            let ord = compare(a, b)?;
            if name != "ne" && matches!((a, b), (Value::Bool(_), _)) {
                return Err("invalid type for comparison".into());
            }
            Value::Bool(match name {
                "ne" => ord.is_ne(),
                "lt" => ord.is_lt(),
                "le" => ord.is_le(),
                "gt" => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        "html" => Value::Str(html_escape(&go_sprint(args))),
        "urlquery" => Value::Str(query_escape(&go_sprint(args))),
        "query" => {
            let expr = string(one(args)?)?;
            let Some(engine) = ctx.query else {
                return Err(
                    "query is not supported here: no query engine was given to the template".into(),
                );
            };
            Value::Samples(engine.query(&expr)?)
        }
        "first" => match one(args)? {
            Value::Samples(s) => match s.first() {
                Some(s) => Value::Sample(s.clone()),
                None => return Err("first() called on vector with no elements".into()),
            },
            other => return Err(wrong_type("query result", other)),
        },
        "label" => {
            let [l, s] = two(args)?;
            let l = string(l)?;
            match s {
                Value::Sample(s) => Value::Str(s.labels.get(&l).cloned().unwrap_or_default()),
                other => return Err(wrong_type("sample", other)),
            }
        }
        "value" => Value::Float(sample(one(args)?)?.value),
        "strvalue" => Value::Str(
            sample(one(args)?)?
                .labels
                .get("__value__")
                .cloned()
                .unwrap_or_default(),
        ),
        "sortByLabel" => {
            let [l, s] = two(args)?;
            let l = string(l)?;
            let Value::Samples(s) = s else {
                return Err(wrong_type("query result", s));
            };
            let mut s = s.clone();
            s.sort_by(|a, b| a.labels.get(&l).cmp(&b.labels.get(&l)));
            Value::Samples(s)
        }
        "reReplaceAll" => {
            let [pattern, repl, text] = three(args)?;
            let re = regex::Regex::new(&string(pattern)?)
                .map_err(|e| format!("bad regular expression: {e}"))?;
            Value::Str(
                re.replace_all(&string(text)?, string(repl)?.as_str())
                    .into_owned(),
            )
        }
        "match" => {
            let [pattern, text] = two(args)?;
            let re = regex::Regex::new(&string(pattern)?)
                .map_err(|e| format!("bad regular expression: {e}"))?;
            Value::Bool(re.is_match(&string(text)?))
        }
        "safeHtml" => Value::Str(string(one(args)?)?),
        "title" => Value::Str(title(&string(one(args)?)?)),
        "toUpper" => Value::Str(string(one(args)?)?.to_uppercase()),
        "toLower" => Value::Str(string(one(args)?)?.to_lowercase()),
        "graphLink" => Value::Str(format!(
            "/graph?g0.expr={}&g0.tab=0",
            query_escape(&string(one(args)?)?)
        )),
        "tableLink" => Value::Str(format!(
            "/graph?g0.expr={}&g0.tab=1",
            query_escape(&string(one(args)?)?)
        )),
        "humanize" => Value::Str(humanize(to_float(one(args)?)?)),
        "humanize1024" => Value::Str(humanize1024(to_float(one(args)?)?)),
        "humanizeDuration" => Value::Str(humanize_duration(to_float(one(args)?)?)),
        "humanizePercentage" => Value::Str(format!(
            "{}%",
            format_g(to_float(one(args)?)? * 100.0, Some(4), false)
        )),
        "humanizeTimestamp" => Value::Str(humanize_timestamp(to_float(one(args)?)?)?),
        "toTime" => Value::Str(go_time(to_float(one(args)?)?)?),
        "pathPrefix" => Value::Str(url_path(ctx.external_url).to_string()),
        "externalURL" => Value::Str(ctx.external_url.to_string()),
        "parseDuration" => {
            let d =
                crate::rulefile::parse_duration(&string(one(args)?)?).map_err(|e| e.to_string())?;
            Value::Float(d.as_secs_f64())
        }
        "stripPort" => {
            let s = string(one(args)?)?;
            Value::Str(split_host_port(&s).map_or(s, |(h, _)| h))
        }
        "stripDomain" => Value::Str(strip_domain(&string(one(args)?)?)),
        other => return Err(format!("function {other:?} not defined")),
    };
    Ok(v)
}

fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

fn one(args: &[Value]) -> Result<&Value, String> {
    arity(args, 1)?;
    Ok(&args[0])
}

fn two(args: &[Value]) -> Result<[&Value; 2], String> {
    arity(args, 2)?;
    Ok([&args[0], &args[1]])
}

fn three(args: &[Value]) -> Result<[&Value; 3], String> {
    arity(args, 3)?;
    Ok([&args[0], &args[1], &args[2]])
}

fn wrong_type(expected: &str, got: &Value) -> String {
    match got {
        Value::Missing => format!("invalid value (a missing label or key); expected {expected}"),
        other => format!(
            "wrong type for value; expected {expected}; got {}",
            other.go_type()
        ),
    }
}

fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(wrong_type("string", other)),
    }
}

fn sample(v: &Value) -> Result<&QuerySample, String> {
    match v {
        Value::Sample(s) => Ok(s),
        other => Err(wrong_type("sample", other)),
    }
}

/// Prometheus' `convertToFloat`: numbers, and strings that parse as numbers.
fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => s
            .parse::<f64>()
            .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        Value::Missing => Err("can't convert <nil> to float (a missing label or key)".into()),
        other => Err(format!("can't convert {} to float", other.go_type())),
    }
}

fn length(v: &Value) -> Result<i64, String> {
    let n = match v {
        Value::Str(s) => s.len(),
        Value::Map(m) => m.len(),
        Value::Samples(s) => s.len(),
        other => return Err(format!("len of type {}", other.go_type())),
    };
    i64::try_from(n).map_err(|e| e.to_string())
}

fn index(args: &[Value]) -> Result<Value, String> {
    let (first, keys) = args
        .split_first()
        .ok_or("wrong number of args: want at least 1 got 0")?;
    let mut cur = first.clone();
    for key in keys {
        cur = match (&cur, key) {
            (Value::Map(m), Value::Str(k)) => Value::Str(m.get(k).cloned().unwrap_or_default()),
            (Value::Samples(s), Value::Int(i)) => {
                let got = usize::try_from(*i).ok().and_then(|i| s.get(i));
                match got {
                    Some(s) => Value::Sample(s.clone()),
                    None => return Err(format!("error calling index: index out of range: {i}")),
                }
            }
            (c, k) => {
                return Err(format!(
                    "can't index item of type {} with {}",
                    c.go_type(),
                    k.go_type()
                ));
            }
        };
    }
    Ok(cur)
}

/// Go's comparison of two basic values: same kinds only (an int constant and a float are
/// "incompatible types", as in Go: write `100.0`, not `100`, to compare with `$value`).
fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Less)),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Missing, _) | (_, Value::Missing) => {
            Err("cannot compare a missing value (is the label or key there?)".into())
        }
        (x, y) => Err(format!(
            "incompatible types for comparison: {} and {}",
            x.go_type(),
            y.go_type()
        )),
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn go_sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.display());
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's (deprecated but still used by Prometheus) `strings.Title`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

fn g4(v: f64) -> String {
    format_g(v, Some(4), false)
}

/// Four significant digits with an SI prefix: `humanize 1234567` is `1.235M`.
pub(crate) fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// Four significant digits with a binary prefix: `humanize1024 1048576` is `1Mi`.
pub(crate) fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Seconds as days, hours, minutes and seconds: `humanizeDuration 3661` is `1h 1m 1s`.
pub(crate) fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let total = v as i64;
        let (seconds, minutes) = (total % 60, (total / 60) % 60);
        let (hours, days) = ((total / 3600) % 24, total / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's default printing of a UTC time at Prometheus' millisecond precision:
/// `2015-06-23 13:19:44.128 +0000 UTC`.
fn go_time(v: f64) -> Result<String, String> {
    let ms = v * 1000.0;
    let in_range = ms.abs() < (i64::MAX / 1_000_000) as f64;
    if !in_range {
        return Err(format!("time out of range: {}", g4(v)));
    }
    let ms = ms as i64;
    let ts =
        jiff::Timestamp::from_millisecond(ms).map_err(|e| format!("time out of range: {e}"))?;
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let mut out = dt.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let frac = ms.rem_euclid(1000);
    if frac != 0 {
        let f = format!(".{frac:03}");
        out.push_str(f.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    Ok(out)
}

fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(g4(v));
    }
    go_time(v)
}

fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

/// Go's `net.SplitHostPort`, returning `None` where Go returns an error.
fn split_host_port(s: &str) -> Option<(String, String)> {
    let colon = s.rfind(':')?;
    let host = if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']')?;
        if end + 2 != colon {
            return None;
        }
        &inner[..end]
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return None;
        }
        host
    };
    Some((host.to_string(), s[colon + 1..].to_string()))
}

fn strip_domain(host_port: &str) -> String {
    let (host, port) =
        split_host_port(host_port).unwrap_or_else(|| (host_port.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host_port.to_string();
    }
    let short = host.split('.').next().unwrap_or_default();
    if port.is_empty() {
        short.to_string()
    } else if short.contains(':') {
        format!("[{short}]:{port}")
    } else {
        format!("{short}:{port}")
    }
}
