//! The configurations the bench runs: Periscope's (a log monitor, two `[rule.NAME]` tables and a
//! webhook receiver), and Prometheus' and Alertmanager's for the peer. Each is the shortest a
//! user would write for the job, with the timings that bound the latency made explicit.

use std::time::Duration;

/// The alert the log path raises.
pub const LOG_ALERT: &str = "AppErrors";
/// The alert the pushed sample raises.
pub const PUSH_ALERT: &str = "PushedLatency";
/// The pushed (or scraped) metric; above 4 it fires.
pub const METRIC: &str = "bench_latency_seconds";
/// The value pushed to fire, and the one pushed to resolve.
pub const FIRING_VALUE: f64 = 5.0;
pub const RESOLVING_VALUE: f64 = 1.0;

/// How often alert groups that changed are flushed again. Not on the measured path: a new
/// group flushes after `group_wait` (0 s); this only spaces a group's later messages (here the
/// resolutions the log path waits for between iterations).
pub const GROUP_INTERVAL: Duration = Duration::from_millis(100);

/// Periscope's timings.
#[derive(Clone, Copy)]
pub struct Timing {
    /// The log monitor's `interval`: how often it reads the file.
    pub poll: Duration,
    /// `[rules] interval`: how often the rules are evaluated.
    pub eval: Duration,
}

impl Timing {
    /// The log rule's `window`. It only decides when the alert resolves (the count of matches
    /// in the window drops to 0), not when it fires, but it must outlast the wait from a check
    /// to the next evaluation or a match could fall out of it unseen: an evaluation interval
    /// plus room for the check itself and the store's commit.
    pub fn window(&self) -> Duration {
        self.eval + (self.eval / 4).max(Duration::from_millis(200))
    }
}

/// A duration as the config writes it: `1s`, `100ms`, `1250ms`.
pub fn text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `periscope.toml`: relative paths are relative to it, so the bench's directory holds
/// everything (`app.log`, the store, the state database).
pub fn periscope(listen_port: u16, hook_url: &str, t: Timing) -> String {
    format!(
        r#"[periscope]
state_dir = "state"

[output]
dir = "output"

[store]
dir = "metrics"

[http]
listen = "127.0.0.1:{listen_port}"

[rules]
interval = "{eval}"

# The log path: a log monitor counts the lines that match ...
[monitor.app]
kind = "log"
interval = "{poll}"
paths = ["app.log"]

[monitor.app.rules.errors]
match = "ERROR"

# ... and the short-form rule on its counter fires while the window holds a match.
# no_data = "ok": a check that lands late must not read as a missing series.
# flap_detection = false: the bench makes it fire and resolve on purpose, over and over.
[rule.{LOG_ALERT}]
log = "app/errors"
window = "{window}"
above = {{ critical = 0 }}
no_data = "ok"
flap_detection = false

# The pushed path: one series per iteration (label `iteration`), firing above 4.
[rule.{PUSH_ALERT}]
expr = '{METRIC}{{job="bench"}}'
above = {{ critical = 4 }}
no_data = "ok"
flap_detection = false

# No hold time: a new group is sent at once. Each iteration's alert is a new group (by
# `iteration`, or for the log alert a group emptied by its resolution), so none waits for
# `group_interval`.
[notify.route]
receiver = "bench"
group_by = ["alertname", "iteration"]
group_wait = "0s"
group_interval = "{group_interval}"
repeat_interval = "1h"

[notify.receiver.bench]
[[notify.receiver.bench.channel]]
kind = "webhook"
url = "{hook_url}"
"#,
        eval = text(t.eval),
        poll = text(t.poll),
        window = text(t.window()),
        group_interval = text(GROUP_INTERVAL),
    )
}

/// The line the log path appends; `ERROR` is what the monitor's rule matches.
pub fn log_line(now: &str, iteration: usize) -> String {
    format!("{now} ERROR payment {iteration} failed: upstream timed out\n")
}

/// The pushed sample, in Prometheus' text format (no timestamp: the receiver stamps it).
pub fn pushed(iteration: usize, value: f64) -> String {
    format!("{METRIC}{{job=\"bench\",iteration=\"{iteration}\"}} {value}\n")
}

/// What the bench's `/metrics` exposes for Prometheus (`job` comes from the scrape config).
pub fn exposed(iteration: usize) -> String {
    format!("{METRIC}{{iteration=\"{iteration}\"}} {FIRING_VALUE}\n")
}

/// `prometheus.yml`: scrapes the bench every `interval`, evaluates `rules.yml` as often, sends
/// to Alertmanager on `am_port`.
pub fn prometheus(interval: Duration, scrape_addr: &str, am_port: u16) -> String {
    let i = text(interval);
    format!(
        "global:\n  scrape_interval: {i}\n  scrape_timeout: {i}\n  evaluation_interval: {i}\n\
         rule_files: [rules.yml]\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{am_port}\"]\n\
         scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [\"{scrape_addr}\"]\n"
    )
}

/// `rules.yml`: the same condition as Periscope's push rule.
pub fn prometheus_rules() -> String {
    format!(
        "groups:\n  - name: bench\n    rules:\n      - alert: {PUSH_ALERT}\n        \
         expr: '{METRIC}{{job=\"bench\"}} > 4'\n        labels:\n          severity: critical\n"
    )
}

/// `alertmanager.yml`: the same route as Periscope's.
pub fn alertmanager(hook_url: &str) -> String {
    format!(
        "route:\n  receiver: bench\n  group_by: [alertname, iteration]\n  group_wait: 0s\n  \
         group_interval: {}\n  repeat_interval: 1h\n\
         receivers:\n  - name: bench\n    webhook_configs:\n      - url: \"{hook_url}\"\n        send_resolved: true\n",
        text(GROUP_INTERVAL)
    )
}
