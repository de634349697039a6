//! The state database: where alert records and their transitions survive restarts.
//!
//! SQLite (one file next to the metric store) by default; PostgreSQL when several Periscope
//! instances are to share state. One schema and one set of queries serve both (see
//! `state_db/sql.rs` and docs/adr/0002-state-database.md): every query is a plain SQL string
//! run through sqlx, and the two backends differ only in how a connection is opened.
//!
//! SQLite runs in WAL mode with a single connection (one writer; readers of the file from other
//! processes are not blocked), `synchronous = FULL` so a saved batch survives a power cut, and a
//! busy timeout so a backup or `sqlite3` shell holding a lock makes a save wait, not fail.

mod rows;
mod sql;

use std::str::FromStr;
use std::time::Duration;

use model::alert::{
    AlertRecord, AlertStateStore, DocumentStore, HistoryQuery, PruneSummary, StateBatch,
    StateStoreError, Transition,
};
use model::{BoxFuture, Timestamp};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use rows::{RecordRow, TransitionRow};

/// How long a SQLite save waits for a lock held by another process before failing.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call waits for a free connection (or for PostgreSQL to answer a connect).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// PostgreSQL connections per instance: evaluation saves, the API reads history.
const PG_MAX_CONNECTIONS: u32 = 4;

/// The state database. Cheap to share behind an `Arc`; every method is one transaction.
#[derive(Debug)]
pub struct StateDb {
    backend: Backend,
    /// The database in words for error messages: a path, or host:port/database (never a
    /// password).
    location: String,
}

#[derive(Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds, so each query is written
/// once and compiled for both databases.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Connects once, without a pool, and brings the schema up to date. A pool would retry a
/// refused connection until its acquire timeout; a single attempt makes a wrong URL or a
/// stopped server fail at once, with the server's own words.
macro_rules! migrate_once {
    ($connection:ty, $options:expr, $location:expr) => {{
        let mut conn = <$connection as sqlx::Connection>::connect_with($options)
            .await
            .map_err(|e| classify($location, "connect", e))?;
        sql::migrator()
            .run(&mut conn)
            .await
            .map_err(|e| migrate_error($location, e))?;
        sqlx::Connection::close(conn)
            .await
            .map_err(|e| classify($location, "connect", e))?;
    }};
}

// After the macros: a child module sees `macro_rules!` only when declared below them.
mod documents;

impl StateDb {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    ///
    /// - `sqlite://PATH?mode=rwc` (or `sqlite:PATH`): a file, created when `mode=rwc`;
    /// - `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`: an existing database.
    pub async fn open(url: &str) -> Result<StateDb, StateStoreError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StateStoreError::Invalid(format!("state database {url:?}: {e}")))?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let location = format!("sqlite {}", options.get_filename().display());
            migrate_once!(SqliteConnection, &options, &location);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(|e| classify(&location, "open", e))?;
            StateDb {
                backend: Backend::Sqlite(pool),
                location,
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| {
                StateStoreError::Invalid(format!("state database {}: {e}", redact(url)))
            })?;
            let location = format!(
                "postgres {}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or(options.get_username())
            );
            migrate_once!(PgConnection, &options, &location);
            let pool = PgPoolOptions::new()
                .max_connections(PG_MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(|e| classify(&location, "connect", e))?;
            StateDb {
                backend: Backend::Postgres(pool),
                location,
            }
        } else {
            return Err(StateStoreError::Invalid(format!(
                "state database {}: unsupported URL; use sqlite://PATH?mode=rwc or \
                 postgres://USER@HOST:PORT/DATABASE",
                redact(url)
            )));
        };
        Ok(db)
    }

    /// The database in words, as error messages name it (e.g. `sqlite /var/lib/state.db`).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Waits for running calls and closes every connection. Dropping a `StateDb` closes it
    /// too, without waiting.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    async fn load_records(&self) -> Result<Vec<AlertRecord>, StateStoreError> {
        let mut records = on_pool!(self, pool => {
            let rows = sqlx::query(sql::SELECT_RECORDS)
                .fetch_all(pool)
                .await
                .map_err(|e| classify(&self.location, "load alert state", e))?;
            rows.iter()
                .map(|row| rows::record_from(row, &self.location))
                .collect::<Result<Vec<_>, _>>()?
        });
        records.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.group.cmp(&b.group)));
        Ok(records)
    }

    async fn save_batch(&self, batch: &StateBatch) -> Result<(), StateStoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let fail = |e| classify(&self.location, "save alert state", e);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(fail)?;
            for record in &batch.upserts {
                let r = RecordRow::new(record, batch.group.as_deref());
                sqlx::query(sql::UPSERT_RECORD)
                    .bind(r.fingerprint.as_str())
                    .bind(r.rule)
                    .bind(r.labels)
                    .bind(r.phase)
                    .bind(r.pending_since)
                    .bind(r.active_since)
                    .bind(r.resolved_at)
                    .bind(r.last_failing_at)
                    .bind(r.last_evaluated_at)
                    .bind(r.consecutive_failing)
                    .bind(r.consecutive_good)
                    .bind(r.history)
                    .bind(r.flapping)
                    .bind(r.notified_firing)
                    .bind(r.suppressed_by)
                    .bind(r.last_value)
                    .bind(r.annotations)
                    .bind(r.rule_group.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                if r.rule_group != sql::NO_GROUP {
                    sqlx::query(sql::DELETE_UNGROUPED_RECORD)
                        .bind(r.fingerprint)
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                }
            }
            let removal_group = batch.group.as_deref().unwrap_or(sql::NO_GROUP);
            for key in &batch.removals {
                sqlx::query(sql::DELETE_RECORD)
                    .bind(key.fingerprint().to_string())
                    .bind(removal_group)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            for (seq, transition) in batch.transitions.iter().enumerate() {
                let t = TransitionRow::new(transition, batch.group.as_deref());
                sqlx::query(sql::INSERT_TRANSITION)
                    .bind(t.at_ms)
                    .bind(t.fingerprint)
                    .bind(t.rule)
                    .bind(t.labels)
                    .bind(t.kind)
                    .bind(t.from_phase)
                    .bind(t.to_phase)
                    .bind(t.notify)
                    .bind(t.value)
                    .bind(t.suppressed_by)
                    .bind(t.rule_group)
                    .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)
        })
    }

    async fn prune_before(&self, horizon: Timestamp) -> Result<PruneSummary, StateStoreError> {
        let fail = |e| classify(&self.location, "prune alert state", e);
        let h = horizon.as_millis();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(fail)?;
            let records = sqlx::query(sql::PRUNE_RECORDS)
                .bind(h)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            let transitions = sqlx::query(sql::PRUNE_TRANSITIONS)
                .bind(h)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            tx.commit().await.map_err(fail)?;
            Ok(PruneSummary {
                records,
                transitions,
            })
        })
    }

    async fn read_history(&self, query: &HistoryQuery) -> Result<Vec<Transition>, StateStoreError> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let alert = query.alert.map(|f| f.to_string());
        let mut transitions = on_pool!(self, pool => {
            let rows = sqlx::query(sql::SELECT_HISTORY)
                .bind(query.since.as_millis())
                .bind(alert)
                .bind(query.rule.clone())
                .bind(limit)
                .bind(query.group.clone())
                .fetch_all(pool)
                .await
                .map_err(|e| classify(&self.location, "read alert history", e))?;
            rows.iter()
                .map(|row| rows::transition_from(row, &self.location))
                .collect::<Result<Vec<_>, _>>()?
        });
        transitions.reverse();
        Ok(transitions)
    }
}

