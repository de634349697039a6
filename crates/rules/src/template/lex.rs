//! The lexer of alert templates: splits Go `text/template` source into text and action tokens.
//!
//! Whitespace trimming (`{{- ` and ` -}}`) and comments (`{{/* */}}`) are resolved here, so the
//! parser only sees text that is printed and the tokens inside actions.

use super::{Pos, TemplateError};

/// One token of a template, with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What the token is.
    pub(crate) kind: Tok,
    /// Byte offset of the token's first character in the template text.
    pub(crate) at: usize,
    /// Whether whitespace separates this token from the previous one inside an action; Go uses
    /// it to tell `$x.a` (a field of `$x`) from `$x .a` (two arguments).
    pub(crate) spaced: bool,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Literal text between actions, already trimmed.
    Text(String),
    /// `{{`
    Open,
    /// `}}`
    Close,
    /// A function name or keyword.
    Ident(String),
    /// `.name` (one step of a field chain).
    Field(String),
    /// `.` alone: the current value.
    Dot,
    /// `$` or `$name`.
    Var(String),
    /// A quoted or raw string, unescaped.
    Str(String),
    /// A number as written.
    Number(String),
    /// A character constant such as `'a'`, which Go treats as a number.
    Char(char),
    /// `|`
    Pipe,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `:=`
    Declare,
    /// `=`
    Assign,
}

