//! Log monitor throughput, against mtail when it is installed.
//!
//! Generates a deterministic application log (`PERISCOPE_BENCH_BYTES`, default 1 GiB) in a
//! temporary directory (removed at exit), then times one check of the log monitor over the
//! whole file:
//!
//! 1. ten counting rules (regexes, as mtail would be given them), about 6 % of lines matching;
//! 2. ten rules that never match (scan speed), with record timestamps parsed as in 1;
//! 3. the same with `timestamp = { format = "none" }`: only the literal search and line count;
//! 4. GNU grep with the same never-matching regexes (`-E`) and with their literal parts (`-F`),
//!    the peers for 2 and 3 (the ratio to them is the figure that carries across machines);
//!
//! each `PERISCOPE_BENCH_RUNS` times (default 3; median, min and max reported, and the median
//! CPU time of the process, which stays meaningful when other work shares the machine). If
//! `mtail` is on `PATH`, an equivalent mtail program (ten counters, same regexes) runs with
//! `--one_shot` over the same file; both counts are printed and must be identical, and the speed
//! ratio is printed.
//!
//! Run with `cargo bench -p sensors --bench log_scan`; e.g. `PERISCOPE_BENCH_BYTES=200000000`
//! for a shorter run. The file is read from the page cache (it was just written), so the
//! figures are CPU throughput, not disk speed.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use model::{CheckContext, FactValue, Monitor, Observation, Timestamp};
use sensors::BuildContext;
use sensors::log::LogSettings;
use testkit::Rng;

/// The counting rules: (name, regex). Written in the common subset of Rust regex and RE2.
const COUNTING: [(&str, &str); 10] = [
    ("get_loans", r"ERROR .*GetLoans"),
    ("timeout", r"Timeout after \d+ ms"),
    ("http_5xx", r"status=5\d\d"),
    ("refused", r"Connection refused"),
    ("login", r"user=\w+ login failed"),
    ("disk", r"disk (full|quota exceeded)"),
    ("oom", r"OutOfMemoryError"),
    ("retry", r"WARN .*retry"),
    ("deadlock", r"deadlock detected"),
    ("npe", r"NullPointerException"),
];

/// Rules that the generated log never matches: typical error phrases.
const NEVER: [(&str, &str); 10] = [
    ("fatal", r"FATAL"),
    ("segv", r"Segmentation fault"),
    ("panic", r"panic: "),
    ("traceback", r"Traceback \(most recent call last\)"),
    ("critical", r"CRITICAL"),
    ("kernel", r"kernel BUG at"),
    ("stack", r"StackOverflowError"),
    ("files", r"Too many open files"),
    ("space", r"No space left on device"),
    ("killed", r"Killed process \d+"),
];

/// The literal text every match of the corresponding [`NEVER`] rule contains: what a literal
/// prefilter searches for. (For grep's `-E`, `\d` is written `[0-9]`: POSIX has no `\d`.)
const NEVER_LITERALS: [&str; 10] = [
    "FATAL",
    "Segmentation fault",
    "panic: ",
    "Traceback (most recent call last)",
    "CRITICAL",
    "kernel BUG at",
    "StackOverflowError",
    "Too many open files",
    "No space left on device",
    "Killed process ",
];

const DEFAULT_BYTES: u64 = 1 << 30;
/// The generated timestamps' layout.
const TS_FORMAT: &str = "%Y-%m-%d %H:%M:%S,%f";

