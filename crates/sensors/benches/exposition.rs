//! Parse throughput of every metric payload format, in samples per second.
//!
//! Generates one node_exporter-like scrape (`PERISCOPE_BENCH_SAMPLES`, default 200 000 samples:
//! gauges, counters and histograms with two to four labels) and encodes it four ways: Prometheus
//! text, OpenMetrics text, the JSON batch format and remote-write (snappy + protobuf). Each is
//! parsed `PERISCOPE_BENCH_RUNS` times (default 5; median, min and max reported): into a
//! `Batch` (a `model::Labels` per series), into a reused `CompactBatch` (the hot path,
//! `exposition::parse_compact_into`), and that on two threads at once (two payloads in parallel,
//! as two receivers would), since ingestion's target is 2 M samples/s end to end on two cores. Besides wall-clock speed it prints samples per CPU-second of the parsing threads,
//! which stays meaningful when other work shares the machine.
//!
//! Run with `cargo bench -p sensors --bench exposition`; `PERISCOPE_BENCH_FORMATS=prometheus,json`
//! (names as in `PayloadFormat::as_str`) runs only those formats.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use model::PayloadFormat;
use prost::Message as _;
use sensors::exposition::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use sensors::exposition::{self, Batch, CompactBatch, MetricType};

const DEFAULT_SAMPLES: usize = 200_000;
const DEFAULT_RUNS: usize = 5;
const BUCKETS: [&str; 8] = ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"];

/// One generated sample: its family, sample name, labels and value.
struct Gen {
    family: String,
    kind: MetricType,
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Families of about 200 samples each: a third gauges, a third counters, a third histograms.
fn generate(samples: usize) -> Vec<Gen> {
    let mut out = Vec::with_capacity(samples + BUCKETS.len() + 2);
    let mut family = 0usize;
    while out.len() < samples {
        let kind = match family % 3 {
            0 => MetricType::Gauge,
            1 => MetricType::Counter,
            _ => MetricType::Histogram,
        };
        let base = match kind {
            MetricType::Gauge => format!("node_filesystem_avail_bytes_{family}"),
            MetricType::Counter => format!("node_network_receive_bytes_{family}"),
            _ => format!("http_request_duration_seconds_{family}"),
        };
        for series in 0..25 {
            let labels = vec![
                ("device".to_string(), format!("eth{series}")),
                (
                    "instance".to_string(),
                    "web-01.example.com:9100".to_string(),
                ),
                ("job".to_string(), "node".to_string()),
            ];
            let v = (family * 1000 + series) as f64 * 1.25;
            match kind {
                MetricType::Gauge => out.push(Gen {
                    family: base.clone(),
                    kind,
                    name: base.clone(),
                    labels,
                    value: v,
                }),
                MetricType::Counter => out.push(Gen {
                    family: base.clone(),
                    kind,
                    name: format!("{base}_total"),
                    labels,
                    value: v,
                }),
                _ => {
                    for (i, le) in BUCKETS.iter().enumerate() {
                        let mut l = labels.clone();
                        l.push(("le".to_string(), (*le).to_string()));
                        out.push(Gen {
                            family: base.clone(),
                            kind,
                            name: format!("{base}_bucket"),
                            labels: l,
                            value: (i * 10 + series) as f64,
                        });
                    }
                    let inf = (70 + series) as f64;
                    for (suffix, value) in [("_count", inf), ("_sum", v)] {
                        out.push(Gen {
                            family: base.clone(),
                            kind,
                            name: format!("{base}{suffix}"),
                            labels: labels.clone(),
                            value,
                        });
                    }
                }
            }
        }
        family += 1;
    }
    out
}

fn text(samples: &[Gen], openmetrics: bool) -> Vec<u8> {
    let mut s = String::new();
    let mut last = "";
    for g in samples {
        if g.family != last {
            let type_name = if openmetrics || g.kind != MetricType::Counter {
                g.family.clone()
            } else {
                g.name.clone()
            };
            let _ = writeln!(s, "# HELP {type_name} Generated for the benchmark.");
            let _ = writeln!(s, "# TYPE {type_name} {}", g.kind.as_str());
            last = &g.family;
        }
        s.push_str(&g.name);
        s.push('{');
        for (i, (n, v)) in g.labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{n}=\"{v}\"");
        }
        let _ = writeln!(s, "}} {}", g.value);
    }
    if openmetrics {
        s.push_str("# EOF\n");
    }
    s.into_bytes()
}

