//! The `mqtt` receiver: QoS 1 subscriptions on a persistent MQTT 5 session with manual acks
//! (crate `rumqttc-next`).
//!
//! The session is persistent (clean start off, a session expiry), so the broker queues QoS 1
//! messages while Periscope is stopped and resends the unacknowledged ones after a reconnect.
//! A PUBLISH is acknowledged (PUBACK) only after the sink stored it. Poison messages are
//! published (QoS 1, waiting for the broker's PUBACK) to `dead_letter_topic` as a JSON
//! envelope, then acknowledged. While the store is down the receiver holds the message and
//! retries it; the broker should send at most `inflight` unacknowledged messages, the rest wait
//! in the session. One that sends more (Mosquitto 2.0.11 was seen to) fills the receiver up to
//! `max_held` messages in memory; beyond that, messages are left unacknowledged and come again
//! on a new connection the receiver opens once it has stored the held ones (see `handoff`).
//! Either way the receiver keeps polling the connection, so keep-alive pings go on through an
//! outage of any length.
//!
//! The dead-letter envelope is plain JSON so any MQTT client can read it (MQTT 3.1.1 has no
//! headers):
//!
//! ```json
//! {"error": "line 3: bad sample", "receiver": "sensors", "topic": "sensors/a1/metrics",
//!  "payload_base64": "Y3B1IDEK"}
//! ```
//!
//! A message whose connection dropped while it was being stored is not acknowledged on the new
//! connection (packet ids belong to a connection): the broker resends it and it is stored again,
//! which the store absorbs.
//!
//! ```toml
//! [receiver.sensors]
//! kind = "mqtt"
//! host = "mqtt.example.com"
//! port = 8883
//! tls = true
//! username = "periscope"
//! password = "secret"
//! client_id = "periscope-1"
//! topics = ["sensors/+/metrics"]
//! format = "prometheus"
//! dead_letter_topic = "periscope/dead-letter"
//! keep_alive = "30s"
//! inflight = 100
//! max_held = 1000
//! max_message_bytes = 1048576
//! ```
//!
//! `max_message_bytes` is sent to the broker as the MQTT 5 maximum packet size, and the client
//! enforces it too. Without it the client library's own limit (10 KiB) applied without the
//! broker knowing: a bigger message (a Prometheus text body easily is) dropped the connection,
//! came again after the reconnect, and dropped it again, forever. Told the limit, an MQTT 5
//! broker does not send a message above it to this client (Mosquitto logs that it dropped it).

mod consume;
mod handoff;
mod session;
mod topic;

use std::sync::Arc;
use std::time::Duration;

use model::{ConfigIssue, PayloadFormat, PayloadSink};
use rumqttc::{AckMode, MqttOptions, SessionMode, Transport};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::deliver::Backoff;
use super::settings::{BrokerFormat, Secret, backoff, check_name, positive};
use super::{BrokerStats, Shutdown};

/// Default `port` without TLS.
pub const DEFAULT_PORT: u16 = 1883;
/// Default `port` with `tls = true`.
pub const DEFAULT_TLS_PORT: u16 = 8883;
/// Default `inflight`: unacknowledged messages the broker may send at once.
pub const DEFAULT_INFLIGHT: u16 = 100;
/// Default `session_expiry`: how long the broker keeps the session (and queues messages) while
/// Periscope is disconnected.
pub const DEFAULT_SESSION_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default `keep_alive`.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Default `max_held`, or `2 * inflight + 16` when that is more: the size of Mosquitto's default
/// queue per client (`max_queued_messages`). Held messages take at most `max_held` times
/// `max_message_bytes` of memory.
pub const DEFAULT_MAX_HELD: u32 = 1000;
/// Highest `max_held`.
const MAX_MAX_HELD: u32 = 1_000_000;
/// Default `max_message_bytes`: 1 MiB, room for a large Prometheus text body.
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1 << 20;
/// Smallest `max_message_bytes`: below it even a small batch would not fit.
const MIN_MAX_MESSAGE_BYTES: u32 = 1024;
/// Largest `max_message_bytes`: the largest packet MQTT can encode.
const MAX_MAX_MESSAGE_BYTES: u32 = 268_435_455;

