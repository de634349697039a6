//! End-to-end notification latency with the real `periscope serve` (release): from a log line
//! written, or a sample pushed, to the webhook call that carries the alert it raised; against
//! Prometheus + Alertmanager when they are installed.
//!
//! Two paths, `PERISCOPE_BENCH_ITERATIONS` counted iterations each (default 200, after one
//! warm-up), each iteration a new notification:
//!
//! 1. log: a line with `ERROR` appended to a file a log monitor (`kind = "log"`) watches; the
//!    short-form rule `log = "app/errors"` (the monitor's match count over a window) fires; the
//!    bench then waits, untimed, for the resolution before the next line.
//! 2. push: `bench_latency_seconds{job="bench",iteration="N"} 5` pushed as Prometheus text to
//!    `/api/v1/push`; the rule `expr = 'bench_latency_seconds{job="bench"}'`,
//!    `above = { critical = 4 }` fires for the new series; then, untimed, a value of 1 resolves it.
//!
//! The route has no hold time (`group_wait = "0s"`) and groups by `alertname` and `iteration`,
//! so every alert starts a new group and is sent at once. Latency is measured from just before
//! the write or push to the moment the bench's webhook server has read the call.
//!
//! The latency is bounded below by the server's ticks: a line waits for the monitor's next
//! poll, then the sample for the next rule evaluation; a push waits for the next evaluation.
//! So every path runs at each of `PERISCOPE_BENCH_INTERVALS` (default `1s,100ms`; both the
//! monitor's `interval` and `[rules] interval`), each setting on a fresh server, and the output
//! says when a figure is mostly that waiting. A random sleep of up to the gating interval before
//! each iteration spreads the causes over the interval.
//!
//! The peer (when `prometheus` and `prometheus-alertmanager` are on `PATH` or in `/usr/bin`;
//! otherwise skipped with the install command): Prometheus cannot take a push, so the bench
//! serves the value on its own `/metrics` and Prometheus scrapes it every 1 s and evaluates the
//! same condition every 1 s; Alertmanager (`group_wait: 0s`, same grouping, clustering off)
//! calls the same webhook. Timed from the moment the bench starts exposing the value.
//! `PERISCOPE_BENCH_TARGETS=periscope` leaves the peer out.
//!
//! Every path and setting stops starting iterations after `PERISCOPE_BENCH_RUN_SECONDS` (default
//! 60), so the whole bench takes a few minutes; the printed count says how many ran. Only
//! loopback traffic; every child process is stopped (or killed) before the bench ends.
//!
//! Run with `cargo bench -p periscope --bench notify_e2e`. Figures: docs/benchmarks/notify-e2e.md.

#[path = "notify_e2e/configs.rs"]
mod configs;
#[path = "notify_e2e/hook.rs"]
mod hook;
#[path = "notify_e2e/paths.rs"]
mod paths;
#[path = "notify_e2e/procs.rs"]
mod procs;
#[path = "support.rs"]
mod support;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use configs::Timing;
use hook::Hook;
use paths::{Measured, Plan};
use procs::Proc;

/// The target: p99 under this with no hold time configured.
const TARGET_P99: Duration = Duration::from_secs(1);
/// Prometheus' scrape and evaluation interval for the peer.
const PEER_INTERVAL: Duration = Duration::from_secs(1);

/// One path at one setting.
struct Row {
    target: &'static str,
    path: &'static str,
    /// The intervals, as printed.
    settings: String,
    /// The interval that sets the figure's floor, for grouping settings in the summary.
    interval: Duration,
    /// How long a cause waits for the server's ticks: on average, and at most.
    wait_mean: Duration,
    wait_max: Duration,
    m: Measured,
    load: (String, String),
}

impl Row {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.m.latencies.clone();
        v.sort();
        v
    }

    fn p(&self, q: f64) -> Duration {
        quantile(&self.sorted(), q)
    }
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
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    }
}

