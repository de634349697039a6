//! The response side over HTTP: acknowledge (by signed link or by API), silences (list, add,
//! expire) and the pipeline's status. JSON in, JSON out; errors say what is wrong.
//!
//! - `GET  /api/v1/notify/ack?group=KEY&sig=HEX`: the link inside a message.
//! - `POST /api/v1/notify/ack` `{"group": KEY, "by": NAME}`.
//! - `GET  /api/v1/silences[?expired=true]`, `POST /api/v1/silences`
//!   `{"matchers": [...], "duration": "2h" | "ends_at": RFC3339, "starts_at"?, "created_by", "comment"}`,
//!   `DELETE /api/v1/silence/{id}`.
//! - `GET  /api/v1/notify/status`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use model::Timestamp;
use notify::ack::ACK_PATH;
use notify::runner::Notifier;
use notify::silence::NewSilence;
use serde::Deserialize;
use serde_json::json;

/// The routes, over the running notifier.
pub fn router(notifier: Notifier) -> Router {
    Router::new()
        .route(ACK_PATH, get(ack_link).post(ack_api))
        .route("/api/v1/silences", get(list_silences).post(add_silence))
        .route("/api/v1/silence/{id}", delete(expire_silence))
        .route("/api/v1/notify/status", get(status))
        .with_state(notifier)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "status": "error", "error": message.into() })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct AckLink {
    group: String,
    sig: String,
}

/// The signed link: acknowledges without a login, for exactly the group it names.
async fn ack_link(State(n): State<Notifier>, Query(q): Query<AckLink>) -> Response {
    let outcome = n.with(|p, now| {
        let valid = p
            .setup()
            .ack_links
            .as_ref()
            .is_some_and(|s| s.verify(&q.group, &q.sig));
        valid.then(|| p.acknowledge(&q.group, "acknowledge link", now))
    });
    match outcome {
        None => error(StatusCode::FORBIDDEN, "this link is not valid"),
        Some(false) => error(
            StatusCode::NOT_FOUND,
            format!("nothing is escalating for {}", q.group),
        ),
        Some(true) => (
            StatusCode::OK,
            format!(
                "Acknowledged: {}\nNo further escalation steps will be sent.\n",
                q.group
            ),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    group: String,
    by: String,
}

async fn ack_api(
    State(n): State<Notifier>,
    body: Result<Json<AckBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if body.by.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "`by` must name who acknowledges");
    }
    if n.with(|p, now| p.acknowledge(&body.group, &body.by, now)) {
        Json(json!({ "status": "success", "group": body.group, "by": body.by })).into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            format!("nothing is escalating for {}", body.group),
        )
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    expired: bool,
}

async fn list_silences(State(n): State<Notifier>, Query(q): Query<ListQuery>) -> Response {
    let list = n.with(|p, now| {
        p.silences()
            .list(None, q.expired, now)
            .into_iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "matchers": s.matchers,
                    "starts_at": s.starts_at.to_string(),
                    "ends_at": s.ends_at.to_string(),
                    "created_by": s.created_by,
                    "comment": s.comment,
                    "state": s.state(now).as_str(),
                })
            })
            .collect::<Vec<_>>()
    });
    Json(json!({ "status": "success", "data": list })).into_response()
}

/// A silence as the API takes it: times as RFC 3339, or a duration from now.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    matchers: Vec<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    duration: Option<String>,
    created_by: String,
    comment: String,
}

/// Reads an RFC 3339 time.
fn time(field: &str, text: &str) -> Result<Timestamp, String> {
    text.parse::<jiff::Timestamp>()
        .map(Timestamp::from_jiff)
        .map_err(|e| format!("`{field}`: {text:?} is not an RFC 3339 time ({e})"))
}

/// The silence `body` asks for, at `now`.
fn new_silence(body: SilenceBody, now: Timestamp) -> Result<NewSilence, String> {
    let starts_at = match &body.starts_at {
        Some(t) => time("starts_at", t)?,
        None => now,
    };
    let ends_at = match (&body.ends_at, &body.duration) {
        (Some(t), None) => time("ends_at", t)?,
        (None, Some(d)) => {
            let d = model::duration::parse_duration(d).map_err(|e| format!("`duration`: {e}"))?;
            starts_at.plus_millis(d.as_millis() as i64)
        }
        (Some(_), Some(_)) => return Err("give `ends_at` or `duration`, not both".into()),
        (None, None) => return Err("give `ends_at` or `duration` (e.g. \"2h\")".into()),
    };
    Ok(NewSilence {
        matchers: body.matchers,
        starts_at,
        ends_at,
        created_by: body.created_by,
        comment: body.comment,
    })
}

async fn add_silence(
    State(n): State<Notifier>,
    body: Result<Json<SilenceBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let added = n.with(|p, now| {
        let new = new_silence(body, now)?;
        let id = p.silences_mut().add(new, now).map_err(|e| e.to_string())?;
        p.save_silence(&id, now);
        Ok::<_, String>(id)
    });
    match added {
        Ok(id) => (
            StatusCode::OK,
            Json(json!({ "status": "success", "id": id })),
        )
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn expire_silence(State(n): State<Notifier>, Path(id): Path<String>) -> Response {
    let done = n.with(|p, now| {
        p.silences_mut()
            .expire(&id, now)
            .map_err(|e| e.to_string())?;
        p.save_silence(&id, now);
        Ok::<_, String>(())
    });
    match done {
        Ok(()) => Json(json!({ "status": "success", "id": id })).into_response(),
        Err(e) if e.contains("no silence") || e.contains("not found") => {
            error(StatusCode::NOT_FOUND, e)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn status(State(n): State<Notifier>) -> Response {
    let body = n.with(|p, _| {
        let c = p.counters();
        let escalations: Vec<_> = p
            .escalations()
            .map(|e| {
                json!({
                    "group": e.group_key,
                    "receiver": e.receiver,
                    "policy": e.policy,
                    "started_at": e.started_at.to_string(),
                    "step": e.last_step.1 + 1,
                    "round": e.last_step.0 + 1,
                    "acknowledged_by": e.acknowledged.map(|(by, _)| by),
                })
            })
            .collect();
        json!({
            "status": "success",
            "data": {
                "groups": p.dispatcher().groups().count(),
                "alerts": p.dispatcher().alert_count(),
                "escalations": escalations,
                "counters": {
                    "updates": c.updates, "logged": c.logged, "muted": c.muted,
                    "held_for_digest": c.held, "delivered": c.delivered,
                    "retried": c.retried, "failed": c.failed,
                },
            }
        })
    });
    Json(body).into_response()
}
