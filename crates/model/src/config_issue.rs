//! A problem found in a piece of configuration, located by key path.

use std::fmt;

/// A problem in configuration, located by its key path relative to the table that was handed
/// over (e.g. `rules.timeout.pattern` inside a monitor). The config loader turns the path into a
/// file and line, so plug-ins never need to know where their settings came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key path; array elements as numbers, e.g. `steps.2.url`.
    pub path: String,
    /// What is wrong, e.g. `invalid regex: unclosed group`.
    pub message: String,
    /// How to fix it, when there is a useful suggestion.
    pub hint: Option<String>,
}

impl ConfigIssue {
    /// An issue at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same issue with a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same issue with `prefix.` in front of its path.
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = if self.path.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}
