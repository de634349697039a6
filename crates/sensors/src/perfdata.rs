//! Nagios / Monitoring Plugins output: status text, long output and performance data.
//!
//! The format is the one in the Monitoring Plugins development guidelines:
//!
//! ```text
//! SERVICE STATUS: First line of output | First part of performance data
//! Any number of subsequent lines of output, but note that buffers
//! may have a limited size | Second part of performance data, which
//! may have continuation lines, too
//! ```
//!
//! with each performance data item `'label'=value[UOM];[warn];[crit];[min];[max]` and thresholds
//! in the `[@]start:end` range format ([`Range`]).
//!
//! The one decision behind it: plugin output is untrusted input from programs we did not write,
//! so parsing never fails as a whole. Every item is read on its own; a bad item becomes a
//! [`PerfdataProblem`] saying what is wrong and where (line, column, item text), and the good
//! items around it are kept. A bad threshold or min/max drops only that field, not the value.

mod number;
mod range;

use std::fmt;
use std::str::FromStr;

use model::Status;
use serde::{Deserialize, Serialize};

pub use range::{Range, RangeError, threshold_status};

use number::{finite, number_prefix_len, parse_number_exact};
use range::fmt_num;

/// At most this many problems are listed per output; the rest are counted in a last entry, so
/// garbage output cannot make the problem list bigger than the output itself.
pub const MAX_PROBLEMS: usize = 100;

/// Item texts quoted in problems are cut to this many characters.
const MAX_ITEM_CHARS: usize = 120;

/// A plugin's standard output, taken apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginOutput {
    /// The first line's text before `|`, trimmed (e.g. `LOAD OK - total load average: ...`).
    pub summary: String,
    /// The following lines' text, without their performance data (empty when there is none).
    pub long_text: String,
    /// Every well-formed performance data item, in output order.
    pub perfdata: Vec<PerfValue>,
    /// What was wrong with the rest, in output order (at most [`MAX_PROBLEMS`] + 1).
    pub problems: Vec<PerfdataProblem>,
}

/// One performance data item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
///
/// Values are kept in the unit the plugin printed; [`PerfValue::normalized`] converts to base
/// units (seconds, bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerfValue {
    /// The label, unquoted (`''` already turned into `'`), e.g. `load1` or `/var/log`.
    pub label: String,
    /// The value; `None` when the plugin printed `U` (could not be determined).
    pub value: Option<f64>,
    /// Unit of measurement as printed (`s`, `ms`, `us`, `%`, `B`, `KB`, `MB`, `TB`, `c`, or one
    /// the guidelines do not list); `None` for a plain number.
    pub unit: Option<String>,
    /// Warning threshold.
    pub warn: Option<Range>,
    /// Critical threshold.
    pub crit: Option<Range>,
    /// Smallest possible value.
    pub min: Option<f64>,
    /// Largest possible value.
    pub max: Option<f64>,
}

/// A performance data item (or part of one) that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerfdataProblem {
    /// Line in the plugin output, from 1.
    pub line: usize,
    /// Column (in characters, from 1) where the item starts.
    pub column: usize,
    /// The item as printed (cut to 120 characters).
    pub item: String,
    /// What is wrong, and what was done about it.
    pub message: String,
    /// True when the whole item was skipped; false when only one field of it was ignored.
    pub dropped: bool,
}

impl fmt::Display for PerfdataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {} in `{}`",
            self.line, self.column, self.message, self.item
        )?;
        if self.dropped {
            f.write_str(" (item skipped)")?;
        }
        Ok(())
    }
}

