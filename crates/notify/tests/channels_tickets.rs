//! The ticket and pager channels (PagerDuty, ZenDesk, Jira) against local stand-ins for the
//! services: axum servers on 127.0.0.1 that check method, path, authentication, content type
//! and the documented body fields, keep tickets and issues as state, and answer like the
//! service does, errors included.
//!
//! What is shared lives here: notifications built by hand, a server runner, and a queue of
//! canned failures a stand-in answers before it serves normally again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::alert::Annotations;
use model::level::Level;
use model::{Labels, Timestamp};
use notify::channel::ChannelContext;
use notify::template::Templates;
use notify::{Alert, Notification};
use serde_json::Value;

#[path = "channels_tickets/jira.rs"]
mod jira;
#[path = "channels_tickets/pagerduty.rs"]
mod pagerduty;
#[path = "channels_tickets/zendesk.rs"]
mod zendesk;

/// The moment every notification is made at.
fn at() -> Timestamp {
    Timestamp::from_jiff("2026-11-21T10:00:00Z".parse().unwrap())
}

fn ctx() -> ChannelContext {
    ChannelContext::new(Arc::new(Templates::default()))
}

/// A firing alert `name` on `instance` at `level`, with a summary, started 5 minutes before
/// [`at`].
fn alert(name: &str, instance: &str, level: Level) -> Alert {
    let labels: Labels = [
        ("alertname", name),
        ("instance", instance),
        ("job", "api"),
        ("level", level.as_str()),
    ]
    .into_iter()
    .collect();
    let mut alert = Alert::firing(labels, at().plus_millis(-300_000));
    alert
        .annotations
        .insert("summary".into(), format!("{name} on {instance}"));
    alert.generator_url = format!("https://periscope.example/rules/{name}");
    alert
}

/// A notification of `alerts` for `receiver`, group `group_key`, with the labels they share.
fn notification(receiver: &str, group_key: &str, alerts: Vec<Alert>) -> Notification {
    let common: Labels = alerts
        .first()
        .map(|first| {
            first
                .labels
                .iter()
                .filter(|(k, v)| alerts.iter().all(|a| a.labels.get(k) == Some(*v)))
                .collect()
        })
        .unwrap_or_default();
    let level = alerts
        .iter()
        .map(|a| a.level)
        .max()
        .unwrap_or(Level::Logged);
    Notification {
        receiver: receiver.to_string(),
        group_key: group_key.to_string(),
        group_labels: common.iter().filter(|(k, _)| *k == "alertname").collect(),
        common_labels: common,
        common_annotations: Annotations::new(),
        alerts,
        truncated_alerts: 0,
        external_url: "https://periscope.example".to_string(),
        level,
        at: at(),
        ack_url: Some("https://periscope.example/ack/abc123".to_string()),
        people: Vec::new(),
        reference: None,
    }
}

/// The same notification with every alert resolved a minute before [`at`].
fn resolved(mut n: Notification) -> Notification {
    n.alerts = n
        .alerts
        .into_iter()
        .map(|a| a.resolved_at(at().plus_millis(-60_000)))
        .collect();
    n
}

/// Serves `router` on 127.0.0.1 and returns its base URL (`http://127.0.0.1:PORT`).
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// A base URL where nothing listens: the port was just free.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A failure a stand-in answers once, before serving normally again.
#[derive(Clone)]
struct Canned {
    status: u16,
    retry_after: Option<&'static str>,
    body: Value,
}

impl Canned {
    fn new(status: u16, body: Value) -> Self {
        Canned {
            status,
            retry_after: None,
            body,
        }
    }

    fn retry_after(mut self, value: &'static str) -> Self {
        self.retry_after = Some(value);
        self
    }
}

/// Canned failures, first in first out.
#[derive(Clone, Default)]
struct CannedQueue(Arc<Mutex<VecDeque<Canned>>>);

impl CannedQueue {
    fn push(&self, canned: Canned) {
        self.0.lock().unwrap().push_back(canned);
    }

    /// The next canned answer, if one is queued.
    fn next(&self) -> Option<Response> {
        let canned = self.0.lock().unwrap().pop_front()?;
        Some(json_response(
            canned.status,
            canned.body,
            canned.retry_after,
        ))
    }
}

/// A JSON answer with `status`, and `Retry-After` when given.
fn json_response(status: u16, body: Value, retry_after: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(wait) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_str(wait).unwrap());
    }
    response
}

/// The request's `Content-Type` is JSON (any charset parameter allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json")
}

/// The request's `Authorization` header, or `""`.
fn authorization(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
