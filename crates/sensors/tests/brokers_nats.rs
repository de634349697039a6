//! The `nats` receiver against the NATS server with JetStream on 127.0.0.1:4222: every message
//! stored and acked, poison dead-lettered with its reason, nothing acked or lost while the
//! store is down, and a restart resumes where the durable consumer was.

#[path = "brokers_common.rs"]
mod common;

use std::sync::Arc;

use async_nats::jetstream::{self, consumer, stream};
use common::{
    FAST_RETRY, Running, TestSink, bodies, bounded, require_server, sorted, unique, wait_until,
};
use sensors::brokers::{NatsReceiver, NatsSettings};

const ADDR: &str = "127.0.0.1:4222";
const URL: &str = "nats://127.0.0.1:4222";

/// One test's stream, subjects and receiver name.
struct Names {
    stream: String,
    subject_prefix: String,
    receiver: String,
}

impl Names {
    fn new() -> Self {
        let base = unique("ptest");
        Names {
            stream: base.to_uppercase(),
            subject_prefix: format!("ptest.{base}"),
            receiver: base,
        }
    }

    fn dead_letter_subject(&self) -> String {
        format!("periscope.dead-letter.{}", self.stream)
    }

    fn receiver(&self) -> NatsReceiver {
        let text = format!(
            "url = \"{URL}\"\nstream = \"{}\"\nsubjects = [\"{}.>\"]\nconsumer = \"periscope\"\nbatch = 5\n{FAST_RETRY}",
            self.stream, self.subject_prefix
        );
        toml::from_str::<NatsSettings>(&text)
            .expect("valid TOML")
            .build(&self.receiver)
            .expect("valid settings")
    }
}

/// A test-side client for publishing and looking into the stream.
struct Server {
    js: jetstream::Context,
}

impl Server {
    async fn connect() -> Self {
        require_server(
            "NATS (with JetStream)",
            ADDR,
            "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log",
        );
        let client = bounded("connecting to NATS", async_nats::connect(URL))
            .await
            .expect("NATS accepts connections on 127.0.0.1:4222");
        Server {
            js: jetstream::new(client),
        }
    }

