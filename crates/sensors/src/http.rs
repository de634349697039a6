//! The `http` monitor: one HTTP(S) request checked for status, body, latency and certificate.
//!
//! A failed connection, a TLS failure or no answer within the timeout is CRITICAL, not UNKNOWN:
//! the service being unreachable is exactly what the check is for (the plugin guidelines call
//! socket timeouts "higher-level errors" that should not be UNKNOWN). The certificate's expiry is
//! read from the peer certificate reqwest hands over ([`der`] reads its dates), and measured
//! against the check's `now`, so tests can place themselves anywhere in a certificate's life.
//!
//! Every check opens a fresh connection (no pooling): a reused connection would hide the
//! connect and handshake time, and a handshake failure, from the very check meant to see them.
//! Proxy variables are ignored for the same reason: the check measures the target itself.
//!
//! ```toml
//! [monitors.portal]
//! kind = "http"
//! url = "https://portal.example.com/health"
//! expect_status = [200, "3xx"]
//! body_contains = "\"status\":\"up\""
//! latency_warning = "500ms"
//! latency_critical = "2s"
//! tls_cert_warning_days = 21
//! tls_cert_critical_days = 7
//!
//! [monitors.partner-api]
//! kind = "http"
//! url = "https://10.1.2.3:8443/api/ping"
//! method = "POST"
//! headers = { Content-Type = "application/json", Authorization = "Bearer ..." }
//! body = '{"ping": true}'
//! body_regex = '"pong":\s*true'
//! ca_file = "certs/partner-ca.pem"
//! ```

mod check;
pub mod der;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use model::{BoxFuture, CheckContext, ConfigIssue, Monitor, MonitorError, Observation};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;

use crate::BuildContext;

pub use check::{CERT_EXPIRY_METRIC, DURATION_METRIC, STATUS_CODE_METRIC, UP_METRIC};

/// At most this much of a response body is read for matching (the rest is not downloaded).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default `tls_cert_warning_days`: three weeks, time for a renewal to go through.
pub const DEFAULT_CERT_WARNING_DAYS: u32 = 21;
/// Default `tls_cert_critical_days`: one week.
pub const DEFAULT_CERT_CRITICAL_DAYS: u32 = 7;

/// Settings of an `http` monitor (the keys of its table besides the common ones).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// The URL to request, `http://` or `https://`. Required.
    pub url: String,
    /// `GET` (the default), `HEAD` or `POST`.
    pub method: Option<String>,
    /// Request headers, e.g. `{ Authorization = "Bearer ..." }`.
    pub headers: BTreeMap<String, String>,
    /// Request body; only with `method = "POST"`.
    pub body: Option<String>,
    /// Accepted status codes: a code (`200`), a range (`"200-299"`), a class (`"2xx"`), or a list
    /// of those. Default: 200-399 (redirects are answers too unless `follow_redirects` is set).
    pub expect_status: Option<OneOrMany>,
    /// Text the body must contain (case-sensitive).
    pub body_contains: Option<String>,
    /// Regular expression the body must match (Rust `regex` syntax).
    pub body_regex: Option<String>,
    /// WARNING when the response takes longer than this, e.g. `"500ms"`.
    pub latency_warning: Option<jiff::SignedDuration>,
    /// CRITICAL when the response takes longer than this, e.g. `"2s"`.
    pub latency_critical: Option<jiff::SignedDuration>,
    /// WARNING when the server certificate expires in fewer days than this. Default 21.
    pub tls_cert_warning_days: u32,
    /// CRITICAL when the server certificate expires in fewer days than this. Default 7.
    pub tls_cert_critical_days: u32,
    /// Verify the server certificate (chain, name, dates). Default true. When false the
    /// certificate's expiry is still checked.
    pub tls_verify: bool,
    /// PEM file with the CA certificates to trust instead of the system's, e.g. a private CA;
    /// relative to the config file's directory.
    pub ca_file: Option<PathBuf>,
    /// Follow redirects (up to 10) and judge the final response. Default false.
    pub follow_redirects: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            url: String::new(),
            method: None,
            headers: BTreeMap::new(),
            body: None,
            expect_status: None,
            body_contains: None,
            body_regex: None,
            latency_warning: None,
            latency_critical: None,
            tls_cert_warning_days: DEFAULT_CERT_WARNING_DAYS,
            tls_cert_critical_days: DEFAULT_CERT_CRITICAL_DAYS,
            tls_verify: true,
            ca_file: None,
            follow_redirects: false,
        }
    }
}

/// One status expectation or a list of them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single code, range or class.
    One(StatusItem),
    /// Several.
    Many(Vec<StatusItem>),
}

/// A status code (`200`) or a text form (`"200-299"`, `"2xx"`, `"204"`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum StatusItem {
    /// A code.
    Code(i64),
    /// A range or class.
    Text(String),
}

