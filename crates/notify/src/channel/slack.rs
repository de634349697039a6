//! The `slack` and `mattermost` channels: one message to an incoming webhook.
//!
//! Mattermost's incoming webhooks accept Slack's format, so one body serves both:
//!
//! - `text`: the rendered `chat` template (Slack's `*bold*` and `<url|label>` links, which
//!   Mattermost translates), with a last line naming any template that failed;
//! - `attachments`: one attachment whose `color` is red while anything fires and green once all
//!   resolved, with short `fields` for the status, the level and the alert counts, and `fallback`
//!   (the title) for clients that show no attachments;
//! - `channel`, `username`, `icon_emoji` / `icon_url`: sent only when set.
//!
//! What each service reads. Slack: `text`, `attachments` (`color`, `fallback`, `fields`); the
//! overrides `channel`, `username`, `icon_emoji` and `icon_url` only on legacy webhooks (a
//! webhook of a Slack app always posts to the channel and as the identity chosen when it was
//! installed, and ignores them). Slack answers `200 ok`, and errors in plain text such as
//! `400 invalid_payload`, `403 action_prohibited`, `404 channel_not_found`, `410
//! channel_is_archived`, or `429` with `Retry-After` when rate-limited. Mattermost: `text`,
//! `attachments` (same fields), `channel`, `username`, `icon_url` and `icon_emoji` (the last
//! three only when the server lets integrations override them; `icon_emoji` wins over
//! `icon_url`). Mattermost answers `200 ok`, and errors as JSON (`{"id", "message",
//! "status_code"}`), e.g. 400 for a missing text or 404 for an unknown hook.
//!
//! ```toml
//! [receivers.ops.slack]
//! webhook_url = "https://hooks.slack.com/services/T000/B000/XXXX"
//! channel = "#ops"
//! ```

use model::ConfigIssue;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::alert::AlertStatus;
use crate::channel::http::Endpoint;
use crate::channel::payload::Texts;
use crate::channel::{BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Notification};

/// The attachment colour while anything fires.
pub const FIRING_COLOR: &str = "#d93f0b";
/// The attachment colour once everything resolved.
pub const RESOLVED_COLOR: &str = "#2eb67d";

/// Which service the webhook belongs to: the body is the same, the kind and messages differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatService {
    /// Slack (kind `slack`).
    Slack,
    /// Mattermost (kind `mattermost`).
    Mattermost,
}

impl ChatService {
    /// The channel kind, as written in the config.
    pub fn kind(self) -> &'static str {
        match self {
            ChatService::Slack => "slack",
            ChatService::Mattermost => "mattermost",
        }
    }
}

/// Settings of a `slack` or `mattermost` channel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// The incoming webhook's URL. It is the credential: messages show only its host.
    pub webhook_url: String,
    /// Post to this channel instead of the webhook's own, e.g. `#ops` (Mattermost, and Slack's
    /// legacy webhooks).
    #[serde(default)]
    pub channel: Option<String>,
    /// Post under this name (Mattermost, and Slack's legacy webhooks).
    #[serde(default)]
    pub username: Option<String>,
    /// Use this emoji as the avatar, e.g. `:rotating_light:`. Set this or `icon_url`.
    #[serde(default)]
    pub icon_emoji: Option<String>,
    /// Use the image at this URL as the avatar. Set this or `icon_emoji`.
    #[serde(default)]
    pub icon_url: Option<String>,
}

impl SlackSettings {
    /// Checks every setting and builds the channel for `service`, or returns every problem.
    pub fn build(
        self,
        service: ChatService,
        ctx: &ChannelContext,
    ) -> Result<SlackChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let endpoint = Endpoint::parse("webhook_url", &self.webhook_url)
            .map_err(|issue| issues.push(issue))
            .ok();
        if self.icon_emoji.is_some() && self.icon_url.is_some() {
            issues.push(
                ConfigIssue::new("icon_url", "both `icon_emoji` and `icon_url` are set")
                    .hint("keep one: the services show a single avatar"),
            );
        }
        if let Some(url) = &self.icon_url
            && let Err(issue) = Endpoint::parse("icon_url", url)
        {
            issues.push(issue);
        }
        for (key, value) in [("channel", &self.channel), ("username", &self.username)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                issues.push(
                    ConfigIssue::new(key, "is empty").hint("remove it to use the webhook's own"),
                );
            }
        }
        match endpoint {
            Some(endpoint) if issues.is_empty() => Ok(SlackChannel {
                service,
                endpoint,
                settings: self,
                ctx: ctx.clone(),
            }),
            _ => Err(issues),
        }
    }
}

/// A built `slack` or `mattermost` channel.
pub struct SlackChannel {
    service: ChatService,
    endpoint: Endpoint,
    settings: SlackSettings,
    ctx: ChannelContext,
}

impl SlackChannel {
    /// The JSON body for `notification` (see the module doc).
    pub fn body(&self, notification: &Notification) -> Value {
        let n = notification;
        let mut texts = Texts::new(&self.ctx.templates, n);
        let chat = texts.render("chat");
        let text = texts.with_warnings(&chat);
        let (firing, resolved) = (n.firing().count(), n.resolved().count());
        let mut counts = format!("{firing} firing, {resolved} resolved");
        if n.truncated_alerts > 0 {
            counts.push_str(&format!(", {} more not shown", n.truncated_alerts));
        }
        let color = match n.status() {
            AlertStatus::Firing => FIRING_COLOR,
            AlertStatus::Resolved => RESOLVED_COLOR,
        };
        let mut body = json!({
            "text": text,
            "attachments": [{
                "color": color,
                "fallback": texts.title(),
                "fields": [
                    { "title": "Status", "value": n.status().as_str(), "short": true },
                    { "title": "Level", "value": n.level.as_str(), "short": true },
                    { "title": "Alerts", "value": counts, "short": true },
                ],
            }],
        });
        let s = &self.settings;
        for (key, value) in [
            ("channel", &s.channel),
            ("username", &s.username),
            ("icon_emoji", &s.icon_emoji),
            ("icon_url", &s.icon_url),
        ] {
            if let Some(value) = value {
                body[key] = Value::String(value.trim().to_string());
            }
        }
        body
    }
}

impl Channel for SlackChannel {
    fn kind(&self) -> &'static str {
        self.service.kind()
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
                    self.service.kind(),
                    &body,
                    notification.at,
                )
                .await?;
            Ok(Delivered::default())
        })
    }
}
