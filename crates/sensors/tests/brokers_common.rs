//! Shared by the broker receiver tests (`brokers_*.rs` include it with `#[path]`): an in-memory
//! sink that can play a store that is down, unique names, bounded waits, and a clear failure
//! when a broker is not running.
#![allow(dead_code)] // each test file uses a different part of it

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use model::{BoxFuture, IngestError, IngestReceipt, Payload, PayloadSink};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every wait in these tests gives up after this long.
pub const WAIT: Duration = Duration::from_secs(30);

/// Retry timing fast enough for tests, as settings text.
pub const FAST_RETRY: &str = "retry_min = \"20ms\"\nretry_max = \"200ms\"\n";

/// A sink that keeps what it stores, counts every call, rejects bodies starting with `poison`,
/// and answers `Unavailable` while switched off.
#[derive(Debug, Default)]
pub struct TestSink {
    /// Body → how many times it was stored.
    stored: Mutex<BTreeMap<String, u32>>,
    calls: AtomicU64,
    down: AtomicBool,
}

impl TestSink {
    pub fn new() -> Arc<Self> {
        Arc::new(TestSink::default())
    }

    /// Plays a store that is down (`true`) or back (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Distinct bodies stored.
    pub fn bodies(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Bodies stored more than once (allowed: at-least-once), with their counts.
    pub fn duplicates(&self) -> Vec<(String, u32)> {
        self.lock()
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(b, n)| (b.clone(), *n))
            .collect()
    }

    pub fn stored_count(&self) -> usize {
        self.lock().len()
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u32>> {
        self.stored.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PayloadSink for TestSink {
    fn ingest(&self, payload: Payload) -> BoxFuture<'_, Result<IngestReceipt, IngestError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let body = String::from_utf8_lossy(&payload.body).into_owned();
        let answer = if self.down.load(Ordering::SeqCst) {
            Err(IngestError::Unavailable("test store is down".into()))
        } else if body.starts_with("poison") {
            Err(IngestError::Poison(format!("test sink rejects `{body}`")))
        } else {
            *self.lock().entry(body).or_default() += 1;
            Ok(IngestReceipt { samples: 1 })
        };
        Box::pin(async move { answer })
    }
}

/// A name no other test (nor an earlier run) uses: `prefix-pid-random`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let random = RandomState::new().hash_one(n) % 1_000_000;
    format!("{prefix}-{}-{n}-{random}", std::process::id())
}

/// Fails the test with what to do when nothing listens at `addr`.
pub fn require_server(what: &str, addr: &str, start: &str) {
    let parsed: SocketAddr = addr.parse().expect("a socket address");
    if let Err(e) = TcpStream::connect_timeout(&parsed, Duration::from_secs(3)) {
        panic!(
            "{what} is unreachable at {addr} ({e}); start it with `{start}` or run scripts/services.sh"
        );
    }
}

/// Polls `check` until it holds; fails the test after [`WAIT`] saying what did not happen.
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > WAIT {
            panic!("timed out after {WAIT:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `fut` with the [`WAIT`] limit, failing the test with `what` if it takes longer.
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

/// A started receiver task and the switch that stops it.
pub struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    pub fn new(start: impl FnOnce(watch::Receiver<bool>) -> JoinHandle<()>) -> Self {
        let (stop, rx) = watch::channel(false);
        Running {
            task: start(rx),
            stop,
        }
    }

    /// Asks the task to stop and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        bounded("the receiver task stops", self.task)
            .await
            .expect("the receiver task did not panic");
    }
}

/// `n` bodies `prefix-0` .. `prefix-(n-1)`.
pub fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

/// The sorted union of body lists.
pub fn sorted(lists: &[&[String]]) -> Vec<String> {
    let mut all: Vec<String> = lists.iter().flat_map(|l| l.iter().cloned()).collect();
    all.sort();
    all
}

#[tokio::test]
async fn test_sink_plays_store_states() {
    let sink = TestSink::new();
    let payload = |body: &str| Payload {
        body: body.as_bytes().to_vec(),
        format: model::PayloadFormat::Json,
        origin: "test".into(),
    };
    assert!(sink.ingest(payload("a")).await.is_ok());
    assert!(matches!(
        sink.ingest(payload("poison-1")).await,
        Err(IngestError::Poison(_))
    ));
    sink.set_down(true);
    assert!(matches!(
        sink.ingest(payload("b")).await,
        Err(IngestError::Unavailable(_))
    ));
    assert_eq!(sink.bodies(), ["a"]);
    assert_eq!(sink.calls(), 3);
}
