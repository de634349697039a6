//! Forgetting old alert state: `serve` prunes the state database at start and every hour.
//!
//! What goes: resolved and inactive records last evaluated more than [`RETENTION`] ago (alerts
//! of rules that were removed or moved on; a live rule saves its records at every evaluation, so
//! they never get that old) and transitions older than that. Pending and firing records stay,
//! however old. [`RETENTION`] is the notifier's too (Alertmanager's `--data.retention`, 120 h):
//! long enough to look back over a weekend.

use std::sync::Arc;
use std::time::Duration;

use model::alert::{AlertStateStore, PruneSummary, StateStoreError};
use model::{Clock, Timestamp};
use tokio::sync::watch;

/// How long resolved and inactive alert records and transitions are kept.
pub const RETENTION: Duration = notify::pipeline::RETENTION;
/// How often `serve` prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The oldest instant whose state is kept, for a prune at `now`.
pub fn horizon(now: Timestamp) -> Timestamp {
    let keep = i64::try_from(RETENTION.as_millis()).unwrap_or(i64::MAX);
    now.plus_millis(-keep)
}

/// Prunes what is older than [`RETENTION`] at `now`.
pub async fn prune_at(
    state: &dyn AlertStateStore,
    now: Timestamp,
) -> Result<PruneSummary, StateStoreError> {
    state.prune(horizon(now)).await
}

/// Prunes at once and then every `every` until `stopped` turns true; a failed prune is logged
/// and tried again at the next turn.
pub async fn run(
    state: Arc<dyn AlertStateStore>,
    clock: Arc<dyn Clock>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            _ = ticks.tick() => {}
        }
        match prune_at(state.as_ref(), clock.now()).await {
            Ok(pruned) => tracing::info!(
                records = pruned.records,
                transitions = pruned.transitions,
                retention_hours = RETENTION.as_secs() / 3600,
                "old alert state pruned"
            ),
            Err(e) => tracing::warn!(error = %e, "old alert state not pruned; tried again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use model::BoxFuture;
    use model::Labels;
    use model::alert::{AlertKey, AlertPhase, AlertRecord, HistoryQuery, StateBatch, Transition};
    use testkit::ManualClock;

    use super::*;

    const HOUR: i64 = 3_600_000;

    /// Records in memory, pruned by the trait's rule; remembers each horizon it was given.
    #[derive(Default)]
    struct Memory {
        records: Mutex<Vec<AlertRecord>>,
        horizons: Mutex<Vec<Timestamp>>,
    }

    impl AlertStateStore for Memory {
        fn load(&self) -> BoxFuture<'_, Result<Vec<AlertRecord>, StateStoreError>> {
            Box::pin(async { Ok(self.records.lock().unwrap().clone()) })
        }

        fn save<'a>(&'a self, _: &'a StateBatch) -> BoxFuture<'a, Result<(), StateStoreError>> {
            Box::pin(async { Ok(()) })
        }

        fn prune(
            &self,
            horizon: Timestamp,
        ) -> BoxFuture<'_, Result<PruneSummary, StateStoreError>> {
            Box::pin(async move {
                self.horizons.lock().unwrap().push(horizon);
                let mut records = self.records.lock().unwrap();
                let before = records.len();
                records.retain(|r| {
                    matches!(r.phase, AlertPhase::Pending | AlertPhase::Firing)
                        || r.last_evaluated_at >= horizon
                });
                Ok(PruneSummary {
                    records: (before - records.len()) as u64,
                    transitions: 0,
                })
            })
        }

        fn history<'a>(
            &'a self,
            _: &'a HistoryQuery,
        ) -> BoxFuture<'a, Result<Vec<Transition>, StateStoreError>> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    fn record(job: &str, phase: AlertPhase, evaluated_hours_ago: i64, now: i64) -> AlertRecord {
        let key = AlertKey::new("Down", Labels::new().with("job", job));
        let mut r = AlertRecord::new(key, Timestamp(now - evaluated_hours_ago * HOUR));
        r.phase = phase;
        r
    }

    #[test]
    fn the_horizon_is_the_retention_before_now() {
        assert_eq!(horizon(Timestamp(1000 * HOUR)), Timestamp(880 * HOUR));
    }

    #[tokio::test]
    async fn prunes_at_start_and_every_turn_with_the_clocks_now() {
        let now = 1000 * HOUR;
        let store = Arc::new(Memory::default());
        *store.records.lock().unwrap() = vec![
            record("stale", AlertPhase::Resolved, 121, now),
            record("recent", AlertPhase::Resolved, 119, now),
            record("old-but-firing", AlertPhase::Firing, 500, now),
        ];
        let clock = Arc::new(ManualClock::new(Timestamp(now)));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            Arc::clone(&store) as Arc<dyn AlertStateStore>,
            Arc::clone(&clock) as Arc<dyn Clock>,
            Duration::from_millis(20),
            stopped,
        ));
        // The first prune runs at once.
        while store.horizons.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let left: Vec<String> = store
            .records
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.key.labels.get("job").unwrap().to_string())
            .collect();
        assert_eq!(left, ["recent", "old-but-firing"]);
        assert_eq!(
            store.horizons.lock().unwrap()[0],
            Timestamp(now - 120 * HOUR)
        );
        // A later turn reads the clock again.
        clock.advance_ms(2 * HOUR);
        let later = Timestamp(now + 2 * HOUR - 120 * HOUR);
        while store.horizons.lock().unwrap().last() != Some(&later) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap();
        let left = store.records.lock().unwrap().len();
        assert_eq!(left, 1, "the recent one aged past the horizon too");
    }
}