/// Settings of an `mqtt` receiver.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttSettings {
    /// The broker's host name or address. Required.
    pub host: String,
    /// The broker's port. Default 1883, or 8883 with `tls = true`.
    pub port: Option<u16>,
    /// Connect with TLS, verifying the broker against the system's trust store. Default false.
    pub tls: bool,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password; only with `username`.
    pub password: Option<String>,
    /// Client id: the key of the persistent session, so it must be stable across restarts and
    /// unique on the broker (a second client with the same id disconnects the first). Required.
    pub client_id: String,
    /// Topic filters to subscribe to at QoS 1, e.g. `["sensors/+/metrics"]`. Required.
    pub topics: Vec<String>,
    /// Subscription QoS; only 1 is accepted: QoS 0 has no acknowledgement to hold back, and
    /// QoS 2's exactly-once buys nothing over a store that deduplicates. Default 1.
    pub qos: u8,
    /// How long the broker keeps the session, and queues messages for it, while Periscope is
    /// disconnected, e.g. `"7d"` (the default); at most about 136 years.
    pub session_expiry: Option<jiff::SignedDuration>,
    /// Keep-alive interval, 1 s to about 18 h, e.g. `"30s"` (the default).
    pub keep_alive: Option<jiff::SignedDuration>,
    /// Unacknowledged messages the broker may send at once (MQTT 5 receive maximum), 1 to
    /// 65535. Default 100.
    pub inflight: u16,
    /// Most messages the receiver holds in memory (waiting for the store or being stored) when
    /// the broker sends more than `inflight` at once. Beyond it messages are left unacknowledged
    /// and come again on a new connection once the held ones are stored. At least
    /// `2 * inflight` (a reconnect can leave a connection's worth behind while the next one
    /// delivers). Default 1000, or `2 * inflight + 16` when that is more.
    pub max_held: Option<u32>,
    /// Largest message the receiver takes, in bytes (1024 to 268435455): its whole MQTT packet,
    /// so the body plus its topic and a few bytes of header. Sent to the broker as the MQTT 5
    /// maximum packet size: the broker does not send bigger ones to this client. Default
    /// 1048576 (1 MiB).
    pub max_message_bytes: u32,
    /// How message bodies are encoded: `json` (the default), `prometheus` or `openmetrics`.
    pub format: BrokerFormat,
    /// Topic poison messages are published to (QoS 1), as a JSON envelope with `error`,
    /// `receiver`, `topic` and `payload_base64`. Must not match `topics`. Default
    /// `periscope/dead-letter/<client_id>`.
    pub dead_letter_topic: Option<String>,
    /// First wait before retrying a store that is down or reconnecting to the broker, e.g.
    /// `"500ms"` (the default). Waits double up to `retry_max`.
    pub retry_min: Option<jiff::SignedDuration>,
    /// Longest wait between retries, e.g. `"30s"` (the default).
    pub retry_max: Option<jiff::SignedDuration>,
}

impl Default for MqttSettings {
    fn default() -> Self {
        MqttSettings {
            host: String::new(),
            port: None,
            tls: false,
            username: None,
            password: None,
            client_id: String::new(),
            topics: Vec::new(),
            qos: 1,
            session_expiry: None,
            keep_alive: None,
            inflight: DEFAULT_INFLIGHT,
            max_held: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            format: BrokerFormat::Json,
            dead_letter_topic: None,
            retry_min: None,
            retry_max: None,
        }
    }
}

/// A checked `mqtt` receiver, ready to [`start`](MqttReceiver::start).
#[derive(Debug)]
pub struct MqttReceiver {
    name: String,
    host: String,
    port: u16,
    tls: bool,
    username: Option<String>,
    password: Option<Secret>,
    client_id: String,
    topics: Vec<String>,
    session_expiry: u32,
    keep_alive: u16,
    inflight: u16,
    max_held: usize,
    max_message_bytes: u32,
    format: PayloadFormat,
    dead_letter_topic: String,
    backoff: Backoff,
    stats: Arc<BrokerStats>,
}