/// The 1-minute load average.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn print_row(r: &Row, planned: usize) {
    let s = r.sorted();
    let n = s.len();
    let stop = if r.m.budget_hit {
        format!(
            " (time budget reached after {:.0} s)",
            r.m.took.as_secs_f64()
        )
    } else {
        String::new()
    };
    let acks = if r.m.acks.is_empty() {
        String::new()
    } else {
        let mut a = r.m.acks.clone();
        a.sort();
        format!(
            "; push answered p50 {}, p99 {}",
            ms(quantile(&a, 0.5)),
            ms(quantile(&a, 0.99))
        )
    };
    println!(
        "  {:<10} {:<5} {}: {n} of {planned} iterations{stop}: min {}, p50 {}, p90 {}, p99 {}, max {}{acks}; missed {}; load {} -> {}",
        r.target,
        r.path,
        r.settings,
        ms(s.first().copied().unwrap_or_default()),
        ms(quantile(&s, 0.5)),
        ms(quantile(&s, 0.9)),
        ms(quantile(&s, 0.99)),
        ms(s.last().copied().unwrap_or_default()),
        r.m.missed.len(),
        r.load.0,
        r.load.1,
    );
    let p50 = quantile(&s, 0.5);
    let share = if n > 0 && r.wait_mean * 2 > p50 {
        "dominated by that wait"
    } else {
        "the rest is the pipeline's own work"
    };
    println!(
        "             waiting for the server's ticks: {} on average, at most {}: {share}",
        ms(r.wait_mean),
        ms(r.wait_max)
    );
    for why in r.m.missed.iter().take(5) {
        println!("             {why}");
    }
}