/// Splits `text` into tokens.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, TemplateError> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        out: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    out: Vec<Token>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn error(&self, at: usize, message: impl Into<String>) -> TemplateError {
        TemplateError::parse(Pos::of(self.text, at), message)
    }

    fn push(&mut self, kind: Tok, at: usize, spaced: bool) {
        self.out.push(Token { kind, at, spaced });
    }

    fn run(&mut self) -> Result<(), TemplateError> {
        let mut trim_next_text = false;
        while self.pos < self.text.len() {
            let start = self.pos;
            let (mut chunk, found) = match self.rest().find("{{") {
                Some(i) => (&self.text[start..start + i], true),
                None => (self.rest(), false),
            };
            self.pos += chunk.len();
            if trim_next_text {
                chunk = chunk.trim_start_matches(is_space);
            }
            let trim_before = found && {
                let after = &self.text[self.pos + 2..];
                after.starts_with('-') && after[1..].starts_with(is_space)
            };
            if trim_before {
                chunk = chunk.trim_end_matches(is_space);
            }
            if !chunk.is_empty() {
                self.push(Tok::Text(chunk.to_string()), start, false);
            }
            if !found {
                break;
            }
            trim_next_text = self.action(trim_before)?;
        }
        Ok(())
    }

    /// Lexes one action starting at `{{`; returns whether it ended with a trim marker.
    fn action(&mut self, trimmed_open: bool) -> Result<bool, TemplateError> {
        let open_at = self.pos;
        self.pos += 2;
        if trimmed_open {
            self.pos += 2;
        }
        if self.rest().starts_with("/*") {
            return self.comment(open_at);
        }
        self.push(Tok::Open, open_at, false);
        let mut spaced = false;
        loop {
            let at = self.pos;
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Err(self.error(open_at, "unclosed action"));
            };
            if rest.starts_with(" -}}") || rest.starts_with("\t-}}") || rest.starts_with("\n-}}") {
                self.push(Tok::Close, at + 1, true);
                self.pos += 4;
                return Ok(true);
            }
            if rest.starts_with("}}") {
                self.push(Tok::Close, at, spaced);
                self.pos += 2;
                return Ok(false);
            }
            if is_space(c) {
                self.pos += c.len_utf8();
                spaced = true;
                continue;
            }
            let kind = match c {
                '|' => self.single(Tok::Pipe),
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                ',' => self.single(Tok::Comma),
                '=' => self.single(Tok::Assign),
                ':' if rest.starts_with(":=") => {
                    self.pos += 2;
                    Tok::Declare
                }
                '"' => self.quoted()?,
                '`' => self.raw()?,
                '\'' => self.char_constant()?,
                '$' => {
                    self.pos += 1;
                    Tok::Var(format!("${}", self.word()))
                }
                '.' => {
                    let next = rest[1..].chars().next();
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        self.number()?
                    } else {
                        self.pos += 1;
                        let name = self.word();
                        if name.is_empty() {
                            Tok::Dot
                        } else {
                            Tok::Field(name.to_string())
                        }
                    }
                }
                '+' | '-' | '0'..='9' => self.number()?,
                c if c.is_alphabetic() || c == '_' => Tok::Ident(self.word().to_string()),
                other => {
                    return Err(self.error(at, format!("unexpected {other:?} in action")));
                }
            };
            self.push(kind, at, spaced);
            spaced = false;
        }
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.pos += 1;
        tok
    }

    fn comment(&mut self, open_at: usize) -> Result<bool, TemplateError> {
        let Some(end) = self.rest().find("*/") else {
            return Err(self.error(open_at, "unclosed comment"));
        };
        self.pos += end + 2;
        let rest = self.rest();
        if rest.starts_with(" -}}") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with("}}") {
            self.pos += 2;
            Ok(false)
        } else {
            Err(self.error(open_at, "comment ends before closing delimiter"))
        }
    }

    fn word(&mut self) -> &'a str {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.text[start..start + len]
    }

    fn number(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        let rest = self.rest();
        let mut len = 0;
        let mut prev = ' ';
        for (i, c) in rest.char_indices() {
            let sign_ok =
                (c == '+' || c == '-') && (i == 0 || matches!(prev, 'e' | 'E' | 'p' | 'P'));
            if !(sign_ok || c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                break;
            }
            len = i + c.len_utf8();
            prev = c;
        }
        self.pos += len;
        let text = &self.text[start..start + len];
        if parse_number(text).is_none() {
            return Err(self.error(start, format!("bad number syntax: {text:?}")));
        }
        Ok(Tok::Number(text.to_string()))
    }

    fn quoted(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(self.error(start, "unterminated quoted string"));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(Tok::Str(out)),
                '\n' => return Err(self.error(start, "unterminated quoted string")),
                '\\' => out.push(self.escape(start)?),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, start: usize) -> Result<char, TemplateError> {
        let Some(c) = self.rest().chars().next() else {
            return Err(self.error(start, "unterminated quoted string"));
        };
        self.pos += c.len_utf8();
        let simple = match c {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' | '"' | '\'' => Some(c),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        let digits = match c {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => return Err(self.error(start, format!("unknown escape sequence \\{c}"))),
        };
        let hex = self.rest().get(..digits).unwrap_or("");
        let code = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
        match code {
            Some(ch) if hex.len() == digits => {
                self.pos += digits;
                Ok(ch)
            }
            _ => Err(self.error(start, format!("bad escape sequence \\{c}{hex}"))),
        }
    }

    fn raw(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let Some(end) = self.rest().find('`') else {
            return Err(self.error(start, "unterminated raw quoted string"));
        };
        let s = self.rest()[..end].to_string();
        self.pos += end + 1;
        Ok(Tok::Str(s))
    }

    fn char_constant(&mut self) -> Result<Tok, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let c = match self.rest().chars().next() {
            Some('\\') => {
                self.pos += 1;
                self.escape(start)?
            }
            Some(c) if c != '\'' && c != '\n' => {
                self.pos += c.len_utf8();
                c
            }
            _ => return Err(self.error(start, "bad character constant")),
        };
        if !self.rest().starts_with('\'') {
            return Err(self.error(start, "unterminated character constant"));
        }
        self.pos += 1;
        Ok(Tok::Char(c))
    }
}

/// A number constant of a template: Go makes it a float when it is written with a decimal point
/// or an exponent, and an integer otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// Written without `.`, `e` or `p`.
    Int(i64),
    /// Written with a decimal point or an exponent.
    Float(f64),
}

/// Parses a number as Go's template parser does (decimal, hex, octal, binary, underscores).
pub(crate) fn parse_number(text: &str) -> Option<Number> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let body = body.replace('_', "");
    let lower = body.to_ascii_lowercase();
    let radix = if lower.starts_with("0x") {
        Some((16, &body[2..]))
    } else if lower.starts_with("0b") {
        Some((2, &body[2..]))
    } else if lower.starts_with("0o") {
        Some((8, &body[2..]))
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        Some((8, &body[1..]))
    } else {
        None
    };
    if let Some((radix, digits)) = radix {
        let v = i64::from_str_radix(digits, radix).ok()?;
        return Some(Number::Int(if neg { -v } else { v }));
    }
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if body.contains(['.', 'e', 'E']) {
        let v: f64 = body.parse().ok()?;
        Some(Number::Float(if neg { -v } else { v }))
    } else {
        let v: i64 = body.parse().ok()?;
        Some(Number::Int(if neg { -v } else { v }))
    }
}
