//! Alert routing throughput and memory, against Alertmanager fed the same alerts in the same
//! run (PERFORMANCE.md, issue 5: at least 100 k alert updates per second per core through
//! routing, grouping and muting; 1 M active alerts under 1 GB).
//!
//! Generated before anything is timed ([`workload`]): `PERISCOPE_BENCH_ALERTS` distinct alerts
//! (default 1 000 000) labelled `alertname` (50), `instance` (20 000), `service` (100), `team`
//! (10), `cluster`, `job` and `level` (10 % critical, 85 % non-critical, 5 % logged), with a
//! summary and a description; a tree of 20 routes (by level with `continue`, by alert-name
//! regex, by team, and below four teams by service regex, level, job, instance regex and
//! cluster), all grouped by `[alertname, service]`; 50 silences (15 of them regexes, 10 with
//! no equality at all) and 10 inhibition rules with `equal`.
//!
//! Periscope ([`periscope`]), `PERISCOPE_BENCH_RUNS` times (default 3), each on a fresh
//! pipeline on this thread, the figures from this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`):
//! - phase 1, insert: every alert ingested once, firing, at one instant; updates/s, and the
//!   heap the pipeline holds for them (a counting global allocator: live bytes after minus
//!   before) with the process's RSS;
//! - phase 2, update: every alert sent again once in a strided order (new annotation values,
//!   one in ten resolved), spread over 10 simulated minutes with `tick` every simulated 5 s
//!   (two group flushes: mute checks, dedup, deliveries, each reported delivered at once);
//!   updates/s including the ticks, and the deliveries made.
//!
//! Alertmanager ([`alertmanager`]), once, unless `PERISCOPE_BENCH_ALERTMANAGER=0` or it is not
//! installed: the same alerts over `POST /api/v2/alerts` (see that module), with
//! `PERISCOPE_BENCH_AM_ALERTS` alerts (default: the same count).
//!
//! Run with `cargo bench -p notify --bench routing`. Figures: docs/benchmarks/notify-routing.md.

// The counting allocator must implement `GlobalAlloc` and the thread CPU clock is read with
// `clock_gettime`: both unsafe by signature, each use carries a SAFETY note.
#![allow(unsafe_code)]

#[path = "routing/alertmanager.rs"]
mod alertmanager;
#[path = "routing/periscope.rs"]
mod periscope;
#[path = "routing/workload.rs"]
mod workload;

use std::process::ExitCode;
use std::time::Duration;

use model::Timestamp;

/// The targets of issue 5.
const TARGET_UPDATES_PER_CORE_S: f64 = 100_000.0;
const TARGET_BYTES_PER_MILLION: f64 = 1e9;

