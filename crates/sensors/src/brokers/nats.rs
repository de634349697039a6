//! The `nats` receiver: a durable pull consumer on a JetStream stream (crate `async-nats`).
//!
//! The stream is created with the configured subjects if it does not exist (file storage),
//! and so is the durable consumer (explicit acks). Messages are fetched in batches; per
//! message: stored → acked (and the ack confirmed by the server); poison → published to the
//! dead-letter subject with the reason in the `x-periscope-error` header, then acked; store down
//! → the message is held and retried, with an in-progress ack before every wait so the server
//! does not hand it out again meanwhile. Messages later in the same batch may pass their
//! `ack_wait` during a long outage and be delivered again: harmless, the store deduplicates.
//!
//! Dead letters are published through JetStream, so they are durable: if no stream captures
//! `dead_letter_subject`, the stream `dead_letter_stream` is created for it. The dead letter's
//! `Nats-Msg-Id` is derived from the original's stream sequence, so a dead letter published
//! twice (a crash between publish and ack) is stored once within the duplicate window.
//!
//! The client reconnects by itself (with this receiver's backoff); a fetch that fails sends the
//! receiver back to binding the stream and consumer, so a recreated stream heals too. After a
//! server restart, messages it delivered but never saw acked come again once their `ack_wait`
//! has passed, and a server that crashed may deliver again what was acked just before (it
//! writes consumer state lazily); the store absorbs both.
//!
//! ```toml
//! [receiver.edge]
//! kind = "nats"
//! url = "nats://periscope:secret@nats.example.com:4222"
//! stream = "METRICS"
//! subjects = ["metrics.>"]
//! consumer = "periscope"
//! batch = 100
//! format = "openmetrics"
//! dead_letter_subject = "periscope.dead-letter.metrics"
//! ```

mod consume;
mod subject;

use std::sync::Arc;
use std::time::Duration;

use model::{ConfigIssue, PayloadFormat, PayloadSink};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::deliver::Backoff;
use super::settings::{BrokerFormat, Secret, backoff, check_name, positive};
use super::{BrokerStats, Shutdown};

/// Default `batch`: messages asked for per fetch.
pub const DEFAULT_BATCH: usize = 100;
/// Largest `batch`: the server's default limit of unacknowledged messages per consumer.
pub const MAX_BATCH: usize = 1000;
/// Default `ack_wait`: how long the server waits for an ack before delivering again.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(60);
/// Default `consumer`: the durable consumer's name.
pub const DEFAULT_CONSUMER: &str = "periscope";

/// Characters JetStream does not allow in stream and consumer names.
const NAME_FORBIDDEN: &[char] = &[' ', '\t', '.', '*', '>', '/', '\\'];

/// Settings of a `nats` receiver.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSettings {
    /// The server, `nats://host:4222`, `nats://user:password@host:4222` or `tls://host:4222`;
    /// several servers of a cluster separated by commas. Required.
    pub url: String,
    /// The JetStream stream to consume, created (file storage) with `subjects` if missing.
    /// Required.
    pub stream: String,
    /// Subjects the stream captures when Periscope creates it, e.g. `["metrics.>"]`. Required.
    pub subjects: Vec<String>,
    /// Name of the durable pull consumer, created if missing; it remembers what was acked
    /// across restarts. Default `periscope`.
    pub consumer: String,
    /// Messages fetched per request, 1 to 1000. Default 100.
    pub batch: usize,
    /// How message bodies are encoded: `json` (the default), `prometheus` or `openmetrics`.
    pub format: BrokerFormat,
    /// Subject poison messages are published to, with the original body and the headers
    /// `x-periscope-error` (why), `x-periscope-receiver` and `x-periscope-subject` (where from).
    /// Must not be captured by the consumed stream. Default `periscope.dead-letter.<stream>`.
    pub dead_letter_subject: Option<String>,
    /// Stream created for `dead_letter_subject` when no stream captures it yet. Default
    /// `<stream>_DEAD_LETTER`.
    pub dead_letter_stream: Option<String>,
    /// How long the server waits for an ack before delivering a message again, when the
    /// consumer is created. Must be above `retry_max`. Default `"60s"`.
    pub ack_wait: Option<jiff::SignedDuration>,
    /// First wait before retrying a store that is down or the server, e.g. `"500ms"` (the
    /// default). Waits double up to `retry_max`.
    pub retry_min: Option<jiff::SignedDuration>,
    /// Longest wait between retries, e.g. `"30s"` (the default).
    pub retry_max: Option<jiff::SignedDuration>,
}

