//! The `webhook` channel against an Alertmanager-style receiver: the body must be exactly the
//! version 4 payload Alertmanager documents, field names checked against its documentation.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use notify::Channel;
use notify::channel::webhook::{WebhookChannel, WebhookSettings};
use serde_json::Value;

use super::*;

/// The token in the receiver's path: a secret no error message may show.
const PATH_SECRET: &str = "s3cr3t-path-token";
const BEARER: &str = "bearer-t0ken";

/// A receiver at `POST /hooks/<PATH_SECRET>` that wants a bearer token, a tenant header and a
/// JSON body of payload version 4, as a bridge written for Alertmanager would.
async fn receiver(recorder: Arc<Recorder>) -> String {
    async fn hook(
        State(rec): State<Arc<Recorder>>,
        Path(token): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        if token != PATH_SECRET {
            return (StatusCode::NOT_FOUND, "no such hook").into_response();
        }
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {BEARER}")) {
            return (StatusCode::UNAUTHORIZED, "bad token").into_response();
        }
        if headers.get("x-tenant").and_then(|v| v.to_str().ok()) != Some("ops") {
            return (StatusCode::BAD_REQUEST, "missing X-Tenant").into_response();
        }
        if !is_json(&headers) {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "want JSON").into_response();
        }
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return (StatusCode::BAD_REQUEST, "invalid JSON").into_response();
        };
        if body["version"] != "4" {
            return (StatusCode::BAD_REQUEST, "unsupported payload version").into_response();
        }
        if let Some(canned) = rec.next_canned() {
            return canned;
        }
        rec.record(&headers, body);
        StatusCode::OK.into_response()
    }
    let router = axum::Router::new()
        .route("/hooks/{token}", post(hook))
        .with_state(recorder);
    serve(router).await
}

fn channel(base: &str, max_alerts: usize) -> WebhookChannel {
    let settings: WebhookSettings = serde_json::from_value(serde_json::json!({
        "url": format!("{base}/hooks/{PATH_SECRET}"),
        "max_alerts": max_alerts,
        "headers": { "X-Tenant": "ops" },
        "bearer_token": BEARER,
    }))
    .unwrap();
    settings
        .build(&ctx())
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

/// The field names of Alertmanager's webhook payload, top level and per alert, read from the
/// code block that follows `"version": "4"` in Alertmanager's configuration documentation.
fn documented_fields() -> (BTreeSet<String>, BTreeSet<String>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/alertmanager/docs/configuration.md"
    );
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc.find("\"version\": \"4\"").unwrap();
    let end = start + doc[start..].find("```").unwrap();
    let (mut top, mut alert, mut in_alerts) = (BTreeSet::new(), BTreeSet::new(), false);
    for line in doc[start..end].lines().map(str::trim) {
        if line.starts_with(']') {
            in_alerts = false;
            continue;
        }
        let Some(rest) = line.strip_prefix('"') else {
            continue;
        };
        let name = rest.split('"').next().unwrap().to_string();
        if in_alerts {
            alert.insert(name);
        } else {
            in_alerts = name == "alerts";
            top.insert(name);
        }
    }
    (top, alert)
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn posts_alertmanager_v4_with_every_documented_field_and_nothing_else_at_top_level() {
    let rec = Recorder::new();
    let base = receiver(rec.clone()).await;
    let n = notification();
    let delivered = channel(&base, 0).deliver(&n).await.unwrap();
    assert_eq!(delivered.reference, None);

    let got = rec.received();
    assert_eq!(got.len(), 1);
    let body = &got[0].body;
    let agent = got[0].headers.get(header::USER_AGENT).unwrap();
    assert!(
        agent.to_str().unwrap().starts_with("Periscope/"),
        "{agent:?}"
    );

    let (top, alert_fields) = documented_fields();
    // The documentation lists at least these; a parsing slip must not make the check vacuous.
    assert!(
        top.len() >= 10 && alert_fields.len() >= 7,
        "{top:?} {alert_fields:?}"
    );
    let mut sent_top = keys(body);
    // Periscope's additions live in one extra object, never among Alertmanager's fields.
    assert!(sent_top.remove("periscope"));
    assert_eq!(sent_top, top);
    for alert in body["alerts"].as_array().unwrap() {
        assert_eq!(keys(alert), alert_fields);
    }

    assert_eq!(body["version"], "4");
    assert_eq!(body["groupKey"], "{}:{alertname=\"DiskFull\"}");
    assert_eq!(body["truncatedAlerts"], 0);
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "ops");
    assert_eq!(
        body["groupLabels"],
        serde_json::json!({"alertname": "DiskFull"})
    );
    assert_eq!(body["commonLabels"]["job"], "api");
    assert_eq!(
        body["commonAnnotations"],
        serde_json::json!({"runbook": "disk.md"})
    );
    assert_eq!(body["externalURL"], "https://periscope.example");
    assert!(body["notification_reason"].is_string());

    let firing = &body["alerts"][0];
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["labels"]["instance"], "db1");
    assert_eq!(firing["annotations"]["summary"], "DiskFull on db1");
    assert_eq!(firing["startsAt"], "2026-11-21T09:55:00.000Z");
    assert_eq!(firing["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        firing["generatorURL"],
        "https://periscope.example/rules/DiskFull"
    );
    let fingerprint = firing["fingerprint"].as_str().unwrap();
    assert_eq!(fingerprint, n.alerts[0].fingerprint.to_string());
    assert_eq!(fingerprint.len(), 16);
    assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
    let resolved = &body["alerts"][1];
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["endsAt"], "2026-11-21T09:59:00.000Z");
    // Both are valid RFC 3339 times.
    for t in [&firing["startsAt"], &resolved["endsAt"]] {
        assert!(
            t.as_str().unwrap().parse::<jiff::Timestamp>().is_ok(),
            "{t}"
        );
    }

    let extra = &body["periscope"];
    assert_eq!(extra["level"], "critical");
    assert_eq!(extra["ackURL"], "https://periscope.example/ack/abc123");
    assert_eq!(extra["people"][0]["name"], "alice");
    assert_eq!(extra["people"][0]["email"], "alice@example.com");
}

