//! The response side over HTTP: acknowledge (by signed link or by API), silences (list, add,
//! expire) and the pipeline's status. JSON in, JSON out; errors say what is wrong.
//!
//! - `GET  /api/v1/notify/ack?group=KEY&sig=HEX`: the link inside a message. It shows a page
//!   with a button and changes nothing (scanners and link previews open links too).
//! - `POST /api/v1/notify/ack` as a form (`group`, `sig`, `by`?): the page's button.
//! - `POST /api/v1/notify/ack` `{"group": KEY, "by": NAME}`: the API.
//! - `GET  /api/v1/silences[?expired=true]`, `POST /api/v1/silences`
//!   `{"matchers": [...], "duration": "2h" | "ends_at": RFC3339, "starts_at"?, "created_by", "comment"}`,
//!   `DELETE /api/v1/silence/{id}`.
//! - `GET  /api/v1/notify/status`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use model::Timestamp;
use notify::ack::ACK_PATH;
use notify::pipeline::Pipeline;
use notify::runner::Notifier;
use notify::silence::NewSilence;
use serde::Deserialize;
use serde_json::json;

use crate::notify_ack_page::{self as page, LinkFields, Standing};

/// The routes, over the running notifier.
pub fn router(notifier: Notifier) -> Router {
    Router::new()
        .route(ACK_PATH, get(ack_page).post(ack_post))
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

/// Why a link or its form does nothing.
enum Refused {
    /// The server signs no links.
    Disabled,
    /// `group` or `sig` is missing.
    Incomplete,
    /// The signature is not the group's.
    Forged,
    /// The group has no escalation.
    NothingEscalating(String),
}

impl Refused {
    /// The page that says what is wrong.
    fn page(&self) -> Response {
        let forbidden =
            |message: &str| page::problem(StatusCode::FORBIDDEN, "Link not valid", message);
        match self {
            Refused::Disabled => forbidden("Acknowledge links are not enabled on this server."),
            Refused::Incomplete => forbidden(
                "This link is incomplete: it needs both `group` and `sig`. \
                 Open the whole link from the message.",
            ),
            Refused::Forged => forbidden(
                "This link's signature does not match its group: the link was changed or cut \
                 short, or it was made by another server or with another acknowledge secret.",
            ),
            Refused::NothingEscalating(group) => page::nothing_escalating(group),
        }
    }
}

/// The group a link or form names, once its signature checks out.
fn verified_group(p: &Pipeline, link: &LinkFields) -> Result<String, Refused> {
    let signer = p.setup().ack_links.as_ref().ok_or(Refused::Disabled)?;
    let (Some(group), Some(sig)) = (&link.group, &link.sig) else {
        return Err(Refused::Incomplete);
    };
    if !signer.verify(group, sig) {
        return Err(Refused::Forged);
    }
    Ok(group.clone())
}

/// Where `group`'s escalation stands, when one runs.
fn standing(p: &Pipeline, group: &str) -> Option<Standing> {
    let view = p.escalations().find(|e| e.group_key == group)?;
    let policy = p.setup().policies.get(view.policy);
    Some(Standing {
        group: group.to_string(),
        policy: view.policy.to_string(),
        receiver: view.receiver.to_string(),
        started_at: view.started_at,
        step: (
            view.last_step.1 + 1,
            policy.map_or(view.last_step.1 + 1, |p| p.steps.len()),
        ),
        round: (
            view.last_step.0 + 1,
            policy.map_or(view.last_step.0 + 1, |p| p.repeat),
        ),
        acknowledged: view.acknowledged.map(|(by, at)| (by.to_string(), at)),
    })
}

/// The signed link, opened: shows where the group stands and a button that acknowledges.
/// Opening it changes nothing, as mail scanners and link previews open it too.
async fn ack_page(State(n): State<Notifier>, RawQuery(query): RawQuery) -> Response {
    let link = page::fields(query.unwrap_or_default().as_bytes());
    let found = n.with(|p, _| {
        let group = verified_group(p, &link)?;
        standing(p, &group).ok_or(Refused::NothingEscalating(group))
    });
    match found {
        Ok(s) => page::confirm(&s, link.sig.as_deref().unwrap_or_default()),
        Err(refused) => refused.page(),
    }
}

/// True when the request carries a urlencoded form (the page's button) rather than JSON.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// One path for the page's form and the JSON API, told apart by Content-Type.
async fn ack_post(State(n): State<Notifier>, request: Request) -> Response {
    if is_form(request.headers()) {
        match Bytes::from_request(request, &()).await {
            Ok(body) => ack_form(&n, page::fields(&body)),
            Err(e) => page::problem(e.status(), "Form not read", &e.body_text()),
        }
    } else {
        ack_api(&n, Json::from_request(request, &()).await)
    }
}

/// The page's button: checks the signature again (the form is as forgeable as the link) and
/// acknowledges for the name typed in, or for "acknowledge link".
fn ack_form(n: &Notifier, form: LinkFields) -> Response {
    let by = form.by.as_deref().map(str::trim).unwrap_or_default();
    if by.chars().count() > page::MAX_NAME {
        return page::problem(
            StatusCode::BAD_REQUEST,
            "Name too long",
            &format!("Your name can be at most {} characters.", page::MAX_NAME),
        );
    }
    let by = if by.is_empty() { page::DEFAULT_BY } else { by };
    let outcome = n.with(|p, now| {
        let group = verified_group(p, &form)?;
        if !p.acknowledge(&group, by, now) {
            return Err(Refused::NothingEscalating(group));
        }
        let first = p
            .escalations()
            .find(|e| e.group_key == group)
            .and_then(|e| e.acknowledged)
            .map(|(who, at)| (who.to_string(), at));
        Ok((group, first))
    });
    match outcome {
        Ok((group, first)) => {
            let first = first.as_ref().map(|(who, at)| (who.as_str(), *at));
            page::done(&group, by, first)
        }
        Err(refused) => refused.page(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    group: String,
    by: String,
}

/// The API: acknowledges for the name given, without a signature.
fn ack_api(
    n: &Notifier,
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
