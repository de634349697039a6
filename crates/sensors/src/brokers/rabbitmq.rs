//! The `rabbitmq` receiver: a durable queue bound to the exchange applications publish to,
//! consumed with manual acknowledgements over AMQP 0-9-1 (crate `lapin`).
//!
//! Per delivery: stored → `basic.ack`; poison → published (with publisher confirms) to the
//! dead-letter queue with the reason in the `x-periscope-error` header, then `basic.ack`; store
//! down → the delivery is held unacknowledged and retried, the `prefetch` deliveries behind it
//! wait, and the rest stay in the queue. A lost connection (or a shutdown) returns every
//! unacknowledged delivery to the queue; the receiver reconnects with capped exponential
//! backoff and declares its topology again, so a broker restart or a deleted queue heals.
//!
//! RabbitMQ closes a channel whose delivery stays unacknowledged longer than its
//! `consumer_timeout` (30 minutes by default). During a longer store outage that only means a
//! reconnect and a redelivery once the store is back; raise `consumer_timeout` on the broker to
//! avoid the churn.
//!
//! ```toml
//! [receiver.apps]
//! kind = "rabbitmq"
//! url = "amqp://periscope:secret@mq.example.com:5672/%2f"
//! exchange = "metrics"
//! exchange_type = "topic"
//! routing_keys = ["app.#", "infra.#"]
//! queue = "periscope.metrics"
//! prefetch = 100
//! format = "json"
//! dead_letter_queue = "periscope.metrics.dead-letter"
//! ```

mod consume;

use std::sync::Arc;

use lapin::uri::{AMQPScheme, AMQPUri};
use model::{ConfigIssue, PayloadFormat, PayloadSink};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::deliver::Backoff;
use super::settings::{BrokerFormat, Secret, backoff, check_name};
use super::{BrokerStats, Shutdown};

/// Default `prefetch`: deliveries the broker sends ahead of acknowledgements.
pub const DEFAULT_PREFETCH: u16 = 100;

/// AMQP names (queues, exchanges, routing keys) are short strings: at most 255 bytes.
const MAX_NAME: usize = 255;

/// Settings of a `rabbitmq` receiver.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RabbitMqSettings {
    /// The broker, `amqp://user:password@host:5672/vhost` or `amqps://...` (TLS, verified
    /// against the system's trust store). The vhost is URL-encoded: `%2f` is the default `/`.
    /// Required.
    pub url: String,
    /// The exchange applications publish to; declared durable with `exchange_type` if missing
    /// (pre-declared `amq.*` exchanges are only checked). Empty (the default) means the default
    /// exchange: applications publish straight to `queue` and no binding is made.
    pub exchange: String,
    /// `topic` (the default), `direct` or `fanout`.
    pub exchange_type: ExchangeType,
    /// Binding keys of `queue` to `exchange`, e.g. `["app.#"]`. Default: `["#"]` for a topic
    /// exchange, `[""]` for fanout; required for direct.
    pub routing_keys: Vec<String>,
    /// The durable queue Periscope consumes, declared if missing. Required.
    pub queue: String,
    /// Deliveries the broker sends ahead of acknowledgements (`basic.qos`), 1 to 65535.
    /// Default 100.
    pub prefetch: u16,
    /// How message bodies are encoded: `json` (the default), `prometheus` or `openmetrics`.
    pub format: BrokerFormat,
    /// Durable queue poison messages are moved to, declared if missing. Default:
    /// `<queue>.dead-letter`. Each carries the original body and properties plus the headers
    /// `x-periscope-error` (why it was rejected), `x-periscope-receiver`,
    /// `x-periscope-exchange` and `x-periscope-routing-key` (where it came from).
    pub dead_letter_queue: Option<String>,
    /// Publish dead letters to this exchange (declared durable, `fanout`, with
    /// `dead_letter_queue` bound to it) with their original routing key, so other consumers can
    /// bind to it as well. Default: none, dead letters go straight to `dead_letter_queue`.
    pub dead_letter_exchange: Option<String>,
    /// First wait before retrying a store that is down or reconnecting to the broker, e.g.
    /// `"500ms"` (the default). Waits double up to `retry_max`.
    pub retry_min: Option<jiff::SignedDuration>,
    /// Longest wait between retries, e.g. `"30s"` (the default).
    pub retry_max: Option<jiff::SignedDuration>,
}

impl Default for RabbitMqSettings {
    fn default() -> Self {
        RabbitMqSettings {
            url: String::new(),
            exchange: String::new(),
            exchange_type: ExchangeType::Topic,
            routing_keys: Vec::new(),
            queue: String::new(),
            prefetch: DEFAULT_PREFETCH,
            format: BrokerFormat::Json,
            dead_letter_queue: None,
            dead_letter_exchange: None,
            retry_min: None,
            retry_max: None,
        }
    }
}

