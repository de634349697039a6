//! The bench's workload: node-exporter-shaped series scraped every 15 s, encoded in advance as
//! Prometheus remote-write bodies, sharded over the clients the way Prometheus shards its
//! remote-write queue (a series always goes through the same client, so each series' samples
//! arrive in time order even at a peer that refuses out-of-order samples).

use prost::Message as _;
use sensors::exposition::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use testkit::Rng;

/// Time between two scrapes of a target.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;

/// What to generate.
pub struct Spec {
    /// Number of series (hosts are added until there are this many).
    pub series: usize,
    /// Scrapes of every series.
    pub scrapes: usize,
    /// Concurrent clients the series are sharded over.
    pub clients: usize,
    /// Most samples per request.
    pub batch: usize,
    /// Consecutive samples of a series in one time series entry: 1 as Prometheus sends them;
    /// more as a sender that groups by series would.
    pub group: usize,
    /// Time of the last scrape (ms since the epoch).
    pub end_ms: i64,
}

/// The encoded requests, per client in sending order.
pub struct Workload {
    /// Bodies (snappy raw blocks of a `WriteRequest`) per client; leaked so that every run can
    /// hand them to the HTTP client without copying.
    pub bodies: Vec<Vec<&'static [u8]>>,
    /// Per client and body: whether it carries the first sample of some series (a receiver
    /// creates series for it, the slow path; the other bodies show the steady state).
    pub introduces: Vec<Vec<bool>>,
    /// Samples in all bodies.
    pub samples: u64,
    /// Hosts (`instance` values).
    pub hosts: usize,
    /// Encoded protobuf bytes before compression.
    pub raw_bytes: u64,
    /// Body bytes (after snappy).
    pub body_bytes: u64,
    /// Oldest and newest sample timestamp (ms).
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Workload {
    /// Requests over all clients.
    pub fn requests(&self) -> usize {
        self.bodies.iter().map(Vec::len).sum()
    }
}

/// How a value is rounded, as the exporter prints it.
#[derive(Clone, Copy)]
enum Round {
    /// To this many decimals (the nearest double of the decimal, as a parser would produce).
    Decimals(i32),
    /// To a multiple of this (whole bytes, pages, blocks).
    Multiple(f64),
}

impl Round {
    fn apply(self, x: f64) -> f64 {
        match self {
            Round::Decimals(d) => {
                let scale = 10f64.powi(d);
                (x * scale).round() / scale
            }
            Round::Multiple(m) => (x / m).round() * m,
        }
    }
}

/// How a series' value moves from one scrape to the next.
enum Shape {
    /// Grows by about `per_second` × 15 s per scrape (between half and one and a half times).
    Counter { per_second: f64, round: Round },
    /// Wanders by up to ±`step` per scrape within `low..=high`.
    Gauge {
        low: f64,
        high: f64,
        step: f64,
        round: Round,
    },
    /// Never changes (sizes, boot time).
    Constant,
}

struct Series {
    labels: Vec<Label>,
    /// The host's number (all its series share a scrape's timestamp).
    host: usize,
    /// Offset of the host's scrape within the interval (Prometheus spreads targets).
    offset_ms: i64,
    value: f64,
    shape: Shape,
}

/// A uniform number in `0..1`.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform number in `low..high`.
fn between(rng: &mut Rng, low: f64, high: f64) -> f64 {
    low + (high - low) * unit(rng)
}

impl Series {
    fn advance(&mut self, rng: &mut Rng) {
        match self.shape {
            Shape::Counter { per_second, round } => {
                let grown = per_second * 15.0 * between(rng, 0.5, 1.5);
                self.value = round.apply(self.value + grown);
            }
            Shape::Gauge {
                low,
                high,
                step,
                round,
            } => {
                let moved = self.value + step * between(rng, -1.0, 1.0);
                self.value = round.apply(moved.clamp(low, high));
            }
            Shape::Constant => {}
        }
    }
}

/// Adds the series of one host the way node-exporter exposes them.
struct Host<'a> {
    n: usize,
    instance: String,
    offset_ms: i64,
    out: &'a mut Vec<Series>,
}

