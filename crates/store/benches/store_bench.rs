//! Store throughput and size, against Prometheus' TSDB when `promtool` is installed.
//!
//! A deterministic node-exporter-like workload: `PERISCOPE_BENCH_SERIES` series (default
//! 20 000: 200 per instance) scraped `PERISCOPE_BENCH_SCRAPES` times (default 300) every 15 s.
//! Counters increase (CPU seconds with two decimals, byte counters), gauges carry decimals,
//! a sixth of the series are (mostly) constant. Printed figures:
//!
//! 1. memory per active series: RSS (`/proc/self/statm`) before and after creating
//!    `PERISCOPE_BENCH_MEM_SERIES` series (default 200 000) with one sample each;
//! 2. append rate on one core (the `append` calls only: no parsing, no I/O), and the durable
//!    ingest rate (append + commit, group commit on the WAL thread, up to 4 commits in flight);
//!    fsyncs per second and WAL bytes per sample;
//! 3. bytes per sample on disk after cutting everything into blocks (pcodec);
//! 4. with `promtool` on `PATH` (Debian: `apt-get install prometheus`), `promtool tsdb bench
//!    write` on the same label sets and `promtool tsdb create-blocks-from openmetrics` on the
//!    same samples written as OpenMetrics text, side by side, with the ratios. Set
//!    `PERISCOPE_BENCH_PROMTOOL=0` to skip (the text file is about 110 bytes per sample).
//!
//! Run with `cargo bench -p store --bench store_bench`; full size:
//! `PERISCOPE_BENCH_SCRAPES=3000 cargo bench -p store --bench store_bench`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::{Appender, BoxFuture, CommitSummary, Labels, Matcher, Querier, SeriesRef, Timestamp};
use store::{Store, StoreOptions};
use testkit::{ManualClock, Rng};

const T0: i64 = 1_700_000_000_000;
const INTERVAL: i64 = 15_000;
const PER_INSTANCE: usize = 200;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
enum Kind {
    /// Increases by `below(max) / scale` per scrape.
    Counter { max: u64, scale: f64 },
    /// `base + below(range) / scale`.
    Gauge { base: f64, range: u64, scale: f64 },
    /// Changes about once in 200 scrapes.
    Constant,
}

struct Series {
    labels: Labels,
    kind: Kind,
}

/// The label sets and kinds, node-exporter style.
fn workload(n: usize) -> Vec<Series> {
    const MODES: [&str; 8] = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    (0..n)
        .map(|i| {
            let inst = format!("host-{:04}:9100", i / PER_INSTANCE);
            let k = i % PER_INSTANCE;
            let base = Labels::new().with("instance", inst).with("job", "node");
            let (name, labels, kind) = match k {
                0..64 => (
                    "node_cpu_seconds_total",
                    base.with("cpu", (k / 8).to_string())
                        .with("mode", MODES[k % 8]),
                    Kind::Counter {
                        max: 1500,
                        scale: 100.0,
                    },
                ),
                64..96 => (
                    if k.is_multiple_of(2) {
                        "node_network_receive_bytes_total"
                    } else {
                        "node_network_transmit_bytes_total"
                    },
                    base.with("device", format!("eth{}", (k - 64) / 2)),
                    Kind::Counter {
                        max: 2_000_000,
                        scale: 1.0,
                    },
                ),
                96..128 => (
                    "node_disk_io_time_seconds_total",
                    base.with("device", format!("sd{}", k - 96)),
                    Kind::Counter {
                        max: 900,
                        scale: 1000.0,
                    },
                ),
                128..150 => (
                    "node_memory_bytes",
                    base.with("kind", format!("k{}", k - 128)),
                    Kind::Gauge {
                        base: 8e9,
                        range: 1 << 20,
                        scale: 1.0 / 4096.0,
                    },
                ),
                150..170 => (
                    "node_hwmon_temp_celsius",
                    base.with("sensor", format!("temp{}", k - 150)),
                    Kind::Gauge {
                        base: 40.0,
                        range: 300,
                        scale: 10.0,
                    },
                ),
                _ => (
                    "node_filesystem_size_bytes",
                    base.with("mountpoint", format!("/mnt/{}", k - 170)),
                    Kind::Constant,
                ),
            };
            Series {
                labels: labels.with("__name__", name),
                kind,
            }
        })
        .collect()
}

/// Per-series generator state: the same sequence whether generated scrape by scrape (for the
/// store) or series by series (for the OpenMetrics file).
struct Gen {
    rng: Rng,
    value: f64,
}

impl Gen {
    fn new(i: usize) -> Gen {
        Gen {
            rng: Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93)),
            value: 1000.0 + i as f64,
        }
    }
    fn next(&mut self, kind: Kind) -> f64 {
        match kind {
            Kind::Counter { max, scale } => self.value += self.rng.below(max) as f64 / scale,
            Kind::Gauge { base, range, scale } => {
                self.value = base + self.rng.below(range) as f64 / scale;
            }
            Kind::Constant => {
                if self.rng.below(200) == 0 {
                    self.value += 4096.0;
                }
            }
        }
        self.value
    }
}

