//! Where the parts meet: the one file that knows every monitor kind and joins sensors to
//! reports. Adding a monitor kind means one line in [`build_monitor`].

use std::sync::Arc;

use model::{ConfigIssue, Monitor};
use sensors::BuildContext;
use sensors::runner::MonitorSlot;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use crate::config::MonitorEntry;

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
