//! The HTTP push receiver: applications, Prometheus (remote-write), Grafana Alloy or Vector send
//! metrics to `serve`, which answers only once they are durable.
//!
//! The receiver knows HTTP (routes, content types, body limits, status codes) and nothing of
//! parsing or storage: it hands each body to a [`model::PayloadSink`] and maps the sink's answer
//! to a status. The one decision behind it: a request is all-or-nothing and acknowledged only
//! after the sink's commit, so a `2xx` always means "stored and synced", a `4xx` "fix the
//! request, nothing was stored" and a `503` "nothing was stored, send it again later".
//!
//! Routes (documented for users in `docs/format/http-push.md`):
//! - `POST /api/v1/push`: body format from `Content-Type` (`application/json` for the JSON batch
//!   format, `text/plain` for the Prometheus text exposition, `application/openmetrics-text`).
//! - `POST /api/v1/write`: Prometheus remote-write 1.0 (`application/x-protobuf`, `snappy`).

mod response;
mod stats;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use model::{IngestError, Payload, PayloadFormat, PayloadSink};

pub use stats::PushStats;

use response::{accepted, problem};

/// Default largest request body: big enough for a remote-write batch of many thousands of
/// samples or a large exposition, small enough that one client cannot exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How the receiver is set up.
#[derive(Clone, Debug)]
pub struct PushLimits {
    /// Largest accepted body, in bytes (after decompression is the sink's concern).
    pub max_body_bytes: usize,
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[derive(Clone)]
struct Receiver {
    sink: Arc<dyn PayloadSink>,
    limits: PushLimits,
    stats: Arc<PushStats>,
}

/// The push routes, delivering into `sink`. Mount it in the server's router.
pub fn router(sink: Arc<dyn PayloadSink>, limits: PushLimits, stats: Arc<PushStats>) -> Router {
    let receiver = Receiver {
        sink,
        limits,
        stats,
    };
    Router::new()
        .route("/api/v1/push", post(push))
        .route("/api/v1/write", post(remote_write))
        .with_state(receiver)
}

async fn push(State(receiver): State<Receiver>, request: Request) -> Response {
    let format = match push_format(request.headers()) {
        Ok(f) => f,
        Err(message) => return receiver.refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, message),
    };
    receiver.receive(format, "/api/v1/push", request).await
}

async fn remote_write(State(receiver): State<Receiver>, request: Request) -> Response {
    if let Err(message) = check_remote_write_headers(request.headers()) {
        return receiver.refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
    }
    let response = receiver
        .receive(PayloadFormat::RemoteWrite, "/api/v1/write", request)
        .await;
    // Remote-write senders expect 204 on success, with no body.
    if response.status() == StatusCode::OK {
        return Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .unwrap_or(response);
    }
    response
}

impl Receiver {
    async fn receive(&self, format: PayloadFormat, route: &str, request: Request) -> Response {
        let limit = self.limits.max_body_bytes;
        let declared = content_length(request.headers());
        if let Some(length) = declared
            && length > DRAIN_LIMIT
        {
            // Too large even to read and discard: answer now; the connection closes.
            return self.refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large(length, limit));
        }
        let body = match read_body(request.into_body(), limit).await {
            Ok(b) => b,
            Err(BodyError::TooLarge(seen)) => {
                return self.refuse(StatusCode::PAYLOAD_TOO_LARGE, too_large(seen, limit));
            }
            Err(BodyError::Read(e)) => {
                return self.refuse(
                    StatusCode::BAD_REQUEST,
                    format!("the request body could not be read: {e}"),
                );
            }
        };
        let payload = Payload {
            body,
            format,
            origin: format!("http {route}"),
        };
        match self.sink.ingest(payload).await {
            Ok(receipt) => {
                self.stats.accepted(receipt.samples);
                accepted(receipt.samples)
            }
            Err(IngestError::Poison(message)) => self.refuse(
                StatusCode::BAD_REQUEST,
                format!("nothing stored: {message}"),
            ),
            Err(IngestError::Unavailable(message)) => {
                self.stats.unavailable();
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("nothing stored, retry later: {message}"),
                )
            }
        }
    }

    fn refuse(&self, status: StatusCode, message: String) -> Response {
        self.stats.refused();
        tracing::debug!(status = status.as_u16(), error = %message, "push request refused");
        problem(status, message)
    }
}

/// Largest body read (and thrown away) past the limit so the client hears the 413: a client
/// that is still sending when the server answers sees a broken connection instead.
const DRAIN_LIMIT: u64 = 256 * 1024 * 1024;

enum BodyError {
    /// More than the limit; carries how many bytes were seen (at least).
    TooLarge(u64),
    /// The client's stream broke.
    Read(String),
}

/// Reads the body, keeping at most `limit` bytes; past it, reads on (up to [`DRAIN_LIMIT`])
/// without keeping anything, so the answer reaches a client that sends the whole body first.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        seen += chunk.len() as u64;
        if seen > DRAIN_LIMIT {
            return Err(BodyError::TooLarge(seen));
        }
        if seen <= limit as u64 {
            kept.extend_from_slice(&chunk);
        } else if !kept.is_empty() {
            kept = Vec::new();
        }
    }
    if seen > limit as u64 {
        return Err(BodyError::TooLarge(seen));
    }
    Ok(kept)
}

fn too_large(length: u64, limit: usize) -> String {
    format!("request body is {length} bytes, more than the {limit}-byte limit (http.max_body)")
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The media type of a header without its parameters, lower-cased: `text/plain; version=0.0.4`
/// gives `text/plain`.
fn media_type(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn push_format(headers: &HeaderMap) -> Result<PayloadFormat, String> {
    match media_type(headers, header::CONTENT_TYPE).as_deref() {
        Some("application/json") => Ok(PayloadFormat::Json),
        Some("text/plain") => Ok(PayloadFormat::PrometheusText),
        Some("application/openmetrics-text") => Ok(PayloadFormat::OpenMetrics),
        Some(other) => Err(format!(
            "Content-Type {other:?} is not accepted here; use application/json (JSON batch), \
             text/plain (Prometheus text) or application/openmetrics-text"
        )),
        None => Err(
            "Content-Type is missing; use application/json (JSON batch), \
             text/plain (Prometheus text) or application/openmetrics-text"
                .to_string(),
        ),
    }
}

fn check_remote_write_headers(headers: &HeaderMap) -> Result<(), String> {
    match media_type(headers, header::CONTENT_TYPE).as_deref() {
        Some("application/x-protobuf") => {}
        Some(other) => {
            return Err(format!(
                "Content-Type {other:?} is not remote-write; expected application/x-protobuf"
            ));
        }
        None => return Err("Content-Type is missing; expected application/x-protobuf".into()),
    }
    match media_type(headers, header::CONTENT_ENCODING).as_deref() {
        Some("snappy") => Ok(()),
        Some(other) => Err(format!(
            "Content-Encoding {other:?} is not supported; remote-write bodies are snappy-compressed"
        )),
        None => {
            Err("Content-Encoding is missing; remote-write bodies are snappy-compressed".into())
        }
    }
}
