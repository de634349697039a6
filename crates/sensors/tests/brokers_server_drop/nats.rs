//! The `nats` receiver against its own `nats-server` (JetStream, file store in a temp dir)
//! that is killed and restarted; the scenarios are in `scenarios.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use sensors::brokers::{BrokerStats, NatsReceiver, NatsSettings};
use tempfile::TempDir;

use crate::common::{FAST_RETRY, Running, TestSink, WAIT, bounded};
use crate::scenarios::{Broker, send_until_taken, server_drop_tests};
use crate::server::{ServerProcess, nats_server};

const STREAM: &str = "DROP";
const SUBJECT: &str = "drop.app";

/// The test's server, its data directory and a publishing client that reconnects by itself.
struct Setup {
    server: ServerProcess,
    js: jetstream::Context,
    // Dropped last: the server must be gone before its directory is.
    _dir: TempDir,
}

impl Setup {
    /// The receiver under test. `ack_wait` is short because messages delivered to a connection
    /// the server lost come again only after it (60 s by default).
    fn receiver(&self) -> NatsReceiver {
        let text = format!(
            "url = \"nats://127.0.0.1:{}\"\nstream = \"{STREAM}\"\nsubjects = [\"drop.>\"]\n\
             batch = 5\nformat = \"prometheus\"\nack_wait = \"2s\"\n{FAST_RETRY}",
            self.server.port()
        );
        toml::from_str::<NatsSettings>(&text)
            .expect("valid TOML")
            .build("drop")
            .expect("valid settings")
    }

    /// (messages not yet delivered, delivered but not acked) of the receiver's consumer; None
    /// while the server cannot say.
    async fn pending(&self) -> Option<(u64, usize)> {
        let info = self
            .js
            .get_stream(STREAM)
            .await
            .ok()?
            .consumer_info("periscope")
            .await
            .ok()?;
        Some((info.num_pending, info.num_ack_pending))
    }
}

impl Broker for Setup {
    const NAME: &'static str = "nats";
    // The durable consumer delivers everything in the stream, published before it or not.
    const SUBSCRIBE_BEFORE_BACKLOG: bool = false;

    /// Also connects the publishing client and creates the stream.
    async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut server = nats_server(dir.path())?;
        server.start().await;
        let client = bounded(
            "connecting the test client",
            async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .reconnect_delay_callback(|_| Duration::from_millis(50))
                .connect(format!("nats://127.0.0.1:{}", server.port())),
        )
        .await
        .expect("the test server accepts the test client");
        let js = jetstream::new(client);
        bounded(
            "creating the stream",
            js.get_or_create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec!["drop.>".into()],
                storage: stream::StorageType::File,
                ..Default::default()
            }),
        )
        .await
        .expect("create the stream");
        Some(Setup {
            server,
            js,
            _dir: dir,
        })
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

    /// Waits for the stream's confirmation of each body. A retry after a lost confirmation
    /// carries the same `Nats-Msg-Id`, so the stream keeps one copy.
    async fn publish(&self, bodies: &[String]) {
        for body in bodies {
            send_until_taken(body, async || {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, body.trim());
                match self
                    .js
                    .publish_with_headers(SUBJECT, headers, body.clone().into())
                    .await
                {
                    Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await;
        }
    }

    async fn wait_drained(&self) {
        let start = Instant::now();
        loop {
            let pending = self.pending().await;
            if pending == Some((0, 0)) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "consumer still has (pending, unacked) = {pending:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn check_mid_batch(&self) {
        let unacked = self.pending().await.map(|(_, unacked)| unacked);
        assert!(
            unacked.is_some_and(|n| n > 0),
            "the drop must land while messages are delivered and not acked: {unacked:?}"
        );
    }
}

server_drop_tests!(Setup);
