//! Strict deserialization of one table, and the located errors a failure turns into: the file,
//! line and dotted key of the offending value, with a hint when a field name looks misspelt.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::errors::{ConfigError, suggest_field};
use super::locate;
use super::sources::Sources;

/// Strictly deserializes one section, turning a failure into a located error.
pub(super) fn section<T: DeserializeOwned>(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    match T::deserialize(ValueDeserializer::from(value.clone())) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(serde_error(sources, root, key, value, &e));
            None
        }
    }
}

/// Records why a kind's own settings (a monitor's or a receiver's) could not be built.
/// `what` names the table kind in messages (`monitor`, `receiver`).
#[allow(clippy::too_many_arguments)]
pub(super) fn settings_error(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    table: &Spanned<DeValue<'_>>,
    own: &Spanned<DeValue<'_>>,
    key: &str,
    (what, kind): (&str, &str),
    error: crate::wire::SettingsError,
    errors: &mut Vec<ConfigError>,
) {
    use crate::wire::SettingsError;
    let at = |k: &str| Some(locate::span_of_path(table, k).start);
    match error {
        SettingsError::UnknownKind(known) => errors.push(
            ConfigError::at(
                sources,
                at("kind"),
                format!("{key}.kind"),
                format!("unknown {what} kind `{kind}`"),
            )
            .hint(format!("one of: {}", known.join(", "))),
        ),
        SettingsError::Deserialize(e) => errors.push(serde_error(sources, root, key, own, &e)),
        SettingsError::Issues(issues) => {
            for issue in issues {
                let mut err = ConfigError::at(
                    sources,
                    at(&issue.path),
                    format!("{key}.{}", issue.path),
                    issue.message,
                );
                if let Some(h) = issue.hint {
                    err = err.hint(h);
                }
                errors.push(err);
            }
        }
    }
}

/// A deserialization failure of `value` (under `key`) as an error located at the offending key.
fn serde_error(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    e: &toml::de::Error,
) -> ConfigError {
    let at = e.span().unwrap_or_else(|| value.span()).start;
    let path = match root.get_ref() {
        DeValue::Table(t) => locate::path_at(t, at),
        _ => String::new(),
    };
    let path = if path.starts_with(key) {
        path
    } else {
        key.to_string()
    };
    let mut err = ConfigError::at(sources, Some(at), path, e.message().to_string());
    if let Some(h) = suggest_field(e.message()) {
        err = err.hint(h);
    }
    err
}