/// Takes a plugin's standard output apart: summary, long text, performance data, problems.
///
/// Performance data is read after the first `|` of the first line, and after the first `|` in
/// the following lines, from which point every further line is performance data (the
/// guidelines' multi-line format). Line ends may be `\n` or `\r\n`.
pub fn parse_plugin_output(stdout: &str) -> PluginOutput {
    let mut out = Collector::default();
    let mut summary = "";
    let mut long: Vec<&str> = Vec::new();
    let mut in_perfdata = false;
    for (index, raw) in stdout.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line_no = index + 1;
        if index == 0 {
            match line.find('|') {
                Some(bar) => {
                    summary = &line[..bar];
                    parse_items(line, bar + 1, line_no, &mut out);
                }
                None => summary = line,
            }
        } else if in_perfdata {
            parse_items(line, 0, line_no, &mut out);
        } else if let Some(bar) = line.find('|') {
            let text = line[..bar].trim_end();
            if !text.is_empty() {
                long.push(text);
            }
            in_perfdata = true;
            parse_items(line, bar + 1, line_no, &mut out);
        } else {
            long.push(line.trim_end());
        }
    }
    while long.last().is_some_and(|l| l.is_empty()) {
        long.pop();
    }
    let (perfdata, problems) = out.finish();
    PluginOutput {
        summary: summary.trim().to_string(),
        long_text: long.join("\n"),
        perfdata,
        problems,
    }
}

impl PerfValue {
    /// A value with a label and nothing else.
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        PerfValue {
            label: label.into(),
            value: Some(value),
            unit: None,
            warn: None,
            crit: None,
            min: None,
            max: None,
        }
    }

    /// The status the thresholds give the value (critical first, as the plugins' `get_status`),
    /// or `None` when the value is undetermined (`U`).
    pub fn threshold_status(&self) -> Option<Status> {
        self.value
            .map(|v| threshold_status(v, self.warn.as_ref(), self.crit.as_ref()))
    }

    /// The same item in base units: times in seconds, sizes in bytes (`KB` = 1024 B, as
    /// `check_disk` counts). Other units, and a plain number, are kept as they are.
    pub fn normalized(&self) -> PerfValue {
        let Some((scale, base)) = self.unit.as_deref().and_then(unit_scale) else {
            return self.clone();
        };
        let f = |v: f64| scale.apply(v);
        PerfValue {
            label: self.label.clone(),
            value: self.value.map(f),
            unit: Some(base.to_string()),
            warn: self.warn.map(|r| r.map_ends(f)),
            crit: self.crit.map(|r| r.map_ends(f)),
            min: self.min.map(f),
            max: self.max.map(f),
        }
    }
}

/// How a known unit converts to its base unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Multiply by this (`KB` -> bytes).
    Times(f64),
    /// Divide by this (`ms` -> seconds); dividing keeps `5ms` exactly `0.005`.
    Per(f64),
}

impl Scale {
    /// `v` in the base unit.
    pub fn apply(self, v: f64) -> f64 {
        match self {
            Scale::Times(m) => v * m,
            Scale::Per(d) => v / d,
        }
    }
}

/// The base unit (`s`, `B`, `%`, `c`) of a unit the guidelines know, and how to get there.
/// `GB` and the binary `KiB`..`TiB` spellings are read too: real plugins print them.
pub fn unit_scale(unit: &str) -> Option<(Scale, &'static str)> {
    const K: f64 = 1024.0;
    Some(match unit {
        "s" => (Scale::Times(1.0), "s"),
        "ms" => (Scale::Per(1e3), "s"),
        "us" => (Scale::Per(1e6), "s"),
        "%" => (Scale::Times(1.0), "%"),
        "c" => (Scale::Times(1.0), "c"),
        "B" => (Scale::Times(1.0), "B"),
        "KB" | "KiB" => (Scale::Times(K), "B"),
        "MB" | "MiB" => (Scale::Times(K * K), "B"),
        "GB" | "GiB" => (Scale::Times(K * K * K), "B"),
        "TB" | "TiB" => (Scale::Times(K * K * K * K), "B"),
        _ => return None,
    })
}

