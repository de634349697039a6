//! What alert state `serve` keeps across a restart, with the real binary: two rule groups with an
//! alert of the same name each get their own alerts back (in SQLite and in the real PostgreSQL
//! on this machine); a `[rule.NAME]` remembers which series it saw, so one that stopped arriving
//! while Periscope was down fires "no data" after the start; old alert state is pruned at start
//! while recent state stays; a firing alert of a rule removed while Periscope was down is
//! closed at the start, its resolution notified and its history saying why; and so is the copy
//! a rule leaves under its old group when it moves into a group with its own record of the
//! same alert.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::World;
use common::api::{get, wait_for};
use common::serve::{Serve, free_port};
use model::alert::{
    AlertKey, AlertPhase, AlertRecord, AlertStateStore, Change, DocumentStore, HistoryQuery,
    StateBatch,
};
use model::{Clock, Labels, SystemClock, Timestamp};
use serde_json::Value;

async fn push(client: &reqwest::Client, base: &str, lines: &[&str]) {
    let now_ms = SystemClock.now().as_millis();
    let body: String = lines.iter().map(|l| format!("{l} {now_ms}\n")).collect();
    let response = client
        .post(format!("{base}/api/v1/push"))
        .header("content-type", "text/plain; version=0.0.4")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

/// The firing alert named `name` whose label `label` is `value`, from `/api/v1/alerts`.
fn firing(body: &Value, name: &str, label: &str, value: &str) -> Option<Value> {
    body["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| {
            a["labels"]["alertname"] == name
                && a["labels"][label] == value
                && a["state"] == "firing"
        })
        .cloned()
}

fn config(port: u16, state: Option<&str>, tail: &str) -> String {
    let state = state
        .map(|url| format!("[periscope]\nstate = \"{url}\"\n\n"))
        .unwrap_or_default();
    format!(
        "{state}[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [rules]\nfiles = [\"rules/*.yml\"]\ninterval = \"300ms\"\n\n{tail}"
    )
}

/// The same alert name in two groups, one job each.
const TWO_GROUPS: &str = r#"groups:
  - name: api
    rules:
      - alert: ErrorsHigh
        expr: errors_total{job="api"} > 5
  - name: db
    rules:
      - alert: ErrorsHigh
        expr: errors_total{job="db"} > 5
"#;

