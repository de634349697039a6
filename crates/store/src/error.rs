//! What can go wrong opening and maintaining a store, and the notes recovery leaves.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file or directory could not be created, read or written.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another process (or another `Store` in this one) has the directory open.
    #[error(
        "store directory {path} is in use by another process (lock held on {path}/LOCK); stop it or use another directory"
    )]
    Locked { path: PathBuf },
    /// The options are invalid.
    #[error("invalid store options: {}", .0.iter().map(|i| format!("{}: {}", i.path, i.message)).collect::<Vec<_>>().join("; "))]
    Options(Vec<model::ConfigIssue>),
    /// A read-only open was pointed at a directory that does not exist (only a writing open
    /// creates a store).
    #[error(
        "store directory {path} does not exist; check the path (a store is created by the first normal, writing open)"
    )]
    Missing { path: PathBuf },
    /// A read-only open was pointed at something that holds no store: neither `wal/` nor
    /// `blocks/` is in it.
    #[error(
        "{path} holds no Periscope store (neither {path}/wal nor {path}/blocks exists); check the path"
    )]
    NoStore { path: PathBuf },
    /// A read-only open kept finding the store's files changed by its writer while it read
    /// them (maintenance or WAL rotation each time), and gave up.
    #[error(
        "store directory {path} changed while it was being read, {attempts} times in a row (its writer kept cutting blocks or rotating the WAL); try again"
    )]
    KeptChanging { path: PathBuf, attempts: u32 },
}

/// Maintenance (cut, compaction, retention) failed; the store stays usable and consistent.
#[derive(Debug, thiserror::Error)]
pub enum MaintainError {
    /// A file could not be written, read or removed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The WAL thread has stopped (store closed or the disk failed).
    #[error("the WAL is not accepting work: {0}")]
    WalStopped(String),
}

/// Closing failed to flush.
#[derive(Debug, thiserror::Error)]
#[error("closing the store: {0}")]
pub struct CloseError(pub String);

/// What recovery found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecoveryKind {
    /// A WAL file ended in the middle of a record (a crash while writing); the partial
    /// record was dropped.
    TornTail,
    /// A WAL record's checksum did not match; it and the rest of its file were dropped.
    BadChecksum,
    /// A WAL or checkpoint file was unreadable as a whole (bad header) and was skipped.
    BadWalFile,
    /// A block file failed its checks and is not used.
    CorruptBlock,
    /// A block cut from the head whose WAL checkpoint was never written (a crash during
    /// maintenance); it was deleted, its samples are still in the WAL.
    OrphanBlock,
    /// A compaction finished but its sources were not yet deleted; they were deleted now.
    CompactedSource,
    /// Samples in the WAL referred to a series with no series record; they were dropped.
    UnknownSeries,
    /// A leftover temporary file from an interrupted write was removed.
    Leftover,
}

/// One thing recovery noticed, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// What happened.
    pub kind: RecoveryKind,
    /// The file concerned.
    pub path: PathBuf,
    /// Byte offset inside the file, when it matters.
    pub offset: Option<u64>,
    /// Details, for people.
    pub detail: String,
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.path.display())?;
        if let Some(o) = self.offset {
            write!(f, " at byte {o}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// An I/O error with what and where, as a closure for `map_err`.
pub(crate) fn io_err(
    what: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> MaintainError {
    let path = path.into();
    move |source| MaintainError::Io { what, path, source }
}

/// The same for open.
pub(crate) fn open_err(
    what: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> OpenError {
    let path = path.into();
    move |source| OpenError::Io { what, path, source }
}

impl From<MaintainError> for OpenError {
    fn from(e: MaintainError) -> Self {
        match e {
            MaintainError::Io { what, path, source } => OpenError::Io { what, path, source },
            MaintainError::WalStopped(m) => OpenError::Io {
                what: "starting the WAL",
                path: PathBuf::new(),
                source: io::Error::other(m),
            },
        }
    }
}
