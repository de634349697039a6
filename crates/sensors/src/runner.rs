//! Runs monitors: concurrently, each under its own timeout, with panics contained.
//!
//! This is the one place that knows how a check can go wrong outside the monitor's own logic:
//! it hangs (cancelled at the timeout: dropping the check's future is the cancellation signal,
//! and monitors that start processes kill them on drop), it panics (caught at the task
//! boundary), or it returns an error. Each becomes an UNKNOWN [`MonitorRun`] with the reason,
//! and never affects the other monitors of the run.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use model::{CheckContext, CheckOutcome, Clock, Monitor, MonitorRun, Observation, Sample, Status};

/// A monitor ready to run, with what the runner needs to know about it.
#[derive(Clone)]
pub struct MonitorSlot {
    /// The monitor.
    pub monitor: Arc<dyn Monitor>,
    /// A few words on what it watches (shown in reports).
    pub description: String,
    /// How long a check may take before it is abandoned as UNKNOWN.
    pub timeout: Duration,
}

/// One finished check and the state to persist once its outputs are safely written.
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The check as reports see it.
    pub run: MonitorRun,
    /// The monitor's next state; `None` keeps the previous one (always so after a failure).
    pub next_state: Option<Vec<u8>>,
}

/// Runs one monitor once. Never panics and never takes much longer than `slot.timeout`.
pub async fn check_one(
    slot: &MonitorSlot,
    state: Option<Vec<u8>>,
    clock: &dyn Clock,
) -> CheckResult {
    let started = clock.now();
    let monitor = Arc::clone(&slot.monitor);
    let ctx = CheckContext {
        now: started,
        state,
    };
    // A task of its own, so a panic is caught at the join and a hang can be aborted.
    let task = tokio::spawn(async move { monitor.check(ctx).await });
    let abort = task.abort_handle();
    let result = tokio::time::timeout(slot.timeout, task).await;
    let finished = clock.now();

    let (observation, next_state) = match result {
        Ok(Ok(Ok(mut obs))) => {
            let next = obs.next_state.take();
            (obs, next)
        }
        Ok(Ok(Err(err))) => (unknown(format!("check failed: {}", err.reason)), None),
        Ok(Err(join_err)) if join_err.is_panic() => {
            let why = panic_message(join_err.into_panic());
            tracing::error!(monitor = slot.monitor.name(), panic = %why, "monitor panicked");
            (unknown(format!("monitor crashed (panic: {why})")), None)
        }
        Ok(Err(join_err)) => (unknown(format!("check was cancelled: {join_err}")), None),
        Err(_elapsed) => {
            abort.abort();
            tracing::warn!(monitor = slot.monitor.name(), timeout = ?slot.timeout, "check timed out");
            (
                unknown(format!("timed out after {}", human_duration(slot.timeout))),
                None,
            )
        }
    };

    CheckResult {
        run: into_run(slot, started, finished, observation),
        next_state,
    }
}

/// Runs every slot concurrently; results come back in slot order.
///
/// `state_of` supplies each monitor's previous state by name.
pub async fn check_all(
    slots: &[MonitorSlot],
    state_of: impl Fn(&str) -> Option<Vec<u8>>,
    clock: Arc<dyn Clock>,
) -> Vec<CheckResult> {
    let mut tasks = Vec::with_capacity(slots.len());
    for slot in slots {
        let slot = slot.clone();
        let state = state_of(slot.monitor.name());
        let clock = Arc::clone(&clock);
        tasks.push(tokio::spawn(async move {
            check_one(&slot, state, clock.as_ref()).await
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for (task, slot) in tasks.into_iter().zip(slots) {
        // check_one contains every failure itself; a JoinError here would be a runtime shutdown.
        results.push(task.await.unwrap_or_else(|e| {
            let now = clock.now();
            CheckResult {
                run: into_run(slot, now, now, unknown(format!("runner task failed: {e}"))),
                next_state: None,
            }
        }));
    }
    results
}

fn unknown(reason: String) -> Observation {
    Observation::from_outcome(CheckOutcome::unknown(reason))
}

/// Labels every sample with the monitor's name and adds the runner's own samples.
fn into_run(
    slot: &MonitorSlot,
    started: model::Timestamp,
    finished: model::Timestamp,
    obs: Observation,
) -> MonitorRun {
    let name = slot.monitor.name();
    let mut samples: Vec<Sample> = obs
        .samples
        .into_iter()
        .map(|s| s.label("monitor", name))
        .collect();
    let elapsed_s = finished.millis_since(started) as f64 / 1000.0;
    samples.push(
        Sample::new(
            "periscope_monitor_status",
            f64::from(obs.outcome.status.exit_code()),
            finished,
        )
        .label("monitor", name),
    );
    samples.push(
        Sample::new("periscope_monitor_duration_seconds", elapsed_s, finished)
            .label("monitor", name)
            .unit("s"),
    );
    MonitorRun {
        name: name.to_string(),
        kind: slot.monitor.kind().to_string(),
        description: slot.description.clone(),
        started,
        finished,
        outcome: obs.outcome,
        samples,
        events: obs.events,
        fragment: obs.fragment,
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-text panic payload".to_string()
    }
}

/// `250ms`, `1.5s`, `45s`, `5m`, `2h`, `90m`: short and exact enough for a summary line, in
/// the same notation the config uses.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if !ms.is_multiple_of(1000) {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// The worst status among results (OK for none).
pub fn worst(results: &[CheckResult]) -> Status {
    results
        .iter()
        .fold(Status::Ok, |w, r| w.worst(r.run.outcome.status))
}

#[cfg(test)]
mod tests;
