//! Reading and computing one duration expression (`26m+4m`, `2m*(10+5)`, `-min_of(step(), 1s)`)
//! as Prometheus 3 does: numbers are seconds, duration literals are converted to seconds, and
//! the arithmetic is done in floating point seconds.
//!
//! Precedence follows Prometheus' grammar: `+ -` below `* / %`, a leading sign binds like `*`
//! (so `-2^2` is `-(2^2)`), and `^` binds tightest and groups to the right.

use super::{DurationContext, DurationError};

/// A computed duration expression: its value in seconds and where it stands in the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Computed {
    /// The value, in seconds.
    pub seconds: f64,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
    /// True when it is one literal, with or without a sign (`5m`, `-30`), which the PromQL
    /// parser reads itself.
    pub is_literal: bool,
}

/// A reader over the query text, positioned somewhere inside it.
pub(super) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    context: DurationContext,
}

impl<'a> Reader<'a> {
    /// A reader of `text` from byte `pos`, with `step()` and `range()` from `context`.
    pub fn new(text: &'a str, pos: usize, context: DurationContext) -> Self {
        Reader { text, pos, context }
    }

    /// Where the reader stands, past any whitespace.
    pub fn position(&mut self) -> usize {
        self.skip_space();
        self.pos
    }

    /// A complete duration expression, as allowed in a range selector's or subquery's brackets.
    pub fn expression(&mut self) -> Result<Computed, DurationError> {
        self.additive()
    }

    /// The duration after `offset`, or `None` when what follows cannot start one (then the
    /// word was a label name, as in `by (offset)`, and the text is left to the PromQL parser).
    ///
    /// Prometheus ends an offset early so that `x offset 100 + 2` is `(x offset 100) + 2`: a
    /// literal, a call or a signed parenthesis is the whole offset; only an unsigned
    /// parenthesis may be followed by more duration arithmetic (`offset (1m) * 2`).
    pub fn offset(&mut self) -> Result<Option<Computed>, DurationError> {
        let start = self.position();
        let sign = match self.peek() {
            Some('-') => -1.0,
            Some('+') => 1.0,
            _ => 0.0,
        };
        if sign != 0.0 {
            self.pos += 1;
            self.skip_space();
        }
        let Some(first) = self.peek() else {
            return Ok(None);
        };
        if first == '(' && sign == 0.0 {
            return self.additive().map(Some);
        }
        let starts_literal = first.is_ascii_digit() || first == '.';
        if !starts_literal && first != '(' && self.call_name().is_none() {
            return Ok(None);
        }
        let atom = self.atom()?;
        let signed = if sign < 0.0 {
            -atom.seconds
        } else {
            atom.seconds
        };
        Ok(Some(Computed {
            seconds: signed,
            start,
            end: atom.end,
            is_literal: atom.is_literal,
        }))
    }

    fn additive(&mut self) -> Result<Computed, DurationError> {
        let mut lhs = self.multiplicative()?;
        loop {
            let op = self.peek_op(&['+', '-']);
            let Some(op) = op else { return Ok(lhs) };
            self.pos += 1;
            let rhs = self.multiplicative()?;
            let seconds = if op == '+' {
                lhs.seconds + rhs.seconds
            } else {
                lhs.seconds - rhs.seconds
            };
            lhs = joined(lhs, rhs, seconds);
        }
    }

    fn multiplicative(&mut self) -> Result<Computed, DurationError> {
        let mut lhs = self.unary()?;
        loop {
            let Some(op) = self.peek_op(&['*', '/', '%']) else {
                return Ok(lhs);
            };
            self.pos += 1;
            let rhs = self.unary()?;
            let seconds = match op {
                '*' => lhs.seconds * rhs.seconds,
                _ if rhs.seconds == 0.0 => {
                    let what = if op == '/' { "division" } else { "modulo" };
                    return Err(self.error_at(lhs.start, rhs.end, &format!("{what} by zero")));
                }
                '/' => lhs.seconds / rhs.seconds,
                // Go's math.Mod: the result takes the sign of the dividend, as Rust's `%`.
                _ => lhs.seconds % rhs.seconds,
            };
            lhs = joined(lhs, rhs, seconds);
        }
    }