fn migrate_error(location: &str, e: sqlx::migrate::MigrateError) -> StateStoreError {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::Execute(e) | M::ExecuteMigration(e, _) => classify(location, "update the schema", e),
        M::VersionMissing(v) => StateStoreError::Corrupt(format!(
            "{location}: schema version {v} was written by a newer Periscope; upgrade this one \
             or point it at another database"
        )),
        other => StateStoreError::Corrupt(format!("{location}: cannot update the schema: {other}")),
    }
}

impl AlertStateStore for StateDb {
    fn load(&self) -> BoxFuture<'_, Result<Vec<AlertRecord>, StateStoreError>> {
        Box::pin(self.load_records())
    }

    fn save<'a>(&'a self, batch: &'a StateBatch) -> BoxFuture<'a, Result<(), StateStoreError>> {
        Box::pin(self.save_batch(batch))
    }

    fn prune(&self, horizon: Timestamp) -> BoxFuture<'_, Result<PruneSummary, StateStoreError>> {
        Box::pin(self.prune_before(horizon))
    }

    fn history<'a>(
        &'a self,
        query: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<Vec<Transition>, StateStoreError>> {
        Box::pin(self.read_history(query))
    }

    fn documents(&self) -> Option<&dyn DocumentStore> {
        Some(self)
    }
}

/// Sorts a sqlx error into retryable or not, naming the database and what was being done.
fn classify(location: &str, doing: &str, e: sqlx::Error) -> StateStoreError {
    let message = format!("{location}: {doing}: {e}");
    let retryable = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
        _ => false,
    };
    if retryable {
        StateStoreError::Unavailable(message)
    } else if matches!(
        e,
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_)
    ) {
        StateStoreError::Invalid(message)
    } else {
        StateStoreError::Corrupt(message)
    }
}

/// Database error codes that say "not now" rather than "never": SQLite busy/locked/full/I/O
/// (primary result codes 5, 6, 10, 13, also as extended codes) and PostgreSQL connection
/// (class 08), serialization and deadlock (40001, 40P01), resources (class 53) and shutdown
/// (class 57P). A PostgreSQL SQLSTATE is always five characters; SQLite's numeric codes never
/// reach five digits, which tells the two apart.
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || code == "40001"
            || code == "40P01"
            || code.starts_with("53")
            || code.starts_with("57P");
    }
    code.parse::<i32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13))
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://alert:s3cret@db:5432/state"),
            "postgres://alert:***@db:5432/state"
        );
        assert_eq!(redact("postgres://db/state"), "postgres://db/state");
        assert_eq!(
            redact("postgres://alert@db/state"),
            "postgres://alert@db/state"
        );
    }

    #[test]
    fn busy_and_connection_errors_are_retryable_constraint_errors_are_not() {
        assert!(transient_code("5")); // SQLITE_BUSY
        assert!(transient_code("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(transient_code("40001"));
        assert!(transient_code("08006"));
        assert!(!transient_code("23505")); // unique violation
        assert!(!transient_code("19")); // SQLITE_CONSTRAINT
        assert!(!transient_code("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!transient_code("42P01")); // undefined table
    }
}
