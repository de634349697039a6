//! The RabbitMQ consumer task: connect, declare, consume, and start over after any failure.
//!
//! Reconnecting is done here rather than with lapin's auto-recovery so there is one place that
//! decides what a lost connection means: unacknowledged deliveries went back to the queue, the
//! topology is declared again from the settings, and the next attempt waits with the same
//! capped backoff the store retries use.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use model::PayloadSink;

use super::RabbitMqReceiver;
use crate::brokers::deliver::{Backoff, Deliverer, Verdict, sleep_or_stop, stopped};
use crate::brokers::{ERROR_HEADER, RECEIVER_HEADER, Shutdown};

/// A connection attempt (TCP, TLS, AMQP handshake) that takes longer than this has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a clean close may take before the connection is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session ended other than by shutdown: what failed, with the lapin error.
type SessionError = String;

pub(super) async fn run(
    receiver: RabbitMqReceiver,
    sink: Arc<dyn PayloadSink>,
    mut shutdown: Shutdown,
) {
    let stats = Arc::clone(&receiver.stats);
    let mut deliverer = Deliverer {
        sink: &*sink,
        format: receiver.format,
        stats: &stats,
        backoff: receiver.backoff.clone(),
    };
    let mut reconnect = receiver.backoff.clone();
    let mut sessions = 0u64;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let result = receiver
            .session(&mut deliverer, &mut shutdown, &mut sessions, &mut reconnect)
            .await;
        stats.set_connected(false);
        match result {
            Ok(()) => break,
            Err(error) => {
                stats.count_connection_error();
                let delay = reconnect.next_delay();
                tracing::warn!(
                    receiver = %receiver.name,
                    broker = %receiver.describe(),
                    %error,
                    ?delay,
                    "rabbitmq receiver disconnected, reconnecting"
                );
                if sleep_or_stop(delay, &mut shutdown).await {
                    break;
                }
            }
        }
    }
    tracing::info!(receiver = %receiver.name, broker = %receiver.describe(), "rabbitmq receiver stopped");
}

