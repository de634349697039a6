//! Broker receivers: Periscope consumes the metrics applications publish to RabbitMQ, NATS
//! JetStream or MQTT, hands each message body to a [`model::PayloadSink`], and acknowledges the
//! message only after the sink says it is durable.
//!
//! The one decision behind them: **the broker is the buffer.** When the store is down the
//! consumer holds the message it has (unacknowledged), retries it with capped exponential
//! backoff, and everything behind it waits in the broker, where it survives a Periscope restart
//! too. A message the sink can never take (`IngestError::Poison`) is published to a dead-letter
//! queue, subject or topic with the reason, and only then acknowledged, so it never blocks the
//! ones behind it and is never silently dropped. Delivery is at-least-once: a message stored
//! just before a connection drop may come again, which the store absorbs (identical samples are
//! deduplicated); nothing is acknowledged that was not stored or dead-lettered.
//!
//! The shared step (sink, retry, verdict) is written once in `deliver`; each broker file only
//! maps it onto its protocol's ack, nack and publish. Every receiver runs as one tokio task
//! started by `start(sink, shutdown)` and stops when `true` is sent on the shutdown
//! [`tokio::sync::watch`] channel (or the sender is dropped), leaving unprocessed messages in
//! the broker. Each counts what it does in a [`BrokerStats`].
//!
//! ```toml
//! [receiver.apps]
//! kind = "rabbitmq"
//! url = "amqp://periscope:secret@mq.example.com:5672/%2f"
//! exchange = "metrics"
//! routing_keys = ["app.#"]
//! queue = "periscope.metrics"
//! format = "prometheus"
//!
//! [receiver.edge]
//! kind = "nats"
//! url = "nats://nats.example.com:4222"
//! stream = "METRICS"
//! subjects = ["metrics.>"]
//! consumer = "periscope"
//!
//! [receiver.sensors]
//! kind = "mqtt"
//! host = "mqtt.example.com"
//! client_id = "periscope-1"
//! topics = ["sensors/+/metrics"]
//! ```

mod deliver;
pub mod mqtt;
pub mod nats;
pub mod rabbitmq;
mod settings;
mod stats;

pub use mqtt::{MqttReceiver, MqttSettings};
pub use nats::{NatsReceiver, NatsSettings};
pub use rabbitmq::{ExchangeType, RabbitMqReceiver, RabbitMqSettings};
pub use settings::BrokerFormat;
pub use stats::{BrokerStats, StatsSnapshot};

/// The shutdown signal of a receiver task: it stops when `true` is sent or the sender dropped.
pub type Shutdown = tokio::sync::watch::Receiver<bool>;

/// Header (AMQP, NATS) naming why a dead-lettered message was rejected.
pub const ERROR_HEADER: &str = "x-periscope-error";
/// Header (AMQP, NATS) naming the receiver that dead-lettered a message.
pub const RECEIVER_HEADER: &str = "x-periscope-receiver";