fn json(samples: &[Gen]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = samples
        .iter()
        .map(|g| {
            let labels: serde_json::Map<String, serde_json::Value> = g
                .labels
                .iter()
                .map(|(n, v)| (n.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            serde_json::json!({"name": g.name, "labels": labels, "value": g.value, "timestamp": 1_700_000_000_000i64})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "samples": list })).unwrap_or_default()
}

fn remote_write(samples: &[Gen]) -> Vec<u8> {
    let request = WriteRequest {
        timeseries: samples
            .iter()
            .map(|g| TimeSeries {
                labels: std::iter::once(("__name__", g.name.as_str()))
                    .chain(g.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                    .map(|(name, value)| Label {
                        name: name.to_string(),
                        value: value.to_string(),
                    })
                    .collect(),
                samples: vec![Sample {
                    value: g.value,
                    timestamp: 1_700_000_000_000,
                }],
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap_or_default()
}

/// CPU time of the calling thread so far (Linux: `/proc/thread-self/schedstat`), to report
/// speed per CPU-second too: on a machine busy with other work, wall time says little.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// One timed round: `threads` threads parse `body` at once, each either into a [`Batch`]
/// (a `Labels` per series, the batch dropped inside the timing) or, with `compact`, into a
/// [`CompactBatch`] it has filled once already (as a receiver keeping one per worker would).
/// Returns the slowest thread's wall time, the CPU time of all threads, and samples.
fn timed(
    format: PayloadFormat,
    body: &[u8],
    threads: usize,
    compact: bool,
) -> Result<(Duration, Option<Duration>, usize), String> {
    type Round = Result<(usize, Duration, Option<Duration>), String>;
    let results: Vec<Round> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut reused = CompactBatch::default();
                    if compact {
                        exposition::parse_compact_into(format, body, &mut reused)
                            .map_err(|e| e.to_string())?;
                    }
                    let cpu_before = thread_cpu();
                    let start = Instant::now();
                    let n = if compact {
                        exposition::parse_compact_into(format, body, &mut reused)
                            .map_err(|e| e.to_string())?;
                        reused.len()
                    } else {
                        let batch: Batch =
                            exposition::parse(format, body).map_err(|e| e.to_string())?;
                        batch.len()
                    };
                    let wall = start.elapsed();
                    let cpu = thread_cpu()
                        .zip(cpu_before)
                        .map(|(a, b)| a.saturating_sub(b));
                    Ok((n, wall, cpu))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("parser panicked".into())))
            .collect()
    });
    let mut total = 0;
    let mut wall = Duration::ZERO;
    let mut cpu = Some(Duration::ZERO);
    for r in results {
        let (n, w, c) = r?;
        total += n;
        wall = wall.max(w);
        cpu = cpu.zip(c).map(|(a, b)| a + b);
    }
    Ok((wall, cpu, total))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> ExitCode {
    let n = env_usize("PERISCOPE_BENCH_SAMPLES", DEFAULT_SAMPLES);
    let runs = env_usize("PERISCOPE_BENCH_RUNS", DEFAULT_RUNS).max(1);
    let generated = generate(n);
    let payloads = [
        (
            "prometheus text",
            PayloadFormat::PrometheusText,
            text(&generated, false),
        ),
        (
            "openmetrics",
            PayloadFormat::OpenMetrics,
            text(&generated, true),
        ),
        ("json", PayloadFormat::Json, json(&generated)),
        (
            "remote-write",
            PayloadFormat::RemoteWrite,
            remote_write(&generated),
        ),
    ];
    println!(
        "{} samples per payload, {runs} runs each (median [min-max])",
        generated.len()
    );
    // `PERISCOPE_BENCH_FORMATS=prometheus,openmetrics` runs only those.
    let only = std::env::var("PERISCOPE_BENCH_FORMATS").ok();
    for (label, format, body) in &payloads {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|f| f == format.as_str()))
        {
            continue;
        }
        for (threads, compact) in [(1, false), (1, true), (2, true)] {
            let mut rates = Vec::with_capacity(runs);
            let mut cpu_rates = Vec::with_capacity(runs);
            for _ in 0..runs {
                match timed(*format, body, threads, compact) {
                    Ok((elapsed, cpu, count)) => {
                        rates.push(count as f64 / elapsed.as_secs_f64().max(1e-9));
                        if let Some(cpu) = cpu {
                            cpu_rates.push(count as f64 / cpu.as_secs_f64().max(1e-9));
                        }
                    }
                    Err(e) => {
                        eprintln!("{label}: parse failed: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let wall = median(&mut rates);
            let (low, high) = (rates[0], rates[rates.len() - 1]);
            let per_cpu = if cpu_rates.is_empty() {
                String::new()
            } else {
                format!(", {:.2} M per CPU-second", median(&mut cpu_rates) / 1e6)
            };
            println!(
                "{label:>16} {threads} thread{} {:<12}: {:>5.2} M samples/s wall [{low_m:.2}-{high_m:.2}]{per_cpu}  ({:.1} MB)",
                if threads == 1 { " " } else { "s" },
                if compact { "CompactBatch" } else { "Batch" },
                wall / 1e6,
                body.len() as f64 / 1e6,
                low_m = low / 1e6,
                high_m = high / 1e6,
            );
        }
    }
    ExitCode::SUCCESS
}
