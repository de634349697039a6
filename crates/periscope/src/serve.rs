//! The daemon: every enabled monitor on its own schedule, the snapshot kept current.
//!
//! One loop owns all scheduling decisions, so there is no lock to reason about: it starts due
//! checks as tasks, takes finished ones back, writes the snapshot and commits state (in that
//! order, as in a one-shot run), and sleeps until the next due time or a shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use model::{Clock, MonitorRun, SystemClock, Timestamp};
use sensors::runner::{self, CheckResult};
use tokio::task::JoinSet;

use crate::commands::load_or_report;
use crate::config::{Config, LoadOptions};
use crate::state::StateStore;
use crate::{run, wire};

/// `periscope serve`: runs until SIGTERM or SIGINT, then exits 0 after a clean stop.
pub async fn serve(load: &LoadOptions) -> u8 {
    let Some(config) = load_or_report(load) else {
        return 3;
    };
    let store = match StateStore::open(&config.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("periscope: {e}");
            return 3;
        }
    };
    for m in config.enabled() {
        tracing::info!(monitor = %m.name, kind = %m.kind, schedule = %m.schedule, "monitor scheduled");
    }
    if config.enabled().next().is_none() {
        tracing::warn!(config = %config.path.display(), "no enabled monitor: nothing to do until stopped");
    }
    let daemon = Daemon::new(&config, store, Arc::new(SystemClock));
    daemon.run(shutdown_signal()).await;
    0
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; use Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received: finishing checks in flight"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received: finishing checks in flight"),
    }
}

struct Daemon<'a> {
    config: &'a Config,
    store: StateStore,
    clock: Arc<dyn Clock>,
    /// Next due time per enabled monitor.
    due: Vec<Timestamp>,
    /// Whether a check of that monitor is running now.
    running: Vec<bool>,
    /// Latest finished check per monitor, for the snapshot.
    latest: Vec<Option<MonitorRun>>,
    started: Timestamp,
}

impl<'a> Daemon<'a> {
    fn new(config: &'a Config, store: StateStore, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        let n = config.enabled().count();
        Daemon {
            config,
            store,
            clock,
            due: vec![now; n],
            running: vec![false; n],
            latest: vec![None; n],
            started: now,
        }
    }

    async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let entries: Vec<_> = self.config.enabled().collect();
        let mut tasks: JoinSet<(usize, CheckResult)> = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let now = self.clock.now();
            for (i, entry) in entries.iter().enumerate() {
                if self.due[i] > now {
                    continue;
                }
                self.due[i] = entry.schedule.next_after(now);
                if self.running[i] {
                    tracing::warn!(monitor = %entry.name, "previous check still running; skipping this one");
                    continue;
                }
                self.running[i] = true;
                let slot = wire::slot(entry);
                let state = self.store.load(&entry.name);
                let clock = Arc::clone(&self.clock);
                tasks.spawn(
                    async move { (i, runner::check_one(&slot, state, clock.as_ref()).await) },
                );
            }
            let next = self
                .due
                .iter()
                .min()
                .copied()
                .unwrap_or(now.plus_millis(60_000));
            let wait = Duration::from_millis(u64::try_from(next.millis_since(now)).unwrap_or(0));
            tokio::select! {
                _ = &mut shutdown => break,
                Some(done) = tasks.join_next() => self.finished(done),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if !tasks.is_empty() {
            tracing::info!(in_flight = tasks.len(), "waiting for checks in flight");
        }
        while let Some(done) = tasks.join_next().await {
            self.finished(done);
        }
        tracing::info!("stopped cleanly");
    }

    fn finished(&mut self, done: Result<(usize, CheckResult), tokio::task::JoinError>) {
        let (i, result) = match done {
            Ok(d) => d,
            // check_one contains panics and timeouts itself; this is the runtime going away.
            Err(e) => {
                tracing::error!(error = %e, "check task lost");
                return;
            }
        };
        self.running[i] = false;
        let run = &result.run;
        tracing::info!(
            monitor = %run.name,
            status = %run.outcome.status,
            elapsed_ms = run.elapsed_ms(),
            summary = %run.outcome.summary,
            "check finished"
        );
        self.latest[i] = Some(result.run.clone());
        let monitors: Vec<MonitorRun> = self.latest.iter().flatten().cloned().collect();
        let finished = monitors
            .iter()
            .map(|m| m.finished)
            .max()
            .unwrap_or(self.started);
        let record = model::RunRecord {
            host: self.config.host.clone(),
            environment: self.config.environment.clone(),
            started: self.started,
            finished,
            monitors,
        };
        if let Err(e) = run::write_snapshots(self.config, &record) {
            // Keep the state where it was: the next check repeats this one's lines.
            tracing::error!(error = %e, "snapshot not written; monitor state not advanced");
            return;
        }
        if let Some(state) = &result.next_state
            && let Err(e) = self.store.save(&result.run.name, state)
        {
            tracing::error!(monitor = %result.run.name, error = %e, "monitor state not saved");
        }
    }
}
