//! Prometheus' side: started (through the `http_ingest` bench's target handling) on a free
//! loopback port with an empty data directory, the bench's rule file, a 5 s
//! `evaluation_interval` and no scrape jobs; sent the same samples over remote-write; then its
//! own `/metrics` read once per evaluation interval for its rule groups' last durations.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use prost::Message as _;
use sensors::exposition::remote_write::{Label, Sample, TimeSeries, WriteRequest};

use model::Clock as _;

use crate::target::{self, Setup, Target};
use crate::workload::{Data, SCRAPES};

/// Prometheus' `evaluation_interval` in the bench.
pub const EVALUATION_INTERVAL: Duration = Duration::from_secs(5);
/// The longest the whole Prometheus half may take, from start to the last snapshot.
const DEADLINE: Duration = Duration::from_secs(300);
/// Samples per remote-write request.
const BATCH: usize = 10_000;

/// One reading of every group's last evaluation.
pub struct Snapshot {
    /// Sum of `prometheus_rule_group_rules`.
    pub rules: f64,
    /// Sum of `prometheus_rule_group_last_duration_seconds` (wall time of each group's last
    /// evaluation; groups run concurrently).
    pub duration: f64,
    /// Sum of `prometheus_rule_group_last_evaluation_samples`.
    pub samples: f64,
}

/// What the Prometheus side measured.
pub struct Report {
    pub version: String,
    /// Remote-write requests and samples sent, and how long that took.
    pub requests: usize,
    pub pushed: usize,
    pub push_time: Duration,
    pub snapshots: Vec<Snapshot>,
    /// Rules evaluated (iterations × rules per group) and the process' CPU time between the
    /// first and the last snapshot.
    pub rules_between: f64,
    pub cpu_between: Option<Duration>,
    /// Sum of `prometheus_rule_evaluation_failures_total` at the end.
    pub failures: f64,
    /// Alerts pending and firing at the end (`/api/v1/alerts`).
    pub pending: usize,
    pub firing: usize,
    /// How the server stopped.
    pub stopped: String,
}

/// The samples of `data` (last scrape at about `end_ms`) as snappy-compressed `WriteRequest`s,
/// scrape after scrape so that every series' samples arrive in time order and near the newest
/// sample the receiver has (Prometheus refuses samples an hour older than its newest).
fn encode(data: &Data, end_ms: i64) -> Vec<Vec<u8>> {
    let labels: Vec<Vec<Label>> = data
        .series
        .iter()
        .map(|s| {
            let mut labels: Vec<Label> = s
                .labels
                .iter()
                .map(|(name, value)| Label {
                    name: name.into(),
                    value: value.into(),
                })
                .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            labels
        })
        .collect();
    let mut encoder = snap::raw::Encoder::new();
    let mut bodies = Vec::new();
    let mut pending = Vec::with_capacity(BATCH);
    let mut flush = |pending: &mut Vec<TimeSeries>| {
        let raw = WriteRequest {
            timeseries: std::mem::take(pending),
        }
        .encode_to_vec();
        bodies.push(
            encoder
                .compress_vec(&raw)
                .expect("snappy compresses any input"),
        );
    };
    for scrape in 0..SCRAPES {
        for (series, labels) in data.series.iter().zip(&labels) {
            pending.push(TimeSeries {
                labels: labels.clone(),
                samples: vec![Sample {
                    value: series.values[scrape],
                    timestamp: Data::timestamp(series, scrape, end_ms),
                }],
            });
            if pending.len() >= BATCH {
                flush(&mut pending);
            }
        }
    }
    if !pending.is_empty() {
        flush(&mut pending);
    }
    bodies
}

/// `(labels, value)` of every sample of metric `name` in an exposition text.
fn metric<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((&series[name.len()..], value.parse().ok()?))
        })
        .collect()
}

fn sum(text: &str, name: &str) -> f64 {
    metric(text, name).iter().map(|(_, v)| v).sum()
}

async fn get(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("GET {url}: body: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {text:.300}"));
    }
    Ok(text)
}

/// The wall clock (ms): Prometheus evaluates at its own wall-clock time, so the data must be
/// placed relative to it.
fn now_ms() -> i64 {
    model::SystemClock.now().as_millis()
}

