//! What the ticket and pager channels (PagerDuty, ZenDesk, Jira) share: one JSON request with
//! the context's client and timeout, its answer sorted into "done", "try again (after this
//! long)" and "never", the group digest they use as a stable key, and rendering with template
//! warnings kept.
//!
//! These services answer in JSON on success and failure alike, each with its own error shape,
//! so a channel hands in a function that pulls the service's message out of an error body: a
//! person reading "HTTP 400: Field 'priority' cannot be set" fixes their config in one go.
//! Messages name the host and path only: secrets travel in headers and bodies, never here.

use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

use std::collections::BTreeMap;

use model::ConfigIssue;
use model::level::Level;

use super::{ChannelContext, DeliveryError, Notification, retry_after};

/// Most characters of an error body quoted in a message when the service's own message could
/// not be read from it.
const BODY_QUOTE_CHARS: usize = 200;

/// How a request proves who sends it.
#[derive(Clone)]
pub(crate) enum Auth {
    /// Nothing (PagerDuty's key travels in the body).
    None,
    /// HTTP Basic.
    Basic { user: String, password: String },
    /// `Authorization: Bearer ...`.
    Bearer(String),
}

/// One request to a service.
pub(crate) struct Call<'a> {
    /// The service's name for messages, e.g. `ZenDesk`.
    pub service: &'static str,
    pub method: Method,
    pub url: Url,
    pub auth: &'a Auth,
    /// A JSON body; `None` sends none (GET).
    pub body: Option<Value>,
    /// Pulls the service's own message out of an error body.
    pub explain: fn(&Value) -> Option<String>,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    /// The body as JSON; `Null` when it was empty or not JSON.
    pub body: Value,
}

/// A failed call: what the retry stage needs, and what the service answered, so a channel can
/// tell "this ticket is gone" from other refusals.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The HTTP status, when the service answered at all.
    pub status: Option<u16>,
    /// The answer as JSON; `Null` when there was none or it was not JSON.
    pub body: Value,
    pub error: DeliveryError,
}

impl From<DeliveryError> for Failure {
    fn from(error: DeliveryError) -> Self {
        Failure {
            status: None,
            body: Value::Null,
            error,
        }
    }
}

impl From<Failure> for DeliveryError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

/// Sends `call` once. 2xx is a [`Reply`]; 429 and 5xx are retryable with the service's
/// `Retry-After` (read against the notification's time); other statuses are permanent with the
/// service's message; connection failures and timeouts are retryable.
pub(crate) async fn send(
    ctx: &ChannelContext,
    n: &Notification,
    call: Call<'_>,
) -> Result<Reply, Failure> {
    let place = describe_url(&call.url);
    let what = format!("{} {} {place}", call.service, call.method);
    let mut request = ctx
        .http
        .request(call.method, call.url)
        .timeout(ctx.timeout)
        .header(ACCEPT, "application/json");
    request = match call.auth {
        Auth::None => request,
        Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
        Auth::Bearer(token) => request.bearer_auth(token),
    };
    if let Some(body) = &call.body {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| DeliveryError::permanent(format!("{what}: cannot encode body: {e}")))?;
        request = request.header(CONTENT_TYPE, "application/json").body(bytes);
    }
    let response = request.send().await.map_err(|e| transport(&what, &e))?;
    let status = response.status();
    let wait = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.bytes().await.map_err(|e| transport(&what, &e))?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(Reply {
            status: status.as_u16(),
            body,
        });
    }
    let detail = (call.explain)(&body)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| quote(&bytes));
    let message = format!("{what}: HTTP {status}: {detail}");
    let error = if status.as_u16() == 429 || status.is_server_error() {
        DeliveryError::retryable(message).after(retry_after(wait.as_deref(), n.at))
    } else {
        DeliveryError::permanent(message)
    };
    Err(Failure {
        status: Some(status.as_u16()),
        body,
        error,
    })
}

/// A transport failure: timeouts and connection trouble may pass, anything else will not.
fn transport(what: &str, e: &reqwest::Error) -> DeliveryError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_request() {
        "request failed"
    } else {
        "failed"
    };
    // reqwest's own text can carry the URL; the causes below it do not, and the innermost
    // one says what actually happened ("Connection refused").
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause.push_str(": ");
        cause.push_str(&s.to_string());
        source = s.source();
    }
    let message = format!("{what}: {kind}{cause}");
    if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
        DeliveryError::retryable(message)
    } else {
        DeliveryError::permanent(message)
    }
}

/// `host:port/path` without scheme, credentials or query.
fn describe_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}{}", url.path()),
        None => format!("{host}{}", url.path()),
    }
}

