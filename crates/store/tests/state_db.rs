//! The state database, each test body run twice: on SQLite in a temporary directory and on the
//! real PostgreSQL at 127.0.0.1:5432 (override with `PERISCOPE_TEST_POSTGRES_URL`), in a
//! database created for that one test and dropped after it, so parallel tests and reruns never
//! see each other's rows.

use model::alert::{
    AlertKey, AlertPhase, AlertRecord, AlertStateStore, Change, FlapHistory, HistoryQuery,
    PruneSummary, StateBatch, StateStoreError, Transition,
};
use model::{Labels, Timestamp};
use store::StateDb;

#[macro_use]
#[path = "support/fresh_db.rs"]
mod fresh_db;

use fresh_db::{Backend, fresh};

on_both!(
    records_survive_a_restart,
    a_batch_is_saved_whole_or_not_at_all,
    history_reads_back_in_time_order,
    prune_keeps_live_alerts_and_recent_history,
    a_schema_from_a_newer_version_is_refused,
);

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + minutes * 60_000)
}

fn key(rule: &str, instance: &str) -> AlertKey {
    AlertKey::new(
        rule,
        Labels::new()
            .with("instance", instance)
            .with("severity", "critical"),
    )
}

/// A pending alert and a firing one with every field set to something other than its default.
fn sample_records() -> Vec<AlertRecord> {
    let mut pending = AlertRecord::new(key("DiskFull", "db1"), at(0));
    pending.phase = AlertPhase::Pending;
    pending.pending_since = Some(at(0));
    pending.last_failing_at = Some(at(2));
    pending.last_evaluated_at = at(2);
    pending.consecutive_failing = 3;
    pending.last_value = Some(97.5);
    pending
        .annotations
        .insert("summary".into(), "disk \"/\" at 97.5 % — é".into());
    let mut history = FlapHistory::default();
    for failing in [true, false, true, true] {
        history.push(failing);
    }
    let mut firing = AlertRecord::new(
        AlertKey::new("AppDown", Labels::new().with("job", "api")),
        at(0),
    );
    firing.phase = AlertPhase::Firing;
    firing.pending_since = Some(at(1));
    firing.active_since = Some(at(6));
    firing.resolved_at = Some(at(-60));
    firing.last_failing_at = Some(at(9));
    firing.last_evaluated_at = at(10);
    firing.consecutive_failing = 1;
    firing.consecutive_good = 0;
    firing.history = history;
    firing.flapping = true;
    firing.notified_firing = true;
    firing.suppressed_by = Some("RouterDown".into());
    firing.last_value = None;
    vec![pending, firing]
}

fn transition(k: &AlertKey, from: AlertPhase, to: AlertPhase, minute: i64) -> Transition {
    Transition {
        key: k.clone(),
        change: Change::Phase,
        from,
        to,
        at: at(minute),
        notify: to == AlertPhase::Firing,
        value: Some(minute as f64),
        suppressed_by: None,
    }
}

fn sorted(mut records: Vec<AlertRecord>) -> Vec<AlertRecord> {
    records.sort_by(|a, b| a.key.cmp(&b.key));
    records
}

async fn records_survive_a_restart(backend: Backend) {
    let fresh = fresh(backend, "restart").await;
    let db = fresh.open().await;
    assert_eq!(db.load().await.unwrap(), []);
    let records = sample_records();
    let batch = StateBatch {
        upserts: records.clone(),
        ..StateBatch::default()
    };
    db.save(&batch).await.unwrap();
    db.close().await;
    drop(db);

    // A new process: opening again must not re-run the schema or lose anything.
    let db = fresh.open().await;
    let loaded = db.load().await.unwrap();
    assert_eq!(loaded, sorted(records.clone()));
    assert_eq!(
        loaded[1].pending_since,
        Some(at(0)),
        "pending keeps its start"
    );
    assert_eq!(
        loaded[0].active_since,
        Some(at(6)),
        "firing keeps active_since"
    );

    // A later save replaces records by identity and deletes removals.
    let mut resolved = records[1].clone();
    resolved.phase = AlertPhase::Resolved;
    resolved.resolved_at = Some(at(12));
    let next = StateBatch {
        upserts: vec![resolved.clone()],
        removals: vec![records[0].key.clone()],
        transitions: vec![],
        group: None,
    };
    db.save(&next).await.unwrap();
    assert_eq!(db.load().await.unwrap(), [resolved]);
    db.close().await;
    fresh.finish().await;
}

async fn a_batch_is_saved_whole_or_not_at_all(backend: Backend) {
    let fresh = fresh(backend, "batch").await;
    let db = fresh.open().await;
    let records = sample_records();
    let first = StateBatch {
        upserts: records.clone(),
        ..StateBatch::default()
    };
    db.save(&first).await.unwrap();

    // Break the history table so the batch fails after its records were written.
    fresh
        .raw("ALTER TABLE alert_transition RENAME TO alert_transition_away")
        .await;
    let mut changed = records[0].clone();
    changed.phase = AlertPhase::Firing;
    changed.active_since = Some(at(5));
    let failing = StateBatch {
        upserts: vec![changed.clone()],
        removals: vec![records[1].key.clone()],
        transitions: vec![transition(
            &changed.key,
            AlertPhase::Pending,
            AlertPhase::Firing,
            5,
        )],
        group: None,
    };
    let err = db.save(&failing).await.expect_err("save without its table");
    assert!(
        err.to_string().contains("alert_transition"),
        "the error names what failed: {err}"
    );
    assert_eq!(db.load().await.unwrap(), sorted(records.clone()));

    fresh
        .raw("ALTER TABLE alert_transition_away RENAME TO alert_transition")
        .await;
    db.save(&failing).await.unwrap();
    assert_eq!(db.load().await.unwrap(), [changed]);
    db.close().await;
    fresh.finish().await;
}

