//! The notifier's documents in the state database: `model::alert::DocumentStore` on the
//! `notify_documents` table (migration 2, see `sql.rs`).
//!
//! The store keeps JSON text it never parses: the notifier owns the shape of its silences,
//! log entries and queued deliveries, so a new notifier feature needs no migration here. What
//! the store does own is that a batch lands whole or not at all, that keys come back in the
//! same order on both databases, and that a document either database would mangle is refused
//! before anything is written.

use model::alert::{Document, DocumentStore, DocumentWrite, StateStoreError};
use model::{BoxFuture, Timestamp};

use super::rows::Columns;
use super::{Backend, StateDb, classify};

/// Inserts or replaces one document (`$1` kind, `$2` key, `$3` body, `$4` updated_at).
const UPSERT_DOCUMENT: &str = "INSERT INTO notify_documents (kind, doc_key, body, updated_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (kind, doc_key) DO UPDATE SET \
     body = excluded.body, updated_at = excluded.updated_at";

const DELETE_DOCUMENT: &str = "DELETE FROM notify_documents WHERE kind = $1 AND doc_key = $2";

/// No `ORDER BY`: PostgreSQL would order by the database's collation (which differs between
/// installations), so the caller sorts by the key's bytes instead.
const SELECT_DOCUMENTS: &str =
    "SELECT kind, doc_key, body, updated_at FROM notify_documents WHERE kind = $1";

const PRUNE_DOCUMENTS: &str = "DELETE FROM notify_documents WHERE kind = $1 AND updated_at < $2";

impl StateDb {
    async fn write_batch(&self, writes: &[DocumentWrite]) -> Result<(), StateStoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        // Checked up front so a refused document costs no transaction and leaves nothing half
        // written, whichever write of the batch it is.
        for write in writes {
            self.check(write)?;
        }
        let begin = |e| classify(&self.location, "write documents", e);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(begin)?;
            for write in writes {
                let result = match write {
                    DocumentWrite::Put(doc) => {
                        sqlx::query(UPSERT_DOCUMENT)
                            .bind(doc.kind.as_str())
                            .bind(doc.key.as_str())
                            .bind(doc.body.as_str())
                            .bind(doc.updated_at.as_millis())
                            .execute(&mut *tx)
                            .await
                    }
                    DocumentWrite::Delete { kind, key } => {
                        sqlx::query(DELETE_DOCUMENT)
                            .bind(kind.as_str())
                            .bind(key.as_str())
                            .execute(&mut *tx)
                            .await
                    }
                };
                // Dropping `tx` on the way out rolls back the writes before this one.
                result.map_err(|e| self.refused(write, e))?;
            }
            tx.commit().await.map_err(|e| classify(&self.location, "commit documents", e))
        })
    }

    async fn load_kind(&self, kind: &str) -> Result<Vec<Document>, StateStoreError> {
        let mut documents = on_pool!(self, pool => {
            let rows = sqlx::query(SELECT_DOCUMENTS)
                .bind(kind)
                .fetch_all(pool)
                .await
                .map_err(|e| classify(&self.location, &format!("load {kind:?} documents"), e))?;
            rows.iter()
                .map(|row| document_from(row, &self.location))
                .collect::<Result<Vec<_>, _>>()?
        });
        documents.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(documents)
    }

    async fn prune_kind(&self, kind: &str, horizon: Timestamp) -> Result<u64, StateStoreError> {
        on_pool!(self, pool => {
            let done = sqlx::query(PRUNE_DOCUMENTS)
                .bind(kind)
                .bind(horizon.as_millis())
                .execute(pool)
                .await
                .map_err(|e| classify(&self.location, &format!("prune {kind:?} documents"), e))?;
            Ok(done.rows_affected())
        })
    }

    /// PostgreSQL refuses NUL in text and SQLite keeps it, so a document with one would work
    /// on one database and fail on the other; refusing it on both keeps them alike.
    fn check(&self, write: &DocumentWrite) -> Result<(), StateStoreError> {
        let (kind, key, body) = match write {
            DocumentWrite::Put(doc) => (&doc.kind, &doc.key, Some(&doc.body)),
            DocumentWrite::Delete { kind, key } => (kind, key, None),
        };
        let field = if kind.contains('\0') {
            "kind"
        } else if key.contains('\0') {
            "key"
        } else if body.is_some_and(|b| b.contains('\0')) {
            "body"
        } else {
            return Ok(());
        };
        Err(StateStoreError::Invalid(format!(
            "{}: write document {}: its {field} contains a NUL character, which the state \
             database cannot store",
            self.location,
            name(write)
        )))
    }

    /// A write the database turned down. Data and constraint errors (PostgreSQL classes 22
    /// and 23, SQLite TOOBIG, CONSTRAINT and MISMATCH) mean this document is unacceptable,
    /// not that the database is broken, so they are `Invalid`; the rest is sorted as every
    /// other state database error is.
    fn refused(&self, write: &DocumentWrite, e: sqlx::Error) -> StateStoreError {
        let rejected = match &e {
            sqlx::Error::Database(db) => db.code().is_some_and(|code| rejects_data(&code)),
            _ => false,
        };
        let doing = format!("write document {}", name(write));
        if rejected {
            StateStoreError::Invalid(format!("{}: {doing}: {e}", self.location))
        } else {
            classify(&self.location, &doing, e)
        }
    }
}

