//! The MQTT consumer task: one half polls the event loop (it must never stop, or keep-alive and
//! acks stall), the other stores messages one at a time and acks them. The poller hands
//! messages over without ever waiting for the worker; see `handoff` for what happens when the
//! broker sends more than the worker may hold.
//!
//! The poller numbers connections; each message carries the number of the connection it came
//! on, and the worker acks only if that connection is still the current one. Packet ids belong
//! to a connection: after a reconnect the broker resends every unacknowledged message, and an
//! ack meant for the old copy could otherwise acknowledge whatever new message now has its id.
//! The number moves on the moment a connection is lost, not only at the next CONNACK: the
//! client drops the acks it has queued when the connection fails, but one queued while it is
//! reconnecting would go out on the new connection. There the client refuses an ack for a
//! packet id the new connection has not delivered (and drops the connection again), and once
//! the id is delivered it may name another message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use model::PayloadSink;
use rumqttc::{
    AsyncClient, ClientError, Event, EventLoop, Packet, PublishOptions, QoS, RetainForwardRule,
    SubAck, SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::{mpsc, watch};

use super::MqttReceiver;
use super::handoff::{Handoff, Held, Offer};
use crate::brokers::Shutdown;
use crate::brokers::deliver::{Deliverer, Verdict, sleep_or_stop, stopped};

/// How long a clean disconnect may take at shutdown.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) async fn run(receiver: MqttReceiver, sink: Arc<dyn PayloadSink>, shutdown: Shutdown) {
    let built = receiver.options().and_then(|options| {
        AsyncClient::builder(options)
            .capacity(usize::from(receiver.inflight) + 16)
            .try_build()
            .map_err(|e| format!("cannot build the MQTT client: {e}"))
    });
    let (client, eventloop) = match built {
        Ok(pair) => pair,
        Err(error) => {
            // `build` ran the same checks, so this is not expected; say so loudly and stop.
            tracing::error!(receiver = %receiver.name, broker = %receiver.describe(), %error, "mqtt receiver cannot start");
            return;
        }
    };
    let generation = AtomicU64::new(0);
    let (handoff, rx) = Handoff::new(receiver.max_held, &receiver.stats);
    // The poller outlives the worker: the worker's last acks must go out before DISCONNECT.
    let (worker_done, poller_stop) = watch::channel(false);
    let poll = receiver.poll(eventloop, &client, handoff, &generation, poller_stop);
    let work = async {
        receiver
            .work(&client, rx, &generation, &*sink, shutdown)
            .await;
        let _ = worker_done.send(true);
    };
    tokio::join!(poll, work);
    receiver.stats.set_connected(false);
    tracing::info!(receiver = %receiver.name, broker = %receiver.describe(), "mqtt receiver stopped");
}

impl MqttReceiver {
    async fn poll(
        &self,
        mut eventloop: EventLoop,
        client: &AsyncClient,
        mut handoff: Handoff<'_>,
        generation: &AtomicU64,
        mut stop: Shutdown,
    ) {
        let mut retry = self.backoff.clone();
        let mut connected_before = false;
        loop {
            let event = tokio::select! {
                biased;
                _ = stopped(&mut stop) => break,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    generation.fetch_add(1, Ordering::SeqCst);
                    if connected_before {
                        self.stats.count_reconnect();
                    }
                    connected_before = true;
                    self.stats.set_connected(true);
                    retry.reset();
                    if self.subscribe(client) {
                        handoff.subscribe_sent(false);
                    }
                    tracing::info!(
                        receiver = %self.name,
                        broker = %self.describe(),
                        session_present = ack.session_present,
                        "mqtt receiver connected"
                    );
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let connection = generation.load(Ordering::SeqCst);
                    match handoff.offer(connection, publish) {
                        Offer::Queued => {}
                        Offer::Deferred => {
                            // Once per connection: every further one would say the same.
                            if handoff.deferred_here() == 1 {
                                tracing::warn!(
                                    receiver = %self.name,
                                    broker = %self.describe(),
                                    inflight = self.inflight,
                                    max_held = self.max_held,
                                    "the broker sends more unacknowledged messages than the receiver holds; \
                                     leaving the rest unacked, to be sent again on a new connection once the held ones are stored"
                                );
                            }
                        }
                        Offer::WorkerGone => break,
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(suback))) => {
                    self.check_suback(&suback);
                    if handoff.suback_received() {
                        // Everything the worker was given is stored and the broker has its
                        // acks: a new connection makes it send the deferred messages again.
                        // Stale from now on, like a lost connection.
                        generation.fetch_add(1, Ordering::SeqCst);
                        let deferred = handoff.connection_gone();
                        self.stats.set_connected(false);
                        tracing::info!(receiver = %self.name, broker = %self.describe(), deferred, "held messages stored; reconnecting so the broker sends the deferred ones again");
                        // Drops the connection; the next poll connects again.
                        eventloop.clean();
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    // What came on the lost connection is stale from now on (see the module docs).
                    generation.fetch_add(1, Ordering::SeqCst);
                    handoff.connection_gone();
                    self.stats.set_connected(false);
                    self.stats.count_connection_error();
                    let delay = retry.next_delay();
                    tracing::warn!(receiver = %self.name, broker = %self.describe(), %error, ?delay, "mqtt receiver disconnected, reconnecting");
                    if sleep_or_stop(delay, &mut stop).await {
                        break;
                    }
                }
            }
            // After any event: the worker may have finished the last held message by now.
            if handoff.barrier_due() && self.subscribe(client) {
                handoff.subscribe_sent(true);
            }
        }
        self.disconnect(&mut eventloop, client).await;
    }