impl MqttSettings {
    /// Checks every setting and builds the receiver named `name`, or returns every problem.
    pub fn build(self, name: &str) -> Result<MqttReceiver, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        check_name(
            &self.host,
            "host",
            253,
            &[' ', '/', '@'],
            "mqtt.example.com",
            &mut issues,
        );
        if self.port == Some(0) {
            issues.push(ConfigIssue::new("port", "0 is not a port"));
        }
        if self.password.is_some() && self.username.is_none() {
            issues.push(
                ConfigIssue::new("password", "a password without a username").hint("set username"),
            );
        }
        check_name(
            &self.client_id,
            "client_id",
            65_535,
            &[],
            "periscope-1",
            &mut issues,
        );
        if self.topics.is_empty() {
            issues.push(
                ConfigIssue::new("topics", "missing").hint("e.g. topics = [\"sensors/+/metrics\"]"),
            );
        }
        for (i, t) in self.topics.iter().enumerate() {
            if let Err(e) = topic::check(t, true) {
                issues.push(ConfigIssue::new(
                    format!("topics.{i}"),
                    format!("`{t}`: {e}"),
                ));
            }
        }
        if self.qos != 1 {
            issues.push(
                ConfigIssue::new("qos", format!("QoS {} is not supported", self.qos))
                    .hint("use qos = 1: acknowledged only once stored"),
            );
        }
        let session_expiry = positive(self.session_expiry, "session_expiry", &mut issues)
            .unwrap_or(DEFAULT_SESSION_EXPIRY);
        let session_expiry = u32::try_from(session_expiry.as_secs()).unwrap_or_else(|_| {
            issues.push(ConfigIssue::new(
                "session_expiry",
                "longer than 2^32 - 1 seconds",
            ));
            u32::MAX
        });
        let keep_alive =
            positive(self.keep_alive, "keep_alive", &mut issues).unwrap_or(DEFAULT_KEEP_ALIVE);
        let keep_alive = match u16::try_from(keep_alive.as_secs()) {
            Ok(0) => {
                issues.push(ConfigIssue::new("keep_alive", "below one second"));
                1
            }
            Ok(secs) => secs,
            Err(_) => {
                issues.push(ConfigIssue::new("keep_alive", "longer than 65535 seconds"));
                u16::MAX
            }
        };
        if self.inflight == 0 {
            issues.push(
                ConfigIssue::new("inflight", "0 would stop every delivery")
                    .hint("e.g. inflight = 100"),
            );
        }
        let least_held = 2 * u32::from(self.inflight);
        let max_held = match self.max_held {
            Some(held) if held < least_held.max(1) => {
                issues.push(
                    ConfigIssue::new(
                        "max_held",
                        format!("{held} is below 2 x inflight ({least_held})"),
                    )
                    .hint("a reconnect can leave one connection's messages held while the next delivers; leave max_held out for the default"),
                );
                held
            }
            Some(held) if held > MAX_MAX_HELD => {
                issues.push(ConfigIssue::new(
                    "max_held",
                    format!("{held} is above {MAX_MAX_HELD}"),
                ));
                MAX_MAX_HELD
            }
            Some(held) => held,
            None => DEFAULT_MAX_HELD.max(least_held + 16),
        };
        if !(MIN_MAX_MESSAGE_BYTES..=MAX_MAX_MESSAGE_BYTES).contains(&self.max_message_bytes) {
            issues.push(
                ConfigIssue::new(
                    "max_message_bytes",
                    format!(
                        "{} is outside {MIN_MAX_MESSAGE_BYTES} to {MAX_MAX_MESSAGE_BYTES}",
                        self.max_message_bytes
                    ),
                )
                .hint("leave it out for 1 MiB"),
            );
        }
        let dead_letter_topic = self
            .dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("periscope/dead-letter/{}", self.client_id));
        match topic::check(&dead_letter_topic, false) {
            Err(e) => issues.push(ConfigIssue::new(
                "dead_letter_topic",
                format!("`{dead_letter_topic}`: {e}"),
            )),
            Ok(()) => {
                let subscribed_by = self
                    .topics
                    .iter()
                    .filter(|t| topic::check(t, true).is_ok())
                    .find(|t| topic::matches(t, &dead_letter_topic));
                if let Some(t) = subscribed_by {
                    issues.push(
                        ConfigIssue::new(
                            "dead_letter_topic",
                            format!("`{dead_letter_topic}` matches the subscribed `{t}`: poison messages would come straight back"),
                        )
                        .hint("choose a dead-letter topic outside `topics`"),
                    );
                }
            }
        }
        let backoff = backoff(self.retry_min, self.retry_max, &mut issues);
        if !issues.is_empty() {
            return Err(issues);
        }
        let receiver = MqttReceiver {
            name: name.to_string(),
            port: self.port.unwrap_or(if self.tls {
                DEFAULT_TLS_PORT
            } else {
                DEFAULT_PORT
            }),
            host: self.host,
            tls: self.tls,
            username: self.username,
            password: self.password.map(Secret),
            client_id: self.client_id,
            topics: self.topics,
            session_expiry,
            keep_alive,
            inflight: self.inflight,
            // At most MAX_MAX_HELD, so it fits.
            max_held: usize::try_from(max_held).unwrap_or(usize::MAX >> 3),
            max_message_bytes: self.max_message_bytes,
            format: self.format.payload_format(),
            dead_letter_topic,
            backoff,
            stats: Arc::default(),
        };
        // The client library has checks of its own (and TLS set-up); run them now, not at start.
        match receiver.options() {
            Ok(_) => Ok(receiver),
            Err(e) => Err(vec![ConfigIssue::new("host", e)]),
        }
    }
}