impl Default for NatsSettings {
    fn default() -> Self {
        NatsSettings {
            url: String::new(),
            stream: String::new(),
            subjects: Vec::new(),
            consumer: DEFAULT_CONSUMER.to_string(),
            batch: DEFAULT_BATCH,
            format: BrokerFormat::Json,
            dead_letter_subject: None,
            dead_letter_stream: None,
            ack_wait: None,
            retry_min: None,
            retry_max: None,
        }
    }
}

/// A checked `nats` receiver, ready to [`start`](NatsReceiver::start).
#[derive(Debug)]
pub struct NatsReceiver {
    name: String,
    url: Secret,
    /// The servers without credentials, for logs and errors.
    server: String,
    stream: String,
    subjects: Vec<String>,
    consumer: String,
    batch: usize,
    format: PayloadFormat,
    dead_letter_subject: String,
    dead_letter_stream: String,
    ack_wait: Duration,
    backoff: Backoff,
    stats: Arc<BrokerStats>,
}

impl NatsSettings {
    /// Checks every setting and builds the receiver named `name`, or returns every problem.
    pub fn build(self, name: &str) -> Result<NatsReceiver, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let server = check_url(&self.url, &mut issues);
        check_name(
            &self.stream,
            "stream",
            255,
            NAME_FORBIDDEN,
            "METRICS",
            &mut issues,
        );
        check_name(
            &self.consumer,
            "consumer",
            255,
            NAME_FORBIDDEN,
            DEFAULT_CONSUMER,
            &mut issues,
        );
        if self.subjects.is_empty() {
            issues.push(
                ConfigIssue::new("subjects", "missing").hint("e.g. subjects = [\"metrics.>\"]"),
            );
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if let Err(e) = subject::check(s, true) {
                issues.push(ConfigIssue::new(
                    format!("subjects.{i}"),
                    format!("`{s}`: {e}"),
                ));
            }
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            issues.push(ConfigIssue::new(
                "batch",
                format!("{} is not between 1 and {MAX_BATCH}", self.batch),
            ));
        }
        let dead_letter_subject = self
            .dead_letter_subject
            .clone()
            .unwrap_or_else(|| format!("periscope.dead-letter.{}", self.stream));
        match subject::check(&dead_letter_subject, false) {
            Err(e) => issues.push(ConfigIssue::new(
                "dead_letter_subject",
                format!("`{dead_letter_subject}`: {e}"),
            )),
            Ok(()) => {
                let captured_by = self
                    .subjects
                    .iter()
                    .filter(|s| subject::check(s, true).is_ok())
                    .find(|s| subject::matches(s, &dead_letter_subject));
                if let Some(s) = captured_by {
                    issues.push(
                        ConfigIssue::new(
                            "dead_letter_subject",
                            format!("`{dead_letter_subject}` is captured by the consumed subject `{s}`: poison messages would come straight back"),
                        )
                        .hint("choose a dead-letter subject outside `subjects`"),
                    );
                }
            }
        }
        let dead_letter_stream = self
            .dead_letter_stream
            .clone()
            .unwrap_or_else(|| format!("{}_DEAD_LETTER", self.stream));
        if self.dead_letter_stream.is_some() {
            check_name(
                &dead_letter_stream,
                "dead_letter_stream",
                255,
                NAME_FORBIDDEN,
                "METRICS_DEAD_LETTER",
                &mut issues,
            );
        }
        if dead_letter_stream == self.stream {
            issues.push(ConfigIssue::new(
                "dead_letter_stream",
                "is the consumed stream itself",
            ));
        }
        let backoff = backoff(self.retry_min, self.retry_max, &mut issues);
        let ack_wait = positive(self.ack_wait, "ack_wait", &mut issues).unwrap_or(DEFAULT_ACK_WAIT);
        if ack_wait <= backoff.max() {
            issues.push(
                ConfigIssue::new(
                    "ack_wait",
                    format!("ack_wait ({ack_wait:?}) is not above retry_max ({:?})", backoff.max()),
                )
                .hint("a message held while the store is down would be delivered again between retries"),
            );
        }

