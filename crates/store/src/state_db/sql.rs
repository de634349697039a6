//! The state database's schema and queries, written once for both SQLite and PostgreSQL.
//!
//! Everything here sticks to what both accept: `BIGINT` milliseconds for instants (no
//! time-zone types), `TEXT`, `BOOLEAN`, `DOUBLE PRECISION`, `$n` placeholders (SQLite reads
//! them as numbered parameters), `INSERT ... ON CONFLICT ... DO UPDATE` with `excluded`. There is
//! no auto-increment column (the two spell it differently): transitions are ordered by their
//! time and their position in the batch that wrote them.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// Migration 1: the alert records and their transitions. Never edit a migration that has
/// shipped (sqlx keeps its checksum and refuses a changed one); add a new one instead.
const V1_ALERT_STATE: &str = "
CREATE TABLE alert_state (
    fingerprint         TEXT NOT NULL PRIMARY KEY,
    rule                TEXT NOT NULL,
    labels              TEXT NOT NULL,
    phase               TEXT NOT NULL,
    pending_since       BIGINT,
    active_since        BIGINT,
    resolved_at         BIGINT,
    last_failing_at     BIGINT,
    last_evaluated_at   BIGINT NOT NULL,
    consecutive_failing BIGINT NOT NULL,
    consecutive_good    BIGINT NOT NULL,
    history             BIGINT NOT NULL,
    flapping            BOOLEAN NOT NULL,
    notified_firing     BOOLEAN NOT NULL,
    suppressed_by       TEXT,
    last_value          DOUBLE PRECISION,
    annotations         TEXT NOT NULL
);
CREATE INDEX alert_state_rule ON alert_state (rule);

CREATE TABLE alert_transition (
    at_ms         BIGINT NOT NULL,
    seq           BIGINT NOT NULL,
    fingerprint   TEXT NOT NULL,
    rule          TEXT NOT NULL,
    labels        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    from_phase    TEXT NOT NULL,
    to_phase      TEXT NOT NULL,
    notify        BOOLEAN NOT NULL,
    value         DOUBLE PRECISION,
    suppressed_by TEXT
);
CREATE INDEX alert_transition_at ON alert_transition (at_ms);
CREATE INDEX alert_transition_alert ON alert_transition (fingerprint, at_ms);
";

/// Migration 2: the notifier's documents (silences, notification log, acknowledgements,
/// queued deliveries), JSON text by kind and key; see `state_db/documents.rs`. The index
/// serves pruning a kind by age.
const V2_NOTIFY_DOCUMENTS: &str = "
CREATE TABLE notify_documents (
    kind       TEXT NOT NULL,
    doc_key    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, doc_key)
);
CREATE INDEX notify_documents_age ON notify_documents (kind, updated_at);
";

/// Migration 3: which rule group an alert record belongs to, as part of its identity, so two
/// groups with rules of the same name (and an alert with the same labels) keep one record each.
/// The primary key cannot be changed in place on SQLite, so the table is rebuilt. Records of
/// earlier versions get the group `''` ("saved before groups were stored"); the first save by a
/// group replaces such a record.
const V3_ALERT_STATE_GROUP: &str = "
CREATE TABLE alert_state_v3 (
    rule_group          TEXT NOT NULL,
    fingerprint         TEXT NOT NULL,
    rule                TEXT NOT NULL,
    labels              TEXT NOT NULL,
    phase               TEXT NOT NULL,
    pending_since       BIGINT,
    active_since        BIGINT,
    resolved_at         BIGINT,
    last_failing_at     BIGINT,
    last_evaluated_at   BIGINT NOT NULL,
    consecutive_failing BIGINT NOT NULL,
    consecutive_good    BIGINT NOT NULL,
    history             BIGINT NOT NULL,
    flapping            BOOLEAN NOT NULL,
    notified_firing     BOOLEAN NOT NULL,
    suppressed_by       TEXT,
    last_value          DOUBLE PRECISION,
    annotations         TEXT NOT NULL,
    PRIMARY KEY (rule_group, fingerprint)
);
INSERT INTO alert_state_v3 (rule_group, fingerprint, rule, labels, phase, pending_since,
    active_since, resolved_at, last_failing_at, last_evaluated_at, consecutive_failing,
    consecutive_good, history, flapping, notified_firing, suppressed_by, last_value, annotations)
SELECT '', fingerprint, rule, labels, phase, pending_since, active_since, resolved_at,
    last_failing_at, last_evaluated_at, consecutive_failing, consecutive_good, history, flapping,
    notified_firing, suppressed_by, last_value, annotations
FROM alert_state;
DROP TABLE alert_state;
ALTER TABLE alert_state_v3 RENAME TO alert_state;
CREATE INDEX alert_state_rule ON alert_state (rule);
";

