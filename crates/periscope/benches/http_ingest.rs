//! End-to-end ingest over HTTP: Prometheus remote-write into the real `periscope serve`, against
//! VictoriaMetrics and Prometheus when they are installed.
//!
//! The workload is generated before anything is timed: `PERISCOPE_BENCH_SERIES` series (default
//! 20 000) shaped like node-exporter's (`node_cpu_seconds_total{cpu,mode}`, `node_memory_*`,
//! `node_network_*{device}`, `node_filesystem_*{device,fstype,mountpoint}`, ... with `instance`
//! and `job`), `PERISCOPE_BENCH_SCRAPES` scrapes each (default 100) 15 s apart and ending a
//! minute ago, counters growing by realistic amounts and gauges with decimals. The samples are
//! sharded by series over `PERISCOPE_BENCH_CLIENTS` clients (default 4), as Prometheus shards
//! its remote-write queue, and encoded as snappy-compressed `WriteRequest`s of about
//! `PERISCOPE_BENCH_BATCH` samples (default 10 000) with `PERISCOPE_BENCH_GROUP` consecutive
//! samples per time series entry (default 1: labels repeated for every sample, as Prometheus
//! sends them; more shows what grouping by series saves).
//!
//! Then, `PERISCOPE_BENCH_RUNS` times (default 3), each target in turn is started on a free
//! loopback port with an empty data directory and sent every request, each client on its own
//! keep-alive connection, one request in flight per client. Every request's acknowledgement
//! latency is recorded and every answer must be 2xx (a target with failures is marked
//! INVALID; a run sends for at most 10 min). Printed per run: samples/s, p50/p99/max latency
//! (p99 also over only the requests that create no series: a sender's first scrape makes every
//! receiver create its series, the slow path, and those requests are few in a long run),
//! server and client CPU time, the server's peak RSS (`VmHWM`), the data directory's size after
//! a SIGTERM stop and the load average before the run (other work on the machine skews every
//! figure); then median, min and max over the runs and the ratio of Periscope to each peer.
//!
//! Targets: Periscope's release binary with only `[store]` and `[http]` configured (defaults:
//! acknowledged after the write-ahead log is synced); `victoria-metrics` and `prometheus`
//! (with `--web.enable-remote-write-receiver`) when found on `PATH` or in `/usr/bin`, otherwise
//! skipped with the command that installs them; `PERISCOPE_BENCH_TARGETS=periscope` (a comma
//! list) leaves installed peers out, e.g. while profiling. Only loopback traffic.
//! `PERISCOPE_BENCH_SHOW=20` prints the first 20 entries of a request instead of running;
//! `PERISCOPE_BENCH_TRACE=1` prints every request's latency per client, in order (warm-up shows).
//!
//! Run with `cargo bench -p periscope --bench http_ingest`.

#[path = "support.rs"]
mod support;
#[path = "http_ingest/target.rs"]
mod target;
#[path = "http_ingest/workload.rs"]
mod workload;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use model::Clock as _;
use target::{Kind, Target};
use workload::{Spec, Workload};

/// The longest a single request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a run may send for; requests not sent by then count as failed.
const RUN_DEADLINE: Duration = Duration::from_secs(600);

/// One run of one target.
struct Run {
    /// Samples acknowledged per second of wall time (first request sent to last answer).
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// p99 over the requests that create no series (the steady state of a running sender).
    p99_known: Duration,
    max: Duration,
    failures: usize,
    cpu: Option<Duration>,
    peak_rss: Option<u64>,
    data_bytes: u64,
    stopped_clean: bool,
}

impl Run {
    fn valid(&self) -> bool {
        self.failures == 0
    }
}

/// What the clients saw.
struct Sent {
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Latencies of the requests that carry no series' first sample.
    known: Vec<Duration>,
    failures: Vec<String>,
}