/// Starts Prometheus with `rules_yaml`, pushes `data` ending a minute before now, waits until
/// every group has evaluated over the complete data, reads `snapshots` snapshots one
/// evaluation interval apart, and stops it.
pub fn run(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    target: &Target,
    data: &Data,
    rules_yaml: &str,
    groups: usize,
    snapshots: usize,
) -> Result<Report, String> {
    let started = Instant::now();
    let config = format!(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: {}s\nrule_files:\n  - rules.yml\n",
        EVALUATION_INTERVAL.as_secs()
    );
    // Encoded first: the data must end a minute before the evaluations that read it.
    let bodies = encode(data, now_ms() - 60_000);
    let mut server = target.start_with(
        root,
        &Setup {
            prometheus_config: Some(&config),
            files: &[("rules.yml", rules_yaml)],
        },
    )?;
    let outcome = rt.block_on(measure(&mut server, &bodies, groups, snapshots, started));
    let stopped = server.stop();
    let mut report = outcome?;
    report.version = target.version();
    report.pushed = data.samples();
    report.stopped = format!("{} in {:.1} s", stopped.how, stopped.took.as_secs_f64());
    Ok(report)
}

async fn measure(
    server: &mut target::Server,
    bodies: &[Vec<u8>],
    groups: usize,
    snapshots: usize,
    started: Instant,
) -> Result<Report, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let deadline = started + DEADLINE;
    let too_late = |what: &str| {
        format!("gave up after {DEADLINE:?} {what}; is the machine overloaded? Prometheus' log:")
    };

    let push = Instant::now();
    let write_url = server.write_url();
    for (i, body) in bodies.iter().enumerate() {
        if Instant::now() > deadline {
            return Err(format!(
                "{}\n{}",
                too_late("pushing samples"),
                server.log_tail()
            ));
        }
        let response = http
            .post(&write_url)
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| format!("remote-write request {i}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("remote-write request {i}: {status}: {text:.300}"));
        }
    }
    let push_time = push.elapsed();
    let pushed_at = now_ms() as f64 / 1e3;

    // Every group's last evaluation must have started an interval after the last sample
    // arrived: the first one after it may still create every output series and alert.
    let pushed_at = pushed_at + EVALUATION_INTERVAL.as_secs_f64();
    let metrics_url = server.url("/metrics");
    loop {
        let text = get(&http, &metrics_url).await?;
        let last = metric(
            &text,
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
        );
        if last.len() >= groups && last.iter().all(|(_, t)| *t > pushed_at) {
            break;
        }
        if Instant::now() > deadline || !server.running() {
            return Err(format!(
                "{}\n{}",
                too_late("waiting for evaluations over the pushed data"),
                server.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let mut report = Report {
        version: String::new(),
        requests: bodies.len(),
        pushed: 0,
        push_time,
        snapshots: Vec::with_capacity(snapshots),
        rules_between: 0.0,
        cpu_between: None,
        failures: 0.0,
        pending: 0,
        firing: 0,
        stopped: String::new(),
    };
    let mut first: Option<(BTreeMap<String, f64>, Option<Duration>)> = None;
    let mut text = String::new();
    for n in 0..snapshots {
        if n > 0 {
            tokio::time::sleep(EVALUATION_INTERVAL).await;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}\n{}",
                too_late("reading snapshots"),
                server.log_tail()
            ));
        }
        let cpu = server.cpu_time();
        text = get(&http, &metrics_url).await?;
        report.snapshots.push(Snapshot {
            rules: sum(&text, "prometheus_rule_group_rules"),
            duration: sum(&text, "prometheus_rule_group_last_duration_seconds"),
            samples: sum(&text, "prometheus_rule_group_last_evaluation_samples"),
        });
        // Rules evaluated so far, per group: iterations × the group's rules.
        let rules: BTreeMap<String, f64> = metric(&text, "prometheus_rule_group_rules")
            .into_iter()
            .map(|(l, v)| (l.to_string(), v))
            .collect();
        let done: BTreeMap<String, f64> = metric(&text, "prometheus_rule_group_iterations_total")
            .into_iter()
            .map(|(l, v)| (l.to_string(), v * rules.get(l).copied().unwrap_or(0.0)))
            .collect();
        match &first {
            None => first = Some((done, cpu)),
            Some((before, cpu_before)) => {
                report.rules_between = done
                    .iter()
                    .map(|(l, v)| v - before.get(l).copied().unwrap_or(0.0))
                    .sum();
                report.cpu_between = cpu
                    .zip(*cpu_before)
                    .map(|(after, before)| after.saturating_sub(before));
            }
        }
    }
    report.failures = sum(&text, "prometheus_rule_evaluation_failures_total");

    let alerts = get(&http, &server.url("/api/v1/alerts")).await?;
    let alerts: serde_json::Value =
        serde_json::from_str(&alerts).map_err(|e| format!("/api/v1/alerts: {e}"))?;
    for alert in alerts["data"]["alerts"].as_array().into_iter().flatten() {
        match alert["state"].as_str() {
            Some("pending") => report.pending += 1,
            Some("firing") => report.firing += 1,
            _ => {}
        }
    }
    Ok(report)
}