/// Scrape timestamp of an instance: a fixed offset plus a few ms of jitter.
fn ts(instance: usize, scrape: usize) -> i64 {
    let h = (instance as u64 * 0x9E37_79B9 + scrape as u64 * 0x85EB_CA6B) % 5;
    T0 + scrape as i64 * INTERVAL + (instance as i64 * 37) % INTERVAL + h as i64
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            total += if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            };
        }
    }
    total
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

fn open(dir: &Path, clock: &Arc<ManualClock>) -> Store {
    Store::open(dir, StoreOptions::default(), clock.clone()).expect("open store")
}

fn memory_per_series(m: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(Timestamp(T0 + 3_600_000)));
    let series = workload(m);
    let store = open(dir.path(), &clock);
    let before = rss_bytes();
    for chunk in series.chunks(10_000) {
        let mut app = store.store_appender();
        for s in chunk {
            let r = app.series(&s.labels).expect("series");
            app.append(r, Timestamp(T0), 1.0).expect("append");
        }
        app.commit_blocking().expect("commit");
    }
    let after = rss_bytes();
    let est = store.stats().head_bytes;
    println!(
        "memory per active series ({m} series, one sample each): {:.0} B RSS ({:.0} B by the store's own estimate)",
        after.saturating_sub(before) as f64 / m as f64,
        est as f64 / m as f64
    );
}

struct Ours {
    append_rate: f64,
    ingest_rate: f64,
    bytes_per_sample: f64,
}