impl RabbitMqReceiver {
    /// One connection's life: `Ok` when shutdown was asked for, `Err` when it has to start over.
    async fn session(
        &self,
        deliverer: &mut Deliverer<'_>,
        shutdown: &mut Shutdown,
        sessions: &mut u64,
        reconnect: &mut Backoff,
    ) -> Result<(), SessionError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("periscope receiver {}", self.name).into());
        let connection = tokio::select! {
            biased;
            _ = stopped(shutdown) => return Ok(()),
            c = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.url.0, properties)) => match c {
                Err(_) => return Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
                Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
                Ok(Ok(connection)) => connection,
            },
        };
        let result = self
            .consume(&connection, deliverer, shutdown, sessions, reconnect)
            .await;
        // Closing returns the unacknowledged deliveries to the queue at once instead of after
        // the heartbeat timeout; a connection that already failed just errors here.
        let _ = tokio::time::timeout(
            CLOSE_TIMEOUT,
            connection.close(200, ShortString::from("periscope receiver stopping")),
        )
        .await;
        result
    }

    async fn consume(
        &self,
        connection: &Connection,
        deliverer: &mut Deliverer<'_>,
        shutdown: &mut Shutdown,
        sessions: &mut u64,
        reconnect: &mut Backoff,
    ) -> Result<(), SessionError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a channel: {e}"))?;
        self.declare(&channel).await?;
        // Dead letters go out on their own channel in confirm mode, so the original is acked
        // only after the broker took the dead letter.
        let publisher = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open the dead-letter channel: {e}"))?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("cannot enable publisher confirms: {e}"))?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| format!("cannot set prefetch {}: {e}", self.prefetch))?;
        let mut consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                format!("periscope-{}", self.name).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume queue {}: {e}", self.queue))?;

        *sessions += 1;
        if *sessions > 1 {
            deliverer.stats.count_reconnect();
        }
        deliverer.stats.set_connected(true);
        reconnect.reset();
        tracing::info!(receiver = %self.name, broker = %self.describe(), "rabbitmq receiver consuming");

        let origin = format!("rabbitmq {} queue {}", self.server, self.queue);
        loop {
            let next = tokio::select! {
                biased;
                _ = stopped(shutdown) => return Ok(()),
                next = consumer.next() => next,
            };
            let delivery = match next {
                None => {
                    return Err(format!(
                        "the broker cancelled the consumer of queue {}",
                        self.queue
                    ));
                }
                Some(Err(e)) => return Err(format!("consuming queue {} failed: {e}", self.queue)),
                Some(Ok(delivery)) => delivery,
            };
            // A closed channel has already returned the held delivery to the queue.
            let verdict = deliverer
                .deliver(&delivery.data, &origin, shutdown, || async {
                    channel.status().connected()
                })
                .await;
            match verdict {
                Verdict::Stored => {}
                Verdict::Poison(reason) => {
                    self.dead_letter(&publisher, &delivery, &reason).await?;
                    deliverer.stats.count_dead_lettered();
                    tracing::warn!(
                        receiver = %self.name,
                        queue = %self.queue,
                        routing_key = %delivery.routing_key,
                        dead_letter_queue = %self.dead_letter_queue,
                        %reason,
                        "poison message dead-lettered"
                    );
                }
                Verdict::Shutdown => return Ok(()),
                Verdict::Abandoned => {
                    return Err(format!(
                        "the channel closed while the store was down; queue {} keeps the message",
                        self.queue
                    ));
                }
            }
            match delivery.acker.ack(BasicAckOptions::default()).await {
                Ok(true) => {}
                Ok(false) => return Err("the channel closed before the ack was sent".into()),
                Err(e) => {
                    return Err(format!(
                        "cannot ack a delivery from queue {}: {e}",
                        self.queue
                    ));
                }
            }
        }
    }

    /// Declares the exchange, the queue, its bindings and the dead-letter queue (and exchange).
    async fn declare(&self, channel: &Channel) -> Result<(), SessionError> {
        if !self.exchange.is_empty() {
            // The broker's own `amq.*` exchanges cannot be declared, only checked.
            let options = ExchangeDeclareOptions {
                durable: true,
                passive: self.exchange.starts_with("amq."),
                ..ExchangeDeclareOptions::default()
            };
            channel
                .exchange_declare(
                    self.exchange.as_str().into(),
                    self.exchange_type.kind(),
                    options,
                    FieldTable::default(),
                )
                .await
                .map_err(|e| {
                    format!(
                        "cannot declare {:?} exchange {}: {e}",
                        self.exchange_type, self.exchange
                    )
                })?;
        }
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(self.queue.as_str().into(), durable, FieldTable::default())
            .await
            .map_err(|e| format!("cannot declare durable queue {}: {e}", self.queue))?;
        for key in &self.routing_keys {
            channel
                .queue_bind(
                    self.queue.as_str().into(),
                    self.exchange.as_str().into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| {
                    format!(
                        "cannot bind queue {} to exchange {} with key `{key}`: {e}",
                        self.queue, self.exchange
                    )
                })?;
        }
        channel
            .queue_declare(
                self.dead_letter_queue.as_str().into(),
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                format!(
                    "cannot declare dead-letter queue {}: {e}",
                    self.dead_letter_queue
                )
            })?;
        if let Some(dlx) = &self.dead_letter_exchange {
            let options = ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            };
            channel
                .exchange_declare(
                    dlx.as_str().into(),
                    ExchangeKind::Fanout,
                    options,
                    FieldTable::default(),
                )
                .await
                .map_err(|e| format!("cannot declare dead-letter exchange {dlx}: {e}"))?;
            channel
                .queue_bind(
                    self.dead_letter_queue.as_str().into(),
                    dlx.as_str().into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| {
                    format!(
                        "cannot bind dead-letter queue {} to {dlx}: {e}",
                        self.dead_letter_queue
                    )
                })?;
        }
        Ok(())
    }

    /// Publishes a poison delivery to the dead letters and waits for the broker's confirm.
    async fn dead_letter(
        &self,
        publisher: &Channel,
        delivery: &lapin::message::Delivery,
        reason: &str,
    ) -> Result<(), SessionError> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        let text = |s: &str| AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()));
        headers.insert(ERROR_HEADER.into(), text(reason));
        headers.insert(RECEIVER_HEADER.into(), text(&self.name));
        headers.insert(
            "x-periscope-exchange".into(),
            text(delivery.exchange.as_str()),
        );
        headers.insert(
            "x-periscope-routing-key".into(),
            text(delivery.routing_key.as_str()),
        );
        // Persistent (delivery mode 2), so the dead letter survives a broker restart.
        let properties = delivery
            .properties
            .clone()
            .with_headers(headers)
            .with_delivery_mode(2);
        let (exchange, routing_key) = match &self.dead_letter_exchange {
            Some(dlx) => (dlx.as_str().into(), delivery.routing_key.clone()),
            None => (
                ShortString::from(""),
                self.dead_letter_queue.as_str().into(),
            ),
        };
        let confirm = publisher
            .basic_publish(
                exchange,
                routing_key,
                BasicPublishOptions::default(),
                &delivery.data,
                properties,
            )
            .await
            .map_err(|e| {
                format!(
                    "cannot publish to dead-letter queue {}: {e}",
                    self.dead_letter_queue
                )
            })?;
        match confirm.await {
            Ok(Confirmation::Ack(_)) => Ok(()),
            Ok(Confirmation::Nack(_)) => Err(format!(
                "the broker refused the dead letter for {}",
                self.dead_letter_queue
            )),
            Ok(Confirmation::NotRequested) => {
                Err("publisher confirms are off on the dead-letter channel".into())
            }
            Err(e) => Err(format!(
                "no confirm for the dead letter to {}: {e}",
                self.dead_letter_queue
            )),
        }
    }
}