/// How an exchange routes (`exchange_type = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeType {
    /// Routing-key patterns with `*` (one word) and `#` (any words).
    #[default]
    Topic,
    /// Exact routing keys.
    Direct,
    /// Every bound queue gets every message.
    Fanout,
}

impl ExchangeType {
    fn kind(self) -> lapin::ExchangeKind {
        match self {
            ExchangeType::Topic => lapin::ExchangeKind::Topic,
            ExchangeType::Direct => lapin::ExchangeKind::Direct,
            ExchangeType::Fanout => lapin::ExchangeKind::Fanout,
        }
    }
}

/// A checked `rabbitmq` receiver, ready to [`start`](RabbitMqReceiver::start).
#[derive(Debug)]
pub struct RabbitMqReceiver {
    name: String,
    url: Secret,
    /// `host:port vhost /x`: the URL without credentials, for logs and errors.
    server: String,
    exchange: String,
    exchange_type: ExchangeType,
    routing_keys: Vec<String>,
    queue: String,
    prefetch: u16,
    format: PayloadFormat,
    dead_letter_queue: String,
    dead_letter_exchange: Option<String>,
    backoff: Backoff,
    stats: Arc<BrokerStats>,
}

impl RabbitMqSettings {
    /// Checks every setting and builds the receiver named `name`, or returns every problem.
    pub fn build(self, name: &str) -> Result<RabbitMqReceiver, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let server = check_url(&self.url, &mut issues);
        check_name(
            &self.queue,
            "queue",
            MAX_NAME,
            &[],
            "periscope.metrics",
            &mut issues,
        );
        if self.queue.starts_with("amq.") {
            issues.push(
                ConfigIssue::new(
                    "queue",
                    format!(
                        "`{}`: names starting with `amq.` are reserved by the broker",
                        self.queue
                    ),
                )
                .hint("choose another queue name"),
            );
        }
        if self.exchange.len() > MAX_NAME {
            issues.push(ConfigIssue::new(
                "exchange",
                format!("longer than {MAX_NAME} bytes"),
            ));
        }
        let routing_keys = match (self.exchange.is_empty(), self.routing_keys.is_empty()) {
            (true, false) => {
                issues.push(
                    ConfigIssue::new("routing_keys", "routing keys without an exchange").hint(
                        "set `exchange`, or remove `routing_keys` to consume the queue as it is",
                    ),
                );
                Vec::new()
            }
            (true, true) => Vec::new(),
            (false, false) => self.routing_keys.clone(),
            (false, true) => match self.exchange_type {
                ExchangeType::Topic => vec!["#".to_string()],
                ExchangeType::Fanout => vec![String::new()],
                ExchangeType::Direct => {
                    issues.push(
                        ConfigIssue::new("routing_keys", "a direct exchange needs routing keys")
                            .hint("e.g. routing_keys = [\"metrics\"]"),
                    );
                    Vec::new()
                }
            },
        };
        for (i, key) in routing_keys.iter().enumerate() {
            if key.len() > MAX_NAME {
                issues.push(ConfigIssue::new(
                    format!("routing_keys.{i}"),
                    format!("longer than {MAX_NAME} bytes"),
                ));
            }
        }
        if self.prefetch == 0 {
            issues.push(
                ConfigIssue::new("prefetch", "0 would let the broker send without limit")
                    .hint("use 1 to 65535, e.g. 100"),
            );
        }
        let dead_letter_queue = self
            .dead_letter_queue
            .clone()
            .unwrap_or_else(|| format!("{}.dead-letter", self.queue));
        if self.dead_letter_queue.is_some() {
            check_name(
                &dead_letter_queue,
                "dead_letter_queue",
                MAX_NAME,
                &[],
                "periscope.dead-letter",
                &mut issues,
            );
        } else if dead_letter_queue.len() > MAX_NAME {
            issues.push(
                ConfigIssue::new(
                    "dead_letter_queue",
                    format!("the default `{dead_letter_queue}` is longer than {MAX_NAME} bytes"),
                )
                .hint("set dead_letter_queue to a shorter name"),
            );
        }
        if dead_letter_queue == self.queue {
            issues.push(
                ConfigIssue::new(
                    "dead_letter_queue",
                    "is the queue consumed itself: poison messages would come straight back",
                )
                .hint("use another queue"),
            );
        }
        let dead_letter_exchange = self.dead_letter_exchange.clone().filter(|e| !e.is_empty());
        if let Some(dlx) = &dead_letter_exchange {
            check_name(
                dlx,
                "dead_letter_exchange",
                MAX_NAME,
                &[],
                "periscope.dead-letter",
                &mut issues,
            );
            if *dlx == self.exchange {
                issues.push(
                    ConfigIssue::new(
                        "dead_letter_exchange",
                        "is the exchange consumed itself: poison messages would come straight back",
                    )
                    .hint("use another exchange"),
                );
            }
        }
        let backoff = backoff(self.retry_min, self.retry_max, &mut issues);

