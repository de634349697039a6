//! The daemon: every enabled monitor on its own schedule, the snapshot kept current, every
//! sample kept in the metric store, and pushed metrics received over HTTP.
//!
//! One loop owns all scheduling decisions, so there is no lock to reason about: it starts due
//! checks as tasks, takes finished ones back, writes the snapshot, stores the samples and
//! commits state (in that order, as in a one-shot run), runs the store's housekeeping, and
//! sleeps until the next due time or a shutdown signal. The HTTP server runs beside it and
//! stops after it, finishing requests in flight. The rule groups (`rule_loop.rs`) run beside
//! both, one task each, with alert state in the state database opened at start.

mod release;

use std::sync::Arc;
use std::time::Duration;

use model::alert::AlertStateStore;
use model::{Clock, MonitorRun, PayloadSink, Querier, Storage, SystemClock, Timestamp};
use sensors::push::{PushLimits, PushStats};
use sensors::runner::{self, CheckResult};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::commands::load_or_report;
use crate::config::{Config, HttpConfig, LoadOptions};
use crate::ingest::{self, StoreSink};
use crate::notify_wire::{self, AlertSink};
use crate::query_api::PromBackend;
use crate::rule_loop::{self, RulesSnapshot};
use crate::state::StateStore;
use crate::{http_server, notify_api, run, wire};

/// How often Periscope records its own metrics (store, receivers) into the store.
const SELF_METRICS_EVERY: Duration = Duration::from_secs(15);
/// How often the store cuts blocks, compacts and applies retention.
const MAINTAIN_EVERY: Duration = Duration::from_secs(60);

