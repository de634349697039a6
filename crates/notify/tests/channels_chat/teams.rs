//! The `teams` channel against a stand-in for a Teams Workflows webhook: `POST
//! /workflows/<id>/triggers/manual/paths/invoke?...&sig=<secret>` with a message carrying one
//! Adaptive Card, answered `202 Accepted`; a card Teams cannot read is a 400.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use notify::Channel;
use notify::channel::teams::{ADAPTIVE_CARD_CONTENT_TYPE, TeamsChannel, TeamsSettings};
use serde_json::{Value, json};

use super::*;

const WORKFLOW: &str = "4f1c2d";
const SIG: &str = "sigsecret99";

/// Why Teams would refuse `body`, if it would: the message and card shape it documents.
fn check_card(body: &Value) -> Result<(), String> {
    if body["type"] != "message" {
        return Err("type must be message".into());
    }
    let attachments = body["attachments"].as_array().ok_or("no attachments")?;
    let [attachment] = attachments.as_slice() else {
        return Err("want exactly one attachment".into());
    };
    if attachment["contentType"] != ADAPTIVE_CARD_CONTENT_TYPE {
        return Err(format!(
            "unsupported contentType {}",
            attachment["contentType"]
        ));
    }
    let card = &attachment["content"];
    if card["type"] != "AdaptiveCard" || !card["version"].is_string() {
        return Err("content is not an AdaptiveCard with a version".into());
    }
    for element in card["body"].as_array().ok_or("card has no body")? {
        if element["type"] == "TextBlock" && !element["text"].is_string() {
            return Err("TextBlock without text".into());
        }
    }
    for action in card["actions"].as_array().into_iter().flatten() {
        if action["type"] == "Action.OpenUrl"
            && !action["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("http"))
        {
            return Err("Action.OpenUrl without url".into());
        }
    }
    Ok(())
}

async fn teams_stand_in(recorder: Arc<Recorder>) -> String {
    async fn invoke(
        State(rec): State<Arc<Recorder>>,
        Path(workflow): Path<String>,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let query = query.unwrap_or_default();
        if workflow != WORKFLOW || !query.split('&').any(|kv| kv == format!("sig={SIG}")) {
            return (StatusCode::NOT_FOUND, "WorkflowNotFound").into_response();
        }
        if !is_json(&headers) {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType").into_response();
        }
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return (StatusCode::BAD_REQUEST, "InvalidRequestContent").into_response();
        };
        if let Err(why) = check_card(&body) {
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
        if let Some(canned) = rec.next_canned() {
            return canned;
        }
        rec.record(&headers, body);
        StatusCode::ACCEPTED.into_response()
    }
    let router = axum::Router::new()
        .route("/workflows/{id}/triggers/manual/paths/invoke", post(invoke))
        .with_state(recorder);
    serve(router).await
}

fn teams(base: &str, sig: &str) -> TeamsChannel {
    TeamsSettings {
        webhook_url: format!(
            "{base}/workflows/{WORKFLOW}/triggers/manual/paths/invoke?api-version=2016-06-01&sig={sig}"
        ),
    }
    .build(&ctx())
    .ok()
    .unwrap()
}

fn text_blocks(body: &Value) -> Vec<String> {
    body["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TextBlock")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn posts_an_adaptive_card_with_title_text_and_acknowledge_button() {
    let rec = Recorder::new();
    let base = teams_stand_in(rec.clone()).await;
    let ch = teams(&base, SIG);
    assert_eq!(ch.kind(), "teams");
    let n = notification();
    ch.deliver(&n).await.unwrap();

    let body = &rec.received()[0].body;
    let blocks = text_blocks(body);
    let templates = Templates::default();
    assert_eq!(blocks[0], templates.render("title", &n).text);
    // Every line of the text template is there, each as its own paragraph.
    let text = templates.render("text", &n).text;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            blocks[1].contains(line),
            "{line:?} missing from {:?}",
            blocks[1]
        );
    }
    assert!(blocks[1].contains("DiskFull on db1\n\n"), "{:?}", blocks[1]);
    let card = &body["attachments"][0]["content"];
    assert_eq!(card["body"][0]["color"], "Attention");
    assert_eq!(
        card["actions"],
        json!([{
            "type": "Action.OpenUrl",
            "title": "Acknowledge",
            "url": "https://periscope.example/ack/abc123",
        }])
    );
}

#[tokio::test]
async fn without_an_acknowledge_link_there_is_no_button_and_resolved_is_green() {
    let rec = Recorder::new();
    let base = teams_stand_in(rec.clone()).await;
    let mut n = all_resolved(notification());
    n.ack_url = None;
    teams(&base, SIG).deliver(&n).await.unwrap();
    let card = &rec.received()[0].body["attachments"][0]["content"];
    assert!(card.get("actions").is_none(), "{card}");
    assert_eq!(card["body"][0]["color"], "Good");
}

#[tokio::test]
async fn teams_failures_are_sorted_into_retry_and_give_up() {
    let rec = Recorder::new();
    let base = teams_stand_in(rec.clone()).await;
    let ch = teams(&base, SIG);
    let n = notification();

    rec.then(Canned::new(StatusCode::TOO_MANY_REQUESTS, "").retry_after("45"));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(45)));

    rec.then(Canned::new(StatusCode::BAD_GATEWAY, "upstream"));
    assert!(ch.deliver(&n).await.unwrap_err().retryable);

    // A wrong signature: the workflow URL is not known; the signature must not leak.
    let e = teams(&base, "wrongsig").deliver(&n).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(
        e.message.contains("404") && e.message.contains("WorkflowNotFound"),
        "{e}"
    );
    assert!(
        !e.message.contains("wrongsig") && !e.message.contains(WORKFLOW),
        "{e}"
    );
    assert!(rec.received().is_empty());
}

#[tokio::test]
async fn a_broken_text_template_is_named_at_the_end_of_the_card() {
    let rec = Recorder::new();
    let base = teams_stand_in(rec.clone()).await;
    let ch = TeamsSettings {
        webhook_url: format!("{base}/workflows/{WORKFLOW}/triggers/manual/paths/invoke?sig={SIG}"),
    }
    .build(&ctx_with(&[("text", "{{ alerts | int }}")]))
    .ok()
    .unwrap();
    ch.deliver(&notification()).await.unwrap();
    let blocks = text_blocks(&rec.received()[0].body);
    let last = blocks[1].lines().last().unwrap();
    assert!(
        last.starts_with("(template warning: template `text` failed"),
        "{}",
        blocks[1]
    );
}
