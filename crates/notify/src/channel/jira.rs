//! `kind = "jira"`: one Jira issue per alert group, created when the group first fires,
//! commented as alerts join it, and moved through the workflow's resolving transition when it
//! resolves. Jira Cloud and Jira Data Center both speak REST API v2, which this uses.
//!
//! The issue key Jira answers is returned as [`Delivered::reference`] and comes back as
//! [`Notification::reference`] on the group's next delivery. Workflows differ per project, so
//! the transition is looked up by name each time (`resolve_transition`, default `Done`); a name
//! the issue does not offer is a permanent error that lists the names it does offer, which is
//! what the person fixing the config needs.
//!
//! ```toml
//! [receiver.platform.jira]
//! url = "https://acme.atlassian.net"
//! user = "alerts@acme.example"
//! api_token = "..."
//! project = "OPS"
//! issue_type = "Incident"
//! labels = ["periscope"]
//! priority = { critical = "Highest", non-critical = "Medium" }
//! reopen_transition = "Reopen"
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

/// Jira's limit on an issue's summary, in characters.
const SUMMARY_MAX_CHARS: usize = 255;

/// Settings of a Jira receiver.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    /// The site's base address, e.g. `https://acme.atlassian.net` or
    /// `https://jira.example.com/jira`.
    pub url: String,
    /// The account issues are created as (Jira Cloud: its e-mail); goes with `api_token`.
    #[serde(default)]
    pub user: Option<String>,
    /// The account's API token (Jira Cloud) or password (Data Center), sent with HTTP Basic.
    #[serde(default)]
    pub api_token: Option<String>,
    /// A personal access token (Jira Data Center), sent as `Authorization: Bearer`; instead
    /// of `user` + `api_token`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// The project's key, e.g. `OPS`.
    pub project: String,
    /// The issue type's name; default `Bug`.
    #[serde(default)]
    pub issue_type: Option<String>,
    /// Labels put on new issues, single words each.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Jira priority name per level, e.g. `{ critical = "Highest" }`; a level left out sets no
    /// priority (the project's default applies). Names are the site's own.
    #[serde(default)]
    pub priority: BTreeMap<Level, String>,
    /// The transition that resolves an issue, by name (any case); default `Done`.
    #[serde(default)]
    pub resolve_transition: Option<String>,
    /// The transition taken when a group fires again while its issue is resolved, by name
    /// (any case). Absent: the issue is only commented. An issue that does not offer it (it
    /// is still open) is commented and left as it is.
    #[serde(default)]
    pub reopen_transition: Option<String>,
}

impl JiraSettings {
    /// Checks every setting and builds the channel, or returns every problem found, each at
    /// its key.
    pub fn build(self, ctx: &ChannelContext) -> Result<JiraChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let url = ticket_http::base_url(&self.url, "url", &mut issues);
        let auth = match (self.user, self.api_token, self.bearer_token) {
            (None, None, Some(token)) => {
                ticket_http::required(&token, "bearer_token", &mut issues);
                Some(Auth::Bearer(token.trim().to_string()))
            }
            (Some(user), Some(token), None) => {
                ticket_http::required(&user, "user", &mut issues);
                ticket_http::required(&token, "api_token", &mut issues);
                Some(Auth::Basic {
                    user: user.trim().to_string(),
                    password: token.trim().to_string(),
                })
            }
            (_, _, Some(_)) => {
                issues.push(
                    ConfigIssue::new("bearer_token", "is set together with user/api_token")
                        .hint("use either user + api_token (Basic) or bearer_token"),
                );
                None
            }
            (user, _, None) => {
                let missing = if user.is_none() { "user" } else { "api_token" };
                issues.push(
                    ConfigIssue::new(missing, "is missing")
                        .hint("Jira needs user + api_token, or bearer_token"),
                );
                None
            }
        };
        ticket_http::required(&self.project, "project", &mut issues);
        ticket_http::single_words(&self.labels, "labels", &mut issues);
        for (level, name) in &self.priority {
            ticket_http::required(name, &format!("priority.{level}"), &mut issues);
        }
        let issue_type = self.issue_type.unwrap_or_else(|| "Bug".to_string());
        ticket_http::required(&issue_type, "issue_type", &mut issues);
        let resolve = self
            .resolve_transition
            .unwrap_or_else(|| "Done".to_string());
        ticket_http::required(&resolve, "resolve_transition", &mut issues);
        if let Some(reopen) = &self.reopen_transition {
            ticket_http::required(reopen, "reopen_transition", &mut issues);
        }
        match (url, auth) {
            (Some(url), Some(auth)) if issues.is_empty() => Ok(JiraChannel {
                ctx: ctx.clone(),
                url,
                auth,
                project: self.project.trim().to_string(),
                issue_type,
                labels: self.labels,
                priority: self.priority,
                resolve_transition: resolve,
                reopen_transition: self.reopen_transition,
            }),
            _ => Err(issues),
        }
    }
}

/// A Jira project that receives alert groups as issues.
pub struct JiraChannel {
    ctx: ChannelContext,
    url: Url,
    auth: Auth,
    project: String,
    issue_type: String,
    labels: Vec<String>,
    priority: BTreeMap<Level, String>,
    resolve_transition: String,
    reopen_transition: Option<String>,
}

