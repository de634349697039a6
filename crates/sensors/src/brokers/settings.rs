//! Settings pieces every broker receiver shares: payload format, retry timing, and the checks
//! on them.

use std::time::Duration;

use model::{ConfigIssue, PayloadFormat};
use serde::Deserialize;

use super::deliver::Backoff;

/// How message bodies are encoded (`format = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerFormat {
    /// Periscope's JSON batch format (the default).
    #[default]
    Json,
    /// Prometheus text exposition 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl BrokerFormat {
    /// The format the sink is told.
    pub fn payload_format(self) -> PayloadFormat {
        match self {
            BrokerFormat::Json => PayloadFormat::Json,
            BrokerFormat::Prometheus => PayloadFormat::PrometheusText,
            BrokerFormat::OpenMetrics => PayloadFormat::OpenMetrics,
        }
    }
}

/// A setting that may hold credentials (a URL with a password, a password): usable as text,
/// but `Debug` never shows it, so a logged receiver does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Default `retry_min`: the first wait after the store or the broker failed.
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_millis(500);
/// Default `retry_max`: waits double up to this.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);

/// Checks `retry_min` / `retry_max` and returns the backoff they describe.
pub(crate) fn backoff(
    min: Option<jiff::SignedDuration>,
    max: Option<jiff::SignedDuration>,
    issues: &mut Vec<ConfigIssue>,
) -> Backoff {
    let min = positive(min, "retry_min", issues).unwrap_or(DEFAULT_RETRY_MIN);
    let max = positive(max, "retry_max", issues).unwrap_or(DEFAULT_RETRY_MAX);
    if min > max {
        issues.push(ConfigIssue::new(
            "retry_min",
            format!("retry_min ({min:?}) is above retry_max ({max:?})"),
        ));
    }
    Backoff::new(min, max.max(min))
}

/// A duration setting that must be above zero, as a std duration.
pub(crate) fn positive(
    value: Option<jiff::SignedDuration>,
    key: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Duration> {
    let value = value?;
    match Duration::try_from(value) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            issues.push(
                ConfigIssue::new(key, format!("must be above zero, got {value:#}"))
                    .hint("e.g. \"500ms\" or \"30s\""),
            );
            None
        }
    }
}

/// A required, non-empty name of at most `max_len` bytes without the characters in `forbidden`.
pub(crate) fn check_name(
    value: &str,
    key: &str,
    max_len: usize,
    forbidden: &[char],
    example: &str,
    issues: &mut Vec<ConfigIssue>,
) {
    if value.is_empty() {
        issues.push(ConfigIssue::new(key, "missing").hint(format!("e.g. {key} = \"{example}\"")));
    } else if value.len() > max_len {
        issues.push(ConfigIssue::new(
            key,
            format!(
                "`{value}` is {} bytes long, at most {max_len} allowed",
                value.len()
            ),
        ));
    } else if let Some(c) = value
        .chars()
        .find(|c| forbidden.contains(c) || c.is_control())
    {
        issues.push(ConfigIssue::new(
            key,
            format!("`{value}` contains {c:?}, which is not allowed here"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = Secret("amqp://u:hunter2@h".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
    }

    #[test]
    fn retry_settings_are_checked() {
        let mut issues = Vec::new();
        let b = backoff(
            Some(jiff::SignedDuration::from_secs(5)),
            Some(jiff::SignedDuration::from_secs(1)),
            &mut issues,
        );
        assert_eq!(b.max(), Duration::from_secs(5));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "retry_min");

        let mut issues = Vec::new();
        backoff(Some(jiff::SignedDuration::ZERO), None, &mut issues);
        assert_eq!(issues[0].path, "retry_min");
        assert!(issues[0].message.contains("above zero"));
    }

    #[test]
    fn formats_deserialize_from_their_config_names() {
        #[derive(Deserialize)]
        struct F {
            format: BrokerFormat,
        }
        for (text, want) in [
            ("json", PayloadFormat::Json),
            ("prometheus", PayloadFormat::PrometheusText),
            ("openmetrics", PayloadFormat::OpenMetrics),
        ] {
            let f: F = toml::from_str(&format!("format = \"{text}\"")).expect("parses");
            assert_eq!(f.format.payload_format(), want);
        }
        assert!(toml::from_str::<F>("format = \"remote-write\"").is_err());
    }
}
