//! The server-drop scenarios, written once for every broker: the server goes away between two
//! batches, or while a batch is being stored. A broker module implements [`Broker`] (its
//! server, receiver and publisher, and the checks only that broker can make) and gets the four
//! tests from [`server_drop_tests!`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use sensors::brokers::BrokerStats;

use crate::common::{Running, TestSink, WAIT, wait_until};
use crate::server::{ServerProcess, Stop};
use crate::{RECONNECT_WITHIN, STORED_WITHIN, assert_stored_once, payloads};

/// One broker as the scenarios drive it. The hooks with a default body do nothing: they are
/// for what one broker can check or must wait for and another cannot.
pub trait Broker: Sized {
    /// Names the broker in progress lines.
    const NAME: &'static str;

    /// Whether the receiver must have subscribed once before messages published while it is
    /// not running are kept for it (an MQTT broker queues only for a session that exists).
    const SUBSCRIBE_BEFORE_BACKLOG: bool;

    /// Starts the test's own server and prepares it; None (the test skips) when the server is
    /// not installed.
    async fn start() -> Option<Self>;

    /// The test's server, to stop and start again.
    fn server(&mut self) -> &mut ServerProcess;

    /// Starts the receiver under test, storing into `sink`; returns at once.
    fn start_receiver(&self, sink: &Arc<TestSink>) -> (Running, Arc<BrokerStats>);

    /// Publishes each body, retrying until the server has taken it.
    async fn publish(&self, bodies: &[String]);

    /// Returns once a receiver that just connected can also be sent messages.
    async fn subscribed(&self) {}

    /// Waits until the server holds nothing undelivered or unacknowledged for the receiver.
    async fn wait_drained(&self) {}

    /// Fails unless the server is about to go away mid-batch, as the scenario means it to.
    async fn check_mid_batch(&self) {}

    /// What must hold while the server is down after a mid-batch drop; `stored_before` is what
    /// the sink held when the server was stopped.
    async fn check_while_down(&self, _sink: &TestSink, _stored_before: usize) {}
}

/// Batch A stored and acked, server gone, server back, batch B: all of it stored once.
pub async fn dropped_between_batches<B: Broker>(how: Stop) {
    let Some(mut setup) = B::start().await else {
        return;
    };
    let sink = TestSink::new();
    let (running, stats) = start_connected(&setup, &sink).await;

    let a = payloads("a", 10);
    setup.publish(&a).await;
    wait_until("batch A is stored", || sink.stored_count() == 10).await;
    setup.wait_drained().await;

    stop(&mut setup, how, &stats).await;
    start_again(&mut setup, how, &stats).await;
    let b = payloads("b", 10);
    let publishing = Instant::now();
    setup.publish(&b).await;
    wait_until("batch B is stored", || sink.stored_count() == 20).await;
    assert!(
        publishing.elapsed() < STORED_WITHIN,
        "batch B took {:?} to be stored after the reconnect",
        publishing.elapsed()
    );
    setup.wait_drained().await;
    running.stop().await;

    assert_outcome::<B>(
        "between batches",
        how,
        &sink,
        &stats,
        &[("a", &a), ("b", &b)],
    );
    assert!(stats.snapshot().connection_errors >= 1);
}

/// The server goes away while a batch is being stored (messages delivered, not all acked):
/// after it is back every message is stored, a redelivered one once.
pub async fn dropped_while_consuming<B: Broker>(how: Stop) {
    let Some(mut setup) = B::start().await else {
        return;
    };
    let sink = TestSink::new();
    if B::SUBSCRIBE_BEFORE_BACKLOG {
        // The first run creates the session; messages published afterwards wait in it.
        let (running, _) = start_connected(&setup, &sink).await;
        running.stop().await;
    }
    let a = payloads("a", 40);
    setup.publish(&a).await;

    // Slow enough that the drop lands mid-batch, with messages delivered and not acked.
    sink.set_delay(Duration::from_millis(40));
    let (running, stats) = setup.start_receiver(&sink);
    wait_until("part of batch A is stored", || sink.stored_count() >= 8).await;
    setup.check_mid_batch().await;

    let stored_before = sink.stored_count();
    stop(&mut setup, how, &stats).await;
    setup.check_while_down(&sink, stored_before).await;
    start_again(&mut setup, how, &stats).await;
    let b = payloads("b", 10);
    setup.publish(&b).await;
    wait_until("all of A and B is stored", || sink.stored_count() == 50).await;
    setup.wait_drained().await;
    running.stop().await;

    assert_outcome::<B>(
        "while consuming",
        how,
        &sink,
        &stats,
        &[("a", &a), ("b", &b)],
    );
}

