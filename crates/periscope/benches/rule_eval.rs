//! Rule evaluation over the in-memory head, against Prometheus evaluating the same rule file
//! over the same data.
//!
//! Generated before anything is timed: `PERISCOPE_BENCH_TARGETS_N` instances (default 1000),
//! each with `http_requests_total{instance,job,code}` counters for three codes, `node_load1`
//! and `node_filesystem_avail_bytes{mountpoint}` for three mount points, scraped every 15 s
//! for the last hour (ending a minute before the first evaluation); and a rule file of
//! `PERISCOPE_BENCH_RULES` rules (default 10 000) in groups of 100: half thresholds
//! (`node_load1{instance="i-17"} > 4`, `node_filesystem_avail_bytes{...} < 10e9`), half rates
//! (`rate(http_requests_total{instance="i-17",code="500"}[5m]) > 0.1`); of every ten rules two
//! record, four alert with `for: 10s` and four alert at once, alerts with a templated summary.
//!
//! Periscope: the samples go into a store's head in a temporary directory; every group is
//! evaluated once to warm up, then `PERISCOPE_BENCH_RUNS` passes (default 5), 5 s apart in
//! evaluation time, on this thread. A pass's figure is rules evaluated per second of this
//! thread's CPU time inside `Group::evaluate` (appending the outputs is timed apart). Printed:
//! median, min and max over the passes, and what the rules produced.
//!
//! Prometheus (when `prometheus` is on `PATH` or in `/usr/bin`; otherwise the install command
//! is printed and it is skipped; `PERISCOPE_BENCH_PROMETHEUS=0` skips it too): started on a
//! free loopback port with an empty data directory, the same rule file, a 5 s
//! `evaluation_interval` and no scrape jobs; the same samples pushed over remote-write (ending a
//! minute before now); once every group has evaluated over the complete data,
//! `PERISCOPE_BENCH_RUNS` snapshots of its `/metrics`, one interval apart. A snapshot's figure
//! is the sum of `prometheus_rule_group_rules` over the sum of
//! `prometheus_rule_group_last_duration_seconds`: Prometheus evaluates groups concurrently and
//! each duration is wall time, so the summed durations stand for one core's time (an
//! overestimate when the groups wait for a core). Also printed: rules evaluated per CPU-second
//! of the whole process between the first and last snapshot. The half gives up after 5 min.
//!
//! `PERISCOPE_BENCH_END_MS` (Unix milliseconds) pins the last scrape of Periscope's half instead
//! of a minute before now: the head cuts its chunks at two-hour boundaries of that clock, so
//! only with the same end do two runs read the same chunks (for comparing instruction counts).
//!
//! Run with `cargo bench -p periscope --bench rule_eval`. Figures: docs/benchmarks/rule-eval.md.

#[path = "rule_eval/periscope.rs"]
mod periscope;
#[path = "rule_eval/profile.rs"]
mod profile;
#[path = "rule_eval/prometheus.rs"]
mod prometheus;
#[path = "http_ingest/target.rs"]
mod target;
#[path = "rule_eval/workload.rs"]
mod workload;

#[path = "support.rs"]
mod support;

use std::process::ExitCode;
use std::time::Instant;

use model::Clock as _;

/// The target of issue 4, in simple rules per second per core.
const TARGET_RULES_PER_CORE_S: f64 = 100_000.0;

