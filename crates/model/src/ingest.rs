//! The ingest seam: receivers (HTTP push, broker consumers) hand raw payloads to a
//! [`PayloadSink`] and acknowledge their sender only when it says the data is durable.
//!
//! Receivers live in `sensors` and the store in `store`; neither knows the other. The binary
//! implements this trait by parsing the payload and committing it to the store.

use std::fmt;

use crate::BoxFuture;

/// How a payload is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Periscope's JSON batch format (`docs/format/json-batch.md`).
    Json,
    /// Prometheus text exposition 0.0.4 (lenient, as Prometheus scrapes it).
    PrometheusText,
    /// OpenMetrics 1.0 text (strict).
    OpenMetrics,
    /// Prometheus remote-write 1.0: a snappy-compressed (raw block) protobuf `WriteRequest`.
    RemoteWrite,
}

impl PayloadFormat {
    /// The name used in config files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::PrometheusText => "prometheus",
            PayloadFormat::OpenMetrics => "openmetrics",
            PayloadFormat::RemoteWrite => "remote-write",
        }
    }
}

/// One message or request body, with where it came from (for error messages and events).
#[derive(Clone, Debug)]
pub struct Payload {
    /// The raw bytes.
    pub body: Vec<u8>,
    /// How to decode them.
    pub format: PayloadFormat,
    /// Where it came from, e.g. `rabbitmq queue periscope.metrics` or `http 127.0.0.1:50122`.
    pub origin: String,
}

/// What a sink made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReceipt {
    /// Samples stored.
    pub samples: u64,
}

/// Why a payload was not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestError {
    /// The payload itself is bad (cannot be parsed, breaks a rule): it will never succeed, so a
    /// broker consumer dead-letters it and moves on. Nothing of it was stored.
    Poison(String),
    /// The store cannot take it now: keep the message (do not acknowledge) and retry later.
    Unavailable(String),
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngestError::Poison(m) => write!(f, "rejected payload: {m}"),
            IngestError::Unavailable(m) => write!(f, "store unavailable: {m}"),
        }
    }
}

impl std::error::Error for IngestError {}

/// Where receivers deliver payloads.
pub trait PayloadSink: Send + Sync {
    /// Parses and stores `payload` all-or-nothing; resolves once it is durable.
    fn ingest(&self, payload: Payload) -> BoxFuture<'_, Result<IngestReceipt, IngestError>>;
}
