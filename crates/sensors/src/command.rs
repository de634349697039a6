//! The `command` monitor: runs a program or Nagios-compatible plugin and reads its verdict.
//!
//! Exit codes 0-3 are OK, WARNING, CRITICAL, UNKNOWN; anything else (another code, death by a
//! signal, a program that cannot start, a timeout) is UNKNOWN and says which. Standard output is
//! read as plugin output ([`crate::perfdata`]): the first line is the summary, the rest the
//! details, and performance data becomes samples.
//!
//! The one decision behind it: a check owns every process it starts. The command runs in a
//! process group of its own that is killed when the check ends - by finishing, by timing out, or
//! by the runner dropping the check - so a hung plugin never leaves processes behind (see
//! [`process`]).
//!
//! ```toml
//! [monitors.load]
//! kind = "command"
//! command = ["/usr/lib/nagios/plugins/check_load", "-w", "5,4,3", "-c", "10,8,6"]
//!
//! [monitors.queue]
//! kind = "command"
//! shell = "/opt/app/bin/queue-depth | /opt/app/bin/to-plugin-output"
//! env = { QUEUE = "payments" }
//! workdir = "/opt/app"
//! ```

mod observe;
mod process;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use model::{BoxFuture, CheckContext, ConfigIssue, Monitor, MonitorError, Observation};
use serde::Deserialize;

use crate::BuildContext;
use process::Spec;

pub use observe::{
    DURATION_METRIC, EXIT_CODE_METRIC, PERFDATA_CRITICAL_METRIC, PERFDATA_MAX_METRIC,
    PERFDATA_METRIC, PERFDATA_MIN_METRIC, PERFDATA_WARNING_METRIC,
};

/// At most this much of each of stdout and stderr is kept per check (the rest is counted).
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Where the Debian/Ubuntu `monitoring-plugins` packages install their plugins; named in hints.
const PLUGIN_DIR: &str = "/usr/lib/nagios/plugins";

/// Settings of a `command` monitor (the keys of its table besides the common ones).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// The program and its arguments, run directly without a shell, e.g.
    /// `["/usr/lib/nagios/plugins/check_load", "-w", "5,4,3", "-c", "10,8,6"]`. A program without
    /// a `/` is looked up on `PATH` when the monitor is built; a relative path is taken from the
    /// config file's directory. Set this or `shell`, not both.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A command line run with `/bin/sh -c`, for pipes and redirections, e.g.
    /// `"df -P / | tail -1"`. Set this or `command`, not both.
    #[serde(default)]
    pub shell: Option<String>,
    /// Environment variables set for the command, on top of Periscope's own environment.
    /// `LC_NUMERIC` is `C` unless set here, so plugins print numbers with a decimal point.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Directory the command runs in; a relative path is taken from the config file's directory.
    /// Default: the config file's directory.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
}

/// A built `command` monitor.
#[derive(Debug)]
pub struct CommandMonitor {
    name: String,
    spec: Spec,
    /// The command as the user wrote it, for messages and facts.
    display: String,
    timeout: Duration,
}

impl CommandSettings {
    /// Checks every setting and builds the monitor, or returns every problem found.
    pub fn build(self, name: &str, ctx: &BuildContext) -> Result<CommandMonitor, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        for (key, value) in &self.env {
            if key.is_empty() || key.contains(['=', '\0']) {
                issues.push(
                    ConfigIssue::new(
                        format!("env.{key}"),
                        format!("invalid environment variable name `{key}`"),
                    )
                    .hint("names must be non-empty and contain neither '=' nor NUL"),
                );
            }
            if value.contains('\0') {
                issues.push(ConfigIssue::new(
                    format!("env.{key}"),
                    "the value contains a NUL character",
                ));
            }
        }
        let workdir = match &self.workdir {
            None => ctx.base_dir.clone(),
            Some(dir) => {
                let dir = ctx.base_dir.join(dir);
                if !dir.is_dir() {
                    let what = if dir.exists() {
                        "is not a directory"
                    } else {
                        "does not exist"
                    };
                    issues.push(ConfigIssue::new(
                        "workdir",
                        format!("{} {what}", dir.display()),
                    ));
                }
                dir
            }
        };

        let argv = match (self.command, self.shell) {
            (Some(_), Some(_)) => {
                issues.push(
                    ConfigIssue::new("shell", "both `command` and `shell` are set").hint(
                        "use `command` for a program with arguments, or `shell` for a command line",
                    ),
                );
                None
            }
            (None, None) => {
                issues.push(ConfigIssue::new("command", "no command to run").hint(
                    "set `command = [\"/path/to/program\", \"arg\"]`, or `shell = \"a | b\"` for a shell command line",
                ));
                None
            }
            (None, Some(shell)) => {
                if shell.trim().is_empty() {
                    issues.push(ConfigIssue::new("shell", "the shell command line is empty"));
                } else if shell.contains('\0') {
                    issues.push(ConfigIssue::new(
                        "shell",
                        "the command line contains a NUL character",
                    ));
                }
                let display = shell.clone();
                Some((
                    PathBuf::from("/bin/sh"),
                    vec!["-c".to_string(), shell],
                    display,
                ))
            }
            (Some(argv), None) => {
                let path_var = self
                    .env
                    .get("PATH")
                    .map(OsString::from)
                    .or_else(|| std::env::var_os("PATH"));
                check_argv(&argv, &ctx.base_dir, path_var, &mut issues)
                    .map(|program| (program, argv[1..].to_vec(), display_argv(&argv)))
            }
        };

