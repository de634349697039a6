//! What a broker consumer did, counted with atomics so the consumer task never waits for a
//! reader, and turned into `periscope_broker_*` samples on demand.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use model::{Sample, Timestamp};

/// Counters of one broker consumer. Shared (`Arc`) between the consumer task and whoever
/// reports on it; every counter only grows (`connected` and `held` are gauges).
#[derive(Debug, Default)]
pub struct BrokerStats {
    received: AtomicU64,
    stored: AtomicU64,
    samples: AtomicU64,
    dead_lettered: AtomicU64,
    retries: AtomicU64,
    reconnects: AtomicU64,
    connection_errors: AtomicU64,
    connected: AtomicBool,
    held: AtomicU64,
    deferred: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Messages taken from the broker (a redelivered message counts again).
    pub received: u64,
    /// Messages the sink made durable (and that were then acknowledged).
    pub stored: u64,
    /// Samples in those messages, as the sink reported.
    pub samples: u64,
    /// Poison messages moved to the dead-letter queue, subject or topic.
    pub dead_lettered: u64,
    /// Store attempts that found the store unavailable and were retried.
    pub retries: u64,
    /// Connections established again after the first one.
    pub reconnects: u64,
    /// Failed connection attempts and lost connections.
    pub connection_errors: u64,
    /// Whether the consumer is connected and consuming now.
    pub connected: bool,
    /// Messages taken from the broker and held in memory now, waiting for the store or being
    /// stored, not yet acknowledged (`mqtt` only; at most its `max_held`).
    pub held: u64,
    /// Messages that arrived while `max_held` were held: neither stored nor acknowledged, so
    /// the broker sends them again after a reconnect (`mqtt` only).
    pub deferred: u64,
}

impl BrokerStats {
    pub(crate) fn count_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_stored(&self, samples: u64) {
        self.stored.fetch_add(1, Ordering::Relaxed);
        self.samples.fetch_add(samples, Ordering::Relaxed);
    }

    pub(crate) fn count_dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_connection_error(&self) {
        self.connection_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// One more message held in memory; see [`StatsSnapshot::held`].
    pub(crate) fn hold(&self) {
        self.held.fetch_add(1, Ordering::SeqCst);
    }

    /// A held message is done with (stored and acked, dead-lettered, or given up on).
    pub(crate) fn release(&self) {
        self.held.fetch_sub(1, Ordering::SeqCst);
    }

    /// Messages held now. The MQTT consumer decides with it, hence `SeqCst` like its writes.
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::SeqCst)
    }

    pub(crate) fn count_deferred(&self) {
        self.deferred.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            received: self.received.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            samples: self.samples.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            connection_errors: self.connection_errors.load(Ordering::Relaxed),
            connected: self.connected.load(Ordering::Relaxed),
            held: self.held(),
            deferred: self.deferred.load(Ordering::Relaxed),
        }
    }

    /// The counters as samples at `now`, labelled `broker` (`rabbitmq`, `nats`, `mqtt`) and
    /// `receiver` (the name from the config).
    pub fn samples(&self, broker: &str, receiver: &str, now: Timestamp) -> Vec<Sample> {
        self.snapshot().samples(broker, receiver, now)
    }
}

impl StatsSnapshot {
    /// See [`BrokerStats::samples`].
    pub fn samples(&self, broker: &str, receiver: &str, now: Timestamp) -> Vec<Sample> {
        let counters = [
            ("periscope_broker_messages_received_total", self.received),
            ("periscope_broker_messages_stored_total", self.stored),
            ("periscope_broker_samples_stored_total", self.samples),
            (
                "periscope_broker_messages_dead_lettered_total",
                self.dead_lettered,
            ),
            ("periscope_broker_store_retries_total", self.retries),
            ("periscope_broker_reconnects_total", self.reconnects),
            (
                "periscope_broker_connection_errors_total",
                self.connection_errors,
            ),
            ("periscope_broker_messages_deferred_total", self.deferred),
            ("periscope_broker_messages_held", self.held),
        ];
        counters
            .into_iter()
            .map(|(name, value)| (name, value as f64))
            .chain([(
                "periscope_broker_connected",
                f64::from(u8::from(self.connected)),
            )])
            .map(|(name, value)| {
                Sample::new(name, value, now)
                    .label("broker", broker)
                    .label("receiver", receiver)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_carry_broker_and_receiver_labels() {
        let stats = BrokerStats::default();
        stats.count_received();
        stats.count_stored(12);
        stats.set_connected(true);
        stats.hold();
        stats.hold();
        stats.release();
        stats.count_deferred();
        let samples = stats.samples("rabbitmq", "apps", Timestamp::from_millis(5));
        assert_eq!(samples.len(), 10);
        let get = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value)
                .unwrap_or(f64::NAN)
        };
        assert_eq!(get("periscope_broker_samples_stored_total"), 12.0);
        assert_eq!(get("periscope_broker_connected"), 1.0);
        assert_eq!(get("periscope_broker_messages_held"), 1.0);
        assert_eq!(get("periscope_broker_messages_deferred_total"), 1.0);
        assert!(
            samples
                .iter()
                .all(|s| s.labels.get("broker") == Some("rabbitmq")
                    && s.labels.get("receiver") == Some("apps")
                    && s.timestamp == Timestamp::from_millis(5))
        );
    }
}
