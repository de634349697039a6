//! How the MQTT poller hands messages to the worker without ever waiting for it, in bounded
//! memory, and what becomes of a message there is no room for.
//!
//! The poller must keep polling the event loop whatever the worker does: that is what sends
//! PINGREQ and the worker's acks. rumqttc hands out every incoming PUBLISH from `poll()` and has
//! no way to pause reading, so "not reading" is no option either. A broker that honours the
//! receive maximum (`inflight`) sends at most that many unacknowledged messages, but Mosquitto
//! 2.0.11 was seen to send a session's whole backlog once acks started flowing (rumqttc does not
//! enforce the receive maximum on what it receives). A queue sized for `inflight` then filled
//! while the store was slow or down, the poller waited for room, no PINGREQ went out, and the
//! broker dropped the connection after 1.5 keep-alives: a store outage became a loop of
//! reconnects and redeliveries.
//!
//! So the poller [`offer`](Handoff::offer)s each message and never waits. The worker holds at
//! most `max_held` messages (queued, or being stored); a message beyond that is *deferred*: its
//! copy here is dropped, neither stored nor acknowledged. The broker still has it (QoS 1,
//! persistent session) but sends it again only on a new connection, so once the worker has
//! caught up the poller reconnects on purpose (a reconnect in the stats, not a connection
//! error) and the deferred messages come back. Nothing is
//! acked that was not stored, memory stays bounded by `max_held` messages, and a deferred message
//! is stored once, when it comes back: it never reached the store before. A backlog larger than
//! `max_held` thus takes about one reconnect per `max_held` stored messages, instead of one per
//! keep-alive for as long as the store is down.
//!
//! The reconnect waits for a round trip that starts once the worker holds nothing: the poller
//! subscribes to its topics again (the same subscriptions, which changes nothing) and
//! reconnects on the SUBACK ([`barrier_due`](Handoff::barrier_due), then
//! [`suback_received`](Handoff::suback_received)). rumqttc writes acks and SUBSCRIBE from one
//! request queue, in order, and the broker answers a SUBSCRIBE only after the packets before
//! it, so its SUBACK says every ack was taken. Without it the last acks were lost: the client
//! drops the connection without DISCONNECT, and with the broker's unread messages still in its
//! receive buffer the close is a TCP reset, which discards what the broker has not read yet.
//! Those messages then came again and were stored twice. (A keep-alive PING would do as a
//! barrier too, but rumqttc sends one only after a keep-alive without other traffic, which
//! steady traffic would put off for good; an UNSUBSCRIBE of a topic never subscribed makes
//! rumqttc log a warning each time.)
//!
//! Weighed and not chosen: an unbounded queue (memory would grow with the broker's backlog,
//! which can be days of data); a side queue the poller drains into the worker's channel between
//! polls (it is the same bound with more moving parts, and draining it while `poll()` runs would
//! mean cancelling `poll()` part way through a write).

use rumqttc::Publish;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::brokers::BrokerStats;

/// A message the worker holds: counted in [`BrokerStats`] as held until it is dropped, which is
/// when the worker is done with it (or it was never queued, or the worker went away).
#[derive(Debug)]
pub(super) struct Held<'a> {
    /// The number of the connection the message arrived on (see `consume`).
    pub(super) connection: u64,
    pub(super) publish: Publish,
    stats: &'a BrokerStats,
}

impl<'a> Held<'a> {
    fn new(connection: u64, publish: Publish, stats: &'a BrokerStats) -> Self {
        stats.hold();
        Held {
            connection,
            publish,
            stats,
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.stats.release();
    }
}

/// What became of an offered message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Offer {
    /// Queued for the worker.
    Queued,
    /// `max_held` messages are held already: not kept, not acknowledged.
    Deferred,
    /// The worker has stopped.
    WorkerGone,
}

/// The poller's end of the hand-off; the worker reads the channel [`Handoff::new`] returns.
#[derive(Debug)]
pub(super) struct Handoff<'a> {
    tx: mpsc::Sender<Held<'a>>,
    max_held: u64,
    stats: &'a BrokerStats,
    /// Messages deferred on the current connection: only a new one brings them back.
    deferred_here: u64,
    /// Messages queued for the worker on the current connection.
    queued_here: u64,
    /// SUBSCRIBEs sent on the current connection and not answered yet.
    subscribes_unanswered: u32,
    /// While the barrier SUBSCRIBE is unanswered: `queued_here` when it was sent.
    barrier_sent_at: Option<u64>,
}

