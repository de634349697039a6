//! The HTTP side the webhook, chat and Teams channels share: check a configured URL, POST a JSON
//! body, and turn the answer into [`Delivered`] or a [`DeliveryError`] the retry stage can act
//! on.
//!
//! The mapping is the one every HTTP service in this family documents: 2xx delivered; 429 and
//! 5xx worth retrying, after the `Retry-After` the service asked for; any other status is a
//! request the service will refuse again. A connection that fails or times out is retryable.
//!
//! Webhook URLs are secrets (Slack, Mattermost and Teams put the credential in the path), so no
//! message here names more of a URL than its host and port.

use std::time::Duration;

use model::{ConfigIssue, Timestamp};
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT,
};
use reqwest::{Client, Url};

use crate::channel::{DeliveryError, retry_after};

/// How much of a refusing service's answer goes into the error message.
const BODY_EXCERPT_CHARS: usize = 200;

/// At most this much of an answer is read: channels need a reference or an error excerpt, and
/// a misbehaving endpoint must not fill memory.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What Periscope calls itself in `User-Agent`.
const AGENT: &str = concat!("Periscope/", env!("CARGO_PKG_VERSION"));

/// One configured endpoint: where to POST and with which extra headers.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    url: Url,
    headers: HeaderMap,
    /// `host` or `host:port`: all of the URL that messages may show.
    host: String,
}

impl Endpoint {
    /// Checks `url` (setting `key`) is an absolute http(s) URL; an issue names only its host.
    pub(crate) fn parse(key: &str, url: &str) -> Result<Endpoint, ConfigIssue> {
        let parsed = Url::parse(url.trim()).map_err(|e| {
            ConfigIssue::new(key, format!("not a valid URL ({e})"))
                .hint("write the full address, e.g. https://hooks.example.com/services/...")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigIssue::new(
                key,
                format!("the URL's scheme is `{}`", parsed.scheme()),
            )
            .hint("use an http:// or https:// URL"));
        }
        let Some(host) = parsed.host_str() else {
            return Err(ConfigIssue::new(key, "the URL names no host"));
        };
        let host = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Ok(Endpoint {
            url: parsed,
            headers: HeaderMap::new(),
            host,
        })
    }

    /// The host (and port, when the URL names one): what messages may say about the endpoint.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// Adds header `name: value` from setting `key`; an issue never quotes the value (it may be
    /// a credential).
    pub(crate) fn header(&mut self, key: &str, name: &str, value: &str) -> Result<(), ConfigIssue> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConfigIssue::new(key, format!("`{name}` is not a valid header name")))?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            ConfigIssue::new(key, "the value is not a valid header value")
                .hint("header values are one line of visible ASCII")
        })?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        Ok(())
    }

    /// Sends `Authorization: Bearer <token>`.
    pub(crate) fn bearer(&mut self, key: &str, token: &str) -> Result<(), ConfigIssue> {
        self.header(
            key,
            AUTHORIZATION.as_str(),
            &format!("Bearer {}", token.trim()),
        )
    }

    /// POSTs `body` as JSON and maps the answer (see the module doc). `now` is when the
    /// notification was made, the reference for a `Retry-After` given as a date. `what` names
    /// the channel in messages, e.g. `slack`.
    pub(crate) async fn post_json(
        &self,
        client: &Client,
        timeout: Duration,
        what: &str,
        body: &serde_json::Value,
        now: Timestamp,
    ) -> Result<String, DeliveryError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            DeliveryError::permanent(format!("{what}: could not encode the message: {e}"))
        })?;
        // The body is JSON whatever the settings say; a configured User-Agent wins over ours.
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(AGENT));
        let response = client
            .post(self.url.clone())
            .headers(headers)
            .timeout(timeout)
            .body(bytes)
            .send()
            .await
            .map_err(|e| self.transport_error(what, timeout, e))?;
        let status = response.status();
        let wait = retry_after(
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            now,
        );
        let text = read_bounded(response).await;
        if status.is_success() {
            return Ok(text);
        }
        let message = format!("{what}: {} answered {status}{}", self.host, excerpt(&text));
        if status.as_u16() == 429 || status.is_server_error() {
            Err(DeliveryError::retryable(message).after(wait))
        } else {
            Err(DeliveryError::permanent(message))
        }
    }

    fn transport_error(&self, what: &str, timeout: Duration, e: reqwest::Error) -> DeliveryError {
        let host = self.host();
        if e.is_timeout() {
            return DeliveryError::retryable(format!(
                "{what}: {host} did not answer within {timeout:?}"
            ));
        }
        // reqwest's own message starts with the URL, which may hold a token: describe the
        // innermost cause instead.
        let cause = innermost(&e.without_url());
        DeliveryError::retryable(format!("{what}: could not reach {host}: {cause}"))
    }
}

/// The answer's body, up to [`MAX_BODY_BYTES`]. A service that stops sending it halfway still
/// gave its status, which is what the decision rests on, so a broken body reads as what arrived.
async fn read_bounded(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The deepest `source()` of `e`: hyper and the OS say what actually went wrong.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// `: <first 200 chars of body>` on one line, or nothing for an empty body.
fn excerpt(body: &str) -> String {
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return String::new();
    }
    let mut cut: String = one_line.chars().take(BODY_EXCERPT_CHARS).collect();
    if one_line.chars().count() > BODY_EXCERPT_CHARS {
        cut.push('…');
    }
    format!(": {cut}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_and_only_their_host_is_shown() {
        let e = Endpoint::parse("url", "https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(e.host(), "hooks.slack.com");
        let e = Endpoint::parse("url", "http://127.0.0.1:8080/x?token=secret").unwrap();
        assert_eq!(e.host(), "127.0.0.1:8080");
        let issue = Endpoint::parse("url", "ftp://example.com/secret").unwrap_err();
        assert_eq!(issue.path, "url");
        assert!(!issue.to_string().contains("secret"), "{issue}");
        assert!(Endpoint::parse("url", "hooks.slack.com/services").is_err());
    }

    #[test]
    fn header_problems_never_quote_the_value() {
        let mut e = Endpoint::parse("url", "http://example.com").unwrap();
        let issue = e
            .header("headers.X", "X-Token", "line\nbreak-secret")
            .unwrap_err();
        assert!(!issue.to_string().contains("secret"), "{issue}");
        assert!(e.header("headers.bad name", "bad name", "v").is_err());
        assert!(e.header("headers.X-Token", "X-Token", "s3cret").is_ok());
    }

    #[test]
    fn excerpts_are_one_line_and_bounded() {
        assert_eq!(excerpt(""), "");
        assert_eq!(excerpt("no_text\n"), ": no_text");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 2 + BODY_EXCERPT_CHARS + 1);
    }
}
