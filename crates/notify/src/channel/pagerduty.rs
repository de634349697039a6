//! `kind = "pagerduty"`: PagerDuty's Events API v2, which opens, acknowledges and resolves
//! PagerDuty alerts (and through them incidents) keyed by a `dedup_key`.
//!
//! The key is a digest of the receiver and the group, so every notification of one group lands
//! on one PagerDuty alert: a firing notification triggers (or updates) it, a resolved one
//! resolves it, and [`PagerDutyChannel::acknowledge`] acknowledges it when a person
//! acknowledged the group in Periscope. Nothing needs remembering between deliveries, which is
//! why PagerDuty, unlike the ticket channels, ignores [`Notification::reference`].
//!
//! ```toml
//! [receiver.ops.pagerduty]
//! routing_key = "R0ABC...32 characters...XYZ"
//! severity = { non-critical = "error" }
//! component = "payments"
//! ```

use std::collections::BTreeMap;

use model::ConfigIssue;
use model::level::Level;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ticket_http::{self, Auth, Call};
use super::{BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Notification};
use crate::alert::AlertStatus;

/// Where events go unless `url` says otherwise.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// PagerDuty's limit on `payload.summary`, in characters.
const SUMMARY_MAX_CHARS: usize = 1024;
/// The severities PagerDuty accepts.
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// Settings of a PagerDuty receiver.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    /// The integration key of an Events API v2 integration on a PagerDuty service (32
    /// characters); it is the secret that lets Periscope open incidents there.
    pub routing_key: String,
    /// The events endpoint; default `https://events.pagerduty.com/v2/enqueue` (use the EU
    /// host, `events.eu.pagerduty.com`, for EU accounts).
    #[serde(default)]
    pub url: Option<String>,
    /// PagerDuty severity (`critical`, `error`, `warning`, `info`) per level; levels left out
    /// keep their default: critical -> `critical`, non-critical -> `warning`, logged -> `info`.
    #[serde(default)]
    pub severity: BTreeMap<Level, String>,
    /// `payload.source`: the affected system. Default: the group's common `instance` label,
    /// else its `job`, else `Periscope`.
    #[serde(default)]
    pub source: Option<String>,
    /// `payload.component`: the part of the source that is broken, e.g. `postgres`.
    #[serde(default)]
    pub component: Option<String>,
    /// `payload.group`: a cluster of sources, e.g. `prod-datapipe`. Default: the group's
    /// common `job` label, when it has one.
    #[serde(default)]
    pub group: Option<String>,
    /// `payload.class`: the kind of event, e.g. `disk`. Default: the group's common
    /// `alertname`, when it has one.
    #[serde(default)]
    pub class: Option<String>,
}

impl PagerDutySettings {
    /// Checks every setting and builds the channel, or returns every problem found, each at
    /// its key.
    pub fn build(self, ctx: &ChannelContext) -> Result<PagerDutyChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        ticket_http::required(&self.routing_key, "routing_key", &mut issues);
        if self.routing_key.trim().chars().any(char::is_whitespace) {
            issues.push(ConfigIssue::new("routing_key", "must not contain spaces"));
        }
        let url = ticket_http::base_url(
            self.url.as_deref().unwrap_or(DEFAULT_URL),
            "url",
            &mut issues,
        );
        let severity = ticket_http::by_level(
            ["info", "warning", "critical"],
            &self.severity,
            &SEVERITIES,
            "severity",
            &mut issues,
        );
        match url {
            Some(url) if issues.is_empty() => Ok(PagerDutyChannel {
                ctx: ctx.clone(),
                routing_key: self.routing_key.trim().to_string(),
                url,
                severity,
                source: self.source,
                component: self.component,
                group: self.group,
                class: self.class,
            }),
            _ => Err(issues),
        }
    }
}

/// A PagerDuty Events API v2 integration.
pub struct PagerDutyChannel {
    ctx: ChannelContext,
    routing_key: String,
    url: Url,
    /// Indexed by `ticket_http::level_index`.
    severity: [String; 3],
    source: Option<String>,
    component: Option<String>,
    group: Option<String>,
    class: Option<String>,
}

/// The `dedup_key` of a notification's group: the same for every notification of the group
/// at one receiver, different across groups and receivers; 64 hex digits.
pub fn dedup_key(n: &Notification) -> String {
    ticket_http::group_digest(n)
}

impl PagerDutyChannel {
    /// Acknowledges the group's PagerDuty alert: PagerDuty stops escalating it until it
    /// resolves (or the acknowledgement times out on PagerDuty's side).
    pub async fn acknowledge(&self, n: &Notification) -> Result<Delivered, DeliveryError> {
        self.send(n, "acknowledge").await
    }