async fn history_reads_back_in_time_order(backend: Backend) {
    let fresh = fresh(backend, "history").await;
    let db = fresh.open().await;
    let disk = key("DiskFull", "db1");
    let other = key("DiskFull", "db2");
    let app = AlertKey::new("AppDown", Labels::new());
    use AlertPhase::{Firing, Inactive, Pending, Resolved};
    let mut flap = transition(&app, Resolved, Firing, 7);
    flap.change = Change::FlappingStarted;
    flap.value = Some(f64::NAN);
    flap.suppressed_by = Some("RouterDown".into());
    let batches = [
        vec![
            transition(&disk, Inactive, Pending, 0),
            transition(&app, Inactive, Firing, 0),
        ],
        vec![transition(&disk, Pending, Firing, 5)],
        vec![transition(&other, Inactive, Pending, 6), flap.clone()],
        vec![transition(&disk, Firing, Resolved, 9)],
    ];
    for transitions in batches {
        let batch = StateBatch {
            transitions,
            ..StateBatch::default()
        };
        db.save(&batch).await.unwrap();
    }
    let all = |since, limit| HistoryQuery {
        alert: None,
        rule: None,
        group: None,
        since,
        limit,
    };
    let everything = db.history(&all(at(0), 100)).await.unwrap();
    let summary: Vec<(i64, AlertPhase)> = everything
        .iter()
        .map(|t| ((t.at.as_millis() - at(0).as_millis()) / 60_000, t.to))
        .collect();
    assert_eq!(
        summary,
        [
            (0, Pending),
            (0, Firing),
            (5, Firing),
            (6, Pending),
            (7, Firing),
            (9, Resolved)
        ]
    );
    // NaN is stored as "no value", the same on both databases.
    let mut flap_back = flap;
    flap_back.value = None;
    assert_eq!(everything[4], flap_back);

    // The newest N, still oldest first.
    let newest = db.history(&all(at(0), 2)).await.unwrap();
    assert_eq!(newest, everything[4..]);
    let since = db.history(&all(at(6), 100)).await.unwrap();
    assert_eq!(since, everything[3..]);
    let one_alert = HistoryQuery {
        alert: Some(disk.fingerprint()),
        ..all(at(0), 100)
    };
    let moves: Vec<AlertPhase> = db
        .history(&one_alert)
        .await
        .unwrap()
        .iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(moves, [Pending, Firing, Resolved]);
    let one_rule = HistoryQuery {
        rule: Some("AppDown".into()),
        ..all(at(0), 100)
    };
    assert_eq!(db.history(&one_rule).await.unwrap().len(), 2);
    db.close().await;
    fresh.finish().await;
}

async fn prune_keeps_live_alerts_and_recent_history(backend: Backend) {
    let fresh = fresh(backend, "prune").await;
    let db = fresh.open().await;
    let record = |instance: &str, phase, evaluated| {
        let mut r = AlertRecord::new(key("Up", instance), at(evaluated));
        r.phase = phase;
        r
    };
    use AlertPhase::{Firing, Inactive, Pending, Resolved};
    let old_firing = record("a", Firing, 0);
    let old_pending = record("b", Pending, 0);
    let recent_resolved = record("e", Resolved, 100);
    let batch = StateBatch {
        upserts: vec![
            old_firing.clone(),
            old_pending.clone(),
            record("c", Resolved, 0),
            record("d", Inactive, 0),
            recent_resolved.clone(),
        ],
        removals: vec![],
        transitions: vec![
            transition(&old_firing.key, Pending, Firing, 0),
            transition(&recent_resolved.key, Firing, Resolved, 100),
        ],
        group: None,
    };
    db.save(&batch).await.unwrap();
    let summary = db.prune(at(50)).await.unwrap();
    assert_eq!(
        summary,
        PruneSummary {
            records: 2,
            transitions: 1
        }
    );
    let left: Vec<String> = db
        .load()
        .await
        .unwrap()
        .iter()
        .map(|r| r.key.labels.get("instance").unwrap_or("").to_string())
        .collect();
    assert_eq!(left, ["a", "b", "e"]);
    let history = HistoryQuery {
        alert: None,
        rule: None,
        group: None,
        since: Timestamp::EPOCH,
        limit: 10,
    };
    assert_eq!(db.history(&history).await.unwrap().len(), 1);
    db.close().await;
    fresh.finish().await;
}

async fn a_schema_from_a_newer_version_is_refused(backend: Backend) {
    let fresh = fresh(backend, "newer").await;
    fresh.open().await.close().await;
    // What a future Periscope's migration 999 would leave behind.
    fresh
        .raw(
            "INSERT INTO _sqlx_migrations \
             (version, description, success, checksum, execution_time) \
             VALUES (999, 'from the future', TRUE, X'00', 0)"
                .replace("X'00'", hex_literal(backend))
                .as_str(),
        )
        .await;
    let err = StateDb::open(&fresh.url)
        .await
        .expect_err("a newer schema must be refused");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("newer Periscope"), "{err}");
    fresh.finish().await;
}

/// A one-byte blob literal in each database's spelling (the one place they differ in these
/// tests, and only because the test writes sqlx's own table by hand).
fn hex_literal(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "'\\x00'::bytea",
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_retryable_error_naming_the_server() {
    let err = StateDb::open("postgres://periscope:secret@127.0.0.1:1/state")
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:1/state"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn an_unknown_scheme_is_a_configuration_error() {
    let err = StateDb::open("mysql://root:pw@db/state")
        .await
        .expect_err("not supported");
    assert!(matches!(err, StateStoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("sqlite://"), "{err}");
    assert!(!err.to_string().contains("pw@"), "{err}");
}
