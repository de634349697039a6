//! The alert mail of the `alerts` mode: only the monitors that are WARNING or CRITICAL.
//!
//! UNKNOWN is left out on purpose, as the product asks ("only for monitors that are WARNING or
//! CRITICAL"): an alert says a threshold was breached, and a monitor that could not look has
//! breached nothing. It shows up in the summary report and in the snapshot instead.

use jiff::tz::TimeZone;
use model::{RunRecord, Status};

use crate::summary::{header, monitor_block, status_counts, where_label, worst_first};

/// How many monitor names a subject line lists before `+N more`.
const SUBJECT_NAMES: usize = 3;

/// The alert mail for `run` as `(subject, body)`, or `None` when no monitor is WARNING or
/// CRITICAL. Times in `tz`.
///
/// Subject, e.g. `[Periscope] ALERT CRITICAL: payments, disk-space (app01)`.
pub fn alert_text(run: &RunRecord, tz: &TimeZone) -> Option<(String, String)> {
    let alerting = worst_first(
        run.monitors
            .iter()
            .filter(|m| matches!(m.outcome.status, Status::Warning | Status::Critical)),
    );
    let worst = alerting.first()?.outcome.status;

    let mut names: Vec<&str> = alerting
        .iter()
        .take(SUBJECT_NAMES)
        .map(|m| m.name.as_str())
        .collect();
    let more = alerting.len().saturating_sub(SUBJECT_NAMES);
    let more_text = format!("+{more} more");
    if more > 0 {
        names.push(&more_text);
    }
    let subject = format!(
        "[Periscope] ALERT {worst}: {} ({})",
        names.join(", "),
        where_label(run)
    );

    let mut body = String::new();
    let counts = format!(
        "Alerting: {} (of {} monitors)",
        status_counts(alerting.iter().copied()),
        run.monitors.len()
    );
    header(
        &mut body,
        run,
        tz,
        &format!("Periscope ALERT: {worst}"),
        &counts,
    );
    for m in alerting {
        body.push('\n');
        monitor_block(&mut body, m, tz);
    }
    Some((subject, body))
}