impl Host<'_> {
    fn add(&mut self, name: &str, extra: &[(&str, &str)], value: f64, shape: Shape) {
        let mut labels = vec![
            Label {
                name: "__name__".into(),
                value: name.into(),
            },
            Label {
                name: "instance".into(),
                value: self.instance.clone(),
            },
            Label {
                name: "job".into(),
                value: "node".into(),
            },
        ];
        labels.extend(extra.iter().map(|(k, v)| Label {
            name: (*k).into(),
            value: (*v).into(),
        }));
        // The remote-write spec wants labels sorted by name (`__name__` sorts first).
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        self.out.push(Series {
            labels,
            host: self.n,
            offset_ms: self.offset_ms,
            value,
            shape,
        });
    }

    fn counter(
        &mut self,
        name: &str,
        extra: &[(&str, &str)],
        uptime: f64,
        per_second: f64,
        round: Round,
    ) {
        let start = round.apply(uptime * per_second);
        self.add(name, extra, start, Shape::Counter { per_second, round });
    }

    fn gauge(
        &mut self,
        name: &str,
        extra: &[(&str, &str)],
        start: f64,
        spread: (f64, f64, f64),
        round: Round,
    ) {
        let (low, high, step) = spread;
        let shape = Shape::Gauge {
            low,
            high,
            step,
            round,
        };
        self.add(name, extra, round.apply(start.clamp(low, high)), shape);
    }
}

const CPU_MODES: [(&str, f64); 8] = [
    ("idle", 0.80),
    ("iowait", 0.01),
    ("irq", 0.002),
    ("nice", 0.001),
    ("softirq", 0.004),
    ("steal", 0.003),
    ("system", 0.05),
    ("user", 0.13),
];
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const PAGE: Round = Round::Multiple(4096.0);
const WHOLE: Round = Round::Multiple(1.0);

