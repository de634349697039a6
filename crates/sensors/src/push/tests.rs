//! The receiver called as a function: status codes, content types and limits, with a sink that
//! records what reaches it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use model::{BoxFuture, IngestReceipt};
use tower::ServiceExt;

use super::*;

/// Stores every payload; bodies starting with `bad` are poison; `down` makes it unavailable.
#[derive(Default)]
struct RecordingSink {
    payloads: Mutex<Vec<Payload>>,
    down: AtomicBool,
}

impl PayloadSink for RecordingSink {
    fn ingest(&self, payload: Payload) -> BoxFuture<'_, Result<IngestReceipt, IngestError>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(IngestError::Unavailable("disk full".into()));
            }
            if payload.body.starts_with(b"bad") {
                return Err(IngestError::Poison("line 1: not a metric".into()));
            }
            self.payloads.lock().unwrap().push(payload);
            Ok(IngestReceipt { samples: 3 })
        })
    }
}

fn app(sink: &Arc<RecordingSink>, max_body_bytes: usize) -> Router {
    router(
        Arc::clone(sink) as Arc<dyn PayloadSink>,
        PushLimits { max_body_bytes },
        Arc::new(PushStats::default()),
    )
}

fn post_to(path: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::builder().method("POST").uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body.into()).unwrap()
}

async fn answer(app: Router, request: Request<Body>) -> (StatusCode, HeaderMap, serde_json::Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, json)
}

#[tokio::test]
async fn content_type_picks_the_format() {
    let sink = Arc::new(RecordingSink::default());
    for (content_type, format) in [
        ("application/json", PayloadFormat::Json),
        (
            "text/plain; version=0.0.4; charset=utf-8",
            PayloadFormat::PrometheusText,
        ),
        (
            "application/openmetrics-text; version=1.0.0",
            PayloadFormat::OpenMetrics,
        ),
    ] {
        let request = post_to("/api/v1/push", &[("content-type", content_type)], "up 1\n");
        let (status, _, json) = answer(app(&sink, 1024), request).await;
        assert_eq!(status, StatusCode::OK, "{content_type}: {json}");
        assert_eq!(json["data"]["samples"], 3);
        assert_eq!(sink.payloads.lock().unwrap().last().unwrap().format, format);
    }
}

#[tokio::test]
async fn missing_or_unknown_content_type_is_415_and_reaches_nobody() {
    let sink = Arc::new(RecordingSink::default());
    let (status, _, json) = answer(app(&sink, 1024), post_to("/api/v1/push", &[], "up 1")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("Content-Type is missing")
    );
    let request = post_to(
        "/api/v1/push",
        &[("content-type", "application/xml")],
        "<a/>",
    );
    let (status, _, json) = answer(app(&sink, 1024), request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json["error"].as_str().unwrap().contains("application/xml"));
    assert!(sink.payloads.lock().unwrap().is_empty());
}

#[tokio::test]
async fn remote_write_needs_protobuf_and_snappy_and_answers_204() {
    let sink = Arc::new(RecordingSink::default());
    let request = post_to(
        "/api/v1/write",
        &[("content-type", "application/x-protobuf")],
        "x",
    );
    let (status, _, json) = answer(app(&sink, 1024), request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json["error"].as_str().unwrap().contains("snappy"));
    let request = post_to(
        "/api/v1/write",
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "snappy"),
            ("x-prometheus-remote-write-version", "0.1.0"),
        ],
        "x",
    );
    let (status, _, json) = answer(app(&sink, 1024), request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(json, serde_json::Value::Null);
    let payloads = sink.payloads.lock().unwrap();
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0].format, PayloadFormat::RemoteWrite);
}

#[tokio::test]
async fn poison_is_400_with_the_reason() {
    let sink = Arc::new(RecordingSink::default());
    let request = post_to(
        "/api/v1/push",
        &[("content-type", "text/plain")],
        "bad line",
    );
    let (status, _, json) = answer(app(&sink, 1024), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["status"], "error");
    assert_eq!(json["error"], "nothing stored: line 1: not a metric");
}

#[tokio::test]
async fn store_down_is_503_with_retry_after() {
    let sink = Arc::new(RecordingSink::default());
    sink.down.store(true, Ordering::SeqCst);
    let request = post_to("/api/v1/push", &[("content-type", "text/plain")], "up 1");
    let (status, headers, json) = answer(app(&sink, 1024), request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers.get("retry-after").unwrap(), "5");
    assert!(json["error"].as_str().unwrap().contains("disk full"));
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    let sink = Arc::new(RecordingSink::default());
    let big = "x".repeat(2000);
    let declared = post_to(
        "/api/v1/push",
        &[("content-type", "text/plain"), ("content-length", "2000")],
        big.clone(),
    );
    let (status, _, json) = answer(app(&sink, 1000), declared).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json["error"].as_str().unwrap().contains("2000 bytes"));
    // No Content-Length: the limit still holds while reading.
    let chunks = futures_stream(big);
    let streamed = post_to("/api/v1/push", &[("content-type", "text/plain")], chunks);
    let (status, _, _) = answer(app(&sink, 1000), streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(sink.payloads.lock().unwrap().is_empty());
}

/// A body without a declared length, as a chunked upload arrives.
fn futures_stream(text: String) -> Body {
    let chunks: Vec<Result<String, std::io::Error>> = text
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}