        match server {
            Some(server) if issues.is_empty() => Ok(RabbitMqReceiver {
                name: name.to_string(),
                url: Secret(self.url),
                server,
                exchange: self.exchange,
                exchange_type: self.exchange_type,
                routing_keys,
                queue: self.queue,
                prefetch: self.prefetch,
                format: self.format.payload_format(),
                dead_letter_queue,
                dead_letter_exchange,
                backoff,
                stats: Arc::default(),
            }),
            _ => Err(issues),
        }
    }
}

/// Checks the AMQP URL; returns it without credentials (`host:port vhost /`) for messages.
fn check_url(text: &str, issues: &mut Vec<ConfigIssue>) -> Option<String> {
    if text.is_empty() {
        issues.push(
            ConfigIssue::new("url", "missing")
                .hint("e.g. url = \"amqp://user:password@127.0.0.1:5672/%2f\""),
        );
        return None;
    }
    if !(text.starts_with("amqp://") || text.starts_with("amqps://")) {
        issues.push(
            ConfigIssue::new("url", "not an AMQP URL").hint("use amqp://host:5672/%2f or amqps://"),
        );
        return None;
    }
    match text.parse::<AMQPUri>() {
        Ok(uri) if uri.authority.host.is_empty() => {
            issues.push(ConfigIssue::new("url", "no host in the URL"));
            None
        }
        Ok(uri) => {
            let tls = if uri.scheme == AMQPScheme::AMQPS {
                " (TLS)"
            } else {
                ""
            };
            Some(format!(
                "{}:{} vhost {}{tls}",
                uri.authority.host, uri.authority.port, uri.vhost
            ))
        }
        // The parser's message never repeats the URL, so a password cannot leak through it.
        Err(e) => {
            issues.push(ConfigIssue::new("url", format!("invalid AMQP URL: {e}")));
            None
        }
    }
}

impl RabbitMqReceiver {
    /// The receiver's counters; the same `Arc` the running task updates.
    pub fn stats(&self) -> Arc<BrokerStats> {
        Arc::clone(&self.stats)
    }

    /// The broker without credentials and the queue, e.g.
    /// `127.0.0.1:5672 vhost / queue periscope.metrics`.
    pub fn describe(&self) -> String {
        format!("{} queue {}", self.server, self.queue)
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

    fn settings(text: &str) -> RabbitMqSettings {
        toml::from_str(text).expect("valid TOML for RabbitMqSettings")
    }

    fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn defaults_fill_in_bindings_and_dead_letter_queue() {
        let r = settings(
            "url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nexchange = \"metrics\"\nqueue = \"q\"",
        )
        .build("apps")
        .expect("valid");
        assert_eq!(r.routing_keys, ["#"]);
        assert_eq!(r.dead_letter_queue, "q.dead-letter");
        assert_eq!(r.describe(), "127.0.0.1:5672 vhost / queue q");
        assert!(!r.describe().contains("guest"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = settings(
            "url = \"http://x\"\nqueue = \"amq.mine\"\nrouting_keys = [\"a\"]\nprefetch = 0\n\
             dead_letter_queue = \"amq.mine\"\nretry_min = \"0s\"",
        )
        .build("apps")
        .expect_err("invalid");
        assert_eq!(
            paths(&issues),
            [
                "url",
                "queue",
                "routing_keys",
                "prefetch",
                "dead_letter_queue",
                "retry_min"
            ]
        );
    }

    #[test]
    fn direct_exchange_needs_keys_and_dead_letters_must_not_loop() {
        let issues = settings(
            "url = \"amqp://h\"\nexchange = \"e\"\nexchange_type = \"direct\"\nqueue = \"q\"\n\
             dead_letter_exchange = \"e\"",
        )
        .build("apps")
        .expect_err("invalid");
        assert_eq!(paths(&issues), ["routing_keys", "dead_letter_exchange"]);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<RabbitMqSettings>("url = \"amqp://h\"\nqeue = \"q\"")
            .expect_err("unknown key");
        assert!(err.to_string().contains("qeue"), "{err}");
    }
}
