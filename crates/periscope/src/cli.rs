//! The command line: every command says what it does and shows an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::run::Mode;

/// Periscope watches logs, commands and services, and tells people what happened.
#[derive(Debug, Parser)]
#[command(
    name = "periscope",
    version,
    after_help = "Examples:\n  periscope demo                      # see it work, nothing to set up\n  periscope check-config              # validate ./periscope.toml\n  periscope run --mode report         # check everything once, e-mail the summary\n  periscope serve                     # run monitors on their schedules"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Main config file.
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "periscope.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Environment overlay to merge: `--env test` loads `periscope.test.toml` beside the config.
    #[arg(long, global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// Where to keep state such as log offsets (overrides `[periscope].state_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level filter, e.g. `info`, `debug`, `sensors=debug` (or set RUST_LOG).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// How Periscope's own log lines look.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as a daemon: each monitor on its interval or cron schedule, snapshots kept current.
    ///
    /// Stops cleanly on SIGTERM or Ctrl-C: checks in flight finish (up to their timeouts), the
    /// snapshot and monitor state are written, then it exits.
    #[command(after_help = "Example:\n  periscope serve --config /etc/periscope/periscope.toml")]
    Serve,

    /// Check every enabled monitor once, write the snapshot, and act as the mode says.
    ///
    /// Exits like a monitoring plugin with the worst outcome (0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN), so cron, a systemd timer or Task Scheduler can act on it. With `--mode
    /// alerts`, firing alerts count too: a critical one as CRITICAL, a non-critical one as
    /// WARNING (a logged one not at all).
    #[command(
        after_help = "Examples:\n  periscope run --mode silent        # every 15 minutes\n  periscope run --mode report        # hourly, 05:30-19:30\n  periscope run --mode end-of-day    # at 23:55\n  periscope run --mode alerts        # every 5 minutes"
    )]
    Run {
        /// What to do besides checking and writing the snapshot.
        #[arg(long, value_enum, default_value_t = Mode::Silent)]
        mode: Mode,
        /// Do not print the summary to stdout.
        #[arg(long, short = 'q')]
        quiet: bool,
    },

    /// Validate the configuration and list every problem with file, line and key.
    #[command(after_help = "Example:\n  periscope check-config --config periscope.toml --env test")]
    CheckConfig,

    /// Work with single monitors.
    #[command(subcommand)]
    Monitor(MonitorCommand),

    /// Generate realistic logs in a temporary folder, monitor them, and show the results.
    ///
    /// Needs no config and nothing installed. Shows the summary report, the snapshot and CSV
    /// files, and what to try next.
    #[command(after_help = "Example:\n  periscope demo\n  periscope demo --dir ./periscope-demo")]
    Demo {
        /// Folder to create the demo in (default: a new folder under the system temp dir).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },

    /// Parse Nagios plugin output and print it as JSON, with the status its thresholds imply.
    ///
    /// Reads FILE or stdin. Prints summary, long text, perfdata values with their ranges, the
    /// status each value's own warn/crit thresholds imply, and every malformed item with its
    /// line and column; exits 1 if there is any.
    #[command(
        after_help = "Example:\n  /usr/lib/nagios/plugins/check_load -w 5,4,3 -c 10,8,6 | periscope check-perfdata"
    )]
    CheckPerfdata {
        /// File with plugin output; stdin when absent.
        file: Option<PathBuf>,
    },

    /// Check a metrics payload and list every problem with its line, like `promtool check metrics`.
    ///
    /// Reads FILE or stdin with the same parser ingestion uses. Prints a one-line OK and exits 0
    /// when the payload is valid; otherwise prints each problem with its line and column (or JSON
    /// field) to stderr and exits 1.
    #[command(
        after_help = "Example:\n  curl -s http://localhost:9100/metrics | periscope check-metrics\n  periscope check-metrics --format openmetrics exposition.txt"
    )]
    CheckMetrics {
        /// Payload format.
        #[arg(long, value_enum, default_value_t = MetricsFormat::Prometheus)]
        format: MetricsFormat,
        /// File with the payload; stdin when absent.
        file: Option<PathBuf>,
    },

    /// Print stored samples of the series a selector matches, oldest first.
    ///
    /// The selector is a PromQL series selector: a metric name, label matchers, or both
    /// (`=`, `!=`, `=~`, `!~`). Reads the metric store of the config (`[store]`).
    #[command(
        after_help = "Example:\n  periscope query 'periscope_log_matches{monitor=\"payments\"}' --from -2h\n  periscope query '{job=~\"import|export\"}' --from 2026-11-21T00:00:00Z --format csv"
    )]
    Query {
        /// Series selector, e.g. `http_requests_total{code=~"5.."}`.
        selector: String,
        #[command(flatten)]
        range: SeriesRange,
        /// Output format.
        #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
        format: QueryFormat,
    },

    /// Write stored series as OpenMetrics text, to back up or move history.
    #[command(
        after_help = "Example:\n  periscope export --from -7d --output week.om\n  periscope export 'job_duration_seconds' --from -1d | gzip > jobs.om.gz"
    )]
    Export {
        /// Series selector; every series when absent.
        selector: Option<String>,
        #[command(flatten)]
        range: SeriesRange,
        /// File to write; stdout when absent.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },

    /// Load an OpenMetrics text file (e.g. from `export`) into the metric store.
    ///
    /// Each part of the file is committed as it is read, with a progress bar; a problem stops
    /// the import with its line, and what was committed before it stays.
    #[command(after_help = "Example:\n  periscope import week.om")]
    Import {
        /// OpenMetrics text file (samples with timestamps).
        file: PathBuf,
    },

    /// Run PromQL test scripts (Prometheus' `load`/`eval` language) against Periscope's evaluator.
    ///
    /// Prints each file's failed cases with the reason (the first few, all with --verbose) and a
    /// table of passed/total per file. Cases that need native histograms are counted as
    /// skipped. Exits 0 whatever the pass rates, 1 when a file cannot be read or parsed.
    #[command(
        after_help = "Example:\n  periscope promql-test ../shared/testdata/prometheus/promqltest-testdata/*.test\n  periscope promql-test my-rules.test --verbose"
    )]
    PromqlTest {
        /// Test scripts to run.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print every failure and every skipped case, not only the first few failures.
        #[arg(long, short = 'v')]
        verbose: bool,
    },

    /// Run unit tests of rules written in promtool's format and say whether each file passes.
    ///
    /// Each FILE lists rule files (relative to it), input series and the alerts and PromQL
    /// results expected at given times, as `promtool test rules` reads them. Prints `SUCCESS`
    /// per file, or `FAILED:` with what was expected and what came out, each with file and
    /// line. Exits 0 when every file passes, 1 otherwise.
    #[command(
        after_help = "Example:\n  periscope test-rules tests/alerts_test.yml\n  periscope test-rules tests/*.yml --run 'disk.*'"
    )]
    TestRules {
        /// Unit-test files to run.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Run only test groups whose name matches this regular expression (repeatable).
        #[arg(long, value_name = "REGEX")]
        run: Vec<String>,
        /// Accept fields Prometheus does not know in the rule files (metadata of your own), as
        /// promtool does with this flag. Remove them before Prometheus loads those files: it
        /// refuses them. The test files themselves are read strictly either way.
        #[arg(long)]
        ignore_unknown_fields: bool,
    },

    /// Check Prometheus rule files and list every problem with file, line, group and rule.
    ///
    /// Checks YAML structure, PromQL expressions, durations, label names and templates, as
    /// `promtool check rules` does; duplicate rules are warnings. Exits 1 when a file has errors
    /// (or warnings, with --warnings-fatal), 0 otherwise.
    #[command(
        after_help = "Example:\n  periscope check-rules rules/*.yml\n  periscope check-rules alerts.yml --warnings-fatal"
    )]
    CheckRules {
        /// Rule files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Fail on warnings too.
        #[arg(long)]
        warnings_fatal: bool,
    },

    /// Show which receivers and people an alert with these labels would reach, when and why.
    ///
    /// Walks the routing tree of `[notify]` like `amtool config routes test`, then says how the
    /// alert is grouped and timed, whether a time period or maintenance window mutes it, what
    /// its level means (logged: nobody; non-critical: now or the next digest; critical: now)
    /// and who each escalation step reaches, from the on-call schedules at that time. It also
    /// asks the running `serve` which of its silences mute the alert.
    #[command(
        after_help = "Example:\n  periscope test-route alertname=DiskFull service=db level=critical\n  periscope test-route partner=acme level=non-critical --at 2026-11-21T02:00:00Z\n  periscope test-route service=db --url http://monitor.example.com:9464   # with its silences"
    )]
    TestRoute {
        /// The alert's labels, NAME=VALUE.
        #[arg(required = true, value_name = "LABEL")]
        labels: Vec<String>,
        /// When the alert fires: RFC 3339, Unix seconds, `now` or relative (`-1h`). Default: now.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        at: Option<String>,
        /// The running `serve` to ask for its silences. Default: the config's `[http] listen`,
        /// skipped with a note when it does not answer.
        #[arg(long, value_name = "URL", conflicts_with = "offline")]
        url: Option<String>,
        /// Read the config only; do not ask a running `serve` for its silences.
        #[arg(long)]
        offline: bool,
    },

    /// On-call schedules.
    #[command(subcommand)]
    Oncall(OncallCommand),

    /// Silences of the running `serve`: add, list, expire.
    #[command(subcommand)]
    Silence(SilenceCommand),

    /// Acknowledge an escalating alert group: no further escalation steps are sent.
    ///
    /// The group key is in every message and in `GET /api/v1/notify/status`.
    #[command(after_help = "Example:\n  periscope ack 'root.0:{alertname=\"ApiDown\"}' --by alice")]
    Ack {
        /// The group's key.
        group: String,
        /// Who takes it.
        #[arg(long)]
        by: String,
        /// Where `serve` answers (default: the config's [http] listen).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence alerts matching all the matchers, for a while; prints the new silence's id.
    #[command(
        after_help = "Example:\n  periscope silence add 'service=\"db\"' 'instance=~\"db[12]\"' --duration 2h --author alice --comment 'disk swap'"
    )]
    Add {
        /// Matchers in Alertmanager's syntax (`a="b"`, `a!="b"`, `a=~"re"`, `a!~"re"`).
        #[arg(required = true, value_name = "MATCHER")]
        matchers: Vec<String>,
        /// How long it lasts, e.g. `30m`, `2h`, `1d`.
        #[arg(long)]
        duration: String,
        /// Who silences.
        #[arg(long)]
        author: String,
        /// Why.
        #[arg(long)]
        comment: String,
        /// Where `serve` answers (default: the config's [http] listen).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// List silences: active and pending, and expired ones with --expired.
    #[command(
        after_help = "Example:\n  periscope silence list\n  periscope silence list --expired"
    )]
    List {
        /// Include expired silences.
        #[arg(long)]
        expired: bool,
        /// Where `serve` answers (default: the config's [http] listen).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// End a silence now.
    #[command(after_help = "Example:\n  periscope silence expire 3f2a09c1d5e6b7a8")]
    Expire {
        /// The silence's id.
        id: String,
        /// Where `serve` answers (default: the config's [http] listen).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OncallCommand {
    /// Say who is on call, until when, and why (which layer or override).
    ///
    /// Exits 1 when a schedule has nobody on call at that time.
    #[command(
        after_help = "Example:\n  periscope oncall who\n  periscope oncall who ops --at 2026-12-25T03:00:00Z"
    )]
    Who {
        /// Only this schedule (default: every schedule).
        schedule: Option<String>,
        /// When: RFC 3339, Unix seconds, `now` or relative to now (`-1h`). Default: now.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        at: Option<String>,
    },
}

