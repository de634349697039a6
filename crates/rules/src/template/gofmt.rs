//! Go's `fmt` formatting of numbers and the `printf` verbs alert templates use.
//!
//! Annotations are compared against what Prometheus produces, so `{{ $value }}` must print
//! `1.234567e+06` as Go does (not Rust's `1234567`), and `printf "%.4g"` must follow Go's rules
//! for switching to exponent notation.

use super::value::Value;

/// The decimal digits of a finite, non-negative number and where its decimal point goes:
/// value = 0.`digits` × 10^`point`. `digits` has no trailing zeros (and is "0" for zero).
struct Decimal {
    digits: String,
    point: i32,
}

/// Splits Rust's `{:e}` output ("1.2345e6") into digits and a decimal point position.
fn decimal_of(sci: &str) -> Decimal {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits.chars().all(|c| c == '0') {
        return Decimal {
            digits: "0".into(),
            point: 1,
        };
    }
    Decimal {
        digits,
        point: exp + 1,
    }
}

/// Shortest digits that round-trip, as Go's `-1` precision.
fn shortest(v: f64) -> Decimal {
    decimal_of(&format!("{:e}", v.abs()))
}

/// Digits rounded to `sig` significant digits.
fn rounded(v: f64, sig: usize) -> Decimal {
    decimal_of(&format!("{:.*e}", sig.saturating_sub(1), v.abs()))
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

fn sign(v: f64, plus: bool, space: bool) -> &'static str {
    if v.is_sign_negative() && v != 0.0 {
        "-"
    } else if plus {
        "+"
    } else if space {
        " "
    } else {
        ""
    }
}

/// `digits` with a decimal point after `point` digits and exactly `decimals` decimals.
fn fixed_from(d: &Decimal, decimals: usize) -> String {
    let mut int_part = String::new();
    let mut frac = String::new();
    let digits: Vec<char> = d.digits.chars().collect();
    if d.point <= 0 {
        int_part.push('0');
        for _ in 0..(-d.point) {
            frac.push('0');
        }
        frac.extend(digits.iter());
    } else {
        let p = usize::try_from(d.point).unwrap_or(0);
        for i in 0..p {
            int_part.push(*digits.get(i).unwrap_or(&'0'));
        }
        frac.extend(digits.iter().skip(p));
    }
    while frac.len() < decimals {
        frac.push('0');
    }
    frac.truncate(decimals);
    if decimals == 0 {
        int_part
    } else {
        format!("{int_part}.{frac}")
    }
}

fn exp_from(d: &Decimal, decimals: usize, upper: bool) -> String {
    let mut mantissa = d.digits[..1].to_string();
    let rest: String = d.digits.chars().skip(1).collect();
    if decimals > 0 {
        mantissa.push('.');
        mantissa.push_str(&format!("{rest:0<decimals$}")[..decimals]);
    }
    let exp = if d.digits == "0" { 0 } else { d.point - 1 };
    let e = if upper { 'E' } else { 'e' };
    let exp_sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}{e}{exp_sign}{:02}", exp.abs())
}

/// Go's `%g` (and `%v` when `prec` is `None`) for a float.
pub(crate) fn format_g(v: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let (d, eprec) = match prec {
        None => (shortest(v), 6),
        Some(p) => {
            let p = p.max(1);
            (rounded(v, p), p)
        }
    };
    let exp = if d.digits == "0" { 0 } else { d.point - 1 };
    let nd = d.digits.len();
    let body = if exp < -4 || exp >= i32::try_from(eprec).unwrap_or(i32::MAX) {
        exp_from(&d, nd - 1, upper)
    } else {
        let decimals = usize::try_from(i32::try_from(nd).unwrap_or(0) - d.point).unwrap_or(0);
        fixed_from(&d, decimals)
    };
    format!("{}{body}", sign(v, false, false))
}

/// Go's `%v` for a float64.
pub(crate) fn format_float(v: f64) -> String {
    // `$value` in every alert's annotations: between 1e-4 and 1e6 Go prints the shortest
    // round-trip digits without an exponent, which is what Rust's `Display` prints. The
    // shortest digits of such a number stay inside those bounds, so Go's exponent rule cannot
    // apply. Zero keeps the general path (Go drops the sign of -0 here, Rust does not).
    if (1e-4..1e6).contains(&v.abs()) {
        return v.to_string();
    }
    format_g(v, None, false)
}

/// Go's `%f` with a precision (default 6).
fn format_f(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    format!("{:.*}", prec, v)
}

/// Go's `%e` with a precision (default 6).
fn format_e(v: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let d = rounded(v, prec + 1);
    format!("{}{}", sign(v, false, false), exp_from(&d, prec, upper))
}

/// Go's limit on widths and precisions, which also bounds the memory a template can ask for.
const MAX_WIDTH: usize = 1_000_000;

/// One parsed `%` directive.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %f %F %e %E %g %G %q %x %X %t %%`,
/// with flags `-+ 0`, width and precision. A wrong verb or a missing argument is printed the
/// way Go prints it (`%!d(string=x)`, `%!s(MISSING)`).
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        spec.width = width.parse().ok();
        if spec.width.is_some_and(|w| w > MAX_WIDTH) {
            out.push_str("%!(BADWIDTH)");
            spec.width = None;
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut prec = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                prec.push(d);
                chars.next();
            }
            // "%.f" is precision 0; a number too big to parse is too large.
            spec.prec = Some(if prec.is_empty() {
                0
            } else {
                prec.parse().unwrap_or(usize::MAX)
            });
            if spec.prec.is_some_and(|p| p > MAX_WIDTH) {
                out.push_str("%!(BADPREC)");
                spec.prec = None;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let body = one(verb, &spec, arg);
        out.push_str(&pad(body, &spec));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", a.go_type(), a.display()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn pad(body: String, spec: &Spec) -> String {
    let Some(width) = spec.width else {
        return body;
    };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero {
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn bad(verb: char, arg: &Value) -> String {
    format!("%!{verb}({}={})", arg.go_type(), arg.display())
}

fn with_sign(body: String, negative: bool, spec: &Spec) -> String {
    if negative || body.starts_with('-') {
        body
    } else if spec.plus {
        format!("+{body}")
    } else if spec.space {
        format!(" {body}")
    } else {
        body
    }
}

fn one(verb: char, spec: &Spec, arg: &Value) -> String {
    match (verb, arg) {
        ('v', Value::Float(f)) => with_sign(format_float(*f), false, spec),
        ('s' | 'v', _) => {
            let s = arg.display();
            match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        ('q', Value::Str(s)) => format!("{s:?}"),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', Value::Int(i)) => with_sign(i.to_string(), *i < 0, spec),
        ('x', Value::Int(i)) => format!("{}{:x}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
        ('X', Value::Int(i)) => format!("{}{:X}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('f' | 'F', Value::Float(f)) => {
            with_sign(format_f(*f, spec.prec.unwrap_or(6)), false, spec)
        }
        ('e' | 'E', Value::Float(f)) => with_sign(
            format_e(*f, spec.prec.unwrap_or(6), verb == 'E'),
            false,
            spec,
        ),
        ('g' | 'G', Value::Float(f)) => {
            with_sign(format_g(*f, spec.prec, verb == 'G'), false, spec)
        }
        _ => bad(verb, arg),
    }
}
