//! The bench's data and rules, generated before anything is timed and identical for both
//! systems: per instance, `http_requests_total` counters for three status codes, a
//! `node_load1` gauge and `node_filesystem_avail_bytes` gauges for three mount points, scraped
//! every 15 s for an hour; and a Prometheus rule file of simple threshold and rate rules over
//! them, in groups of [`GROUP_SIZE`].

use std::fmt::Write as _;

use model::Labels;
use testkit::Rng;

/// Time between two scrapes of an instance.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;
/// Scrapes per series: one hour.
pub const SCRAPES: usize = 240;
/// Rules per group.
pub const GROUP_SIZE: usize = 100;
/// The `for` of the alerting rules that have one: two evaluations at the bench's 5 s
/// interval, so such alerts go from pending to firing while the bench runs.
pub const FOR: &str = "10s";

const CODES: [&str; 3] = ["200", "404", "500"];
const MOUNTS: [(&str, f64); 3] = [("/", 50.0), ("/var", 200.0), ("/home", 100.0)];
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One series and its value at every scrape.
pub struct Series {
    /// With `__name__`, `instance` and `job`.
    pub labels: Labels,
    /// Offset of the instance's scrapes within the interval (Prometheus spreads targets).
    pub offset_ms: i64,
    /// One value per scrape, oldest first.
    pub values: Vec<f64>,
}

/// Every series of every instance.
pub struct Data {
    /// Series, instance by instance.
    pub series: Vec<Series>,
}

impl Data {
    /// Samples over all series.
    pub fn samples(&self) -> usize {
        self.series.len() * SCRAPES
    }

    /// Timestamp (ms) of `series`' scrape number `scrape` when the last scrape of the hour is
    /// at about `end_ms`.
    pub fn timestamp(series: &Series, scrape: usize, end_ms: i64) -> i64 {
        end_ms - (SCRAPES - 1 - scrape) as i64 * SCRAPE_INTERVAL_MS - series.offset_ms
    }
}

/// A uniform number in `low..high`.
fn between(rng: &mut Rng, low: f64, high: f64) -> f64 {
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    low + (high - low) * unit
}

/// A counter growing by about `per_second` (between half and one and a half times), in whole
/// requests.
fn counter(rng: &mut Rng, start: f64, per_second: f64) -> Vec<f64> {
    let mut value = start.round();
    (0..SCRAPES)
        .map(|_| {
            value += (per_second * 15.0 * between(rng, 0.5, 1.5)).round();
            value
        })
        .collect()
}

/// A gauge wandering by up to ±`step` per scrape within `low..=high`, rounded to `round`.
fn gauge(rng: &mut Rng, start: f64, (low, high, step): (f64, f64, f64), round: f64) -> Vec<f64> {
    let mut value = start;
    (0..SCRAPES)
        .map(|_| {
            value = (value + step * between(rng, -1.0, 1.0)).clamp(low, high);
            (value / round).round() * round
        })
        .collect()
}

/// Generates `instances` instances' series; deterministic.
pub fn data(instances: usize) -> Data {
    let mut rng = Rng(0x5EED_0004_B0B0_0001);
    let mut series = Vec::with_capacity(instances * 7);
    for n in 0..instances {
        let base = Labels::new()
            .with("instance", format!("i-{n}"))
            .with("job", "app");
        let offset_ms = rng.below(SCRAPE_INTERVAL_MS as u64 - 1000) as i64;
        let mut add = |labels: Labels, values: Vec<f64>| {
            series.push(Series {
                labels,
                offset_ms,
                values,
            })
        };
        let uptime = between(&mut rng, 3_600.0, 30.0 * 86_400.0);
        let traffic = between(&mut rng, 5.0, 50.0);
        for (code, share) in CODES
            .into_iter()
            .zip([1.0, 0.02, between(&mut rng, 0.0, 0.01)])
        {
            let per_second = traffic * share;
            let values = counter(&mut rng, uptime * per_second, per_second);
            let labels = base
                .clone()
                .with("__name__", "http_requests_total")
                .with("code", code);
            add(labels, values);
        }
        let load = between(&mut rng, 0.2, 7.0);
        let values = gauge(&mut rng, load, (0.0, 8.0, 0.2), 0.01);
        add(base.clone().with("__name__", "node_load1"), values);
        for (mount, size_gib) in MOUNTS {
            let size = size_gib * GIB;
            let start = size * between(&mut rng, 0.05, 0.9);
            let values = gauge(&mut rng, start, (0.0, size, 2.0e6), 4096.0);
            let labels = base
                .clone()
                .with("__name__", "node_filesystem_avail_bytes")
                .with("mountpoint", mount);
            add(labels, values);
        }
    }
    Data { series }
}