/// Sends every client's bodies in order, the clients concurrently.
fn send_all(rt: &tokio::runtime::Runtime, url: &str, workload: &Workload) -> Sent {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = workload
            .bodies
            .iter()
            .map(|bodies| {
                let url = url.to_string();
                let bodies = bodies.clone();
                let deadline = start + RUN_DEADLINE;
                tokio::spawn(async move { client(&url, &bodies, deadline).await })
            })
            .collect();
        let mut sent = Sent {
            elapsed: Duration::ZERO,
            latencies: Vec::with_capacity(workload.requests()),
            known: Vec::with_capacity(workload.requests()),
            failures: Vec::new(),
        };
        let trace = std::env::var_os("PERISCOPE_BENCH_TRACE").is_some();
        for (c, task) in tasks.into_iter().enumerate() {
            let (latencies, failures) = task.await.expect("client task");
            if trace {
                let each: Vec<String> = latencies
                    .iter()
                    .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
                    .collect();
                eprintln!("  client {c} latencies (ms, in order): {}", each.join(" "));
            }
            let introduces = &workload.introduces[c];
            sent.known.extend(
                latencies
                    .iter()
                    .zip(introduces)
                    .filter(|(_, new)| !**new)
                    .map(|(d, _)| *d),
            );
            sent.latencies.extend(latencies);
            sent.failures.extend(failures);
        }
        sent.elapsed = start.elapsed();
        sent
    })
}

/// One client: its own connection, one request at a time.
async fn client(
    url: &str,
    bodies: &[&'static [u8]],
    deadline: Instant,
) -> (Vec<Duration>, Vec<String>) {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(1)
        .build()
        .expect("HTTP client");
    let mut latencies = Vec::with_capacity(bodies.len());
    let mut failures = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let start = Instant::now();
        if start > deadline {
            failures.push(format!(
                "requests {i}.. not sent: the run took longer than {RUN_DEADLINE:?}"
            ));
            break;
        }
        let answer = http
            .post(url)
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(reqwest::Body::from(*body))
            .send()
            .await;
        let outcome = match answer {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(text) => Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&text[..text.len().min(300)])
                    )),
                    Err(e) => Err(format!("{status}, body not read: {e}")),
                }
            }
            Err(e) => Err(format!("no answer: {e}")),
        };
        latencies.push(start.elapsed());
        if let Err(e) = outcome {
            failures.push(format!("request {i}: {e}"));
        }
    }
    (latencies, failures)
}