/// A built `http` monitor.
#[derive(Debug)]
pub struct HttpMonitor {
    name: String,
    client: reqwest::Client,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<String>,
    expect: Vec<(u16, u16)>,
    body_contains: Option<String>,
    body_regex: Option<regex::Regex>,
    latency_warning: Option<Duration>,
    latency_critical: Option<Duration>,
    cert_warning_days: u32,
    cert_critical_days: u32,
    timeout: Duration,
}

impl HttpSettings {
    /// A settings value for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        HttpSettings {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Checks every setting and builds the monitor, or returns every problem found.
    pub fn build(self, name: &str, ctx: &BuildContext) -> Result<HttpMonitor, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let url = check_url(&self.url, &mut issues);
        let method = match self
            .method
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("GET") => Method::GET,
            Some("HEAD") => Method::HEAD,
            Some("POST") => Method::POST,
            Some(other) => {
                issues.push(
                    ConfigIssue::new("method", format!("unsupported method `{other}`"))
                        .hint("use GET, HEAD or POST"),
                );
                Method::GET
            }
        };
        if self.body.is_some() && method != Method::POST {
            issues.push(
                ConfigIssue::new("body", format!("a request body with method {method}"))
                    .hint("set method = \"POST\""),
            );
        }
        if method == Method::HEAD {
            for (key, set) in [
                ("body_contains", self.body_contains.is_some()),
                ("body_regex", self.body_regex.is_some()),
            ] {
                if set {
                    issues.push(
                        ConfigIssue::new(key, "HEAD responses have no body to match")
                            .hint("use method = \"GET\""),
                    );
                }
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let path = format!("headers.{name}");
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => {
                    headers.append(n, v);
                }
                (Err(_), _) => issues.push(ConfigIssue::new(
                    path,
                    format!("invalid header name `{name}`"),
                )),
                (_, Err(_)) => issues.push(
                    ConfigIssue::new(path, "invalid header value")
                        .hint("header values are visible ASCII, no line breaks"),
                ),
            }
        }
        let expect = match &self.expect_status {
            None => vec![(200, 399)],
            Some(spec) => parse_expect(spec, &mut issues),
        };
        if self.body_contains.as_deref() == Some("") {
            issues.push(ConfigIssue::new(
                "body_contains",
                "empty text matches every body",
            ));
        }
        let body_regex = self
            .body_regex
            .as_deref()
            .and_then(|re| match regex::Regex::new(re) {
                Ok(re) => Some(re),
                Err(e) => {
                    issues.push(ConfigIssue::new(
                        "body_regex",
                        format!("invalid regex: {e}"),
                    ));
                    None
                }
            });
        let latency_warning = positive(self.latency_warning, "latency_warning", &mut issues);
        let latency_critical = positive(self.latency_critical, "latency_critical", &mut issues);
        if let (Some(w), Some(c)) = (latency_warning, latency_critical)
            && w >= c
        {
            issues.push(ConfigIssue::new(
                "latency_warning",
                format!(
                    "latency_warning ({}) is not below latency_critical ({})",
                    fmt_duration(w),
                    fmt_duration(c)
                ),
            ));
        }
        if self.tls_cert_warning_days < self.tls_cert_critical_days {
            issues.push(ConfigIssue::new(
                "tls_cert_warning_days",
                format!(
                    "tls_cert_warning_days ({}) is below tls_cert_critical_days ({})",
                    self.tls_cert_warning_days, self.tls_cert_critical_days
                ),
            ));
        }
        let client = self.client(ctx, &mut issues);

        match (url, client) {
            (Some(url), Some(client)) if issues.is_empty() => Ok(HttpMonitor {
                name: name.to_string(),
                client,
                method,
                url,
                headers,
                body: self.body,
                expect,
                body_contains: self.body_contains,
                body_regex,
                latency_warning,
                latency_critical,
                cert_warning_days: self.tls_cert_warning_days,
                cert_critical_days: self.tls_cert_critical_days,
                timeout: ctx.timeout,
            }),
            _ => Err(issues),
        }
    }

    /// The HTTP client for these settings (TLS trust, redirects), built once per monitor.
    fn client(&self, ctx: &BuildContext, issues: &mut Vec<ConfigIssue>) -> Option<reqwest::Client> {
        let redirect = if self.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder = reqwest::Client::builder()
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .no_proxy()
            .redirect(redirect)
            .user_agent(concat!("periscope/", env!("CARGO_PKG_VERSION")));
        if !self.tls_verify {
            if self.ca_file.is_some() {
                issues.push(
                    ConfigIssue::new(
                        "ca_file",
                        "ca_file is set but tls_verify = false, so it would not be used",
                    )
                    .hint("remove one of them"),
                );
            }
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(file) = &self.ca_file {
            let path = ctx.base_dir.join(file);
            let certs = std::fs::read(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|pem| {
                    reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                        format!("{} is not a PEM certificate bundle: {e}", path.display())
                    })
                })
                .and_then(|certs| {
                    if certs.is_empty() {
                        Err(format!("{} holds no PEM certificate", path.display()))
                    } else {
                        Ok(certs)
                    }
                });
            match certs {
                Ok(certs) => builder = builder.tls_certs_only(certs),
                Err(message) => issues.push(ConfigIssue::new("ca_file", message)),
            }
        }
        match builder.build() {
            Ok(client) => Some(client),
            Err(e) => {
                issues.push(ConfigIssue::new(
                    "url",
                    format!(
                        "cannot set up the HTTP client: {}",
                        check::error_chain(&e).join(": ")
                    ),
                ));
                None
            }
        }
    }
}

