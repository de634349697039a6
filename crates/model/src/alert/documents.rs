//! The seam for the response side's state: small JSON documents by kind and key (notification
//! log entries, silences, acknowledgements, escalations, queued deliveries).
//!
//! The one decision behind it: the notifier owns the shape of what it keeps and serializes it
//! itself, so the state database needs one table rather than a migration per notifier feature,
//! and the same table works on SQLite and PostgreSQL. Writes come in batches that apply
//! atomically, so "sent" and "queued" never disagree after a crash.

use super::StateStoreError;
use crate::{BoxFuture, Timestamp};

/// One stored document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// What kind of thing it is (`silence`, `nflog`, `ack`...): documents are loaded by kind.
    pub kind: String,
    /// Its identity within the kind.
    pub key: String,
    /// The document, as JSON text.
    pub body: String,
    /// When it was last written (the writer's `now`).
    pub updated_at: Timestamp,
}

/// One change to the documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentWrite {
    /// Insert or replace the document with this kind and key.
    Put(Document),
    /// Delete the document with this kind and key (nothing happens when there is none).
    Delete {
        /// Its kind.
        kind: String,
        /// Its key.
        key: String,
    },
}

/// Where the response side keeps its documents.
pub trait DocumentStore: Send + Sync {
    /// Applies `writes` in order in one transaction: all of them or none.
    fn write_documents<'a>(
        &'a self,
        writes: &'a [DocumentWrite],
    ) -> BoxFuture<'a, Result<(), StateStoreError>>;

    /// Every document of `kind`, ordered by key.
    fn load_documents<'a>(
        &'a self,
        kind: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Document>, StateStoreError>>;

    /// Deletes documents of `kind` last written before `horizon`; returns how many.
    fn prune_documents<'a>(
        &'a self,
        kind: &'a str,
        horizon: Timestamp,
    ) -> BoxFuture<'a, Result<u64, StateStoreError>>;
}
