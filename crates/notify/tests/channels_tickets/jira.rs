//! Jira: a stand-in for REST API v2 (create issue, comment, list and perform transitions) with
//! Basic or Bearer authentication, issues and a small workflow kept as state, and Jira's
//! error body (`errorMessages` and `errors` by field).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use model::level::Level;
use notify::channel::Channel;
use notify::channel::jira::{JiraChannel, JiraSettings};
use serde_json::{Value, json};

use super::{Canned, CannedQueue, alert, authorization, ctx, is_json, json_response};
use super::{notification, resolved, serve};

/// Basic base64("bot@acme.example:jira-secret-token").
const BASIC: &str = "Basic Ym90QGFjbWUuZXhhbXBsZTpqaXJhLXNlY3JldC10b2tlbg==";
const PRIORITIES: [&str; 5] = ["Highest", "High", "Medium", "Low", "Lowest"];

#[derive(Clone)]
struct Jira {
    /// The `Authorization` header this site accepts.
    auth: Arc<String>,
    issues: Arc<Mutex<Vec<Value>>>,
    /// `METHOD /path` of every call, in order.
    calls: Arc<Mutex<Vec<String>>>,
    canned: CannedQueue,
}

impl Jira {
    fn issue(&self, key: &str) -> Value {
        let issues = self.issues.lock().unwrap();
        issues.iter().find(|i| i["key"] == key).cloned().unwrap()
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

fn errors(status: u16, messages: &[&str], fields: Value) -> Response {
    json_response(
        status,
        json!({ "errorMessages": messages, "errors": fields }),
        None,
    )
}

fn no_issue() -> Response {
    errors(
        404,
        &["Issue does not exist or you do not have permission to see it."],
        json!({}),
    )
}

/// The transitions the workflow offers from `status`, as (id, name, target status).
fn workflow(status: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match status {
        "Done" => &[("41", "Reopen", "To Do")],
        _ => &[("21", "In Progress", "In Progress"), ("31", "Done", "Done")],
    }
}

/// What every call checks first; `Err` is the answer.
fn admit(
    jira: &Jira,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Box<Response>> {
    jira.calls
        .lock()
        .unwrap()
        .push(format!("{method} {}", uri.path()));
    if let Some(canned) = jira.canned.next() {
        return Err(Box::new(canned));
    }
    if authorization(headers) != jira.auth.as_str() {
        return Err(Box::new(errors(
            401,
            &["You are not authenticated. Authentication required to perform this operation."],
            json!({}),
        )));
    }
    if method == Method::GET {
        return Ok(Value::Null);
    }
    if !is_json(headers) {
        return Err(Box::new(errors(
            415,
            &["Unsupported Media Type"],
            json!({}),
        )));
    }
    serde_json::from_slice(body).map_err(|_| {
        Box::new(errors(
            400,
            &["Unexpected character in the JSON body"],
            json!({}),
        ))
    })
}

async fn create(
    State(jira): State<Jira>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&jira, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(answer) => return *answer,
    };
    let fields = &request["fields"];
    let mut problems = serde_json::Map::new();
    if fields["project"]["key"] != "OPS" {
        problems.insert("project".into(), "valid project is required".into());
    }
    if !["Bug", "Incident", "Task"].contains(&fields["issuetype"]["name"].as_str().unwrap_or("")) {
        problems.insert("issuetype".into(), "valid issue type is required".into());
    }
    let summary = fields["summary"].as_str().unwrap_or("");
    if summary.is_empty() {
        problems.insert(
            "summary".into(),
            "You must specify a summary of the issue.".into(),
        );
    } else if summary.chars().count() > 255 {
        problems.insert(
            "summary".into(),
            "Summary must be less than 255 characters.".into(),
        );
    } else if summary.contains('\n') {
        let why = "The summary is invalid because it contains newline characters.";
        problems.insert("summary".into(), why.into());
    }
    for label in fields["labels"].as_array().into_iter().flatten() {
        let label = label.as_str().unwrap_or(" ");
        if label.contains(' ') {
            let why = format!("The label '{label}' contains spaces which is invalid.");
            problems.insert("labels".into(), why.into());
        }
    }
    if !fields["priority"].is_null()
        && !PRIORITIES.contains(&fields["priority"]["name"].as_str().unwrap_or(""))
    {
        problems.insert(
            "priority".into(),
            "The priority selected is invalid.".into(),
        );
    }
    if !problems.is_empty() {
        return errors(400, &[], problems.into());
    }
    let mut issues = jira.issues.lock().unwrap();
    let id = 10000 + issues.len();
    let key = format!("OPS-{}", issues.len() + 1);
    issues.push(json!({
        "id": id.to_string(), "key": key, "fields": fields, "status": "To Do", "comments": [],
    }));
    let link = format!("http://jira.example/rest/api/2/issue/{id}");
    json_response(
        201,
        json!({ "id": id.to_string(), "key": key, "self": link }),
        None,
    )
}

async fn comment(
    State(jira): State<Jira>,
    Path(key): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&jira, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(answer) => return *answer,
    };
    let Some(text) = request["body"].as_str().filter(|b| !b.is_empty()) else {
        return errors(
            400,
            &[],
            json!({ "comment": "Comment body can not be empty!" }),
        );
    };
    let mut issues = jira.issues.lock().unwrap();
    let Some(issue) = issues.iter_mut().find(|i| i["key"] == key.as_str()) else {
        return no_issue();
    };
    issue["comments"].as_array_mut().unwrap().push(text.into());
    let id = issue["comments"].as_array().unwrap().len();
    json_response(201, json!({ "id": id.to_string(), "body": text }), None)
}

async fn transitions(
    State(jira): State<Jira>,
    Path(key): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&jira, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(answer) => return *answer,
    };
    let mut issues = jira.issues.lock().unwrap();
    let Some(issue) = issues.iter_mut().find(|i| i["key"] == key.as_str()) else {
        return no_issue();
    };
    let offered = workflow(issue["status"].as_str().unwrap_or(""));
    if method == Method::GET {
        let list: Vec<Value> = offered
            .iter()
            .map(|(id, name, to)| json!({ "id": id, "name": name, "to": { "name": to } }))
            .collect();
        return json_response(
            200,
            json!({ "expand": "transitions", "transitions": list }),
            None,
        );
    }
    let id = request["transition"]["id"].as_str().unwrap_or("");
    let Some((_, _, to)) = offered.iter().find(|(t, _, _)| *t == id) else {
        let why = format!("Transition id '{id}' is not valid for this issue.");
        return errors(400, &[&why], json!({}));
    };
    issue["status"] = (*to).into();
    json_response(204, Value::Null, None)
}