/// What `query`, `export` and `import` share: which series, which time range.
#[derive(Debug, Args)]
pub struct SeriesRange {
    /// Start: RFC 3339 (`2026-11-21T08:00:00Z`), Unix seconds, `now`, or relative to now
    /// (`-1h`, `now-30m`). Default: one hour before `--to`.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End, in the same forms. Default: now.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Run one monitor now and print its outcome, facts and errors.
    ///
    /// Does not move the monitor's state on (log offsets stay where they were) unless
    /// `--commit` is given, so trying a monitor never steals lines from the scheduled runs.
    #[command(
        after_help = "Example:\n  periscope monitor run payments-log\n  periscope monitor run payments-log --format json"
    )]
    Run {
        /// The monitor's name, as in `[monitor.NAME]`.
        name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Save the monitor's new state (e.g. log offsets) afterwards.
        #[arg(long)]
        commit: bool,
    },
    /// List the configured monitors with kind, schedule and whether they are enabled.
    #[command(after_help = "Example:\n  periscope monitor list --env test")]
    List,
}

/// How `query` prints series.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum QueryFormat {
    /// One row per sample: series, time, value.
    Table,
    /// `series,timestamp,value` with the series as `name{labels}` and RFC 3339 times.
    Csv,
    /// The Prometheus HTTP API's `matrix` result shape.
    Json,
}

/// Format of a metrics payload for `check-metrics`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MetricsFormat {
    /// Prometheus text exposition 0.0.4, read as leniently as Prometheus scrapes it.
    Prometheus,
    /// OpenMetrics 1.0 text, every rule of the spec (`# EOF` at the end).
    Openmetrics,
    /// Periscope's JSON batch format (docs/format/json-batch.md).
    Json,
}

/// Output format for single-monitor results.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    /// Readable text.
    Text,
    /// The full result as JSON.
    Json,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_command_explains_itself_with_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            let name = format!("{path} {}", cmd.get_name());
            if cmd.get_name() != "help" {
                assert!(cmd.get_about().is_some(), "`{name}` has no description");
                let after = cmd
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                if !cmd.has_subcommands() {
                    assert!(
                        after.contains("Example"),
                        "`{name} --help` shows no example"
                    );
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &name);
            }
        }
        Cli::command().debug_assert();
        walk(&Cli::command(), "");
    }
}