/// The start of a body that had no message we could read.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    truncate(text, BODY_QUOTE_CHARS)
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A stable, opaque key for the notification's group at its receiver: 64 hex digits of
/// SHA-256, so it fits every service's limit (PagerDuty's 255) and leaks no label values.
pub(crate) fn group_digest(n: &Notification) -> String {
    let mut hash = Sha256::new();
    hash.update(n.receiver.as_bytes());
    hash.update([0u8]);
    hash.update(n.group_key.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Renders template `name`, adding any warning to `warnings` so the message can show it.
pub(crate) fn render(
    ctx: &ChannelContext,
    name: &str,
    n: &Notification,
    warnings: &mut Vec<String>,
) -> String {
    let rendered = ctx.templates.render(name, n);
    if let Some(w) = rendered.warning {
        warnings.push(w);
    }
    rendered.text
}

/// `text` with one `(template warning: ...)` line per warning, so people see their template
/// is broken in the message it broke.
pub(crate) fn with_warnings(mut text: String, warnings: &[String]) -> String {
    for w in warnings {
        text.push_str("\n(template warning: ");
        text.push_str(w);
        text.push(')');
    }
    text
}

/// Reads a service's base URL (`http` or `https`), recording an issue at `key` when it is
/// not one.
pub(crate) fn base_url(text: &str, key: &str, issues: &mut Vec<ConfigIssue>) -> Option<Url> {
    match Url::parse(text.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Some(url)
        }
        Ok(_) => {
            issues.push(ConfigIssue::new(key, "must be an http:// or https:// URL"));
            None
        }
        Err(e) => {
            issues.push(
                ConfigIssue::new(key, format!("not a URL: {e}"))
                    .hint("e.g. https://example.zendesk.com"),
            );
            None
        }
    }
}

/// `base` with `segments` appended as path segments (percent-encoded, so a ticket reference
/// can never change which path is called).
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// The stored reference of a ticket, checked before it goes into a path: a reference that is
/// empty or a dot segment would call another path than the ticket's.
pub(crate) fn reference_segment<'a>(
    service: &str,
    reference: &'a str,
) -> Result<&'a str, DeliveryError> {
    let r = reference.trim();
    if r.is_empty() || r == "." || r == ".." {
        return Err(DeliveryError::permanent(format!(
            "{service}: stored reference {reference:?} is not a ticket id"
        )));
    }
    Ok(r)
}

/// A level's place in a `[logged, non-critical, critical]` array.
pub(crate) fn level_index(level: Level) -> usize {
    match level {
        Level::Logged => 0,
        Level::NonCritical => 1,
        Level::Critical => 2,
    }
}

/// A per-level word (a severity, a priority): `defaults` (logged, non-critical, critical) with
/// the configured `overrides` laid over them, each checked against `allowed`; a word outside
/// it is an issue at `key.LEVEL`.
pub(crate) fn by_level(
    defaults: [&str; 3],
    overrides: &BTreeMap<Level, String>,
    allowed: &[&str],
    key: &str,
    issues: &mut Vec<ConfigIssue>,
) -> [String; 3] {
    let mut words = defaults.map(str::to_string);
    for (level, value) in overrides {
        if allowed.contains(&value.as_str()) {
            words[level_index(*level)] = value.clone();
        } else {
            issues.push(
                ConfigIssue::new(
                    format!("{key}.{level}"),
                    format!("{value:?} is not allowed"),
                )
                .hint(format!("one of {}", allowed.join(", "))),
            );
        }
    }
    words
}

/// Records an issue at `key` when a required secret or name is empty.
pub(crate) fn required(value: &str, key: &str, issues: &mut Vec<ConfigIssue>) {
    if value.trim().is_empty() {
        issues.push(ConfigIssue::new(key, "must not be empty"));
    }
}

/// Records an issue for each value with whitespace: ZenDesk tags and Jira labels are single
/// words, and both services split or reject the rest.
pub(crate) fn single_words(values: &[String], key: &str, issues: &mut Vec<ConfigIssue>) {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || v.chars().any(char::is_whitespace) {
            issues.push(
                ConfigIssue::new(format!("{key}.{i}"), format!("{v:?} is not a single word"))
                    .hint("use `-` or `_` instead of spaces"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo wörld", 6), "héllo…");
        assert_eq!(truncate("héllo wörld", 6).chars().count(), 6);
    }

    #[test]
    fn join_encodes_references_as_one_segment() {
        let base = Url::parse("https://jira.example.com/jira/").unwrap();
        let url = join(&base, &["rest", "api", "2", "issue", "../x?y", "comment"]);
        assert_eq!(
            url.as_str(),
            "https://jira.example.com/jira/rest/api/2/issue/..%2Fx%3Fy/comment"
        );
    }

    #[test]
    fn urls_in_messages_lose_credentials_and_query() {
        let url = Url::parse("https://u:secret@h.example:8443/p/q?token=abc").unwrap();
        assert_eq!(describe_url(&url), "h.example:8443/p/q");
    }
}
