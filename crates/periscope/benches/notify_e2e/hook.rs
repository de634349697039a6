//! The bench's own loopback HTTP server: the webhook every target calls (Alertmanager's
//! version 4 payload, from Periscope and from Alertmanager alike), and `/metrics`, the value
//! Prometheus scrapes in place of a push.
//!
//! A call's time is taken when its body has been read and parsed, before anything else is done
//! with it: that is the moment "the webhook received it".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use tokio::sync::Notify;

/// One alert of a received call.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
}

impl Seen {
    /// The value of label `name`, or "".
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// One webhook call.
struct Call {
    at: Instant,
    alerts: Vec<Seen>,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    arrived: Notify,
    /// What `/metrics` answers.
    exposition: Mutex<String>,
}

/// The running server.
#[derive(Clone)]
pub struct Hook {
    shared: Arc<Shared>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Hook {
    /// Binds a free loopback port and serves until the runtime ends.
    pub async fn start() -> Result<Hook, String> {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(take))
            .route("/metrics", axum::routing::get(expose))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot bind the webhook server: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("webhook server address: {e}"))?
            .to_string();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("webhook server stopped: {e}");
            }
        });
        Ok(Hook { shared, addr })
    }

    /// The webhook URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// How many calls have arrived so far: a later [`Hook::wait_for`] looks only after it.
    pub fn mark(&self) -> usize {
        self.shared.calls.lock().unwrap().len()
    }

    /// Sets what `/metrics` answers from now on.
    pub fn expose(&self, text: String) {
        *self.shared.exposition.lock().unwrap() = text;
    }

    /// When the first call after `from` carrying an alert that `wanted` accepts arrived, waiting
    /// for it until `deadline`; `None` if none came by then.
    pub async fn wait_for(
        &self,
        from: usize,
        deadline: Instant,
        wanted: impl Fn(&Seen) -> bool,
    ) -> Option<Instant> {
        let mut seen = from;
        loop {
            // Registered before looking, so a call that lands in between still wakes us.
            let arrived = self.shared.arrived.notified();
            {
                let calls = self.shared.calls.lock().unwrap();
                if let Some(call) = calls[seen..].iter().find(|c| c.alerts.iter().any(&wanted)) {
                    return Some(call.at);
                }
                seen = calls.len();
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            // The bound only guards against a lost wake-up; the time comes from the call.
            let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(200)), arrived)
                .await;
        }
    }
}

async fn take(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> &'static str {
    let at = Instant::now();
    let alerts = body["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .map(|a| Seen {
                    status: a["status"].as_str().unwrap_or("").to_string(),
                    labels: a["labels"]
                        .as_object()
                        .map(|l| {
                            l.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    shared.calls.lock().unwrap().push(Call { at, alerts });
    shared.arrived.notify_waiters();
    "ok"
}

async fn expose(State(shared): State<Arc<Shared>>) -> ([(&'static str, &'static str); 1], String) {
    let text = shared.exposition.lock().unwrap().clone();
    ([("content-type", "text/plain; version=0.0.4")], text)
}