    /// Creates the stream as the receiver would, so messages published before it starts are kept.
    async fn prepare(&self, names: &Names) {
        self.js
            .get_or_create_stream(stream::Config {
                name: names.stream.clone(),
                subjects: vec![format!("{}.>", names.subject_prefix)],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .expect("create stream");
    }

    async fn publish(&self, names: &Names, bodies: &[String]) {
        for body in bodies {
            let ack = self
                .js
                .publish(format!("{}.app", names.subject_prefix), body.clone().into())
                .await
                .expect("publish");
            bounded("publish ack", ack.into_future())
                .await
                .expect("the stream stored a test message");
        }
    }

    /// (messages not yet delivered, delivered but not acked) of the receiver's consumer.
    async fn pending(&self, names: &Names) -> (u64, usize) {
        let stream = self
            .js
            .get_stream(&names.stream)
            .await
            .expect("stream exists");
        let info = stream
            .consumer_info("periscope")
            .await
            .expect("consumer exists");
        (info.num_pending, info.num_ack_pending)
    }

    /// Waits until the consumer has nothing pending or unacknowledged.
    async fn wait_drained(&self, names: &Names) {
        let start = std::time::Instant::now();
        loop {
            let pending = self.pending(names).await;
            if pending == (0, 0) {
                return;
            }
            assert!(
                start.elapsed() < common::WAIT,
                "consumer still has (pending, unacked) = {pending:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn cleanup(self, names: &Names) {
        let _ = self.js.delete_stream(&names.stream).await;
        let _ = self
            .js
            .delete_stream(format!("{}_DEAD_LETTER", names.stream))
            .await;
    }
}

fn start(receiver: NatsReceiver, sink: &Arc<TestSink>) -> Running {
    let sink: Arc<dyn model::PayloadSink> = sink.clone();
    Running::new(|stop| receiver.start(sink, stop))
}

#[tokio::test]
async fn messages_are_stored_then_acked() {
    let server = Server::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;

    let sent = bodies("m", 30);
    server.publish(&names, &sent).await;
    wait_until("30 messages are stored", || sink.stored_count() == 30).await;
    server.wait_drained(&names).await;
    running.stop().await;

    assert_eq!(sink.bodies(), sent);
    assert_eq!(server.pending(&names).await, (0, 0));
    let s = stats.snapshot();
    assert_eq!((s.stored, s.dead_lettered), (30, 0));
    server.cleanup(&names).await;
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_subject_and_the_rest_still_arrives() {
    let server = Server::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    server.prepare(&names).await;
    let sent = vec![
        "good-1".to_string(),
        "poison-2".to_string(),
        "good-3".to_string(),
    ];
    server.publish(&names, &sent).await;

    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the good messages are stored", || sink.stored_count() == 2).await;
    wait_until("the poison message is dead-lettered", || {
        stats.snapshot().dead_lettered == 1
    })
    .await;
    server.wait_drained(&names).await;
    running.stop().await;

    assert_eq!(sink.bodies(), ["good-1", "good-3"]);
    let dead_letters = server
        .js
        .get_stream(format!("{}_DEAD_LETTER", names.stream))
        .await
        .expect("the dead-letter stream was created");
    let dead = dead_letters
        .get_last_raw_message_by_subject(&names.dead_letter_subject())
        .await
        .expect("a dead letter");
    assert_eq!(dead.payload.as_ref(), b"poison-2");
    let header = |name: &str| {
        dead.headers
            .get(name)
            .map(|v| v.as_str().to_string())
            .unwrap_or_else(|| panic!("header {name} in {:?}", dead.headers))
    };
    assert_eq!(header("x-periscope-error"), "test sink rejects `poison-2`");
    assert_eq!(
        header("x-periscope-subject"),
        format!("{}.app", names.subject_prefix)
    );
    assert_eq!(header("x-periscope-receiver"), names.receiver);
    server.cleanup(&names).await;
}

#[tokio::test]
async fn while_the_store_is_down_nothing_is_acked_or_lost() {
    let server = Server::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    sink.set_down(true);
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;
    let first = bodies("a", 12);
    server.publish(&names, &first).await;
    wait_until("the store was retried", || stats.snapshot().retries >= 3).await;
    assert_eq!(sink.stored_count(), 0);
    let (pending, unacked) = server.pending(&names).await;
    assert_eq!(pending + unacked as u64, 12, "no message may be acked");

    sink.set_down(false);
    wait_until("everything is stored once the store is back", || {
        sink.stored_count() == 12
    })
    .await;
    let second = bodies("b", 5);
    server.publish(&names, &second).await;
    wait_until("new messages flow again", || sink.stored_count() == 17).await;
    server.wait_drained(&names).await;
    running.stop().await;

    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    server.cleanup(&names).await;
}

#[tokio::test]
async fn a_stopped_receiver_leaves_messages_in_the_stream_and_resumes_them() {
    let server = Server::connect().await;
    let names = Names::new();
    let sink = TestSink::new();

    // Stopped while the store is down: the fetched batch is handed back.
    sink.set_down(true);
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;
    let first = bodies("a", 8);
    server.publish(&names, &first).await;
    wait_until("the store was retried", || stats.snapshot().retries >= 2).await;
    running.stop().await;
    let (pending, unacked) = server.pending(&names).await;
    assert_eq!(pending + unacked as u64, 8, "no message may be acked");

    // Published while Periscope is stopped.
    let second = bodies("b", 6);
    server.publish(&names, &second).await;

    sink.set_down(false);
    let calls_before = sink.calls();
    let receiver = names.receiver();
    let running = start(receiver, &sink);
    wait_until("everything is stored after the restart", || {
        sink.stored_count() == 14
    })
    .await;
    server.wait_drained(&names).await;
    running.stop().await;

    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    assert_eq!(
        sink.calls() - calls_before,
        14,
        "each message delivered exactly once after the restart"
    );
    assert!(sink.duplicates().is_empty(), "{:?}", sink.duplicates());
    server.cleanup(&names).await;
}

#[tokio::test]
async fn the_consumer_is_durable_and_explicitly_acked() {
    let server = Server::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;
    running.stop().await;

    let stream = server
        .js
        .get_stream(&names.stream)
        .await
        .expect("stream created");
    let info = stream
        .consumer_info("periscope")
        .await
        .expect("consumer created");
    assert_eq!(info.config.durable_name.as_deref(), Some("periscope"));
    assert_eq!(info.config.ack_policy, consumer::AckPolicy::Explicit);
    assert_eq!(info.config.ack_wait, std::time::Duration::from_secs(60));
    server.cleanup(&names).await;
}
