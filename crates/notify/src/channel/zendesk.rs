//! `kind = "zendesk"`: one ZenDesk ticket per alert group, opened when the group first fires,
//! commented (privately) as alerts join it, and solved when it resolves.
//!
//! The ticket id ZenDesk answers is returned as [`Delivered::reference`]; the notification log
//! hands it back as [`Notification::reference`] on the group's next delivery, which is how a
//! group's second notification becomes a comment instead of a second ticket. The ticket also
//! carries the group digest as `external_id`, so people (and ZenDesk searches) can find every
//! ticket one group ever opened.
//!
//! ```toml
//! [receiver.support.zendesk]
//! url = "https://acme.zendesk.com"
//! email = "alerts@acme.example"
//! api_token = "..."
//! group_id = 360001234567
//! tags = ["periscope", "monitoring"]
//! ```

use std::collections::BTreeMap;

use model::ConfigIssue;
use model::level::Level;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ticket_http::{self, Auth, Call, Failure};
use super::{BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Notification};
use crate::alert::AlertStatus;

/// The priorities ZenDesk accepts.
const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];
/// Longest subject sent; ZenDesk shows far less in its views anyway.
const SUBJECT_MAX_CHARS: usize = 255;

/// Settings of a ZenDesk receiver.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenDeskSettings {
    /// The account's address, `https://SUBDOMAIN.zendesk.com`.
    pub url: String,
    /// The agent the tickets are opened as (API token authentication is per agent).
    pub email: String,
    /// An API token (Admin Center > Apps and integrations > Zendesk API).
    pub api_token: String,
    /// ZenDesk priority (`urgent`, `high`, `normal`, `low`) per level; levels left out keep
    /// their default: critical -> `urgent`, non-critical -> `normal`, logged -> `low`.
    #[serde(default)]
    pub priority: BTreeMap<Level, String>,
    /// The ZenDesk group new tickets are assigned to; default: ZenDesk's own routing.
    #[serde(default)]
    pub group_id: Option<u64>,
    /// Tags put on new tickets, single words each (ZenDesk splits tags at spaces).
    #[serde(default)]
    pub tags: Vec<String>,
}

impl ZenDeskSettings {
    /// Checks every setting and builds the channel, or returns every problem found, each at
    /// its key.
    pub fn build(self, ctx: &ChannelContext) -> Result<ZenDeskChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let url = ticket_http::base_url(&self.url, "url", &mut issues);
        ticket_http::required(&self.email, "email", &mut issues);
        ticket_http::required(&self.api_token, "api_token", &mut issues);
        ticket_http::single_words(&self.tags, "tags", &mut issues);
        let priority = ticket_http::by_level(
            ["low", "normal", "urgent"],
            &self.priority,
            &PRIORITIES,
            "priority",
            &mut issues,
        );
        match url {
            Some(url) if issues.is_empty() => Ok(ZenDeskChannel {
                ctx: ctx.clone(),
                url,
                auth: Auth::Basic {
                    user: format!("{}/token", self.email.trim()),
                    password: self.api_token.trim().to_string(),
                },
                priority,
                group_id: self.group_id,
                tags: self.tags,
            }),
            _ => Err(issues),
        }
    }
}

/// A ZenDesk account that receives alert groups as tickets.
pub struct ZenDeskChannel {
    ctx: ChannelContext,
    url: Url,
    auth: Auth,
    /// Indexed by `ticket_http::level_index`.
    priority: [String; 3],
    group_id: Option<u64>,
    tags: Vec<String>,
}

impl ZenDeskChannel {
    async fn deliver_now(&self, n: &Notification) -> Result<Delivered, DeliveryError> {
        let id = match n.reference.as_deref() {
            Some(r) => Some(ticket_id(r)?),
            None => None,
        };
        match (n.status(), id) {
            (AlertStatus::Firing, None) => self.create(n, None).await,
            (AlertStatus::Firing, Some(id)) => {
                let body = self.body(n);
                let update = json!({ "ticket": { "comment": { "body": body, "public": false } } });
                match self.update(n, id, update).await {
                    Ok(delivered) => Ok(delivered),
                    // The group fires again after its ticket was closed (ZenDesk closes solved
                    // tickets after a few days) or deleted: people must hear of it all the
                    // same, on a new ticket that links back to the closed one.
                    Err(f) if closed(&f) => self.create(n, Some(id)).await,
                    Err(f) if f.status == Some(404) => self.create(n, None).await,
                    Err(f) => Err(f.into()),
                }
            }
            (AlertStatus::Resolved, Some(id)) => {
                let body = self.body(n);
                let update =
                    json!({ "ticket": { "status": "solved", "comment": { "body": body } } });
                match self.update(n, id, update).await {
                    Ok(delivered) => Ok(delivered),
                    // Closed or deleted: the ticket is out of everyone's queue already.
                    Err(f) if closed(&f) => Ok(Delivered {
                        reference: Some(id.to_string()),
                    }),
                    Err(f) if f.status == Some(404) => Ok(Delivered::default()),
                    Err(f) => Err(f.into()),
                }
            }
            // No ticket was opened for this group (it resolved before reaching us, or the
            // opening failed for good): there is nothing to solve.
            (AlertStatus::Resolved, None) => Ok(Delivered::default()),
        }
    }