impl JiraChannel {
    async fn deliver_now(&self, n: &Notification) -> Result<Delivered, DeliveryError> {
        let key = match n.reference.as_deref() {
            Some(r) => Some(ticket_http::reference_segment("Jira", r)?),
            None => None,
        };
        match (n.status(), key) {
            (AlertStatus::Firing, None) => self.create(n).await,
            (AlertStatus::Firing, Some(key)) => {
                match self.comment(n, key).await {
                    Ok(()) => {}
                    // Someone deleted the issue: the group still needs one.
                    Err(f) if f.status == Some(404) => return self.create(n).await,
                    Err(f) => return Err(f.into()),
                }
                if let Some(reopen) = &self.reopen_transition {
                    let offered = self.transitions(n, key).await?;
                    if let Some(id) = find(&offered, reopen) {
                        self.transition(n, key, id).await?;
                    }
                }
                Ok(Delivered {
                    reference: Some(key.to_string()),
                })
            }
            (AlertStatus::Resolved, Some(key)) => {
                match self.comment(n, key).await {
                    Ok(()) => {}
                    // Someone deleted the issue: nothing is left to resolve.
                    Err(f) if f.status == Some(404) => return Ok(Delivered::default()),
                    Err(f) => return Err(f.into()),
                }
                let offered = self.transitions(n, key).await?;
                let Some(id) = find(&offered, &self.resolve_transition) else {
                    let names: Vec<String> = offered
                        .iter()
                        .map(|(_, name)| format!("{name:?}"))
                        .collect();
                    return Err(DeliveryError::permanent(format!(
                        "Jira issue {key} offers no transition named {:?}; it offers: {} \
                         (set resolve_transition to one of them)",
                        self.resolve_transition,
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )));
                };
                self.transition(n, key, id).await?;
                Ok(Delivered {
                    reference: Some(key.to_string()),
                })
            }
            // No issue was created for this group: there is nothing to resolve.
            (AlertStatus::Resolved, None) => Ok(Delivered::default()),
        }
    }

    async fn create(&self, n: &Notification) -> Result<Delivered, DeliveryError> {
        let mut warnings = Vec::new();
        let summary = ticket_http::render(&self.ctx, "title", n, &mut warnings).replace('\n', " ");
        let text = ticket_http::render(&self.ctx, "text", n, &mut warnings);
        let mut fields = json!({
            "project": { "key": self.project },
            "issuetype": { "name": self.issue_type },
            "summary": ticket_http::truncate(&summary, SUMMARY_MAX_CHARS),
            "description": ticket_http::with_warnings(text, &warnings),
            "labels": self.labels,
        });
        if let Some(priority) = self.priority.get(&n.level) {
            fields["priority"] = json!({ "name": priority });
        }
        let reply = self
            .call(
                n,
                Method::POST,
                &["issue"],
                Some(json!({ "fields": fields })),
            )
            .await?;
        match reply.get("key").and_then(Value::as_str) {
            Some(key) => Ok(Delivered {
                reference: Some(key.to_string()),
            }),
            // Retrying would create a second issue.
            None => Err(DeliveryError::permanent(
                "Jira created an issue but its answer named no issue key",
            )),
        }
    }

    async fn comment(&self, n: &Notification, key: &str) -> Result<(), Failure> {
        let mut warnings = Vec::new();
        let text = ticket_http::render(&self.ctx, "text", n, &mut warnings);
        let body = json!({ "body": ticket_http::with_warnings(text, &warnings) });
        self.call(n, Method::POST, &["issue", key, "comment"], Some(body))
            .await?;
        Ok(())
    }

    /// The transitions the issue offers now, as (id, name).
    async fn transitions(
        &self,
        n: &Notification,
        key: &str,
    ) -> Result<Vec<(String, String)>, DeliveryError> {
        let reply = self
            .call(n, Method::GET, &["issue", key, "transitions"], None)
            .await?;
        let Some(list) = reply.get("transitions").and_then(Value::as_array) else {
            return Err(DeliveryError::permanent(format!(
                "Jira listed no transitions for issue {key} (no `transitions` in its answer)"
            )));
        };
        Ok(list
            .iter()
            .filter_map(|t| {
                let id = match t.get("id")? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                let name = t.get("name")?.as_str()?.to_string();
                Some((id, name))
            })
            .collect())
    }

    async fn transition(&self, n: &Notification, key: &str, id: &str) -> Result<(), DeliveryError> {
        let body = json!({ "transition": { "id": id } });
        self.call(n, Method::POST, &["issue", key, "transitions"], Some(body))
            .await?;
        Ok(())
    }

    /// One call under `/rest/api/2/`, answering the reply's JSON.
    async fn call(
        &self,
        n: &Notification,
        method: Method,
        path: &[&str],
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut segments = vec!["rest", "api", "2"];
        segments.extend_from_slice(path);
        let call = Call {
            service: "Jira",
            method,
            url: ticket_http::join(&self.url, &segments),
            auth: &self.auth,
            body,
            explain,
        };
        Ok(ticket_http::send(&self.ctx, n, call).await?.body)
    }
}

/// The id of the transition called `name`, any case.
fn find<'a>(offered: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.trim().to_lowercase();
    offered
        .iter()
        .find(|(_, n)| n.trim().to_lowercase() == name)
        .map(|(id, _)| id.as_str())
}

/// Jira's error body: `{"errorMessages": ["..."], "errors": {"priority": "..."}}`.
fn explain(body: &Value) -> Option<String> {
    let mut parts: Vec<String> = body
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        for (field, message) in errors {
            if let Some(m) = message.as_str() {
                parts.push(format!("{field}: {m}"));
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

impl Channel for JiraChannel {
    fn kind(&self) -> &'static str {
        "jira"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(self.deliver_now(notification))
    }
}
