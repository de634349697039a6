//! The response side end to end with the real binary: a pushed metric crosses a TOML rule,
//! the webhook receives Alertmanager's version 4 payload, the recovery arrives as `resolved`,
//! a restart sends nothing twice, and silences and acknowledgements work over the API and
//! through the signed link's page.

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
    common::notify::config(port, hook, "", "")
}

/// POSTs `fields` as an HTML form would.
async fn post_form(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The status and text of a page, checking it is HTML.
async fn page(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(kind, "text/html; charset=utf-8");
    (status, response.text().await.unwrap())
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

    let pushed = common::notify::push(&client, &serve.base, 5.0).await;
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
    common::notify::push(&client, &serve.base, 5.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "sent again after restart"
    );

    // It recovers: the resolution arrives, once.
    common::notify::push(&client, &serve.base, 1.0).await;
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
    common::notify::push(&client, &serve.base, 5.0).await;
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
    // Links and forms that were not signed for their group are refused, saying why.
    let ack_url = format!("{}/api/v1/notify/ack", serve.base);
    let forged = client
        .get(format!("{ack_url}?group=x&sig=00"))
        .send()
        .await
        .unwrap();
    let (code, text) = page(forged).await;
    assert_eq!(code, 403);
    assert!(text.contains("signature does not match"), "{text}");
    let (code, text) = page(
        client
            .get(format!("{ack_url}?group=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 403);
    assert!(text.contains("needs both `group` and `sig`"), "{text}");
    let (code, _) =
        page(post_form(&client, &ack_url, &[("group", "x"), ("sig", "00")]).await).await;
    assert_eq!(code, 403);
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acknowledge_link_asks_on_get_and_acknowledges_on_post() {
    let (hook, received) = webhook().await;
    let port = free_port();
    let w = World::new(&common::notify::config(
        port,
        &hook,
        "escalation = \"ops\"\n",
        &common::notify::escalation("2s"),
    ));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let status_url = format!("{}/api/v1/notify/status", serve.base);

    common::notify::push(&client, &serve.base, 5.0).await;
    let (_, first) = nth(&received, 1).await;
    assert_eq!(first["periscope"]["people"][0]["name"], "alice");
    // The link exactly as the message carries it, pointed at this server.
    let link = first["periscope"]["ackURL"].as_str().unwrap();
    let link = link.replace("http://periscope.test", &serve.base);
    let parsed = url::Url::parse(&link).unwrap();
    let field = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let (group, sig) = (field("group"), field("sig"));
    assert_eq!(group, first["groupKey"].as_str().unwrap());

    // Opening it, as a link preview would, shows the group and a form, and changes nothing.
    let (code, text) = page(client.get(&link).send().await.unwrap()).await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("alertname=&quot;ApiLatency&quot;"), "{text}");
    assert!(text.contains("Escalating: step 1 of 2 sent"), "{text}");
    assert!(
        text.contains("<form method=\"post\" action=\"ack\">"),
        "{text}"
    );
    assert!(
        text.contains(&format!("name=\"sig\" value=\"{sig}\"")),
        "{text}"
    );
    let status = get_json(&client, &status_url).await;
    assert_eq!(status["data"]["escalations"][0]["group"], group.as_str());
    assert_eq!(
        status["data"]["escalations"][0]["acknowledged_by"],
        Value::Null,
        "{status}"
    );
    // The escalation goes on: step 2 reaches Bob.
    let (_, second) = nth(&received, 2).await;
    assert_eq!(second["periscope"]["people"][0]["name"], "bob");

    // Pressing the button acknowledges, for the name typed in.
    let ack_url = format!("{}/api/v1/notify/ack", serve.base);
    let fields = [
        ("group", group.as_str()),
        ("sig", sig.as_str()),
        ("by", "carol"),
    ];
    let (code, text) = page(post_form(&client, &ack_url, &fields).await).await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("Acknowledged by <b>carol</b>"), "{text}");
    let status = get_json(&client, &status_url).await;
    assert_eq!(
        status["data"]["escalations"][0]["acknowledged_by"], "carol",
        "{status}"
    );
    let (code, text) = page(client.get(&link).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert!(
        text.contains("Already acknowledged by <b>carol</b>"),
        "{text}"
    );
    assert!(!text.contains("<form"), "{text}");

    // A form whose signature is for another group acknowledges nothing.
    let other = [("group", "root:{}"), ("sig", sig.as_str())];
    let (code, _) = page(post_form(&client, &ack_url, &other).await).await;
    assert_eq!(code, 403);
    // The JSON API answers on the same path; the first acknowledgement stands.
    let api = post_json(&client, &ack_url, json!({ "group": group, "by": "dave" })).await;
    assert_eq!(api.status().as_u16(), 200);
    let status = get_json(&client, &status_url).await;
    assert_eq!(
        status["data"]["escalations"][0]["acknowledged_by"], "carol",
        "{status}"
    );
    assert_eq!(received.lock().unwrap().len(), 2);
    serve.stop();
}

#[tokio::test]
async fn silences_and_acknowledgements_from_the_command_line() {
    let (hook, _received) = webhook().await;
    let port = free_port();
    let w = World::new(&config(port, &hook));
    let serve = Serve::start(&w, port);
    // The CLI finds `serve` from the config's [http] listen.
    let added = w.run(&common::notify::SILENCE_DB);
    assert_eq!(added.status.code(), Some(0), "{}", common::stderr(&added));
    let id = common::stdout(&added).trim().to_string();
    assert_eq!(id.len(), 16, "{id}");
    let list = common::stdout(&w.run(&["silence", "list"]));
    assert!(
        list.contains(&id) && list.contains("disk swap") && list.contains("active"),
        "{list}"
    );
    // test-route asks the server which silences mute the alert; the config alone cannot know.
    let route = common::stdout(&w.run(&["test-route", "alertname=DiskFull", "service=db"]));
    assert!(
        route.contains(&format!("SILENCED by {id} service=\"db\" until ")),
        "{route}"
    );
    assert!(route.contains("disk swap (alice)"), "{route}");
    let other = common::stdout(&w.run(&["test-route", "alertname=DiskFull", "service=web"]));
    assert!(other.contains("none silences this alert now"), "{other}");
    let offline = common::stdout(&w.run(&["test-route", "service=db", "--offline"]));
    assert!(!offline.contains("SILENCED"), "{offline}");
    let elsewhere = w.run(&["test-route", "service=db", "--url", "http://127.0.0.1:9"]);
    assert_eq!(
        elsewhere.status.code(),
        Some(1),
        "an unreachable --url is an error"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_hears_on_its_own_channel_after_its_agreed_delay() {
    let (hook, received) = webhook().await;
    let port = free_port();
    let partner = format!(
        "[rule.ApiLatency.labels]\npartner = \"acme\"\n\n\
         [partner.acme]\nafter = \"1s\"\n\
         [[partner.acme.contact]]\nname = \"ACME NOC\"\nemail = \"noc@acme.example\"\n\
         [[partner.acme.channel]]\nkind = \"webhook\"\nurl = \"{hook}\"\n\
         [[partner.acme.failure_mode]]\nname = \"slow quotes\"\n\
         response = \"send them the slow request ids\"\n"
    );
    let w = World::new(&common::notify::config(port, &hook, "", &partner));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    common::notify::push(&client, &serve.base, 5.0).await;

    // Our people first, at once; the partner only once the problem has lasted its second.
    let (ours_at, ours) = nth(&received, 1).await;
    assert_eq!(ours["receiver"], "ops");
    let (theirs_at, theirs) = nth(&received, 2).await;
    assert_eq!(theirs["receiver"], "partner:acme");
    assert!(theirs_at > ours_at);
    assert_eq!(theirs["periscope"]["people"][0]["name"], "ACME NOC");
    // Both read the agreed failure mode and response.
    for body in [&ours, &theirs] {
        let annotations = &body["alerts"][0]["annotations"];
        assert_eq!(annotations["failure_mode"], "slow quotes", "{body}");
        assert_eq!(annotations["response"], "send them the slow request ids");
    }
    // It recovers: both hear the resolution, once each.
    common::notify::push(&client, &serve.base, 1.0).await;
    let (_, a) = nth(&received, 3).await;
    let (_, b) = nth(&received, 4).await;
    let mut resolved = [a["receiver"].as_str(), b["receiver"].as_str()];
    resolved.sort();
    assert_eq!(resolved, [Some("ops"), Some("partner:acme")]);
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("resolved"), Some("resolved"))
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(received.lock().unwrap().len(), 4);
    serve.stop();
}
