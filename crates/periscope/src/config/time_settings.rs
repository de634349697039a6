//! Checks of the time values that both `[periscope]` and each monitor set: time zone names and
//! positive durations. A bad value is recorded and replaced, so loading goes on to find the rest.

use std::time::Duration;

use jiff::SignedDuration;
use jiff::tz::TimeZone;

use super::errors::ConfigError;
use super::sources::Sources;

/// The time zone called `name`, or `fallback` after recording where the bad name is.
pub(super) fn time_zone(
    sources: &Sources,
    errors: &mut Vec<ConfigError>,
    name: &str,
    key: &str,
    at: Option<usize>,
    fallback: TimeZone,
) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| {
        errors.push(
            ConfigError::at(sources, at, key, format!("unknown time zone `{name}`: {e}"))
                .hint("use an IANA name such as `Europe/London` or `UTC`"),
        );
        fallback
    })
}

/// `value` as a positive duration, `default` when unset, or `default` after recording where a
/// zero or negative one is.
pub(super) fn positive(
    sources: &Sources,
    errors: &mut Vec<ConfigError>,
    value: Option<SignedDuration>,
    default: Duration,
    key: &str,
    at: Option<usize>,
) -> Duration {
    match value {
        None => default,
        Some(d) => match Duration::try_from(d) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                errors.push(
                    ConfigError::at(
                        sources,
                        at,
                        key,
                        format!("must be a positive duration, got `{d:#}`"),
                    )
                    .hint("e.g. `30s`, `5m`, `1h`"),
                );
                default
            }
        },
    }
}