/// Writes about `bytes` bytes of log lines; returns the number of lines.
fn generate(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut written, mut lines) = (0u64, 0u64);
    let mut ms_of_day: u64 = 0;
    let mut line = String::with_capacity(256);
    while written < bytes {
        ms_of_day = (ms_of_day + rng.below(40)) % 86_400_000;
        let (h, m, s, ms) = (
            ms_of_day / 3_600_000,
            ms_of_day / 60_000 % 60,
            ms_of_day / 1000 % 60,
            ms_of_day % 1000,
        );
        let (w, id, user, took) = (
            rng.below(16),
            rng.below(1_000_000),
            rng.below(500),
            rng.below(3000),
        );
        line.clear();
        use std::fmt::Write as _;
        let _ = write!(line, "2024-03-10 {h:02}:{m:02}:{s:02},{ms:03} ");
        // One line in 16 carries one of the ten counted conditions.
        let _ = match (rng.below(16), rng.below(10)) {
            (0, 0) => writeln!(
                line,
                "ERROR [worker-{w}] com.example.GetLoans - failed to load loans for id={id}"
            ),
            (0, 1) => writeln!(
                line,
                "WARN [worker-{w}] com.example.Client - Timeout after {took} ms calling debts"
            ),
            (0, 2) => writeln!(
                line,
                "INFO [worker-{w}] com.example.Http - GET /loans/{id} status=503"
            ),
            (0, 3) => writeln!(
                line,
                "ERROR [worker-{w}] com.example.Db - Connection refused to db{user}"
            ),
            (0, 4) => writeln!(
                line,
                "WARN [worker-{w}] com.example.Auth - user=user{user} login failed"
            ),
            (0, 5) if id % 2 == 0 => writeln!(
                line,
                "ERROR [worker-{w}] com.example.Store - disk full on /data{user}"
            ),
            (0, 5) => writeln!(
                line,
                "ERROR [worker-{w}] com.example.Store - disk quota exceeded for user{user}"
            ),
            (0, 6) => writeln!(
                line,
                "ERROR [worker-{w}] java.lang.OutOfMemoryError: Java heap space"
            ),
            (0, 7) => writeln!(
                line,
                "WARN [worker-{w}] com.example.Queue - will retry in {took} ms"
            ),
            (0, 8) => writeln!(
                line,
                "ERROR [worker-{w}] com.example.Db - deadlock detected on table loans"
            ),
            (0, _) => writeln!(
                line,
                "ERROR [worker-{w}] java.lang.NullPointerException at com.example.Service.run"
            ),
            _ => writeln!(
                line,
                "INFO [worker-{w}] com.example.loans.Service - request id={id} user=user{user} took {took} ms status=200"
            ),
        };
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        lines += 1;
    }
    out.flush()?;
    Ok(lines)
}

fn monitor(
    dir: &Path,
    file: &Path,
    rules: &[(&str, &str)],
    timestamp: &str,
) -> sensors::log::LogMonitor {
    let mut rule_table = serde_json::Map::new();
    for (name, re) in rules {
        rule_table.insert(name.to_string(), serde_json::json!({ "regex": re }));
    }
    let settings = serde_json::json!({
        "paths": [file.display().to_string()],
        "timestamp": { "format": timestamp },
        "flush_after": "0s",
        "rules": rule_table,
    });
    let settings: LogSettings = serde_json::from_value(settings).expect("bench settings");
    let ctx = BuildContext {
        base_dir: dir.to_path_buf(),
        timeout: Duration::from_secs(3600),
    };
    settings
        .build("bench", &ctx)
        .unwrap_or_else(|e| panic!("bench settings rejected: {e:?}"))
}

fn count_fact(o: &Observation, key: &str) -> u64 {
    match o
        .fragment
        .facts
        .iter()
        .find(|f| f.key == key)
        .map(|f| &f.value)
    {
        Some(FactValue::Count(n)) => *n,
        other => panic!("fact {key}: {other:?}"),
    }
}

fn matches(o: &Observation, rule: &str) -> u64 {
    o.samples
        .iter()
        .find(|s| s.name == "periscope_log_matches" && s.labels.get("rule") == Some(rule))
        .map_or(0, |s| s.value as u64)
}

struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
    /// Median CPU time of the process's threads: unlike wall time, it does not grow when
    /// other work shares the cores, so "per core" figures stay comparable on a busy machine.
    cpu: Option<Duration>,
}