fn run_store(series: &[Series], scrapes: usize) -> Ours {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let store = open(dir.path(), &clock);
    let n = series.len();
    let t = Instant::now();
    let mut app = store.store_appender();
    let refs: Vec<SeriesRef> = series
        .iter()
        .map(|s| app.series(&s.labels).expect("series"))
        .collect();
    drop(app);
    println!(
        "series creation: {n} series in {:.3} s = {:.0} k series/s",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64() / 1e3
    );

    let mut gens: Vec<Gen> = (0..n).map(Gen::new).collect();
    let mut values = vec![0.0; n];
    let mut stamps = vec![0i64; n];
    let mut in_append = Duration::ZERO;
    let mut in_flight: Vec<BoxFuture<'static, Result<CommitSummary, model::StoreError>>> =
        Vec::new();
    let fsyncs_before = store.stats().wal_fsyncs;
    let wall = Instant::now();
    let mut generating = Duration::ZERO;
    for k in 0..scrapes {
        let g = Instant::now();
        for (i, s) in series.iter().enumerate() {
            values[i] = gens[i].next(s.kind);
            stamps[i] = ts(i / PER_INSTANCE, k);
        }
        clock.set(Timestamp(ts(0, k) + INTERVAL));
        generating += g.elapsed();
        let t = Instant::now();
        let mut app = store.store_appender();
        for i in 0..n {
            app.append(refs[i], Timestamp(stamps[i]), values[i])
                .expect("append");
        }
        in_append += t.elapsed();
        in_flight.push(Box::new(app).commit());
        if in_flight.len() > 4 {
            block_on(in_flight.remove(0)).expect("commit");
        }
    }
    for f in in_flight {
        block_on(f).expect("commit");
    }
    let wall = wall.elapsed() - generating;
    let total = (n * scrapes) as f64;
    let stats = store.stats();
    let append_rate = total / in_append.as_secs_f64();
    let ingest_rate = total / wall.as_secs_f64();
    println!(
        "append path, one core: {:.1} M samples/s ({total} samples in {:.3} s)",
        append_rate / 1e6,
        in_append.as_secs_f64()
    );
    println!(
        "durable ingest (append + WAL commit, group commit): {:.1} M samples/s; {:.0} fsync/s; WAL {:.2} B/sample",
        ingest_rate / 1e6,
        (stats.wal_fsyncs - fsyncs_before) as f64 / wall.as_secs_f64(),
        stats.wal_bytes_written as f64 / total
    );

    let t = Instant::now();
    let end = ts(0, scrapes) + 48 * 3_600_000;
    let report = store.maintain(Timestamp(end)).expect("maintain");
    let stats = store.stats();
    println!(
        "cut into blocks: {} cut, {} compactions in {:.2} s; {} blocks, {} samples, {} bytes = {:.3} B/sample on disk",
        report.cut.len(),
        report.compactions.len(),
        t.elapsed().as_secs_f64(),
        stats.blocks,
        stats.block_samples,
        stats.block_bytes,
        stats.block_bytes as f64 / stats.block_samples.max(1) as f64
    );
    assert_eq!(
        stats.block_samples as f64, total,
        "every sample must be in a block"
    );

    let t = Instant::now();
    let got = store
        .select(
            &[Matcher::equal("__name__", "node_cpu_seconds_total")],
            helpers_all(),
        )
        .expect("select");
    let read: usize = got.iter().map(|s| s.timestamps.len()).sum();
    println!(
        "read back node_cpu_seconds_total: {} series, {read} samples in {:.3} s = {:.1} M samples/s",
        got.len(),
        t.elapsed().as_secs_f64(),
        read as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    store.close().expect("close");
    Ours {
        append_rate,
        ingest_rate,
        bytes_per_sample: stats.block_bytes as f64 / stats.block_samples.max(1) as f64,
    }
}

fn helpers_all() -> model::TimeRange {
    model::TimeRange::new(Timestamp(i64::MIN), Timestamp(i64::MAX))
}

fn write_labels_json(series: &[Series], path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for s in series {
        let pairs: Vec<String> = s
            .labels
            .iter()
            .map(|(n, v)| format!("{n:?}:{v:?}"))
            .collect();
        writeln!(out, "{{{}}}", pairs.join(","))?;
    }
    out.flush()
}

fn write_openmetrics(series: &[Series], scrapes: usize, path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    // A family's samples must be contiguous: group series by metric name.
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by(|&a, &b| {
        series[a]
            .labels
            .metric_name()
            .cmp(&series[b].labels.metric_name())
    });
    let mut line = String::new();
    for i in order {
        let s = &series[i];
        let name = s.labels.metric_name().unwrap_or("");
        let pairs: Vec<String> = s
            .labels
            .iter()
            .filter(|(n, _)| *n != "__name__")
            .map(|(n, v)| format!("{n}=\"{v}\""))
            .collect();
        let prefix = format!("{name}{{{}}}", pairs.join(","));
        let mut g = Gen::new(i);
        for k in 0..scrapes {
            use std::fmt::Write as _;
            line.clear();
            let t = ts(i / PER_INSTANCE, k);
            let _ = writeln!(
                line,
                "{prefix} {} {}.{:03}",
                g.next(s.kind),
                t / 1000,
                t % 1000
            );
            out.write_all(line.as_bytes())?;
        }
    }
    out.write_all(b"# EOF\n")?;
    out.flush()
}

fn promtool(series: &[Series], scrapes: usize, ours: &Ours) {
    if Command::new("promtool").arg("--version").output().is_err() {
        println!(
            "promtool: not found on PATH, comparison skipped (install: apt-get install -y prometheus)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let labels = dir.path().join("series.json");
    write_labels_json(series, &labels).expect("labels file");
    let out = Command::new("promtool")
        .args(["tsdb", "bench", "write"])
        .arg(format!("--metrics={}", series.len()))
        .arg(format!("--scrapes={scrapes}"))
        .arg(format!("--out={}", dir.path().join("bench").display()))
        .arg(&labels)
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            let rate = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("> samples/sec:"))
                .and_then(|v| v.trim().parse::<f64>().ok());
            match rate {
                Some(r) => println!(
                    "prometheus (promtool tsdb bench write, same label sets): {:.2} M samples/s; periscope append path {:.1}x, durable ingest {:.1}x",
                    r / 1e6,
                    ours.append_rate / r,
                    ours.ingest_rate / r
                ),
                None => println!("promtool tsdb bench write: no rate in its output:\n{text}"),
            }
        }
        Err(e) => println!("promtool tsdb bench write: {e}"),
    }

    if env("PERISCOPE_BENCH_PROMTOOL", 1) == 0 {
        return;
    }
    let om = dir.path().join("samples.om");
    let t = Instant::now();
    write_openmetrics(series, scrapes, &om).expect("openmetrics file");
    println!(
        "wrote {} MB of OpenMetrics in {:.1} s",
        std::fs::metadata(&om).map_or(0, |m| m.len()) / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    let blocks = dir.path().join("prom-blocks");
    let t = Instant::now();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
        .arg(&om)
        .arg(&blocks)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let bytes = dir_bytes(&blocks);
            let total = (series.len() * scrapes) as f64;
            let per = bytes as f64 / total;
            println!(
                "prometheus (promtool tsdb create-blocks-from openmetrics, same samples): {bytes} bytes = {per:.3} B/sample ({:.1} s); periscope/prometheus size ratio {:.2}",
                t.elapsed().as_secs_f64(),
                ours.bytes_per_sample / per
            );
        }
        Ok(o) => println!(
            "promtool create-blocks-from failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("promtool create-blocks-from: {e}"),
    }
}

fn main() {
    let n = env("PERISCOPE_BENCH_SERIES", 20_000).max(1);
    let scrapes = env("PERISCOPE_BENCH_SCRAPES", 300).max(1);
    let mem = env("PERISCOPE_BENCH_MEM_SERIES", 200_000).max(1);
    println!(
        "workload: {n} series (PERISCOPE_BENCH_SERIES) x {scrapes} scrapes (PERISCOPE_BENCH_SCRAPES) every 15 s = {} samples",
        n * scrapes
    );
    memory_per_series(mem);
    let series = workload(n);
    let ours = run_store(&series, scrapes);
    promtool(&series, scrapes, &ours);
}
