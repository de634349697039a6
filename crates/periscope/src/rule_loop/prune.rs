//! Forgetting old alert state: `serve` prunes the state database at start and every hour.
//!
//! Each turn first closes the pending and firing records no loaded group will take back
//! (`removed.rs`): those of rules that are no longer configured, and the old group's copy of an
//! alert whose rule moved into a group that had its own. They resolve, with a transition that
//! says why, and from then on age like any resolved record. Then what goes: resolved and inactive records last evaluated more than
//! [`RETENTION`] ago (alerts of rules that were removed or moved on; a live rule saves its
//! records at every evaluation, so they never get that old) and transitions older than that.
//! Pending and firing records of configured rules stay, however old. [`RETENTION`] is the
//! notifier's too (Alertmanager's `--data.retention`, 120 h): long enough to look back over a
//! weekend.

use std::sync::Arc;
use std::time::Duration;

use model::alert::{AlertStateStore, PruneSummary, StateStoreError};
use model::{Clock, Timestamp};
use tokio::sync::watch;

use super::removed;
use super::restore::RuleIndex;
use crate::notify_wire::AlertSink;

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

/// What a turn works on.
pub struct Keeper {
    /// The state database.
    pub state: Arc<dyn AlertStateStore>,
    /// The loaded rules, to tell the records of removed ones.
    pub rules: RuleIndex,
    /// Where the resolutions of closed alerts go, when the response side runs.
    pub alerts: Option<AlertSink>,
}

/// Closes the alerts of removed rules and prunes, at once and then every `every` until
/// `stopped` turns true; a failed turn is logged and tried again at the next.
pub async fn run(
    keeper: Keeper,
    clock: Arc<dyn Clock>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let state = keeper.state.as_ref();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            _ = ticks.tick() => {}
        }
        let now = clock.now();
        match removed::close_removed(state, &keeper.rules, keeper.alerts.as_ref(), now).await {
            Ok(0) => {}
            Ok(closed) => tracing::info!(closed, "alerts of removed rules closed"),
            Err(e) => tracing::warn!(
                error = %e,
                "alerts of removed rules not closed; tried again at the next prune"
            ),
        }
        match prune_at(state, now).await {
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
    use model::alert::{
        AlertKey, AlertPhase, AlertRecord, Change, HistoryQuery, StateBatch, Transition,
    };
    use testkit::ManualClock;

    use super::*;
    use crate::config::RulesConfig;

    const HOUR: i64 = 3_600_000;

    /// Records in memory, saved by group and key and pruned by the trait's rule; remembers the
    /// transitions saved and each horizon it was given.
    #[derive(Default)]
    struct Memory {
        records: Mutex<Vec<AlertRecord>>,
        transitions: Mutex<Vec<Transition>>,
        horizons: Mutex<Vec<Timestamp>>,
    }

    impl AlertStateStore for Memory {
        fn load(&self) -> BoxFuture<'_, Result<Vec<AlertRecord>, StateStoreError>> {
            Box::pin(async { Ok(self.records.lock().unwrap().clone()) })
        }

        fn save<'a>(&'a self, batch: &'a StateBatch) -> BoxFuture<'a, Result<(), StateStoreError>> {
            Box::pin(async move {
                let mut records = self.records.lock().unwrap();
                for upsert in &batch.upserts {
                    let mut r = upsert.clone();
                    r.group = r.group.or_else(|| batch.group.clone());
                    records.retain(|old| !(old.key == r.key && old.group == r.group));
                    records.push(r);
                }
                let mut transitions = self.transitions.lock().unwrap();
                transitions.extend(batch.transitions.iter().cloned());
                Ok(())
            })
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

    impl Memory {
        /// `job=phase` of every record, sorted.
        fn held(&self) -> Vec<String> {
            let mut held: Vec<String> = self
                .records
                .lock()
                .unwrap()
                .iter()
                .map(|r| format!("{}={}", r.key.labels.get("job").unwrap(), r.phase))
                .collect();
            held.sort();
            held
        }

        /// Waits for a turn at `now`.
        async fn turn_at(&self, now: i64) {
            let horizon = horizon(Timestamp(now));
            while self.horizons.lock().unwrap().last() != Some(&horizon) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// The rule `Down` in group `g`: the only one configured.
    fn keeper(store: &Arc<Memory>) -> Keeper {
        let yaml = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n";
        let config = RulesConfig {
            enabled: true,
            interval: Duration::from_secs(60),
            files: vec![rules::rulefile::parse("rules.yml", yaml).unwrap()],
            native: Vec::new(),
        };
        let groups = super::super::build_groups(&config).unwrap();
        Keeper {
            state: Arc::clone(store) as Arc<dyn AlertStateStore>,
            rules: RuleIndex::of(&groups),
            alerts: None,
        }
    }

    fn record(
        rule: &str,
        job: &str,
        phase: AlertPhase,
        evaluated_hours_ago: i64,
        now: i64,
    ) -> AlertRecord {
        let key = AlertKey::new(rule, Labels::new().with("job", job));
        let mut r = AlertRecord::new(key, Timestamp(now - evaluated_hours_ago * HOUR));
        r.phase = phase;
        r.group = Some("g".into());
        r
    }

    #[test]
    fn the_horizon_is_the_retention_before_now() {
        assert_eq!(horizon(Timestamp(1000 * HOUR)), Timestamp(880 * HOUR));
    }

    #[tokio::test]
    async fn each_turn_closes_alerts_of_removed_rules_and_prunes_with_the_clocks_now() {
        let now = 1000 * HOUR;
        let store = Arc::new(Memory::default());
        *store.records.lock().unwrap() = vec![
            record("Down", "stale", AlertPhase::Resolved, 121, now),
            record("Down", "recent", AlertPhase::Resolved, 119, now),
            record("Down", "old-but-firing", AlertPhase::Firing, 500, now),
            record("Removed", "removed-rule", AlertPhase::Firing, 500, now),
        ];
        let clock = Arc::new(ManualClock::new(Timestamp(now)));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            keeper(&store),
            Arc::clone(&clock) as Arc<dyn Clock>,
            Duration::from_millis(20),
            stopped,
        ));
        // The first turn runs at once: the removed rule's alert is closed, not pruned.
        store.turn_at(now).await;
        assert_eq!(
            store.held(),
            [
                "old-but-firing=firing",
                "recent=resolved",
                "removed-rule=resolved"
            ]
        );
        let transitions = store.transitions.lock().unwrap().clone();
        assert_eq!(transitions.len(), 1, "{transitions:?}");
        assert_eq!(
            (transitions[0].key.rule.as_str(), transitions[0].change),
            ("Removed", Change::RuleRemoved)
        );
        assert_eq!(transitions[0].at, Timestamp(now));
        // A later turn reads the clock again.
        clock.advance_ms(2 * HOUR);
        store.turn_at(now + 2 * HOUR).await;
        assert_eq!(
            store.held(),
            ["old-but-firing=firing", "removed-rule=resolved"],
            "the recent one aged past the horizon too"
        );
        // The closed one ages out a retention period after it was closed, like any other.
        clock.advance_ms(119 * HOUR);
        store.turn_at(now + 121 * HOUR).await;
        stop.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(store.held(), ["old-but-firing=firing"]);
        assert_eq!(store.transitions.lock().unwrap().len(), 1, "closed once");
    }
}
