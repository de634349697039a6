//! The `rabbitmq` receiver against the RabbitMQ server on 127.0.0.1:5672 (guest/guest): every
//! message stored and acked, poison dead-lettered with its reason, nothing acked or lost while
//! the store is down, and a dropped connection or a restart resumes where it was.

#[path = "brokers_common.rs"]
mod common;

use std::sync::Arc;

use common::{
    FAST_RETRY, Running, TestSink, bodies, bounded, require_server, sorted, unique, wait_until,
};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use sensors::brokers::{RabbitMqReceiver, RabbitMqSettings};

const ADDR: &str = "127.0.0.1:5672";
const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// One test's names: exchange, queue, routing key.
struct Names {
    exchange: String,
    queue: String,
    receiver: String,
}

impl Names {
    fn new() -> Self {
        let base = unique("periscope-test");
        Names {
            exchange: format!("{base}.x"),
            queue: format!("{base}.q"),
            receiver: base,
        }
    }

    fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letter", self.queue)
    }

    fn receiver(&self) -> RabbitMqReceiver {
        let text = format!(
            "url = \"{URL}\"\nexchange = \"{}\"\nrouting_keys = [\"app.#\"]\nqueue = \"{}\"\nprefetch = 5\n{FAST_RETRY}",
            self.exchange, self.queue
        );
        toml::from_str::<RabbitMqSettings>(&text)
            .expect("valid TOML")
            .build(&self.receiver)
            .expect("valid settings")
    }
}

/// A test-side connection for publishing and looking into queues.
struct Broker {
    connection: Connection,
    channel: Channel,
}

impl Broker {
    async fn connect() -> Self {
        require_server("RabbitMQ", ADDR, "rabbitmq-server -detached");
        let connection = bounded(
            "connecting to RabbitMQ",
            Connection::connect(URL, ConnectionProperties::default()),
        )
        .await
        .expect("RabbitMQ accepts guest/guest on 127.0.0.1:5672");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        Broker {
            connection,
            channel,
        }
    }