impl<'a> Handoff<'a> {
    /// A hand-off holding at most `max_held` messages (at least 1), and the worker's end.
    pub(super) fn new(max_held: usize, stats: &'a BrokerStats) -> (Self, mpsc::Receiver<Held<'a>>) {
        let max_held = max_held.max(1);
        // The channel never holds more than `max_held` (each queued message counts as held),
        // and tokio allocates its slots as they fill, not up front.
        let (tx, rx) = mpsc::channel(max_held);
        let handoff = Handoff {
            tx,
            max_held: u64::try_from(max_held).unwrap_or(u64::MAX),
            stats,
            deferred_here: 0,
            queued_here: 0,
            subscribes_unanswered: 0,
            barrier_sent_at: None,
        };
        (handoff, rx)
    }

    /// Queues `publish`, which arrived on connection number `connection`, for the worker, or
    /// defers it when `max_held` messages are held. Never waits.
    pub(super) fn offer(&mut self, connection: u64, publish: Publish) -> Offer {
        if self.stats.held() >= self.max_held {
            self.defer();
            return Offer::Deferred;
        }
        match self.tx.try_send(Held::new(connection, publish, self.stats)) {
            Ok(()) => {
                self.queued_here += 1;
                Offer::Queued
            }
            // Not expected: the channel has room for every held message.
            Err(TrySendError::Full(_)) => {
                self.defer();
                Offer::Deferred
            }
            Err(TrySendError::Closed(_)) => Offer::WorkerGone,
        }
    }

    fn defer(&mut self) {
        self.deferred_here += 1;
        self.stats.count_deferred();
    }

    /// Messages deferred on the current connection so far.
    pub(super) fn deferred_here(&self) -> u64 {
        self.deferred_here
    }

    /// Whether a new connection is owed: messages were deferred on this one, and the worker
    /// holds nothing any more, so everything it was given is stored (or dead-lettered) and acked.
    fn redelivery_due(&self) -> bool {
        self.deferred_here > 0 && self.stats.held() == 0
    }

    /// Whether the poller should send the barrier SUBSCRIBE now: a new connection is owed, and
    /// no SUBSCRIBE is unanswered, so the next SUBACK answers the barrier.
    pub(super) fn barrier_due(&self) -> bool {
        self.redelivery_due() && self.subscribes_unanswered == 0
    }

    /// A SUBSCRIBE was queued, after every ack the worker made so far.
    pub(super) fn subscribe_sent(&mut self, barrier: bool) {
        self.subscribes_unanswered += 1;
        if barrier {
            self.barrier_sent_at = Some(self.queued_here);
        }
    }

    /// A SUBACK arrived: true when it answers the barrier and nothing was queued for the worker
    /// since (so no ack went out after the barrier): the broker has taken every ack, and the
    /// poller should reconnect now.
    pub(super) fn suback_received(&mut self) -> bool {
        self.subscribes_unanswered = self.subscribes_unanswered.saturating_sub(1);
        if self.subscribes_unanswered > 0 {
            return false;
        }
        let sent_at = self.barrier_sent_at.take();
        self.redelivery_due() && sent_at == Some(self.queued_here)
    }

    /// The current connection is gone (lost, or dropped on purpose): the broker resends every
    /// unacknowledged message on the next one, the deferred ones included. Returns how many
    /// were deferred on it.
    pub(super) fn connection_gone(&mut self) -> u64 {
        self.queued_here = 0;
        self.subscribes_unanswered = 0;
        self.barrier_sent_at = None;
        std::mem::take(&mut self.deferred_here)
    }
}

#[cfg(test)]
mod tests {
    use rumqttc::QoS;

    use super::*;

    fn publish(n: u16) -> Publish {
        let mut publish = Publish::new("s/a/metrics", QoS::AtLeastOnce, format!("m{n}"), None);
        publish.pkid = n;
        publish
    }