        match server {
            Some(server) if issues.is_empty() => Ok(NatsReceiver {
                name: name.to_string(),
                url: Secret(self.url),
                server,
                stream: self.stream,
                subjects: self.subjects,
                consumer: self.consumer,
                batch: self.batch,
                format: self.format.payload_format(),
                dead_letter_subject,
                dead_letter_stream,
                ack_wait,
                backoff,
                stats: Arc::default(),
            }),
            _ => Err(issues),
        }
    }
}

/// Checks the server list; returns it without credentials for messages.
fn check_url(text: &str, issues: &mut Vec<ConfigIssue>) -> Option<String> {
    if text.trim().is_empty() {
        issues
            .push(ConfigIssue::new("url", "missing").hint("e.g. url = \"nats://127.0.0.1:4222\""));
        return None;
    }
    let mut shown = Vec::new();
    for part in text.split(',').map(str::trim) {
        match part.parse::<async_nats::ServerAddr>() {
            Ok(addr) => shown.push(format!("{}:{}", addr.host(), addr.port())),
            Err(e) => {
                let safe = part.rsplit('@').next().unwrap_or(part);
                issues.push(
                    ConfigIssue::new("url", format!("invalid NATS server address `{safe}`: {e}"))
                        .hint("e.g. nats://host:4222, tls://host:4222"),
                );
                return None;
            }
        }
    }
    Some(shown.join(","))
}

impl NatsReceiver {
    /// The receiver's counters; the same `Arc` the running task updates.
    pub fn stats(&self) -> Arc<BrokerStats> {
        Arc::clone(&self.stats)
    }

    /// The servers without credentials, the stream and the consumer, e.g.
    /// `127.0.0.1:4222 stream METRICS consumer periscope`.
    pub fn describe(&self) -> String {
        format!(
            "{} stream {} consumer {}",
            self.server, self.stream, self.consumer
        )
    }

    /// Starts consuming on the current tokio runtime until `shutdown` says stop. The task
    /// reconnects by itself and never ends on its own.
    pub fn start(self, sink: Arc<dyn PayloadSink>, shutdown: Shutdown) -> JoinHandle<()> {
        tokio::spawn(consume::run(self, sink, shutdown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> Result<NatsReceiver, Vec<ConfigIssue>> {
        toml::from_str::<NatsSettings>(text)
            .expect("valid TOML")
            .build("edge")
    }

    fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn defaults_name_the_consumer_and_dead_letters() {
        let r = build("url = \"nats://u:pw@127.0.0.1:4222\"\nstream = \"M\"\nsubjects = [\"m.>\"]")
            .expect("valid");
        assert_eq!(r.consumer, "periscope");
        assert_eq!(r.dead_letter_subject, "periscope.dead-letter.M");
        assert_eq!(r.dead_letter_stream, "M_DEAD_LETTER");
        assert_eq!(r.describe(), "127.0.0.1:4222 stream M consumer periscope");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = build(
            "url = \"nats://h:4222\"\nstream = \"a.b\"\nsubjects = [\"m..x\", \">.a\"]\nbatch = 0\n\
             dead_letter_subject = \"other.dead\"\nretry_max = \"2m\"",
        )
        .expect_err("invalid");
        assert_eq!(
            paths(&issues),
            ["stream", "subjects.0", "subjects.1", "batch", "ack_wait"]
        );
    }

    #[test]
    fn dead_letters_must_not_be_consumed_again() {
        let issues = build(
            "url = \"nats://h\"\nstream = \"M\"\nsubjects = [\"m.*.x\", \"m.>\"]\n\
             dead_letter_subject = \"m.dead\"",
        )
        .expect_err("loops");
        assert_eq!(paths(&issues), ["dead_letter_subject"]);
        assert!(issues[0].message.contains("`m.>`"), "{}", issues[0].message);
    }
}
