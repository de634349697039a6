//! `[http] anonymous` and `[http.token.NAME]`: the HTTP API's access policy, resolved.
//!
//! Mistakes in the policy (an unknown scope, a token without a secret source) are config
//! errors like any other. A secret that cannot be read (its environment variable unset, its
//! file missing, too short) is one too, except for commands that load the config with
//! [`Secrets::NotNeeded`] (they serve nothing): the token is then left out.

use std::path::Path;

use toml::Spanned;
use toml::de::DeValue;

use super::Secrets;
use super::errors::ConfigError;
use super::locate;
use super::schema::{HttpSection, TokenSection};
use super::sources::Sources;
use crate::http_access::{Access, Scope, Scopes, Token};

/// Resolves the access part of `[http]`; every problem goes to `errors`.
pub fn resolve(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    section: &HttpSection,
    base_dir: &Path,
    secrets: Secrets,
    errors: &mut Vec<ConfigError>,
) -> Access {
    let error = |key: &str, message: String, hint: &str| {
        ConfigError::at(
            sources,
            Some(locate::span_of_path(root, key).start),
            key,
            message,
        )
        .hint(hint)
    };
    let scopes_of = |key: &str, names: &[String], errors: &mut Vec<ConfigError>| {
        let mut scopes = Vec::new();
        for name in names {
            match Scope::parse(name) {
                Some(s) => scopes.push(s),
                None => errors.push(error(
                    key,
                    format!("`{name}` is not a scope"),
                    "scopes are \"read\", \"push\" and \"manage\"",
                )),
            }
        }
        scopes.into_iter().collect::<Scopes>()
    };
    let mut resolved = Access::default();
    let tokens = section.token.as_ref();
    for (name, token) in tokens.into_iter().flatten() {
        let key = format!("http.token.{name}");
        let scopes = scopes_of(&format!("{key}.scopes"), &token.scopes, errors);
        if token.scopes.is_empty() {
            errors.push(error(
                &format!("{key}.scopes"),
                "a token with no scope can do nothing".into(),
                "e.g. scopes = [\"read\"] for Grafana, [\"push\"] for applications",
            ));
        }
        match secret(token, &key, base_dir) {
            Ok(Some(secret)) => resolved.tokens.push(Token {
                name: name.clone(),
                scopes,
                secret,
            }),
            Ok(None) => errors.push(error(
                &key,
                "a token needs secret_env or secret_file".into(),
                "e.g. secret_env = \"PERISCOPE_TOKEN_GRAFANA\": secrets are never written in \
                 the config",
            )),
            Err(SecretProblem::Policy(field, message, hint)) => {
                errors.push(error(&format!("{key}.{field}"), message, hint));
            }
            Err(SecretProblem::Unavailable(..)) if secrets == Secrets::NotNeeded => {}
            Err(SecretProblem::Unavailable(field, message, hint)) => {
                errors.push(error(&format!("{key}.{field}"), message, hint));
            }
        }
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for token in &resolved.tokens {
        if let Some((other, _)) = seen.iter().find(|(_, s)| *s == token.secret) {
            errors.push(error(
                &format!("http.token.{}", token.name),
                format!("has the same secret as token `{other}`"),
                "give every client its own secret, so one can be revoked alone",
            ));
        }
        seen.push((&token.name, &token.secret));
    }
    resolved.anonymous = match &section.anonymous {
        Some(names) => scopes_of("http.anonymous", names, errors),
        None if tokens.is_some_and(|t| !t.is_empty()) => Scopes::default(),
        None => Scopes::all(),
    };
    resolved
}

/// Why a token has no secret: the field, what is wrong, a hint.
enum SecretProblem {
    /// The config is wrong whatever the environment holds.
    Policy(&'static str, String, &'static str),
    /// The environment lacks it: an error unless the command needs no secrets.
    Unavailable(&'static str, String, &'static str),
}

/// The token's secret: `Ok(None)` when no source is set.
fn secret(
    token: &TokenSection,
    key: &str,
    base_dir: &Path,
) -> Result<Option<String>, SecretProblem> {
    let (field, text) = match (&token.secret_env, &token.secret_file) {
        (Some(_), Some(_)) => {
            return Err(SecretProblem::Policy(
                "secret_env",
                "set either secret_env or secret_file, not both".into(),
                "keep one source per secret",
            ));
        }
        (None, None) => return Ok(None),
        (Some(var), None) => match std::env::var(var) {
            Ok(text) => ("secret_env", text),
            Err(_) => {
                return Err(SecretProblem::Unavailable(
                    "secret_env",
                    format!("environment variable `{var}` is not set"),
                    "export it before starting `serve`, or use secret_file",
                ));
            }
        },
        (None, Some(file)) => match std::fs::read_to_string(base_dir.join(file)) {
            Ok(text) => ("secret_file", text.lines().next().unwrap_or("").to_string()),
            Err(e) => {
                return Err(SecretProblem::Unavailable(
                    "secret_file",
                    format!("cannot read {}: {e}", file.display()),
                    "a file whose first line is the token's secret",
                ));
            }
        },
    };
    let text = text.trim().to_string();
    if text.len() < MIN_SECRET_LEN {
        return Err(SecretProblem::Unavailable(
            field,
            format!(
                "the secret of {key} is {} characters long; use at least {MIN_SECRET_LEN}",
                text.len()
            ),
            "e.g. `openssl rand -hex 24`",
        ));
    }
    Ok(Some(text))
}

/// Shortest secret accepted: long enough that guessing over the network is hopeless.
const MIN_SECRET_LEN: usize = 16;
