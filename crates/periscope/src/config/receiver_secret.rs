//! A receiver's password from `password_env` or `password_file`, so no secret has to be written
//! in the config: put into the broker URL's user info (RabbitMQ, NATS) or the `password`
//! setting (MQTT) before the broker's own settings are read.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::ConfigError;
use super::sources::Sources;

/// Where the secret comes from.
pub(super) enum SecretSource {
    /// `password_env = "NAME"`.
    Env(String),
    /// `password_file = "PATH"` (relative to the config file).
    File(String),
}

/// Resolves `source` and writes it into `own` (the kind's settings table) for `kind`.
/// Problems are pushed to `errors` with `key` (the receiver's key path), located at `span`
/// (the `password_env`/`password_file` entry).
#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    sources: &Sources,
    key: &str,
    span: Range<usize>,
    source: SecretSource,
    kind: &str,
    base_dir: &Path,
    own: &mut DeTable<'_>,
    errors: &mut Vec<ConfigError>,
) {
    let at = Some(span.start);
    let fail = |errors: &mut Vec<ConfigError>, field: &str, message: String, hint: &str| {
        errors.push(ConfigError::at(sources, at, format!("{key}.{field}"), message).hint(hint));
    };
    let (field, secret) = match source {
        SecretSource::Env(var) => match std::env::var(&var) {
            Ok(secret) => ("password_env", secret),
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
