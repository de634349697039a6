//! The shape of the config file: one strict struct per section.
//!
//! Every field's doc comment is its documentation; `config/periscope.toml` shows them all in use.
//! Monitor tables are split: the keys every monitor shares live in [`MonitorCommon`], the rest
//! goes to the monitor kind's own settings struct in the `sensors` crate.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::SignedDuration;
use serde::Deserialize;

/// Top-level keys the main file may have.
pub const SECTIONS: &[&str] = &[
    "periscope",
    "output",
    "email",
    "alerts",
    "store",
    "http",
    "monitor",
    "receiver",
    "notify",
    "person",
    "schedule",
    "escalation",
    "partner",
    "rules",
    "rule",
    "time_period",
];

/// Keys of a monitor table that the runner, not the monitor, uses.
pub const COMMON_MONITOR_KEYS: &[&str] = &[
    "kind",
    "enabled",
    "description",
    "interval",
    "cron",
    "timezone",
    "timeout",
];

/// `[periscope]`: where state lives, how times read, what else to load.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneralSection {
    /// Directory for Periscope's own state (log offsets and so on); relative to the config
    /// file. `--state-dir` overrides it. Default: `state`.
    pub state_dir: Option<PathBuf>,
    /// IANA time zone for report times and cron schedules, e.g. `Europe/London`. Default: the
    /// system's.
    pub timezone: Option<String>,
    /// More files holding `[monitor.*]` tables: paths or globs relative to this file.
    // Read before parsing for real (config.rs `include_patterns`); declared here so its type is
    // checked as strictly as everything else.
    #[allow(dead_code)]
    #[serde(default)]
    pub include: Vec<String>,
    /// Host name shown in reports. Default: the machine's.
    pub host: Option<String>,
    /// Interval for monitors that set neither `interval` nor `cron` (daemon mode). Default: 1m.
    pub default_interval: Option<SignedDuration>,
    /// Timeout for monitors that do not set one. Default: 30s.
    pub default_timeout: Option<SignedDuration>,
    /// Where alert state lives (pending and firing alerts, their history), so it survives a
    /// restart: `sqlite://PATH?mode=rwc` (a relative PATH is relative to this file) or
    /// `postgres://USER@HOST:PORT/DATABASE` to share state between instances. Default:
    /// `sqlite://<state_dir>/state.db?mode=rwc`.
    pub state: Option<String>,
    /// Name of an environment variable holding the PostgreSQL password of `state`, so the
    /// password need not be written in the URL.
    pub state_password_env: Option<String>,
}

/// `[output]`: where snapshots, summaries and CSV files go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Directory for snapshots and the summary file; relative to the config file. Default: `output`.
    pub dir: Option<PathBuf>,
    /// `daily`: one snapshot file per day, replaced on each run. `per-run`: a new file each run.
    pub snapshot: Option<SnapshotNaming>,
    /// Snapshot formats to write. Default: both.
    pub formats: Option<Vec<SnapshotFormat>>,
    /// File name (in `dir`) the summary report is written to. Default: `summary.txt`.
    pub summary_file: Option<String>,
    /// Directory for end-of-day CSV files; relative to the config file. Default: `<dir>/csv`.
    pub csv_dir: Option<PathBuf>,
}

/// How snapshot files are named.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotNaming {
    /// One file per day, replaced on each run.
    Daily,
    /// One file per run, named by its start time.
    PerRun,
}

/// A snapshot format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotFormat {
    /// XML document.
    Xml,
    /// JSON document.
    Json,
}

/// `[email]`: the SMTP server and recipients of the summary report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSection {
    /// SMTP server host name.
    pub smtp_host: String,
    /// SMTP port. Default: 25 for `plain`, 587 for `starttls`, 465 for `tls`.
    pub smtp_port: Option<u16>,
    /// `plain`, `starttls` or `tls`. Default: `starttls`.
    pub security: Option<Security>,
    /// User name for SMTP AUTH, if the server wants one.
    pub username: Option<String>,
    /// Name of an environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// File holding the SMTP password (first line), e.g. a mounted secret.
    pub password_file: Option<PathBuf>,
    /// PEM file of CA certificates to trust for the SMTP server instead of the public roots (for an internal CA); relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// Sender address.
    pub from: String,
    /// Recipients of the summary report.
    pub to: Vec<String>,
    /// How long one delivery may take. Default: 30s.
    pub timeout: Option<SignedDuration>,
}

