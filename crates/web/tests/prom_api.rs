//! The query API called as a function with the requests Grafana's Prometheus data source sends,
//! over a backend that records what it was asked.

use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use model::query::{InstantSample, Point, RangeSeries, Value};
use model::{Clock, Labels, Timestamp};
use serde_json::{Value as Json, json};
use tower::ServiceExt;
use web::prom_api::{AlertView, QueryAnswer, QueryBackend, QueryError, RuleGroupView, router};

/// Answers from fixed data and remembers the last call.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl Recorder {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

fn up(instance: &str) -> Labels {
    Labels::new()
        .with("__name__", "up")
        .with("instance", instance)
}

impl QueryBackend for Recorder {
    fn instant(&self, query: &str, t: i64) -> Result<QueryAnswer, QueryError> {
        self.record(format!("instant {query} @{t}"));
        match query {
            "1+1" => Ok(Value::Scalar { t, v: 2.0 }.into()),
            "quantile(2, up)" => Ok(QueryAnswer {
                value: Value::Vector(Vec::new()),
                warnings: vec![
                    "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)".into(),
                ],
                infos: Vec::new(),
            }),
            "up" => Ok(Value::Vector(vec![InstantSample {
                labels: up("a:9100"),
                // The stored sample's own time: the answer must show the query time instead.
                t: t - 12_345,
                value: 1.0,
            }])
            .into()),
            "rate(x[5m]" => Err(QueryError::BadData(
                "invalid PromQL: unclosed left parenthesis".into(),
            )),
            _ => Err(QueryError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            )),
        }
    }

    fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryAnswer, QueryError> {
        self.record(format!("range {query} {start}..{end}/{step}"));
        let points = (start..=end)
            .step_by(step as usize)
            .map(|t| Point { t, v: 0.5 })
            .collect();
        Ok(Value::Matrix(vec![RangeSeries {
            labels: up("a:9100"),
            points,
            start_times: Vec::new(),
        }])
        .into())
    }

    fn series(
        &self,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, QueryError> {
        self.record(format!("series {selectors:?} {start}..{end}"));
        Ok(vec![up("a:9100"), up("b:9100")])
    }

    fn label_names(
        &self,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        self.record(format!("labels {selectors:?} {start}..{end}"));
        Ok(vec!["__name__".into(), "instance".into()])
    }

    fn label_values(
        &self,
        name: &str,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        self.record(format!("values {name} {selectors:?} {start}..{end}"));
        Err(QueryError::Unavailable("the store is closed".into()))
    }

    fn rule_groups(&self) -> Vec<RuleGroupView> {
        Vec::new()
    }

    fn alerts(&self) -> Vec<AlertView> {
        vec![AlertView {
            labels: [("alertname".to_string(), "Down".to_string())].into(),
            annotations: Default::default(),
            state: "firing",
            active_at: "2026-11-21T10:00:00Z".into(),
            value: "0".into(),
        }]
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(1_700_000_000_000)
    }
}

async fn call(backend: &Arc<Recorder>, request: Request<Body>) -> (StatusCode, Json) {
    let app = router(backend.clone(), Arc::new(FixedClock));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn form(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn instant_query_as_grafana_posts_it() {
    let backend = Arc::new(Recorder::default());
    let (status, body) = call(
        &backend,
        form("/api/v1/query", "query=up&time=1700000000.5"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "instance": "a:9100"}, "value": [1700000000.5, "1"]}
        ]}})
    );
    assert_eq!(
        backend.calls.lock().unwrap()[0],
        "instant up @1700000000500"
    );
}

#[tokio::test]
async fn instant_query_without_time_uses_the_clock_and_scalars_have_their_shape() {
    let backend = Arc::new(Recorder::default());
    let (status, body) = call(&backend, get("/api/v1/query?query=1%2B1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"],
        json!({"resultType": "scalar", "result": [1700000000, "2"]})
    );
}