    /// Opens a ticket for the group; `follows` is the closed ticket it follows up on.
    async fn create(
        &self,
        n: &Notification,
        follows: Option<u64>,
    ) -> Result<Delivered, DeliveryError> {
        let mut warnings = Vec::new();
        let subject = ticket_http::render(&self.ctx, "title", n, &mut warnings).replace('\n', " ");
        let text = ticket_http::render(&self.ctx, "text", n, &mut warnings);
        let mut ticket = json!({
            "subject": ticket_http::truncate(&subject, SUBJECT_MAX_CHARS),
            "comment": { "body": ticket_http::with_warnings(text, &warnings) },
            "priority": self.priority[ticket_http::level_index(n.level)],
            "tags": self.tags,
            "external_id": ticket_http::group_digest(n),
        });
        if let Some(group) = self.group_id {
            ticket["group_id"] = group.into();
        }
        if let Some(closed) = follows {
            ticket["via_followup_source_id"] = closed.into();
        }
        let call = Call {
            service: "ZenDesk",
            method: Method::POST,
            url: ticket_http::join(&self.url, &["api", "v2", "tickets.json"]),
            auth: &self.auth,
            body: Some(json!({ "ticket": ticket })),
            explain,
        };
        let reply = ticket_http::send(&self.ctx, n, call).await?;
        match reply.body.pointer("/ticket/id").and_then(Value::as_u64) {
            Some(id) => Ok(Delivered {
                reference: Some(id.to_string()),
            }),
            // Retrying would open a second ticket; the external_id finds this one.
            None => Err(DeliveryError::permanent(format!(
                "ZenDesk answered HTTP {} to creating a ticket but named no ticket id; \
                 look for external_id {}",
                reply.status,
                ticket_http::group_digest(n)
            ))),
        }
    }

    async fn update(&self, n: &Notification, id: u64, update: Value) -> Result<Delivered, Failure> {
        let call = Call {
            service: "ZenDesk",
            method: Method::PUT,
            url: ticket_http::join(&self.url, &["api", "v2", "tickets", &format!("{id}.json")]),
            auth: &self.auth,
            body: Some(update),
            explain,
        };
        ticket_http::send(&self.ctx, n, call).await?;
        Ok(Delivered {
            reference: Some(id.to_string()),
        })
    }

    fn body(&self, n: &Notification) -> String {
        let mut warnings = Vec::new();
        let text = ticket_http::render(&self.ctx, "text", n, &mut warnings);
        ticket_http::with_warnings(text, &warnings)
    }
}

/// ZenDesk refused an update because the ticket is closed (closed tickets are read-only;
/// ZenDesk answers 422 with `ClosedPreventsUpdate`).
fn closed(f: &Failure) -> bool {
    let body = f.body.to_string().to_ascii_lowercase();
    f.status == Some(422)
        && (body.contains("closedpreventsupdate") || body.contains("closed prevents"))
}

/// A stored reference read back as the ticket id it was.
fn ticket_id(reference: &str) -> Result<u64, DeliveryError> {
    reference.trim().parse().map_err(|_| {
        DeliveryError::permanent(format!(
            "ZenDesk: stored reference {reference:?} is not a ticket id"
        ))
    })
}

/// ZenDesk's error bodies: `{"error": "RecordInvalid", "description": "Record validation
/// errors", "details": {"priority": [{"description": "Priority: is invalid"}]}}`, or
/// `{"error": "Couldn't authenticate you"}`, or `{"error": {"title": ..., "message": ...}}`.
fn explain(body: &Value) -> Option<String> {
    let mut parts = Vec::new();
    match body.get("error") {
        Some(Value::String(e)) => parts.push(e.clone()),
        Some(Value::Object(e)) => {
            for key in ["title", "message"] {
                if let Some(s) = e.get(key).and_then(Value::as_str) {
                    parts.push(s.to_string());
                }
            }
        }
        _ => {}
    }
    if let Some(d) = body.get("description").and_then(Value::as_str) {
        parts.push(d.to_string());
    }
    if let Some(details) = body.get("details").and_then(Value::as_object) {
        for problems in details.values() {
            for p in problems.as_array().into_iter().flatten() {
                if let Some(d) = p.get("description").and_then(Value::as_str) {
                    parts.push(d.to_string());
                }
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}

impl Channel for ZenDeskChannel {
    fn kind(&self) -> &'static str {
        "zendesk"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(self.deliver_now(notification))
    }
}