/// Migration 4: which rule group recorded a transition, so the history of an alert in one group
/// is not mixed with that of a rule of the same name (and labels) in another. Transitions of
/// earlier versions get the group `''` ("recorded before groups were stored") and are shown
/// with every group's history of their alert.
const V4_TRANSITION_GROUP: &str = "
ALTER TABLE alert_transition ADD COLUMN rule_group TEXT NOT NULL DEFAULT '';
";

/// The `rule_group` of a record saved without a group (by a version before migration 3).
pub(super) const NO_GROUP: &str = "";

/// The migrations, built at run time from the strings above (`sqlx::migrate!` would need the
/// macros feature). sqlx records applied versions in `_sqlx_migrations`, takes an advisory
/// lock on PostgreSQL so two instances starting together do not both migrate, and refuses a
/// database that has a migration this binary does not know (a newer Periscope wrote it).
pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "alert state".into(),
            MigrationType::Simple,
            V1_ALERT_STATE.into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "notify documents".into(),
            MigrationType::Simple,
            V2_NOTIFY_DOCUMENTS.into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "alert state group".into(),
            MigrationType::Simple,
            V3_ALERT_STATE_GROUP.into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "alert transition group".into(),
            MigrationType::Simple,
            V4_TRANSITION_GROUP.into_sql_str(),
            false,
        ),
    ])
}

/// Every column of `alert_state`, in the order [`UPSERT_RECORD`] binds and
/// [`SELECT_RECORDS`] returns them.
macro_rules! record_columns {
    () => {
        "fingerprint, rule, labels, phase, pending_since, active_since, resolved_at, \
         last_failing_at, last_evaluated_at, consecutive_failing, consecutive_good, history, \
         flapping, notified_firing, suppressed_by, last_value, annotations, rule_group"
    };
}

/// Every column of `alert_transition` but `seq`, in the order [`INSERT_TRANSITION`] binds and
/// [`SELECT_HISTORY`] returns them.
macro_rules! transition_columns {
    () => {
        "at_ms, fingerprint, rule, labels, kind, from_phase, to_phase, notify, value, \
         suppressed_by, rule_group"
    };
}

pub(super) const SELECT_RECORDS: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM alert_state ORDER BY rule, fingerprint, rule_group"
);

pub(super) const UPSERT_RECORD: &str = concat!(
    "INSERT INTO alert_state (",
    record_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18) ON CONFLICT (rule_group, fingerprint) DO UPDATE SET \
     rule = excluded.rule, labels = excluded.labels, phase = excluded.phase, \
     pending_since = excluded.pending_since, active_since = excluded.active_since, \
     resolved_at = excluded.resolved_at, last_failing_at = excluded.last_failing_at, \
     last_evaluated_at = excluded.last_evaluated_at, \
     consecutive_failing = excluded.consecutive_failing, \
     consecutive_good = excluded.consecutive_good, history = excluded.history, \
     flapping = excluded.flapping, notified_firing = excluded.notified_firing, \
     suppressed_by = excluded.suppressed_by, last_value = excluded.last_value, \
     annotations = excluded.annotations"
);

/// Deletes the record of alert `$1` in group `$2`, and the record of that alert saved before
/// groups were stored: a grouped save or removal supersedes it.
pub(super) const DELETE_RECORD: &str =
    "DELETE FROM alert_state WHERE fingerprint = $1 AND (rule_group = $2 OR rule_group = '')";

/// Deletes the record of alert `$1` saved before groups were stored: run after a group saved
/// its own record of that alert.
pub(super) const DELETE_UNGROUPED_RECORD: &str =
    "DELETE FROM alert_state WHERE fingerprint = $1 AND rule_group = ''";

pub(super) const INSERT_TRANSITION: &str = concat!(
    "INSERT INTO alert_transition (",
    transition_columns!(),
    ", seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);

/// The newest `$4` transitions at or after `$1`, optionally of one alert (`$2`), rule (`$3`)
/// or rule group (`$5`, which takes in transitions recorded before groups were stored); the
/// caller puts them back in time order.
pub(super) const SELECT_HISTORY: &str = concat!(
    "SELECT ",
    transition_columns!(),
    " FROM alert_transition \
     WHERE at_ms >= $1 AND ($2 IS NULL OR fingerprint = $2) AND ($3 IS NULL OR rule = $3) \
     AND ($5 IS NULL OR rule_group = $5 OR rule_group = '') \
     ORDER BY at_ms DESC, seq DESC LIMIT $4"
);

pub(super) const PRUNE_RECORDS: &str = "DELETE FROM alert_state \
     WHERE phase IN ('inactive', 'resolved') AND last_evaluated_at < $1";

pub(super) const PRUNE_TRANSITIONS: &str = "DELETE FROM alert_transition WHERE at_ms < $1";