#[tokio::test]
async fn range_query_with_rfc3339_times_and_duration_step() {
    let backend = Arc::new(Recorder::default());
    let uri =
        "/api/v1/query_range?query=up&start=2023-11-14T22:13:20Z&end=2023-11-14T22:14:20Z&step=30s";
    let (status, body) = call(&backend, get(uri)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["resultType"], "matrix");
    assert_eq!(
        body["data"]["result"][0]["values"],
        json!([
            [1700000000, "0.5"],
            [1700000030, "0.5"],
            [1700000060, "0.5"]
        ])
    );
    assert_eq!(
        backend.calls.lock().unwrap()[0],
        "range up 1700000000000..1700000060000/30000"
    );
}

#[tokio::test]
async fn range_query_parameters_are_checked_before_any_work() {
    let backend = Arc::new(Recorder::default());
    for (uri, needle) in [
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            "end timestamp must not be before start",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            "11,000 points",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            "zero or negative",
        ),
        (
            "/api/v1/query_range?query=up&start=soon&end=10&step=1",
            "invalid parameter \"start\"",
        ),
        (
            "/api/v1/query_range?start=0&end=10&step=1",
            "invalid parameter \"query\"",
        ),
    ] {
        let (status, body) = call(&backend, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["errorType"], "bad_data");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{uri}: {body}"
        );
    }
    assert!(backend.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn warnings_are_returned_beside_the_data_and_left_out_when_there_are_none() {
    let backend = Arc::new(Recorder::default());
    let (status, body) = call(&backend, get("/api/v1/query?query=quantile(2%2C%20up)")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["warnings"],
        json!(["PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)"])
    );
    assert!(body.get("infos").is_none(), "{body}");
    let (_, body) = call(&backend, get("/api/v1/query?query=up")).await;
    assert!(body.get("warnings").is_none(), "{body}");
}

#[tokio::test]
async fn errors_carry_prometheus_error_types_and_statuses() {
    let backend = Arc::new(Recorder::default());
    let (status, body) = call(&backend, get("/api/v1/query?query=rate(x%5B5m%5D")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");
    let (status, body) = call(&backend, get("/api/v1/query?query=x%2By")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errorType"], "execution");
    let (status, body) = call(&backend, get("/api/v1/label/job/values")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["errorType"], "unavailable");
}

#[tokio::test]
async fn series_labels_and_values_take_repeated_match_parameters() {
    let backend = Arc::new(Recorder::default());
    let (status, body) = call(
        &backend,
        form(
            "/api/v1/series",
            "match[]=up&match[]=process_start_time_seconds&start=1&end=2",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"][1],
        json!({"__name__": "up", "instance": "b:9100"})
    );
    let (_, body) = call(&backend, get("/api/v1/labels?start=1&end=2")).await;
    assert_eq!(body["data"], json!(["__name__", "instance"]));
    let calls = backend.calls.lock().unwrap().clone();
    assert_eq!(
        calls[0],
        "series [\"up\", \"process_start_time_seconds\"] 1000..2000"
    );
    assert_eq!(calls[1], "labels [] 1000..2000");
    let (status, body) = call(&backend, get("/api/v1/series")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("match[]"));
}

#[tokio::test]
async fn alerts_and_buildinfo_have_prometheus_shapes() {
    let backend = Arc::new(Recorder::default());
    let (_, body) = call(&backend, get("/api/v1/alerts")).await;
    assert_eq!(
        body["data"]["alerts"][0]["activeAt"],
        "2026-11-21T10:00:00Z"
    );
    assert_eq!(body["data"]["alerts"][0]["labels"]["alertname"], "Down");
    let (_, body) = call(&backend, get("/api/v1/rules")).await;
    assert_eq!(body["data"], json!({"groups": []}));
    let (status, body) = call(&backend, get("/api/v1/status/buildinfo")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["application"], "periscope");
}