    /// Declares what the receiver declares, so messages published before it starts are kept.
    async fn prepare(&self, names: &Names) {
        self.channel
            .exchange_declare(
                names.exchange.as_str().into(),
                lapin::ExchangeKind::Topic,
                lapin::options::ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare exchange");
        self.channel
            .queue_declare(
                names.queue.as_str().into(),
                durable(),
                FieldTable::default(),
            )
            .await
            .expect("declare queue");
        self.channel
            .queue_bind(
                names.queue.as_str().into(),
                names.exchange.as_str().into(),
                "app.#".into(),
                Default::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind queue");
    }

    async fn publish(&self, names: &Names, bodies: &[String]) {
        for body in bodies {
            let confirm = self
                .channel
                .basic_publish(
                    names.exchange.as_str().into(),
                    "app.web".into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    body.as_bytes(),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .expect("publish");
            let confirmation = bounded("publish confirm", confirm).await.expect("confirm");
            assert!(confirmation.is_ack(), "RabbitMQ refused a test message");
        }
    }

    /// Ready messages in `queue` (unacknowledged ones are not counted until they return).
    async fn ready(&self, queue: &str) -> u32 {
        let options = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        self.channel
            .queue_declare(queue.into(), options, FieldTable::default())
            .await
            .expect("queue exists")
            .message_count()
    }

    /// Ready messages in `queue` once the stopped receiver's consumer is gone from it: the
    /// broker requeues a consumer's unacknowledged deliveries when it removes the consumer, so
    /// only then does the count include anything that was not acked.
    async fn left_after_stop(&self, queue: &str) -> u32 {
        let start = std::time::Instant::now();
        loop {
            let options = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let q = self
                .channel
                .queue_declare(queue.into(), options, FieldTable::default())
                .await
                .expect("queue exists");
            if q.consumer_count() == 0 {
                return q.message_count();
            }
            assert!(
                start.elapsed() < common::WAIT,
                "queue {queue} still has a consumer after the receiver stopped"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits until `queue` has exactly `n` ready messages.
    async fn wait_ready(&self, queue: &str, n: u32) {
        let start = std::time::Instant::now();
        loop {
            let ready = self.ready(queue).await;
            if ready == n {
                return;
            }
            assert!(
                start.elapsed() < common::WAIT,
                "queue {queue} has {ready} ready messages, expected {n}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn cleanup(self, names: &Names) {
        for queue in [names.queue.clone(), names.dead_letter_queue()] {
            let _ = self
                .channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = self
            .channel
            .exchange_delete(
                names.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
        let _ = self.connection.close(200, "test done".into()).await;
    }
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn start(receiver: RabbitMqReceiver, sink: &Arc<TestSink>) -> Running {
    let sink: Arc<dyn model::PayloadSink> = sink.clone();
    Running::new(|stop| receiver.start(sink, stop))
}

#[tokio::test]
async fn messages_are_stored_then_acked() {
    let broker = Broker::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;

    let sent = bodies("m", 30);
    broker.publish(&names, &sent).await;
    wait_until("30 messages are stored", || sink.stored_count() == 30).await;
    wait_until("30 messages are acked", || stats.snapshot().stored == 30).await;
    running.stop().await;

    assert_eq!(sink.bodies(), sent);
    assert_eq!(
        broker.left_after_stop(&names.queue).await,
        0,
        "nothing may be left in the queue"
    );
    let s = stats.snapshot();
    assert_eq!((s.received, s.stored, s.dead_lettered), (30, 30, 0));
    assert!(!s.connected);
    broker.cleanup(&names).await;
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_queue_and_the_rest_still_arrives() {
    let broker = Broker::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    broker.prepare(&names).await;
    let sent = vec![
        "good-1".to_string(),
        "poison-2".to_string(),
        "good-3".to_string(),
    ];
    broker.publish(&names, &sent).await;

    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the good messages are stored", || sink.stored_count() == 2).await;
    wait_until("the poison message is dead-lettered", || {
        stats.snapshot().dead_lettered == 1
    })
    .await;
    wait_until("everything is acked", || stats.snapshot().stored == 2).await;
    running.stop().await;

    assert_eq!(sink.bodies(), ["good-1", "good-3"]);
    assert_eq!(broker.left_after_stop(&names.queue).await, 0);
    let dead = broker
        .channel
        .basic_get(
            names.dead_letter_queue().as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("basic.get")
        .expect("a dead letter");
    assert_eq!(dead.delivery.data, b"poison-2");
    let headers = dead.delivery.properties.headers().clone().expect("headers");
    let header = |name: &str| match headers.inner().get(name) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        other => panic!("header {name}: {other:?}"),
    };
    assert_eq!(header("x-periscope-error"), "test sink rejects `poison-2`");
    assert_eq!(header("x-periscope-routing-key"), "app.web");
    assert_eq!(header("x-periscope-receiver"), names.receiver);
    broker.cleanup(&names).await;
}

#[tokio::test]
async fn while_the_store_is_down_nothing_is_acked_or_lost() {
    let broker = Broker::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    sink.set_down(true);
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;
    let first = bodies("a", 12);
    broker.publish(&names, &first).await;
    wait_until("the store was retried", || stats.snapshot().retries >= 3).await;
    assert_eq!(sink.stored_count(), 0);
    assert_eq!(stats.snapshot().stored, 0);
    // 5 deliveries are held (prefetch), 7 are still ready in the queue.
    assert_eq!(broker.ready(&names.queue).await, 7);

    sink.set_down(false);
    wait_until("everything is stored once the store is back", || {
        sink.stored_count() == 12
    })
    .await;
    let second = bodies("b", 5);
    broker.publish(&names, &second).await;
    wait_until("new messages flow again", || sink.stored_count() == 17).await;
    wait_until("all acked", || stats.snapshot().stored == 17).await;
    running.stop().await;

    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    assert_eq!(broker.left_after_stop(&names.queue).await, 0);
    broker.cleanup(&names).await;
}

#[tokio::test]
async fn a_stopped_receiver_leaves_messages_in_the_queue_and_resumes_them() {
    let broker = Broker::connect().await;
    let names = Names::new();
    let sink = TestSink::new();

    // Stopped while the store is down: the held deliveries go back to the queue.
    sink.set_down(true);
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;
    let first = bodies("a", 8);
    broker.publish(&names, &first).await;
    wait_until("the store was retried", || stats.snapshot().retries >= 2).await;
    running.stop().await;
    // The broker requeues the held deliveries once it has seen the connection close.
    broker.wait_ready(&names.queue, 8).await;

    // Published while Periscope is stopped.
    let second = bodies("b", 6);
    broker.publish(&names, &second).await;

    sink.set_down(false);
    let calls_before = sink.calls();
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("everything is stored after the restart", || {
        sink.stored_count() == 14
    })
    .await;
    wait_until("all acked", || stats.snapshot().stored == 14).await;
    running.stop().await;

    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    assert_eq!(
        sink.calls() - calls_before,
        14,
        "each message delivered exactly once after the restart"
    );
    assert!(sink.duplicates().is_empty(), "{:?}", sink.duplicates());
    assert_eq!(broker.left_after_stop(&names.queue).await, 0);
    broker.cleanup(&names).await;
}

#[tokio::test]
async fn a_closed_connection_is_reopened_without_losing_messages() {
    let broker = Broker::connect().await;
    let names = Names::new();
    let sink = TestSink::new();
    let receiver = names.receiver();
    let stats = receiver.stats();
    let running = start(receiver, &sink);
    wait_until("the receiver is consuming", || stats.snapshot().connected).await;
    let first = bodies("a", 5);
    broker.publish(&names, &first).await;
    wait_until("the first messages are stored", || sink.stored_count() == 5).await;

    close_connection_named(&format!("periscope receiver {}", names.receiver)).await;
    wait_until("the receiver reconnected", || {
        stats.snapshot().reconnects >= 1
    })
    .await;
    let second = bodies("b", 5);
    broker.publish(&names, &second).await;
    wait_until("messages after the reconnect are stored", || {
        sink.stored_count() == 10
    })
    .await;
    running.stop().await;

    assert_eq!(sink.bodies(), sorted(&[&first, &second]));
    assert!(stats.snapshot().connection_errors >= 1);
    assert_eq!(broker.left_after_stop(&names.queue).await, 0);
    broker.cleanup(&names).await;
}

/// Closes the broker side of the connection with this client-provided name, as an operator
/// (or a broker failover) would, with `rabbitmqctl`.
async fn close_connection_named(name: &str) {
    let rabbitmqctl = |args: Vec<String>| {
        tokio::process::Command::new("rabbitmqctl")
            .args(args)
            .kill_on_drop(true)
            .output()
    };
    let out = bounded(
        "rabbitmqctl list_connections",
        rabbitmqctl(vec![
            "-q".into(),
            "list_connections".into(),
            "pid".into(),
            "client_properties".into(),
        ]),
    )
    .await
    .expect("rabbitmqctl runs (the test closes a connection with it)");
    let listing = String::from_utf8_lossy(&out.stdout);
    let pid = listing
        .lines()
        .find(|line| line.contains(name))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no connection named {name} in:\n{listing}"))
        .to_string();
    let out = bounded(
        "rabbitmqctl close_connection",
        rabbitmqctl(vec![
            "close_connection".into(),
            pid,
            "test closes the connection".into(),
        ]),
    )
    .await
    .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl close_connection: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
