//! PagerDuty Events API v2: a stand-in for `POST /v2/enqueue` that validates events the way
//! PagerDuty documents (32-character routing key, actions, payload fields and limits) and
//! answers 202 with the dedup key, or PagerDuty's error JSON.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use model::level::Level;
use notify::channel::Channel;
use notify::channel::pagerduty::{PagerDutyChannel, PagerDutySettings, dedup_key};
use serde_json::{Value, json};

use super::{Canned, CannedQueue, alert, closed_port, ctx, is_json, json_response, notification};
use super::{resolved, serve};

const ROUTING_KEY: &str = "R0123456789ABCDEF0123456789ABCDE";

#[derive(Clone, Default)]
struct PagerDuty {
    events: Arc<Mutex<Vec<Value>>>,
    canned: CannedQueue,
}

impl PagerDuty {
    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }
}

fn invalid(errors: Vec<String>) -> Response {
    json_response(
        400,
        json!({ "status": "invalid event", "message": "Event object is invalid", "errors": errors }),
        None,
    )
}

async fn enqueue(State(pd): State<PagerDuty>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(canned) = pd.canned.next() {
        return canned;
    }
    if !is_json(&headers) {
        return invalid(vec!["Content-Type must be application/json".into()]);
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec!["Malformed JSON".into()]);
    };
    let mut errors = Vec::new();
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    if text(&event, "routing_key").map(|k| k.len()) != Some(32) {
        errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".into());
    }
    let action = text(&event, "event_action").unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action.as_str()) {
        errors.push("'event_action' is invalid".into());
    }
    let key = text(&event, "dedup_key");
    match &key {
        Some(k) if k.is_empty() || k.len() > 255 => {
            errors.push("'dedup_key' must be 1 to 255 characters".into())
        }
        None if action != "trigger" => errors.push("'dedup_key' is missing".into()),
        _ => {}
    }
    if action == "trigger" {
        let payload = event.get("payload").cloned().unwrap_or(Value::Null);
        let summary = text(&payload, "summary").unwrap_or_default();
        if summary.is_empty() || summary.chars().count() > 1024 {
            errors.push("'payload.summary' must be 1 to 1024 characters".into());
        }
        if text(&payload, "source").is_none_or(|s| s.is_empty()) {
            errors.push("'payload.source' is missing or blank".into());
        }
        let severity = text(&payload, "severity").unwrap_or_default();
        if !["critical", "error", "warning", "info"].contains(&severity.as_str()) {
            errors.push("'payload.severity' is invalid".into());
        }
        if let Some(ts) = text(&payload, "timestamp")
            && ts.parse::<jiff::Timestamp>().is_err()
        {
            errors.push("'payload.timestamp' is not ISO 8601".into());
        }
        let links = event.get("links").and_then(Value::as_array);
        if links.is_some_and(|l| l.iter().any(|l| text(l, "href").is_none())) {
            errors.push("'links' entries need an 'href'".into());
        }
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    // PagerDuty makes a key up when a trigger has none; ours always has one.
    let key = key.unwrap_or_else(|| "generated".into());
    pd.events.lock().unwrap().push(event);
    json_response(
        202,
        json!({ "status": "success", "message": "Event processed", "dedup_key": key }),
        None,
    )
}

async fn pagerduty() -> (PagerDuty, String) {
    let pd = PagerDuty::default();
    let router = Router::new()
        .route("/v2/enqueue", post(enqueue))
        .with_state(pd.clone());
    let url = format!("{}/v2/enqueue", serve(router).await);
    (pd, url)
}

fn channel(settings: Value) -> PagerDutyChannel {
    let settings: PagerDutySettings = serde_json::from_value(settings).unwrap();
    settings.build(&ctx()).unwrap_or_else(|e| panic!("{e:?}"))
}

#[tokio::test]
async fn trigger_acknowledge_and_resolve_reach_one_pagerduty_alert() {
    let (pd, url) = pagerduty().await;
    let pager = channel(json!({ "routing_key": ROUTING_KEY, "url": url, "component": "postgres" }));
    let n = notification(
        "ops",
        "{}:{alertname=\"DiskFull\"}",
        vec![alert("DiskFull", "db-1:9100", Level::Critical)],
    );

    let delivered = pager.deliver(&n).await.unwrap();
    pager.acknowledge(&n).await.unwrap();
    pager.deliver(&resolved(n.clone())).await.unwrap();

    let key = dedup_key(&n);
    assert_eq!(delivered.reference.as_deref(), Some(key.as_str()));
    assert_eq!(key.len(), 64);
    let events = pd.events();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    assert!(events.iter().all(|e| e["dedup_key"] == key.as_str()));
    assert!(events.iter().all(|e| e["routing_key"] == ROUTING_KEY));

    let trigger = &events[0];
    let payload = &trigger["payload"];
    let title = ctx().templates.render("title", &n).text;
    assert_eq!(payload["summary"], title.as_str());
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["source"], "db-1:9100");
    assert_eq!(payload["component"], "postgres");
    assert_eq!(payload["group"], "api");
    assert_eq!(payload["class"], "DiskFull");
    assert_eq!(payload["timestamp"], "2026-11-21T09:55:00.000Z");
    let details = &payload["custom_details"];
    assert_eq!(details["num_firing"], 1);
    assert_eq!(details["alerts"][0]["labels"]["instance"], "db-1:9100");
    assert_eq!(
        details["alerts"][0]["annotations"]["summary"],
        "DiskFull on db-1:9100"
    );
    assert!(
        details["text"]
            .as_str()
            .unwrap()
            .contains("FIRING DiskFull")
    );
    assert_eq!(trigger["client"], "Periscope");
    assert_eq!(trigger["client_url"], "https://periscope.example");
    let hrefs: Vec<&str> = trigger["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert!(hrefs.contains(&"https://periscope.example/ack/abc123"));
    assert!(hrefs.contains(&"https://periscope.example/rules/DiskFull"));
    // Acknowledge and resolve name the alert by key alone.
    assert!(events[1].get("payload").is_none());
    assert!(events[2].get("payload").is_none());

    // Another receiver of the same group has its own PagerDuty alert.
    let mut other = n.clone();
    other.receiver = "dba".into();
    assert_ne!(dedup_key(&other), key);
}

