//! One sample line of the text formats: metric name, labels, value, timestamp and (OpenMetrics
//! only) exemplar.
//!
//! Strict (OpenMetrics) follows the ABNF to the byte: single spaces between tokens, no spaces
//! inside braces, no trailing comma, timestamps in seconds. Lenient (Prometheus 0.0.4) accepts
//! what Prometheus' own scraper accepts: runs of spaces and tabs, spaces inside braces, a
//! trailing comma, timestamps in integer milliseconds.

use std::borrow::Cow;

use memchr::memchr2;

use crate::exposition::names::{
    LabelPair, is_label_name_char, is_metric_name_char, is_metric_name_start, label_name_problem,
    sort_and_find_duplicate,
};
use crate::exposition::number::{parse_seconds, parse_value};

/// The longest an exemplar's label names and values may be together, in code points.
const EXEMPLAR_MAX_CHARS: usize = 128;

/// A problem at byte offset `at` of the line.
#[derive(Debug)]
pub(crate) struct LineError {
    pub at: usize,
    pub message: String,
}

fn err<T>(at: usize, message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError {
        at,
        message: message.into(),
    })
}

/// A timestamp: `order` compares points (seconds or milliseconds, as written), `ms` is stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stamp {
    pub order: f64,
    pub ms: i64,
}

/// An exemplar, as far as the family rules need it.
#[derive(Debug)]
pub(crate) struct Exemplar {
    pub value: f64,
    pub at: usize,
}

/// A sample line; its labels are left in the caller's scratch vector, sorted by name.
#[derive(Debug)]
pub(crate) struct SampleLine<'a> {
    pub name: &'a str,
    pub value: f64,
    pub value_at: usize,
    pub timestamp: Option<Stamp>,
    pub exemplar: Option<Exemplar>,
}

