//! The response side across a crash, with the real binary: `serve` is killed (SIGKILL, so
//! nothing depends on a clean shutdown) while an escalation step is pending and while a
//! delivery waits for its retry; after a restart the right notifications go out exactly once.

mod common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::World;
use common::serve::{Serve, free_port};
use model::alert::{Document, DocumentStore};
use serde_json::Value;

/// One call the webhook received: when, what it answered, the body.
#[derive(Clone)]
struct Call {
    at: Instant,
    answered: u16,
    body: Value,
}

/// A webhook receiver on a free port that answers `answer` (changeable while it runs) and
/// keeps every call.
#[derive(Clone)]
struct Hook {
    url: String,
    answer: Arc<AtomicU16>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Hook {
    async fn start(answer: u16) -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = Hook {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            answer: Arc::new(AtomicU16::new(answer)),
            calls: Arc::default(),
        };
        async fn take(State(h): State<Hook>, Json(body): Json<Value>) -> StatusCode {
            let answered = h.answer.load(Ordering::SeqCst);
            h.calls.lock().unwrap().push(Call {
                at: Instant::now(),
                answered,
                body,
            });
            StatusCode::from_u16(answered).unwrap()
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(take))
            .with_state(hook.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        hook
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits up to 20 s for the `n`th call (counting from 1).
    async fn nth(&self, n: usize) -> Call {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(call) = self.calls().get(n - 1) {
                return call.clone();
            }
            assert!(Instant::now() < deadline, "webhook call {n} never came");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The documents of `kind` that `serve` has saved, read from its state database beside it.
async fn saved(w: &World, kind: &str) -> Vec<Document> {
    let url = format!("sqlite://{}?mode=rw", w.path("state/state.db").display());
    let db = store::StateDb::open(&url).await.unwrap();
    let documents = db.load_documents(kind).await.unwrap();
    db.close().await;
    documents
}

/// The names of the people a webhook body addresses.
fn people(body: &Value) -> Vec<&str> {
    body["periscope"]["people"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_escalation_step_goes_out_once_after_a_crash() {
    let hook = Hook::start(200).await;
    let port = free_port();
    let w = World::new(&common::notify::config(
        port,
        &hook.url,
        "escalation = \"ops\"\n",
        &common::notify::escalation("3s"),
    ));
    let serve = Serve::start(&w, port);

    common::notify::push(&reqwest::Client::new(), &serve.base, 5.0).await;
    let first = hook.nth(1).await;
    assert_eq!(first.body["status"], "firing");
    assert_eq!(people(&first.body), ["alice"]);
    // Step 1 is settled once the notification log that records it is saved: killing before
    // that is the in-flight case, where sending again is the documented (and wanted) answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while saved(&w, "nflog").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "step 1 was never recorded as sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.kill();

    // Step 2 falls due (3 s after the escalation started, which was before step 1 arrived)
    // while nothing runs.
    tokio::time::sleep_until((first.at + Duration::from_millis(3300)).into()).await;
    assert_eq!(
        hook.calls().len(),
        1,
        "step 2 went out before serve was killed; the kill came too late to test anything"
    );
    let serve = Serve::start(&w, port);
    // The alert keeps firing after the restart.
    common::notify::push(&reqwest::Client::new(), &serve.base, 5.0).await;

    let second = hook.nth(2).await;
    assert_eq!(second.body["status"], "firing");
    assert_eq!(people(&second.body), ["bob"], "{}", second.body);
    assert_eq!(second.body["groupKey"], first.body["groupKey"]);
    // Long enough for a repeat of either step to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = hook.calls();
    let named: Vec<Vec<&str>> = calls.iter().map(|c| people(&c.body)).collect();
    assert_eq!(
        named,
        [vec!["alice"], vec!["bob"]],
        "each step exactly once"
    );
    let log = serve.stop();
    assert!(!log.contains("notification state unreadable"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_waiting_for_its_retry_arrives_once_after_a_crash() {
    let hook = Hook::start(503).await;
    let port = free_port();
    let w = World::new(&common::notify::config(port, &hook.url, "", ""));
    let serve = Serve::start(&w, port);
    let status_url = format!("{}/api/v1/notify/status", serve.base);

    common::notify::push(&reqwest::Client::new(), &serve.base, 5.0).await;
    let refused = hook.nth(2).await;
    assert_eq!(refused.answered, 503);
    // Killed once the pipeline has taken the second refusal and set the next try.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = reqwest::get(&status_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let status: Value = serde_json::from_str(&text).unwrap();
        if status["data"]["counters"]["retried"].as_u64().unwrap() >= 2 {
            assert_eq!(status["data"]["counters"]["delivered"], 0, "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no retry was scheduled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.kill();
    let group = refused.body["groupKey"].clone();

    hook.answer.store(200, Ordering::SeqCst);
    let serve = Serve::start(&w, port);
    common::notify::push(&reqwest::Client::new(), &serve.base, 5.0).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hook.calls().iter().any(|c| c.answered == 200) {
        assert!(Instant::now() < deadline, "the message never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the time the saved retry was due (at most 4 s after the last refusal), and a
    // while after the delivery, for a second copy to show up.
    let settle = (refused.at + Duration::from_secs(5)).max(Instant::now() + Duration::from_secs(2));
    tokio::time::sleep_until(settle.into()).await;
    let delivered: Vec<Call> = hook
        .calls()
        .into_iter()
        .filter(|c| c.answered == 200 && c.body["groupKey"] == group)
        .collect();
    let seen: Vec<String> = hook
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.answered, c.body))
        .collect();
    assert_eq!(delivered.len(), 1, "delivered exactly once: {seen:#?}");
    let body = &delivered[0].body;
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "ApiLatency");
    serve.stop();
}
