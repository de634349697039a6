//! Alert records and transitions to and from rows: the column values both databases store,
//! and reading them back with every field checked.

use model::Timestamp;
use model::alert::{
    AlertKey, AlertPhase, AlertRecord, Annotations, Change, FlapHistory, Transition,
};
use model::{Labels, alert::StateStoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::sql::NO_GROUP;

/// Reading typed columns by name from either database's rows.
pub(super) trait Columns {
    fn int(&self, name: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, name: &str) -> Result<Option<i64>, sqlx::Error>;
    fn text(&self, name: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, sqlx::Error>;
    fn opt_float(&self, name: &str) -> Result<Option<f64>, sqlx::Error>;
    fn flag(&self, name: &str) -> Result<bool, sqlx::Error>;
}

macro_rules! impl_columns {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, name: &str) -> Result<i64, sqlx::Error> {
                self.try_get(name)
            }
            fn opt_int(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(name)
            }
            fn text(&self, name: &str) -> Result<String, sqlx::Error> {
                self.try_get(name)
            }
            fn opt_text(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(name)
            }
            fn opt_float(&self, name: &str) -> Result<Option<f64>, sqlx::Error> {
                self.try_get(name)
            }
            fn flag(&self, name: &str) -> Result<bool, sqlx::Error> {
                self.try_get(name)
            }
        }
    };
}

impl_columns!(SqliteRow);
impl_columns!(PgRow);

/// A record as column values, in the order of `sql::UPSERT_RECORD`'s parameters.
pub(super) struct RecordRow {
    pub fingerprint: String,
    pub rule: String,
    pub labels: String,
    pub phase: &'static str,
    pub pending_since: Option<i64>,
    pub active_since: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_failing_at: Option<i64>,
    pub last_evaluated_at: i64,
    pub consecutive_failing: i64,
    pub consecutive_good: i64,
    pub history: i64,
    pub flapping: bool,
    pub notified_firing: bool,
    pub suppressed_by: Option<String>,
    pub last_value: Option<f64>,
    pub annotations: String,
    /// The record's group, else the batch's; `''` for none.
    pub rule_group: String,
}

impl RecordRow {
    /// The row of `r`, saved under its own group or else `batch_group`.
    pub fn new(r: &AlertRecord, batch_group: Option<&str>) -> RecordRow {
        RecordRow {
            fingerprint: r.fingerprint().to_string(),
            rule: r.key.rule.clone(),
            labels: labels_json(&r.key.labels),
            phase: r.phase.as_str(),
            pending_since: r.pending_since.map(Timestamp::as_millis),
            active_since: r.active_since.map(Timestamp::as_millis),
            resolved_at: r.resolved_at.map(Timestamp::as_millis),
            last_failing_at: r.last_failing_at.map(Timestamp::as_millis),
            last_evaluated_at: r.last_evaluated_at.as_millis(),
            consecutive_failing: i64::from(r.consecutive_failing),
            consecutive_good: i64::from(r.consecutive_good),
            history: i64::from(r.history.to_bits()),
            flapping: r.flapping,
            notified_firing: r.notified_firing,
            suppressed_by: r.suppressed_by.clone(),
            last_value: storable(r.last_value),
            annotations: serde_json::to_string(&r.annotations)
                .unwrap_or_else(|_| String::from("{}")),
            rule_group: r
                .group
                .as_deref()
                .or(batch_group)
                .unwrap_or(NO_GROUP)
                .to_string(),
        }
    }
}

/// A transition as column values, in the order of `sql::INSERT_TRANSITION`'s parameters
/// (without `seq`).
pub(super) struct TransitionRow {
    pub at_ms: i64,
    pub fingerprint: String,
    pub rule: String,
    pub labels: String,
    pub kind: &'static str,
    pub from_phase: &'static str,
    pub to_phase: &'static str,
    pub notify: bool,
    pub value: Option<f64>,
    pub suppressed_by: Option<String>,
    /// The group of the batch that recorded it; `''` for none.
    pub rule_group: String,
}

impl TransitionRow {
    /// The row of `t`, recorded by the batch of `batch_group`.
    pub fn new(t: &Transition, batch_group: Option<&str>) -> TransitionRow {
        TransitionRow {
            at_ms: t.at.as_millis(),
            fingerprint: t.key.fingerprint().to_string(),
            rule: t.key.rule.clone(),
            labels: labels_json(&t.key.labels),
            kind: t.change.as_str(),
            from_phase: t.from.as_str(),
            to_phase: t.to.as_str(),
            notify: t.notify,
            value: storable(t.value),
            suppressed_by: t.suppressed_by.clone(),
            rule_group: batch_group.unwrap_or(NO_GROUP).to_string(),
        }
    }
}

/// SQLite stores NaN as NULL; PostgreSQL keeps it. Writing NaN as NULL on both makes them read
/// back the same (a NaN alert value is "no number" to people either way).
fn storable(value: Option<f64>) -> Option<f64> {
    value.filter(|v| !v.is_nan())
}

