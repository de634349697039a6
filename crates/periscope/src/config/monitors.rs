//! One `[monitor.NAME]` table to a [`MonitorEntry`]: the shared keys checked here, the kind's
//! own settings handed to the kind (through `wire.rs`), every problem located by file and line.

use std::path::Path;
use std::time::Duration;

use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::ConfigError;
use super::schema::{COMMON_MONITOR_KEYS, MonitorCommon};
use super::sources::Sources;
use super::{MonitorEntry, locate, merge, positive, section, settings_error, time_zone};
use crate::schedule::Schedule;
use crate::wire;

/// Defaults from `[periscope]` that a monitor falls back on.
pub(super) struct MonitorDefaults<'a> {
    pub timezone: &'a TimeZone,
    pub interval: Duration,
    pub timeout: Duration,
    pub base_dir: &'a Path,
}

/// Checks and builds one monitor; `None` when it has problems (all pushed to `errors`).
pub(super) fn monitor(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    name: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
    defaults: &MonitorDefaults<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<MonitorEntry> {
    let key = format!("monitor.{}", name.get_ref());
    let before = errors.len();
    if !name
        .get_ref()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.get_ref().is_empty()
    {
        errors.push(
            ConfigError::at(
                sources,
                Some(name.span().start),
                key.clone(),
                "monitor names may use letters, digits, `-`, `_` and `.` only",
            )
            .hint("names become file names and metric labels"),
        );
    }
    let DeValue::Table(table) = value.get_ref() else {
        errors.push(ConfigError::at(
            sources,
            Some(value.span().start),
            key,
            "a monitor must be a table: write [monitor.NAME]",
        ));
        return None;
    };
    // Split the shared keys from the kind's own, so each side can deny unknown keys.
    let (mut common, mut own) = (DeTable::new(), DeTable::new());
    for (k, v) in table.iter() {
        let side = if COMMON_MONITOR_KEYS.contains(&k.get_ref().as_ref()) {
            &mut common
        } else {
            &mut own
        };
        side.insert(k.clone(), v.clone());
    }
    if !common.contains_key("kind") {
        errors.push(
            ConfigError::at(
                sources,
                Some(name.span().start),
                format!("{key}.kind"),
                "missing `kind`",
            )
            .hint("one of: log, command, http"),
        );
        return None;
    }
    let common: MonitorCommon = section(
        sources,
        root,
        &key,
        &merge::table_value(value.span(), common),
        errors,
    )?;
    let at = |k: &str| Some(locate::span_of_path(value, k).start);

    let timeout = positive(
        sources,
        errors,
        common.timeout,
        defaults.timeout,
        &format!("{key}.timeout"),
        at("timeout"),
    );
    let schedule_tz = match &common.timezone {
        Some(tz) => time_zone(
            sources,
            errors,
            tz,
            &format!("{key}.timezone"),
            at("timezone"),
            defaults.timezone.clone(),
        ),
        None => defaults.timezone.clone(),
    };
    let schedule = match (&common.interval, &common.cron) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::at(
                sources,
                at("cron"),
                format!("{key}.cron"),
                "set either `interval` or `cron`, not both",
            ));
            None
        }
        (None, Some(expr)) => match Schedule::cron(expr, schedule_tz) {
            Ok(s) => Some(s),
            Err(why) => {
                errors.push(ConfigError::at(sources, at("cron"), format!("{key}.cron"), format!("bad cron expression `{expr}`: {why}")).hint("five fields: minute hour day-of-month month day-of-week, e.g. `*/15 * * * *`"));
                None
            }
        },
        (interval, None) => {
            let every = positive(
                sources,
                errors,
                *interval,
                defaults.interval,
                &format!("{key}.interval"),
                at("interval"),
            );
            Some(Schedule::every(every))
        }
    };

    let ctx = sensors::BuildContext {
        base_dir: defaults.base_dir.to_path_buf(),
        timeout,
    };
    let own_value = merge::table_value(value.span(), own);
    let built = match wire::build_monitor(&common.kind, name.get_ref(), own_value.clone(), &ctx) {
        Ok(m) => Some(m),
        Err(e) => {
            let what = ("monitor", common.kind.as_str());
            settings_error(sources, root, value, &own_value, &key, what, e, errors);
            None
        }
    };
    if errors.len() > before {
        return None;
    }
    Some(MonitorEntry {
        name: name.get_ref().to_string(),
        kind: common.kind,
        enabled: common.enabled,
        description: common.description,
        schedule: schedule?,
        timeout,
        monitor: built?,
    })
}
