//! The one consumer step every broker shares: hand a message body to the [`PayloadSink`], wait
//! out a store that is down, and say what the broker should do with the message.
//!
//! A message is acknowledged only after the sink said it is durable, so the decision here is
//! never "ack or drop" but one of: stored (ack it), poison (dead-letter it, then ack it), or
//! shutdown (leave it unacknowledged: the broker keeps it and delivers it again later). While
//! the store is unavailable the same message is retried in place with capped exponential
//! backoff; the messages behind it wait in the broker, which is what keeps them safe.

use std::time::Duration;

use model::{IngestError, Payload, PayloadFormat, PayloadSink};

use super::{BrokerStats, Shutdown};

/// Capped exponential backoff: `min`, `2·min`, `4·min` ... up to `max`, reset after a success.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The delay to wait now; the following one doubles, up to `max`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to `min` after things worked again.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    /// The cap.
    pub(crate) fn max(&self) -> Duration {
        self.max
    }
}

/// What to do with one message once the sink has answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Durable in the store: acknowledge it.
    Stored,
    /// The sink will never take it: dead-letter it with this reason, then acknowledge it.
    Poison(String),
    /// Shutdown was asked for before the message was stored: do not acknowledge it.
    Shutdown,
    /// The connection the message came on is gone (the broker will deliver it again): give up
    /// on this copy without acknowledging it.
    Abandoned,
}

/// How a consumer hands its messages over.
pub(crate) struct Deliverer<'a> {
    pub(crate) sink: &'a dyn PayloadSink,
    pub(crate) format: PayloadFormat,
    pub(crate) stats: &'a BrokerStats,
    pub(crate) backoff: Backoff,
}

impl Deliverer<'_> {
    /// Stores `body` through the sink, retrying while the store is unavailable.
    ///
    /// `still_working` runs before every wait: a broker that redelivers held messages after a
    /// timeout can be told the message is still being worked on (JetStream's in-progress ack),
    /// and returning false gives up on a message whose connection is gone ([`Verdict::Abandoned`]).
    /// The broker has it back already; retrying this copy would only hold up the consumer.
    pub(crate) async fn deliver<F, Fut>(
        &mut self,
        body: &[u8],
        origin: &str,
        shutdown: &mut Shutdown,
        mut still_working: F,
    ) -> Verdict
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        self.stats.count_received();
        let mut attempts = 0u64;
        loop {
            let payload = Payload {
                // A copy per attempt: the sink owns what it is given, and a retry needs the body.
                body: body.to_vec(),
                format: self.format,
                origin: origin.to_string(),
            };
            let answer = tokio::select! {
                biased;
                _ = stopped(shutdown) => return Verdict::Shutdown,
                answer = self.sink.ingest(payload) => answer,
            };
            match answer {
                Ok(receipt) => {
                    if attempts > 0 {
                        tracing::info!(%origin, attempts, "store available again, message stored");
                    }
                    self.backoff.reset();
                    self.stats.count_stored(receipt.samples);
                    return Verdict::Stored;
                }
                Err(IngestError::Poison(reason)) => {
                    self.backoff.reset();
                    return Verdict::Poison(reason);
                }
                Err(IngestError::Unavailable(reason)) => {
                    attempts += 1;
                    self.stats.count_retry();
                    let delay = self.backoff.next_delay();
                    // Once per outage at WARN; the retries after it would only repeat it.
                    if attempts == 1 {
                        tracing::warn!(%origin, %reason, "store unavailable, holding the message and retrying");
                    } else {
                        tracing::debug!(%origin, %reason, attempts, ?delay, "store still unavailable");
                    }
                    if !still_working().await {
                        return Verdict::Abandoned;
                    }
                    if sleep_or_stop(delay, shutdown).await {
                        return Verdict::Shutdown;
                    }
                }
            }
        }
    }
}

