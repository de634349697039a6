//! Compiling layouts: the named presets, the layouts auto-detection tries, and the
//! strftime-like format compiler, which checks a format once so that parsing never has to.

use super::{Item, Layout, Tail};

/// Named layouts: `(name, format or internal items, default locating regex)`.
const PRESETS: &[(&str, &str, Option<&str>)] = &[
    ("iso8601", "", None),
    ("rfc3339", "", None),
    ("syslog", "%b %e %H:%M:%S%.f", None),
    ("apache_error", "[%a %b %d %H:%M:%S%.f %Y]", None),
    (
        "clf",
        "%d/%b/%Y:%H:%M:%S %z",
        Some(r"\[(?P<ts>\d{1,2}/[A-Za-z]{3}/\d{4}:[^\]]+)\]"),
    ),
    ("epoch", "%s%.f", None),
    ("epoch_ms", "", None),
];

/// Layouts tried at the start of each record when no `timestamp` is configured, most common
/// first. Each must start with something a plain log message rarely starts with.
const AUTO: &[&str] = &[
    "iso8601",
    "[%Y-%m-%d %H:%M:%S%.f]",
    "apache_error",
    "syslog",
    "%Y/%m/%d %H:%M:%S%.f",
    "%d-%b-%Y %H:%M:%S%.f",
    "%y/%m/%d %H:%M:%S",
    "%y%m%d %H%M%S",
];

/// The names `format` accepts instead of a `%` layout.
pub(crate) fn preset_names() -> String {
    let mut names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
    names.push("none");
    names.join(", ")
}

impl Layout {
    pub(super) fn new(items: Vec<Item>) -> Layout {
        let head = items
            .iter()
            .position(|i| matches!(i, Item::Fraction | Item::OptFraction))
            .unwrap_or(items.len());
        let cacheable = head > 0
            && matches!(
                items[head - 1],
                Item::Second | Item::Minute | Item::Year4 | Item::Year2 | Item::Lit(_)
            );
        let mut seconds = items[..head]
            .iter()
            .enumerate()
            .filter(|(_, i)| **i == Item::Second);
        let second = match (seconds.next(), seconds.next()) {
            (Some((k, _)), None) => Some(k),
            _ => None,
        };
        let tail = match items[head..] {
            [] => Tail::Empty,
            [Item::Fraction] => Tail::Fraction,
            [Item::OptFraction] => Tail::OptFraction,
            [Item::OptFraction, Item::OptOffset] => Tail::OptFractionOptOffset,
            _ => Tail::Other,
        };
        Layout {
            items,
            head,
            cacheable,
            second,
            tail,
        }
    }

    /// A preset by name, with its default locating pattern.
    pub(crate) fn preset(name: &str) -> Option<(Layout, Option<&'static str>)> {
        let (_, fmt, pattern) = PRESETS.iter().find(|p| p.0 == name)?;
        let layout = match name {
            "iso8601" | "rfc3339" => Layout::iso8601(),
            "epoch_ms" => Layout::new(vec![Item::EpochMillis]),
            _ => Layout::compile(fmt).expect("preset formats are valid"),
        };
        Some((layout, *pattern))
    }

    fn iso8601() -> Layout {
        use Item::*;
        Layout::new(vec![
            Year4,
            Lit(b'-'),
            Month,
            Lit(b'-'),
            Day,
            DateTimeSep,
            Hour,
            Lit(b':'),
            Minute,
            Lit(b':'),
            Second,
            OptFraction,
            OptOffset,
        ])
    }

    /// The layouts auto-detection tries.
    pub(crate) fn auto() -> Vec<Layout> {
        AUTO.iter()
            .map(|f| match Layout::preset(f) {
                Some((l, _)) => l,
                None => Layout::compile(f).expect("auto formats are valid"),
            })
            .collect()
    }

    /// Compiles a strftime-like format; the error names the offending directive.
    pub(crate) fn compile(format: &str) -> Result<Layout, String> {
        use Item::*;
        let mut items = Vec::new();
        let bytes = format.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if b == b' ' || b == b'\t' {
                // Runs of blanks in the format match one run of blanks in the text.
                if items.last() != Some(&Space) {
                    items.push(Space);
                }
                continue;
            }
            if b != b'%' {
                items.push(Lit(b));
                continue;
            }
            let Some(&d) = bytes.get(i) else {
                return Err("format ends with a lone `%`".into());
            };
            i += 1;
            match d {
                b'Y' => items.push(Year4),
                b'y' => items.push(Year2),
                b'm' => items.push(Month),
                b'd' | b'e' => items.push(Day),
                b'H' | b'k' => items.push(Hour),
                b'I' | b'l' => items.push(Hour12),
                b'p' | b'P' => items.push(AmPm),
                b'M' => items.push(Minute),
                b'S' => items.push(Second),
                b'f' => items.push(Fraction),
                b'.' if bytes.get(i) == Some(&b'f') => {
                    i += 1;
                    items.push(OptFraction);
                }
                b'b' | b'h' | b'B' => items.push(MonthName),
                b'a' | b'A' => items.push(WeekdayName),
                b'z' => items.push(Offset),
                b'Z' => items.push(ZoneName),
                b's' => items.push(EpochSeconds),
                b'T' => items.extend([Hour, Lit(b':'), Minute, Lit(b':'), Second]),
                b'F' => items.extend([Year4, Lit(b'-'), Month, Lit(b'-'), Day]),
                b'D' => items.extend([Month, Lit(b'/'), Day, Lit(b'/'), Year2]),
                b'R' => items.extend([Hour, Lit(b':'), Minute]),
                b'%' => items.push(Lit(b'%')),
                _ => {
                    let shown = format[i - 2..].chars().take(2).collect::<String>();
                    return Err(format!(
                        "unsupported directive `{shown}` in timestamp format"
                    ));
                }
            }
        }
        let has = |want: &[Item]| items.iter().any(|it| want.contains(it));
        if has(&[Hour12]) && !has(&[AmPm]) {
            return Err("`%I` (12-hour clock) needs `%p` (AM/PM) in the same format".into());
        }
        let epoch = has(&[EpochSeconds, EpochMillis]);
        let date = has(&[Month, MonthName]) && has(&[Day]);
        let time = has(&[Hour, Hour12]);
        if !epoch && !date && !time {
            return Err(
                "the format has neither a date (month and day), a time of day (%H) nor \
                        epoch seconds (%s)"
                    .into(),
            );
        }
        Ok(Layout::new(items))
    }
}
