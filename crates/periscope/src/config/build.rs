//! Building a [`Config`] from the merged table: each section strictly deserialized, monitors,
//! receivers, rules and notifications built, and the checks that span sections (what needs the
//! store) made last.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::DeValue;

use super::email::email_settings;
use super::errors::{self, ConfigError};
use super::schema::{
    AlertsSection, EmailSection, GeneralSection, HttpSection, OutputSection, RulesSection,
    SECTIONS, SnapshotFormat, SnapshotNaming, StoreSection,
};
use super::sources::Sources;
use super::time_settings::{positive, time_zone};
use super::{
    Config, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, LoadOptions, Output, locate, monitors, native_rules,
    notify, receivers, rules, section, storage,
};

/// The configuration `root` describes, or `None` when it is not a table; problems go to `errors`.
pub(super) fn build(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    opts: &LoadOptions,
    base_dir: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<Config> {
    let DeValue::Table(table) = root.get_ref() else {
        return None;
    };
    for (key, _) in table.iter() {
        if !SECTIONS.contains(&key.get_ref().as_ref()) {
            let near = SECTIONS
                .iter()
                .min_by_key(|s| errors::edit_distance(key.get_ref(), s))
                .expect("SECTIONS is not empty");
            errors.push(
                ConfigError::at(
                    sources,
                    Some(key.span().start),
                    key.get_ref().to_string(),
                    "unknown section",
                )
                .hint(format!(
                    "known sections: {}; did you mean `{near}`?",
                    SECTIONS.join(", ")
                )),
            );
        }
    }
    let get = |k: &str| table.get(k);
    let general: GeneralSection = get("periscope")
        .and_then(|v| section(sources, root, "periscope", v, errors))
        .unwrap_or_default();
    let output_section: OutputSection = get("output")
        .and_then(|v| section(sources, root, "output", v, errors))
        .unwrap_or_default();
    let email_section: Option<EmailSection> =
        get("email").and_then(|v| section(sources, root, "email", v, errors));
    let alerts_section: AlertsSection = get("alerts")
        .and_then(|v| section(sources, root, "alerts", v, errors))
        .unwrap_or_default();
    let store_section: StoreSection = get("store")
        .and_then(|v| section(sources, root, "store", v, errors))
        .unwrap_or_default();
    let http_section: HttpSection = get("http")
        .and_then(|v| section(sources, root, "http", v, errors))
        .unwrap_or_default();
    let rules_section: RulesSection = get("rules")
        .and_then(|v| section(sources, root, "rules", v, errors))
        .unwrap_or_default();

    let at_key = |path: &str| Some(locate::span_of_path(root, path).start);
    let timezone = match &general.timezone {
        Some(name) => time_zone(
            sources,
            errors,
            name,
            "periscope.timezone",
            at_key("periscope.timezone"),
            TimeZone::UTC,
        ),
        None => TimeZone::system(),
    };
    let default_interval = positive(
        sources,
        errors,
        general.default_interval,
        DEFAULT_INTERVAL,
        "periscope.default_interval",
        at_key("periscope.default_interval"),
    );
    let default_timeout = positive(
        sources,
        errors,
        general.default_timeout,
        DEFAULT_TIMEOUT,
        "periscope.default_timeout",
        at_key("periscope.default_timeout"),
    );

    let output = output_paths(output_section, base_dir);
    let email = email_section
        .and_then(|e| email_settings(sources, root, e, base_dir, opts.secrets, errors));
    let alert_recipients = alerts_section
        .to
        .or_else(|| email.as_ref().map(|e| e.to.clone()))
        .unwrap_or_default();

    let mut monitors = Vec::new();
    if let Some(value) = get("monitor") {
        match value.get_ref() {
            DeValue::Table(list) => {
                for (name, value) in list.iter() {
                    let ctx = monitors::MonitorDefaults {
                        timezone: &timezone,
                        interval: default_interval,
                        timeout: default_timeout,
                        base_dir,
                    };
                    if let Some(m) = monitors::monitor(sources, root, name, value, &ctx, errors) {
                        monitors.push(m);
                    }
                }
            }
            _ => errors.push(ConfigError::at(
                sources,
                Some(value.span().start),
                "monitor",
                "`monitor` must be a table: write [monitor.NAME] sections",
            )),
        }
    }

    let mut receivers = Vec::new();
    if let Some(value) = get("receiver") {
        match value.get_ref() {
            DeValue::Table(list) => {
                for (name, value) in list.iter() {
                    if let Some(r) = receivers::receiver(
                        sources,
                        root,
                        name,
                        value,
                        base_dir,
                        opts.secrets,
                        errors,
                    ) {
                        receivers.push(r);
                    }
                }
            }
            _ => errors.push(ConfigError::at(
                sources,
                Some(value.span().start),
                "receiver",
                "`receiver` must be a table: write [receiver.NAME] sections",
            )),
        }
    }

    let state_dir = opts.state_dir.clone().unwrap_or_else(|| {
        base_dir.join(general.state_dir.unwrap_or_else(|| PathBuf::from("state")))
    });
    let mut rules_resolver = rules::RulesResolver {
        sources,
        root,
        errors,
        secrets: opts.secrets,
    };
    let mut rules = rules_resolver.rules(rules_section, base_dir);
    let state_db = rules_resolver.state_db(
        general.state.as_deref(),
        general.state_password_env.as_deref(),
        base_dir,
        &state_dir,
    );
    let periods = native_rules::periods(sources, root, errors);
    rules.native = native_rules::load(sources, root, &periods, errors);
    let mail = email
        .clone()
        .map(|settings| Arc::new(crate::notify_wire::SmtpMailer(settings)) as _);
    let response = notify::load(
        sources,
        root,
        &periods,
        mail,
        base_dir,
        opts.secrets,
        errors,
    );
    let mut resolver = storage::Resolver {
        sources,
        root,
        errors,
    };
    let store = resolver.store(store_section, base_dir, &state_dir);
    let http = resolver.http(http_section, base_dir, opts.secrets);
    if store.is_none()
        && let Some(r) = receivers.iter().find(|r| r.enabled)
    {
        errors.push(
            ConfigError::at(
                sources,
                Some(locate::span_of_path(root, &format!("receiver.{}", r.name)).start),
                format!("receiver.{}", r.name),
                "receivers store what they consume, and [store] is disabled",
            )
            .hint("remove `enabled = false` from [store], or disable the receiver"),
        );
    }
    if store.is_none() && (!rules.active().is_empty() || !rules.active_native().is_empty()) {
        errors.push(
            ConfigError::at(
                sources,
                Some(locate::span_of_path(root, "rules.files").start),
                "rules.files",
                "rules are evaluated over the store, and [store] is disabled",
            )
            .hint("remove `enabled = false` from [store], or set `enabled = false` in [rules]"),
        );
    }
    if http.is_some() && store.is_none() {
        errors.push(
            ConfigError::at(
                sources,
                Some(locate::span_of_path(root, "http.listen").start),
                "http.listen",
                "the HTTP server receives metrics into the store, and [store] is disabled",
            )
            .hint("remove `enabled = false` from [store], or remove [http]"),
        );
    }
    Some(Config {
        path: opts.path.clone(),
        environment: opts.env.clone().unwrap_or_else(|| "production".to_string()),
        state_dir,
        timezone,
        host: general.host.unwrap_or_else(local_host_name),
        output,
        email,
        alert_recipients,
        store,
        http,
        monitors,
        receivers,
        rules,
        state_db,
        notify: response.notify,
        oncall: response.oncall,
    })
}

/// Output locations, relative paths taken from the config file's directory.
fn output_paths(s: OutputSection, base_dir: &Path) -> Output {
    let dir = base_dir.join(s.dir.unwrap_or_else(|| PathBuf::from("output")));
    Output {
        summary_file: dir.join(s.summary_file.unwrap_or_else(|| "summary.txt".to_string())),
        csv_dir: s
            .csv_dir
            .map_or_else(|| dir.join("csv"), |d| base_dir.join(d)),
        naming: s.snapshot.unwrap_or(SnapshotNaming::Daily),
        formats: s
            .formats
            .unwrap_or_else(|| vec![SnapshotFormat::Xml, SnapshotFormat::Json]),
        dir,
    }
}

/// The machine's name for reports when `[periscope] host` is unset.
fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