#[tokio::test]
async fn severity_follows_the_level_and_its_mapping() {
    let (pd, url) = pagerduty().await;
    let defaults = channel(json!({ "routing_key": ROUTING_KEY, "url": url }));
    let mapped = channel(json!({
        "routing_key": ROUTING_KEY, "url": url, "severity": { "non-critical": "error" },
    }));
    let slow = notification(
        "ops",
        "slow",
        vec![alert("SlowQueries", "db-1", Level::NonCritical)],
    );
    let noted = notification("ops", "noted", vec![alert("Backup", "db-1", Level::Logged)]);

    defaults.deliver(&slow).await.unwrap();
    mapped.deliver(&slow).await.unwrap();
    mapped.deliver(&noted).await.unwrap();

    let severities: Vec<Value> = pd
        .events()
        .iter()
        .map(|e| e["payload"]["severity"].clone())
        .collect();
    assert_eq!(
        severities,
        [json!("warning"), json!("error"), json!("info")]
    );
}

#[tokio::test]
async fn a_long_title_is_cut_to_pagerdutys_limit() {
    let (pd, url) = pagerduty().await;
    let pager = channel(json!({ "routing_key": ROUTING_KEY, "url": url }));
    let name = "VeryLongRuleName".repeat(100);
    let n = notification("ops", "long", vec![alert(&name, "db-1", Level::Critical)]);

    pager.deliver(&n).await.unwrap();

    let summary = pd.events()[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(summary.chars().count(), 1024);
    assert!(summary.contains("VeryLongRuleName"));
}

#[tokio::test]
async fn pagerduty_failures_say_whether_retrying_helps() {
    let (pd, url) = pagerduty().await;
    let n = notification("ops", "g", vec![alert("DiskFull", "db-1", Level::Critical)]);

    // A wrong key is PagerDuty's 400: never retried, PagerDuty's reason shown, key not shown.
    let bad_key = "short-secret-key";
    let wrong = channel(json!({ "routing_key": bad_key, "url": url }));
    let err = wrong.deliver(&n).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("HTTP 400"), "{}", err.message);
    assert!(
        err.message
            .contains("Length of 'routing_key' is incorrect (should be 32 characters)"),
        "{}",
        err.message
    );
    assert!(!err.message.contains(bad_key), "{}", err.message);

    let pager = channel(json!({ "routing_key": ROUTING_KEY, "url": url }));
    // PagerDuty throttles with 429 and no Retry-After: the retry stage picks the wait.
    pd.canned.push(Canned::new(
        429,
        json!({ "status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later." }),
    ));
    let err = pager.deliver(&n).await.unwrap_err();
    assert!(err.retryable);
    assert_eq!(err.retry_after, None);
    assert!(
        err.message.contains("arriving too quickly"),
        "{}",
        err.message
    );

    pd.canned
        .push(Canned::new(429, json!({})).retry_after("20"));
    let err = pager.deliver(&n).await.unwrap_err();
    assert_eq!(err.retry_after, Some(Duration::from_secs(20)));

    pd.canned
        .push(Canned::new(500, json!({ "message": "Internal error" })));
    let err = pager.deliver(&n).await.unwrap_err();
    assert!(err.retryable, "{}", err.message);

    // Once the service is back, the same notification goes through.
    assert!(pager.deliver(&n).await.is_ok());
    assert_eq!(pd.events().len(), 1);

    let nowhere = channel(json!({ "routing_key": ROUTING_KEY, "url": closed_port().await }));
    let err = nowhere.deliver(&n).await.unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(err.message.contains("cannot connect"), "{}", err.message);
    assert!(!err.message.contains(ROUTING_KEY));
}

#[tokio::test]
async fn a_pagerduty_that_never_answers_is_retried_later() {
    async fn never() -> &'static str {
        std::future::pending().await
    }
    let url = serve(Router::new().route("/v2/enqueue", post(never))).await;
    let mut impatient = ctx();
    impatient.timeout = Duration::from_millis(200);
    let settings: PagerDutySettings = serde_json::from_value(
        json!({ "routing_key": ROUTING_KEY, "url": format!("{url}/v2/enqueue") }),
    )
    .unwrap();
    let pager = settings
        .build(&impatient)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let n = notification("ops", "g", vec![alert("DiskFull", "db-1", Level::Critical)]);

    let err = pager.deliver(&n).await.unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(err.message.contains("timed out"), "{}", err.message);
}

#[test]
fn pagerduty_settings_problems_are_reported_together() {
    let settings: PagerDutySettings = serde_json::from_value(json!({
        "routing_key": " ", "url": "ftp://events.example", "severity": { "critical": "sev1" },
    }))
    .unwrap();
    let Err(issues) = settings.build(&ctx()) else {
        panic!("bad settings were accepted");
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["routing_key", "url", "severity.critical"]);

    let unknown = serde_json::from_value::<PagerDutySettings>(
        json!({ "routing_key": ROUTING_KEY, "service_key": "x" }),
    );
    assert!(unknown.is_err(), "unknown keys must be refused");
}
