//! Loading the configuration: read -> parse -> merge -> strict deserialize -> validate -> build.
//!
//! Every file is parsed, every section and monitor is checked, and every problem is returned at
//! once with its file, line and key, so one edit-run cycle fixes them all. Startup is a load
//! from empty: there is no other way to get a [`Config`].

mod errors;
mod http_access;
mod includes;
mod locate;
mod merge;
mod monitors;
mod native_rules;
mod notify;
mod receiver_secret;
mod receivers;
mod rules;
mod schema;
mod sources;
mod storage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

pub use errors::{ConfigError, ConfigErrors};
pub use notify::{AckSecret, NotifyConfig};
pub use receivers::ReceiverEntry;
pub use rules::{RulesConfig, StateDbConfig};
pub use schema::{SnapshotFormat, SnapshotNaming};
pub use storage::{HttpConfig, StoreConfig};

use crate::schedule::Schedule;
use errors::suggest_field;
use includes::{include_patterns, merge_include, monitor_names, read_includes, read_overlay};
use schema::{
    AlertsSection, EmailSection, GeneralSection, HttpSection, OutputSection, RulesSection,
    SECTIONS, StoreSection,
};
use sources::Sources;

/// Named defaults (see `config/periscope.toml`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default per-monitor timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A loaded, validated configuration with its monitors built.
pub struct Config {
    /// The main config file.
    pub path: PathBuf,
    /// Environment name (`production` unless `--env` chose an overlay).
    pub environment: String,
    /// Where state (log offsets...) is kept.
    pub state_dir: PathBuf,
    /// Time zone for report times and cron.
    pub timezone: TimeZone,
    /// Host name for reports.
    pub host: String,
    /// Output locations.
    pub output: Output,
    /// SMTP settings, when `[email]` is configured.
    pub email: Option<report::SmtpSettings>,
    /// Recipients for `--mode alerts`.
    pub alert_recipients: Vec<String>,
    /// The metric store, unless `[store] enabled = false`.
    pub store: Option<StoreConfig>,
    /// The HTTP server of `serve`, when `[http] listen` is set.
    pub http: Option<HttpConfig>,
    /// Every monitor, enabled or not, in the order the files define them.
    pub monitors: Vec<MonitorEntry>,
    /// Broker receivers (`[receiver.NAME]`), enabled or not.
    pub receivers: Vec<ReceiverEntry>,
    /// Rule files and how often they are evaluated (`[rules]`).
    pub rules: RulesConfig,
    /// Where alert state lives (`[periscope].state`).
    pub state_db: StateDbConfig,
    /// The response side (`[notify]`), when configured.
    pub notify: Option<NotifyConfig>,
    /// People and on-call schedules (`[person.*]`, `[schedule.*]`).
    pub oncall: Arc<::notify::oncall::OnCall>,
}

/// Where a run's outputs go.
#[derive(Clone, Debug)]
pub struct Output {
    /// Snapshot and summary directory.
    pub dir: PathBuf,
    /// Snapshot naming.
    pub naming: SnapshotNaming,
    /// Snapshot formats.
    pub formats: Vec<SnapshotFormat>,
    /// Path of the summary file.
    pub summary_file: PathBuf,
    /// End-of-day CSV directory.
    pub csv_dir: PathBuf,
}

/// One configured monitor.
pub struct MonitorEntry {
    /// Unique name.
    pub name: String,
    /// Kind (`log`, `command`, `http`).
    pub kind: String,
    /// False when the config disabled it.
    pub enabled: bool,
    /// Description for reports.
    pub description: String,
    /// When `serve` runs it.
    pub schedule: Schedule,
    /// How long one check may take.
    pub timeout: Duration,
    /// The built monitor.
    pub monitor: Arc<dyn model::Monitor>,
}

impl Config {
    /// The enabled monitors.
    pub fn enabled(&self) -> impl Iterator<Item = &MonitorEntry> {
        self.monitors.iter().filter(|m| m.enabled)
    }

    /// The monitor called `name`, enabled or not.
    pub fn monitor(&self, name: &str) -> Option<&MonitorEntry> {
        self.monitors.iter().find(|m| m.name == name)
    }
}

/// What the command line says about where the config is.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Main config file.
    pub path: PathBuf,
    /// Environment overlay to merge (`periscope.<env>.toml` beside the main file).
    pub env: Option<String>,
    /// Overrides `[periscope].state_dir`.
    pub state_dir: Option<PathBuf>,
    /// Whether secrets (`*_env`, `*_file`) must be readable.
    pub secrets: Secrets,
}

