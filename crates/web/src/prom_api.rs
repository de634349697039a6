//! The Prometheus HTTP API (`/api/v1/...`) with Prometheus' JSON shapes and error types.
//!
//! Every endpoint accepts its parameters in the query string (GET) or a form body (POST), as
//! Prometheus does; Grafana sends POST forms by default. Queries run on the blocking pool: an
//! evaluation is CPU work and must not stall the runtime's other connections.

mod params;
mod response;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use model::query::Value;
use model::{Clock, Labels};

pub use views::{AlertView, RuleGroupView, RuleView};

use params::Params;
use response::{ApiError, success};

/// Most points one series of a range query may have (Prometheus' limit, same message).
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Why the backend could not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The request is wrong: bad PromQL, a bad selector. Answered with 400 `bad_data`.
    BadData(String),
    /// A valid query that failed while running (wrong types, limits). 422 `execution`.
    Execution(String),
    /// The store cannot be read right now; a retry may help. 503 `unavailable`.
    Unavailable(String),
}

/// A query's result and what the evaluator said about it (Prometheus' annotations, rendered).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryAnswer {
    /// The result.
    pub value: Value,
    /// Warnings: the result may not be what was meant (`PromQL warning: ...`).
    pub warnings: Vec<String>,
    /// Infos: worth knowing (`PromQL info: ...`).
    pub infos: Vec<String>,
}

impl From<Value> for QueryAnswer {
    fn from(value: Value) -> Self {
        QueryAnswer {
            value,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }
}

/// What the API needs from the rest of Periscope. Implemented by the binary over the store and
/// the rule engine; every method is synchronous and is called on the blocking pool.
/// Times are milliseconds since the Unix epoch.
pub trait QueryBackend: Send + Sync + 'static {
    /// Evaluates `query` at `t`.
    fn instant(&self, query: &str, t: i64) -> Result<QueryAnswer, QueryError>;
    /// Evaluates `query` at each step from `start` to `end`; a [`Value::Matrix`].
    fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryAnswer, QueryError>;
    /// Label sets of the series matching any of `selectors` with samples in the range.
    fn series(&self, selectors: &[String], start: i64, end: i64)
    -> Result<Vec<Labels>, QueryError>;
    /// Label names among series matching any of `selectors` (all series when empty), sorted.
    fn label_names(
        &self,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError>;
    /// Values of label `name` among matching series, sorted.
    fn label_values(
        &self,
        name: &str,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError>;
    /// The loaded rule groups with their current state.
    fn rule_groups(&self) -> Vec<RuleGroupView>;
    /// The alerts currently pending or firing.
    fn alerts(&self) -> Vec<AlertView>;
}

/// What the handlers share.
struct ApiState {
    backend: Arc<dyn QueryBackend>,
    clock: Arc<dyn Clock>,
}

/// The API's routes, to be merged into the server's router. `clock` gives the default
/// evaluation time when a request names none.
pub fn router(backend: Arc<dyn QueryBackend>, clock: Arc<dyn Clock>) -> Router {
    let state = Arc::new(ApiState { backend, clock });
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/metadata", get(metadata))
        .with_state(state)
}

type Shared = State<Arc<ApiState>>;

/// Runs backend work on the blocking pool and turns its answer into a response.
async fn answer<T, F>(state: &Arc<ApiState>, work: F) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&dyn QueryBackend) -> Result<T, QueryError> + Send + 'static,
{
    answer_noted(state, move |b| {
        work(b).map(|data| (data, Vec::new(), Vec::new()))
    })
    .await
}

/// [`answer`] for work that also gives warnings and infos.
async fn answer_noted<T, F>(state: &Arc<ApiState>, work: F) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&dyn QueryBackend) -> Result<(T, Vec<String>, Vec<String>), QueryError>
        + Send
        + 'static,
{
    let backend = Arc::clone(&state.backend);
    match tokio::task::spawn_blocking(move || work(backend.as_ref())).await {
        Ok(Ok((data, warnings, infos))) => response::success_noted(data, warnings, infos),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(join) => {
            ApiError::internal(format!("the query stopped unexpectedly: {join}")).into_response()
        }
    }
}

