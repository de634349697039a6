//! Errors from writing report files: each names what was being done and the path.

use std::io;
use std::path::PathBuf;

/// Why a report file could not be written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file-system operation failed, e.g. `cannot write snapshot /var/lib/periscope/x.xml`.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `create snapshot directory`.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's answer.
        source: io::Error,
    },
    /// An existing end-of-day CSV file could not be parsed.
    #[error("cannot read end-of-day CSV {}: {source}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// What the CSV reader found.
        source: csv::Error,
    },
    /// An existing file is not one of ours; it is left untouched rather than rewritten.
    #[error(
        "{} does not look like a Periscope end-of-day file (header `{found}`, expected `{expected}`); \
         move it away or point the report at another directory",
        path.display()
    )]
    CsvHeader {
        /// The CSV file.
        path: PathBuf,
        /// The header line found.
        found: String,
        /// The header line expected.
        expected: &'static str,
    },
}

impl ReportError {
    /// An [`ReportError::Io`] for `action` on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> ReportError {
        let path = path.into();
        move |source| ReportError::Io {
            action,
            path,
            source,
        }
    }
}
