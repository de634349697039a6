//! The HTTP API's tokens with the real binary: pushes, queries, silences and the command line
//! are allowed or refused by scope; the signed acknowledge link needs no token; a token whose
//! secret is missing stops `serve` and fails `check-config`.

mod common;

use base64::Engine;
use common::World;
use common::serve::{Serve, free_port};

const PUSH_SECRET: &str = "push-0123456789abcdef";
const READ_SECRET: &str = "read-0123456789abcdef";
const OPS_SECRET: &str = "ops-0123456789abcdef";

/// A config with the store, the response side, and three tokens; reads are open.
fn world(port: u16) -> World {
    let tokens = "[http]\nlisten = \"127.0.0.1:PORT\"\nanonymous = [\"read\"]\n\n\
        [http.token.apps]\nscopes = [\"push\"]\nsecret_file = \"apps.token\"\n\n\
        [http.token.grafana]\nscopes = [\"read\"]\nsecret_file = \"grafana.token\"\n\n\
        [http.token.ops]\nscopes = [\"read\", \"push\", \"manage\"]\nsecret_file = \"ops.token\"\n";
    let config = common::notify::config(port, "http://127.0.0.1:9/hook", "", "")
        .replace(&format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"), "")
        + &tokens.replace("PORT", &port.to_string());
    let w = World::new(&config);
    w.write("apps.token", PUSH_SECRET);
    w.write("grafana.token", READ_SECRET);
    w.write("ops.token", &format!("{OPS_SECRET}\n"));
    w
}

fn push(client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/api/v1/push"))
        .header("content-type", "text/plain; version=0.0.4")
        .body("queue_depth{queue=\"orders\"} 7\n")
}

async fn status_and_error(response: reqwest::Response) -> (u16, String) {
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    let error = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    (code, error)
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_decide_who_may_push_read_and_manage() {
    let port = free_port();
    let w = world(port);
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let base = &serve.base;

    // No token: refused with the challenge and what is needed.
    let response = push(&client, base).send().await.unwrap();
    let challenge = response.headers().get("www-authenticate").cloned();
    let (code, error) = status_and_error(response).await;
    assert_eq!(code, 401, "{error}");
    assert_eq!(challenge.unwrap(), "Bearer realm=\"periscope\"");
    assert!(error.contains("`push` scope"), "{error}");

    // A read token may not push; the refusal names the fix.
    let response = push(&client, base).bearer_auth(READ_SECRET).send().await;
    let (code, error) = status_and_error(response.unwrap()).await;
    assert_eq!(code, 403, "{error}");
    assert!(
        error.contains("add \"push\" to http.token.grafana.scopes"),
        "{error}"
    );

    // A wrong secret is refused even where anonymous requests are allowed.
    let query = format!("{base}/api/v1/query?query=queue_depth");
    let response = client.get(&query).bearer_auth("nope").send().await;
    assert_eq!(status_and_error(response.unwrap()).await.0, 401);

    // The push token pushes, as Bearer and as Basic (remote-write's basic_auth).
    let response = push(&client, base).bearer_auth(PUSH_SECRET).send().await;
    assert_eq!(status_and_error(response.unwrap()).await.0, 200);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("prom:{PUSH_SECRET}"));
    let response = push(&client, base)
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await;
    assert_eq!(status_and_error(response.unwrap()).await.0, 200);

    // Reads are open to anonymous requests, and see what was pushed.
    let text = client
        .get(&query)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["data"]["result"][0]["value"][1], "7", "{body}");

    // Silences need `manage`.
    let silence = serde_json::json!({
        "matchers": ["queue=\"orders\""], "duration": "1h",
        "created_by": "alice", "comment": "migration",
    });
    let silences = format!("{base}/api/v1/silences");
    let post = |token: Option<&str>| {
        let request = client
            .post(&silences)
            .header("content-type", "application/json")
            .body(silence.to_string());
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    };
    assert_eq!(
        status_and_error(post(None).send().await.unwrap()).await.0,
        401
    );
    let response = post(Some(PUSH_SECRET)).send().await.unwrap();
    assert_eq!(status_and_error(response).await.0, 403);
    let response = post(Some(OPS_SECRET)).send().await.unwrap();
    assert_eq!(status_and_error(response).await.0, 200);

    // The acknowledge link carries its own credential: no token asked, its signature checked.
    let response = client
        .get(format!("{base}{}", notify::ack::ACK_PATH))
        .send()
        .await
        .unwrap();
    let (code, page) = (response.status().as_u16(), response.text().await.unwrap());
    assert_eq!(code, 403, "{page}");
    assert!(page.contains("Link not valid"), "{page}");
    // Acknowledging by name (the JSON API) needs `manage`, whatever JSON type is claimed.
    for content_type in ["application/json", "application/vnd.api+json", "text/plain"] {
        let response = client
            .post(format!("{base}{}", notify::ack::ACK_PATH))
            .header("content-type", content_type)
            .body(r#"{"group": "root:{}", "by": "mallory"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{content_type}");
    }
    serve.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_sends_the_token_from_the_environment() {
    let port = free_port();
    let w = world(port);
    let serve = Serve::start(&w, port);
    let args = common::notify::SILENCE_DB;
    let refused = w.run(&args);
    assert_eq!(refused.status.code(), Some(1));
    let said = common::stderr(&refused);
    assert!(said.contains("`manage` scope"), "{said}");
    assert!(said.contains("export PERISCOPE_TOKEN="), "{said}");

    let added = w
        .cmd(&args)
        .env("PERISCOPE_TOKEN", OPS_SECRET)
        .output()
        .unwrap();
    assert_eq!(added.status.code(), Some(0), "{}", common::stderr(&added));
    // Listing only reads: no token needed here.
    let list = common::stdout(&w.run(&["silence", "list"]));
    assert!(list.contains("disk swap"), "{list}");
    serve.stop();
}

#[test]
fn a_token_secret_that_cannot_be_read_stops_serve_and_fails_the_check() {
    let port = free_port();
    let w = world(port);
    std::fs::remove_file(w.path("ops.token")).unwrap();
    let check = w.run(&["check-config"]);
    assert_eq!(check.status.code(), Some(1));
    let said = common::stderr(&check);
    assert!(said.contains("http.token.ops.secret_file"), "{said}");
    assert!(said.contains("cannot read ops.token"), "{said}");

    let serve = w.run(&["serve"]);
    assert_eq!(serve.status.code(), Some(3));
    assert!(common::stderr(&serve).contains("http.token.ops.secret_file"));

    // A command that only asks a server loads the same config without the server's secrets
    // (here it finds no server: nothing runs).
    let list = w.run(&["silence", "list"]);
    let said = common::stderr(&list);
    assert!(said.contains("cannot reach"), "{said}");
}