/// `periscope serve`: runs until SIGTERM or SIGINT, then exits 0 after a clean stop.
pub async fn serve(load: &LoadOptions) -> u8 {
    let Some(mut config) = load_or_report(load) else {
        return 3;
    };
    let state = match StateStore::open(&config.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("periscope: {e}");
            return 3;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = match &config.store {
        Some(c) => match wire::open_store(c, Arc::clone(&clock)) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                eprintln!("periscope: cannot open the metric store: {e}");
                return 3;
            }
        },
        None => None,
    };
    let rules_snapshot = rule_loop::new_snapshot();
    let (stop, stopped) = watch::channel(false);
    let delivery_stats = Arc::new(notify_wire::DeliveryStats::default());
    let (notifier, notify_task, mut state_db) = match config.notify.take() {
        Some(nc) => match start_notify(nc, &config, &clock, &delivery_stats, &stopped).await {
            Ok((sink, task, db)) => (Some(sink), Some(task), Some(db)),
            Err(e) => {
                eprintln!("periscope: {e}");
                return 3;
            }
        },
        None => (None, None, None),
    };
    let rules = match &metrics {
        Some(_) => {
            match start_rules(&config, state_db.take(), notifier.as_ref(), clock.now()).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("periscope: {e}");
                    return 3;
                }
            }
        }
        None => None,
    };
    // Groups that read a monitor evaluate right after its check is stored.
    let wakes = Arc::new(match &rules {
        Some((groups, _)) => rule_loop::Wakes::build(groups),
        None => rule_loop::Wakes::default(),
    });
    let rule_task = rules.map(|(groups, state_db)| {
        rule_loop::start(
            groups,
            Arc::clone(metrics.as_ref().expect("rules run only with a store")) as Arc<dyn Storage>,
            state_db,
            Arc::clone(&clock),
            rule_loop::Links {
                snapshot: Arc::clone(&rules_snapshot),
                alerts: notifier.clone(),
                wakes: Arc::clone(&wakes),
            },
            stopped.clone(),
        )
    });
    let push_stats = Arc::new(PushStats::default());
    let sink: Option<Arc<dyn PayloadSink>> = metrics.as_ref().map(|store| {
        Arc::new(StoreSink::new(
            Arc::clone(store) as Arc<dyn Storage>,
            Arc::clone(&clock),
        )) as Arc<dyn PayloadSink>
    });
    let server = match (&config.http, &sink) {
        (Some(http), Some(sink)) => {
            let limits = PushLimits {
                max_body_bytes: usize::try_from(http.max_body_bytes).unwrap_or(usize::MAX),
            };
            let store = metrics.as_ref().map(|m| Arc::clone(m) as Arc<dyn Querier>);
            let mut router =
                sensors::push::router(Arc::clone(sink), limits, Arc::clone(&push_stats))
                    .merge(query_router(store, rules_snapshot, Arc::clone(&clock)));
            if let Some(sink) = &notifier {
                router = router.merge(notify_api::router(sink.notifier.clone()));
            }
            let router = guarded(http, router);
            match http_server::start(http, router, wait_for(stopped.clone())).await {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("periscope: {e}");
                    return 3;
                }
            }
        }
        _ => None,
    };
    let mut receivers = Vec::new();
    let mut receiver_tasks = Vec::new();
    if let Some(sink) = &sink {
        for entry in config.receivers.iter_mut().filter(|r| r.enabled) {
            let Some(receiver) = entry.receiver.take() else {
                continue;
            };
            tracing::info!(receiver = %entry.name, broker = receiver.broker(), source = %receiver.describe(), "receiver started");
            receivers.push(ReceiverStats {
                name: entry.name.clone(),
                broker: receiver.broker(),
                stats: receiver.stats(),
            });
            receiver_tasks.push(receiver.start(Arc::clone(sink), stopped.clone()));
        }
    }
    for m in config.enabled() {
        tracing::info!(monitor = %m.name, kind = %m.kind, schedule = %m.schedule, "monitor scheduled");
    }
    if config.enabled().next().is_none() && server.is_none() && receivers.is_empty() {
        tracing::warn!(config = %config.path.display(), "no enabled monitor and no HTTP receiver: nothing to do until stopped");
    }
    let daemon = Daemon::new(
        &config,
        state,
        clock,
        metrics.clone(),
        SelfFigures {
            push: push_stats,
            delivery: delivery_stats,
            receivers,
        },
        wakes,
    );
    daemon.run(shutdown_signal()).await;
    let _ = stop.send(true);
    if let Some(server) = server {
        let _ = server.task.await;
    }
    for task in receiver_tasks {
        // Receivers leave unprocessed messages in the broker; this only waits for them to let go.
        let _ = task.await;
    }
    if let Some(task) = rule_task {
        // The groups make a last attempt to save alert state and let go of the store.
        let _ = task.await;
    }
    if let Some(task) = notify_task {
        // The notifier saves what it has; deliveries in flight are retried at the next start.
        let _ = task.await;
    }
    // The sink holds the store too; with every receiver stopped, let it go so the store closes.
    drop(sink);
    if let Some(store) = metrics {
        match release::last_holder(store, release::RELEASE_WAIT).await {
            Ok(store) => {
                if let Err(e) = store.close() {
                    tracing::error!(error = %e, "metric store not closed cleanly; the next start replays its log");
                }
            }
            Err(_) => {
                tracing::warn!("metric store still in use at exit; the next start replays its log")
            }
        }
    }
    tracing::info!("stopped cleanly");
    0
}

/// `router` behind the access policy. An API open to everyone on an address others can reach
/// is allowed, with a warning.
fn guarded(http: &HttpConfig, router: axum::Router) -> axum::Router {
    let access = Arc::new(http.access.clone());
    if access.is_open() && !http.listen.ip().is_loopback() {
        tracing::warn!(
            address = %http.listen,
            "the HTTP API is open to anyone who can reach this address: \
             configure [http.token.NAME] to require tokens"
        );
    }
    router.layer(axum::middleware::from_fn_with_state(
        access,
        crate::http_access::enforce,
    ))
}

/// The Prometheus query API over the store, when there is one.
fn query_router(
    store: Option<Arc<dyn Querier>>,
    rules: RulesSnapshot,
    clock: Arc<dyn Clock>,
) -> axum::Router {
    match store {
        Some(store) => {
            let backend = PromBackend::new(store).with_rules(rules);
            web::prom_api::router(Arc::new(backend), clock)
        }
        None => axum::Router::new(),
    }
}

