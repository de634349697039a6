//! The `mqtt` receiver against its own `mosquitto` (persistence in a temp dir) that is killed
//! and restarted; the scenarios are in `scenarios.rs`.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions, PublishOptions};
use sensors::brokers::{BrokerStats, MqttReceiver, MqttSettings};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::common::{FAST_RETRY, Running, TestSink, bounded, unique, wait_until};
use crate::scenarios::{Broker, send_until_taken, server_drop_tests};
use crate::server::{ServerProcess, mosquitto};

const TOPIC: &str = "drop/app/metrics";

/// The test's server and its data directory.
struct Setup {
    server: ServerProcess,
    // Dropped last: the server must be gone before its directory is.
    _dir: TempDir,
}

impl Setup {
    fn receiver(&self) -> MqttReceiver {
        let text = format!(
            "host = \"127.0.0.1\"\nport = {}\nclient_id = \"drop-receiver\"\n\
             topics = [\"drop/+/metrics\"]\ninflight = 5\nsession_expiry = \"5m\"\n\
             format = \"prometheus\"\n{FAST_RETRY}",
            self.server.port()
        );
        toml::from_str::<MqttSettings>(&text)
            .expect("valid TOML")
            .build("drop")
            .expect("valid settings")
    }
}

impl Broker for Setup {
    const NAME: &'static str = "mqtt";
    const SUBSCRIBE_BEFORE_BACKLOG: bool = true;

    async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut server = mosquitto(dir.path())?;
        server.start().await;
        Some(Setup { server, _dir: dir })
    }

    fn server(&mut self) -> &mut ServerProcess {
        &mut self.server
    }

    fn start_receiver(&self, sink: &Arc<TestSink>) -> (Running, Arc<BrokerStats>) {
        let receiver = self.receiver();
        let stats = receiver.stats();
        let sink: Arc<dyn model::PayloadSink> = sink.clone();
        (Running::new(|stop| receiver.start(sink, stop)), stats)
    }

    /// Publishes at QoS 1 on a fresh clean-session client, waiting for each PUBACK. A retry
    /// after a lost PUBACK may leave two copies, which the store absorbs.
    async fn publish(&self, bodies: &[String]) {
        let publisher = Publisher::connect(self.server.port());
        for body in bodies {
            send_until_taken(body, async || {
                match publisher
                    .client
                    .publish_tracked(
                        TOPIC,
                        body.clone().into_bytes(),
                        PublishOptions::at_least_once(),
                    )
                    .await
                {
                    Ok(notice) => bounded("PUBACK", notice.wait_completion_async())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await;
        }
        publisher.close();
    }

    /// The SUBSCRIBE goes out right after CONNACK; give it its round trip.
    async fn subscribed(&self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// What arrived before the drop is still stored (and left unacked: its connection is gone),
    /// and the acks the old connection can no longer take must not reach the next one.
    async fn check_while_down(&self, sink: &TestSink, stored_before: usize) {
        wait_until("messages received before the drop are stored", || {
            sink.stored_count() >= stored_before + 2
        })
        .await;
    }
}

/// A clean-session QoS 1 publisher.
struct Publisher {
    client: AsyncClient,
    task: JoinHandle<()>,
}

impl Publisher {
    fn connect(port: u16) -> Self {
        let options = MqttOptions::new(unique("drop-publisher"), ("127.0.0.1", port));
        let (client, mut eventloop) = AsyncClient::builder(options)
            .try_build()
            .expect("client options");
        let task = tokio::spawn(async move {
            loop {
                if eventloop.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Publisher { client, task }
    }

    fn close(self) {
        self.task.abort();
    }
}

server_drop_tests!(Setup);
