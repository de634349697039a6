//! The `mqtt` receiver against Mosquitto on 127.0.0.1:1883: every message stored and acked,
//! poison dead-lettered as a JSON envelope, nothing acked or lost while the store is down, and
//! the persistent session keeps what is published while Periscope is stopped.

#[path = "brokers_common.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{
    FAST_RETRY, Running, TestSink, bodies, bounded, require_server, sorted, unique, wait_until,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use sensors::brokers::{MqttReceiver, MqttSettings};
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
        let text = format!(
            "host = \"127.0.0.1\"\nport = 1883\nclient_id = \"{}\"\ntopics = [\"{}/+/metrics\"]\ninflight = 5\nsession_expiry = \"5m\"\n{FAST_RETRY}",
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

/// Starts a receiver and waits until its subscriptions are in place.
async fn start_connected(
    names: &Names,
    sink: &Arc<TestSink>,
) -> (Running, Arc<sensors::brokers::BrokerStats>) {
    let receiver = names.receiver();
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