/// What the rule file holds.
pub struct RuleSet {
    /// The YAML text, given to both systems.
    pub yaml: String,
    pub groups: usize,
    pub rules: usize,
    pub alerting: usize,
    pub recording: usize,
    /// Threshold rules (the others are rate rules).
    pub thresholds: usize,
    /// Each rule's parts, in file order, to time them apart.
    pub parts: Vec<Parts>,
}

/// A rule's expression taken apart: `inner > 4` where `inner` reads `selector`.
pub struct Parts {
    /// True for a threshold rule, false for a rate rule.
    pub threshold: bool,
    /// The selector's label matchers, `__name__` included, all `=`.
    pub selector: Vec<(&'static str, String)>,
    /// How far back the selector reads (ms): the lookback or the range.
    pub range_ms: i64,
    /// The expression without its comparison.
    pub inner: String,
    /// The whole expression.
    pub expr: String,
}

/// Takes a generated expression apart (the three shapes [`rules`] writes).
fn parts(threshold: bool, instance: &str, expr: &str) -> Parts {
    let (name, extra) = if !threshold {
        ("http_requests_total", Some(("code", "500")))
    } else if expr.starts_with("node_load1") {
        ("node_load1", None)
    } else {
        ("node_filesystem_avail_bytes", Some(("mountpoint", "/")))
    };
    let mut selector = vec![
        ("__name__", name.to_string()),
        ("instance", instance.to_string()),
    ];
    selector.extend(extra.map(|(k, v)| (k, v.to_string())));
    let inner = expr
        .rsplit_once(' ')
        .and_then(|(left, _)| left.rsplit_once(' '))
        .map_or(expr, |(left, _)| left)
        .to_string();
    Parts {
        threshold,
        selector,
        range_ms: 300_000,
        inner,
        expr: expr.to_string(),
    }
}

/// `rules` rules over `instances` instances in groups of [`GROUP_SIZE`]: even rules are
/// thresholds (`node_load1{instance="i-17"} > 4`, every other one on free disk space), odd ones
/// rates (`rate(http_requests_total{instance="i-17",code="500"}[5m]) > 0.1`); of every ten, two
/// are recording rules, four alerting rules with `for` and four alerting rules without.
pub fn rules(rules: usize, instances: usize) -> RuleSet {
    let mut set = RuleSet {
        yaml: String::from("groups:\n"),
        groups: 0,
        rules,
        alerting: 0,
        recording: 0,
        thresholds: 0,
        parts: Vec::with_capacity(rules),
    };
    let yaml = &mut set.yaml;
    for i in 0..rules {
        if i % GROUP_SIZE == 0 {
            let _ = writeln!(yaml, "  - name: bench-{:04}\n    rules:", i / GROUP_SIZE);
            set.groups += 1;
        }
        let instance = format!("i-{}", (i / 2) % instances.max(1));
        let threshold = i % 2 == 0;
        let (expr, alert, record, summary) = if !threshold {
            (
                format!(
                    "rate(http_requests_total{{instance=\"{instance}\",code=\"500\"}}[5m]) > 0.1"
                ),
                "HighErrorRate",
                "instance:http_errors:rate5m_over",
                "{{ $labels.instance }} answers {{ $value }} errors per second",
            )
        } else if (i / 2) % 2 == 0 {
            (
                format!("node_load1{{instance=\"{instance}\"}} > 4"),
                "HighLoad",
                "instance:node_load1:over4",
                "{{ $labels.instance }} has a load of {{ $value }}",
            )
        } else {
            (
                format!(
                    "node_filesystem_avail_bytes{{instance=\"{instance}\",mountpoint=\"/\"}} < 10e9"
                ),
                "DiskAlmostFull",
                "instance:root_avail_bytes:under10g",
                "{{ $labels.instance }} has {{ $value }} bytes free on /",
            )
        };
        set.thresholds += usize::from(threshold);
        set.parts.push(parts(threshold, &instance, &expr));
        // Each rule's own label keeps the outputs of rules on the same instance apart.
        match i % 10 {
            0 | 1 => {
                set.recording += 1;
                let _ = writeln!(
                    yaml,
                    "      - record: {record}\n        expr: '{expr}'\n        labels:\n          bench_rule: 'r{i}'"
                );
            }
            k => {
                set.alerting += 1;
                let _ = writeln!(yaml, "      - alert: {alert}\n        expr: '{expr}'");
                if k < 6 {
                    let _ = writeln!(yaml, "        for: {FOR}");
                }
                let _ = writeln!(
                    yaml,
                    "        labels:\n          severity: warning\n          bench_rule: 'r{i}'\n        annotations:\n          summary: '{summary}'"
                );
            }
        }
    }
    set
}