async fn jira(auth: &str) -> (Jira, String) {
    let jira = Jira {
        auth: Arc::new(auth.to_string()),
        issues: Arc::default(),
        calls: Arc::default(),
        canned: CannedQueue::default(),
    };
    let router = Router::new()
        .route("/rest/api/2/issue", post(create))
        .route("/rest/api/2/issue/{key}/comment", post(comment))
        .route(
            "/rest/api/2/issue/{key}/transitions",
            get(transitions).post(transitions),
        )
        .with_state(jira.clone());
    (jira, serve(router).await)
}

fn settings(url: &str, extra: Value) -> JiraSettings {
    let mut settings = json!({ "url": url, "project": "OPS" });
    if let (Some(s), Some(extra)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(extra.clone());
    }
    serde_json::from_value(settings).unwrap()
}

fn channel(url: &str, extra: Value) -> JiraChannel {
    let mut extra = extra;
    if extra.get("bearer_token").is_none() {
        extra["user"] = "bot@acme.example".into();
        extra["api_token"] = "jira-secret-token".into();
    }
    settings(url, extra)
        .build(&ctx())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

#[tokio::test]
async fn a_group_creates_one_issue_that_is_commented_resolved_and_reopened() {
    let (site, url) = jira(BASIC).await;
    let tracker = channel(
        &url,
        json!({
            "issue_type": "Incident", "labels": ["periscope", "db"],
            "priority": { "critical": "Highest" }, "reopen_transition": "Reopen",
        }),
    );
    let mut n = notification(
        "platform",
        "{}:{alertname=\"DiskFull\"}",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );

    let created = tracker.deliver(&n).await.unwrap();
    assert_eq!(created.reference.as_deref(), Some("OPS-1"));
    assert_eq!(site.calls(), ["POST /rest/api/2/issue"]);
    let fields = &site.issue("OPS-1")["fields"];
    assert_eq!(fields["issuetype"]["name"], "Incident");
    assert_eq!(
        fields["summary"],
        ctx().templates.render("title", &n).text.as_str()
    );
    assert!(
        fields["description"]
            .as_str()
            .unwrap()
            .contains("FIRING DiskFull on db-1")
    );
    assert_eq!(fields["labels"], json!(["periscope", "db"]));
    assert_eq!(fields["priority"]["name"], "Highest");

    // A new alert in the group: a comment; the open issue offers no "Reopen", so it stays.
    n.alerts.push(alert("DiskFull", "db-2", Level::Critical));
    n.reference = created.reference.clone();
    let updated = tracker.deliver(&n).await.unwrap();
    assert_eq!(updated.reference, created.reference);
    assert_eq!(
        site.calls(),
        [
            "POST /rest/api/2/issue/OPS-1/comment",
            "GET /rest/api/2/issue/OPS-1/transitions"
        ]
    );
    assert_eq!(site.issue("OPS-1")["status"], "To Do");

    // The group resolves: a comment, then the "Done" transition found by name.
    tracker.deliver(&resolved(n.clone())).await.unwrap();
    assert_eq!(
        site.calls(),
        [
            "POST /rest/api/2/issue/OPS-1/comment",
            "GET /rest/api/2/issue/OPS-1/transitions",
            "POST /rest/api/2/issue/OPS-1/transitions"
        ]
    );
    let issue = site.issue("OPS-1");
    assert_eq!(issue["status"], "Done");
    assert!(
        issue["comments"][1]
            .as_str()
            .unwrap()
            .contains("RESOLVED DiskFull")
    );

    // It fires again: the resolved issue is reopened rather than a new one created.
    tracker.deliver(&n).await.unwrap();
    assert_eq!(
        site.calls(),
        [
            "POST /rest/api/2/issue/OPS-1/comment",
            "GET /rest/api/2/issue/OPS-1/transitions",
            "POST /rest/api/2/issue/OPS-1/transitions"
        ]
    );
    assert_eq!(site.issue("OPS-1")["status"], "To Do");
    assert_eq!(site.issue("OPS-1")["comments"].as_array().unwrap().len(), 3);
    assert_eq!(site.issues.lock().unwrap().len(), 1);

    // Resolved with no issue: nothing to do, no call.
    let mut never = resolved(n);
    never.reference = None;
    assert_eq!(tracker.deliver(&never).await.unwrap().reference, None);
    assert!(site.calls().is_empty());
}

#[tokio::test]
async fn the_resolve_transition_is_found_by_name_or_named_as_missing() {
    let (site, url) = jira(BASIC).await;
    let n = notification(
        "platform",
        "g",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );
    let mut done = resolved(n.clone());

    let any_case = channel(&url, json!({ "resolve_transition": "done" }));
    done.reference = any_case.deliver(&n).await.unwrap().reference;
    any_case.deliver(&done).await.unwrap();
    assert_eq!(site.issue("OPS-1")["status"], "Done");

    let close = channel(&url, json!({ "resolve_transition": "Close" }));
    done.reference = close.deliver(&n).await.unwrap().reference;
    let err = close.deliver(&done).await.unwrap_err();
    assert!(!err.retryable);
    for name in ["\"Close\"", "\"In Progress\"", "\"Done\"", "OPS-2"] {
        assert!(err.message.contains(name), "{name} not in {}", err.message);
    }
    assert_eq!(site.issue("OPS-2")["status"], "To Do");
}

#[tokio::test]
async fn bearer_tokens_authenticate_and_wrong_ones_are_permanent() {
    let (site, url) = jira("Bearer pat-123").await;
    let n = notification(
        "platform",
        "g",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );

    let pat = channel(&url, json!({ "bearer_token": "pat-123" }));
    assert_eq!(
        pat.deliver(&n).await.unwrap().reference.as_deref(),
        Some("OPS-1")
    );

    let wrong = channel(&url, json!({ "bearer_token": "pat-wrong-999" }));
    let err = wrong.deliver(&n).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("HTTP 401"), "{}", err.message);
    assert!(err.message.contains("not authenticated"), "{}", err.message);
    assert!(!err.message.contains("pat-wrong-999"), "{}", err.message);
    site.calls();
}

