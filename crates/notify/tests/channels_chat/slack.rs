//! The `slack` and `mattermost` channels against stand-ins for their incoming webhooks.
//!
//! Slack's stand-in answers as Slack documents: `200 ok` in plain text, `400 invalid_payload` /
//! `no_text`, `404 no_service` for an unknown hook, `429` with `Retry-After` when throttled.
//! Mattermost's answers `200 ok`, and errors as a JSON object with `id`, `message` and
//! `status_code`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use notify::Channel;
use notify::channel::ChannelContext;
use notify::channel::slack::{
    ChatService, FIRING_COLOR, RESOLVED_COLOR, SlackChannel, SlackSettings,
};
use serde_json::{Value, json};

use super::*;

/// Slack's webhook path: `/services/<team>/<bot>/<secret>`.
const SLACK_PATH: &str = "/services/T0001/B0001/slacksecret";
/// Mattermost's hook key, the last segment of `/hooks/<key>`.
const MM_KEY: &str = "mmsecretkey42";

/// Checks what both services need of a message: JSON with a non-empty `text` or attachments.
fn check_message(headers: &HeaderMap, body: &Bytes) -> Result<Value, &'static str> {
    if !is_json(headers) {
        return Err("invalid_payload");
    }
    let body: Value = serde_json::from_slice(body).map_err(|_| "invalid_payload")?;
    let has_text = body["text"].as_str().is_some_and(|t| !t.trim().is_empty());
    if !has_text && body["attachments"].as_array().is_none_or(Vec::is_empty) {
        return Err("no_text");
    }
    if let Some(attachments) = body["attachments"].as_array() {
        for a in attachments {
            // Both read `color` as a hex colour (Slack also takes good/warning/danger).
            let color = a["color"].as_str().unwrap_or("");
            if !(color.starts_with('#') && color.len() == 7) {
                return Err("invalid_attachments");
            }
            if a["fallback"].as_str().is_none_or(str::is_empty) {
                return Err("invalid_attachments");
            }
        }
    }
    Ok(body)
}

async fn slack_stand_in(recorder: Arc<Recorder>) -> String {
    async fn hook(
        State(rec): State<Arc<Recorder>>,
        Path((team, bot, secret)): Path<(String, String, String)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        if format!("/services/{team}/{bot}/{secret}") != SLACK_PATH {
            return (StatusCode::NOT_FOUND, "no_service").into_response();
        }
        let body = match check_message(&headers, &body) {
            Ok(body) => body,
            Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
        };
        if let Some(canned) = rec.next_canned() {
            return canned;
        }
        rec.record(&headers, body);
        (StatusCode::OK, "ok").into_response()
    }
    let router = axum::Router::new()
        .route("/services/{team}/{bot}/{secret}", post(hook))
        .with_state(recorder);
    serve(router).await
}

async fn mattermost_stand_in(recorder: Arc<Recorder>) -> String {
    fn error(id: &str, message: &str) -> Response {
        let body = json!({ "id": id, "message": message, "status_code": 400 });
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    }
    async fn hook(
        State(rec): State<Arc<Recorder>>,
        Path(key): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        if key != MM_KEY {
            return error("web.incoming_webhook.invalid.app_error", "Invalid webhook.");
        }
        let body = match check_message(&headers, &body) {
            Ok(body) => body,
            Err(_) => return error("web.incoming_webhook.text.app_error", "No text specified."),
        };
        if let Some(canned) = rec.next_canned() {
            return canned;
        }
        rec.record(&headers, body);
        (StatusCode::OK, "ok").into_response()
    }
    let router = axum::Router::new()
        .route("/hooks/{key}", post(hook))
        .with_state(recorder);
    serve(router).await
}

fn slack(url: String, ctx: &ChannelContext) -> SlackChannel {
    let settings: SlackSettings = serde_json::from_value(json!({
        "webhook_url": url,
        "channel": "#ops",
        "username": "Periscope",
        "icon_emoji": ":rotating_light:",
    }))
    .unwrap();
    settings.build(ChatService::Slack, ctx).ok().unwrap()
}

#[tokio::test]
async fn slack_gets_the_chat_text_a_red_attachment_and_the_overrides() {
    let rec = Recorder::new();
    let base = slack_stand_in(rec.clone()).await;
    let ctx = ctx();
    let ch = slack(format!("{base}{SLACK_PATH}"), &ctx);
    assert_eq!(ch.kind(), "slack");
    let n = notification();
    ch.deliver(&n).await.unwrap();

    let body = &rec.received()[0].body;
    let expected_text = ctx.templates.render("chat", &n).text;
    assert_eq!(body["text"], expected_text);
    assert!(expected_text.contains("@alice"), "{expected_text}");
    assert!(
        expected_text.contains("<https://periscope.example/ack/abc123|Acknowledge>"),
        "{expected_text}"
    );
    assert_eq!(body["channel"], "#ops");
    assert_eq!(body["username"], "Periscope");
    assert_eq!(body["icon_emoji"], ":rotating_light:");
    assert!(body.get("icon_url").is_none());
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], FIRING_COLOR);
    assert_eq!(
        attachment["fallback"],
        ctx.templates.render("title", &n).text
    );
    let fields: Vec<(&str, &str)> = attachment["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("Status", "firing"),
            ("Level", "critical"),
            ("Alerts", "1 firing, 1 resolved")
        ]
    );
}

