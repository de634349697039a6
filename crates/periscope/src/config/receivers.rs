//! One `[receiver.NAME]` table to a [`ReceiverEntry`]: a broker consumer feeding the store.
//! `kind`, `enabled` and the secret's source (`password_env`, `password_file`) are read here; the rest goes to the broker's own settings (through
//! `wire.rs`), every problem located by file and line.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::ConfigError;
use super::receiver_secret::{self, SecretSource};
use super::sources::Sources;
use super::{Secrets, locate, merge, settings_error};
use crate::wire::{self, Receiver};

/// A configured broker receiver.
pub struct ReceiverEntry {
    /// Unique name, the `receiver` label of its metrics.
    pub name: String,
    /// False when the config disabled it (e.g. in a test environment without the broker).
    pub enabled: bool,
    /// The built receiver; taken when `serve` starts it.
    pub receiver: Option<Receiver>,
}

/// Checks and builds one receiver; `None` when it has problems (all pushed to `errors`).
pub(super) fn receiver(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    name: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
    base_dir: &Path,
    secrets: Secrets,
    errors: &mut Vec<ConfigError>,
) -> Option<ReceiverEntry> {
    let key = format!("receiver.{}", name.get_ref());
    let at = |k: &str| Some(locate::span_of_path(value, k).start);
    let DeValue::Table(table) = value.get_ref() else {
        errors.push(ConfigError::at(
            sources,
            Some(value.span().start),
            key,
            "a receiver must be a table: write [receiver.NAME]",
        ));
        return None;
    };
    let kinds = wire::RECEIVER_KINDS.join(", ");
    let mut own = DeTable::new();
    let (mut kind, mut enabled, mut secret) = (None, true, None);
    for (k, v) in table.iter() {
        match (k.get_ref().as_ref(), v.get_ref()) {
            ("kind", DeValue::String(s)) => kind = Some(s.to_string()),
            ("kind", _) => {
                errors.push(
                    ConfigError::at(
                        sources,
                        at("kind"),
                        format!("{key}.kind"),
                        "`kind` must be a string",
                    )
                    .hint(format!("one of: {kinds}")),
                );
                return None;
            }
            ("enabled", DeValue::Boolean(b)) => enabled = *b,
            ("password_env", DeValue::String(s)) => {
                secret = Some((SecretSource::Env(s.to_string()), v.span()));
            }
            ("password_file", DeValue::String(s)) => {
                secret = Some((SecretSource::File(s.to_string()), v.span()));
            }
            ("enabled", _) => {
                errors.push(ConfigError::at(
                    sources,
                    at("enabled"),
                    format!("{key}.enabled"),
                    "`enabled` must be true or false",
                ));
                return None;
            }
            _ => {
                own.insert(k.clone(), v.clone());
            }
        }
    }
    let Some(kind) = kind else {
        errors.push(
            ConfigError::at(
                sources,
                Some(name.span().start),
                format!("{key}.kind"),
                "missing `kind`",
            )
            .hint(format!("one of: {kinds}")),
        );
        return None;
    };
    if let Some((source, span)) = secret
        && enabled
    {
        let before = errors.len();
        let place = receiver_secret::Place {
            sources,
            key: &key,
            span,
            base_dir,
            secrets,
        };
        receiver_secret::apply(&place, source, &kind, &mut own, errors);
        if errors.len() > before {
            return None;
        }
    }
    let own_value = merge::table_value(value.span(), own);
    match wire::build_receiver(&kind, name.get_ref(), own_value.clone()) {
        Ok(r) => Some(ReceiverEntry {
            name: name.get_ref().to_string(),
            enabled,
            receiver: Some(r),
        }),
        Err(e) => {
            let what = ("receiver", kind.as_str());
            settings_error(sources, root, value, &own_value, &key, what, e, errors);
            None
        }
    }
}
