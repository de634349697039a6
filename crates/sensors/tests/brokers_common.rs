//! Shared by the broker receiver tests (`brokers_*.rs` include it with `#[path]`): an in-memory
//! sink that can play a store that is down or slow and keeps samples by (series, timestamp) as
//! the store does, unique names, bounded waits, and a clear failure when a broker is not
//! running.
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
///
/// Bodies that parse in the payload's format also have their timestamped samples kept by
/// (series, timestamp), with the store's rules: the same value again is absorbed (stored once,
/// counted), a different value refuses the whole payload as poison. So a test can tell a
/// redelivery the store takes in its stride from a sample that would be lost or doubled.
#[derive(Debug, Default)]
pub struct TestSink {
    /// Body → how many times it was stored.
    stored: Mutex<BTreeMap<String, u32>>,
    /// (series, timestamp in ms) → what the store would hold for it.
    samples: Mutex<BTreeMap<SeriesAt, KeptSample>>,
    calls: AtomicU64,
    down: AtomicBool,
    /// How long each store takes, in ms: a slow store keeps a message in flight for a while.
    delay_ms: AtomicU64,
}

/// A series (its labels as `name{label="value",...}`) at a timestamp (ms).
pub type SeriesAt = (String, i64);

/// One sample as the store keeps it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeptSample {
    pub value: f64,
    /// How many stored payloads carried it; above 1 means a redelivery the store absorbed.
    pub offered: u32,
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

    /// Plays a store whose every commit takes `delay`.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// What the store would hold: every (series, timestamp) once, with its value and how often
    /// it was offered.
    pub fn samples(&self) -> BTreeMap<SeriesAt, KeptSample> {
        self.lock_samples().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u32>> {
        self.stored.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_samples(&self) -> std::sync::MutexGuard<'_, BTreeMap<SeriesAt, KeptSample>> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores one payload, all or nothing, as the store would.
    fn store(&self, payload: &Payload) -> Result<IngestReceipt, IngestError> {
        let body = String::from_utf8_lossy(&payload.body).into_owned();
        if self.down.load(Ordering::SeqCst) {
            return Err(IngestError::Unavailable("test store is down".into()));
        }
        if body.starts_with("poison") {
            return Err(IngestError::Poison(format!("test sink rejects `{body}`")));
        }
        let parsed: Vec<(SeriesAt, f64)> =
            sensors::exposition::parse(payload.format, &payload.body)
                .map(|batch| {
                    batch
                        .iter()
                        .filter_map(|(labels, sample)| {
                            let at = sample.timestamp?.as_millis();
                            Some(((series_text(labels), at), sample.value))
                        })
                        .collect()
                })
                .unwrap_or_default();
        let mut kept = self.lock_samples();
        if let Some(((series, at), value)) = parsed.iter().find(|(key, value)| {
            kept.get(key)
                .is_some_and(|old| old.value.to_bits() != value.to_bits())
        }) {
            return Err(IngestError::Poison(format!(
                "{series} at {at}: {value} differs from the stored value"
            )));
        }
        for (key, value) in parsed {
            kept.entry(key)
                .or_insert(KeptSample { value, offered: 0 })
                .offered += 1;
        }
        drop(kept);
        *self.lock().entry(body).or_default() += 1;
        Ok(IngestReceipt { samples: 1 })
    }
}

/// `name{a="1",b="2"}` for a label set with `__name__`.
fn series_text(labels: &model::Labels) -> String {
    let name = labels.metric_name().unwrap_or_default();
    let rest: Vec<String> = labels
        .iter()
        .filter(|(label, _)| *label != "__name__")
        .map(|(label, value)| format!("{label}={value:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

impl PayloadSink for TestSink {
    fn ingest(&self, payload: Payload) -> BoxFuture<'_, Result<IngestReceipt, IngestError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
        Box::pin(async move {
            // The commit becomes durable at its end: a consumer that gives up waiting stored
            // nothing.
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            self.store(&payload)
        })
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

#[tokio::test]
async fn test_sink_keeps_each_sample_once_as_the_store_does() {
    let sink = TestSink::new();
    let payload = |body: &str| Payload {
        body: body.as_bytes().to_vec(),
        format: model::PayloadFormat::PrometheusText,
        origin: "test".into(),
    };
    let first = "up{job=\"a\"} 1 1000\nup{job=\"a\"} 2 2000\n";
    assert!(sink.ingest(payload(first)).await.is_ok());
    // A redelivery: the same samples are absorbed.
    assert!(sink.ingest(payload(first)).await.is_ok());
    // Another value at a stored (series, timestamp) refuses the whole payload.
    let conflicting = "up{job=\"a\"} 3 3000\nup{job=\"a\"} 9 2000\n";
    assert!(matches!(
        sink.ingest(payload(conflicting)).await,
        Err(IngestError::Poison(_))
    ));
    let kept: Vec<_> = sink
        .samples()
        .into_iter()
        .map(|((series, at), s)| (series, at, s.value, s.offered))
        .collect();
    let series = "up{job=\"a\"}".to_string();
    assert_eq!(
        kept,
        [(series.clone(), 1000, 1.0, 2), (series, 2000, 2.0, 2)]
    );
}