/// Resolves once shutdown is asked for (`true` sent, or the sender dropped).
pub(crate) async fn stopped(shutdown: &mut Shutdown) {
    // An error means the sender is gone: nobody can ever ask to keep running, so stop.
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// Sleeps `delay`; true when shutdown was asked for first.
pub(crate) async fn sleep_or_stop(delay: Duration, shutdown: &mut Shutdown) -> bool {
    tokio::select! {
        biased;
        _ = stopped(shutdown) => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use model::{BoxFuture, IngestReceipt};
    use tokio::sync::watch;

    use super::*;

    /// Answers from a script, then `Ok`.
    struct Scripted {
        answers: Mutex<Vec<Result<IngestReceipt, IngestError>>>,
        calls: AtomicUsize,
    }

    impl PayloadSink for Scripted {
        fn ingest(&self, _: Payload) -> BoxFuture<'_, Result<IngestReceipt, IngestError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
            let answer = if answers.is_empty() {
                Ok(IngestReceipt { samples: 3 })
            } else {
                answers.remove(0)
            };
            Box::pin(async move { answer })
        }
    }

    fn sink(answers: Vec<Result<IngestReceipt, IngestError>>) -> Scripted {
        Scripted {
            answers: Mutex::new(answers),
            calls: AtomicUsize::new(0),
        }
    }

    fn deliverer<'a>(sink: &'a Scripted, stats: &'a BrokerStats) -> Deliverer<'a> {
        Deliverer {
            sink,
            format: PayloadFormat::Json,
            stats,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(4)),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    #[tokio::test]
    async fn unavailable_is_retried_until_stored() {
        let down = || Err(IngestError::Unavailable("disk full".into()));
        let sink = sink(vec![down(), down(), down()]);
        let stats = BrokerStats::default();
        let (_tx, mut rx) = watch::channel(false);
        let mut kept_alive = 0;
        let verdict = deliverer(&sink, &stats)
            .deliver(b"x", "test", &mut rx, || {
                kept_alive += 1;
                async { true }
            })
            .await;
        assert_eq!(verdict, Verdict::Stored);
        assert_eq!(sink.calls.load(Ordering::SeqCst), 4);
        assert_eq!(kept_alive, 3);
        let s = stats.snapshot();
        assert_eq!((s.received, s.stored, s.retries, s.samples), (1, 1, 3, 3));
    }

    #[tokio::test]
    async fn poison_is_not_retried() {
        let sink = sink(vec![Err(IngestError::Poison("bad line 3".into()))]);
        let stats = BrokerStats::default();
        let (_tx, mut rx) = watch::channel(false);
        let verdict = deliverer(&sink, &stats)
            .deliver(b"x", "test", &mut rx, || async { true })
            .await;
        assert_eq!(verdict, Verdict::Poison("bad line 3".into()));
        assert_eq!(sink.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn shutdown_while_the_store_is_down_leaves_the_message() {
        let down = || Err(IngestError::Unavailable("down".into()));
        let sink = sink((0..1000).map(|_| down()).collect());
        let stats = BrokerStats::default();
        let (tx, mut rx) = watch::channel(false);
        let stop = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let _ = tx.send(true);
        });
        let verdict = tokio::time::timeout(
            Duration::from_secs(10),
            deliverer(&sink, &stats).deliver(b"x", "test", &mut rx, || async { true }),
        )
        .await
        .expect("deliver returns once shutdown is asked for");
        assert_eq!(verdict, Verdict::Shutdown);
        assert_eq!(stats.snapshot().stored, 0);
        stop.await.expect("stopper ran");
    }

    #[tokio::test]
    async fn a_gone_connection_abandons_the_held_message() {
        let sink = sink(vec![Err(IngestError::Unavailable("down".into()))]);
        let stats = BrokerStats::default();
        let (_tx, mut rx) = watch::channel(false);
        let verdict = deliverer(&sink, &stats)
            .deliver(b"x", "test", &mut rx, || async { false })
            .await;
        assert_eq!(verdict, Verdict::Abandoned);
        assert_eq!(sink.calls.load(Ordering::SeqCst), 1);
    }
}