#[tokio::test]
async fn a_resolved_group_is_green() {
    let rec = Recorder::new();
    let base = slack_stand_in(rec.clone()).await;
    let ch = slack(format!("{base}{SLACK_PATH}"), &ctx());
    ch.deliver(&all_resolved(notification())).await.unwrap();
    let body = &rec.received()[0].body;
    assert_eq!(body["attachments"][0]["color"], RESOLVED_COLOR);
    assert_eq!(body["attachments"][0]["fields"][0]["value"], "resolved");
}

#[tokio::test]
async fn slack_throttling_outages_and_refusals() {
    let rec = Recorder::new();
    let base = slack_stand_in(rec.clone()).await;
    let ch = slack(format!("{base}{SLACK_PATH}"), &ctx());
    let n = notification();

    rec.then(Canned::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited").retry_after("1"));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));

    rec.then(Canned::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "rollup_error",
    ));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable && e.message.contains("rollup_error"), "{e}");

    rec.then(Canned::new(StatusCode::GONE, "channel_is_archived"));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(
        e.message.contains("410") && e.message.contains("channel_is_archived"),
        "{e}"
    );

    // A revoked webhook: Slack no longer knows the path.
    let revoked = slack(format!("{base}/services/T0001/B0001/revoked"), &ctx());
    let e = revoked.deliver(&n).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(
        e.message.contains("404") && e.message.contains("no_service"),
        "{e}"
    );
    assert!(
        !e.message.contains("revoked") && !e.message.contains("T0001"),
        "{e}"
    );
    assert!(e.message.starts_with("slack:"), "{e}");

    assert!(rec.received().is_empty());
}

#[tokio::test]
async fn mattermost_posts_the_same_message_and_reads_its_json_errors() {
    let rec = Recorder::new();
    let base = mattermost_stand_in(rec.clone()).await;
    let settings = SlackSettings {
        webhook_url: format!("{base}/hooks/{MM_KEY}"),
        icon_url: Some("https://periscope.example/icon.png".into()),
        ..SlackSettings::default()
    };
    let ctx = ctx();
    let ch = settings.build(ChatService::Mattermost, &ctx).ok().unwrap();
    assert_eq!(ch.kind(), "mattermost");
    let n = notification();
    ch.deliver(&n).await.unwrap();
    let body = &rec.received()[0].body;
    assert_eq!(body["text"], ctx.templates.render("chat", &n).text);
    assert_eq!(body["icon_url"], "https://periscope.example/icon.png");
    // Unset overrides are not sent, so the hook's own channel and name apply.
    assert!(body.get("channel").is_none() && body.get("username").is_none());
    assert_eq!(body["attachments"][0]["color"], FIRING_COLOR);

    let wrong = SlackSettings {
        webhook_url: format!("{base}/hooks/not-{MM_KEY}"),
        ..SlackSettings::default()
    };
    let e = wrong
        .build(ChatService::Mattermost, &ctx)
        .ok()
        .unwrap()
        .deliver(&n)
        .await
        .unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.starts_with("mattermost:"), "{e}");
    assert!(
        e.message.contains("400") && e.message.contains("Invalid webhook."),
        "{e}"
    );
    assert!(!e.message.contains(MM_KEY), "{e}");

    rec.then(Canned::new(StatusCode::SERVICE_UNAVAILABLE, "").retry_after("7"));
    let e = ch.deliver(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_broken_chat_template_still_posts_and_says_so_on_the_last_line() {
    let rec = Recorder::new();
    let base = slack_stand_in(rec.clone()).await;
    let ctx = ctx_with(&[("chat", "{{ alerts[0].labels | int }} alerts")]);
    let ch = slack(format!("{base}{SLACK_PATH}"), &ctx);
    ch.deliver(&notification()).await.unwrap();
    let text = rec.received()[0].body["text"].as_str().unwrap().to_string();
    // The default wording went out...
    assert!(text.starts_with("*[FIRING:1] DiskFull"), "{text}");
    // ...and the people reading it learn their template is broken.
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("(template warning: template `chat` failed"),
        "{text}"
    );
}

#[test]
fn settings_are_checked() {
    let both = SlackSettings {
        webhook_url: "not a url".into(),
        icon_emoji: Some(":x:".into()),
        icon_url: Some("https://example.com/i.png".into()),
        channel: Some(" ".into()),
        ..SlackSettings::default()
    };
    let issues = both.build(ChatService::Slack, &ctx()).err().unwrap();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["webhook_url", "icon_url", "channel"]);
}
