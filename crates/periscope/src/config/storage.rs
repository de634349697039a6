//! `[store]` and `[http]`: where history is kept and where `serve` listens.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, SpanRelativeTo};
use toml::Spanned;
use toml::de::DeValue;

use super::Secrets;
use super::errors::ConfigError;
use super::http_access;
use super::locate;
use super::schema::{HttpSection, StoreSection};
use super::sources::Sources;
use crate::http_access::Access;

/// Default retention of stored samples.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(15 * 24 * 3600);
/// Default group-commit window of the write-ahead log.
pub const DEFAULT_COMMIT_WINDOW: Duration = Duration::from_millis(5);
/// Default out-of-order window.
pub const DEFAULT_OUT_OF_ORDER_WINDOW: Duration = Duration::from_secs(3600);
/// Default largest HTTP request body.
pub const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;

/// The metric store's settings, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Directory of the store.
    pub dir: PathBuf,
    /// How long samples are kept.
    pub retention: Duration,
    /// Most bytes of blocks kept; 0 for no limit.
    pub retention_bytes: u64,
    /// Group-commit window.
    pub commit_window: Duration,
    /// Out-of-order window.
    pub out_of_order_window: Duration,
}

/// The HTTP server's settings, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Who may do what (`anonymous`, `[http.token.NAME]`).
    pub access: Access,
}

/// Where located errors are recorded while resolving these sections.
pub struct Resolver<'a, 'i> {
    pub sources: &'a Sources,
    pub root: &'a Spanned<DeValue<'i>>,
    pub errors: &'a mut Vec<ConfigError>,
}

impl Resolver<'_, '_> {
    fn fail(&mut self, key: &str, message: String, hint: &str) {
        let at = locate::span_of_path(self.root, key).start;
        self.errors
            .push(ConfigError::at(self.sources, Some(at), key, message).hint(hint));
    }

    /// `[store]`, or `None` when it is disabled.
    pub fn store(
        &mut self,
        s: StoreSection,
        base_dir: &Path,
        state_dir: &Path,
    ) -> Option<StoreConfig> {
        if s.enabled == Some(false) {
            return None;
        }
        let retention = match s.retention {
            None => DEFAULT_RETENTION,
            Some(span) => match span
                .to_duration(SpanRelativeTo::days_are_24_hours())
                .ok()
                .and_then(|d| Duration::try_from(d).ok())
                .filter(|d| !d.is_zero())
            {
                Some(d) => d,
                None => {
                    self.fail(
                        "store.retention",
                        format!("retention must be a positive span of weeks, days or less, got `{span:#}`"),
                        "e.g. `15d`, `8w` or `36h` (months and years vary in length: use days)",
                    );
                    DEFAULT_RETENTION
                }
            },
        };
        let retention_bytes = match &s.retention_size {
            None => 0,
            Some(text) => parse_size(text).unwrap_or_else(|e| {
                self.fail(
                    "store.retention_size",
                    e,
                    "e.g. `10GiB`, `500MB` or `0` for no limit",
                );
                0
            }),
        };
        let commit_window = self.duration(
            "store.commit_window",
            s.commit_window,
            DEFAULT_COMMIT_WINDOW,
            true,
        );
        let out_of_order_window = self.duration(
            "store.out_of_order_window",
            s.out_of_order_window,
            DEFAULT_OUT_OF_ORDER_WINDOW,
            true,
        );
        let dir = s
            .dir
            .map_or_else(|| state_dir.join("metrics"), |d| base_dir.join(d));
        Some(StoreConfig {
            dir,
            retention,
            retention_bytes,
            commit_window,
            out_of_order_window,
        })
    }

    /// `[http]`, or `None` when no address is configured.
    pub fn http(
        &mut self,
        s: HttpSection,
        base_dir: &Path,
        secrets: Secrets,
    ) -> Option<HttpConfig> {
        let access =
            http_access::resolve(self.sources, self.root, &s, base_dir, secrets, self.errors);
        let max_body_bytes = match &s.max_body {
            None => DEFAULT_MAX_BODY,
            Some(text) => match parse_size(text) {
                Ok(n) if n > 0 => n,
                Ok(_) => {
                    self.fail(
                        "http.max_body",
                        "must be more than 0 bytes".into(),
                        "e.g. `32MiB`",
                    );
                    DEFAULT_MAX_BODY
                }
                Err(e) => {
                    self.fail("http.max_body", e, "e.g. `32MiB`");
                    DEFAULT_MAX_BODY
                }
            },
        };
        let text = s.listen?;
        match text.parse::<SocketAddr>() {
            Ok(listen) => Some(HttpConfig {
                listen,
                max_body_bytes,
                access,
            }),
            Err(e) => {
                self.fail(
                    "http.listen",
                    format!("`{text}` is not an address and port: {e}"),
                    "e.g. `127.0.0.1:9464`, or `0.0.0.0:9464` for every interface",
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        key: &str,
        value: Option<SignedDuration>,
        default: Duration,
        zero_ok: bool,
    ) -> Duration {
        match value {
            None => default,
            Some(d) => match Duration::try_from(d) {
                Ok(d) if zero_ok || !d.is_zero() => d,
                _ => {
                    self.fail(
                        key,
                        format!("must not be negative, got `{d:#}`"),
                        "e.g. `5ms`, `1h`",
                    );
                    default
                }
            },
        }
    }
}

/// Parses a byte size: a whole number with an optional unit, decimal (`kB`, `MB`, `GB`, `TB`)
/// or binary (`KiB`, `MiB`, `GiB`, `TiB`); `B` or no unit means bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: it must start with a whole number"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "`{other}` is not a size unit (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("10 GiB"), Ok(10 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(
            parse_size("10 parsecs")
                .unwrap_err()
                .contains("`parsecs` is not a size unit")
        );
        assert!(parse_size("MiB").unwrap_err().contains("whole number"));
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
