//! Periscope's side: the data written into a store's head in a temporary directory, the rule
//! file built into [`rules::group::Group`]s, and every group evaluated on this thread, pass
//! after pass, with the thread's CPU time measured around each pass.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::alert::AlertPhase;
use model::{Appender as _, Labels, SeriesRef, Timestamp};
use rules::group::{Group, GroupOptions, OutputSample};
use store::{Store, StoreOptions};
use testkit::ManualClock;

use crate::profile::{self, Profile};
use crate::workload::{Data, Parts, SCRAPES};

/// Time between two passes, in the evaluation times handed to the groups (Prometheus' 5 s
/// `evaluation_interval` in the other half of the bench).
pub const PASS_STEP_MS: i64 = 5_000;

/// One timed pass over every group.
pub struct Pass {
    /// CPU time of this thread spent in `Group::evaluate`.
    pub cpu: Duration,
    /// Wall time of the same.
    pub wall: Duration,
    /// CPU time of this thread appending the outputs (commit wait not included).
    pub append_cpu: Duration,
    /// Samples the rules produced (recorded series, `ALERTS`, `ALERTS_FOR_STATE`, stale
    /// markers).
    pub samples: usize,
    /// Series the recording rules produced.
    pub recorded: usize,
    /// Rules that failed, and the first message.
    pub errors: usize,
    pub first_error: Option<String>,
    /// Wall time of the rules by shape (threshold, rate), as the group measured each rule.
    pub by_shape: [Duration; 2],
    /// Wall time of the rules by kind (recording, alerting).
    pub by_kind: [Duration; 2],
}

/// What the Periscope side measured.
pub struct Report {
    /// Samples written into the head, and how long that took.
    pub loaded: usize,
    pub load_time: Duration,
    /// Building the groups from the rule file (parsing every expression and template).
    pub build_time: Duration,
    pub passes: Vec<Pass>,
    /// Alerts pending and firing after the last pass.
    pub pending: usize,
    pub firing: usize,
    /// Recording rules in the file.
    pub recording: usize,
    /// The layers of the rules timed apart after the passes.
    pub profile: Profile,
}

/// CPU time this thread has used, from `/proc/thread-self/schedstat` (nanoseconds; the
/// kernel updates it only at a scheduler tick or a context switch, every 4 ms here).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// The thread's CPU time read right after the kernel updated it: spins until the value
/// changes, and says when it did.
fn fresh_cpu() -> (Duration, Instant) {
    let stale = thread_cpu();
    loop {
        let now = thread_cpu();
        if now != stale {
            return (now, Instant::now());
        }
    }
}

/// Measures this thread's CPU time to well under the kernel's 4 ms update step: starts at a
/// fresh reading, and at the end spins to the next fresh reading and takes the spin off.
pub struct CpuTimer {
    start: Duration,
}

impl CpuTimer {
    /// Starts measuring (after up to one tick of spinning, not counted).
    pub fn start() -> CpuTimer {
        CpuTimer {
            start: fresh_cpu().0,
        }
    }

    /// CPU time since [`CpuTimer::start`]; assumes the final spin (at most one tick) ran
    /// without being preempted.
    pub fn stop(self) -> Duration {
        let stopped = Instant::now();
        let (now, at) = fresh_cpu();
        now.saturating_sub(self.start)
            .saturating_sub(at.duration_since(stopped))
    }
}

/// Writes every sample of `data` (last scrape at about `end_ms`) into a fresh store in `dir`.
fn fill(dir: &Path, clock: Arc<ManualClock>, data: &Data, end_ms: i64) -> Result<Store, String> {
    let store = Store::open(dir, StoreOptions::default(), clock)
        .map_err(|e| format!("cannot open a store in {}: {e}", dir.display()))?;
    // About 100 000 samples per commit, series by series in time order.
    let per_batch = (100_000 / SCRAPES).max(1);
    for chunk in data.series.chunks(per_batch) {
        let mut appender = store.store_appender();
        for series in chunk {
            let r = appender
                .series(&series.labels)
                .map_err(|e| format!("series {:?}: {e}", series.labels))?;
            for (k, value) in series.values.iter().enumerate() {
                let t = Data::timestamp(series, k, end_ms);
                appender
                    .append(r, Timestamp(t), *value)
                    .map_err(|e| format!("sample of {:?} at {t}: {e}", series.labels))?;
            }
        }
        appender
            .commit_blocking()
            .map_err(|e| format!("commit into {}: {e}", dir.display()))?;
    }
    Ok(store)
}

