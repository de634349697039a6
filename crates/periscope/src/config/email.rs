//! The `[email]` section to SMTP settings: the password from its variable or file, the security
//! mode with its default port, and the CA file checked up front.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::Secrets;
use super::errors::ConfigError;
use super::locate;
use super::schema::{self, EmailSection};
use super::sources::Sources;

/// The SMTP settings of `[email]`, every problem with them recorded in `errors`.
pub(super) fn email_settings(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    e: EmailSection,
    base_dir: &Path,
    secrets: Secrets,
    errors: &mut Vec<ConfigError>,
) -> Option<report::SmtpSettings> {
    let required = secrets == Secrets::Required;
    let at = |k: &str| Some(locate::span_of_path(root, &format!("email.{k}")).start);
    let password = match (&e.password_env, &e.password_file) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::at(
                sources,
                at("password_file"),
                "email.password_file",
                "set either password_env or password_file, not both",
            ));
            None
        }
        (Some(var), None) => match std::env::var(var) {
            Ok(p) => Some(p),
            Err(_) if !required => None,
            Err(_) => {
                errors.push(
                    ConfigError::at(
                        sources,
                        at("password_env"),
                        "email.password_env",
                        format!("environment variable `{var}` is not set"),
                    )
                    .hint(format!(
                        "export {var}=... before starting Periscope, or use password_file"
                    )),
                );
                None
            }
        },
        (None, Some(file)) => match std::fs::read_to_string(base_dir.join(file)) {
            Ok(p) => Some(p.lines().next().unwrap_or("").to_string()),
            Err(_) if !required => None,
            Err(err) => {
                errors.push(ConfigError::at(
                    sources,
                    at("password_file"),
                    "email.password_file",
                    format!("cannot read {}: {err}", file.display()),
                ));
                None
            }
        },
        (None, None) => None,
    };
    let has_password = e.password_env.is_some() || e.password_file.is_some();
    if has_password && e.username.is_none() {
        errors.push(
            ConfigError::at(
                sources,
                at("username"),
                "email",
                "a password is configured but no username",
            )
            .hint("add `username = \"...\"`"),
        );
    }
    if e.to.is_empty() {
        errors.push(
            ConfigError::at(sources, at("to"), "email.to", "no recipients")
                .hint("e.g. to = [\"ops@example.com\"]"),
        );
    }
    let security = e.security.unwrap_or(schema::Security::Starttls);
    let (security, default_port) = match security {
        schema::Security::Plain => (report::SmtpSecurity::Plain, 25),
        schema::Security::Starttls => (report::SmtpSecurity::StartTls, 587),
        schema::Security::Tls => (report::SmtpSecurity::Tls, 465),
    };
    let ca_file = e.ca_file.map(|file| base_dir.join(file));
    if let Some(path) = &ca_file {
        if security == report::SmtpSecurity::Plain {
            errors.push(
                ConfigError::at(
                    sources,
                    at("ca_file"),
                    "email.ca_file",
                    "ca_file is set but security = \"plain\", so it would not be used",
                )
                .hint("use security = \"starttls\" or \"tls\", or remove ca_file"),
            );
        } else if let Err(err) = report::check_ca_file(path) {
            errors.push(
                ConfigError::at(sources, at("ca_file"), "email.ca_file", err.to_string()).hint(
                    "a PEM file of the CA certificate(s) that signed the SMTP server's \
                         certificate, relative to the config file",
                ),
            );
        }
    }
    Some(report::SmtpSettings {
        host: e.smtp_host,
        port: e.smtp_port.unwrap_or(default_port),
        security,
        username: e.username,
        password,
        from: e.from,
        to: e.to,
        timeout: e
            .timeout
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::from_secs(30)),
        ca_file,
    })
}
