//! The `mqtt` receiver against Mosquitto on 127.0.0.1:1883: every message stored and acked,
//! poison dead-lettered as a JSON envelope, nothing acked or lost while the store is down, the
//! persistent session keeps what is published while Periscope is stopped, and a store outage
//! longer than the keep-alive, with the broker sending far more than `inflight`, costs no
//! connection and stores each message once, and messages of hundreds of KiB arrive.

#[path = "brokers_common.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{
    FAST_RETRY, Running, TestSink, bodies, bounded, require_server, sorted, unique, wait_until,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use sensors::brokers::{MqttReceiver, MqttSettings, StatsSnapshot};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const ADDR: &str = "127.0.0.1:1883";

/// One test's topics and client id.
struct Names {
    client_id: String,
    topic_prefix: String,
}

impl Names {
    fn new() -> Self {
        let base = unique("ptest");
        Names {
            topic_prefix: format!("ptest/{base}"),
            client_id: base,
        }
    }

    fn dead_letter_topic(&self) -> String {
        format!("periscope/dead-letter/{}", self.client_id)
    }

    fn receiver(&self) -> MqttReceiver {
        self.receiver_with("inflight = 5\n")
    }

    /// The test receiver with `extra` settings lines added.
    fn receiver_with(&self, extra: &str) -> MqttReceiver {
        let text = format!(
            "host = \"127.0.0.1\"\nport = 1883\nclient_id = \"{}\"\ntopics = [\"{}/+/metrics\"]\nsession_expiry = \"5m\"\n{FAST_RETRY}{extra}",
            self.client_id, self.topic_prefix
        );
        toml::from_str::<MqttSettings>(&text)
            .expect("valid TOML")
            .build(&self.client_id)
            .expect("valid settings")
    }
}

/// A clean-session test client: publishes at QoS 1 and collects what it subscribed to.
struct TestClient {
    client: AsyncClient,
    received: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: JoinHandle<()>,
}