/// Runs both paths against a fresh `periscope serve` at timing `t`.
async fn periscope_run(
    hook: &Hook,
    root: &Path,
    t: Timing,
    iterations: usize,
    budget: Duration,
) -> Result<Vec<Row>, String> {
    let dir = tempfile::tempdir_in(root).map_err(|e| format!("temp dir: {e}"))?;
    let log = procs::write(dir.path(), "app.log", "")?;
    let port = procs::free_port()?;
    let config = procs::write(
        dir.path(),
        "periscope.toml",
        &configs::periscope(port, &hook.url(), t),
    )?;
    let binary = Path::new(env!("CARGO_BIN_EXE_periscope"));
    let args = [
        "serve".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let mut server = Proc::spawn("periscope", binary, &args, dir.path(), port)?;
    tokio::task::block_in_place(|| server.wait_ready(None))?;
    let timeout = Duration::from_secs(10) + (t.poll + t.eval) * 3;
    let settings = format!(
        "poll {}, eval {}",
        configs::text(t.poll),
        configs::text(t.eval)
    );
    println!(
        "periscope: monitor interval {}, [rules] interval {}, log rule window {}, group_wait 0s, group_interval {}, store commit_window 5ms (default)",
        configs::text(t.poll),
        configs::text(t.eval),
        configs::text(t.window()),
        configs::text(configs::GROUP_INTERVAL),
    );
    let mut rows = Vec::new();
    let before = load();
    let plan = Plan {
        iterations,
        budget,
        timeout,
        jitter: t.poll,
    };
    let m = paths::log_path(hook, &log, &plan).await?;
    rows.push(Row {
        target: "periscope",
        path: "log",
        settings: settings.clone(),
        interval: t.poll.max(t.eval),
        // The rule is evaluated right after each check (rule_loop/wake.rs): only the poll waits.
        wait_mean: t.poll / 2,
        wait_max: t.poll,
        m,
        load: (before, load()),
    });
    print_row(&rows[0], iterations);
    let before = load();
    let plan = Plan {
        jitter: t.eval,
        ..plan
    };
    let m = paths::push_path(hook, &format!("http://127.0.0.1:{port}"), &plan).await?;
    rows.push(Row {
        target: "periscope",
        path: "push",
        settings,
        interval: t.eval,
        wait_mean: t.eval / 2,
        wait_max: t.eval,
        m,
        load: (before, load()),
    });
    print_row(&rows[1], iterations);
    if rows.iter().any(|r| !r.m.missed.is_empty()) {
        println!("  periscope's log:\n{}", server.log_tail(30));
    }
    let how = tokio::task::block_in_place(|| server.stop());
    println!("  periscope stopped: {how}\n");
    Ok(rows)
}

/// The pushed-sample path through Prometheus and Alertmanager, or why it was skipped.
async fn peer_run(
    hook: &Hook,
    root: &Path,
    iterations: usize,
    budget: Duration,
) -> Result<Option<Row>, String> {
    let (Some(prometheus), Some(alertmanager)) = (
        procs::find_binary("prometheus"),
        procs::find_binary("prometheus-alertmanager"),
    ) else {
        println!(
            "prometheus + alertmanager: `prometheus` or `prometheus-alertmanager` not found on PATH or in /usr/bin, skipped \
             (install: apt-get update && apt-get install -y --no-install-recommends prometheus prometheus-alertmanager)\n"
        );
        return Ok(None);
    };
    println!(
        "prometheus: {} ({}); alertmanager: {} ({})",
        procs::version(&prometheus),
        prometheus.display(),
        procs::version(&alertmanager),
        alertmanager.display()
    );
    let dir = tempfile::tempdir_in(root).map_err(|e| format!("temp dir: {e}"))?;
    let d = dir.path();
    let am_port = procs::free_port()?;
    let am_config = procs::write(d, "alertmanager.yml", &configs::alertmanager(&hook.url()))?;
    let am_args = [
        format!("--config.file={}", am_config.display()),
        format!("--storage.path={}", d.join("am-data").display()),
        format!("--web.listen-address=127.0.0.1:{am_port}"),
        // No gossip: it would listen on every interface and wait for peers to settle.
        "--cluster.listen-address=".into(),
        "--log.level=warn".into(),
    ];
    let mut am = Proc::spawn("alertmanager", &alertmanager, &am_args, d, am_port)?;
    tokio::task::block_in_place(|| am.wait_ready(Some("/-/ready")))?;
    procs::write(d, "rules.yml", &configs::prometheus_rules())?;
    let prom_config = procs::write(
        d,
        "prometheus.yml",
        &configs::prometheus(PEER_INTERVAL, &hook.addr, am_port),
    )?;
    let prom_port = procs::free_port()?;
    let prom_args = [
        format!("--config.file={}", prom_config.display()),
        format!("--storage.tsdb.path={}", d.join("prom-data").display()),
        format!("--web.listen-address=127.0.0.1:{prom_port}"),
        "--log.level=warn".into(),
    ];
    let mut prom = Proc::spawn("prometheus", &prometheus, &prom_args, d, prom_port)?;
    tokio::task::block_in_place(|| prom.wait_ready(Some("/-/ready")))?;
    println!(
        "prometheus: scrape_interval {0}, evaluation_interval {0}; alertmanager: group_wait 0s, group_interval {1}",
        configs::text(PEER_INTERVAL),
        configs::text(configs::GROUP_INTERVAL)
    );
    let before = load();
    let plan = Plan {
        iterations,
        budget,
        timeout: Duration::from_secs(10) + PEER_INTERVAL * 6,
        jitter: PEER_INTERVAL,
    };
    let m = paths::scraped_path(hook, &plan).await;
    let row = Row {
        target: "prom+am",
        path: "push",
        settings: format!("scrape {0}, eval {0}", configs::text(PEER_INTERVAL)),
        interval: PEER_INTERVAL,
        wait_mean: PEER_INTERVAL,
        wait_max: PEER_INTERVAL * 2,
        m,
        load: (before, load()),
    };
    print_row(&row, iterations);
    if !row.m.missed.is_empty() {
        println!(
            "  prometheus' log:\n{}\n  alertmanager's log:\n{}",
            prom.log_tail(15),
            am.log_tail(15)
        );
    }
    let how = tokio::task::block_in_place(|| (prom.stop(), am.stop()));
    println!(
        "  prometheus stopped: {}; alertmanager stopped: {}\n",
        how.0, how.1
    );
    Ok(Some(row))
}

/// The summary: each figure against the target, and what the intervals account for.
fn summary(rows: &[Row]) {
    println!(
        "summary: latency from the write or push to the webhook call; target p99 under {}",
        ms(TARGET_P99)
    );
    for r in rows {
        let p99 = r.p(0.99);
        let verdict = if r.m.latencies.is_empty() {
            "no figure"
        } else if p99 < TARGET_P99 && r.m.missed.is_empty() {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "  {:<10} {:<5} {:<22} n={:<4} min {:>7}  p50 {:>7}  p90 {:>7}  p99 {:>7}  max {:>7}  target {verdict}",
            r.target,
            r.path,
            r.settings,
            r.m.latencies.len(),
            ms(r.p(0.0)),
            ms(r.p(0.5)),
            ms(r.p(0.9)),
            ms(p99),
            ms(r.m.latencies.iter().max().copied().unwrap_or_default()),
        );
    }
    for path in ["log", "push"] {
        let ours: Vec<&Row> = rows
            .iter()
            .filter(|r| r.target == "periscope" && r.path == path && !r.m.latencies.is_empty())
            .collect();
        let (Some(long), Some(short)) = (
            ours.iter().max_by_key(|r| r.interval),
            ours.iter().min_by_key(|r| r.interval),
        ) else {
            continue;
        };
        if long.interval == short.interval {
            continue;
        }
        println!(
            "  {path}: p50 {} at {} against {} at {}: {}; the fastest iteration at {} took {} \
             (its cause came just before a tick)",
            ms(long.p(0.5)),
            long.settings,
            ms(short.p(0.5)),
            short.settings,
            if long.wait_mean * 2 > long.p(0.5) {
                "the longer figure is dominated by waiting for the poll and evaluation intervals"
            } else {
                "the intervals are not what dominates"
            },
            short.settings,
            ms(short.p(0.0)),
        );
    }
}

async fn run(intervals: &[Duration], iterations: usize, budget: Duration, with_peer: bool) -> bool {
    let hook = match Hook::start().await {
        Ok(h) => h,
        Err(e) => {
            println!("{e}");
            return false;
        }
    };
    let root = match tempfile::tempdir() {
        Ok(r) => r,
        Err(e) => {
            println!("temp dir: {e}");
            return false;
        }
    };
    let mut rows = Vec::new();
    let mut ok = true;
    for &interval in intervals {
        let t = Timing {
            poll: interval,
            eval: interval,
        };
        match periscope_run(&hook, root.path(), t, iterations, budget).await {
            Ok(r) => {
                ok &= r.iter().all(|r| r.m.missed.is_empty());
                rows.extend(r);
            }
            Err(e) => {
                println!("periscope at {}: {e}\n", configs::text(interval));
                ok = false;
            }
        }
    }
    if with_peer {
        match peer_run(&hook, root.path(), iterations, budget).await {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {}
            // The peer's trouble is reported, not the bench's failure.
            Err(e) => println!("prometheus + alertmanager: {e}\n"),
        }
    } else {
        println!("prometheus + alertmanager: not in PERISCOPE_BENCH_TARGETS, skipped\n");
    }
    summary(&rows);
    ok
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a filter argument is not meaningful here.
    let iterations = support::env_usize("PERISCOPE_BENCH_ITERATIONS", 200);
    let budget = Duration::from_secs(support::env_usize("PERISCOPE_BENCH_RUN_SECONDS", 60) as u64);
    let text = std::env::var("PERISCOPE_BENCH_INTERVALS").unwrap_or_else(|_| "1s,100ms".into());
    let mut intervals = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match model::duration::parse_duration(part) {
            Ok(d) if !d.is_zero() => intervals.push(d),
            Ok(_) => {
                println!("PERISCOPE_BENCH_INTERVALS: `{part}` must be positive");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                println!("PERISCOPE_BENCH_INTERVALS: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let with_peer = std::env::var("PERISCOPE_BENCH_TARGETS")
        .map_or(true, |v| v.split(',').any(|t| t.trim() == "prometheus"));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "notify_e2e: {iterations} iterations per path (PERISCOPE_BENCH_ITERATIONS) after one warm-up, \
         at most {} s each (PERISCOPE_BENCH_RUN_SECONDS); intervals {text} (PERISCOPE_BENCH_INTERVALS); \
         {cores} cores, load average {}\n",
        budget.as_secs(),
        load()
    );
    // Two workers: the webhook server stamps calls while the other waits or writes.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            println!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ok = rt.block_on(run(&intervals, iterations, budget, with_peer));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