impl fmt::Display for PerfValue {
    /// The item in the guidelines' format, quoting the label when needed and dropping trailing
    /// empty fields, so that it parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.label.is_empty()
            && !self.label.starts_with('\'')
            && !self
                .label
                .chars()
                .any(|c| c.is_whitespace() || c == '\'' || c == '=' || c == '|');
        if plain {
            f.write_str(&self.label)?;
        } else {
            write!(f, "'{}'", self.label.replace('\'', "''"))?;
        }
        match self.value {
            Some(v) => write!(f, "={}", fmt_num(v))?,
            None => f.write_str("=U")?,
        }
        if let Some(unit) = &self.unit {
            f.write_str(unit)?;
        }
        let fields = [
            self.warn.map(|r| r.to_string()),
            self.crit.map(|r| r.to_string()),
            self.min.map(fmt_num),
            self.max.map(fmt_num),
        ];
        let used = fields
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        for field in &fields[..used] {
            write!(f, ";{}", field.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

impl FromStr for PerfValue {
    type Err = String;

    /// Exactly one item, with no problem at all.
    fn from_str(item: &str) -> Result<Self, Self::Err> {
        let mut out = Collector::default();
        parse_items(item, 0, 1, &mut out);
        let (mut values, problems) = out.finish();
        if let Some(p) = problems.first() {
            return Err(p.to_string());
        }
        match values.len() {
            1 => Ok(values.remove(0)),
            n => Err(format!(
                "expected one performance data item, found {n} in `{item}`"
            )),
        }
    }
}

/// Collects items and problems, capping the problem list.
#[derive(Default)]
struct Collector {
    values: Vec<PerfValue>,
    problems: Vec<PerfdataProblem>,
    unlisted: usize,
    first_unlisted: Option<(usize, usize)>,
}

impl Collector {
    fn problem(
        &mut self,
        line: &str,
        line_no: usize,
        start: usize,
        item: &str,
        message: String,
        dropped: bool,
    ) {
        let column = line[..start].chars().count() + 1;
        if self.problems.len() >= MAX_PROBLEMS {
            self.unlisted += 1;
            self.first_unlisted.get_or_insert((line_no, column));
            return;
        }
        let item = match item.char_indices().nth(MAX_ITEM_CHARS) {
            Some((cut, _)) => format!("{}...", &item[..cut]),
            None => item.to_string(),
        };
        self.problems.push(PerfdataProblem {
            line: line_no,
            column,
            item,
            message,
            dropped,
        });
    }

    fn finish(mut self) -> (Vec<PerfValue>, Vec<PerfdataProblem>) {
        if let Some((line, column)) = self.first_unlisted {
            self.problems.push(PerfdataProblem {
                line,
                column,
                item: String::new(),
                message: format!("{} more problems not listed", self.unlisted),
                dropped: false,
            });
        }
        (self.values, self.problems)
    }
}

/// Reads the space-separated items of `line` from byte `from` on.
fn parse_items(line: &str, from: usize, line_no: usize, out: &mut Collector) {
    let b = line.as_bytes();
    let mut i = from;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let (label, eq) = if b[i] == b'\'' {
            match quoted_label(line, i) {
                None => {
                    let msg = "the quoted label has no closing quote".to_string();
                    out.problem(line, line_no, start, &line[start..], msg, true);
                    return;
                }
                Some((_, after)) if b.get(after) != Some(&b'=') => {
                    let end = token_end(b, after);
                    let msg = "expected '=' right after the quoted label".to_string();
                    out.problem(line, line_no, start, &line[start..end], msg, true);
                    i = end;
                    continue;
                }
                Some((label, after)) => (label, after),
            }
        } else {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'=' || c.is_ascii_whitespace())
                .map_or(b.len(), |n| i + n);
            if b.get(end) != Some(&b'=') {
                let msg = "no '=' between label and value (a label with spaces must be quoted: 'my label'=1)";
                out.problem(
                    line,
                    line_no,
                    start,
                    &line[start..end],
                    msg.to_string(),
                    true,
                );
                i = end;
                continue;
            }
            (line[start..end].to_string(), end)
        };
        let end = token_end(b, eq + 1);
        i = end;
        let item = &line[start..end];
        if label.is_empty() {
            out.problem(line, line_no, start, item, "empty label".to_string(), true);
            continue;
        }
        let mut report = |message: String, dropped: bool| {
            out.problem(line, line_no, start, item, message, dropped)
        };
        if let Some(value) = parse_fields(label, &line[eq + 1..end], &mut report) {
            out.values.push(value);
        }
    }
}

/// The label of a quoted item starting at `open` (`''` inside is one quote) and the index just
/// after its closing quote, or `None` when it is not closed on this line.
fn quoted_label(line: &str, open: usize) -> Option<(String, usize)> {
    let mut label = String::new();
    let mut rest = &line[open + 1..];
    let mut pos = open + 1;
    loop {
        let q = rest.find('\'')?;
        label.push_str(&rest[..q]);
        if rest[q + 1..].starts_with('\'') {
            label.push('\'');
            rest = &rest[q + 2..];
            pos += q + 2;
        } else {
            return Some((label, pos + q + 1));
        }
    }
}

fn token_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(u8::is_ascii_whitespace)
        .map_or(b.len(), |n| from + n)
}