/// `kind/"key"`, how messages name a document.
fn name(write: &DocumentWrite) -> String {
    let (kind, key) = match write {
        DocumentWrite::Put(doc) => (&doc.kind, &doc.key),
        DocumentWrite::Delete { kind, key } => (kind, key),
    };
    format!("{kind}/{key:?}")
}

/// Whether a database error code says "this value is not acceptable". PostgreSQL's SQLSTATE
/// has five characters; SQLite's numeric (possibly extended) codes are shorter.
fn rejects_data(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("22") || code.starts_with("23");
    }
    code.parse::<i32>()
        .is_ok_and(|n| matches!(n & 0xff, 18..=20))
}

/// Reads one `notify_documents` row back, naming it when a column cannot be read.
fn document_from(row: &impl Columns, location: &str) -> Result<Document, StateStoreError> {
    let kind = row.text("kind");
    let key = row.text("doc_key");
    let bad = |what: &dyn std::fmt::Display| {
        let kind = kind.as_deref().unwrap_or("?");
        let key = key.as_deref().unwrap_or("?");
        StateStoreError::Corrupt(format!(
            "{location}: notify_documents row {kind}/{key:?}: {what}"
        ))
    };
    let get = |e: sqlx::Error| bad(&e);
    Ok(Document {
        kind: kind.as_ref().map_err(|e| bad(e))?.clone(),
        key: key.as_ref().map_err(|e| bad(e))?.clone(),
        body: row.text("body").map_err(get)?,
        updated_at: Timestamp::from_millis(row.int("updated_at").map_err(get)?),
    })
}

impl DocumentStore for StateDb {
    fn write_documents<'a>(
        &'a self,
        writes: &'a [DocumentWrite],
    ) -> BoxFuture<'a, Result<(), StateStoreError>> {
        Box::pin(self.write_batch(writes))
    }

    fn load_documents<'a>(
        &'a self,
        kind: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Document>, StateStoreError>> {
        Box::pin(self.load_kind(kind))
    }

    fn prune_documents<'a>(
        &'a self,
        kind: &'a str,
        horizon: Timestamp,
    ) -> BoxFuture<'a, Result<u64, StateStoreError>> {
        Box::pin(self.prune_kind(kind, horizon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_constraint_errors_are_the_requests_fault() {
        assert!(rejects_data("22021")); // PostgreSQL: character not in repertoire
        assert!(rejects_data("23514")); // PostgreSQL: check violation
        assert!(rejects_data("1811")); // SQLITE_CONSTRAINT_TRIGGER
        assert!(rejects_data("18")); // SQLITE_TOOBIG
        assert!(!rejects_data("42P01")); // undefined table: the schema is broken
        assert!(!rejects_data("1")); // SQLITE_ERROR (no such table)
        assert!(!rejects_data("5")); // SQLITE_BUSY
    }
}
