//! Who may do what over `serve`'s HTTP API: named bearer tokens, each with scopes.
//!
//! Three scopes cover every endpoint:
//! - `read`: queries, series and label lists, rules, alerts, silences and notification status;
//! - `push`: metric ingestion (`/api/v1/push`, `/api/v1/write`);
//! - `manage`: silences (create, expire) and acknowledgement through the JSON API.
//!
//! The signed acknowledge link (GET page and its form) needs no token: its signature is the
//! credential, and whoever holds the message may act on it from a phone.
//!
//! A token is sent as `Authorization: Bearer SECRET`, or as HTTP Basic with the secret as the
//! password (Grafana's and Prometheus' remote-write basic auth), the user name being ignored.
//! Without any token configured the API is open to whoever reaches it, as before; `anonymous`
//! grants scopes to requests without a token once tokens exist.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

/// One kind of access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Reading: queries and lists.
    Read,
    /// Sending metrics.
    Push,
    /// Changing the response side: silences, acknowledgements.
    Manage,
}

impl Scope {
    /// Every scope, in the order they are listed to users.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Push, Scope::Manage];

    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Push => "push",
            Scope::Manage => "manage",
        }
    }

    /// The scope named `name` in the config.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Push => 2,
            Scope::Manage => 4,
        }
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: what an API without tokens allows.
    pub fn all() -> Scopes {
        Scope::ALL.into_iter().collect()
    }

    /// Whether `scope` is in the set.
    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL
            .into_iter()
            .filter(|s| self.has(*s))
            .map(Scope::name)
            .collect();
        if names.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// A named token, its secret resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The name in the config (`[http.token.NAME]`), used in logs and refusals.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// The secret the client sends.
    pub secret: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("secret", &"<hidden>")
            .finish()
    }
}

/// The access policy of the HTTP API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// What a request without a token may do.
    pub anonymous: Scopes,
    /// The tokens.
    pub tokens: Vec<Token>,
}

impl Default for Access {
    /// Open: no token, everything allowed.
    fn default() -> Self {
        Access {
            anonymous: Scopes::all(),
            tokens: Vec::new(),
        }
    }
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials where they are needed, or a secret no token has: 401.
    Unauthenticated(String),
    /// A known token without the scope: 403.
    Forbidden(String),
}

impl Access {
    /// Whether every request is allowed (no token configured and nothing withheld).
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty() && self.anonymous == Scopes::all()
    }

    /// Decides a request needing `needed`, given its `Authorization` header value.
    /// On success, the name of the token used (None without one).
    pub fn decide(
        &self,
        needed: Scope,
        authorization: Option<&str>,
    ) -> Result<Option<&str>, Refusal> {
        let Some(secret) = authorization.map(presented_secret) else {
            if self.anonymous.has(needed) {
                return Ok(None);
            }
            return Err(Refusal::Unauthenticated(format!(
                "this needs a token with the `{}` scope: send `Authorization: Bearer TOKEN`",
                needed.name()
            )));
        };
        let Some(secret) = secret else {
            return Err(Refusal::Unauthenticated(
                "the Authorization header is neither `Bearer TOKEN` nor HTTP Basic".into(),
            ));
        };
        // Every token is compared, whatever matched, so the time taken does not tell which.
        let mut found = None;
        for token in &self.tokens {
            if same_secret(token.secret.as_bytes(), secret.as_bytes()) {
                found = Some(token);
            }
        }
        let Some(token) = found else {
            return Err(Refusal::Unauthenticated(
                "the token is not one this server knows".into(),
            ));
        };
        if token.scopes.has(needed) {
            Ok(Some(&token.name))
        } else {
            Err(Refusal::Forbidden(format!(
                "token `{}` may do {} but not `{}`: add \"{}\" to http.token.{}.scopes",
                token.name,
                token.scopes,
                needed.name(),
                needed.name(),
                token.name
            )))
        }
    }
}

/// The secret in an `Authorization` value: Bearer, or the password of Basic. None when the
/// value is neither.
fn presented_secret(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_user, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn same_secret(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The scope a request needs, or None for the signed acknowledge link, which carries its own
/// credential.
pub fn needed_scope(method: &Method, path: &str, headers: &HeaderMap) -> Option<Scope> {
    if path == notify::ack::ACK_PATH {
        // The page and its form carry the signature; anything else posted there reaches the
        // JSON API, which acknowledges without one. The handler tells them apart by the same
        // test, so no content type slips between the two.
        let signed = method != Method::POST || crate::notify_api::is_form(headers);
        return (!signed).then_some(Scope::Manage);
    }
    match path {
        "/api/v1/push" | "/api/v1/write" => return Some(Scope::Push),
        "/api/v1/silences" if method == Method::POST => return Some(Scope::Manage),
        _ => {}
    }
    if path.starts_with("/api/v1/silence/") && method != Method::GET {
        return Some(Scope::Manage);
    }
    // Everything else reads, including the query API's POST forms (Grafana posts queries).
    Some(Scope::Read)
}

/// The middleware: refuses what `access` does not allow, with a JSON body saying why.
pub async fn enforce(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let Some(needed) = needed_scope(request.method(), request.uri().path(), request.headers())
    else {
        return next.run(request).await;
    };
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    match access.decide(needed, authorization) {
        Ok(_) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(
                method = %request.method(),
                path = request.uri().path(),
                scope = needed.name(),
                reason = ?refusal,
                "HTTP request refused"
            );
            refusal.into_response()
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, kind, message) = match self {
            Refusal::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m),
            Refusal::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m),
        };
        let body = json!({ "status": "error", "errorType": kind, "error": message });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"periscope\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests;