impl TestClient {
    async fn connect() -> Self {
        require_server(
            "Mosquitto",
            ADDR,
            "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
        );
        let options = MqttOptions::new(unique("ptest-client"), ("127.0.0.1", 1883));
        let (client, mut eventloop) = AsyncClient::builder(options)
            .try_build()
            .expect("client options");
        let (tx, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let topic = String::from_utf8_lossy(&p.topic).into_owned();
                        let _ = tx.send((topic, p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        TestClient {
            client,
            received,
            task,
        }
    }

    async fn publish(&self, names: &Names, bodies: &[String]) {
        for body in bodies {
            let notice = self
                .client
                .publish_tracked(
                    format!("{}/app/metrics", names.topic_prefix),
                    body.clone().into_bytes(),
                    PublishOptions::at_least_once(),
                )
                .await
                .expect("publish");
            bounded("PUBACK for a test message", notice.wait_completion_async())
                .await
                .expect("Mosquitto took a test message");
        }
    }

    async fn subscribe(&self, topic: &str) {
        let notice = self
            .client
            .subscribe_tracked(topic, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        bounded("SUBACK", notice.wait_completion_async())
            .await
            .expect("Mosquitto took the subscription");
    }

    async fn next_message(&mut self) -> (String, Vec<u8>) {
        bounded("a message for the test client", self.received.recv())
            .await
            .expect("the test client is running")
    }

    fn close(self) {
        self.task.abort();
    }
}

fn start(receiver: MqttReceiver, sink: &Arc<TestSink>) -> Running {
    let sink: Arc<dyn model::PayloadSink> = sink.clone();
    Running::new(|stop| receiver.start(sink, stop))
}

/// Starts the default test receiver and waits until its subscriptions are in place.
async fn start_connected(
    names: &Names,
    sink: &Arc<TestSink>,
) -> (Running, Arc<sensors::brokers::BrokerStats>) {
    start_receiver_connected(names.receiver(), sink).await
}

/// Starts `receiver` and waits until its subscriptions are in place.
async fn start_receiver_connected(
    receiver: MqttReceiver,
    sink: &Arc<TestSink>,
) -> (Running, Arc<sensors::brokers::BrokerStats>) {
    let stats = receiver.stats();
    let running = start(receiver, sink);
    wait_until("the receiver is connected", || stats.snapshot().connected).await;
    // The SUBSCRIBE goes out right after CONNACK; give it its round trip.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (running, stats)
}

#[tokio::test]
async fn messages_are_stored_then_acked() {
    let publisher = TestClient::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let (running, stats) = start_connected(&names, &sink).await;

    let sent = bodies("m", 30);
    publisher.publish(&names, &sent).await;
    wait_until("30 messages are stored", || sink.stored_count() == 30).await;
    running.stop().await;
    assert_eq!(sink.bodies(), sent);
    assert_eq!(stats.snapshot().stored, 30);

    // Everything was acked: resuming the session brings nothing again.
    let calls = sink.calls();
    let (running, stats) = start_connected(&names, &sink).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await;
    assert_eq!(stats.snapshot().received, 0, "acked messages came again");
    assert_eq!(sink.calls(), calls);
    publisher.close();
}

#[tokio::test]
async fn messages_far_above_ten_kibibytes_are_stored_without_reconnecting() {
    // The client library's own default limit is 10 KiB; a Prometheus text body is often more.
    let publisher = TestClient::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let (running, stats) = start_connected(&names, &sink).await;

    let sent: Vec<String> = bodies("big", 3)
        .into_iter()
        .map(|b| format!("{b}:{}", "x".repeat(200 * 1024)))
        .collect();
    publisher.publish(&names, &sent).await;
    wait_until("3 large messages are stored", || sink.stored_count() == 3).await;
    running.stop().await;
    assert_eq!(sink.bodies(), sent);
    let after = stats.snapshot();
    assert_eq!(
        (after.reconnects, after.connection_errors),
        (0, 0),
        "{after:?}"
    );
    publisher.close();
}

#[test]
fn max_message_bytes_is_bounded_by_what_mqtt_can_carry() {
    let names = Names::new();
    for bad in [
        "max_message_bytes = 10\n",
        "max_message_bytes = 300000000\n",
    ] {
        let text = format!(
            "host = \"127.0.0.1\"\nclient_id = \"{}\"\ntopics = [\"a/b\"]\n{bad}",
            names.client_id
        );
        let issues = toml::from_str::<MqttSettings>(&text)
            .expect("valid TOML")
            .build("r")
            .expect_err(bad);
        assert!(
            issues
                .iter()
                .any(|i| i.to_string().contains("max_message_bytes")),
            "{issues:?}"
        );
    }
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_topic_and_the_rest_still_arrives() {
    let mut watcher = TestClient::connect().await;
    let names = Names::new();
    watcher.subscribe(&names.dead_letter_topic()).await;
    let sink = TestSink::new();
    let (running, stats) = start_connected(&names, &sink).await;

    let sent = vec![
        "good-1".to_string(),
        "poison-2".to_string(),
        "good-3".to_string(),
    ];
    watcher.publish(&names, &sent).await;
    wait_until("the good messages are stored", || sink.stored_count() == 2).await;
    let (topic, envelope) = watcher.next_message().await;
    wait_until("the dead letter is counted", || {
        stats.snapshot().dead_lettered == 1
    })
    .await;
    running.stop().await;

    assert_eq!(sink.bodies(), ["good-1", "good-3"]);
    assert_eq!(topic, names.dead_letter_topic());
    let envelope: serde_json::Value = serde_json::from_slice(&envelope).expect("JSON envelope");
    assert_eq!(envelope["error"], "test sink rejects `poison-2`");
    assert_eq!(
        envelope["topic"],
        format!("{}/app/metrics", names.topic_prefix)
    );
    assert_eq!(envelope["receiver"], names.client_id.as_str());
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload_base64"].as_str().expect("payload_base64"))
        .expect("base64");
    assert_eq!(payload, b"poison-2");
    watcher.close();
}

#[tokio::test]
async fn while_the_store_is_down_nothing_is_acked_or_lost() {
    let publisher = TestClient::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    sink.set_down(true);
    let (running, stats) = start_connected(&names, &sink).await;
    let first = bodies("a", 12);
    publisher.publish(&names, &first).await;
    wait_until("the store was retried", || stats.snapshot().retries >= 3).await;
    assert_eq!(sink.stored_count(), 0);
    assert_eq!(
        stats.snapshot().received,
        1,
        "one message held, the rest wait in the broker"
    );

    sink.set_down(false);
    wait_until("everything is stored once the store is back", || {
        sink.stored_count() == 12
    })
    .await;
    let second = bodies("b", 5);
    publisher.publish(&names, &second).await;
    wait_until("new messages flow again", || sink.stored_count() == 17).await;
    running.stop().await;
    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    publisher.close();
}

#[tokio::test]
async fn the_session_keeps_messages_while_the_receiver_is_stopped() {
    let publisher = TestClient::connect().await;
    let names = Names::new();
    let sink = TestSink::new();

    // The first run creates the session; stopped while the store is down, holding a message.
    sink.set_down(true);
    let (running, stats) = start_connected(&names, &sink).await;
    let first = bodies("a", 8);
    publisher.publish(&names, &first).await;
    wait_until("the store was retried", || stats.snapshot().retries >= 2).await;
    running.stop().await;

    // Published while Periscope is stopped.
    let second = bodies("b", 6);
    publisher.publish(&names, &second).await;

    sink.set_down(false);
    let calls_before = sink.calls();
    let (running, stats) = start_connected(&names, &sink).await;
    wait_until("everything is stored after the restart", || {
        sink.stored_count() == 14
    })
    .await;
    running.stop().await;

    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    assert_eq!(
        sink.calls() - calls_before,
        14,
        "each message delivered exactly once after the restart"
    );
    assert!(sink.duplicates().is_empty(), "{:?}", sink.duplicates());
    assert_eq!(stats.snapshot().received, 14);
    publisher.close();
}

/// Keep-alive of the receivers in the store-outage tests: short, so that an outage of a few
/// seconds spans several keep-alive periods. Mosquitto drops a client it has heard nothing from
/// for 1.5 keep-alives.
const SHORT_KEEP_ALIVE: Duration = Duration::from_secs(2);

/// How long the store is down in the store-outage tests.
const OUTAGE: Duration = Duration::from_secs(5);

/// Timestamp of the first sample of [`sample_bodies`] (ms).
const BASE_MS: i64 = 1_700_000_000_000;

/// `n` Prometheus text payloads, one sample each: the series `outage_test` at `BASE_MS + i`
/// with the value `i`.
fn sample_bodies(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("outage_test {i} {}\n", BASE_MS + i as i64))
        .collect()
}

/// A receiver with `settings` (and the short keep-alive) resumes a session holding `n`
/// messages, stores a few slowly, acking as it goes (Mosquitto 2.0.11 then sends far more than
/// `inflight`), finds the store down for [`OUTAGE`], then back. Checks that every message's
/// sample is stored once with its value and was offered to the store only once (no message
/// came twice), and returns the receiver's counters at the end of the outage and at the end.
async fn store_outage(settings: &str, n: usize) -> (StatsSnapshot, StatsSnapshot) {
    let publisher = TestClient::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let settings = format!(
        "keep_alive = \"{}s\"\nformat = \"prometheus\"\n{settings}",
        SHORT_KEEP_ALIVE.as_secs()
    );
    // The first run creates the session; what is published while the receiver is stopped
    // waits in it.
    let (running, _) = start_receiver_connected(names.receiver_with(&settings), &sink).await;
    running.stop().await;
    let sent = sample_bodies(n);
    publisher.publish(&names, &sent).await;

    sink.set_delay(Duration::from_millis(40));
    let (running, stats) = start_receiver_connected(names.receiver_with(&settings), &sink).await;
    wait_until("a few messages are stored", || sink.stored_count() >= 5).await;
    sink.set_down(true);
    let stored_before = sink.stored_count();
    wait_until("the store was retried", || stats.snapshot().retries >= 1).await;
    tokio::time::sleep(OUTAGE).await;
    let during = stats.snapshot();
    eprintln!("after {OUTAGE:?} of outage: {during:?}");
    assert_eq!(
        sink.stored_count(),
        stored_before,
        "nothing is stored while the store is down"
    );

    sink.set_down(false);
    sink.set_delay(Duration::ZERO);
    wait_until("every message is stored once the store is back", || {
        sink.stored_count() == n
    })
    .await;
    // A connection the broker was about to drop would go within another keep-alive.
    tokio::time::sleep(SHORT_KEEP_ALIVE).await;
    running.stop().await;
    let after = stats.snapshot();
    eprintln!("after the outage: {after:?}, {} store calls", sink.calls());

    assert_eq!(sink.bodies(), sorted(&[&sent]));
    let kept: Vec<(String, i64, f64, u32)> = sink
        .samples()
        .into_iter()
        .map(|((series, at), sample)| (series, at, sample.value, sample.offered))
        .collect();
    let expected: Vec<(String, i64, f64, u32)> = (0..n)
        .map(|i| ("outage_test{}".to_string(), BASE_MS + i as i64, i as f64, 1))
        .collect();
    assert_eq!(
        kept, expected,
        "each (series, timestamp) stored once, with its value, offered once"
    );
    publisher.close();
    (during, after)
}

#[tokio::test]
async fn a_store_outage_longer_than_the_keep_alive_keeps_the_connection() {
    // Twelve times `inflight`, all of which fit in the default `max_held` (1000).
    let (during, after) = store_outage("inflight = 5\n", 60).await;
    assert_eq!(
        (
            during.reconnects,
            during.connection_errors,
            during.connected
        ),
        (0, 0, true),
        "connected all through the outage"
    );
    assert!(
        during.held > 5,
        "the broker must send more than `inflight` for this test to mean anything: {during:?}"
    );
    assert_eq!(during.deferred, 0);
    assert_eq!(
        (after.reconnects, after.connection_errors),
        (0, 0),
        "the connection outlived the outage: no reconnect, no lost connection"
    );
    assert_eq!(after.held, 0);
}

#[tokio::test]
async fn messages_beyond_max_held_come_again_on_a_new_connection() {
    let (during, after) = store_outage("inflight = 2\nmax_held = 6\n", 60).await;
    assert_eq!(
        (during.reconnects, during.connection_errors),
        (0, 0),
        "deferring messages keeps the connection"
    );
    assert_eq!(during.held, 6, "memory holds max_held messages, no more");
    assert!(
        during.deferred > 0,
        "the broker must send more than `max_held` for this test to mean anything: {during:?}"
    );
    assert_eq!(
        after.connection_errors, 0,
        "every reconnect was the receiver's own"
    );
    assert!(
        after.reconnects >= 1,
        "deferred messages come back on a new connection"
    );
    assert_eq!(after.held, 0);
}