    fn unary(&mut self) -> Result<Computed, DurationError> {
        let start = self.position();
        match self.peek() {
            Some(sign @ ('+' | '-')) => {
                self.pos += 1;
                let inner = self.unary()?;
                let seconds = if sign == '-' {
                    -inner.seconds
                } else {
                    inner.seconds
                };
                Ok(Computed {
                    seconds,
                    start,
                    end: inner.end,
                    is_literal: false,
                })
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Computed, DurationError> {
        let base = self.atom()?;
        if self.peek_op(&['^']).is_none() {
            return Ok(base);
        }
        self.pos += 1;
        // The exponent may carry its own sign and groups to the right: 2^3^2 is 2^(3^2).
        let exponent = self.unary()?;
        Ok(joined(base, exponent, base.seconds.powf(exponent.seconds)))
    }

    /// A literal, a parenthesised expression, `step()`, `range()`, `min_of(a, b)`, `max_of(a, b)`.
    fn atom(&mut self) -> Result<Computed, DurationError> {
        let start = self.position();
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.additive()?;
                self.expect(')')?;
                Ok(Computed {
                    seconds: inner.seconds,
                    start,
                    end: self.pos,
                    is_literal: false,
                })
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.literal(),
            _ => self.call(start),
        }
    }

    /// `step()`, `range()`, `min_of(a, b)` or `max_of(a, b)`; names are case-insensitive.
    fn call(&mut self, start: usize) -> Result<Computed, DurationError> {
        let Some((name, name_end)) = self.call_name() else {
            return Err(self.unexpected());
        };
        self.pos = name_end;
        self.expect('(')?;
        let seconds = match name {
            CallName::Step | CallName::Range => {
                self.expect(')')?;
                let ms = if name == CallName::Step {
                    self.context.step_ms
                } else {
                    self.context.range_ms
                };
                ms as f64 / 1000.0
            }
            CallName::MinOf | CallName::MaxOf => {
                let a = self.additive()?;
                self.expect(',')?;
                let b = self.additive()?;
                self.expect(')')?;
                if name == CallName::MinOf {
                    a.seconds.min(b.seconds)
                } else {
                    a.seconds.max(b.seconds)
                }
            }
        };
        Ok(Computed {
            seconds,
            start,
            end: self.pos,
            is_literal: false,
        })
    }

    /// The duration function whose name (followed by `(`) starts here, and where the name ends.
    fn call_name(&mut self) -> Option<(CallName, usize)> {
        let start = self.position();
        let rest = &self.text[start..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..len];
        let name = [
            ("step", CallName::Step),
            ("range", CallName::Range),
            ("min_of", CallName::MinOf),
            ("max_of", CallName::MaxOf),
        ]
        .into_iter()
        .find(|(n, _)| word.eq_ignore_ascii_case(n))?
        .1;
        rest[len..]
            .trim_start()
            .starts_with('(')
            .then_some((name, start + len))
    }

    /// A number (seconds: `30`, `1.5`, `1e3`, `0x10`) or a duration literal (`30m1s`, `8000ms`).
    fn literal(&mut self) -> Result<Computed, DurationError> {
        let start = self.pos;
        let rest = &self.text[start..];
        let bytes = rest.as_bytes();
        let mut len = 0;
        if rest.starts_with("0x") || rest.starts_with("0X") {
            len = 2 + rest[2..]
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(rest.len() - 2);
            let seconds = i64::from_str_radix(&rest[2..len], 16)
                .map_err(|_| self.error_at(start, start + len, "invalid hexadecimal number"))?;
            self.pos += len;
            return Ok(self.literal_of(seconds as f64, start));
        }
        let digits = |from: usize| {
            bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        len += digits(len);
        let integer = len > 0;
        let mut fraction = false;
        if bytes.get(len) == Some(&b'.') {
            fraction = true;
            len += 1;
            len += digits(len);
        }
        if matches!(bytes.get(len), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(len + 1), Some(b'+' | b'-')));
            let exponent = digits(len + 1 + sign);
            if exponent > 0 {
                fraction = true;
                len += 1 + sign + exponent;
            }
        }
        if integer && !fraction && bytes.get(len).is_some_and(u8::is_ascii_alphabetic) {
            len += bytes[len..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let text = &rest[..len];
            let d = model::duration::parse_duration(text)
                .map_err(|e| self.error_at(start, start + len, &e.to_string()))?;
            self.pos += len;
            return Ok(self.literal_of(d.as_secs_f64(), start));
        }
        let seconds: f64 = rest[..len]
            .parse()
            .map_err(|_| self.error_at(start, start + len.max(1), "invalid number"))?;
        self.pos += len;
        Ok(self.literal_of(seconds, start))
    }

    fn literal_of(&self, seconds: f64, start: usize) -> Computed {
        Computed {
            seconds,
            start,
            end: self.pos,
            is_literal: true,
        }
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn peek_op(&mut self, ops: &[char]) -> Option<char> {
        self.peek().filter(|c| ops.contains(c))
    }

    fn expect(&mut self, wanted: char) -> Result<(), DurationError> {
        if self.peek() == Some(wanted) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn unexpected(&mut self) -> DurationError {
        let at = self.position();
        let width = self.text[at..].chars().next().map_or(0, char::len_utf8);
        let found = if width == 0 {
            "unexpected end of the query"
        } else {
            "unexpected character"
        };
        self.error_at(
            at,
            at + width,
            &format!(
                "{found}; expected a number, a duration, step(), range(), min_of(a, b), \
                 max_of(a, b), a parenthesis or an operator"
            ),
        )
    }

    fn error_at(&self, start: usize, end: usize, message: &str) -> DurationError {
        DurationError {
            start,
            end,
            message: message.to_string(),
        }
    }
}

/// The duration functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallName {
    Step,
    Range,
    MinOf,
    MaxOf,
}

/// The result of a binary operation spanning both operands.
fn joined(lhs: Computed, rhs: Computed, seconds: f64) -> Computed {
    Computed {
        seconds,
        start: lhs.start,
        end: rhs.end,
        is_literal: false,
    }
}
