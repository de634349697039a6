//! The NATS consumer task: connect once (the client reconnects by itself from then on), bind
//! the stream and durable consumer, fetch batches, and rebind after any failed fetch.
//!
//! A fetch is a pull request the server holds until it has the messages or the request
//! expires; the client gives up on it only [`FETCH_WAIT`] plus 5 s later. A server that
//! restarted has forgotten the request, so after every reconnect the fetch in progress is
//! abandoned once the messages it already brought are handled, and a new one is sent: the
//! receiver consumes again within a round trip of the reconnect instead of 10 s later.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, stream};
use futures_util::StreamExt;
use model::PayloadSink;
use tokio::sync::watch;

use super::NatsReceiver;
use crate::brokers::deliver::{Backoff, Deliverer, Verdict, sleep_or_stop, stopped};
use crate::brokers::{BrokerStats, ERROR_HEADER, RECEIVER_HEADER, Shutdown};

/// A connection attempt that takes longer than this has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one fetch waits for messages before asking again (and noticing a shutdown).
const FETCH_WAIT: Duration = Duration::from_secs(5);
/// How long a shutdown waits for more of a fetched batch to hand back.
const HAND_BACK_WAIT: Duration = Duration::from_millis(200);
/// How long unsent acks may take to flush at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What handling one message came to, besides a failure.
enum Handled {
    Done,
    Shutdown,
}

pub(super) async fn run(
    receiver: NatsReceiver,
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
    let mut retry = receiver.backoff.clone();
    // Counts reconnects (from the client's event callback), so a fetch can tell it outlived its
    // connection.
    let (reconnected_tx, mut reconnected) = watch::channel(0u64);
    let client = loop {
        let attempt = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => return,
            attempt = receiver.connect(&reconnected_tx) => attempt,
        };
        match attempt {
            Ok(client) => break client,
            Err(error) => {
                stats.count_connection_error();
                let delay = retry.next_delay();
                tracing::warn!(receiver = %receiver.name, broker = %receiver.describe(), %error, ?delay, "nats receiver cannot connect, retrying");
                if sleep_or_stop(delay, &mut shutdown).await {
                    return;
                }
            }
        }
    };
    let js = jetstream::new(client.clone());
    receiver
        .consume(
            &js,
            &mut deliverer,
            &mut retry,
            &mut reconnected,
            &mut shutdown,
        )
        .await;
    stats.set_connected(false);
    // Acks and naks are queued in the client, and `drain` alone was seen closing the socket
    // before they went out: flush them first, so the server hands the naked ones out at once.
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, client.flush()).await;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, client.drain()).await;
    tracing::info!(receiver = %receiver.name, broker = %receiver.describe(), "nats receiver stopped");
}

