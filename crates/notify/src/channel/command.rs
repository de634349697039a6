//! The `command` channel: runs a program with the notification on its standard input, for
//! whatever no built-in channel does (an SMS modem, a ticket CLI, a home-automation siren).
//!
//! The input is exactly the `webhook` channel's body ([`webhook_payload`]), so a script written
//! for an Alertmanager webhook reads it unchanged. Exit code 0 means delivered, and the first
//! line of standard output, if any, is remembered as the delivery's reference (a ticket id, say)
//! and handed back in [`Notification::reference`] next time. Any other exit, or death by a
//! signal, is a refusal retrying will not fix, with the first line of standard error as the
//! reason. A command that cannot start or runs past its `timeout` is retried.
//!
//! The command owns nothing after it ends: it runs in a process group of its own, and the whole
//! group is killed when the run ends, however it ends: done, timed out, or the delivery dropped
//! by the stage around it (see `command/process.rs`).
//!
//! ```toml
//! [receivers.ops.command]
//! command = ["/usr/local/bin/page-the-siren", "--loud"]
//! timeout = "30s"
//! env = { SIREN_HOST = "10.0.0.7" }
//! ```

mod process;

use std::collections::BTreeMap;
use std::time::Duration;

use model::ConfigIssue;
use serde::Deserialize;

use crate::channel::payload::webhook_payload;
use crate::channel::{BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Notification};
use process::{Ending, Spec};

/// At most this much of each of stdout and stderr is kept (the rest is read and dropped).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Settings of a `command` channel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// The program and its arguments, run directly without a shell, e.g.
    /// `["/usr/local/bin/notify-sms", "--to", "ops"]`; use `["sh", "-c", "..."]` for a shell
    /// command line. A program without a `/` is looked up on `PATH`.
    pub command: Vec<String>,
    /// How long one run may take, e.g. `"30s"`, `"2m"`, `"1m30s"` (units `ms`, `s`, `m`, `h`...,
    /// largest first, as every duration in the config).
    /// Default: the delivery timeout every channel has.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Environment variables set for the command, on top of Periscope's own environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl CommandSettings {
    /// Checks every setting and builds the channel, or returns every problem found.
    pub fn build(self, ctx: &ChannelContext) -> Result<CommandChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        match self.command.first() {
            None => issues.push(ConfigIssue::new("command", "no command to run").hint(
                "set `command = [\"/path/to/program\", \"arg\"]`, or `[\"sh\", \"-c\", \"a | b\"]`",
            )),
            Some(program) if program.trim().is_empty() => {
                issues.push(ConfigIssue::new("command.0", "the program name is empty"));
            }
            Some(_) => {}
        }
        for (i, arg) in self.command.iter().enumerate() {
            if arg.contains('\0') {
                issues.push(ConfigIssue::new(
                    format!("command.{i}"),
                    "contains a NUL character",
                ));
            }
        }
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
        let timeout = match self.timeout.as_deref().map(parse_timeout) {
            None => ctx.timeout,
            Some(Ok(t)) => t,
            Some(Err(why)) => {
                issues.push(
                    ConfigIssue::new("timeout", why)
                        .hint("write e.g. \"30s\", \"2m\" or \"1m30s\""),
                );
                ctx.timeout
            }
        };
        if !issues.is_empty() {
            return Err(issues);
        }
        // Arguments may carry credentials (a token for a ticket CLI): messages name the
        // program only.
        let display = self.command.first().cloned().unwrap_or_default();
        let mut argv = self.command.into_iter();
        let program = argv.next().unwrap_or_default();
        Ok(CommandChannel {
            spec: Spec {
                program,
                args: argv.collect(),
                env: self.env.into_iter().collect(),
            },
            display,
            timeout,
        })
    }
}

/// Reads a run's time limit: a duration as everywhere in the config (`30s`, `2m`, `1m30s`; see
/// [`model::duration`]), and not zero.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match model::duration::parse_duration(text.trim()) {
        Err(e) => Err(e.to_string()),
        Ok(d) if d.is_zero() => Err(format!("`{text}` is zero; a command needs time to run")),
        Ok(d) => Ok(d),
    }
}

/// A built `command` channel.
#[derive(Debug)]
pub struct CommandChannel {
    spec: Spec,
    /// The program, for messages.
    display: String,
    timeout: Duration,
}

impl Channel for CommandChannel {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let input = serde_json::to_vec(&webhook_payload(notification, 0)).map_err(|e| {
                DeliveryError::permanent(format!("command: could not encode the payload: {e}"))
            })?;
            let run = process::run(&self.spec, input, self.timeout, MAX_OUTPUT_BYTES).await;
            let cmd = &self.display;
            match run.ending {
                Ending::Exited(0) => Ok(Delivered {
                    reference: first_line(&run.stdout),
                }),
                Ending::Exited(code) => Err(DeliveryError::permanent(format!(
                    "command `{cmd}` exited with code {code}{}",
                    reason(&run.stderr)
                ))),
                Ending::Signalled(signal) => Err(DeliveryError::permanent(format!(
                    "command `{cmd}` was killed by signal {signal}{}",
                    reason(&run.stderr)
                ))),
                Ending::TimedOut => Err(DeliveryError::retryable(format!(
                    "command `{cmd}` ran longer than {:?} and was killed with every process it started{}",
                    self.timeout,
                    reason(&run.stderr)
                ))),
                Ending::SpawnFailed(e) => Err(DeliveryError::retryable(format!(
                    "command `{cmd}` could not be started: {e}"
                ))),
            }
        })
    }
}

/// The first non-blank line of `output`, trimmed.
fn first_line(output: &[u8]) -> Option<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// `: <first line of stderr>`, or nothing when the command said nothing.
fn reason(stderr: &[u8]) -> String {
    first_line(stderr)
        .map(|l| format!(": {l}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_config_durations_and_never_zero() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout(" 1h "), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        for bad in [
            "",
            "30",
            "s",
            "10x",
            "1.5s",
            "0s",
            "0",
            "-1s",
            "99999999999999999999h",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn settings_problems_are_all_reported_with_their_keys() {
        let ctx = ChannelContext::new(Default::default());
        let settings = CommandSettings {
            command: vec![],
            timeout: Some("soon".into()),
            env: BTreeMap::from([("A=B".to_string(), "x".to_string())]),
        };
        let issues = settings.build(&ctx).err().unwrap_or_default();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["command", "env.A=B", "timeout"]);
    }

    #[test]
    fn the_first_non_blank_line_is_the_reference() {
        assert_eq!(first_line(b"\n  INC-42  \nmore"), Some("INC-42".into()));
        assert_eq!(first_line(b"\n \n"), None);
    }
}
