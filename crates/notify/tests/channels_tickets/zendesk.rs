//! ZenDesk: a stand-in for the Tickets API (`POST /api/v2/tickets.json`, `PUT
//! /api/v2/tickets/{id}.json`) with API-token Basic authentication, tickets kept as state, and
//! ZenDesk's error bodies (401, 404 RecordNotFound, 422 RecordInvalid, 429 with Retry-After).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{post, put};
use model::level::Level;
use notify::channel::Channel;
use notify::channel::zendesk::{ZenDeskChannel, ZenDeskSettings};
use serde_json::{Value, json};

use super::{Canned, CannedQueue, alert, authorization, ctx, is_json, json_response};
use super::{notification, resolved, serve};

/// Basic base64("agent@acme.example/token:zd-secret-token").
const AUTH: &str = "Basic YWdlbnRAYWNtZS5leGFtcGxlL3Rva2VuOnpkLXNlY3JldC10b2tlbg==";
const TOKEN: &str = "zd-secret-token";
const GROUP: u64 = 360001;
const FIRST_ID: u64 = 35436;

#[derive(Clone, Default)]
struct ZenDesk {
    tickets: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<usize>>,
    canned: CannedQueue,
}

impl ZenDesk {
    fn tickets(&self) -> Vec<Value> {
        self.tickets.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

fn invalid(field: &str, description: &str) -> Response {
    json_response(
        422,
        json!({
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": { field: [{ "description": description, "error": "InvalidValue" }] },
        }),
        None,
    )
}

/// What every ZenDesk call checks first; `Err` is the answer.
fn admit(zd: &ZenDesk, headers: &HeaderMap, body: &[u8]) -> Result<Value, Box<Response>> {
    *zd.requests.lock().unwrap() += 1;
    if let Some(canned) = zd.canned.next() {
        return Err(Box::new(canned));
    }
    if authorization(headers) != AUTH {
        return Err(Box::new(json_response(
            401,
            json!({ "error": "Couldn't authenticate you" }),
            None,
        )));
    }
    if !is_json(headers) {
        return Err(Box::new(json_response(
            400,
            json!({ "error": "Unsupported Content-Type" }),
            None,
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v["ticket"].is_object() => Ok(v["ticket"].clone()),
        _ => Err(Box::new(json_response(
            400,
            json!({ "error": "InvalidValue", "description": "A ticket object is required" }),
            None,
        ))),
    }
}

async fn create(State(zd): State<ZenDesk>, headers: HeaderMap, body: Bytes) -> Response {
    let ticket = match admit(&zd, &headers, &body) {
        Ok(t) => t,
        Err(answer) => return *answer,
    };
    let comment = ticket["comment"]["body"].as_str().unwrap_or("");
    if comment.is_empty() {
        return invalid("base", "Description: cannot be blank");
    }
    if ticket["subject"].as_str().is_none_or(str::is_empty) {
        return invalid("subject", "Subject: cannot be blank");
    }
    let priority = ticket["priority"].as_str().unwrap_or("normal");
    if !["urgent", "high", "normal", "low"].contains(&priority) {
        return invalid("priority", "Priority: is invalid");
    }
    if !ticket["group_id"].is_null() && ticket["group_id"] != GROUP {
        return invalid("group", "Group: is invalid");
    }
    if !ticket["tags"].is_null() && !ticket["tags"].is_array() {
        return invalid("tags", "Tags: must be a list");
    }
    let mut tickets = zd.tickets.lock().unwrap();
    let follows = &ticket["via_followup_source_id"];
    if !follows.is_null()
        && !tickets
            .iter()
            .any(|t| t["id"] == *follows && t["status"] == "closed")
    {
        return invalid(
            "via_followup_source_id",
            "Follow-up source: must be a closed ticket",
        );
    }
    let id = FIRST_ID + tickets.len() as u64;
    let stored = json!({
        "id": id,
        "subject": ticket["subject"],
        "status": "new",
        "priority": priority,
        "tags": ticket["tags"],
        "group_id": ticket["group_id"],
        "external_id": ticket["external_id"],
        "via_followup_source_id": follows,
        "comments": [{ "body": comment, "public": ticket["comment"]["public"].as_bool().unwrap_or(true) }],
    });
    tickets.push(stored.clone());
    json_response(201, json!({ "ticket": stored }), None)
}

async fn update(
    State(zd): State<ZenDesk>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let change = match admit(&zd, &headers, &body) {
        Ok(t) => t,
        Err(answer) => return *answer,
    };
    let not_found = || {
        json_response(
            404,
            json!({ "error": "RecordNotFound", "description": "Not found" }),
            None,
        )
    };
    let Some(id) = file
        .strip_suffix(".json")
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return not_found();
    };
    let mut tickets = zd.tickets.lock().unwrap();
    let Some(ticket) = tickets.iter_mut().find(|t| t["id"] == id) else {
        return not_found();
    };
    if ticket["status"] == "closed" {
        let details = json!({ "status": [{
            "description": "Status: closed prevents ticket update",
            "error": "ClosedPreventsUpdate",
        }] });
        return json_response(
            422,
            json!({ "error": "RecordInvalid", "description": "Record validation errors", "details": details }),
            None,
        );
    }
    if let Some(status) = change["status"].as_str() {
        if !["new", "open", "pending", "hold", "solved", "closed"].contains(&status) {
            return invalid("status", "Status: is invalid");
        }
        ticket["status"] = status.into();
    }
    if let Some(body) = change["comment"]["body"].as_str() {
        let public = change["comment"]["public"].as_bool().unwrap_or(true);
        ticket["comments"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "body": body, "public": public }));
    }
    json_response(200, json!({ "ticket": ticket }), None)
}

async fn zendesk() -> (ZenDesk, String) {
    let zd = ZenDesk::default();
    let router = Router::new()
        .route("/api/v2/tickets.json", post(create))
        .route("/api/v2/tickets/{file}", put(update))
        .with_state(zd.clone());
    (zd, serve(router).await)
}

fn settings(url: &str, extra: Value) -> ZenDeskSettings {
    let mut settings = json!({ "url": url, "email": "agent@acme.example", "api_token": TOKEN });
    if let (Some(s), Some(extra)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(extra.clone());
    }
    serde_json::from_value(settings).unwrap()
}

fn channel(url: &str, extra: Value) -> ZenDeskChannel {
    settings(url, extra)
        .build(&ctx())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

#[tokio::test]
async fn a_group_opens_one_ticket_that_is_commented_then_solved() {
    let (zd, url) = zendesk().await;
    let desk = channel(
        &url,
        json!({ "group_id": GROUP, "tags": ["periscope", "db"] }),
    );
    let mut n = notification(
        "support",
        "{}:{alertname=\"DiskFull\"}",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );

    let opened = desk.deliver(&n).await.unwrap();
    assert_eq!(opened.reference, Some(FIRST_ID.to_string()));
    let ticket = &zd.tickets()[0];
    assert_eq!(
        ticket["subject"],
        ctx().templates.render("title", &n).text.as_str()
    );
    assert_eq!(ticket["priority"], "urgent");
    assert_eq!(ticket["tags"], json!(["periscope", "db"]));
    assert_eq!(ticket["group_id"], GROUP);
    let external = ticket["external_id"].as_str().unwrap();
    assert!(external.len() == 64 && external.chars().all(|c| c.is_ascii_hexdigit()));
    let first = ticket["comments"][0]["body"].as_str().unwrap();
    assert!(first.contains("FIRING DiskFull on db-1"), "{first}");

    // A new alert joins the group: an internal note on the same ticket.
    n.alerts.push(alert("DiskFull", "db-2", Level::Critical));
    n.reference = opened.reference.clone();
    let updated = desk.deliver(&n).await.unwrap();
    assert_eq!(updated.reference, opened.reference);
    let ticket = &zd.tickets()[0];
    assert_eq!(zd.tickets().len(), 1);
    assert_eq!(ticket["status"], "new");
    assert_eq!(ticket["comments"][1]["public"], false);
    assert!(
        ticket["comments"][1]["body"]
            .as_str()
            .unwrap()
            .contains("db-2")
    );

    // The group resolves: the ticket is solved with a public comment saying so.
    let done = desk.deliver(&resolved(n.clone())).await.unwrap();
    assert_eq!(done.reference, opened.reference);
    let ticket = &zd.tickets()[0];
    assert_eq!(ticket["status"], "solved");
    assert_eq!(ticket["comments"][2]["public"], true);
    assert!(
        ticket["comments"][2]["body"]
            .as_str()
            .unwrap()
            .contains("RESOLVED DiskFull")
    );

    // A group that resolved without ever getting a ticket needs no call at all.
    let calls = zd.requests();
    let mut never = resolved(n);
    never.reference = None;
    assert_eq!(desk.deliver(&never).await.unwrap().reference, None);
    assert_eq!(zd.requests(), calls);
}

#[tokio::test]
async fn priority_follows_the_level_and_its_mapping() {
    let (zd, url) = zendesk().await;
    let desk = channel(&url, json!({ "priority": { "critical": "high" } }));
    for (i, level) in Level::ALL.into_iter().enumerate() {
        let n = notification("support", &format!("g{i}"), vec![alert("A", "h", level)]);
        desk.deliver(&n).await.unwrap();
    }
    let priorities: Vec<Value> = zd.tickets().iter().map(|t| t["priority"].clone()).collect();
    assert_eq!(priorities, [json!("low"), json!("normal"), json!("high")]);
}

#[tokio::test]
async fn zendesk_failures_say_whether_retrying_helps() {
    let (zd, url) = zendesk().await;
    let n = notification(
        "support",
        "g",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );

    let mut wrong = settings(&url, json!({}));
    wrong.api_token = "not-the-token".into();
    let err = wrong.build(&ctx()).unwrap().deliver(&n).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("HTTP 401"), "{}", err.message);
    assert!(
        err.message.contains("Couldn't authenticate you"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("not-the-token"), "{}", err.message);

    let unknown_group = channel(&url, json!({ "group_id": 999 }));
    let err = unknown_group.deliver(&n).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("Group: is invalid"), "{}", err.message);

    let desk = channel(&url, json!({}));
    zd.canned
        .push(Canned::new(429, json!({ "error": "TooManyRequests" })).retry_after("45"));
    let err = desk.deliver(&n).await.unwrap_err();
    assert!(err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_secs(45)));

    zd.canned
        .push(Canned::new(503, json!({ "error": "Service Unavailable" })));
    let err = desk.deliver(&n).await.unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(zd.tickets().is_empty());

    // Someone deleted the group's ticket: a firing group gets a new one, a resolved group
    // has nothing left to solve.
    let mut gone = n.clone();
    gone.reference = Some("999".into());
    let reopened = desk.deliver(&gone).await.unwrap();
    assert_eq!(reopened.reference, Some(FIRST_ID.to_string()));
    assert!(zd.tickets()[0]["via_followup_source_id"].is_null());
    let mut gone_resolved = resolved(gone.clone());
    gone_resolved.reference = Some("998".into());
    assert_eq!(desk.deliver(&gone_resolved).await.unwrap().reference, None);
    assert_eq!(zd.tickets().len(), 1);

    // A reference that is no ticket id is refused before any call.
    let calls = zd.requests();
    gone.reference = Some("../users".into());
    assert!(!desk.deliver(&gone).await.unwrap_err().retryable);
    assert_eq!(zd.requests(), calls);
}

#[tokio::test]
async fn a_group_firing_after_its_ticket_closed_opens_a_follow_up() {
    let (zd, url) = zendesk().await;
    let desk = channel(&url, json!({}));
    let mut n = notification(
        "support",
        "g",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );
    n.reference = desk.deliver(&n).await.unwrap().reference;
    desk.deliver(&resolved(n.clone())).await.unwrap();
    // Days later ZenDesk closes the solved ticket; it can no longer be changed.
    zd.tickets.lock().unwrap()[0]["status"] = "closed".into();

    // Resolving again has nothing to change.
    let again = desk.deliver(&resolved(n.clone())).await.unwrap();
    assert_eq!(again.reference, n.reference);

    let follow_up = desk.deliver(&n).await.unwrap();
    let tickets = zd.tickets();
    assert_eq!(tickets.len(), 2);
    assert_eq!(follow_up.reference, Some((FIRST_ID + 1).to_string()));
    assert_eq!(tickets[1]["via_followup_source_id"], FIRST_ID);
    assert_eq!(tickets[1]["status"], "new");
    assert_eq!(tickets[0]["comments"].as_array().unwrap().len(), 2);
}

#[test]
fn zendesk_settings_problems_are_reported_together() {
    let mut s = settings(
        "acme.zendesk.com",
        json!({ "priority": { "logged": "p4" }, "tags": ["ok", "two words"] }),
    );
    s.email = String::new();
    let Err(issues) = s.build(&ctx()) else {
        panic!("bad settings were accepted");
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["url", "email", "tags.1", "priority.logged"]);
}
