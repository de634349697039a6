//! The receiver's answers, in the JSON shape of the Prometheus HTTP API (`status`, `error`), so
//! clients that already read Prometheus errors read ours.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `200` with how many samples were stored.
pub fn accepted(samples: u64) -> Response {
    (
        StatusCode::OK,
        Json(json!({"status": "success", "data": {"samples": samples}})),
    )
        .into_response()
}

/// An error answer. A `503` says when to come back, so well-behaved senders back off.
pub fn problem(status: StatusCode, message: String) -> Response {
    let error_type = match status {
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_data",
    };
    let mut response = (
        status,
        Json(json!({"status": "error", "errorType": error_type, "error": message})),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}