/// Appends about a hundred series of host number `n`.
fn host_series(n: usize, rng: &mut Rng, out: &mut Vec<Series>) {
    let mut host = Host {
        n,
        instance: format!("node-{n:04}.dc1.example.net:9100"),
        offset_ms: rng.below(SCRAPE_INTERVAL_MS as u64 - 1000) as i64,
        out,
    };
    let uptime = between(rng, 86_400.0, 90.0 * 86_400.0);
    let cpus = [2usize, 4, 8, 16][rng.below(4) as usize];
    let busy = between(rng, 0.3, 1.7);
    for cpu in 0..cpus {
        let cpu = cpu.to_string();
        for (mode, share) in CPU_MODES {
            let share = if mode == "idle" { share } else { share * busy };
            host.counter(
                "node_cpu_seconds_total",
                &[("cpu", &cpu), ("mode", mode)],
                uptime,
                share * between(rng, 0.8, 1.2),
                Round::Decimals(2),
            );
        }
    }
    let total = [8.0, 16.0, 32.0, 64.0][rng.below(4) as usize] * GIB;
    host.gauge(
        "node_memory_MemTotal_bytes",
        &[],
        total,
        (total, total, 0.0),
        PAGE,
    );
    for (name, share, step) in [
        ("node_memory_MemFree_bytes", 0.10, 0.01),
        ("node_memory_MemAvailable_bytes", 0.45, 0.01),
        ("node_memory_Buffers_bytes", 0.02, 0.001),
        ("node_memory_Cached_bytes", 0.35, 0.005),
        ("node_memory_Active_bytes", 0.40, 0.005),
        ("node_memory_Inactive_bytes", 0.20, 0.005),
        ("node_memory_Dirty_bytes", 0.001, 0.0005),
    ] {
        let start = total * share * between(rng, 0.7, 1.3);
        host.gauge(name, &[], start, (0.0, total, total * step), PAGE);
    }
    host.gauge(
        "node_memory_SwapTotal_bytes",
        &[],
        2.0 * GIB,
        (0.0, 4.0 * GIB, 0.0),
        PAGE,
    );
    host.gauge(
        "node_memory_SwapFree_bytes",
        &[],
        1.9 * GIB,
        (GIB, 2.0 * GIB, 65_536.0),
        PAGE,
    );
    for (device, scale) in [("eth0", 1.0), ("eth1", 0.2), ("lo", 0.05), ("docker0", 0.1)] {
        let rx = 2.0e6 * scale * between(rng, 0.2, 2.0);
        let tx = rx * between(rng, 0.3, 1.5);
        let d = [("device", device)];
        host.counter("node_network_receive_bytes_total", &d, uptime, rx, WHOLE);
        host.counter("node_network_transmit_bytes_total", &d, uptime, tx, WHOLE);
        host.counter(
            "node_network_receive_packets_total",
            &d,
            uptime,
            rx / 900.0,
            WHOLE,
        );
        host.counter(
            "node_network_transmit_packets_total",
            &d,
            uptime,
            tx / 700.0,
            WHOLE,
        );
        host.counter("node_network_receive_errs_total", &d, uptime, 0.0, WHOLE);
    }
    for (device, mountpoint, fstype, size_gib) in [
        ("/dev/sda1", "/", "ext4", 50.0),
        ("/dev/sda2", "/boot", "ext4", 1.0),
        ("/dev/sdb1", "/var", "xfs", 200.0),
        ("/dev/sdb2", "/home", "xfs", 100.0),
        ("tmpfs", "/run", "tmpfs", 1.6),
    ] {
        let l = [
            ("device", device),
            ("fstype", fstype),
            ("mountpoint", mountpoint),
        ];
        let size = size_gib * GIB;
        let avail = size * between(rng, 0.1, 0.9);
        host.gauge(
            "node_filesystem_size_bytes",
            &l,
            size,
            (size, size, 0.0),
            PAGE,
        );
        host.gauge(
            "node_filesystem_avail_bytes",
            &l,
            avail,
            (0.0, size, 1.0e6),
            PAGE,
        );
        host.gauge(
            "node_filesystem_free_bytes",
            &l,
            avail * 1.05,
            (0.0, size, 1.0e6),
            PAGE,
        );
        let files = (size / 16_384.0).round();
        host.gauge(
            "node_filesystem_files",
            &l,
            files,
            (files, files, 0.0),
            WHOLE,
        );
        host.gauge(
            "node_filesystem_files_free",
            &l,
            files * 0.9,
            (0.0, files, 20.0),
            WHOLE,
        );
    }
    for (device, scale) in [("sda", 1.0), ("sdb", 3.0)] {
        let d = [("device", device)];
        let read = 1.0e5 * scale * between(rng, 0.1, 3.0);
        host.counter("node_disk_read_bytes_total", &d, uptime, read, WHOLE);
        host.counter(
            "node_disk_written_bytes_total",
            &d,
            uptime,
            read * 2.5,
            WHOLE,
        );
        host.counter(
            "node_disk_reads_completed_total",
            &d,
            uptime,
            read / 16_384.0,
            WHOLE,
        );
        host.counter(
            "node_disk_writes_completed_total",
            &d,
            uptime,
            read / 8_192.0,
            WHOLE,
        );
        host.counter(
            "node_disk_io_time_seconds_total",
            &d,
            uptime,
            0.02 * scale,
            Round::Decimals(3),
        );
    }
    let load = cpus as f64 * 0.2 * busy;
    for name in ["node_load1", "node_load5", "node_load15"] {
        host.gauge(
            name,
            &[],
            load,
            (0.0, cpus as f64 * 2.0, 0.1),
            Round::Decimals(2),
        );
    }
    host.counter(
        "node_context_switches_total",
        &[],
        uptime,
        3_000.0 * cpus as f64,
        WHOLE,
    );
    host.counter("node_intr_total", &[], uptime, 2_000.0 * cpus as f64, WHOLE);
    host.counter("node_forks_total", &[], uptime, 5.0, WHOLE);
    host.gauge(
        "node_procs_running",
        &[],
        2.0,
        (1.0, cpus as f64 * 2.0, 2.0),
        WHOLE,
    );
    host.gauge("node_procs_blocked", &[], 0.0, (0.0, 4.0, 1.0), WHOLE);
    host.gauge(
        "node_entropy_available_bits",
        &[],
        3_500.0,
        (256.0, 4_096.0, 50.0),
        WHOLE,
    );
    let boot = 1.7e9 - uptime.round();
    host.gauge(
        "node_boot_time_seconds",
        &[],
        boot,
        (boot, boot, 0.0),
        WHOLE,
    );
    host.add(
        "node_exporter_build_info",
        &[("version", "1.5.0")],
        1.0,
        Shape::Constant,
    );
}

