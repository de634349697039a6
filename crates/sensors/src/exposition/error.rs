//! Located parse errors: what is wrong and where (a line and column of a text format, a field
//! path into a JSON or protobuf payload, or the payload as a whole).
//!
//! Parsers keep going after a problem where the format allows it, so `check-metrics` can list
//! every problem at once; ingestion treats any problem as "nothing accepted". The list is capped
//! so a garbage payload of millions of lines cannot make the error list itself the problem.

use std::fmt;

/// How many problems are kept; the rest are only counted.
const MAX_KEPT: usize = 200;

/// Where a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A line of a text format (1-based), with the column (1-based, in characters) when known.
    Line {
        /// Line number, from 1.
        line: u32,
        /// Column in characters, from 1.
        column: Option<u32>,
    },
    /// A path into a structured payload, e.g. `samples[3].labels` or `timeseries[0].labels[2]`.
    Field(String),
    /// The payload as a whole (e.g. a snappy block that does not decompress).
    Payload,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line { line, column: None } => write!(f, "line {line}"),
            Location::Line {
                line,
                column: Some(c),
            } => write!(f, "line {line}, column {c}"),
            Location::Field(path) => f.write_str(path),
            Location::Payload => f.write_str("payload"),
        }
    }
}

/// One problem in a payload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ParseError {
    /// Where it is.
    pub at: Location,
    /// What is wrong, e.g. `label value for "path" is not terminated`.
    pub message: String,
}

impl ParseError {
    /// The line number, for text formats.
    pub fn line(&self) -> Option<u32> {
        match self.at {
            Location::Line { line, .. } => Some(line),
            _ => None,
        }
    }
}

/// Every problem found in a payload (at least one), in the order met.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseErrors {
    errors: Vec<ParseError>,
    omitted: usize,
}

impl ParseErrors {
    /// The problems kept (the first 200).
    pub fn errors(&self) -> &[ParseError] {
        &self.errors
    }

    /// How many further problems were found but not kept.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// All problems, counting the omitted ones.
    pub fn total(&self) -> usize {
        self.errors.len() + self.omitted
    }
}

impl fmt::Display for ParseErrors {
    /// One problem per line; a last line says how many more were left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.omitted > 0 {
            write!(f, "\n... and {} more problems", self.omitted)?;
        }
        Ok(())
    }
}

/// Collects problems while a parser runs.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    errors: Vec<ParseError>,
    omitted: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, at: Location, message: impl Into<String>) {
        if self.errors.len() < MAX_KEPT {
            self.errors.push(ParseError {
                at,
                message: message.into(),
            });
        } else {
            self.omitted += 1;
        }
    }

    /// A problem on `line` (1-based) at byte offset `byte` of `text` (the line's text).
    pub(crate) fn at_byte(
        &mut self,
        line: u32,
        text: &str,
        byte: usize,
        message: impl Into<String>,
    ) {
        let column = column_of(text, byte);
        self.push(
            Location::Line {
                line,
                column: Some(column),
            },
            message,
        );
    }

    pub(crate) fn at_line(&mut self, line: u32, message: impl Into<String>) {
        self.push(Location::Line { line, column: None }, message);
    }

    pub(crate) fn at_field(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Location::Field(path.into()), message);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Problems found so far (kept or not): they only grow.
    pub(crate) fn len(&self) -> usize {
        self.errors.len() + self.omitted
    }

    /// `Ok(value)` when nothing was found, else every problem.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ParseErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ParseErrors {
                errors: self.errors,
                omitted: self.omitted,
            })
        }
    }
}

/// A single problem as a [`ParseErrors`].
pub(crate) fn single(at: Location, message: impl Into<String>) -> ParseErrors {
    let mut p = Problems::default();
    p.push(at, message);
    ParseErrors {
        errors: p.errors,
        omitted: 0,
    }
}

/// The 1-based character column of byte offset `byte` in `text` (clamped to the text, and to
/// the previous character boundary, so it never panics).
fn column_of(text: &str, byte: usize) -> u32 {
    let mut end = byte.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    u32::try_from(text[..end].chars().count() + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_line_and_column_in_characters() {
        let mut p = Problems::default();
        p.at_byte(7, "ä{x", 3, "something");
        p.at_line(8, "other");
        let e = p.finish(()).unwrap_err();
        assert_eq!(e.to_string(), "line 7, column 3: something\nline 8: other");
        assert_eq!(e.errors()[0].line(), Some(7));
    }

    #[test]
    fn the_list_is_capped_but_counted() {
        let mut p = Problems::default();
        for i in 0..(MAX_KEPT + 5) {
            p.at_line(u32::try_from(i).unwrap(), "x");
        }
        let e = p.finish(()).unwrap_err();
        assert_eq!(e.errors().len(), MAX_KEPT);
        assert_eq!(e.total(), MAX_KEPT + 5);
        assert!(e.to_string().ends_with("... and 5 more problems"));
    }
}