impl MqttReceiver {
    /// The receiver's counters; the same `Arc` the running task updates.
    pub fn stats(&self) -> Arc<BrokerStats> {
        Arc::clone(&self.stats)
    }

    /// The broker and the client id, e.g. `127.0.0.1:1883 client periscope-1`.
    pub fn describe(&self) -> String {
        let tls = if self.tls { " (TLS)" } else { "" };
        format!("{}:{}{tls} client {}", self.host, self.port, self.client_id)
    }

    /// Starts consuming on the current tokio runtime until `shutdown` says stop. The task
    /// reconnects by itself and never ends on its own.
    pub fn start(self, sink: Arc<dyn PayloadSink>, shutdown: Shutdown) -> JoinHandle<()> {
        tokio::spawn(consume::run(self, sink, shutdown))
    }

    /// The client options: persistent session, manual acks, receive maximum = `inflight`.
    fn options(&self) -> Result<MqttOptions, String> {
        let mut options = MqttOptions::new(self.client_id.clone(), (self.host.as_str(), self.port));
        options
            .set_keep_alive(self.keep_alive)
            .set_session_mode(SessionMode::Persistent)
            .set_session_expiry_interval(Some(self.session_expiry))
            // A restarted Periscope has no client-side session state; see `session` for why
            // stating it is sound.
            .set_session_store(session::NothingInFlight {
                session_expiry: self.session_expiry,
            })
            .set_ack_mode(AckMode::Manual)
            .set_receive_maximum(Some(self.inflight))
            // The broker is told the limit (CONNECT's maximum packet size) and the client
            // enforces the same one.
            .set_max_packet_size(Some(self.max_message_bytes))
            .set_request_channel_capacity(usize::from(self.inflight) + 16);
        if let Some(user) = &self.username {
            options.set_credentials(
                user.clone(),
                self.password
                    .as_ref()
                    .map(|p| p.0.clone())
                    .unwrap_or_default(),
            );
        }
        if self.tls {
            let transport = Transport::try_tls_with_default_config()
                .map_err(|e| format!("cannot set up TLS: {e}"))?;
            options.set_transport(transport);
        }
        options
            .validate()
            .map_err(|e| format!("invalid MQTT client options: {e}"))?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> Result<MqttReceiver, Vec<ConfigIssue>> {
        toml::from_str::<MqttSettings>(text)
            .expect("valid TOML")
            .build("sensors")
    }

    fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn defaults_give_a_persistent_qos1_session() {
        let r =
            build("host = \"127.0.0.1\"\nclient_id = \"p1\"\ntopics = [\"s/+/m\"]").expect("valid");
        assert_eq!(r.port, 1883);
        assert_eq!(r.dead_letter_topic, "periscope/dead-letter/p1");
        assert_eq!(r.session_expiry, 7 * 24 * 3600);
        assert_eq!(r.max_held, 1000);
        assert_eq!(r.describe(), "127.0.0.1:1883 client p1");
    }

    #[test]
    fn max_held_leaves_room_for_two_connections_worth() {
        let base = "host = \"h\"\nclient_id = \"p\"\ntopics = [\"s/+/m\"]\n";
        let held = |extra: &str| build(&format!("{base}{extra}")).map(|r| r.max_held);
        assert_eq!(held("inflight = 1000"), Ok(2016));
        assert_eq!(held("inflight = 2\nmax_held = 4"), Ok(4));
        for (extra, message) in [
            ("max_held = 150", "150 is below 2 x inflight (200)"),
            ("max_held = 2000000", "2000000 is above 1000000"),
        ] {
            let issues = held(extra).expect_err(extra);
            assert_eq!(paths(&issues), ["max_held"]);
            assert_eq!(issues[0].message, message);
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = build(
            "host = \"\"\npassword = \"x\"\nclient_id = \"p\"\ntopics = [\"a/#/b\"]\nqos = 0\n\
             keep_alive = \"10ms\"\ninflight = 0\ndead_letter_topic = \"d/+\"",
        )
        .expect_err("invalid");
        assert_eq!(
            paths(&issues),
            [
                "host",
                "password",
                "topics.0",
                "qos",
                "keep_alive",
                "inflight",
                "dead_letter_topic"
            ]
        );
    }

    #[test]
    fn dead_letters_must_not_be_subscribed() {
        let issues = build("host = \"h\"\nclient_id = \"p\"\ntopics = [\"#\"]").expect_err("loops");
        assert_eq!(paths(&issues), ["dead_letter_topic"]);
    }
}