/// Generates the series and encodes every request; deterministic for a given spec.
pub fn build(spec: &Spec) -> Workload {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut all = Vec::with_capacity(spec.series + 200);
    let mut hosts = 0;
    while all.len() < spec.series {
        host_series(hosts, &mut rng, &mut all);
        hosts += 1;
    }
    all.truncate(spec.series);

    let clients = spec.clients.max(1);
    let batch = spec.batch.max(1);
    let group = spec.group.max(1);
    // Per client: the time series entries of the request being filled, their samples, and
    // whether one of them is a series' first.
    let mut pending: Vec<(Vec<TimeSeries>, usize, bool)> =
        (0..clients).map(|_| (Vec::new(), 0, false)).collect();
    let mut bodies: Vec<Vec<&'static [u8]>> = vec![Vec::new(); clients];
    let mut introduces: Vec<Vec<bool>> = vec![Vec::new(); clients];
    let mut encoder = snap::raw::Encoder::new();
    let (mut raw_bytes, mut body_bytes, mut samples) = (0u64, 0u64, 0u64);
    let (mut first_ms, mut last_ms) = (i64::MAX, i64::MIN);
    let mut flush = |client: usize, request: &mut (Vec<TimeSeries>, usize, bool)| {
        let raw = WriteRequest {
            timeseries: std::mem::take(&mut request.0),
        }
        .encode_to_vec();
        request.1 = 0;
        introduces[client].push(std::mem::take(&mut request.2));
        let body = encoder
            .compress_vec(&raw)
            .expect("snappy compresses any input");
        raw_bytes += raw.len() as u64;
        body_bytes += body.len() as u64;
        bodies[client].push(Box::leak(body.into_boxed_slice()));
    };
    for first in (0..spec.scrapes).step_by(group) {
        let scrapes = first..(first + group).min(spec.scrapes);
        // A scrape's timestamp is its start: a few ms of jitter around the host's slot.
        let jitter: Vec<Vec<i64>> = scrapes
            .clone()
            .map(|_| (0..hosts).map(|_| rng.below(20) as i64).collect())
            .collect();
        for (i, series) in all.iter_mut().enumerate() {
            let mut entry = TimeSeries {
                labels: series.labels.clone(),
                samples: Vec::with_capacity(group),
            };
            for (k, scrape) in scrapes.clone().enumerate() {
                if scrape > 0 {
                    series.advance(&mut rng);
                }
                let behind = (spec.scrapes - 1 - scrape) as i64 * SCRAPE_INTERVAL_MS;
                let timestamp = spec.end_ms - behind - series.offset_ms + jitter[k][series.host];
                first_ms = first_ms.min(timestamp);
                last_ms = last_ms.max(timestamp);
                entry.samples.push(Sample {
                    value: series.value,
                    timestamp,
                });
            }
            samples += entry.samples.len() as u64;
            let request = &mut pending[i % clients];
            request.1 += entry.samples.len();
            request.2 |= first == 0;
            request.0.push(entry);
            if request.1 >= batch {
                flush(i % clients, request);
            }
        }
    }
    for (client, request) in pending.iter_mut().enumerate() {
        if !request.0.is_empty() {
            flush(client, request);
        }
    }
    Workload {
        bodies,
        introduces,
        samples,
        hosts,
        raw_bytes,
        body_bytes,
        first_ms,
        last_ms,
    }
}
