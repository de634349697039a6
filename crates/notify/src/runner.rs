//! The pipeline at run time: one task that owns the clock, wakes when the pipeline says
//! something is due (or when alerts, acknowledgements or silences arrive), hands deliveries to
//! their channels concurrently, and keeps the state database up to date.
//!
//! Each delivery runs in a task of its own with the context's timeout, so a channel that hangs
//! or is down never holds up another. State writes are saved before the deliveries they queue
//! start, so a crash can repeat a delivery that was in flight but never lose one; writes the
//! database refuses are kept and retried on the next wake.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use model::alert::{DocumentStore, DocumentWrite};
use model::{Clock, Timestamp};
use tokio::sync::{Notify, mpsc};

use crate::alert::Alert;
use crate::channel::{Delivered, DeliveryError};
use crate::pipeline::{Delivery, Finished, Pipeline};

/// The longest the runner sleeps without looking at the time again, so a clock that jumps
/// (suspend, NTP) is noticed within this long.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// One delivery's end, as the binary logs and counts it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryEvent {
    /// The channel (`receiver/index:kind`).
    pub integration: String,
    /// The group.
    pub group_key: String,
    /// How many alerts the message carried.
    pub alerts: usize,
    /// Which attempt this was (1 for the first).
    pub attempt: u32,
    /// What happened.
    pub outcome: Finished,
    /// The failure, when it failed.
    pub error: Option<String>,
}

/// Called for every finished delivery and every state-database problem.
pub trait Observer: Send + Sync {
    /// A delivery ended.
    fn delivery(&self, event: &DeliveryEvent);
    /// The state database refused writes (kept for the next try).
    fn state_error(&self, message: &str);
}

/// An observer that does nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn delivery(&self, _: &DeliveryEvent) {}
    fn state_error(&self, _: &str) {}
}

/// A handle on the running pipeline: send alerts, acknowledge, change silences, look.
#[derive(Clone)]
pub struct Notifier {
    pipeline: Arc<Mutex<Pipeline>>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
}

impl Notifier {
    /// Starts the runner task over `pipeline` (already restored from the state database).
    /// It stops when `shutdown` resolves, after saving what it has.
    pub fn start(
        pipeline: Pipeline,
        clock: Arc<dyn Clock>,
        store: Option<Arc<dyn DocumentStore>>,
        observer: Arc<dyn Observer>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> (Notifier, tokio::task::JoinHandle<()>) {
        let notifier = Notifier {
            pipeline: Arc::new(Mutex::new(pipeline)),
            wake: Arc::new(Notify::new()),
            clock,
        };
        let task = tokio::spawn(run(notifier.clone(), store, observer, shutdown));
        (notifier, task)
    }

    /// The current time, as the runner sees it.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Takes alert updates.
    pub fn send(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        let now = self.now();
        {
            let mut p = self.lock();
            for alert in alerts {
                p.ingest(alert, now);
            }
        }
        self.wake.notify_one();
    }

    /// Runs `f` on the pipeline (to look, to acknowledge, to change silences) and wakes the
    /// runner so whatever `f` changed takes effect and is saved.
    pub fn with<T>(&self, f: impl FnOnce(&mut Pipeline, Timestamp) -> T) -> T {
        let now = self.now();
        let out = f(&mut self.lock(), now);
        self.wake.notify_one();
        out
    }

    fn lock(&self) -> MutexGuard<'_, Pipeline> {
        // The pipeline is changed in whole steps; a panic in one leaves a usable state.
        self.pipeline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Outcome = (Delivery, Result<Delivered, DeliveryError>);

async fn run(
    notifier: Notifier,
    store: Option<Arc<dyn DocumentStore>>,
    observer: Arc<dyn Observer>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Outcome>();
    let mut unsaved: Vec<DocumentWrite> = Vec::new();
    tokio::pin!(shutdown);
    loop {
        let now = notifier.now();
        let (deliveries, writes, next) = {
            let mut p = notifier.lock();
            let deliveries = p.tick(now);
            (deliveries, p.take_writes(), p.next_wake(now))
        };
        unsaved.extend(writes);
        save(store.as_deref(), &mut unsaved, observer.as_ref()).await;
        for delivery in deliveries {
            let done = done_tx.clone();
            tokio::spawn(async move {
                let result = delivery.channel.deliver(&delivery.entry.notification).await;
                let _ = done.send((delivery, result));
            });
        }
        let sleep = next
            .map(|at| Duration::from_millis(at.millis_since(now).max(0) as u64))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = notifier.wake.notified() => {}
            Some((delivery, result)) = done_rx.recv() => {
                finish(&notifier, &observer, delivery, result);
                while let Ok((delivery, result)) = done_rx.try_recv() {
                    finish(&notifier, &observer, delivery, result);
                }
            }
            _ = &mut shutdown => {
                unsaved.extend(notifier.lock().take_writes());
                save(store.as_deref(), &mut unsaved, observer.as_ref()).await;
                return;
            }
        }
    }
}

fn finish(
    notifier: &Notifier,
    observer: &Arc<dyn Observer>,
    delivery: Delivery,
    result: Result<Delivered, DeliveryError>,
) {
    let now = notifier.now();
    let entry = &delivery.entry;
    let error = result.as_ref().err().map(|e| e.message.clone());
    let outcome = notifier
        .lock()
        .finished(&entry.integration, &entry.group_key, result, now);
    observer.delivery(&DeliveryEvent {
        integration: entry.integration.clone(),
        group_key: entry.group_key.clone(),
        alerts: entry.notification.alerts.len(),
        attempt: entry.attempts + 1,
        outcome,
        error,
    });
}

async fn save(
    store: Option<&dyn DocumentStore>,
    unsaved: &mut Vec<DocumentWrite>,
    observer: &dyn Observer,
) {
    let Some(store) = store else {
        unsaved.clear();
        return;
    };
    if unsaved.is_empty() {
        return;
    }
    match store.write_documents(unsaved).await {
        Ok(()) => unsaved.clear(),
        Err(e) => {
            observer.state_error(&e.to_string());
            if !e.is_retryable() {
                // A write the database will never take (a bad value) must not block the rest.
                unsaved.clear();
            }
        }
    }
}
