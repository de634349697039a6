//! Prometheus' response envelope (`{"status": "success", "data": ...}` or an error with its
//! `errorType`) and the encoding of query results.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::Labels;
use model::query::Value;
use serde::Serialize;
use serde_json::{Map, Value as Json_};

use super::QueryError;

/// `{"status":"success","data":data}` with 200.
pub(super) fn success(data: impl Serialize) -> Response {
    success_noted(data, Vec::new(), Vec::new())
}

/// A success with the query's warnings and infos, each key present only when not empty (as
/// Prometheus answers).
pub(super) fn success_noted(
    data: impl Serialize,
    warnings: Vec<String>,
    infos: Vec<String>,
) -> Response {
    let mut body = serde_json::json!({ "status": "success", "data": data });
    if !warnings.is_empty() {
        body["warnings"] = warnings.into();
    }
    if !infos.is_empty() {
        body["infos"] = infos.into();
    }
    Json(body).into_response()
}

/// An error answer: Prometheus' `errorType` and the HTTP status that goes with it.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    /// 400 `bad_data`: the request is wrong.
    pub(super) fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error_type: "bad_data",
            message: message.into(),
        }
    }

    /// 500 `internal`: our fault; the message says what stopped, never internals.
    pub(super) fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "internal",
            message: message.into(),
        }
    }

    pub(super) fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.error_type,
            "error": self.message,
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::BadData(message) => ApiError::bad_data(message),
            QueryError::Execution(message) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                error_type: "execution",
                message,
            },
            QueryError::Unavailable(message) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error_type: "unavailable",
                message,
            },
        }
    }
}

/// A label set as a JSON object.
pub(super) fn labels_object(labels: &Labels) -> Map<String, Json_> {
    labels
        .iter()
        .map(|(n, v)| (n.to_string(), Json_::String(v.to_string())))
        .collect()
}

/// Milliseconds as Prometheus writes them: seconds, with a fraction only when there is one.
fn seconds(t: i64) -> Json_ {
    if t % 1000 == 0 {
        Json_::from(t / 1000)
    } else {
        serde_json::Number::from_f64(t as f64 / 1000.0).map_or(Json_::Null, Json_::Number)
    }
}

/// A sample value as Prometheus writes it: a string, shortest form, `+Inf`, `-Inf`, `NaN`.
pub(super) fn sample_value(v: f64) -> Json_ {
    let text = if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        v.to_string()
    };
    Json_::String(text)
}

fn point(t: i64, v: Json_) -> Json_ {
    Json_::Array(vec![seconds(t), v])
}

/// The `data` of a query answer: `resultType` and `result`.
pub(super) struct QueryData(Json_);

impl From<Value> for QueryData {
    fn from(value: Value) -> Self {
        let (kind, result) = match value {
            Value::Scalar { t, v } => ("scalar", point(t, sample_value(v))),
            Value::String { t, v } => ("string", point(t, Json_::String(v))),
            Value::Vector(vector) => (
                "vector",
                Json_::Array(
                    vector
                        .iter()
                        .map(|s| {
                            serde_json::json!({
                                "metric": labels_object(&s.labels),
                                "value": point(s.t, sample_value(s.value)),
                            })
                        })
                        .collect(),
                ),
            ),
            Value::Matrix(matrix) => (
                "matrix",
                Json_::Array(
                    matrix
                        .iter()
                        .map(|series| {
                            let values: Vec<Json_> = series
                                .points
                                .iter()
                                .map(|p| point(p.t, sample_value(p.v)))
                                .collect();
                            serde_json::json!({
                                "metric": labels_object(&series.labels),
                                "values": values,
                            })
                        })
                        .collect(),
                ),
            ),
        };
        QueryData(serde_json::json!({ "resultType": kind, "result": result }))
    }
}

impl Serialize for QueryData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_times_are_written_as_prometheus_writes_them() {
        assert_eq!(sample_value(1.0), Json_::from("1"));
        assert_eq!(sample_value(0.1), Json_::from("0.1"));
        assert_eq!(sample_value(1e21), Json_::from("1000000000000000000000"));
        assert_eq!(sample_value(f64::INFINITY), Json_::from("+Inf"));
        assert_eq!(sample_value(f64::NEG_INFINITY), Json_::from("-Inf"));
        assert_eq!(sample_value(f64::NAN), Json_::from("NaN"));
        assert_eq!(seconds(1_435_781_451_781).to_string(), "1435781451.781");
        assert_eq!(seconds(1_435_781_451_000).to_string(), "1435781451");
    }
}
