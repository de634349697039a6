//! The response side end to end with the real binary: a pushed metric crosses a TOML rule,
//! the webhook receives Alertmanager's version 4 payload, the recovery arrives as `resolved`,
//! a restart sends nothing twice, and silences and acknowledgements work over the API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use common::World;
use common::serve::{Serve, free_port};
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<(Instant, Value)>>>;

/// A webhook receiver on a free port, keeping every body it gets.
async fn webhook() -> (String, Received) {
    let received: Received = Arc::default();
    async fn take(State(r): State<Received>, Json(body): Json<Value>) -> &'static str {
        r.lock().unwrap().push((Instant::now(), body));
        "ok"
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(take))
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// POSTs `body` as JSON.
async fn post_json(client: &reqwest::Client, url: &str, body: Value) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// GETs `url` and reads the JSON answer.
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let text = client.get(url).send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

fn config(port: u16, hook: &str) -> String {
    format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [rules]\ninterval = \"200ms\"\n\n\
         [rule.ApiLatency]\n\
         expr = 'latency_seconds{{job=\"api\"}}'\n\
         above = {{ critical = 4 }}\n\
         no_data = \"ok\"\n\
         annotations = {{ summary = \"{{{{ $labels.job }}}} is slow\" }}\n\n\
         [notify]\nexternal_url = \"http://periscope.test\"\n\n\
         [notify.route]\nreceiver = \"ops\"\ngroup_by = [\"alertname\"]\n\
         group_wait = \"0s\"\ngroup_interval = \"500ms\"\n\n\
         [notify.receiver.ops]\n\
         [[notify.receiver.ops.channel]]\nkind = \"webhook\"\nurl = \"{hook}\"\n"
    )
}