fn labels_json(labels: &Labels) -> String {
    // Serializing strings and pairs of strings cannot fail.
    serde_json::to_string(labels).unwrap_or_else(|_| String::from("[]"))
}

/// Reads one `alert_state` row back; `location` names the database for error messages.
pub(super) fn record_from(
    row: &impl Columns,
    location: &str,
) -> Result<AlertRecord, StateStoreError> {
    let fingerprint = row
        .text("fingerprint")
        .map_err(|e| corrupt(location, "?", &e))?;
    let bad = |what: &dyn std::fmt::Display| {
        StateStoreError::Corrupt(format!("{location}: alert_state row {fingerprint}: {what}"))
    };
    let get = |e: sqlx::Error| bad(&e);
    let ts = |v: Option<i64>| v.map(Timestamp::from_millis);
    let count = |name: &str| -> Result<u32, StateStoreError> {
        let v = row.int(name).map_err(get)?;
        u32::try_from(v).map_err(|_| bad(&format!("{name} = {v} is out of range")))
    };
    let labels: Labels = parse_labels(&row.text("labels").map_err(get)?).map_err(|e| bad(&e))?;
    let phase_text = row.text("phase").map_err(get)?;
    let phase = AlertPhase::parse(&phase_text)
        .ok_or_else(|| bad(&format!("unknown phase {phase_text:?}")))?;
    let history_bits = row.int("history").map_err(get)?;
    let history = u32::try_from(history_bits)
        .ok()
        .and_then(FlapHistory::from_bits)
        .ok_or_else(|| bad(&format!("history = {history_bits} is not a flap history")))?;
    let annotations: Annotations = serde_json::from_str(&row.text("annotations").map_err(get)?)
        .map_err(|e| bad(&format!("annotations: {e}")))?;
    let record = AlertRecord {
        key: AlertKey::new(row.text("rule").map_err(get)?, labels),
        phase,
        pending_since: ts(row.opt_int("pending_since").map_err(get)?),
        active_since: ts(row.opt_int("active_since").map_err(get)?),
        resolved_at: ts(row.opt_int("resolved_at").map_err(get)?),
        last_failing_at: ts(row.opt_int("last_failing_at").map_err(get)?),
        last_evaluated_at: Timestamp::from_millis(row.int("last_evaluated_at").map_err(get)?),
        consecutive_failing: count("consecutive_failing")?,
        consecutive_good: count("consecutive_good")?,
        history,
        flapping: row.flag("flapping").map_err(get)?,
        notified_firing: row.flag("notified_firing").map_err(get)?,
        suppressed_by: row.opt_text("suppressed_by").map_err(get)?,
        last_value: row.opt_float("last_value").map_err(get)?,
        annotations,
        group: Some(row.text("rule_group").map_err(get)?).filter(|g| g != NO_GROUP),
    };
    if record.fingerprint().to_string() != fingerprint {
        return Err(bad(&"the fingerprint does not match its rule and labels"));
    }
    Ok(record)
}

/// Reads one `alert_transition` row back.
pub(super) fn transition_from(
    row: &impl Columns,
    location: &str,
) -> Result<Transition, StateStoreError> {
    let at = row.int("at_ms").map_err(|e| corrupt(location, "?", &e))?;
    let bad = |what: &dyn std::fmt::Display| {
        StateStoreError::Corrupt(format!(
            "{location}: alert_transition row at {}: {what}",
            Timestamp::from_millis(at)
        ))
    };
    let get = |e: sqlx::Error| bad(&e);
    let phase = |name: &str| -> Result<AlertPhase, StateStoreError> {
        let text = row.text(name).map_err(get)?;
        AlertPhase::parse(&text).ok_or_else(|| bad(&format!("{name}: unknown phase {text:?}")))
    };
    let kind = row.text("kind").map_err(get)?;
    Ok(Transition {
        key: AlertKey::new(
            row.text("rule").map_err(get)?,
            parse_labels(&row.text("labels").map_err(get)?).map_err(|e| bad(&e))?,
        ),
        change: Change::parse(&kind).ok_or_else(|| bad(&format!("unknown kind {kind:?}")))?,
        from: phase("from_phase")?,
        to: phase("to_phase")?,
        at: Timestamp::from_millis(at),
        notify: row.flag("notify").map_err(get)?,
        value: row.opt_float("value").map_err(get)?,
        suppressed_by: row.opt_text("suppressed_by").map_err(get)?,
    })
}

/// Labels were written as JSON pairs in order; building them through `FromIterator` keeps the
/// sorted-and-unique rule even if someone edited a row by hand.
fn parse_labels(text: &str) -> Result<Labels, String> {
    let pairs: Vec<(String, String)> =
        serde_json::from_str(text).map_err(|e| format!("labels: {e}"))?;
    Ok(pairs.into_iter().collect())
}

fn corrupt(location: &str, row: &str, e: &sqlx::Error) -> StateStoreError {
    StateStoreError::Corrupt(format!("{location}: row {row}: {e}"))
}