/// Median, min and max of `values` (not empty).
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn k(rate: f64) -> String {
    format!("{:.1} k", rate / 1e3)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs Periscope's half; its median rules/s per core.
fn run_periscope(
    root: &std::path::Path,
    data: &workload::Data,
    rule_file: &rules::rulefile::RuleFile,
    parts: &[workload::Parts],
    passes: usize,
) -> Option<f64> {
    let rules = parts.len();
    // Pinned, the head's chunks split at the same place in every run, so instruction counts
    // of two builds compare; the default matches what Prometheus gets.
    let end_ms = std::env::var("PERISCOPE_BENCH_END_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or_else(|| model::SystemClock.now().as_millis() - 60_000);
    let dir = root.join("periscope");
    let report = match periscope::run(&dir, data, rule_file, parts, end_ms, passes) {
        Ok(r) => r,
        Err(e) => {
            println!("periscope: FAILED: {e}");
            return None;
        }
    };
    println!(
        "periscope: {} samples into the head in {:.2} s; {} groups built in {:.0} ms",
        report.loaded,
        report.load_time.as_secs_f64(),
        rule_file.groups.len(),
        report.build_time.as_secs_f64() * 1e3
    );
    for (n, pass) in report.passes.iter().enumerate() {
        println!(
            "  pass {}: {} rules in {:.1} ms CPU ({:.1} ms wall): {} rules/s per core; \
             {} samples out ({} recorded series), {} rules failed{}; appending them took {:.1} ms CPU",
            n + 1,
            rules,
            pass.cpu.as_secs_f64() * 1e3,
            pass.wall.as_secs_f64() * 1e3,
            k(rules as f64 / pass.cpu.as_secs_f64().max(1e-9)),
            pass.samples,
            pass.recorded,
            pass.errors,
            pass.first_error
                .as_ref()
                .map_or(String::new(), |e| format!(" (first: {e})")),
            pass.append_cpu.as_secs_f64() * 1e3,
        );
    }
    println!(
        "  after the last pass: {} alerts firing, {} pending",
        report.firing, report.pending
    );
    let (median, min, max) = spread(
        report
            .passes
            .iter()
            .map(|p| rules as f64 / p.cpu.as_secs_f64().max(1e-9))
            .collect(),
    );
    let (us, ..) = spread(
        report
            .passes
            .iter()
            .map(|p| p.cpu.as_secs_f64() * 1e6 / rules as f64)
            .collect(),
    );
    println!(
        "  periscope: {} rules/s per core (median; {}..{}), {us:.2} µs per rule",
        k(median),
        k(min),
        k(max)
    );
    print_profile(&report, rules);
    Some(median)
}

/// Where the time goes: the group's own per-rule timings of the last pass, and the layers
/// timed apart.
fn print_profile(report: &periscope::Report, rules: usize) {
    let Some(last) = report.passes.last() else {
        return;
    };
    let us = |d: std::time::Duration, n: usize| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let p = &report.profile;
    println!(
        "  where the time goes (µs per rule; last pass, wall, as Group::evaluate times each rule): \
         thresholds {:.2}, rates {:.2}; recording {:.2}, alerting {:.2}; outside the rules {:.2}",
        us(last.by_shape[0], p.rules[0]),
        us(last.by_shape[1], p.rules[1]),
        us(last.by_kind[0], report.recording),
        us(last.by_kind[1], rules - report.recording),
        us(
            last.wall
                .saturating_sub(last.by_shape[0] + last.by_shape[1]),
            rules
        ),
    );
    for (s, name) in ["thresholds", "rates"].iter().enumerate() {
        println!(
            "  {name}, timed apart (µs per rule, CPU): Store::select {:.2}; evaluator without the comparison {:.2}; \
             whole expression {:.2}; in the group {:.2}",
            us(p.select[s], p.rules[s]),
            us(p.inner[s], p.rules[s]),
            us(p.expr[s], p.rules[s]),
            us(last.by_shape[s], p.rules[s]),
        );
    }
}

/// Runs Prometheus' half when it is installed; its median rules/s per core.
fn run_prometheus(
    root: &std::path::Path,
    data: &workload::Data,
    rule_set: &workload::RuleSet,
    snapshots: usize,
) -> Option<f64> {
    if std::env::var("PERISCOPE_BENCH_PROMETHEUS").is_ok_and(|v| v == "0") {
        println!("prometheus: PERISCOPE_BENCH_PROMETHEUS=0, skipped");
        return None;
    }
    let target = match target::Target::peer(target::Kind::Prometheus) {
        Ok(t) => t,
        Err(skipped) => {
            println!("{skipped}");
            return None;
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = match prometheus::run(
        &rt,
        root,
        &target,
        data,
        &rule_set.yaml,
        rule_set.groups,
        snapshots.max(2),
    ) {
        Ok(r) => r,
        Err(e) => {
            println!("prometheus: FAILED: {e}");
            return None;
        }
    };
    println!(
        "prometheus: {} ({}); {} samples pushed in {} remote-write requests in {:.1} s; stopped: {}",
        report.version,
        target.binary.display(),
        report.pushed,
        report.requests,
        report.push_time.as_secs_f64(),
        report.stopped
    );
    for (n, s) in report.snapshots.iter().enumerate() {
        println!(
            "  snapshot {}: {:.0} rules in {:.1} ms summed over groups: {} rules/s per core; {:.0} samples out",
            n + 1,
            s.rules,
            s.duration * 1e3,
            k(s.rules / s.duration.max(1e-9)),
            s.samples
        );
    }
    println!(
        "  at the end: {} alerts firing, {} pending; {:.0} rule evaluation failures",
        report.firing, report.pending, report.failures
    );
    if let Some(cpu) = report.cpu_between {
        println!(
            "  process CPU between the first and last snapshot: {:.2} s for {:.0} rules evaluated: {} rules per CPU-second (whole process, 10 ms ticks)",
            cpu.as_secs_f64(),
            report.rules_between,
            k(report.rules_between / cpu.as_secs_f64().max(1e-3))
        );
    }
    let (median, min, max) = spread(
        report
            .snapshots
            .iter()
            .map(|s| s.rules / s.duration.max(1e-9))
            .collect(),
    );
    println!(
        "  prometheus: {} rules/s per core (median; {}..{}), {:.1} µs per rule",
        k(median),
        k(min),
        k(max),
        1e6 / median
    );
    Some(median)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a filter argument is not meaningful here.
    let instances = support::env_usize("PERISCOPE_BENCH_TARGETS_N", 1000);
    let rules = support::env_usize("PERISCOPE_BENCH_RULES", 10_000);
    let runs = support::env_usize("PERISCOPE_BENCH_RUNS", 5);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let started = Instant::now();
    let data = workload::data(instances);
    let rule_set = workload::rules(rules, instances);
    let rule_file = match rules::rulefile::parse("rules.yml", &rule_set.yaml) {
        Ok(f) => f,
        Err(e) => {
            println!("the generated rule file does not load: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "workload: {instances} instances (PERISCOPE_BENCH_TARGETS_N), {} series, {} samples (1 h every 15 s); \
         {rules} rules (PERISCOPE_BENCH_RULES) in {} groups: {} thresholds, {} rates; {} alerting, {} recording; \
         generated in {:.1} s",
        data.series.len(),
        data.samples(),
        rule_set.groups,
        rule_set.thresholds,
        rule_set.rules - rule_set.thresholds,
        rule_set.alerting,
        rule_set.recording,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {runs} passes/snapshots (PERISCOPE_BENCH_RUNS), {cores} cores, load average {}\n",
        load_average()
    );

    let root = tempfile::tempdir().expect("temp dir");
    let ours = run_periscope(root.path(), &data, &rule_file, &rule_set.parts, runs);
    println!();
    let theirs = run_prometheus(root.path(), &data, &rule_set, runs);

    println!(
        "\nsummary ({cores} cores, load average {}):",
        load_average()
    );
    if let Some(ours) = ours {
        println!(
            "  periscope  {} rules/s per core; target {}: {}",
            k(ours),
            k(TARGET_RULES_PER_CORE_S),
            if ours >= TARGET_RULES_PER_CORE_S {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    if let Some(theirs) = theirs {
        println!("  prometheus {} rules/s per core", k(theirs));
    }
    if let (Some(ours), Some(theirs)) = (ours, theirs) {
        println!("  Periscope/Prometheus: {:.2}x", ours / theirs);
    }
    if ours.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
