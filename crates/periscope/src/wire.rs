//! Where the parts meet: the one file that knows every monitor kind and joins sensors to
//! reports. Adding a monitor kind means one line in [`build_monitor`].

use std::sync::Arc;

use model::{ConfigIssue, Monitor};
use sensors::BuildContext;
use sensors::runner::MonitorSlot;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use crate::config::{MonitorEntry, StateDbConfig, StoreConfig};

/// Every monitor kind a config may name.
pub const KINDS: &[&str] = &["log", "command", "http"];

/// Why a monitor's own settings could not be turned into a monitor.
pub enum SettingsError {
    /// `kind` names no known monitor kind; carries the known ones.
    UnknownKind(&'static [&'static str]),
    /// The settings do not fit the kind's settings struct (unknown key, wrong type...).
    Deserialize(toml::de::Error),
    /// The settings fit but say something impossible (bad regex, empty command...).
    Issues(Vec<ConfigIssue>),
}

/// Builds a monitor of `kind` from its settings table (the shared keys already removed).
pub fn build_monitor(
    kind: &str,
    name: &str,
    settings: Spanned<DeValue<'_>>,
    ctx: &BuildContext,
) -> Result<Arc<dyn Monitor>, SettingsError> {
    match kind {
        "log" => build(settings, |s: sensors::log::LogSettings| s.build(name, ctx)),
        "command" => build(settings, |s: sensors::command::CommandSettings| {
            s.build(name, ctx)
        }),
        "http" => build(settings, |s: sensors::http::HttpSettings| {
            s.build(name, ctx)
        }),
        _ => Err(SettingsError::UnknownKind(KINDS)),
    }
}

fn build<S, M>(
    settings: Spanned<DeValue<'_>>,
    make: impl FnOnce(S) -> Result<M, Vec<ConfigIssue>>,
) -> Result<Arc<dyn Monitor>, SettingsError>
where
    S: DeserializeOwned,
    M: Monitor + 'static,
{
    let parsed =
        S::deserialize(ValueDeserializer::from(settings)).map_err(SettingsError::Deserialize)?;
    let monitor = make(parsed).map_err(SettingsError::Issues)?;
    Ok(Arc::new(monitor))
}

/// What the runner needs to run a configured monitor.
pub fn slot(entry: &MonitorEntry) -> MonitorSlot {
    MonitorSlot {
        monitor: Arc::clone(&entry.monitor),
        description: entry.description.clone(),
        timeout: entry.timeout,
    }
}

/// Opens the metric store the config describes. Damage that recovery repaired or set aside
/// (a torn write-ahead log tail, a corrupt block) is logged, not fatal: the rest is served.
pub fn open_store(
    config: &StoreConfig,
    clock: Arc<dyn model::Clock>,
) -> Result<store::Store, store::OpenError> {
    let options = store::StoreOptions {
        commit_window: config.commit_window,
        out_of_order_window: config.out_of_order_window,
        retention_age: config.retention,
        retention_bytes: config.retention_bytes,
        ..store::StoreOptions::default()
    };
    let opened = store::Store::open(&config.dir, options, clock)?;
    for note in opened.recovery() {
        tracing::warn!(store = %config.dir.display(), "{note}");
    }
    Ok(opened)
}

/// Opens the state database the config names (creating a SQLite file, migrating the schema).
/// The error names the database without its password.
pub async fn open_state_db(config: &StateDbConfig) -> Result<Arc<store::StateDb>, String> {
    match store::StateDb::open(&config.url).await {
        Ok(db) => {
            tracing::info!(state = %db.location(), "state database open");
            Ok(Arc::new(db))
        }
        // The store's own messages already leave the password out.
        Err(e) => Err(format!(
            "cannot open the state database {}: {e}",
            config.shown
        )),
    }
}

/// Every receiver kind a `[receiver.NAME]` table may name.
pub const RECEIVER_KINDS: &[&str] = &["rabbitmq", "nats", "mqtt"];

/// A configured broker receiver, ready to start.
pub enum Receiver {
    /// RabbitMQ (AMQP 0-9-1).
    RabbitMq(sensors::brokers::RabbitMqReceiver),
    /// NATS JetStream.
    Nats(sensors::brokers::NatsReceiver),
    /// MQTT.
    Mqtt(sensors::brokers::MqttReceiver),
}

impl Receiver {
    /// The broker's name, as the `broker` label of its metrics.
    pub fn broker(&self) -> &'static str {
        match self {
            Receiver::RabbitMq(_) => "rabbitmq",
            Receiver::Nats(_) => "nats",
            Receiver::Mqtt(_) => "mqtt",
        }
    }

    /// Where it consumes from, without credentials.
    pub fn describe(&self) -> String {
        match self {
            Receiver::RabbitMq(r) => r.describe(),
            Receiver::Nats(r) => r.describe(),
            Receiver::Mqtt(r) => r.describe(),
        }
    }

    /// Its counters (shared with the running task).
    pub fn stats(&self) -> Arc<sensors::brokers::BrokerStats> {
        match self {
            Receiver::RabbitMq(r) => r.stats(),
            Receiver::Nats(r) => r.stats(),
            Receiver::Mqtt(r) => r.stats(),
        }
    }

    /// Starts consuming into `sink` until `shutdown` turns true.
    pub fn start(
        self,
        sink: Arc<dyn model::PayloadSink>,
        shutdown: sensors::brokers::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        match self {
            Receiver::RabbitMq(r) => r.start(sink, shutdown),
            Receiver::Nats(r) => r.start(sink, shutdown),
            Receiver::Mqtt(r) => r.start(sink, shutdown),
        }
    }
}

/// Builds a receiver of `kind` from its settings table (`kind` and `enabled` removed).
pub fn build_receiver(
    kind: &str,
    name: &str,
    settings: Spanned<DeValue<'_>>,
) -> Result<Receiver, SettingsError> {
    fn typed<S: DeserializeOwned, R>(
        settings: Spanned<DeValue<'_>>,
        make: impl FnOnce(S) -> Result<R, Vec<ConfigIssue>>,
    ) -> Result<R, SettingsError> {
        let parsed = S::deserialize(ValueDeserializer::from(settings))
            .map_err(SettingsError::Deserialize)?;
        make(parsed).map_err(SettingsError::Issues)
    }
    use sensors::brokers::{MqttSettings, NatsSettings, RabbitMqSettings};
    match kind {
        "rabbitmq" => typed(settings, |s: RabbitMqSettings| s.build(name)).map(Receiver::RabbitMq),
        "nats" => typed(settings, |s: NatsSettings| s.build(name)).map(Receiver::Nats),
        "mqtt" => typed(settings, |s: MqttSettings| s.build(name)).map(Receiver::Mqtt),
        _ => Err(SettingsError::UnknownKind(RECEIVER_KINDS)),
    }
}