    #[test]
    fn beyond_max_held_messages_are_deferred_and_counted() {
        let stats = BrokerStats::default();
        let (mut handoff, mut rx) = Handoff::new(3, &stats);
        let offers: Vec<Offer> = (1..=5).map(|n| handoff.offer(7, publish(n))).collect();
        use Offer::{Deferred, Queued};
        assert_eq!(offers, [Queued, Queued, Queued, Deferred, Deferred]);
        let s = stats.snapshot();
        assert_eq!((s.held, s.deferred), (3, 2));
        assert_eq!(handoff.deferred_here(), 2);

        // The worker gets the queued ones in order, with their connection.
        let first = rx.try_recv().expect("a queued message");
        assert_eq!((first.connection, first.publish.pkid), (7, 1));
        // Taken but not done with: still held, so still no room.
        assert_eq!(handoff.offer(7, publish(6)), Deferred);
        drop(first);
        assert_eq!(stats.snapshot().held, 2);
        assert_eq!(handoff.offer(7, publish(7)), Queued);
        let pkids: Vec<u16> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|held| held.publish.pkid)
            .collect();
        assert_eq!(pkids, [2, 3, 7]);
        assert_eq!(stats.snapshot().held, 0);
    }

    /// The poller's turn after an event: sends the barrier SUBSCRIBE if it is due.
    fn after_event(handoff: &mut Handoff<'_>) {
        if handoff.barrier_due() {
            handoff.subscribe_sent(true);
        }
    }

    #[test]
    fn a_new_connection_is_due_once_the_worker_has_caught_up_and_its_acks_are_taken() {
        let stats = BrokerStats::default();
        let (mut handoff, mut rx) = Handoff::new(1, &stats);
        // The connection's own SUBSCRIBE, answered later.
        handoff.subscribe_sent(false);
        assert_eq!(handoff.offer(1, publish(1)), Offer::Queued);
        assert!(!handoff.barrier_due(), "nothing deferred");
        assert_eq!(handoff.offer(1, publish(2)), Offer::Deferred);
        assert!(!handoff.barrier_due(), "the worker holds a message");
        let held = rx.try_recv().expect("the queued message");
        assert!(!handoff.barrier_due(), "being stored is still held");
        drop(held);
        assert!(!handoff.barrier_due(), "a SUBACK is outstanding");
        assert!(!handoff.suback_received(), "the connection's own SUBACK");
        after_event(&mut handoff);
        assert!(!handoff.barrier_due(), "the barrier is on its way");
        assert!(handoff.suback_received(), "the barrier's SUBACK");
        assert_eq!(handoff.connection_gone(), 1);
        assert!(!handoff.barrier_due(), "the new connection owes nothing");
        assert_eq!(stats.snapshot().deferred, 1, "the counter only grows");
    }

    #[test]
    fn a_message_queued_during_the_round_trip_waits_for_the_next_one() {
        let stats = BrokerStats::default();
        let (mut handoff, mut rx) = Handoff::new(1, &stats);
        handoff.offer(1, publish(1));
        handoff.offer(1, publish(2));
        drop(rx.try_recv());
        after_event(&mut handoff);
        // Stored and acked while the barrier was on its way: its ack may follow the SUBSCRIBE.
        assert_eq!(handoff.offer(1, publish(3)), Offer::Queued);
        drop(rx.try_recv());
        assert!(!handoff.suback_received());
        after_event(&mut handoff);
        assert!(handoff.suback_received(), "the next barrier will do");
    }

    #[test]
    fn a_lost_connection_brings_the_deferred_back_by_itself() {
        let stats = BrokerStats::default();
        let (mut handoff, _rx) = Handoff::new(1, &stats);
        handoff.offer(1, publish(1));
        handoff.offer(1, publish(2));
        assert_eq!(handoff.connection_gone(), 1);
        assert_eq!(handoff.deferred_here(), 0);
    }

    #[test]
    fn a_stopped_worker_releases_what_it_held() {
        let stats = BrokerStats::default();
        let (mut handoff, rx) = Handoff::new(4, &stats);
        handoff.offer(1, publish(1));
        handoff.offer(1, publish(2));
        assert_eq!(stats.snapshot().held, 2);
        drop(rx);
        assert_eq!(stats.snapshot().held, 0);
        assert_eq!(handoff.offer(1, publish(3)), Offer::WorkerGone);
        assert_eq!(stats.snapshot().held, 0);
    }
}