impl NatsReceiver {
    async fn connect(
        &self,
        reconnected: &watch::Sender<u64>,
    ) -> Result<async_nats::Client, String> {
        let backoff = self.backoff.clone();
        let stats = Arc::clone(&self.stats);
        let reconnected = reconnected.clone();
        let seen_first = Arc::new(AtomicBool::new(false));
        let options = async_nats::ConnectOptions::new()
            .name(format!("periscope receiver {}", self.name))
            .connection_timeout(CONNECT_TIMEOUT)
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| reconnect_delay(&backoff, attempts))
            .event_callback(move |event| {
                note_event(&stats, &seen_first, &reconnected, &event);
                async {}
            });
        tokio::time::timeout(CONNECT_TIMEOUT * 2, options.connect(self.url.0.as_str()))
            .await
            .map_err(|_| format!("no connection within {:?}", CONNECT_TIMEOUT * 2))?
            .map_err(|e| format!("cannot connect: {e}"))
    }

    /// Binds and fetches until shutdown, binding again after any failure.
    async fn consume(
        &self,
        js: &jetstream::Context,
        deliverer: &mut Deliverer<'_>,
        retry: &mut Backoff,
        reconnected: &mut watch::Receiver<u64>,
        shutdown: &mut Shutdown,
    ) {
        let origin = format!("nats {} stream {}", self.server, self.stream);
        let mut bound_before = false;
        'bind: loop {
            let bound = tokio::select! {
                biased;
                _ = stopped(shutdown) => return,
                bound = self.bind(js) => bound,
            };
            let consumer = match bound {
                Ok(consumer) => consumer,
                Err(error) => {
                    if self.wait_after(&error, retry, shutdown).await {
                        return;
                    }
                    continue 'bind;
                }
            };
            if bound_before {
                tracing::info!(receiver = %self.name, broker = %self.describe(), "nats receiver consuming again");
            } else {
                tracing::info!(receiver = %self.name, broker = %self.describe(), "nats receiver consuming");
            }
            bound_before = true;
            self.stats.set_connected(true);
            retry.reset();
            loop {
                // Reconnects from here on make this fetch suspect.
                reconnected.borrow_and_update();
                let fetched = tokio::select! {
                    biased;
                    _ = stopped(shutdown) => return,
                    fetched = consumer.batch().max_messages(self.batch).expires(FETCH_WAIT).messages() => fetched,
                };
                let mut batch = match fetched {
                    Ok(batch) => batch,
                    Err(e) => {
                        let error = format!("cannot fetch from consumer {}: {e}", self.consumer);
                        if self.wait_after(&error, retry, shutdown).await {
                            return;
                        }
                        continue 'bind;
                    }
                };
                loop {
                    let next = tokio::select! {
                        biased;
                        _ = stopped(shutdown) => return hand_back(&mut batch).await,
                        // Messages already here first: `next` is ready while any are buffered.
                        next = batch.next() => Some(next),
                        _ = changed(reconnected) => None,
                    };
                    let Some(next) = next else {
                        tracing::debug!(receiver = %self.name, "reconnected during a fetch, fetching again");
                        break;
                    };
                    let message = match next {
                        None => break,
                        Some(Ok(message)) => message,
                        Some(Err(e)) => {
                            let error =
                                format!("fetching from consumer {} failed: {e}", self.consumer);
                            if self.wait_after(&error, retry, shutdown).await {
                                return;
                            }
                            continue 'bind;
                        }
                    };
                    match self.handle(js, message, &origin, deliverer, shutdown).await {
                        Ok(Handled::Done) => {}
                        Ok(Handled::Shutdown) => return hand_back(&mut batch).await,
                        Err(error) => {
                            if self.wait_after(&error, retry, shutdown).await {
                                return;
                            }
                            continue 'bind;
                        }
                    }
                }
            }
        }
    }

    /// Logs a failure and waits before the next attempt; true when shutdown came first.
    async fn wait_after(&self, error: &str, retry: &mut Backoff, shutdown: &mut Shutdown) -> bool {
        self.stats.set_connected(false);
        self.stats.count_connection_error();
        let delay = retry.next_delay();
        tracing::warn!(receiver = %self.name, broker = %self.describe(), %error, ?delay, "nats receiver failed, binding again");
        sleep_or_stop(delay, shutdown).await
    }

    /// Creates (or finds) the stream, the dead-letter stream and the durable consumer.
    async fn bind(&self, js: &jetstream::Context) -> Result<PullConsumer, String> {
        let stream = js
            .get_or_create_stream(stream::Config {
                name: self.stream.clone(),
                subjects: self.subjects.clone(),
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot create or find stream {}: {e}", self.stream))?;
        if js
            .stream_by_subject(self.dead_letter_subject.as_str())
            .await
            .is_err()
        {
            js.get_or_create_stream(stream::Config {
                name: self.dead_letter_stream.clone(),
                subjects: vec![self.dead_letter_subject.clone()],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                format!(
                    "cannot create dead-letter stream {} for {}: {e}",
                    self.dead_letter_stream, self.dead_letter_subject
                )
            })?;
        }
        stream
            .get_or_create_consumer(
                &self.consumer,
                pull::Config {
                    durable_name: Some(self.consumer.clone()),
                    description: Some(format!("periscope receiver {}", self.name)),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                format!(
                    "cannot create or find consumer {} on stream {}: {e}",
                    self.consumer, self.stream
                )
            })
    }

    /// Stores one message, or dead-letters it, then acks it.
    async fn handle(
        &self,
        js: &jetstream::Context,
        message: jetstream::Message,
        origin: &str,
        deliverer: &mut Deliverer<'_>,
        shutdown: &mut Shutdown,
    ) -> Result<Handled, String> {
        let verdict = deliverer
            .deliver(&message.payload, origin, shutdown, || async {
                // Resets the server's ack_wait timer: the message is held, not lost.
                // A failed one is not a reason to give up: ack_wait still covers a retry or two.
                let _ = message.ack_with(AckKind::Progress).await;
                true
            })
            .await;
        match verdict {
            Verdict::Stored => {}
            Verdict::Poison(reason) => {
                self.dead_letter(js, &message, &reason).await?;
                self.stats.count_dead_lettered();
                tracing::warn!(
                    receiver = %self.name,
                    subject = %message.subject,
                    dead_letter_subject = %self.dead_letter_subject,
                    %reason,
                    "poison message dead-lettered"
                );
            }
            Verdict::Abandoned => return Ok(Handled::Done),
            Verdict::Shutdown => {
                // Hands it back at once rather than after ack_wait; if this fails, ack_wait does it.
                let _ = message.ack_with(AckKind::Nak(None)).await;
                return Ok(Handled::Shutdown);
            }
        }
        message.double_ack().await.map_err(|e| {
            format!(
                "the server did not confirm an ack on consumer {}: {e}",
                self.consumer
            )
        })?;
        Ok(Handled::Done)
    }

    async fn dead_letter(
        &self,
        js: &jetstream::Context,
        message: &jetstream::Message,
        reason: &str,
    ) -> Result<(), String> {
        let mut headers = message.headers.clone().unwrap_or_default();
        headers.insert(ERROR_HEADER, header_value(reason));
        headers.insert(RECEIVER_HEADER, header_value(&self.name));
        headers.insert(
            "x-periscope-subject",
            header_value(message.subject.as_str()),
        );
        if let Ok(info) = message.info() {
            // Same original, same id: a dead letter published twice is stored once.
            let id = format!(
                "periscope-{}-{}-{}",
                self.name, info.stream, info.stream_sequence
            );
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        }
        let ack = js
            .publish_with_headers(
                self.dead_letter_subject.clone(),
                headers,
                message.payload.clone(),
            )
            .await
            .map_err(|e| {
                format!(
                    "cannot publish to dead-letter subject {}: {e}",
                    self.dead_letter_subject
                )
            })?;
        ack.await.map(|_| ()).map_err(|e| {
            format!(
                "no stream stored the dead letter on {}: {e}",
                self.dead_letter_subject
            )
        })
    }
}

/// Naks what is left of a batch at shutdown, so the server hands it out again at once instead
/// of after `ack_wait`. Messages already fetched sit in the client's buffer; a short wait finds
/// them all, a message still on its way just waits for `ack_wait`.
async fn hand_back(batch: &mut pull::Batch) {
    while let Ok(Some(Ok(message))) = tokio::time::timeout(HAND_BACK_WAIT, batch.next()).await {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}

/// Header values are one line of text: control characters become spaces.
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The client's reconnect delay: this receiver's backoff, by attempt number.
fn reconnect_delay(backoff: &Backoff, attempts: usize) -> Duration {
    let mut b = backoff.clone();
    b.reset();
    (0..attempts.clamp(1, 64))
        .map(|_| b.next_delay())
        .last()
        .unwrap_or(backoff.max())
}

/// Resolves when the watched value changes; never, once its sender is gone (no more
/// reconnects to report).
async fn changed(reconnected: &mut watch::Receiver<u64>) {
    if reconnected.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn note_event(
    stats: &BrokerStats,
    seen_first: &AtomicBool,
    reconnected: &watch::Sender<u64>,
    event: &async_nats::Event,
) {
    match event {
        // The client reports its first connection too; only the later ones are reconnects.
        async_nats::Event::Connected if seen_first.swap(true, Ordering::Relaxed) => {
            stats.count_reconnect();
            stats.set_connected(true);
            reconnected.send_modify(|count| *count += 1);
        }
        async_nats::Event::Disconnected => {
            stats.set_connected(false);
            stats.count_connection_error();
        }
        _ => {}
    }
}