/// Reads `line` into a sample; `pairs` receives the labels (sorted, checked for duplicates).
pub(crate) fn parse_sample<'a>(
    line: &'a str,
    strict: bool,
    pairs: &mut Vec<LabelPair<'a>>,
) -> Result<SampleLine<'a>, LineError> {
    pairs.clear();
    let mut c = Cursor {
        s: line,
        b: line.as_bytes(),
        i: 0,
        strict,
    };
    let name = c.metric_name()?;
    if c.peek() == Some(b'{') {
        c.labels(pairs)?;
    }
    let had_labels = !pairs.is_empty() || c.i > name.len();
    if let Some(dup) = sort_and_find_duplicate(pairs) {
        return err(dup.at, format!("label {:?} appears twice", dup.name));
    }
    if had_labels && !strict {
        // Prometheus reads `a{b="c"}1` too.
        c.skip_blanks();
    } else {
        c.separator("the value")?;
    }
    let value_at = c.i;
    let token = c.token();
    let value = match parse_value(token) {
        Some(v) => v,
        None if token.is_empty() => return err(value_at, "missing value"),
        None => return err(value_at, format!("value {token:?} is not a number")),
    };
    let mut sample = SampleLine {
        name,
        value,
        value_at,
        timestamp: None,
        exemplar: None,
    };
    if strict {
        c.strict_tail(&mut sample)?;
    } else {
        c.lenient_tail(&mut sample)?;
    }
    Ok(sample)
}

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    strict: bool,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Lenient mode skips blanks between tokens; strict mode allows none.
    fn blanks(&mut self) {
        if !self.strict {
            self.skip_blanks();
        }
    }

    fn metric_name(&mut self) -> Result<&'a str, LineError> {
        match self.peek() {
            Some(b) if is_metric_name_start(b) => {}
            Some(b' ' | b'\t') => return err(0, "line starts with a blank"),
            Some(_) => {
                return err(
                    0,
                    format!(
                        "expected a metric name, found {} (names start with a letter, \"_\" or \":\")",
                        describe(self.s, 0)
                    ),
                );
            }
            None => return err(0, "expected a metric name"),
        }
        let start = self.i;
        while self.peek().is_some_and(is_metric_name_char) {
            self.i += 1;
        }
        let name = &self.s[start..self.i];
        match self.peek() {
            None | Some(b' ' | b'{') => Ok(name),
            Some(b'\t') if !self.strict => Ok(name),
            Some(_) => err(
                self.i,
                format!(
                    "unexpected {} after metric name {name:?} (names are [a-zA-Z_:][a-zA-Z0-9_:]*)",
                    describe(self.s, self.i)
                ),
            ),
        }
    }

    /// `{name="value",...}`, the cursor on `{`.
    fn labels(&mut self, pairs: &mut Vec<LabelPair<'a>>) -> Result<(), LineError> {
        self.i += 1;
        let mut after_comma = false;
        loop {
            self.blanks();
            if self.peek() == Some(b'}') {
                if after_comma && self.strict {
                    return err(self.i, "a label must follow \",\"");
                }
                self.i += 1;
                return Ok(());
            }
            let pair = self.label()?;
            pairs.push(pair);
            self.blanks();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    after_comma = true;
                }
                Some(b'}') => after_comma = false,
                None => return err(self.i, "labels are not closed with \"}\""),
                Some(_) => {
                    return err(
                        self.i,
                        format!(
                            "expected \",\" or \"}}\" after the value of label {:?}, found {}",
                            pairs.last().map_or("", |p| p.name),
                            describe(self.s, self.i)
                        ),
                    );
                }
            }
        }
    }

    fn label(&mut self) -> Result<LabelPair<'a>, LineError> {
        let at = self.i;
        while self.peek().is_some_and(is_label_name_char) {
            self.i += 1;
        }
        let name = &self.s[at..self.i];
        if name.is_empty() {
            return err(
                at,
                format!("expected a label name, found {}", describe(self.s, at)),
            );
        }
        // The scan above allowed only [a-zA-Z0-9_]; what is left to check is cheap.
        if (name.as_bytes()[0].is_ascii_digit() || name.starts_with("__"))
            && let Some(problem) = label_name_problem(name)
        {
            return err(at, problem);
        }
        self.blanks();
        if self.peek() != Some(b'=') {
            return err(self.i, format!("expected \"=\" after label name {name:?}"));
        }
        self.i += 1;
        self.blanks();
        if self.peek() != Some(b'"') {
            return err(
                self.i,
                format!("label value for {name:?} must be in double quotes"),
            );
        }
        let value = self.quoted(name)?;
        Ok(LabelPair { name, value, at })
    }

    /// A double-quoted label value, the cursor on the opening quote. `\\`, `\"` and `\n` are
    /// undone; any other escaped character keeps its backslash, as Prometheus does.
    fn quoted(&mut self, name: &str) -> Result<Cow<'a, str>, LineError> {
        let open = self.i;
        let start = open + 1;
        let mut seg = start;
        let mut i = start;
        let mut owned: Option<String> = None;
        loop {
            let Some(off) = memchr2(b'"', b'\\', &self.b[i..]) else {
                return err(open, format!("label value for {name:?} is not terminated"));
            };
            let j = i + off;
            if self.b[j] == b'"' {
                self.i = j + 1;
                return Ok(match owned {
                    Some(mut o) => {
                        o.push_str(&self.s[seg..j]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&self.s[start..j]),
                });
            }
            let o = owned.get_or_insert_with(String::new);
            o.push_str(&self.s[seg..j]);
            match self.b.get(j + 1) {
                Some(b'n') => o.push('\n'),
                Some(b'"') => o.push('"'),
                Some(b'\\') => o.push('\\'),
                Some(_) => {
                    o.push('\\');
                    seg = j + 1;
                    i = j + 1;
                    continue;
                }
                None => return err(open, format!("label value for {name:?} is not terminated")),
            }
            seg = j + 2;
            i = j + 2;
        }
    }

    /// The blank(s) before the next token: exactly one space in strict mode.
    fn separator(&mut self, what: &str) -> Result<(), LineError> {
        match self.peek() {
            Some(b' ') => {}
            Some(b'\t') if !self.strict => {}
            None => return err(self.i, format!("missing {what}")),
            Some(_) => {
                return err(
                    self.i,
                    format!(
                        "expected a space before {what}, found {}",
                        describe(self.s, self.i)
                    ),
                );
            }
        }
        self.i += 1;
        if self.strict {
            if self.peek() == Some(b' ') {
                return err(self.i, "tokens must be separated by a single space");
            }
        } else {
            self.skip_blanks();
        }
        Ok(())
    }

    /// Up to the next separator (a space; also a tab in lenient mode) or the end.
    fn token(&mut self) -> &'a str {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b == b' ' || (b == b'\t' && !self.strict) {
                break;
            }
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// After the value: `[SP timestamp] [SP # SP {labels} SP value [SP timestamp]]`.
    fn strict_tail(&mut self, sample: &mut SampleLine<'a>) -> Result<(), LineError> {
        if self.at_end() {
            return Ok(());
        }
        self.separator("the timestamp")?;
        if self.peek() != Some(b'#') {
            let at = self.i;
            let token = self.token();
            sample.timestamp = Some(seconds(token, at)?);
            if self.at_end() {
                return Ok(());
            }
            self.separator("the exemplar")?;
            if self.peek() != Some(b'#') {
                return err(
                    self.i,
                    format!(
                        "unexpected {} after the timestamp",
                        describe(self.s, self.i)
                    ),
                );
            }
        }
        sample.exemplar = Some(self.exemplar()?);
        Ok(())
    }

    /// `# {labels} value [timestamp]`, the cursor on `#`.
    fn exemplar(&mut self) -> Result<Exemplar, LineError> {
        let at = self.i;
        self.i += 1;
        if self.peek() != Some(b' ') {
            return err(self.i, "expected a space after \"#\" of the exemplar");
        }
        self.i += 1;
        if self.peek() != Some(b'{') {
            return err(
                self.i,
                "exemplar labels must follow \"# \" (write {} for none)",
            );
        }
        let mut pairs = Vec::new();
        self.labels(&mut pairs)?;
        if let Some(dup) = sort_and_find_duplicate(&mut pairs) {
            return err(
                dup.at,
                format!("exemplar label {:?} appears twice", dup.name),
            );
        }
        let chars: usize = pairs
            .iter()
            .map(|p| p.name.chars().count() + p.value.chars().count())
            .sum();
        if chars > EXEMPLAR_MAX_CHARS {
            return err(
                at,
                format!(
                    "exemplar labels are {chars} characters long; at most {EXEMPLAR_MAX_CHARS} are allowed"
                ),
            );
        }
        self.separator("the exemplar value")?;
        let value_at = self.i;
        let token = self.token();
        let Some(value) = parse_value(token) else {
            return err(
                value_at,
                format!("exemplar value {token:?} is not a number"),
            );
        };
        if !self.at_end() {
            self.separator("the exemplar timestamp")?;
            let ts_at = self.i;
            let rest = &self.s[self.i..];
            seconds(rest, ts_at)?;
            self.i = self.b.len();
        }
        Ok(Exemplar { value, at })
    }

    /// After the value: `[blanks timestamp-in-ms] [blanks]`.
    fn lenient_tail(&mut self, sample: &mut SampleLine<'a>) -> Result<(), LineError> {
        self.skip_blanks();
        if self.at_end() {
            return Ok(());
        }
        if self.peek() == Some(b'#') {
            return err(
                self.i,
                "exemplars are not part of the Prometheus text format (use the OpenMetrics format)",
            );
        }
        let at = self.i;
        let token = self.token();
        let Ok(ms) = token.parse::<i64>() else {
            return err(
                at,
                format!("timestamp {token:?} is not an integer (milliseconds since the epoch)"),
            );
        };
        sample.timestamp = Some(Stamp {
            // Milliseconds as f64 keep their order (rounding is monotonic).
            order: ms as f64,
            ms,
        });
        self.skip_blanks();
        if !self.at_end() {
            return err(
                self.i,
                format!(
                    "unexpected {} after the timestamp",
                    describe(self.s, self.i)
                ),
            );
        }
        Ok(())
    }
}

fn seconds(token: &str, at: usize) -> Result<Stamp, LineError> {
    match parse_seconds(token) {
        Some((order, ms)) => Ok(Stamp { order, ms }),
        None if token.is_empty() => err(at, "missing timestamp"),
        None => err(
            at,
            format!("timestamp {token:?} is not a number (seconds since the epoch)"),
        ),
    }
}

/// The character at byte `at`, quoted, for messages.
pub(crate) fn describe(s: &str, at: usize) -> String {
    match s.get(at..).and_then(|r| r.chars().next()) {
        Some(c) => format!("{c:?}"),
        None => "the end of the line".to_string(),
    }
}
