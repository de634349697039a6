//! Config errors that say file, line, key, what is wrong and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::sources::Sources;

/// One problem in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the problem is in one.
    pub file: Option<PathBuf>,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// Dotted key path, e.g. `monitor.app.rules.timeout.regex`; empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl ConfigError {
    /// A problem with a whole file (cannot read it, and so on).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: Some(path.to_path_buf()),
            position: None,
            key: String::new(),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem at a global offset of `sources`.
    pub fn at(
        sources: &Sources,
        offset: Option<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let located = offset.and_then(|o| sources.locate(o));
        ConfigError {
            file: located.as_ref().map(|(f, _, _)| f.path.clone()),
            position: located.map(|(_, l, c)| (l, c)),
            key: key.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.position) {
            (Some(file), Some((line, col))) => write!(f, "{}:{line}:{col}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in a configuration, in file order.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// For an "unknown field `x`, expected one of `a`, `b`" message: the closest expected name.
pub fn suggest_field(message: &str) -> Option<String> {
    let unknown = message.strip_prefix("unknown field `")?.split('`').next()?;
    let expected = message.split("expected").nth(1)?;
    let candidates = expected.split('`').skip(1).step_by(2);
    candidates
        .map(|c| (edit_distance(unknown, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Levenshtein distance; config keys are short, so the quadratic form is fine.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_expected_field() {
        let m = "unknown field `pathz`, expected one of `paths`, `rules`, `record_start`";
        assert_eq!(suggest_field(m).as_deref(), Some("did you mean `paths`?"));
        let far = "unknown field `colour`, expected `paths` or `rules`";
        assert_eq!(suggest_field(far), None);
    }
}
