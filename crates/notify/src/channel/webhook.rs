//! The `webhook` channel: POSTs Alertmanager's webhook payload (version 4) to a URL, so every
//! receiver written for Alertmanager (chat bridges, ticket robots, home-made scripts) works with
//! Periscope unchanged.
//!
//! ```toml
//! [receivers.ops.webhook]
//! url = "https://bridge.example.com/alertmanager"
//! max_alerts = 20
//! bearer_token = "..."
//! headers = { X-Tenant = "ops" }
//! ```
//!
//! The body is [`webhook_payload`]; the answer is mapped like every HTTP channel's (2xx
//! delivered, 429/5xx retried, other statuses refused for good).

use std::collections::BTreeMap;

use model::ConfigIssue;
use serde::Deserialize;

use crate::channel::http::Endpoint;
use crate::channel::payload::webhook_payload;
use crate::channel::{BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Notification};

/// Settings of a `webhook` channel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST, an http(s) URL. Treated as a secret: messages show only its host.
    pub url: String,
    /// The most alerts one POST carries; the rest are counted in `truncatedAlerts`. 0 (the
    /// default) sends all.
    #[serde(default)]
    pub max_alerts: usize,
    /// Extra HTTP headers sent with every POST, e.g. `{ X-Tenant = "ops" }`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<String>,
}

impl WebhookSettings {
    /// Checks every setting and builds the channel, or returns every problem found.
    pub fn build(self, ctx: &ChannelContext) -> Result<WebhookChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut endpoint = match Endpoint::parse("url", &self.url) {
            Ok(endpoint) => Some(endpoint),
            Err(issue) => {
                issues.push(issue);
                None
            }
        };
        if let Some(endpoint) = endpoint.as_mut() {
            for (name, value) in &self.headers {
                if let Err(issue) = endpoint.header(&format!("headers.{name}"), name, value) {
                    issues.push(issue);
                }
            }
            if let Some(token) = &self.bearer_token
                && let Err(issue) = endpoint.bearer("bearer_token", token)
            {
                issues.push(issue);
            }
        }
        match endpoint {
            Some(endpoint) if issues.is_empty() => Ok(WebhookChannel {
                endpoint,
                max_alerts: self.max_alerts,
                ctx: ctx.clone(),
            }),
            _ => Err(issues),
        }
    }
}

/// A built `webhook` channel.
pub struct WebhookChannel {
    endpoint: Endpoint,
    max_alerts: usize,
    ctx: ChannelContext,
}

impl Channel for WebhookChannel {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let body = webhook_payload(notification, self.max_alerts);
            self.endpoint
                .post_json(
                    &self.ctx.http,
                    self.ctx.timeout,
                    "webhook",
                    &body,
                    notification.at,
                )
                .await?;
            Ok(Delivered::default())
        })
    }
}