/// Builds the rule groups, opens the state database and gives each alerting rule its stored
/// alerts back; `None` when no rule is to be evaluated (the state database is then only read
/// when the response side has opened it, to close the alerts of removed rules, and a failure
/// to do so is logged, not fatal). Any failure stops the start, with the database named and its password hidden.
async fn start_rules(
    config: &Config,
    opened: Option<Arc<store::StateDb>>,
    alerts: Option<&AlertSink>,
    now: Timestamp,
) -> Result<
    Option<(
        Vec<rule_loop::LoadedGroup>,
        Arc<dyn model::alert::AlertStateStore>,
    )>,
    String,
> {
    let mut groups = rule_loop::build_groups(&config.rules)?;
    if groups.is_empty() {
        // The response side opened the state database: alerts that rules removed since the
        // last start left firing would otherwise stay firing there, and be repeated, forever.
        // Nothing else needs the alert state then, so a failure here does not stop the start.
        if let (Some(db), Some(sink)) = (&opened, alerts) {
            let closed = async {
                let records = db.load().await?;
                sink.restored(&records);
                rule_loop::close_alerts_of_removed_rules(db.as_ref(), &records, alerts, now).await
            }
            .await;
            match closed {
                Ok(0) => {}
                Ok(closed) => tracing::info!(closed, "closed the alerts of removed rules"),
                Err(e) => tracing::warn!(
                    error = %e,
                    state = %config.state_db.shown,
                    "cannot close the alerts of removed rules"
                ),
            }
        }
        return Ok(None);
    }
    let state_db = match opened {
        Some(db) => db,
        None => wire::open_state_db(&config.state_db).await?,
    };
    let records = state_db.load().await.map_err(|e| {
        format!(
            "cannot read alert state from {}: {e}",
            config.state_db.shown
        )
    })?;
    let restored = records.len();
    if let Some(sink) = alerts {
        sink.restored(&records);
    }
    let orphans = rule_loop::restore(&mut groups, records);
    tracing::info!(
        groups = groups.len(),
        restored,
        orphans,
        "rule groups started"
    );
    Ok(Some((
        groups,
        state_db as Arc<dyn model::alert::AlertStateStore>,
    )))
}

/// Opens the state database and starts the response side over it; returns where rule
/// transitions go, the runner's task and the database (for the rules to share).
async fn start_notify(
    nc: crate::config::NotifyConfig,
    config: &Config,
    clock: &Arc<dyn Clock>,
    stats: &Arc<notify_wire::DeliveryStats>,
    stopped: &watch::Receiver<bool>,
) -> Result<(AlertSink, tokio::task::JoinHandle<()>, Arc<store::StateDb>), String> {
    let db = wire::open_state_db(&config.state_db).await?;
    let default_level = nc.default_level;
    let receivers = nc.setup.receivers.len();
    let (notifier, task) = notify_wire::start(
        nc,
        &config.state_dir,
        Some(Arc::clone(&db) as Arc<dyn model::alert::DocumentStore>),
        Arc::clone(clock),
        Arc::clone(stats),
        wait_for(stopped.clone()),
    )
    .await?;
    tracing::info!(receivers, "notifications started");
    Ok((
        AlertSink {
            notifier,
            default_level,
        },
        task,
        db,
    ))
}

/// A running receiver's counters, for the self metrics.
struct ReceiverStats {
    name: String,
    broker: &'static str,
    stats: Arc<sensors::brokers::BrokerStats>,
}

/// Resolves once `stopped` turns true (or its sender is gone).
async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
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

/// What Periscope's own metrics are read from, besides the store.
struct SelfFigures {
    push: Arc<PushStats>,
    delivery: Arc<notify_wire::DeliveryStats>,
    receivers: Vec<ReceiverStats>,
}