        match argv {
            Some((program, args, display)) if issues.is_empty() => {
                let mut env: Vec<(String, String)> = self.env.into_iter().collect();
                // Plugins print numbers in the locale's format; a decimal comma breaks perfdata.
                if !env.iter().any(|(k, _)| k == "LC_NUMERIC") {
                    env.push(("LC_NUMERIC".to_string(), "C".to_string()));
                }
                Ok(CommandMonitor {
                    name: name.to_string(),
                    spec: Spec {
                        program,
                        args,
                        env,
                        workdir,
                    },
                    display,
                    timeout: ctx.timeout,
                })
            }
            _ => Err(issues),
        }
    }
}

/// Checks the argv and resolves its program to an absolute path.
fn check_argv(
    argv: &[String],
    base_dir: &Path,
    path_var: Option<OsString>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<PathBuf> {
    let Some(program) = argv.first() else {
        issues.push(
            ConfigIssue::new("command", "the command is empty")
                .hint("the first element is the program, e.g. [\"/usr/lib/nagios/plugins/check_load\", \"-w\", \"5\"]"),
        );
        return None;
    };
    for (i, arg) in argv.iter().enumerate() {
        if arg.contains('\0') {
            issues.push(ConfigIssue::new(
                format!("command.{i}"),
                "contains a NUL character",
            ));
        }
    }
    if program.trim().is_empty() {
        issues.push(ConfigIssue::new("command.0", "the program name is empty"));
        return None;
    }
    if program.contains('/') {
        let path = base_dir.join(program);
        if let Err(message) = check_executable(&path) {
            issues.push(ConfigIssue::new("command.0", message));
            return None;
        }
        return Some(path);
    }
    let dirs: Vec<PathBuf> = path_var
        .as_deref()
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    if let Some(found) = dirs
        .iter()
        .map(|d| d.join(program))
        .find(|p| check_executable(p).is_ok())
    {
        // Absolute from here on: a later change of PATH cannot swap the program (the guidelines'
        // "don't execute system commands without specifying their full path").
        return Some(base_dir.join(found));
    }
    let searched = path_var
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let in_plugin_dir = Path::new(PLUGIN_DIR).join(program);
    let hint = if in_plugin_dir.is_file() {
        format!("did you mean {}?", in_plugin_dir.display())
    } else if program.starts_with("check_") {
        format!(
            "give the full path, e.g. {PLUGIN_DIR}/{program} (install the monitoring-plugins packages)"
        )
    } else {
        "give the full path to the program".to_string()
    };
    issues.push(
        ConfigIssue::new(
            "command.0",
            format!("`{program}` was not found on PATH ({searched})"),
        )
        .hint(hint),
    );
    None
}

/// Ok when `path` is a file someone may execute; else what is wrong with it.
fn check_executable(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{} does not exist", path.display()))
        }
        Err(e) => Err(format!("cannot inspect {}: {e}", path.display())),
        Ok(meta) if meta.is_dir() => {
            Err(format!("{} is a directory, not a program", path.display()))
        }
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Err(format!(
            "{} is not executable (try `chmod +x`)",
            path.display()
        )),
        Ok(_) => Ok(()),
    }
}

/// The argv as one readable line, quoting arguments a shell would split.
fn display_argv(argv: &[String]) -> String {
    let quote = |a: &String| {
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
        {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    argv.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// The deadline the check sets itself: a little before the runner's timeout, so the check
/// still has time to kill, reap and report "timed out" itself rather than being dropped.
pub(crate) fn own_deadline(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(Duration::from_millis(250)))
}

impl CommandMonitor {
    /// The command as configured, e.g. `/usr/lib/nagios/plugins/check_load -w 5,4,3`.
    pub fn command_line(&self) -> &str {
        &self.display
    }
}

impl Monitor for CommandMonitor {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "command"
    }

    fn check(&self, ctx: CheckContext) -> BoxFuture<'_, Result<Observation, MonitorError>> {
        Box::pin(async move {
            let finished =
                process::run(&self.spec, own_deadline(self.timeout), MAX_OUTPUT_BYTES).await;
            Ok(observe::observation(self, finished, ctx.now))
        })
    }
}

#[cfg(test)]
mod plugin_tests;
#[cfg(test)]
mod tests;