/// Live heap, counted by the global allocator.
mod alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicI64, Ordering};

    static BYTES: AtomicI64 = AtomicI64::new(0);
    static BLOCKS: AtomicI64 = AtomicI64::new(0);

    /// The system allocator, counting what is live.
    pub struct Counting;

    // SAFETY: every call is passed through to `System` unchanged; the counters only add.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
                BLOCKS.fetch_add(1, Ordering::Relaxed);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
                BLOCKS.fetch_add(1, Ordering::Relaxed);
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
            BLOCKS.fetch_sub(1, Ordering::Relaxed);
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`; `new_size` is checked by the caller.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
            }
            p
        }
    }

    /// Bytes and blocks live now.
    pub fn live() -> (i64, i64) {
        (
            BYTES.load(Ordering::Relaxed),
            BLOCKS.load(Ordering::Relaxed),
        )
    }
}

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// CPU time this thread has used, to the nanosecond.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in kB (0 when unreadable).
fn proc_status(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// RSS of process `pid`, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    Some(proc_status(pid).0).filter(|&kb| kb > 0)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ' '], "").parse().ok())
        .unwrap_or(default)
        .max(1)
}

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
    format!("{:.0} k", rate / 1e3)
}

fn mb(bytes: f64) -> String {
    format!("{:.0} MB", bytes / 1e6)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Periscope's medians.
struct Ours {
    insert: f64,
    update: f64,
    all_in: f64,
    bytes: f64,
    groups: usize,
    muted: [usize; 4],
}

/// Periscope's runs.
fn run_periscope(n: usize, runs: usize) -> Option<Ours> {
    // Monday 2026-11-23 10:00 UTC.
    let t0 = Timestamp(1_795_428_000_000);
    println!("periscope: {runs} runs (PERISCOPE_BENCH_RUNS), each a fresh pipeline on one thread");
    let mut insert_rates = Vec::new();
    let mut update_rates = Vec::new();
    let mut all_in = Vec::new();
    let mut bytes = Vec::new();
    let mut groups = 0;
    let mut muted = [0; 4];
    for run in 1..=runs {
        let (insert, update) = match periscope::run(n, t0) {
            Ok(r) => r,
            Err(e) => {
                println!("  run {run}: {e}");
                return None;
            }
        };
        let r1 = n as f64 / insert.cpu.as_secs_f64();
        let r2 = n as f64 / update.cpu.as_secs_f64();
        let r = 2.0 * n as f64 / (insert.cpu + update.cpu).as_secs_f64();
        println!(
            "  run {run}: insert {} updates/s ({:.2} s CPU), heap {} ({:.0} B/alert, of which {:.0} B the alert's own \
             labels and annotations; {:.1} blocks/alert), \
             RSS {} MB, {} groups, {} alert-group memberships",
            k(r1),
            insert.cpu.as_secs_f64(),
            mb(insert.bytes as f64),
            insert.bytes as f64 / n as f64,
            insert.alert_bytes as f64 / n as f64,
            insert.blocks as f64 / n as f64,
            insert.rss_kb / 1000,
            insert.groups,
            insert.held,
        );
        let [silenced, inhibited, maintenance, dependency] = insert.muted;
        println!(
            "         when the first flush is due: {silenced} alerts silenced, {inhibited} inhibited \
             and not silenced; {maintenance} in maintenance and {dependency} muted by a \
             dependency (Periscope only)",
        );
        let ingest = update.cpu.saturating_sub(update.tick_cpu);
        println!(
            "         phase 2 split: the updates alone {} updates/s; the ticks {:.2} µs per \
             alert-group membership per flush ({} flushes of every group)",
            k(n as f64 / ingest.as_secs_f64()),
            update.tick_cpu.as_secs_f64() * 1e6 / (insert.held as f64 * periscope::FLUSHES as f64),
            periscope::FLUSHES,
        );
        let c = update.counters;
        println!(
            "         update {} updates/s ({:.2} s CPU, of which ticks {:.2} s over {} ticks), \
             {} deliveries, {} state writes; muted {}, delivered {}, logged {}",
            k(r2),
            update.cpu.as_secs_f64(),
            update.tick_cpu.as_secs_f64(),
            update.ticks,
            update.deliveries,
            update.writes,
            c.muted,
            c.delivered,
            c.logged,
        );
        insert_rates.push(r1);
        update_rates.push(r2);
        all_in.push(r);
        bytes.push(insert.bytes as f64);
        groups = insert.groups;
        muted = insert.muted;
    }
    println!(
        "\n  {:<34} {:>10} {:>10} {:>10}",
        "periscope, per core", "median", "min", "max"
    );
    let row = |name: &str, v: &[f64], show: fn(f64) -> String| {
        let (m, lo, hi) = spread(v.to_vec());
        println!(
            "  {name:<34} {:>10} {:>10} {:>10}",
            show(m),
            show(lo),
            show(hi)
        );
        m
    };
    Some(Ours {
        insert: row("phase 1 insert, updates/s", &insert_rates, k),
        update: row("phase 2 update+tick, updates/s", &update_rates, k),
        all_in: row("both phases, updates/s", &all_in, k),
        bytes: row("heap held after phase 1", &bytes, mb),
        groups,
        muted,
    })
}

fn main() -> ExitCode {
    let n = env_usize("PERISCOPE_BENCH_ALERTS", 1_000_000);
    let runs = env_usize("PERISCOPE_BENCH_RUNS", 3);
    let am_n = env_usize("PERISCOPE_BENCH_AM_ALERTS", n);
    let am_enabled = std::env::var("PERISCOPE_BENCH_ALERTMANAGER").map_or(true, |v| v != "0");
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let spec = workload::routes();
    println!(
        "workload: {n} alerts (PERISCOPE_BENCH_ALERTS), {} routes, {} receivers, {} silences, \
         {} inhibition rules; group_by [{}]; {cores} cores, load average {}\n",
        workload::route_count(&spec),
        workload::receivers(&spec).len(),
        workload::silences().len(),
        workload::inhibit_rules().len(),
        workload::GROUP_BY.join(", "),
        load_average(),
    );
    let ours = run_periscope(n, runs);

    println!();
    let theirs = match (am_enabled, alertmanager::find()) {
        (false, _) => {
            println!("alertmanager: skipped (PERISCOPE_BENCH_ALERTMANAGER=0)");
            None
        }
        (true, None) => {
            println!(
                "alertmanager: `alertmanager` not found on PATH or in /usr/bin, skipped \
                 (install: apt-get update && apt-get install -y prometheus-alertmanager)"
            );
            None
        }
        (true, Some(binary)) => {
            run_alertmanager(&binary, am_n, ours.as_ref().filter(|_| am_n == n))
        }
    };

    println!(
        "\nsummary ({cores} cores, load average {}):",
        load_average()
    );
    let Some(Ours {
        insert,
        update,
        all_in,
        bytes,
        ..
    }) = ours
    else {
        return ExitCode::FAILURE;
    };
    println!(
        "  periscope     insert {} / update {} / both {} updates/s per core; target {}: {}",
        k(insert),
        k(update),
        k(all_in),
        k(TARGET_UPDATES_PER_CORE_S),
        met(insert.min(update) >= TARGET_UPDATES_PER_CORE_S),
    );
    let per_million = bytes / n as f64 * 1e6;
    println!(
        "  periscope     heap per 1 M active alerts {}; target under {}: {}",
        mb(per_million),
        mb(TARGET_BYTES_PER_MILLION),
        met(per_million < TARGET_BYTES_PER_MILLION),
    );
    if let Some((am_insert, am_update, am_all)) = theirs {
        println!(
            "  alertmanager  insert {} / update {} / both {} updates per CPU-second",
            k(am_insert),
            k(am_update),
            k(am_all)
        );
        println!(
            "  Periscope/Alertmanager: insert {:.1}x, update {:.1}x, both {:.1}x",
            insert / am_insert,
            update / am_update,
            all_in / am_all
        );
    }
    ExitCode::SUCCESS
}

/// Alertmanager's half; (insert, update, all-in) updates per CPU-second.
/// `ours`, when given, ran the same number of alerts: its group count is compared.
fn run_alertmanager(
    binary: &std::path::Path,
    n: usize,
    ours: Option<&Ours>,
) -> Option<(f64, f64, f64)> {
    println!(
        "alertmanager: {} ({}), {n} alerts (PERISCOPE_BENCH_AM_ALERTS), batches of {}, {} clients",
        binary.display(),
        alertmanager::version(binary),
        alertmanager::BATCH,
        alertmanager::CLIENTS,
    );
    let m = match alertmanager::run(binary, n) {
        Ok(m) => m,
        Err(e) => {
            println!("  failed: {e}");
            return None;
        }
    };
    let per_cpu = |p: &alertmanager::Pass| p.accepted as f64 / p.cpu.as_secs_f64();
    for (name, p) in [("insert", &m.insert), ("update", &m.update)] {
        println!(
            "  {name}: {} accepted in {:.1} s wall ({} alerts/s), {:.1} s CPU ({} per CPU-second)",
            p.accepted,
            p.wall.as_secs_f64(),
            k(p.accepted as f64 / p.wall.as_secs_f64()),
            p.cpu.as_secs_f64(),
            k(per_cpu(p)),
        );
    }
    let logged = workload::logged_groups(n);
    println!(
        "  first flush after the insert pass: {:.1} s CPU; aggregation groups {} \
         (Periscope's tree would form {} plus {logged} for `logged` alerts); \
         RSS at the end {} MB (peak {} MB)",
        m.flush_cpu.as_secs_f64(),
        m.groups.map_or("?".into(), |g| format!("{g:.0}")),
        ours.map_or("?".into(), |o| o.groups.to_string()),
        m.rss_kb / 1000,
        m.hwm_kb / 1000,
    );
    match m.census {
        Some((silenced, inhibited)) => println!(
            "  after the first flush: {silenced} alerts silenced, {inhibited} inhibited and not \
             silenced (Periscope: {})",
            ours.map_or("?".into(), |o| format!("{}, {}", o.muted[0], o.muted[1])),
        ),
        None => println!(
            "  muted-alert census skipped above {} alerts",
            alertmanager::CENSUS_MAX
        ),
    }
    let all = (m.insert.accepted + m.update.accepted) as f64
        / (m.insert.cpu + m.flush_cpu + m.update.cpu).as_secs_f64();
    Some((per_cpu(&m.insert), per_cpu(&m.update), all))
}