/// Whether a command needs the config's secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Secrets {
    /// `serve`, `run`, `check-config`, `monitor run`: a secret that cannot be read (its variable
    /// unset, its file missing) is a config error, named with its key and line.
    #[default]
    Required,
    /// Commands that read history or talk to a running `serve` (`query`, `export`, `import`,
    /// `silence`, `ack`, `test-route`, `oncall`): the operator's shell need not hold the
    /// server's passwords. A secret that cannot be read is left out (a broker or database URL
    /// keeps no password, a notification channel gets a placeholder that is never sent to).
    NotNeeded,
}

/// Loads and validates the configuration, reporting every problem at once.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigErrors> {
    let mut sources = Sources::default();
    let main = sources
        .read(&opts.path)
        .map_err(|e| ConfigErrors(vec![e]))?;
    let base_dir = opts
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();

    let mut errors = Vec::new();
    // Which files to read depends on the main file; read them all before parsing for real so
    // every parsed table can borrow from the finished set of sources.
    let includes = include_patterns(&sources.file(main).text);
    let overlay = match &opts.env {
        Some(env) => match read_overlay(&mut sources, &opts.path, env) {
            Ok(i) => Some(i),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    let included = read_includes(&mut sources, &base_dir, &includes, &mut errors);

    let (root, parse_errors) = sources.parse(main);
    errors.extend(parse_errors);
    let root_span = root.span();
    let mut root = root.into_inner();
    let mut monitor_origin = monitor_names(&root);

    for index in included {
        let (table, parse_errors) = sources.parse(index);
        errors.extend(parse_errors);
        merge_include(
            &sources,
            &mut root,
            table.into_inner(),
            &mut monitor_origin,
            &mut errors,
        );
    }
    if let Some(index) = overlay {
        let (table, parse_errors) = sources.parse(index);
        errors.extend(parse_errors);
        let table = table.into_inner();
        if let Some(inc) = table
            .get("periscope")
            .and_then(|p| p.get_ref().as_table())
            .and_then(|p| p.get("include"))
        {
            errors.push(
                ConfigError::at(
                    &sources,
                    Some(inc.span().start),
                    "periscope.include",
                    "an environment overlay cannot add includes",
                )
                .hint(
                    "list include files in the main config; the overlay can disable their monitors",
                ),
            );
        }
        merge::merge_tables(&mut root, table);
    }

    let root = Spanned::new(root_span, DeValue::Table(root));
    let built = build(&sources, &root, opts, &base_dir, &mut errors);
    if errors.is_empty()
        && let Some(config) = built
    {
        return Ok(config);
    }
    errors.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
    errors.dedup();
    Err(ConfigErrors(errors))
}

/// Strictly deserializes one section, turning a failure into a located error.
fn section<T: DeserializeOwned>(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    match T::deserialize(ValueDeserializer::from(value.clone())) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(serde_error(sources, root, key, value, &e));
            None
        }
    }
}

/// Records why a kind's own settings (a monitor's or a receiver's) could not be built.
/// `what` names the table kind in messages (`monitor`, `receiver`).
#[allow(clippy::too_many_arguments)]
fn settings_error(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    table: &Spanned<DeValue<'_>>,
    own: &Spanned<DeValue<'_>>,
    key: &str,
    (what, kind): (&str, &str),
    error: crate::wire::SettingsError,
    errors: &mut Vec<ConfigError>,
) {
    use crate::wire::SettingsError;
    let at = |k: &str| Some(locate::span_of_path(table, k).start);
    match error {
        SettingsError::UnknownKind(known) => errors.push(
            ConfigError::at(
                sources,
                at("kind"),
                format!("{key}.kind"),
                format!("unknown {what} kind `{kind}`"),
            )
            .hint(format!("one of: {}", known.join(", "))),
        ),
        SettingsError::Deserialize(e) => errors.push(serde_error(sources, root, key, own, &e)),
        SettingsError::Issues(issues) => {
            for issue in issues {
                let mut err = ConfigError::at(
                    sources,
                    at(&issue.path),
                    format!("{key}.{}", issue.path),
                    issue.message,
                );
                if let Some(h) = issue.hint {
                    err = err.hint(h);
                }
                errors.push(err);
            }
        }
    }
}

fn serde_error(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    e: &toml::de::Error,
) -> ConfigError {
    let at = e.span().unwrap_or_else(|| value.span()).start;
    let path = match root.get_ref() {
        DeValue::Table(t) => locate::path_at(t, at),
        _ => String::new(),
    };
    let path = if path.starts_with(key) {
        path
    } else {
        key.to_string()
    };
    let mut err = ConfigError::at(sources, Some(at), path, e.message().to_string());
    if let Some(h) = suggest_field(e.message()) {
        err = err.hint(h);
    }
    err
}

fn build(
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

/// The time zone called `name`, or `fallback` after recording where the bad name is.
fn time_zone(
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

fn positive(
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

fn email_settings(
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

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests;