async fn query(
    State(state): Shared,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match Params::from_request(raw.as_deref(), &headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let parsed = (|| {
        let query = params.required("query")?.to_string();
        let t = params.time_or("time", state.clock.now().0)?;
        Ok::<_, ApiError>((query, t))
    })();
    let (query, t) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    answer_noted(&state, move |b| {
        b.instant(&query, t).map(|a| {
            let data = response::QueryData::from(at_query_time(a.value, t));
            (data, a.warnings, a.infos)
        })
    })
    .await
}

/// Prometheus' API stamps every sample of an instant answer with the evaluation time, whatever
/// time the stored sample had (that one is what `timestamp()` returns).
fn at_query_time(value: Value, t: i64) -> Value {
    match value {
        Value::Vector(mut vector) => {
            for sample in &mut vector {
                sample.t = t;
            }
            Value::Vector(vector)
        }
        other => other,
    }
}

async fn query_range(
    State(state): Shared,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match Params::from_request(raw.as_deref(), &headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let parsed = (|| {
        let query = params.required("query")?.to_string();
        let start = params.required_time("start")?;
        let end = params.required_time("end")?;
        let step = params.required_duration("step")?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        if step <= 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step >= MAX_POINTS_PER_SERIES {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        Ok((query, start, end, step))
    })();
    let (query, start, end, step) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    answer_noted(&state, move |b| {
        b.range(&query, start, end, step)
            .map(|a| (response::QueryData::from(a.value), a.warnings, a.infos))
    })
    .await
}

/// The `match[]`, `start` and `end` parameters shared by the metadata endpoints; an absent
/// range means all time.
fn selection(params: &Params) -> Result<(Vec<String>, i64, i64), ApiError> {
    let selectors = params.all("match[]");
    let start = params.time_or("start", i64::MIN)?;
    let end = params.time_or("end", i64::MAX)?;
    Ok((selectors, start, end))
}

async fn series(
    State(state): Shared,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let selection = Params::from_request(raw.as_deref(), &headers, &body).and_then(|p| {
        let (selectors, start, end) = selection(&p)?;
        if selectors.is_empty() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        Ok((selectors, start, end))
    });
    let (selectors, start, end) = match selection {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    answer(&state, move |b| {
        b.series(&selectors, start, end)
            .map(|sets| sets.iter().map(response::labels_object).collect::<Vec<_>>())
    })
    .await
}

async fn labels(
    State(state): Shared,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (selectors, start, end) =
        match Params::from_request(raw.as_deref(), &headers, &body).and_then(|p| selection(&p)) {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        };
    answer(&state, move |b| b.label_names(&selectors, start, end)).await
}

async fn label_values(
    State(state): Shared,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (selectors, start, end) = match Params::from_request(raw.as_deref(), &HeaderMap::new(), &[])
        .and_then(|p| selection(&p))
    {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    answer(&state, move |b| {
        b.label_values(&name, &selectors, start, end)
    })
    .await
}

async fn rules(State(state): Shared) -> Response {
    answer(&state, |b| {
        Ok(serde_json::json!({ "groups": b.rule_groups() }))
    })
    .await
}

async fn alerts(State(state): Shared) -> Response {
    answer(&state, |b| Ok(serde_json::json!({ "alerts": b.alerts() }))).await
}

/// Grafana asks for this to learn what the server is; we say what we are.
async fn buildinfo() -> Response {
    success(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
        "application": "periscope",
    }))
}

/// Metric metadata (help, type, unit) is not kept yet: an empty answer, which clients accept.
async fn metadata() -> Response {
    success(serde_json::json!({}))
}
