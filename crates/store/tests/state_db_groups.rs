//! Alert records saved under their rule group, each test body run on SQLite and on the real
//! PostgreSQL (see `support/fresh_db.rs`): two groups with an alert of the same name and labels
//! keep one record each, a removal touches only its group's record, and records written by a
//! version that stored no group still load after the schema upgrade and are replaced by the
//! first grouped save.

use model::alert::{AlertKey, AlertPhase, AlertRecord, AlertStateStore, StateBatch};
use model::{Labels, Timestamp};

#[macro_use]
#[path = "support/fresh_db.rs"]
mod fresh_db;

use fresh_db::{Backend, fresh};

on_both!(
    the_same_alert_in_two_groups_keeps_two_records,
    records_from_before_groups_load_and_the_first_grouped_save_replaces_them,
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