/// After a scenario: every sample of `batches` stored once, and one reconnect for the one
/// restart.
fn assert_outcome<B: Broker>(
    scenario: &str,
    how: Stop,
    sink: &TestSink,
    stats: &BrokerStats,
    batches: &[(&str, &[String])],
) {
    let redelivered = assert_stored_once(sink, batches);
    let messages: usize = batches.iter().map(|(_, list)| list.len()).sum();
    eprintln!(
        "{} {how:?} {scenario}: {} store calls for {messages} messages, {redelivered} samples redelivered, stats {:?}",
        B::NAME,
        sink.calls(),
        stats.snapshot()
    );
    assert_eq!(
        stats.snapshot().reconnects,
        1,
        "one restart, one reconnect: the new connection must not be dropped again"
    );
}

/// Starts the receiver and returns once it is connected and subscribed.
async fn start_connected<B: Broker>(
    setup: &B,
    sink: &Arc<TestSink>,
) -> (Running, Arc<BrokerStats>) {
    let (running, stats) = setup.start_receiver(sink);
    wait_until("the receiver is connected", || stats.snapshot().connected).await;
    setup.subscribed().await;
    (running, stats)
}

/// Stops the server `how` and waits until the receiver has noticed.
async fn stop<B: Broker>(setup: &mut B, how: Stop, stats: &BrokerStats) {
    setup.server().stop(how).await;
    wait_until("the receiver notices the server is gone", || {
        !stats.snapshot().connected
    })
    .await;
}

/// Starts the server again; returns when the receiver is connected and subscribed again,
/// failing if reconnecting took longer than [`RECONNECT_WITHIN`].
async fn start_again<B: Broker>(setup: &mut B, how: Stop, stats: &BrokerStats) {
    let reconnects = stats.snapshot().reconnects;
    let back = Instant::now();
    setup.server().start().await;
    wait_until("the receiver reconnects", || {
        let s = stats.snapshot();
        s.reconnects > reconnects && s.connected
    })
    .await;
    eprintln!(
        "{} {how:?}: reconnected {:?} after the server was started again",
        B::NAME,
        back.elapsed()
    );
    assert!(
        back.elapsed() < RECONNECT_WITHIN,
        "reconnected {:?} after the server was started again",
        back.elapsed()
    );
    setup.subscribed().await;
}

/// Calls `send` for `body` until it succeeds, failing the test after [`WAIT`] with the last
/// error. A retry may leave a second copy with the broker; the store absorbs it.
pub async fn send_until_taken(body: &str, mut send: impl AsyncFnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match send().await {
            Ok(()) => return,
            Err(error) => {
                assert!(start.elapsed() < WAIT, "cannot publish `{body}`: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The four tests of a broker module, run against its [`Broker`] implementation.
macro_rules! server_drop_tests {
    ($broker:ty) => {
        #[tokio::test]
        async fn a_killed_server_is_reconnected_and_nothing_is_lost_or_doubled() {
            $crate::scenarios::dropped_between_batches::<$broker>($crate::server::Stop::Kill).await;
        }

        #[tokio::test]
        async fn a_terminated_server_is_reconnected_and_nothing_is_lost_or_doubled() {
            $crate::scenarios::dropped_between_batches::<$broker>($crate::server::Stop::Terminate)
                .await;
        }

        #[tokio::test]
        async fn a_server_killed_mid_batch_loses_nothing_and_doubles_nothing() {
            $crate::scenarios::dropped_while_consuming::<$broker>($crate::server::Stop::Kill).await;
        }

        #[tokio::test]
        async fn a_server_terminated_mid_batch_loses_nothing_and_doubles_nothing() {
            $crate::scenarios::dropped_while_consuming::<$broker>($crate::server::Stop::Terminate)
                .await;
        }
    };
}
pub(crate) use server_drop_tests;