    async fn deliver_now(&self, n: &Notification) -> Result<Delivered, DeliveryError> {
        match n.status() {
            AlertStatus::Firing => self.send(n, "trigger").await,
            AlertStatus::Resolved => self.send(n, "resolve").await,
        }
    }

    async fn send(&self, n: &Notification, action: &str) -> Result<Delivered, DeliveryError> {
        let key = dedup_key(n);
        let body = if action == "trigger" {
            self.trigger_event(n, &key)
        } else {
            json!({ "routing_key": self.routing_key, "event_action": action, "dedup_key": key })
        };
        let call = Call {
            service: "PagerDuty",
            method: Method::POST,
            url: self.url.clone(),
            auth: &Auth::None,
            body: Some(body),
            explain,
        };
        let reply = ticket_http::send(&self.ctx, n, call).await?;
        let reference = reply
            .body
            .get("dedup_key")
            .and_then(Value::as_str)
            .unwrap_or(&key)
            .to_string();
        Ok(Delivered {
            reference: Some(reference),
        })
    }

    fn trigger_event(&self, n: &Notification, key: &str) -> Value {
        let mut warnings = Vec::new();
        let title = ticket_http::render(&self.ctx, "title", n, &mut warnings);
        let text = ticket_http::render(&self.ctx, "text", n, &mut warnings);
        let common = |name: &str| n.common_labels.get(name).map(str::to_string);
        let source = self
            .source
            .clone()
            .or_else(|| common("instance"))
            .or_else(|| common("job"))
            .unwrap_or_else(|| "Periscope".to_string());
        let started = n
            .firing()
            .map(|a| a.starts_at)
            .min()
            .unwrap_or(n.at)
            .to_string();

        let mut payload = Map::new();
        payload.insert(
            "summary".into(),
            ticket_http::truncate(&title, SUMMARY_MAX_CHARS).into(),
        );
        payload.insert("source".into(), source.into());
        payload.insert(
            "severity".into(),
            self.severity[ticket_http::level_index(n.level)]
                .clone()
                .into(),
        );
        payload.insert("timestamp".into(), started.into());
        let optional = [
            ("component", self.component.clone()),
            ("group", self.group.clone().or_else(|| common("job"))),
            ("class", self.class.clone().or_else(|| common("alertname"))),
        ];
        for (name, value) in optional {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                payload.insert(name.into(), v.into());
            }
        }
        payload.insert("custom_details".into(), details(n, text, &warnings));

        let mut event = json!({
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": payload,
            "client": "Periscope",
            "links": links(n),
        });
        if !n.external_url.is_empty() {
            event["client_url"] = n.external_url.clone().into();
        }
        event
    }
}

/// What PagerDuty shows under "custom details": the rendered text and every alert with its
/// labels and annotations, so the responder need not open Periscope to see what fires.
fn details(n: &Notification, text: String, warnings: &[String]) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            let labels: Map<String, Value> = a
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect();
            let mut alert = json!({
                "alertname": a.name(),
                "status": a.status().as_str(),
                "level": a.level.as_str(),
                "labels": labels,
                "annotations": a.annotations,
                "starts_at": a.starts_at.to_string(),
            });
            if let Some(end) = a.ends_at {
                alert["ends_at"] = end.to_string().into();
            }
            if let Some(v) = a.value.filter(|v| v.is_finite()) {
                alert["value"] = v.into();
            }
            alert
        })
        .collect();
    let mut details = json!({
        "text": ticket_http::with_warnings(text, warnings),
        "level": n.level.as_str(),
        "num_firing": n.firing().count(),
        "num_resolved": n.resolved().count(),
        "alerts": alerts,
    });
    if n.truncated_alerts > 0 {
        details["truncated_alerts"] = n.truncated_alerts.into();
    }
    details
}

/// Links shown on the PagerDuty alert: each rule's source and the acknowledge link.
fn links(n: &Notification) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut links = Vec::new();
    for a in &n.alerts {
        if !a.generator_url.is_empty() && !seen.contains(&a.generator_url.as_str()) {
            seen.push(a.generator_url.as_str());
            links.push(
                json!({ "href": a.generator_url, "text": format!("{} in Periscope", a.name()) }),
            );
        }
    }
    if let Some(ack) = &n.ack_url {
        links.push(json!({ "href": ack, "text": "Acknowledge in Periscope" }));
    }
    links
}

/// PagerDuty's error body: `{"status": "invalid event", "message": "Event object is invalid",
/// "errors": ["..."]}`.
fn explain(body: &Value) -> Option<String> {
    let message = body.get("message").and_then(Value::as_str)?;
    let errors: Vec<&str> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if errors.is_empty() {
        Some(message.to_string())
    } else {
        Some(format!("{message}: {}", errors.join("; ")))
    }
}

impl Channel for PagerDutyChannel {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(self.deliver_now(notification))
    }
}
