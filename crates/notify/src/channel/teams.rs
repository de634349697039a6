//! The `teams` channel: an Adaptive Card posted to a Microsoft Teams incoming webhook, either a
//! Workflows (Power Automate) "post to a channel when a webhook request is received" URL or a
//! classic connector URL.
//!
//! Both accept the same message: `{"type": "message", "attachments": [{"contentType":
//! "application/vnd.microsoft.card.adaptive", "content": <card>}]}`. The card has a TextBlock
//! for the title (red while anything fires, green once resolved), a TextBlock for the rendered
//! `text` template, and an `Action.OpenUrl` button "Acknowledge" when the group can be
//! acknowledged. Card version 1.4, the newest every Teams client renders.
//!
//! Workflows answer `202 Accepted`, connectors `200` with body `1`; refusals are 4xx (400 for a
//! card Teams cannot read) and throttling is `429` with `Retry-After`.
//!
//! ```toml
//! [receivers.ops.teams]
//! webhook_url = "https://prod-00.westeurope.logic.azure.com/workflows/..."
//! ```

use model::ConfigIssue;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::alert::AlertStatus;
use crate::channel::http::Endpoint;
use crate::channel::payload::Texts;
use crate::channel::{BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Notification};

/// The attachment content type Teams reads as an Adaptive Card.
pub const ADAPTIVE_CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// Settings of a `teams` channel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {
    /// The Workflows or connector webhook URL. It is the credential: messages show only its host.
    pub webhook_url: String,
}

impl TeamsSettings {
    /// Checks the settings and builds the channel, or returns every problem found.
    pub fn build(self, ctx: &ChannelContext) -> Result<TeamsChannel, Vec<ConfigIssue>> {
        let endpoint = Endpoint::parse("webhook_url", &self.webhook_url).map_err(|i| vec![i])?;
        Ok(TeamsChannel {
            endpoint,
            ctx: ctx.clone(),
        })
    }
}

/// A built `teams` channel.
pub struct TeamsChannel {
    endpoint: Endpoint,
    ctx: ChannelContext,
}

impl TeamsChannel {
    /// The JSON message for `notification` (see the module doc).
    pub fn body(&self, notification: &Notification) -> Value {
        let n = notification;
        let mut texts = Texts::new(&self.ctx.templates, n);
        let text = texts.render("text");
        let text = texts.with_warnings(&text);
        let color = match n.status() {
            AlertStatus::Firing => "Attention",
            AlertStatus::Resolved => "Good",
        };
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "msteams": { "width": "Full" },
            "body": [
                {
                    "type": "TextBlock",
                    "text": texts.title(),
                    "size": "Medium",
                    "weight": "Bolder",
                    "color": color,
                    "wrap": true,
                },
                {
                    "type": "TextBlock",
                    "text": paragraphs(&text),
                    "wrap": true,
                },
            ],
        });
        if let Some(url) = &n.ack_url {
            card["actions"] = json!([{
                "type": "Action.OpenUrl",
                "title": "Acknowledge",
                "url": url,
            }]);
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": ADAPTIVE_CARD_CONTENT_TYPE,
                "contentUrl": null,
                "content": card,
            }],
        })
    }
}

/// Teams renders TextBlock text as Markdown, where a single line break is no break at all:
/// every line of the plain-text message becomes its own paragraph.
fn paragraphs(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

impl Channel for TeamsChannel {
    fn kind(&self) -> &'static str {
        "teams"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let body = self.body(notification);
            self.endpoint
                .post_json(
                    &self.ctx.http,
                    self.ctx.timeout,
                    "teams",
                    &body,
                    notification.at,
                )
                .await?;
            Ok(Delivered::default())
        })
    }
}