/// Reads `value[UOM];warn;crit;min;max` for `label`. Returns `None` when the value itself is
/// unusable; problems with other fields are reported and the field left empty.
fn parse_fields(
    label: String,
    text: &str,
    report: &mut impl FnMut(String, bool),
) -> Option<PerfValue> {
    let mut fields = text.split(';');
    let first = fields.next().unwrap_or_default();
    let (value, unit) = match parse_value(first) {
        Ok(v) => v,
        Err(message) => {
            report(message, true);
            return None;
        }
    };
    let mut pv = PerfValue {
        label,
        value,
        unit,
        warn: None,
        crit: None,
        min: None,
        max: None,
    };
    for (index, field) in fields.by_ref().take(4).enumerate() {
        if field.is_empty() {
            continue;
        }
        let name = ["warn threshold", "crit threshold", "min", "max"][index];
        match index {
            0 | 1 => match Range::parse(field) {
                Ok(r) if index == 0 => pv.warn = Some(r),
                Ok(r) => pv.crit = Some(r),
                Err(e) => report(format!("{name} '{field}' ignored: {e}"), false),
            },
            _ => match parse_number_exact(field) {
                Some(v) if index == 2 => pv.min = Some(v),
                Some(v) => pv.max = Some(v),
                None => report(format!("{name} '{field}' ignored: not a number"), false),
            },
        }
    }
    // "Trailing unfilled semicolons can be dropped" - and extra empty ones are harmless.
    if fields.any(|f| !f.is_empty()) {
        report(
            "more than 5 fields (value;warn;crit;min;max); the extra ones are ignored".to_string(),
            false,
        );
    }
    Some(pv)
}

/// The value field: a number or `U`, then the unit.
fn parse_value(field: &str) -> Result<(Option<f64>, Option<String>), String> {
    if field.is_empty() {
        return Err("missing value after '='".to_string());
    }
    let (value, unit) = if let Some(unit) = field.strip_prefix('U') {
        // `U` may carry a unit (`Ums`), but `UNKNOWN` is a broken plugin, not `U` in unit `NKNOWN`.
        if !unit.is_empty() && unit_scale(unit).is_none() {
            return Err(format!(
                "value '{field}' is not a number (undetermined values are a bare 'U')"
            ));
        }
        (None, unit)
    } else {
        let Some(n) = number_prefix_len(field) else {
            return Err(format!("value '{field}' is not a number"));
        };
        let Some(v) = finite(&field[..n]) else {
            return Err(format!("value '{field}' is out of range"));
        };
        (Some(v), &field[n..])
    };
    if unit.starts_with(',') && unit[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "value '{field}' has a decimal comma; plugins must print '.' (run them with LC_NUMERIC=C)"
        ));
    }
    if unit.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '.' | ',' | '+' | '-' | '\'')) {
        return Err(format!("value '{field}' is not a number"));
    }
    Ok((value, (!unit.is_empty()).then(|| unit.to_string())))
}

#[cfg(test)]
mod tests;