/// Appends a pass's outputs, as the rule loop does after each evaluation.
fn append(
    store: &Store,
    refs: &mut HashMap<Labels, SeriesRef>,
    samples: &[OutputSample],
) -> Result<(), String> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut appender = store.store_appender();
    for s in samples {
        let r = match refs.get(&s.labels) {
            Some(r) => *r,
            None => {
                let r = appender
                    .series(&s.labels)
                    .map_err(|e| format!("output series {:?}: {e}", s.labels))?;
                refs.insert(s.labels.clone(), r);
                r
            }
        };
        // A refused sample (none expected) would only make later passes lighter.
        let _ = appender.append(r, Timestamp(s.t), s.value);
    }
    appender
        .commit_blocking()
        .map_err(|e| format!("committing rule outputs: {e}"))?;
    Ok(())
}

/// Loads `data` ending at `end_ms`, builds the groups of `rule_file` and evaluates them once
/// at `end_ms + 60 s` to warm up, then `passes` times [`PASS_STEP_MS`] apart; then times the
/// layers of the rules (`parts`, in file order) apart.
pub fn run(
    dir: &Path,
    data: &Data,
    rule_file: &rules::rulefile::RuleFile,
    parts: &[Parts],
    end_ms: i64,
    passes: usize,
) -> Result<Report, String> {
    let first_eval = end_ms + 60_000;
    let clock = Arc::new(ManualClock::new(Timestamp(first_eval)));
    let started = Instant::now();
    let store = fill(dir, clock.clone(), data, end_ms)?;
    let load_time = started.elapsed();

    let options = GroupOptions {
        default_interval: Duration::from_millis(PASS_STEP_MS as u64),
        ..GroupOptions::default()
    };
    let started = Instant::now();
    let mut groups = rule_file
        .groups
        .iter()
        .map(|g| Group::new(g, &options).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let build_time = started.elapsed();

    let mut refs = HashMap::new();
    let mut outputs = Vec::new();
    let mut report = Report {
        loaded: data.samples(),
        load_time,
        build_time,
        passes: Vec::with_capacity(passes),
        pending: 0,
        firing: 0,
        recording: rule_file.recording_rules(),
        profile: Profile::default(),
    };
    for pass in 0..=passes {
        let now = first_eval + pass as i64 * PASS_STEP_MS;
        clock.set(Timestamp(now));
        let mut timed = Pass {
            cpu: Duration::ZERO,
            wall: Duration::ZERO,
            append_cpu: Duration::ZERO,
            samples: 0,
            recorded: 0,
            errors: 0,
            first_error: None,
            by_shape: [Duration::ZERO; 2],
            by_kind: [Duration::ZERO; 2],
        };
        outputs.clear();
        let cpu = CpuTimer::start();
        let wall = Instant::now();
        let outcomes: Vec<_> = groups.iter_mut().map(|g| g.evaluate(&store, now)).collect();
        timed.wall = wall.elapsed();
        timed.cpu = cpu.stop();
        let mut shapes = parts.iter().map(|p| usize::from(!p.threshold));
        for (outcome, group) in outcomes.into_iter().zip(&groups) {
            if let Some((rule, e)) = outcome.errors().next() {
                timed
                    .first_error
                    .get_or_insert_with(|| format!("{rule}: {e}"));
            }
            timed.errors += outcome.errors().count();
            for (result, view) in outcome.rules.iter().zip(group.rules()) {
                if !view.alerting {
                    timed.recorded += result.series;
                }
                timed.by_shape[shapes.next().unwrap_or(0)] += result.duration;
                timed.by_kind[usize::from(view.alerting)] += result.duration;
            }
            timed.samples += outcome.samples.len();
            outputs.extend(outcome.samples);
        }
        let cpu = CpuTimer::start();
        append(&store, &mut refs, &outputs)?;
        timed.append_cpu = cpu.stop();
        if pass > 0 {
            report.passes.push(timed);
        }
    }
    for view in groups.iter().flat_map(Group::rules) {
        for alert in view.alerts {
            match alert.phase {
                AlertPhase::Pending => report.pending += 1,
                AlertPhase::Firing => report.firing += 1,
                _ => {}
            }
        }
    }
    let last = first_eval + passes as i64 * PASS_STEP_MS;
    report.profile = profile::run(&store, parts, last)?;
    store
        .close()
        .map_err(|e| format!("closing the store in {}: {e}", dir.display()))?;
    Ok(report)
}