struct Daemon<'a> {
    config: &'a Config,
    store: StateStore,
    clock: Arc<dyn Clock>,
    /// The metric store, unless `[store]` is disabled.
    metrics: Option<Arc<store::Store>>,
    figures: SelfFigures,
    /// Next due time per enabled monitor.
    due: Vec<Timestamp>,
    /// Whether a check of that monitor is running now.
    running: Vec<bool>,
    /// Latest finished check per monitor, for the snapshot.
    latest: Vec<Option<MonitorRun>>,
    started: Timestamp,
    /// Rings the rule groups that read a monitor once its check is stored.
    wakes: Arc<rule_loop::Wakes>,
}

impl<'a> Daemon<'a> {
    fn new(
        config: &'a Config,
        store: StateStore,
        clock: Arc<dyn Clock>,
        metrics: Option<Arc<store::Store>>,
        figures: SelfFigures,
        wakes: Arc<rule_loop::Wakes>,
    ) -> Self {
        let now = clock.now();
        let n = config.enabled().count();
        Daemon {
            config,
            store,
            clock,
            metrics,
            figures,
            due: vec![now; n],
            running: vec![false; n],
            latest: vec![None; n],
            started: now,
            wakes,
        }
    }

    async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let entries: Vec<_> = self.config.enabled().collect();
        let mut tasks: JoinSet<(usize, CheckResult)> = JoinSet::new();
        let mut self_metrics = tokio::time::interval(SELF_METRICS_EVERY);
        let mut maintenance = tokio::time::interval(MAINTAIN_EVERY);
        for timer in [&mut self_metrics, &mut maintenance] {
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
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
                Some(done) = tasks.join_next() => self.finished(done).await,
                _ = self_metrics.tick() => self.record_self_metrics().await,
                _ = maintenance.tick() => self.maintain().await,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if !tasks.is_empty() {
            tracing::info!(in_flight = tasks.len(), "waiting for checks in flight");
        }
        while let Some(done) = tasks.join_next().await {
            self.finished(done).await;
        }
    }

    /// Periscope's own figures (store, receivers) into its own store.
    async fn record_self_metrics(&self) {
        let Some(store) = &self.metrics else {
            return;
        };
        let now = self.clock.now();
        let mut samples = store.self_metrics(now);
        samples.extend(self.figures.push.to_samples(now));
        samples.extend(self.figures.delivery.to_samples(now));
        for r in &self.figures.receivers {
            samples.extend(r.stats.samples(r.broker, &r.name, now));
        }
        if let Err(e) = ingest::store_samples(store.as_ref(), &samples).await {
            tracing::warn!(error = %e, "self metrics not stored");
        }
    }

    /// Cuts blocks, compacts and applies retention, off the async threads.
    async fn maintain(&self) {
        let Some(store) = &self.metrics else {
            return;
        };
        let store = Arc::clone(store);
        let now = self.clock.now();
        match tokio::task::spawn_blocking(move || store.maintain(now)).await {
            Ok(Ok(report)) => tracing::debug!(?report, "metric store maintained"),
            Ok(Err(e)) => tracing::error!(error = %e, "metric store maintenance failed"),
            Err(e) => tracing::error!(error = %e, "metric store maintenance task lost"),
        }
    }

    async fn finished(&mut self, done: Result<(usize, CheckResult), tokio::task::JoinError>) {
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
        if let Some(store) = &self.metrics
            && let Err(e) =
                ingest::store_samples(store.as_ref(), &ingest::run_samples(&result.run)).await
        {
            // Unavailable store: keep the state so the next check measures these lines again.
            tracing::error!(monitor = %result.run.name, error = %e, "samples not stored; monitor state not advanced");
            return;
        }
        if self.metrics.is_some() {
            self.wakes.checked(&result.run.name);
        }
        if let Some(state) = &result.next_state
            && let Err(e) = self.store.save(&result.run.name, state)
        {
            tracing::error!(monitor = %result.run.name, error = %e, "monitor state not saved");
        }
    }
}