/// CPU time used so far by every thread of this process (`/proc/self/task/*/schedstat`,
/// nanoseconds); `None` where the kernel does not keep it. The check's reads run on a blocking
/// pool thread, which outlives a run, so the sum before and after covers it.
fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in fs::read_dir("/proc/self/task").ok()? {
        let stat = fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn time_runs(runs: usize, mut f: impl FnMut() -> Observation) -> (Observation, Timing) {
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_time());
        let o = f();
        times.push(t.elapsed());
        if let (Some(before), Some(after)) = (c, cpu_time()) {
            cpu.push(after.saturating_sub(before));
        }
        last = Some(o);
    }
    times.sort();
    cpu.sort();
    let timing = Timing {
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
        cpu: (cpu.len() == runs).then(|| cpu[runs / 2]),
    };
    (last.expect("at least one run"), timing)
}

fn report(what: &str, lines: u64, bytes: u64, t: &Timing) -> f64 {
    let rate = |d: Duration| lines as f64 / d.as_secs_f64();
    let gbs = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e9;
    println!(
        "{what}: median {:.3} s (min {:.3}, max {:.3}) = {:.2} M lines/s, {:.2} GB/s (best {:.2} M lines/s, {:.2} GB/s)",
        t.median.as_secs_f64(),
        t.min.as_secs_f64(),
        t.max.as_secs_f64(),
        rate(t.median) / 1e6,
        gbs(t.median),
        rate(t.min) / 1e6,
        gbs(t.min),
    );
    if let Some(cpu) = t.cpu {
        println!(
            "  per CPU second (median {:.3} s of CPU): {:.2} M lines/s, {:.2} GB/s",
            cpu.as_secs_f64(),
            rate(cpu) / 1e6,
            gbs(cpu),
        );
    }
    rate(t.median)
}

/// Times `grep -c MODE` over the file with `patterns`, in the C locale as a log scanner would
/// run it: the peer for the scan that matches nothing.
fn time_grep(file: &Path, runs: usize, mode: &str, patterns: &[String]) -> Result<Timing, String> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let mut grep = Command::new("grep");
        grep.env("LC_ALL", "C").args(["-c", mode]);
        for pattern in patterns {
            grep.arg("-e").arg(pattern);
        }
        let start = Instant::now();
        let out = grep
            .arg(file)
            .output()
            .map_err(|e| format!("cannot run grep: {e}"))?;
        times.push(start.elapsed());
        // Exit status 1 is "no line selected", the expected outcome.
        let count = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.code() != Some(1) || count != "0" {
            return Err(format!("grep selected {count} lines ({})", out.status));
        }
    }
    times.sort();
    Ok(Timing {
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
        // A child's CPU time is not in this process's threads; grep is single-threaded and
        // reads from the page cache, so its wall time is its CPU time.
        cpu: None,
    })
}

