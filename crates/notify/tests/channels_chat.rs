//! The webhook, Slack, Mattermost and Teams channels against local stand-ins for the services:
//! axum servers on 127.0.0.1 that check method, path, headers and the documented body fields,
//! record what they accepted, and answer like the service (errors, throttling and outages
//! included).
//!
//! Shared here: hand-built notifications, a server runner, a recorder of accepted requests, and
//! a queue of canned answers a stand-in gives before it serves normally again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::alert::Annotations;
use model::level::Level;
use model::{Labels, Timestamp};
use notify::channel::{ChannelContext, Person};
use notify::template::Templates;
use notify::{Alert, Notification};
use serde_json::Value;

#[path = "channels_chat/slack.rs"]
mod slack;
#[path = "channels_chat/teams.rs"]
mod teams;
#[path = "channels_chat/webhook.rs"]
mod webhook;

/// When every notification is made; `Retry-After` dates are measured from it.
fn at() -> Timestamp {
    Timestamp::from_jiff("2026-11-21T10:00:00Z".parse().unwrap())
}

fn ctx() -> ChannelContext {
    ChannelContext::new(Arc::new(Templates::default()))
}

/// A context whose templates are the defaults with `custom` (name -> source) laid over them.
fn ctx_with(custom: &[(&str, &str)]) -> ChannelContext {
    let custom: BTreeMap<String, String> = custom
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ChannelContext::new(Arc::new(Templates::new(&custom).unwrap()))
}

/// A firing alert `name` on `instance`, critical, with a summary, started 5 minutes before
/// [`at`].
fn alert(name: &str, instance: &str) -> Alert {
    let labels: Labels = [
        ("alertname", name),
        ("instance", instance),
        ("job", "api"),
        ("level", "critical"),
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

/// Two `DiskFull` alerts, one firing (db1) and one resolved a minute ago (db2), for `ops`.
fn notification() -> Notification {
    let firing = alert("DiskFull", "db1");
    let resolved = alert("DiskFull", "db2").resolved_at(at().plus_millis(-60_000));
    Notification {
        receiver: "ops".into(),
        group_key: "{}:{alertname=\"DiskFull\"}".into(),
        group_labels: [("alertname", "DiskFull")].into_iter().collect(),
        common_labels: [
            ("alertname", "DiskFull"),
            ("job", "api"),
            ("level", "critical"),
        ]
        .into_iter()
        .collect(),
        common_annotations: Annotations::from([("runbook".to_string(), "disk.md".to_string())]),
        alerts: vec![firing, resolved],
        truncated_alerts: 0,
        external_url: "https://periscope.example".into(),
        level: Level::Critical,
        at: at(),
        ack_url: Some("https://periscope.example/ack/abc123".into()),
        people: vec![Person {
            name: "alice".into(),
            email: Some("alice@example.com".into()),
            chat: Some("@alice".into()),
            phone: None,
        }],
        reference: None,
    }
}

/// The same notification with every alert resolved.
fn all_resolved(mut n: Notification) -> Notification {
    n.alerts = n
        .alerts
        .into_iter()
        .map(|a| {
            if a.is_firing() {
                a.resolved_at(at().plus_millis(-30_000))
            } else {
                a
            }
        })
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

/// One request a stand-in accepted.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Value,
}

/// An answer a stand-in gives once (throttling, an outage) before serving normally again.
#[derive(Clone, Debug)]
struct Canned {
    status: StatusCode,
    retry_after: Option<&'static str>,
    body: &'static str,
}

impl Canned {
    fn new(status: StatusCode, body: &'static str) -> Self {
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

impl IntoResponse for Canned {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        if let Some(value) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, value.parse().unwrap());
        }
        response
    }
}

/// What a stand-in shares between its requests: what it accepted and what it must answer next.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Received>>,
    canned: Mutex<VecDeque<Canned>>,
}

impl Recorder {
    fn new() -> Arc<Self> {
        Arc::new(Recorder::default())
    }

    /// Answers `canned` to the next request, after those queued before.
    fn then(&self, canned: Canned) {
        self.canned.lock().unwrap().push_back(canned);
    }

    /// The canned answer due now, if any.
    fn next_canned(&self) -> Option<Response> {
        self.canned
            .lock()
            .unwrap()
            .pop_front()
            .map(IntoResponse::into_response)
    }

    fn record(&self, headers: &HeaderMap, body: Value) {
        self.received.lock().unwrap().push(Received {
            headers: headers.clone(),
            body,
        });
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// True when `headers` say the body is JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().map(str::trim) == Some("application/json"))
}
