//! A receiver's password from `password_env` or `password_file`, so no secret has to be written
//! in the config: put into the broker URL's user info (RabbitMQ, NATS) or the `password`
//! setting (MQTT) before the broker's own settings are read.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Secrets;
use super::errors::ConfigError;
use super::sources::Sources;

/// Where the secret comes from.
pub(super) enum SecretSource {
    /// `password_env = "NAME"`.
    Env(String),
    /// `password_file = "PATH"` (relative to the config file).
    File(String),
}

/// Where a receiver's secret is configured.
pub(super) struct Place<'a> {
    pub sources: &'a Sources,
    /// The receiver's key path, e.g. `receiver.orders`.
    pub key: &'a str,
    /// The `password_env`/`password_file` entry.
    pub span: Range<usize>,
    /// Where a relative `password_file` is found.
    pub base_dir: &'a Path,
    /// Whether a secret that cannot be read is an error, or left out.
    pub secrets: Secrets,
}

/// Resolves `source` and writes it into `own` (the kind's settings table) for `kind`.
/// Problems are pushed to `errors` with the receiver's key path, located at the entry. With
/// [`Secrets::NotNeeded`], a secret that cannot be read is left out: the receiver is built
/// without a password, for commands that never connect.
pub(super) fn apply(
    place: &Place<'_>,
    source: SecretSource,
    kind: &str,
    own: &mut DeTable<'_>,
    errors: &mut Vec<ConfigError>,
) {
    let Place {
        sources,
        key,
        span,
        base_dir,
        secrets,
    } = place;
    let span = span.clone();
    let at = Some(span.start);
    let fail = |errors: &mut Vec<ConfigError>, field: &str, message: String, hint: &str| {
        errors.push(ConfigError::at(sources, at, format!("{key}.{field}"), message).hint(hint));
    };
    let required = *secrets == Secrets::Required;
    let (field, secret) = match source {
        SecretSource::Env(var) => match std::env::var(&var) {
            Ok(secret) => ("password_env", secret),
            Err(_) if !required => return,
            Err(_) => {
                let hint =
                    format!("export {var}=... before starting Periscope, or use password_file");
                fail(
                    errors,
                    "password_env",
                    format!("environment variable `{var}` is not set"),
                    &hint,
                );
                return;
            }
        },
        SecretSource::File(file) => match std::fs::read_to_string(base_dir.join(&file)) {
            Ok(text) => (
                "password_file",
                text.lines().next().unwrap_or("").to_string(),
            ),
            Err(_) if !required => return,
            Err(e) => {
                let message = format!("cannot read {file}: {e}");
                fail(
                    errors,
                    "password_file",
                    message,
                    "a file whose first line is the password",
                );
                return;
            }
        },
    };
    if kind == "mqtt" {
        if own.contains_key("password") {
            let message = format!("set either password or {field}, not both");
            fail(
                errors,
                field,
                message,
                "keep the secret out of the file: remove `password`",
            );
            return;
        }
        let value = Spanned::new(span.clone(), DeValue::String(Cow::Owned(secret)));
        own.insert(Spanned::new(span, Cow::Borrowed("password")), value);
        return;
    }
    let Some(DeValue::String(text)) = own.get("url").map(|v| v.get_ref()) else {
        // A missing or mistyped url is reported by the broker's own settings.
        return;
    };
    let mut url = match url::Url::parse(text) {
        Ok(u) => u,
        // The broker's settings report a bad URL with their own wording.
        Err(_) => return,
    };
    if url.password().is_some() {
        let message = format!("the url already holds a password; set either that or {field}");
        fail(
            errors,
            field,
            message,
            "remove the password from the url, e.g. amqp://periscope@host/",
        );
        return;
    }
    if url.username().is_empty() {
        let message = format!("{field} needs a user name in the url");
        fail(
            errors,
            field,
            message,
            "e.g. url = \"amqp://periscope@mq.example.com:5672/%2f\"",
        );
        return;
    }
    if url.set_password(Some(&secret)).is_err() {
        let message = "this url cannot carry a password".to_string();
        fail(
            errors,
            field,
            message,
            "use a url of the form scheme://user@host:port/",
        );
        return;
    }
    let value = Spanned::new(span.clone(), DeValue::String(Cow::Owned(url.to_string())));
    own.insert(Spanned::new(span, Cow::Borrowed("url")), value);
}