#[tokio::test]
async fn max_alerts_caps_the_list_and_counts_the_rest() {
    let rec = Recorder::new();
    let base = receiver(rec.clone()).await;
    let mut n = notification();
    n.alerts.push(alert("DiskFull", "db3"));
    channel(&base, 1).deliver(&n).await.unwrap();
    let body = &rec.received()[0].body;
    assert_eq!(body["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(body["alerts"][0]["labels"]["instance"], "db1");
    assert_eq!(body["truncatedAlerts"], 2);
}

#[tokio::test]
async fn throttling_and_outages_are_retried_after_the_wait_asked_for() {
    let rec = Recorder::new();
    let base = receiver(rec.clone()).await;
    let ch = channel(&base, 0);
    let n = notification();

    rec.then(Canned::new(StatusCode::TOO_MANY_REQUESTS, "slow down").retry_after("30"));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    assert!(e.message.contains("429"), "{e}");

    // A date is measured from the notification's own time, not the clock.
    rec.then(
        Canned::new(StatusCode::SERVICE_UNAVAILABLE, "maintenance")
            .retry_after("Sat, 21 Nov 2026 10:02:00 GMT"),
    );
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(120)));

    rec.then(Canned::new(StatusCode::INTERNAL_SERVER_ERROR, "boom"));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.retry_after, None);
    assert!(
        e.message.contains("500") && e.message.contains("boom"),
        "{e}"
    );

    // The service is back: the same notification goes through.
    ch.deliver(&n).await.unwrap();
    assert_eq!(rec.received().len(), 1);
}

#[tokio::test]
async fn refusals_are_permanent_and_never_show_the_secret_url() {
    let rec = Recorder::new();
    let base = receiver(rec.clone()).await;
    let n = notification();

    rec.then(Canned::new(
        StatusCode::BAD_REQUEST,
        "alerts[0].labels: expected object",
    ));
    let e = channel(&base, 0).deliver(&n).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("400"), "{e}");
    assert!(e.message.contains("expected object"), "{e}");

    let wrong: WebhookSettings = serde_json::from_value(serde_json::json!({
        "url": format!("{base}/hooks/wrong-{PATH_SECRET}"),
        "headers": { "X-Tenant": "ops" },
        "bearer_token": BEARER,
    }))
    .unwrap();
    let e = wrong
        .build(&ctx())
        .ok()
        .unwrap()
        .deliver(&n)
        .await
        .unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("404"), "{e}");
    assert!(!e.message.contains(PATH_SECRET), "{e}");
    assert!(
        e.message.contains(base.trim_start_matches("http://")),
        "{e}"
    );

    let unauthorized: WebhookSettings = serde_json::from_value(serde_json::json!({
        "url": format!("{base}/hooks/{PATH_SECRET}"),
        "headers": { "X-Tenant": "ops" },
    }))
    .unwrap();
    let e = unauthorized
        .build(&ctx())
        .ok()
        .unwrap()
        .deliver(&n)
        .await
        .unwrap_err();
    assert!(!e.retryable && e.message.contains("401"), "{e}");
    assert!(rec.received().is_empty());
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried() {
    let base = closed_port().await;
    let e = channel(&base, 0)
        .deliver(&notification())
        .await
        .unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(
        e.message.contains(&format!(
            "could not reach {}",
            base.trim_start_matches("http://")
        )),
        "{e}"
    );
    assert!(!e.message.contains(PATH_SECRET), "{e}");
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_as_retryable() {
    // Accepts the connection, then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let settings = WebhookSettings {
        url: format!("http://{addr}/hooks/{PATH_SECRET}"),
        ..WebhookSettings::default()
    };
    let mut ctx = ctx();
    ctx.timeout = Duration::from_millis(300);
    let e = settings
        .build(&ctx)
        .ok()
        .unwrap()
        .deliver(&notification())
        .await
        .unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(e.message.contains("did not answer"), "{e}");
}

#[test]
fn bad_settings_are_reported_by_key_without_secrets() {
    let settings: Result<WebhookSettings, _> =
        serde_json::from_value(serde_json::json!({ "url": "http://x", "max_alert": 3 }));
    assert!(settings.is_err(), "an unknown key must be refused");

    let settings = WebhookSettings {
        url: format!("ftp://example.com/{PATH_SECRET}"),
        headers: [("X Bad".to_string(), "v".to_string())].into(),
        ..WebhookSettings::default()
    };
    let issues = settings.build(&ctx()).err().unwrap();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["url"]);
    assert!(issues.iter().all(|i| !i.to_string().contains(PATH_SECRET)));

    let settings = WebhookSettings {
        url: "https://example.com/hook".into(),
        headers: [("X Bad".to_string(), "v".to_string())].into(),
        bearer_token: Some("line\nbreak".into()),
        ..WebhookSettings::default()
    };
    let issues = settings.build(&ctx()).err().unwrap();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["headers.X Bad", "bearer_token"]);
}
