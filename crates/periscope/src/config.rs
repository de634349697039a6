//! Loading the configuration: read -> parse -> merge -> strict deserialize -> validate -> build.
//!
//! Every file is parsed, every section and monitor is checked, and every problem is returned at
//! once with its file, line and key, so one edit-run cycle fixes them all. Startup is a load
//! from empty: there is no other way to get a [`Config`].

mod build;
mod deserialize;
mod email;
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
mod time_settings;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::DeValue;

pub use errors::{ConfigError, ConfigErrors};
pub use notify::{AckSecret, NotifyConfig};
pub use receivers::ReceiverEntry;
pub use rules::{RulesConfig, StateDbConfig};
pub use schema::{SnapshotFormat, SnapshotNaming};
pub use storage::{HttpConfig, StoreConfig};

use crate::schedule::Schedule;
use build::build;
// The section readers reach these shared helpers as `super::...`.
use deserialize::{section, settings_error};
use includes::{include_patterns, merge_include, monitor_names, read_includes, read_overlay};
use sources::Sources;
use time_settings::{positive, time_zone};

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

#[cfg(test)]
mod tests;