fn check_url(text: &str, issues: &mut Vec<ConfigIssue>) -> Option<Url> {
    if text.is_empty() {
        issues.push(
            ConfigIssue::new("url", "missing").hint("e.g. url = \"https://example.com/health\""),
        );
        return None;
    }
    match Url::parse(text) {
        Err(e) => {
            issues.push(ConfigIssue::new(
                "url",
                format!("invalid URL `{text}`: {e}"),
            ));
            None
        }
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            issues.push(
                ConfigIssue::new(
                    "url",
                    format!("unsupported scheme `{}` in `{text}`", url.scheme()),
                )
                .hint("use http:// or https://"),
            );
            None
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            issues.push(ConfigIssue::new("url", format!("no host in `{text}`")));
            None
        }
        Ok(url) => Some(url),
    }
}

fn parse_expect(spec: &OneOrMany, issues: &mut Vec<ConfigIssue>) -> Vec<(u16, u16)> {
    let (items, listed) = match spec {
        OneOrMany::One(item) => (std::slice::from_ref(item), false),
        OneOrMany::Many(items) => (items.as_slice(), true),
    };
    if items.is_empty() {
        issues.push(
            ConfigIssue::new("expect_status", "empty list accepts no status")
                .hint("e.g. expect_status = [200, 204]"),
        );
    }
    let mut ranges = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = if listed {
            format!("expect_status.{i}")
        } else {
            "expect_status".to_string()
        };
        match status_range(item) {
            Ok(range) => ranges.push(range),
            Err(message) => {
                issues.push(ConfigIssue::new(path, message).hint(
                    "a code (200), a range (\"200-299\") or a class (\"2xx\"), from 100 to 599",
                ))
            }
        }
    }
    ranges
}

fn status_range(item: &StatusItem) -> Result<(u16, u16), String> {
    let code = |v: i64| u16::try_from(v).ok().filter(|c| (100..=599).contains(c));
    let text_code = |s: &str| s.trim().parse::<i64>().ok().and_then(code);
    match item {
        StatusItem::Code(v) => code(*v)
            .map(|c| (c, c))
            .ok_or_else(|| format!("{v} is not an HTTP status code")),
        StatusItem::Text(t) => {
            let lower = t.trim().to_ascii_lowercase();
            if let Some(class) = lower.strip_suffix("xx").and_then(text_code_class) {
                return Ok((class * 100, class * 100 + 99));
            }
            if let Some((a, b)) = lower.split_once('-') {
                return match (text_code(a), text_code(b)) {
                    (Some(a), Some(b)) if a <= b => Ok((a, b)),
                    (Some(_), Some(_)) => Err(format!("range `{t}` runs backwards")),
                    _ => Err(format!("`{t}` is not a range of HTTP status codes")),
                };
            }
            text_code(&lower)
                .map(|c| (c, c))
                .ok_or_else(|| format!("`{t}` is not an HTTP status code"))
        }
    }
}

fn text_code_class(digit: &str) -> Option<u16> {
    digit.parse::<u16>().ok().filter(|d| (1..=5).contains(d))
}

fn positive(
    d: Option<jiff::SignedDuration>,
    key: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Duration> {
    let d = d?;
    match Duration::try_from(d) {
        Ok(std) if !std.is_zero() => Some(std),
        _ => {
            issues.push(ConfigIssue::new(
                key,
                format!("must be above zero, got {d:#}"),
            ));
            None
        }
    }
}

/// A duration as the config writes it: `500ms`, `2s`, `1m 30s`.
fn fmt_duration(d: Duration) -> String {
    match jiff::SignedDuration::try_from(d) {
        Ok(sd) => format!("{sd:#}"),
        Err(_) => format!("{d:?}"),
    }
}

/// The accepted statuses as people write them: `200-399`, `200, 204`.
fn fmt_expect(expect: &[(u16, u16)]) -> String {
    let parts: Vec<String> = expect
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    parts.join(", ")
}

impl HttpMonitor {
    /// The URL this monitor requests.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl Monitor for HttpMonitor {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "http"
    }

    fn check(&self, ctx: CheckContext) -> BoxFuture<'_, Result<Observation, MonitorError>> {
        Box::pin(check::check(self, ctx.now))
    }
}

#[cfg(test)]
mod tests;
