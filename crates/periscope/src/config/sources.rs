//! The files a config is made of, and positions within them.
//!
//! Every file is parsed on its own, then its spans are moved into one global offset space (file
//! k starts after file k-1 ends), so after overlays are merged any span still says which file
//! and line it came from.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::ConfigError;

/// One config file's text and where it sits in the global offset space.
pub struct SourceFile {
    /// The path as the user would recognise it.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    /// Global offset of the file's first byte.
    pub base: usize,
}

/// All files of one config, in load order.
#[derive(Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Reads `path` and adds it; the error names the file.
    pub fn read(&mut self, path: &Path) -> Result<usize, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, format!("cannot read config file: {e}")))?;
        Ok(self.add(path.to_path_buf(), text))
    }

    /// Adds a file with the given text; returns its index.
    pub fn add(&mut self, path: PathBuf, text: String) -> usize {
        let base = self.files.last().map_or(0, |f| f.base + f.text.len() + 1);
        self.files.push(SourceFile { path, text, base });
        self.files.len() - 1
    }

    /// The file at `index`.
    pub fn file(&self, index: usize) -> &SourceFile {
        &self.files[index]
    }

    /// Parses file `index` into a table whose spans are global. Syntax errors come back all at
    /// once (the parser recovers and goes on).
    pub fn parse(&self, index: usize) -> (Spanned<DeTable<'_>>, Vec<ConfigError>) {
        let file = &self.files[index];
        let (table, errors) = DeTable::parse_recoverable(&file.text);
        let errors = errors
            .into_iter()
            .map(|e| {
                let at = e.span().map(|s| s.start + file.base);
                ConfigError::at(self, at, "", format!("TOML syntax error: {}", e.message()))
            })
            .collect();
        let span = shift_range(table.span(), file.base);
        let shifted = shift_table(table.into_inner(), file.base);
        (Spanned::new(span, shifted), errors)
    }

    /// File, 1-based line and column of a global offset.
    pub fn locate(&self, offset: usize) -> Option<(&SourceFile, usize, usize)> {
        let file = self.files.iter().rev().find(|f| f.base <= offset)?;
        let local = (offset - file.base).min(file.text.len());
        let before = &file.text[..floor_char_boundary(&file.text, local)];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |i| before.len() - i - 1)
            + 1;
        Some((file, line, col))
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn shift_range(r: Range<usize>, base: usize) -> Range<usize> {
    r.start + base..r.end + base
}

fn shift_table(table: DeTable<'_>, base: usize) -> DeTable<'_> {
    let mut out = DeTable::new();
    for (k, v) in table {
        let key = Spanned::new(shift_range(k.span(), base), k.into_inner());
        out.insert(key, shift_value(v, base));
    }
    out
}

fn shift_value(v: Spanned<DeValue<'_>>, base: usize) -> Spanned<DeValue<'_>> {
    let span = shift_range(v.span(), base);
    let value = match v.into_inner() {
        DeValue::Table(t) => DeValue::Table(shift_table(t, base)),
        DeValue::Array(a) => {
            DeValue::Array(a.into_iter().map(|item| shift_value(item, base)).collect())
        }
        other => other,
    };
    Spanned::new(span, value)
}