    /// Subscribes every topic on every connection: a resumed session has them already, but a
    /// topic added to the config since would be missing. Retained messages come only with a
    /// new subscription, so a resubscription brings no duplicates (which is also what makes it
    /// a harmless barrier, see `handoff`). True when the SUBSCRIBE is queued.
    fn subscribe(&self, client: &AsyncClient) -> bool {
        let filters = self.topics.iter().map(|topic| SubscribeFilter {
            retain_forward_rule: RetainForwardRule::OnNewSubscribe,
            ..SubscribeFilter::new(topic.clone(), QoS::AtLeastOnce)
        });
        // `try_`: the poller is the one draining the request queue, so it must not wait on it.
        match client.try_subscribe_many(filters) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(receiver = %self.name, broker = %self.describe(), %error, "cannot subscribe");
                false
            }
        }
    }

    /// Logs the subscriptions the broker refused.
    fn check_suback(&self, suback: &SubAck) {
        let refused: Vec<_> = suback
            .return_codes
            .iter()
            .zip(&self.topics)
            .filter(|(code, _)| !matches!(code, SubscribeReasonCode::Success(_)))
            .map(|(code, topic)| format!("{topic}: {code:?}"))
            .collect();
        if !refused.is_empty() {
            tracing::error!(receiver = %self.name, broker = %self.describe(), refused = %refused.join(", "), "the broker refused subscriptions");
        }
    }

    /// Sends DISCONNECT (keeping the session: its expiry was set at CONNECT) and drains the
    /// event loop until it is out, so queued acks reach the broker first.
    async fn disconnect(&self, eventloop: &mut EventLoop, client: &AsyncClient) {
        if !self.stats.snapshot().connected || client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
            while eventloop.poll().await.is_ok() {}
        })
        .await;
    }

    async fn work(
        &self,
        client: &AsyncClient,
        mut rx: mpsc::Receiver<Held<'_>>,
        generation: &AtomicU64,
        sink: &dyn PayloadSink,
        mut shutdown: Shutdown,
    ) {
        let mut deliverer = Deliverer {
            sink,
            format: self.format,
            stats: &self.stats,
            backoff: self.backoff.clone(),
        };
        loop {
            // Held until the end of this turn: dropping it tells the poller it is done with.
            let held = tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => return,
                received = rx.recv() => match received {
                    Some(received) => received,
                    None => return,
                },
            };
            let (connection, publish) = (held.connection, &held.publish);
            let current = || generation.load(Ordering::SeqCst) == connection;
            let topic = String::from_utf8_lossy(&publish.topic).into_owned();
            let origin = format!("mqtt {}:{} topic {topic}", self.host, self.port);
            // A stale message (its connection is gone) is still stored if the store is up, in
            // case the broker lost the session; it is not retried or acked: its resent copy is.
            let verdict = deliverer
                .deliver(&publish.payload, &origin, &mut shutdown, || async {
                    current()
                })
                .await;
            match verdict {
                Verdict::Stored => {}
                Verdict::Poison(reason) => {
                    let published = tokio::select! {
                        biased;
                        _ = stopped(&mut shutdown) => return,
                        published = self.dead_letter(client, &topic, &publish.payload, &reason) => published,
                    };
                    if let Err(error) = published {
                        tracing::warn!(receiver = %self.name, %topic, %error, "cannot dead-letter a poison message; not acked, the broker resends it");
                        continue;
                    }
                    self.stats.count_dead_lettered();
                    tracing::warn!(receiver = %self.name, %topic, dead_letter_topic = %self.dead_letter_topic, %reason, "poison message dead-lettered");
                }
                Verdict::Shutdown => return,
                Verdict::Abandoned => continue,
            }
            if !current() {
                continue;
            }
            // `try_`, right after the check: an ack that had to wait for room could be queued
            // after the connection failed and go out on the next one.
            match client.try_ack(publish) {
                Ok(()) => {}
                Err(ClientError::RequestChannelFull(_)) => {
                    // Not expected (room for `inflight` + 16 requests, one ack per message):
                    // left unacked, the broker sends it again after the next reconnect.
                    tracing::warn!(receiver = %self.name, %topic, "the MQTT client is too busy to take an ack; the broker will resend the message");
                }
                Err(error) => {
                    tracing::warn!(receiver = %self.name, %topic, %error, "cannot ack; the client is closing");
                    return;
                }
            }
        }
    }

    /// Publishes the envelope at QoS 1 and waits for the broker's PUBACK.
    async fn dead_letter(
        &self,
        client: &AsyncClient,
        topic: &str,
        payload: &[u8],
        reason: &str,
    ) -> Result<(), String> {
        let envelope = serde_json::json!({
            "error": reason,
            "receiver": self.name,
            "topic": topic,
            "payload_base64": base64::engine::general_purpose::STANDARD.encode(payload),
        });
        let notice = client
            .publish_tracked(
                self.dead_letter_topic.as_str(),
                envelope.to_string().into_bytes(),
                PublishOptions::at_least_once(),
            )
            .await
            .map_err(|e| format!("cannot publish to {}: {e}", self.dead_letter_topic))?;
        notice.wait_completion_async().await.map_err(|e| {
            format!(
                "the broker did not take the dead letter on {}: {e}",
                self.dead_letter_topic
            )
        })
    }
}
