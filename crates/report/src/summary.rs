//! The summary report: what a person reads on a phone after a run.
//!
//! Shaped after the seed's "Loan Importer Report": a short header, then one block per monitor
//! with its times, key facts and error sections ("No Errors Reported."). Monitors come worst
//! first, because the reader may stop after the first screen; within a status they keep config
//! order, so the same system always appears in the same place and patterns become familiar.

mod monitor;

use std::cmp::Reverse;
use std::fmt::Write;

use jiff::tz::TimeZone;
use model::{MonitorRun, RunRecord, Status};

use crate::value::{duration, local_time, zone_name};

pub(crate) use monitor::monitor_block;

/// The summary report of `run` as plain text, times in `tz`, lines kept to about 60 columns.
pub fn summary_text(run: &RunRecord, tz: &TimeZone) -> String {
    let mut out = String::new();
    let counts = if run.monitors.is_empty() {
        "none ran".to_string()
    } else {
        status_counts(run.monitors.iter())
    };
    header(
        &mut out,
        run,
        tz,
        &format!("Periscope report: {}", run.worst()),
        &format!("Monitors: {counts}"),
    );
    for m in worst_first(run.monitors.iter()) {
        out.push('\n');
        monitor_block(&mut out, m, tz);
    }
    out
}

/// The subject line for the summary mail, e.g.
/// `[Periscope] CRITICAL: 2 of 5 monitors need attention (app01)` or `[Periscope] OK: 5 monitors (app01)`.
pub fn summary_subject(run: &RunRecord) -> String {
    let total = run.monitors.len();
    let bad = run
        .monitors
        .iter()
        .filter(|m| m.outcome.status != Status::Ok)
        .count();
    let what = match (total, bad) {
        (0, _) => "no monitors".to_string(),
        (1, 0) => "1 monitor".to_string(),
        (n, 0) => format!("{n} monitors"),
        (1, _) => "1 monitor needs attention".to_string(),
        (n, 1) => format!("1 of {n} monitors needs attention"),
        (n, b) => format!("{b} of {n} monitors need attention"),
    };
    format!("[Periscope] {}: {what} ({})", run.worst(), where_label(run))
}

/// The host for a subject line; the environment too unless it is `production`, so mail from a
/// test system is never mistaken for production's.
pub(crate) fn where_label(run: &RunRecord) -> String {
    if run.environment.is_empty() || run.environment == "production" {
        run.host.clone()
    } else {
        format!("{}, {}", run.host, run.environment)
    }
}

/// The report header: title, host, run time, and a counts line.
pub(crate) fn header(out: &mut String, run: &RunRecord, tz: &TimeZone, title: &str, counts: &str) {
    let _ = writeln!(out, "{title}");
    if run.environment.is_empty() {
        let _ = writeln!(out, "Host: {}", run.host);
    } else {
        let _ = writeln!(out, "Host: {} ({})", run.host, run.environment);
    }
    // The zone is named once here; every other time in the report is in the same zone.
    let _ = writeln!(
        out,
        "Run: {} {}, took {}",
        local_time(run.started, tz),
        zone_name(run.started, tz),
        duration(run.finished.millis_since(run.started))
    );
    let _ = writeln!(out, "{counts}");
}

/// Monitors ordered worst status first, config order within a status.
pub(crate) fn worst_first<'a>(
    monitors: impl Iterator<Item = &'a MonitorRun>,
) -> Vec<&'a MonitorRun> {
    let mut v: Vec<&MonitorRun> = monitors.collect();
    v.sort_by_key(|m| Reverse(m.outcome.status.severity())); // stable: keeps config order
    v
}

/// `1 CRITICAL, 1 UNKNOWN, 3 OK`: worst first, statuses nobody has left out.
pub(crate) fn status_counts<'a>(monitors: impl Iterator<Item = &'a MonitorRun> + Clone) -> String {
    Status::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            let n = monitors.clone().filter(|m| m.outcome.status == *s).count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