async fn each_group_keeps_its_alerts(state: Option<&str>) {
    let port = free_port();
    let w = World::new(&config(port, state, ""));
    w.write("rules/errors.yml", TWO_GROUPS);
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    push(
        &client,
        &serve.base,
        &[
            r#"errors_total{job="api",instance="a"} 12"#,
            r#"errors_total{job="db",instance="b"} 9"#,
        ],
    )
    .await;
    let alerts = format!("{}/api/v1/alerts", serve.base);
    let api = wait_for(&client, &alerts, "the api alert", |b| {
        firing(b, "ErrorsHigh", "job", "api")
    })
    .await;
    let db = wait_for(&client, &alerts, "the db alert", |b| {
        firing(b, "ErrorsHigh", "job", "db")
    })
    .await;
    serve.stop();

    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    // Two evaluations of each group after the start: time enough to resolve the wrong alerts.
    let rules = format!("{}/api/v1/rules", serve.base);
    let evaluated = |b: &Value| -> Option<Vec<String>> {
        let times: Vec<String> = b["data"]["groups"]
            .as_array()?
            .iter()
            .map(|g| g["lastEvaluation"].as_str().unwrap_or_default().to_string())
            .collect();
        (times.len() == 2 && times.iter().all(|t| !t.is_empty())).then_some(times)
    };
    let first = wait_for(&client, &rules, "both groups evaluated", evaluated).await;
    wait_for(&client, &rules, "both groups evaluated again", |b| {
        let times = evaluated(b)?;
        times.iter().zip(&first).all(|(t, f)| t != f).then_some(())
    })
    .await;
    let body = get(&client, &alerts).await;
    let api_after = firing(&body, "ErrorsHigh", "job", "api").expect("api still firing");
    let db_after = firing(&body, "ErrorsHigh", "job", "db").expect("db still firing");
    assert_eq!(api_after["activeAt"], api["activeAt"], "{body}");
    assert_eq!(db_after["activeAt"], db["activeAt"], "{body}");
    assert_eq!(
        body["data"]["alerts"].as_array().unwrap().len(),
        2,
        "nothing else, nothing twice: {body}"
    );
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_with_the_same_alert_name_keep_their_own_alerts_across_a_restart() {
    each_group_keeps_its_alerts(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_holds_with_state_in_postgres() {
    common::postgres::with_fresh_database("periscope_rules_restart", |url| async move {
        each_group_keeps_its_alerts(Some(&url)).await;
    })
    .await;
}

/// The default SQLite state database of `w`, opened beside a running `serve`.
async fn state_db(w: &World) -> store::StateDb {
    let url = format!("sqlite://{}?mode=rwc", w.path("state/state.db").display());
    store::StateDb::open(&url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Waits until `check` holds for the state database of `w`; gives up after 30 s.
async fn wait_for_state<F, Fut>(w: &World, what: &str, check: F)
where
    F: Fn(store::StateDb) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check(state_db(w).await).await {
        assert!(Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_that_stops_while_serve_is_down_fires_no_data_after_the_start() {
    let port = free_port();
    // The last 10 s of samples count: a series pushed once is gone 10 s later.
    let rule = "[rule.Queue]\nexpr = 'last_over_time(queue_depth[10s])'\n\
                above = { critical = 1000 }\nflap_detection = false\n";
    let w = World::new(&config(port, None, rule));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let both = [
        r#"queue_depth{queue="mail"} 5"#,
        r#"queue_depth{queue="sms"} 5"#,
    ];
    push(&client, &serve.base, &both).await;
    let pushed = Instant::now();
    wait_for_state(&w, "both series saved as seen", |db| async move {
        let seen = db.load_documents("rule_seen").await.unwrap();
        db.close().await;
        seen.len() == 2
    })
    .await;
    serve.stop();
    assert!(
        pushed.elapsed() < Duration::from_secs(10),
        "the machine was too slow to stop serve while both series were fresh"
    );
    // While it is down, both series stop; only sms comes back after the start.
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(pushed.elapsed())).await;
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    push(&client, &serve.base, &both[1..]).await;
    let alerts = format!("{}/api/v1/alerts", serve.base);
    let mail = wait_for(&client, &alerts, "mail firing for no data", |b| {
        firing(b, "Queue", "queue", "mail")
    })
    .await;
    assert_eq!(mail["labels"]["level"], "critical", "{mail}");
    serve.stop();
}

fn record(rule: &str, phase: AlertPhase, evaluated: Timestamp) -> AlertRecord {
    let key = AlertKey::new(rule, Labels::new().with("job", "api"));
    let mut r = AlertRecord::new(key, evaluated);
    r.phase = phase;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_resolved_state_is_pruned_at_start_and_recent_state_stays() {
    let port = free_port();
    let w = World::new(&config(port, None, ""));
    w.write("rules/errors.yml", TWO_GROUPS);
    std::fs::create_dir_all(w.path("state")).unwrap();
    let now = SystemClock.now();
    let hours = |h: i64| now.plus_millis(-h * 3_600_000);
    {
        let db = state_db(&w).await;
        let batch = StateBatch {
            upserts: vec![
                record("RemovedLastMonth", AlertPhase::Resolved, hours(24 * 30)),
                record("RemovedYesterday", AlertPhase::Resolved, hours(24)),
                record("RemovedButFiring", AlertPhase::Firing, hours(24 * 30)),
            ],
            group: Some("old".into()),
            ..StateBatch::default()
        };
        db.save(&batch).await.unwrap();
        db.close().await;
    }
    let serve = Serve::start(&w, port);
    wait_for_state(&w, "the month-old record pruned", |db| async move {
        let records = db.load().await.unwrap();
        db.close().await;
        !records.iter().any(|r| r.key.rule == "RemovedLastMonth")
    })
    .await;
    let db = state_db(&w).await;
    let left: Vec<(String, AlertPhase)> = db
        .load()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key.rule, r.phase))
        .collect();
    db.close().await;
    assert!(
        left.contains(&("RemovedYesterday".into(), AlertPhase::Resolved)),
        "{left:?}"
    );
    // Its rule is gone: closed, and kept until it ages out like any resolved alert.
    assert!(
        left.contains(&("RemovedButFiring".into(), AlertPhase::Resolved)),
        "{left:?}"
    );
    assert_eq!(left.len(), 2, "{left:?}");
    serve.stop();
}

/// A webhook receiver on a free port that answers 200 and keeps every body.
#[derive(Clone)]
struct Hook {
    url: String,
    calls: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = Hook {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            calls: Arc::default(),
        };
        async fn take(State(h): State<Hook>, Json(body): Json<Value>) -> StatusCode {
            h.calls.lock().unwrap().push(body);
            StatusCode::OK
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(take))
            .with_state(hook.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        hook
    }

    /// Waits up to 20 s for a call whose status is `status`.
    async fn call(&self, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let calls = self.calls.lock().unwrap().clone();
            if let Some(call) = calls.into_iter().find(|c| c["status"] == status) {
                return call;
            }
            assert!(Instant::now() < deadline, "no {status} notification came");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_alert_of_a_rule_removed_while_down_resolves_at_the_start() {
    // While it is down, the rule goes (another takes its place, so rules still run).
    removed_while_down_resolves_at_the_start(|config| {
        config
            .replace("[rule.ApiLatency]", "[rule.QueueDepth]")
            .replace(r#"latency_seconds{job="api"}"#, "queue_depth")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_alert_resolves_at_the_start_when_every_rule_was_removed() {
    // No rule left at all: the rule loop does not run, yet the alert must not stay firing.
    removed_while_down_resolves_at_the_start(|config| {
        let (start, end) = (
            config.find("[rule.ApiLatency]").unwrap(),
            config.find("[notify]").unwrap(),
        );
        format!("{}{}", &config[..start], &config[end..])
    })
    .await;
}

/// An alert fires, `serve` stops, `edit` takes its rule out of the config, and at the next
/// start the alert is resolved, notified and recorded as closed because its rule was removed.
async fn removed_while_down_resolves_at_the_start(edit: impl Fn(&str) -> String) {
    let hook = Hook::start().await;
    let port = free_port();
    let with_rule = common::notify::config(port, &hook.url, "", "");
    let w = World::new(&with_rule);
    let serve = Serve::start(&w, port);
    common::notify::push(&reqwest::Client::new(), &serve.base, 5.0).await;
    let fired = hook.call("firing").await;
    assert_eq!(fired["alerts"][0]["labels"]["alertname"], "ApiLatency");
    serve.stop();

    let without = edit(&with_rule);
    assert!(!without.contains("[rule.ApiLatency]"), "{without}");
    w.write("periscope.toml", &without);
    let serve = Serve::start(&w, port);
    let resolved = hook.call("resolved").await;
    assert_eq!(
        resolved["alerts"][0]["labels"]["alertname"], "ApiLatency",
        "{resolved}"
    );
    assert_eq!(resolved["alerts"][0]["status"], "resolved", "{resolved}");

    let db = state_db(&w).await;
    let record = db
        .load()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.key.rule == "ApiLatency")
        .expect("the record stays until it ages out");
    assert_eq!(record.phase, AlertPhase::Resolved);
    assert_closed_as_removed_and_told(&db, &record).await;
    db.close().await;
    serve.stop();
}

/// Asserts that `record`'s last transition closed it because its rule went, from firing to
/// resolved, with the end told to the notifier.
async fn assert_closed_as_removed_and_told(db: &store::StateDb, record: &AlertRecord) {
    let history = db
        .history(&HistoryQuery {
            alert: Some(record.fingerprint()),
            rule: None,
            group: record.group.clone(),
            since: Timestamp::EPOCH,
            limit: 10,
        })
        .await
        .unwrap();
    let last = history.last().expect("a history");
    assert_eq!(
        (last.change, last.from, last.to, last.notify),
        (
            Change::RuleRemoved,
            AlertPhase::Firing,
            AlertPhase::Resolved,
            true
        ),
        "{history:?}"
    );
}

/// The same alert (name and labels) in two groups: `core` raises it at 100 errors, `edge` at 5.
const CORE_AND_EDGE: &str = r#"groups:
  - name: core
    rules:
      - alert: ErrorsHigh
        expr: errors_total{job="api"} > 100
  - name: edge
    rules:
      - alert: ErrorsHigh
        expr: errors_total{job="api"} > 5
"#;

/// `CORE_AND_EDGE` with edge's rule taken out: the alert now lives in core only.
const CORE_ONLY: &str = r#"groups:
  - name: core
    rules:
      - alert: ErrorsHigh
        expr: errors_total{job="api"} > 100
"#;

/// The `ErrorsHigh` records in `db` as `group=phase`, sorted; closes `db`.
async fn errors_high(db: store::StateDb) -> Vec<String> {
    let mut found: Vec<String> = db
        .load()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.key.rule == "ErrorsHigh")
        .map(|r| format!("{}={}", r.group.unwrap_or_default(), r.phase))
        .collect();
    db.close().await;
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_moved_into_a_group_with_its_own_copy_of_the_alert_leaves_none_firing() {
    let port = free_port();
    let w = World::new(&config(port, None, ""));
    w.write("rules/errors.yml", CORE_AND_EDGE);
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    // Both groups raise the alert; then core's ends while edge's goes on firing.
    push(&client, &serve.base, &[r#"errors_total{job="api"} 200"#]).await;
    wait_for_state(&w, "both firing", |db| async move {
        errors_high(db).await == ["core=firing", "edge=firing"]
    })
    .await;
    push(&client, &serve.base, &[r#"errors_total{job="api"} 10"#]).await;
    wait_for_state(&w, "core resolved, edge firing", |db| async move {
        errors_high(db).await == ["core=resolved", "edge=firing"]
    })
    .await;
    serve.stop();

    // Edge's rule goes. Core, the one group left with a rule of that name, would take edge's
    // record as moved, but restores its own record of the same alert instead.
    w.write("rules/errors.yml", CORE_ONLY);
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    // Edge's copy must not stay firing for ever: it is closed, and kept until it ages out.
    wait_for_state(&w, "edge's copy closed", |db| async move {
        errors_high(db).await.contains(&"edge=resolved".to_string())
    })
    .await;
    let db = state_db(&w).await;
    let edge = db
        .load()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.key.rule == "ErrorsHigh" && r.group.as_deref() == Some("edge"))
        .expect("edge's copy");
    // Its firing was announced and core's copy is not firing: its end is announced too.
    assert_closed_as_removed_and_told(&db, &edge).await;
    db.close().await;

    // One alert, core's, which stays resolved: nothing is listed once core has evaluated, and
    // no copy is left pending or firing.
    let rules = format!("{}/api/v1/rules", serve.base);
    wait_for(&client, &rules, "core evaluated", |b| {
        let at = b["data"]["groups"][0]["lastEvaluation"].as_str()?;
        (!at.is_empty()).then_some(())
    })
    .await;
    let body = get(&client, &format!("{}/api/v1/alerts", serve.base)).await;
    assert_eq!(body["data"]["alerts"], serde_json::json!([]), "{body}");
    let left = errors_high(state_db(&w).await).await;
    assert!(
        left.iter()
            .all(|r| !r.ends_with("=firing") && !r.ends_with("=pending")),
        "{left:?}"
    );
    serve.stop();
}