/// Transport security for SMTP.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// No encryption (a local relay).
    Plain,
    /// Plain connection upgraded with STARTTLS; fails if the server does not offer it.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// `[alerts]`: who hears about WARNING and CRITICAL monitors in `--mode alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// Recipients of alert e-mails. Default: `[email].to`.
    pub to: Option<Vec<String>>,
}

/// `[store]`: the embedded metric store that keeps every sample's history.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `false` keeps no history: samples only appear in reports. Default: true.
    pub enabled: Option<bool>,
    /// Directory of the metric store; relative to the config file. Default: `<state_dir>/metrics`.
    pub dir: Option<PathBuf>,
    /// How long samples are kept, e.g. `15d`, `8w`, `36h`. Default: `15d`.
    pub retention: Option<jiff::Span>,
    /// Most disk the stored blocks may use, e.g. `10GiB`, `500MB`; the oldest blocks are
    /// dropped first. Default: no limit.
    pub retention_size: Option<String>,
    /// How long the write-ahead log gathers commits before one fsync, e.g. `5ms`. Longer means
    /// fewer fsyncs and slower acknowledgements. Default: `5ms`.
    pub commit_window: Option<SignedDuration>,
    /// How far behind a series' newest sample a late sample may arrive and still be stored,
    /// e.g. `1h`. Default: `1h`.
    pub out_of_order_window: Option<SignedDuration>,
}

/// `[http]`: the HTTP server of `serve` (metric push and remote-write).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address and port to listen on, e.g. `127.0.0.1:9464` or `0.0.0.0:9464`. Default: no
    /// HTTP server.
    pub listen: Option<String>,
    /// Largest request body accepted, e.g. `32MiB`. Default: `32MiB`.
    pub max_body: Option<String>,
    /// Scopes (`read`, `push`, `manage`) granted to requests without a token. Default: all of
    /// them when no token is configured, none otherwise.
    pub anonymous: Option<Vec<String>>,
    /// `[http.token.NAME]`: bearer tokens and what each may do.
    pub token: Option<BTreeMap<String, TokenSection>>,
}

/// `[http.token.NAME]`: one API token.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// What it may do: `read`, `push`, `manage`.
    pub scopes: Vec<String>,
    /// Environment variable holding the secret.
    pub secret_env: Option<String>,
    /// File whose first line is the secret (relative to the config file).
    pub secret_file: Option<PathBuf>,
}

/// `[rules]`: Prometheus rule files (recording and alerting rules) that `serve` evaluates.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// `false` evaluates no rule (the files are still checked). Default: true.
    pub enabled: Option<bool>,
    /// Prometheus rule files (YAML): paths or globs relative to this file. A glob may match
    /// no file; a plain path must exist.
    #[serde(default)]
    pub files: Vec<String>,
    /// How often a group that sets no `interval` of its own is evaluated. Default: 1m.
    pub interval: Option<SignedDuration>,
}

/// The keys every `[monitor.NAME]` table may have besides its kind's own settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorCommon {
    /// `log`, `command` or `http`.
    pub kind: String,
    /// `false` keeps the monitor in the config but never runs it (e.g. in a test environment
    /// that lacks the system it watches). Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A few words on what it watches, shown in reports.
    #[serde(default)]
    pub description: String,
    /// How often `serve` runs it, e.g. `30s`, `5m`, `1h`.
    pub interval: Option<SignedDuration>,
    /// When `serve` runs it, as a cron expression (5 or 6 fields), instead of `interval`.
    pub cron: Option<String>,
    /// Time zone for `cron`. Default: `[periscope].timezone`.
    pub timezone: Option<String>,
    /// How long one check may take before it is abandoned as UNKNOWN.
    pub timeout: Option<SignedDuration>,
}

fn yes() -> bool {
    true
}