/// Runs mtail over the file: per-counter values and the elapsed time, or why it could not.
fn run_mtail(dir: &Path, file: &Path) -> Result<(Vec<u64>, Duration), String> {
    let progs = dir.join("progs");
    fs::create_dir_all(&progs).map_err(|e| e.to_string())?;
    let mut prog = String::new();
    for i in 0..COUNTING.len() {
        prog.push_str(&format!("counter r{i}\n"));
    }
    for (i, (_, re)) in COUNTING.iter().enumerate() {
        prog.push_str(&format!("/{re}/ {{\n  r{i}++\n}}\n"));
    }
    fs::write(progs.join("bench.mtail"), prog).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let out = Command::new("mtail")
        .args([
            "--one_shot",
            "--one_shot_format=prometheus",
            "--logtostderr",
            "--progs",
        ])
        .arg(&progs)
        .arg("--logs")
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run mtail: {e}"))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "mtail failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = vec![0; COUNTING.len()];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        let name = name.split('{').next().unwrap_or(name);
        if let Some(i) = name.strip_prefix('r').and_then(|n| n.parse::<usize>().ok())
            && i < counts.len()
        {
            counts[i] = value
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("mtail output {line:?}: {e}"))? as u64;
        }
    }
    Ok((counts, elapsed))
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a filter argument is not meaningful here.
    let bytes = std::env::var("PERISCOPE_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BYTES);
    let runs = std::env::var("PERISCOPE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("app.log");
    println!(
        "generating {bytes} bytes (PERISCOPE_BENCH_BYTES) of log into {} (removed at exit)",
        file.display()
    );
    let t = Instant::now();
    let lines = generate(&file, bytes).expect("generate log");
    let size = fs::metadata(&file).expect("stat").len();
    println!(
        "generated {lines} lines, {size} bytes in {:.1} s; {runs} runs each (PERISCOPE_BENCH_RUNS)\n",
        t.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let check = |m: &sensors::log::LogMonitor| {
        // Time is an argument: the bench's "now" only matters for flushing, which is disabled.
        let ctx = CheckContext {
            now: Timestamp(0),
            state: None,
        };
        rt.block_on(m.check(ctx)).expect("check")
    };

    let mut failed = false;
    let counting = monitor(dir.path(), &file, &COUNTING, TS_FORMAT);
    let (o, t_count) = time_runs(runs, || check(&counting));
    let ours: Vec<u64> = COUNTING.iter().map(|(n, _)| matches(&o, n)).collect();
    let records = count_fact(&o, "records");
    if records != lines || count_fact(&o, "records_with_timestamp") != lines {
        println!(
            "ERROR: read {records} records, {} with timestamps, of {lines} lines",
            count_fact(&o, "records_with_timestamp")
        );
        failed = true;
    }
    let our_rate = report("periscope, 10 counting rules", lines, size, &t_count);
    println!(
        "  matches: {} (total {})",
        ours.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        ours.iter().sum::<u64>()
    );

    // Lines per second of the never-matching scans, with and without timestamps.
    let mut never_rates = Vec::new();
    for (what, format) in [("", TS_FORMAT), (", timestamps not parsed", "none")] {
        let never = monitor(dir.path(), &file, &NEVER, format);
        let (o, t_never) = time_runs(runs, || check(&never));
        let none: u64 = NEVER.iter().map(|(n, _)| matches(&o, n)).sum();
        if none != 0 || count_fact(&o, "records") != lines {
            println!("ERROR: never-matching rules matched {none} records");
            failed = true;
        }
        never_rates.push(report(
            &format!("periscope, 10 rules never matching{what}"),
            lines,
            size,
            &t_never,
        ));
    }
    let regexes: Vec<String> = NEVER
        .iter()
        .map(|(_, re)| re.replace(r"\d", "[0-9]"))
        .collect();
    let literals: Vec<String> = NEVER_LITERALS.iter().map(|l| l.to_string()).collect();
    for (what, mode, patterns) in [
        ("the same 10 never-matching regexes", "-E", &regexes),
        ("their literal parts (a prefilter alone)", "-F", &literals),
    ] {
        match time_grep(&file, runs, mode, patterns) {
            Ok(t) => {
                let grep_rate = report(&format!("GNU grep -c {mode}, {what}"), lines, size, &t);
                println!(
                    "  periscope/grep {mode} speed ratio (median): {:.1}x with timestamps, {:.1}x without",
                    never_rates[0] / grep_rate,
                    never_rates[1] / grep_rate,
                );
            }
            Err(e) => println!("grep: {e}"),
        }
    }

    println!();
    match Command::new("mtail").arg("--version").output() {
        Err(_) => println!(
            "mtail: not found on PATH, comparison skipped (install: apt-get install -y mtail)"
        ),
        Ok(_) => match run_mtail(dir.path(), &file) {
            Err(e) => {
                println!("mtail: {e}");
                failed = true;
            }
            Ok((theirs, elapsed)) => {
                let rate = lines as f64 / elapsed.as_secs_f64();
                println!(
                    "mtail --one_shot, same 10 regexes: {:.3} s = {:.3} M lines/s, {:.3} GB/s (one run)",
                    elapsed.as_secs_f64(),
                    rate / 1e6,
                    size as f64 / elapsed.as_secs_f64() / 1e9
                );
                println!(
                    "  counts:    {}",
                    theirs
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!(
                    "  periscope: {}",
                    ours.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                if theirs == ours {
                    println!(
                        "  counts identical; periscope/mtail speed ratio (median): {:.1}x",
                        our_rate / rate
                    );
                } else {
                    println!("  COUNTS DIFFER");
                    failed = true;
                }
            }
        },
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
