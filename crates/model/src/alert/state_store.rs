//! The seam to the state database: where alert records and their transitions are kept across
//! restarts (and, on PostgreSQL, shared between instances).

use std::fmt;

use super::{AlertKey, AlertRecord, DocumentStore, Fingerprint, Transition};
use crate::{BoxFuture, Timestamp};

/// The changes of one evaluation round, written all together or not at all, so a crash never
/// leaves a record that disagrees with its history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateBatch {
    /// Records to insert or replace (by their group and their key's fingerprint).
    pub upserts: Vec<AlertRecord>,
    /// Records to delete: alerts that are inactive and have nothing left to remember.
    pub removals: Vec<AlertKey>,
    /// Transitions to append to the history.
    pub transitions: Vec<Transition>,
    /// The rule group the batch is from: upserts whose record names no group are saved under
    /// it, and a removal deletes that group's record (and a record of the same alert saved
    /// before groups were stored), never another group's. `None` keeps and deletes only
    /// records without a group.
    pub group: Option<String>,
}

impl StateBatch {
    /// True when saving it would change nothing.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removals.is_empty() && self.transitions.is_empty()
    }
}

/// Which transitions to read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only this alert's transitions; all alerts when `None`.
    pub alert: Option<Fingerprint>,
    /// Only this rule's transitions; all rules when `None`.
    pub rule: Option<String>,
    /// Only transitions recorded by this rule group (a rule of the same name in another group
    /// has a history of its own), and those recorded before groups were stored; all groups
    /// when `None`.
    pub group: Option<String>,
    /// Only transitions at or after this instant.
    pub since: Timestamp,
    /// At most this many, the newest ones.
    pub limit: usize,
}

/// What a prune removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneSummary {
    /// Alert records deleted.
    pub records: u64,
    /// Transitions deleted.
    pub transitions: u64,
}

/// Where alert state lives. Implementations must make [`AlertStateStore::save`] atomic.
pub trait AlertStateStore: Send + Sync {
    /// Every stored record, sorted by rule and labels (then group).
    fn load(&self) -> BoxFuture<'_, Result<Vec<AlertRecord>, StateStoreError>>;

    /// Writes a batch in one transaction: all of it is visible afterwards, or none of it.
    fn save<'a>(&'a self, batch: &'a StateBatch) -> BoxFuture<'a, Result<(), StateStoreError>>;

    /// Deletes resolved and inactive records last evaluated before `horizon` and transitions
    /// older than `horizon`. Pending and firing records are never pruned, however old.
    fn prune(&self, horizon: Timestamp) -> BoxFuture<'_, Result<PruneSummary, StateStoreError>>;

    /// Stored transitions matching `query`, oldest first.
    fn history<'a>(
        &'a self,
        query: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<Vec<Transition>, StateStoreError>>;

    /// The same database's documents, when it keeps them: rule evaluation keeps there what it
    /// must remember across restarts besides alert records (which series a rule last saw).
    /// `None` (the default) for a store without documents; that memory then starts empty.
    fn documents(&self) -> Option<&dyn DocumentStore> {
        None
    }
}

/// Why the state database could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateStoreError {
    /// The database cannot be reached or is busy (connection refused, lock timeout, disk full):
    /// the same call may succeed later. Says which database and what happened.
    Unavailable(String),
    /// The database holds something this version cannot read (a row that breaks the schema's
    /// rules, a schema newer than this binary): retrying will not help.
    Corrupt(String),
    /// The request or configuration is wrong (a malformed URL, an unsupported scheme):
    /// retrying will not help until it is fixed.
    Invalid(String),
}

impl StateStoreError {
    /// True when the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StateStoreError::Unavailable(_))
    }
}

impl fmt::Display for StateStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateStoreError::Unavailable(m) => write!(f, "state database unavailable: {m}"),
            StateStoreError::Corrupt(m) => write!(f, "state database unreadable: {m}"),
            StateStoreError::Invalid(m) => write!(f, "state database request invalid: {m}"),
        }
    }
}

impl std::error::Error for StateStoreError {}