/// The `q` quantile (nearest rank) of sorted values.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Starts `target`, sends the workload, stops it; `None` if it could not start.
fn run_once(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    workload: &Workload,
    root: &std::path::Path,
) -> Option<Run> {
    let server = match target.start(root) {
        Ok(s) => s,
        Err(e) => {
            println!("  {}: could not start: {e}", target.name);
            return None;
        }
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    let cpu_before = server.cpu_time();
    let client_before = target::cpu_time(std::process::id());
    let mut sent = send_all(rt, &server.write_url(), workload);
    let cpu = server
        .cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let client_cpu = target::cpu_time(std::process::id())
        .zip(client_before)
        .map(|(after, before)| after.saturating_sub(before));
    let peak_rss = server.peak_rss();
    let stopped = server.stop();
    sent.latencies.sort();
    sent.known.sort();
    let run = Run {
        rate: workload.samples as f64 / sent.elapsed.as_secs_f64(),
        p50: quantile(&sent.latencies, 0.50),
        p99: quantile(&sent.latencies, 0.99),
        p99_known: quantile(&sent.known, 0.99),
        max: sent.latencies.last().copied().unwrap_or_default(),
        failures: sent.failures.len(),
        cpu,
        peak_rss,
        data_bytes: stopped.data_bytes,
        stopped_clean: stopped.clean,
    };
    println!(
        "  {:<17} {:>6.3} M samples/s in {:.2} s; latency p50 {}, p99 {} ({} without the requests that create series), max {}; server CPU {}; client CPU {}; peak RSS {}; data {}; stop: {} in {:.1} s; load before {load}{}",
        target.name,
        run.rate / 1e6,
        sent.elapsed.as_secs_f64(),
        ms(run.p50),
        ms(run.p99),
        ms(run.p99_known),
        ms(run.max),
        run.cpu.map_or("?".into(), |c| format!(
            "{:.2} s ({:.2} M samples per CPU-s)",
            c.as_secs_f64(),
            workload.samples as f64 / c.as_secs_f64().max(1e-3) / 1e6
        )),
        client_cpu.map_or("?".into(), |c| format!("{:.2} s", c.as_secs_f64())),
        run.peak_rss.map_or("?".into(), mib),
        mib(run.data_bytes),
        stopped.how,
        stopped.took.as_secs_f64(),
        if run.valid() { "" } else { "  INVALID" },
    );
    if !sent.failures.is_empty() {
        println!(
            "    {} of {} requests failed; first ones:",
            sent.failures.len(),
            workload.requests()
        );
        for f in sent.failures.iter().take(5) {
            println!("    {f}");
        }
    }
    Some(run)
}

/// Prints the first `n` entries of the first client's first request as text, to see what is
/// sent (`PERISCOPE_BENCH_SHOW=N`; nothing is run then).
fn show(workload: &Workload, n: usize) {
    use prost::Message as _;
    use sensors::exposition::remote_write::WriteRequest;
    let Some(body) = workload.bodies.first().and_then(|b| b.first()) else {
        return;
    };
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .expect("a body the bench encoded");
    let request = WriteRequest::decode(raw.as_slice()).expect("a request the bench encoded");
    for entry in request.timeseries.iter().take(n) {
        let labels: Vec<String> = entry
            .labels
            .iter()
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect();
        for sample in &entry.samples {
            println!(
                "{{{}}} {} {}",
                labels.join(","),
                sample.value,
                sample.timestamp
            );
        }
    }
}

/// Median, min and max of `values`.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a filter argument is not meaningful here.
    let series = support::env_usize("PERISCOPE_BENCH_SERIES", 20_000);
    let scrapes = support::env_usize("PERISCOPE_BENCH_SCRAPES", 100);
    let clients = support::env_usize("PERISCOPE_BENCH_CLIENTS", 4);
    let batch = support::env_usize("PERISCOPE_BENCH_BATCH", 10_000);
    let group = support::env_usize("PERISCOPE_BENCH_GROUP", 1);
    let runs = support::env_usize("PERISCOPE_BENCH_RUNS", 3);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    // E.g. `periscope` alone while profiling it; Periscope always runs.
    let wanted: Option<Vec<String>> = std::env::var("PERISCOPE_BENCH_TARGETS")
        .ok()
        .map(|v| v.split(',').map(|t| t.trim().to_string()).collect());

    let now = model::SystemClock.now().as_millis();
    let t = Instant::now();
    let workload = workload::build(&Spec {
        series,
        scrapes,
        clients,
        batch,
        group,
        end_ms: now - 60_000,
    });
    println!(
        "workload: {series} series (PERISCOPE_BENCH_SERIES) on {} hosts x {scrapes} scrapes (PERISCOPE_BENCH_SCRAPES) = {} samples, \
         {:.0} min of history ending {:.0} s ago",
        workload.hosts,
        workload.samples,
        (workload.last_ms - workload.first_ms) as f64 / 60_000.0,
        (now - workload.last_ms) as f64 / 1e3,
    );
    println!(
        "  {} remote-write requests of about {batch} samples (PERISCOPE_BENCH_BATCH), {group} per time series entry (PERISCOPE_BENCH_GROUP), \
         over {clients} clients (PERISCOPE_BENCH_CLIENTS); {} protobuf, {} snappy ({:.1} B/sample on the wire); encoded in {:.1} s",
        workload.requests(),
        mib(workload.raw_bytes),
        mib(workload.body_bytes),
        workload.body_bytes as f64 / workload.samples as f64,
        t.elapsed().as_secs_f64()
    );
    println!("  {runs} runs (PERISCOPE_BENCH_RUNS), {cores} cores\n");
    if let Ok(n) = std::env::var("PERISCOPE_BENCH_SHOW") {
        show(&workload, n.parse().unwrap_or(20));
        return ExitCode::SUCCESS;
    }

    let mut targets = vec![Target::periscope()];
    for kind in [Kind::VictoriaMetrics, Kind::Prometheus] {
        match Target::peer(kind) {
            Ok(t)
                if !wanted
                    .as_ref()
                    .is_none_or(|w| w.iter().any(|n| n == t.name)) =>
            {
                println!("{}: not in PERISCOPE_BENCH_TARGETS, skipped", t.name)
            }
            Ok(t) => targets.push(t),
            Err(skipped) => println!("{skipped}"),
        }
    }
    for t in &targets {
        println!("{}: {} ({})", t.name, t.version(), t.binary.display());
    }
    println!();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let root = tempfile::tempdir().expect("temp dir");
    let mut results: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
    let mut failed = false;
    for run in 1..=runs {
        println!("run {run}/{runs}");
        // Targets alternate within each run, so a noisy moment hits every one alike.
        for (target, results) in targets.iter().zip(&mut results) {
            match run_once(&rt, target, &workload, root.path()) {
                Some(r) => {
                    failed |= target.kind == Kind::Periscope && (!r.valid() || !r.stopped_clean);
                    results.push(r);
                }
                None => failed |= target.kind == Kind::Periscope,
            }
        }
    }

    println!(
        "\nsummary: median (min..max) over valid runs; {} samples each, {cores} cores",
        workload.samples
    );
    let mut ours: Option<(f64, f64, f64)> = None;
    for (target, runs) in targets.iter().zip(&results) {
        let valid: Vec<&Run> = runs.iter().filter(|r| r.valid()).collect();
        if valid.is_empty() {
            println!(
                "  {:<17} INVALID: no run without failures ({} runs)",
                target.name,
                runs.len()
            );
            continue;
        }
        let (rate, rate_min, rate_max) = spread(valid.iter().map(|r| r.rate / 1e6).collect());
        let (p99, p99_min, p99_max) =
            spread(valid.iter().map(|r| r.p99.as_secs_f64() * 1e3).collect());
        let (p50, ..) = spread(valid.iter().map(|r| r.p50.as_secs_f64() * 1e3).collect());
        let (p99_known, ..) = spread(
            valid
                .iter()
                .map(|r| r.p99_known.as_secs_f64() * 1e3)
                .collect(),
        );
        let worst = valid.iter().map(|r| r.max).max().unwrap_or_default();
        let (rss, ..) = spread(
            valid
                .iter()
                .map(|r| r.peak_rss.unwrap_or(0) as f64 / (1 << 20) as f64)
                .collect(),
        );
        let (data, ..) = spread(valid.iter().map(|r| r.data_bytes as f64).collect());
        let ratio = match ours {
            None if target.kind == Kind::Periscope => {
                ours = Some((rate, p99, p99_known));
                String::new()
            }
            None => "; Periscope had no valid run".into(),
            Some((our_rate, our_p99, _)) => format!(
                "; Periscope/{}: {:.2}x throughput, p99 {:.2}x",
                target.name,
                our_rate / rate,
                our_p99 / p99
            ),
        };
        println!(
            "  {:<17} {rate:.3} M samples/s ({rate_min:.3}..{rate_max:.3}); p99 {p99:.1} ms ({p99_min:.1}..{p99_max:.1}), {p99_known:.1} ms without the requests that create series; p50 {p50:.1} ms; max {}; peak RSS {rss:.0} MiB; data {:.2} B/sample{}{ratio}",
            target.name,
            ms(worst),
            data / workload.samples as f64,
            if valid.len() < runs.len() {
                format!(
                    "; {} of {} runs INVALID",
                    runs.len() - valid.len(),
                    runs.len()
                )
            } else {
                String::new()
            },
        );
    }
    if let Some((rate, p99, p99_known)) = ours {
        let verdict = |p99: f64| {
            if rate >= 2.0 && p99 < 50.0 {
                "met"
            } else {
                "NOT met"
            }
        };
        println!(
            "  target: at least 2 M samples/s with p99 under 50 ms: {} over all requests, {} over the requests that create no series",
            verdict(p99),
            verdict(p99_known)
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