async fn push(client: &reqwest::Client, base: &str, value: f64) -> Instant {
    let now_ms = model::Clock::now(&model::SystemClock).as_millis();
    let sent = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/push"))
        .header("content-type", "text/plain; version=0.0.4")
        .body(format!("latency_seconds{{job=\"api\"}} {value} {now_ms}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    sent
}

/// Waits up to 30 s for the `n`th body (counting from 1) the webhook received.
async fn nth(received: &Received, n: usize) -> (Instant, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(got) = received.lock().unwrap().get(n - 1).cloned() {
            return got;
        }
        assert!(Instant::now() < deadline, "webhook call {n} never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_alert_reaches_the_webhook_resolves_and_is_not_repeated_after_a_restart() {
    let (hook, received) = webhook().await;
    let port = free_port();
    let w = World::new(&config(port, &hook));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();

    let pushed = push(&client, &serve.base, 5.0).await;
    let (at, body) = nth(&received, 1).await;
    eprintln!("sample pushed -> webhook called: {:?}", at - pushed);
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "ops");
    assert_eq!(body["groupLabels"], json!({ "alertname": "ApiLatency" }));
    assert_eq!(body["externalURL"], "http://periscope.test");
    let alert = &body["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["alertname"], "ApiLatency");
    assert_eq!(alert["labels"]["level"], "critical");
    assert_eq!(alert["annotations"]["summary"], "api is slow");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(alert["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(body["periscope"]["level"], "critical");

    // A restart while it still fires: the log remembers it was sent.
    serve.stop();
    let serve = Serve::start(&w, port);
    // A new client: the old one's pooled connection went with the old process.
    let client = reqwest::Client::new();
    push(&client, &serve.base, 5.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "sent again after restart"
    );

    // It recovers: the resolution arrives, once.
    push(&client, &serve.base, 1.0).await;
    let (_, body) = nth(&received, 2).await;
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["alerts"][0]["status"], "resolved");
    assert_ne!(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(received.lock().unwrap().len(), 2);
    let log = serve.stop();
    // No failed delivery and no unsaved notification state was logged.
    assert!(!log.contains("notification"), "{log}");
}

#[tokio::test]
async fn silences_and_acknowledgements_over_the_api() {
    let (hook, received) = webhook().await;
    let port = free_port();
    let w = World::new(&config(port, &hook));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let silences = format!("{}/api/v1/silences", serve.base);

    let made = post_json(
        &client,
        &silences,
        json!({
            "matchers": ["alertname=\"ApiLatency\""],
            "duration": "1h",
            "created_by": "alice",
            "comment": "deploying the API",
        }),
    )
    .await;
    assert_eq!(made.status().as_u16(), 200);
    let made: Value = serde_json::from_str(&made.text().await.unwrap()).unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    let list = get_json(&client, &silences).await;
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert_eq!(list["data"][0]["state"], "active");

    // A silenced alert reaches nobody.
    push(&client, &serve.base, 5.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(received.lock().unwrap().is_empty());
    let status = get_json(&client, &format!("{}/api/v1/notify/status", serve.base)).await;
    assert!(
        status["data"]["counters"]["muted"].as_u64().unwrap() >= 1,
        "{status}"
    );

    // Expired: the alert, still firing, is sent.
    let gone = client
        .delete(format!("{}/api/v1/silence/{id}", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 200);
    let (_, body) = nth(&received, 1).await;
    assert_eq!(body["status"], "firing");

    // Bad requests say what is wrong.
    let bad = post_json(
        &client,
        &silences,
        json!({ "matchers": ["alertname"], "duration": "1h", "created_by": "a", "comment": "c" }),
    )
    .await;
    assert_eq!(bad.status().as_u16(), 400);
    let text = bad.text().await.unwrap();
    assert!(text.contains("alertname"), "{text}");
    let again = client
        .delete(format!("{}/api/v1/silence/{id}", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 400, "expiring twice is refused");
    let ack = post_json(
        &client,
        &format!("{}/api/v1/notify/ack", serve.base),
        json!({ "group": "root:{}", "by": "alice" }),
    )
    .await;
    assert_eq!(ack.status().as_u16(), 404);
    let forged = client
        .get(format!("{}/api/v1/notify/ack?group=x&sig=00", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    serve.stop();
}

#[tokio::test]
async fn silences_and_acknowledgements_from_the_command_line() {
    let (hook, _received) = webhook().await;
    let port = free_port();
    let w = World::new(&config(port, &hook));
    let serve = Serve::start(&w, port);
    // The CLI finds `serve` from the config's [http] listen.
    let added = w.run(&[
        "silence",
        "add",
        "service=\"db\"",
        "--duration",
        "2h",
        "--author",
        "alice",
        "--comment",
        "disk swap",
    ]);
    assert_eq!(added.status.code(), Some(0), "{}", common::stderr(&added));
    let id = common::stdout(&added).trim().to_string();
    assert_eq!(id.len(), 16, "{id}");
    let list = common::stdout(&w.run(&["silence", "list"]));
    assert!(
        list.contains(&id) && list.contains("disk swap") && list.contains("active"),
        "{list}"
    );
    let expired = w.run(&["silence", "expire", &id]);
    assert_eq!(
        expired.status.code(),
        Some(0),
        "{}",
        common::stderr(&expired)
    );
    let list = common::stdout(&w.run(&["silence", "list"]));
    assert!(!list.contains(&id), "{list}");
    let all = common::stdout(&w.run(&["silence", "list", "--expired"]));
    assert!(all.contains(&id) && all.contains("expired"), "{all}");
    let bad = w.run(&[
        "silence",
        "add",
        "service",
        "--duration",
        "2h",
        "--author",
        "a",
        "--comment",
        "c",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        common::stderr(&bad).contains("service"),
        "{}",
        common::stderr(&bad)
    );
    let ack = w.run(&["ack", "root:{}", "--by", "alice"]);
    assert_eq!(ack.status.code(), Some(1));
    assert!(
        common::stderr(&ack).contains("nothing is escalating"),
        "{}",
        common::stderr(&ack)
    );
    serve.stop();
}
