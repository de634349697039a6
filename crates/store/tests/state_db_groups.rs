//! Alert records and transitions saved under their rule group, each test body run on SQLite and
//! on the real PostgreSQL (see `support/fresh_db.rs`): two groups with an alert of the same name
//! and labels keep one record each and a history each, a removal touches only its group's
//! record, and records and transitions written by a version that stored no group still load
//! after the schema upgrade (records are replaced by the first grouped save; transitions show in
//! every group's history of their alert).

use model::alert::{
    AlertKey, AlertPhase, AlertRecord, AlertStateStore, Change, HistoryQuery, StateBatch,
    Transition,
};
use model::{Labels, Timestamp};

#[macro_use]
#[path = "support/fresh_db.rs"]
mod fresh_db;

use fresh_db::{Backend, fresh};

on_both!(
    the_same_alert_in_two_groups_keeps_two_records,
    records_from_before_groups_load_and_the_first_grouped_save_replaces_them,
    the_same_alert_in_two_groups_keeps_two_histories,
    transitions_from_before_groups_show_in_every_groups_history,
);

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + minutes * 60_000)
}

fn key() -> AlertKey {
    AlertKey::new("Down", Labels::new().with("job", "api"))
}

fn firing(group: Option<&str>, since: i64) -> AlertRecord {
    let mut r = AlertRecord::new(key(), at(since));
    r.phase = AlertPhase::Firing;
    r.active_since = Some(at(since));
    r.group = group.map(str::to_string);
    r
}

fn batch(upserts: Vec<AlertRecord>, group: &str) -> StateBatch {
    StateBatch {
        upserts,
        group: Some(group.to_string()),
        ..StateBatch::default()
    }
}

async fn the_same_alert_in_two_groups_keeps_two_records(backend: Backend) {
    let fresh = fresh(backend, "groups").await;
    let db = fresh.open().await;
    // The batch's group applies to records that name none.
    db.save(&batch(vec![firing(None, 1)], "api")).await.unwrap();
    db.save(&batch(vec![firing(None, 2)], "db")).await.unwrap();
    let loaded = db.load().await.unwrap();
    assert_eq!(loaded, [firing(Some("api"), 1), firing(Some("db"), 2)]);

    // Replacing one group's record leaves the other's alone.
    let mut resolved = firing(Some("db"), 2);
    resolved.phase = AlertPhase::Resolved;
    db.save(&batch(vec![resolved.clone()], "db")).await.unwrap();
    assert_eq!(db.load().await.unwrap(), [firing(Some("api"), 1), resolved]);

    // A removal deletes its group's record only.
    let removal = StateBatch {
        removals: vec![key()],
        group: Some("db".into()),
        ..StateBatch::default()
    };
    db.save(&removal).await.unwrap();
    assert_eq!(db.load().await.unwrap(), [firing(Some("api"), 1)]);
    db.close().await;
    fresh.finish().await;
}

/// The `alert_state` table as the versions before migration 3 created it.
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
";

async fn records_from_before_groups_load_and_the_first_grouped_save_replaces_them(
    backend: Backend,
) {
    let fresh = fresh(backend, "upgrade").await;
    fresh.open().await.close().await;
    // Back to the schema of the previous version, with one record as it wrote them.
    fresh.raw("DROP TABLE alert_state").await;
    fresh.raw(V1_ALERT_STATE).await;
    fresh
        .raw("DELETE FROM _sqlx_migrations WHERE version = 3")
        .await;
    let old = firing(None, 1);
    fresh
        .raw(&format!(
            "INSERT INTO alert_state VALUES ('{}', 'Down', '[[\"job\",\"api\"]]', 'firing', \
             NULL, {active}, NULL, NULL, {active}, 0, 0, {history}, FALSE, FALSE, NULL, NULL, \
             '{{}}')",
            key().fingerprint(),
            active = at(1).as_millis(),
            history = old.history.to_bits(),
        ))
        .await;

    let db = fresh.open().await;
    assert_eq!(
        db.load().await.unwrap(),
        std::slice::from_ref(&old),
        "loads with no group"
    );
    // A group saves its own record of that alert: the old one is superseded, not kept beside.
    let mut later = old.clone();
    later.last_evaluated_at = at(5);
    db.save(&batch(vec![later.clone()], "api")).await.unwrap();
    later.group = Some("api".into());
    assert_eq!(db.load().await.unwrap(), [later]);
    db.close().await;
    fresh.finish().await;
}

fn transition(to: AlertPhase, minute: i64) -> Transition {
    Transition {
        key: key(),
        change: Change::Phase,
        from: AlertPhase::Inactive,
        to,
        at: at(minute),
        notify: false,
        value: Some(minute as f64),
        suppressed_by: None,
    }
}

fn transitions(transitions: Vec<Transition>, group: &str) -> StateBatch {
    StateBatch {
        transitions,
        group: Some(group.to_string()),
        ..StateBatch::default()
    }
}

/// The history of the alert [`key`] as `group` reads it (every group's with `None`), as the
/// minutes of its transitions.
async fn history_of(db: &store::StateDb, group: Option<&str>) -> Vec<i64> {
    let query = HistoryQuery {
        alert: Some(key().fingerprint()),
        rule: None,
        group: group.map(str::to_string),
        since: at(0),
        limit: 100,
    };
    db.history(&query)
        .await
        .unwrap()
        .iter()
        .map(|t| (t.at.as_millis() - at(0).as_millis()) / 60_000)
        .collect()
}

async fn the_same_alert_in_two_groups_keeps_two_histories(backend: Backend) {
    let fresh = fresh(backend, "group_history").await;
    let db = fresh.open().await;
    use AlertPhase::{Firing, Pending, Resolved};
    db.save(&transitions(
        vec![transition(Pending, 1), transition(Firing, 2)],
        "api",
    ))
    .await
    .unwrap();
    db.save(&transitions(vec![transition(Pending, 3)], "db"))
        .await
        .unwrap();
    db.save(&transitions(vec![transition(Resolved, 4)], "api"))
        .await
        .unwrap();
    assert_eq!(history_of(&db, Some("api")).await, [1, 2, 4]);
    assert_eq!(history_of(&db, Some("db")).await, [3]);
    assert_eq!(history_of(&db, None).await, [1, 2, 3, 4], "every group's");
    db.close().await;
    fresh.finish().await;
}

async fn transitions_from_before_groups_show_in_every_groups_history(backend: Backend) {
    let fresh = fresh(backend, "group_history_upgrade").await;
    fresh.open().await.close().await;
    // Back to the schema of the previous version, with one transition as it wrote them.
    fresh
        .raw("ALTER TABLE alert_transition DROP COLUMN rule_group")
        .await;
    fresh
        .raw("DELETE FROM _sqlx_migrations WHERE version = 4")
        .await;
    fresh
        .raw(&format!(
            "INSERT INTO alert_transition VALUES ({}, 0, '{}', 'Down', '[[\"job\",\"api\"]]', \
             'phase', 'inactive', 'pending', FALSE, 1.0, NULL)",
            at(1).as_millis(),
            key().fingerprint(),
        ))
        .await;

    let db = fresh.open().await;
    db.save(&transitions(vec![transition(AlertPhase::Firing, 2)], "api"))
        .await
        .unwrap();
    db.save(&transitions(vec![transition(AlertPhase::Firing, 3)], "db"))
        .await
        .unwrap();
    assert_eq!(history_of(&db, Some("api")).await, [1, 2]);
    assert_eq!(history_of(&db, Some("db")).await, [1, 3]);
    db.close().await;
    fresh.finish().await;
}