#[tokio::test]
async fn jira_failures_say_whether_retrying_helps() {
    let (site, url) = jira(BASIC).await;
    let n = notification(
        "platform",
        "g",
        vec![alert("DiskFull", "db-1", Level::Critical)],
    );

    let odd_priority = channel(&url, json!({ "priority": { "critical": "P1" } }));
    let err = odd_priority.deliver(&n).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("HTTP 400"), "{}", err.message);
    assert!(
        err.message
            .contains("priority: The priority selected is invalid."),
        "{}",
        err.message
    );

    let tracker = channel(&url, json!({}));
    site.canned.push(
        Canned::new(429, json!({ "errorMessages": ["Rate limit exceeded"] })).retry_after("10"),
    );
    let err = tracker.deliver(&n).await.unwrap_err();
    assert!(err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_secs(10)));
    assert!(
        err.message.contains("Rate limit exceeded"),
        "{}",
        err.message
    );

    site.canned.push(Canned::new(503, json!({})));
    let err = tracker.deliver(&n).await.unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(site.issues.lock().unwrap().is_empty());

    // Someone deleted the group's issue: a firing group gets a new one, a resolved group has
    // nothing left to resolve.
    let mut deleted = n.clone();
    deleted.reference = Some("OPS-404".into());
    let created = tracker.deliver(&deleted).await.unwrap();
    assert_eq!(created.reference.as_deref(), Some("OPS-1"));
    let mut deleted = resolved(deleted);
    deleted.reference = Some("OPS-405".into());
    assert_eq!(tracker.deliver(&deleted).await.unwrap().reference, None);
    assert_eq!(site.issue("OPS-1")["status"], "To Do");
}

#[test]
fn jira_settings_problems_are_reported_together() {
    let both = settings(
        "https://acme.atlassian.net",
        json!({ "user": "u", "api_token": "t", "bearer_token": "b", "labels": ["two words"] }),
    );
    let Err(issues) = both.build(&ctx()) else {
        panic!("bad settings were accepted");
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["bearer_token", "labels.0"]);

    let mut none = settings("https://acme.atlassian.net", json!({ "user": "u" }));
    none.project = String::new();
    let Err(issues) = none.build(&ctx()) else {
        panic!("settings without a token were accepted");
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["api_token", "project"]);
}
