//! Getting an evaluation's results out: samples into the metric store, alert records and
//! transitions (and the series Periscope's rules last found, see `seen.rs`) into the state
//! database, with what the database did not take kept for the next attempt.

use std::collections::{BTreeMap, HashMap};

use model::alert::{AlertKey, AlertRecord, AlertStateStore, DocumentWrite, StateBatch, Transition};
use model::{Labels, SeriesRef, Storage, StoreError, Timestamp};
use rules::alert::RuleStep;
use rules::group::{OutputSample, SeenChange};

use super::seen;

/// Most transitions kept for a state database that stays down: past this the oldest are
/// dropped (and counted in the log), so an outage cannot eat the memory.
const MAX_UNSAVED_TRANSITIONS: usize = 10_000;

/// Appends a group's output samples in one batch; returns how many the store refused (a
/// sample at the same time as one already stored, say after a restart).
pub async fn append_samples(
    storage: &dyn Storage,
    samples: &[OutputSample],
) -> Result<u64, StoreError> {
    if samples.is_empty() {
        return Ok(0);
    }
    let mut appender = storage.appender();
    let mut refs: HashMap<&Labels, SeriesRef> = HashMap::new();
    let mut refused = 0;
    for sample in samples {
        let series = match refs.get(&sample.labels) {
            Some(r) => *r,
            None => {
                let r = appender.series(&sample.labels)?;
                refs.insert(&sample.labels, r);
                r
            }
        };
        match appender.append(series, Timestamp(sample.t), sample.value) {
            Ok(()) => {}
            Err(StoreError::Rejected(_)) => refused += 1,
            Err(e) => return Err(e),
        }
    }
    appender.commit().await?;
    Ok(refused)
}

/// One group's state changes not yet in the state database: the newest record per alert (or
/// its removal), the transitions in order, and the newest write per document.
#[derive(Default)]
pub struct Pending {
    /// The group the records are saved under.
    group: String,
    records: BTreeMap<AlertKey, Option<AlertRecord>>,
    transitions: Vec<Transition>,
    documents: BTreeMap<String, DocumentWrite>,
    dropped: usize,
}

impl Pending {
    /// Nothing yet to save for the group `group`.
    pub fn new(group: &str) -> Self {
        Pending {
            group: group.to_string(),
            ..Pending::default()
        }
    }

    /// Adds how the series a Periscope rule of the group found changed at `now`.
    pub fn add_seen(&mut self, rule: &str, change: SeenChange, now: Timestamp) {
        self.add_documents(seen::writes(&self.group, rule, change, now));
    }

    /// Adds document writes; a later write of the same document replaces an earlier one.
    pub fn add_documents(&mut self, writes: impl IntoIterator<Item = DocumentWrite>) {
        for write in writes {
            let key = match &write {
                DocumentWrite::Put(d) => format!("{}/{}", d.kind, d.key),
                DocumentWrite::Delete { kind, key } => format!("{kind}/{key}"),
            };
            self.documents.insert(key, write);
        }
    }

    /// Adds the alerting rules' steps of one evaluation.
    pub fn add(&mut self, steps: impl IntoIterator<Item = RuleStep>) {
        for step in steps {
            for record in step.records {
                self.records.insert(record.key.clone(), Some(record));
            }
            for key in step.removed {
                self.records.insert(key, None);
            }
            self.transitions.extend(step.transitions);
        }
        if self.transitions.len() > MAX_UNSAVED_TRANSITIONS {
            let excess = self.transitions.len() - MAX_UNSAVED_TRANSITIONS;
            self.transitions.drain(..excess);
            self.dropped += excess;
        }
    }

    /// True when there is nothing to save.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.transitions.is_empty() && self.documents.is_empty()
    }

    /// The alert state changes as one batch, under the group.
    pub fn batch(&self) -> StateBatch {
        let mut batch = StateBatch {
            group: Some(self.group.clone()),
            ..StateBatch::default()
        };
        for (key, record) in &self.records {
            match record {
                Some(r) => batch.upserts.push(r.clone()),
                None => batch.removals.push(key.clone()),
            }
        }
        batch.transitions = self.transitions.clone();
        batch
    }

    /// Saves the alert state in one batch, then the documents in another; what fails is kept
    /// for the next call, and the log says why. Returns the first error, if any.
    pub async fn save(&mut self, state: &dyn AlertStateStore) -> Result<(), String> {
        let group = self.group.as_str();
        let mut failed = None;
        if !self.records.is_empty() || !self.transitions.is_empty() {
            match state.save(&self.batch()).await {
                Ok(()) => {
                    if self.dropped > 0 {
                        tracing::warn!(
                            group,
                            dropped = self.dropped,
                            "alert transitions lost while the state database was unavailable"
                        );
                    }
                    self.records.clear();
                    self.transitions.clear();
                    self.dropped = 0;
                }
                Err(e) => {
                    if e.is_retryable() {
                        tracing::warn!(group, error = %e, unsaved = self.records.len(), "alert state not saved; kept in memory, retried at the next evaluation")
                    } else {
                        tracing::error!(group, error = %e, unsaved = self.records.len(), "alert state not saved; kept in memory, retried at the next evaluation")
                    }
                    failed = Some(e.to_string());
                }
            }
        }
        if !self.documents.is_empty() {
            let Some(documents) = state.documents() else {
                // Nowhere to keep them: the memory starts empty at the next start.
                self.documents.clear();
                return failed.map_or(Ok(()), Err);
            };
            let writes: Vec<DocumentWrite> = self.documents.values().cloned().collect();
            match documents.write_documents(&writes).await {
                Ok(()) => self.documents.clear(),
                Err(e) => {
                    tracing::warn!(group, error = %e, unsaved = writes.len(), "series seen by the rules not saved; kept in memory, retried at the next evaluation");
                    failed.get_or_insert(e.to_string());
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use model::alert::{
        AlertPhase, Change, HistoryQuery, PruneSummary, StateStoreError, Transition,
    };
    use model::{BoxFuture, Labels};

    use super::*;

    /// A state database that is down until told otherwise, keeping what it saved.
    #[derive(Default)]
    struct Flaky {
        down: Mutex<bool>,
        saved: Mutex<Vec<StateBatch>>,
    }

    impl AlertStateStore for Flaky {
        fn load(&self) -> BoxFuture<'_, Result<Vec<AlertRecord>, StateStoreError>> {
            Box::pin(async { Ok(Vec::new()) })
        }

        fn save<'a>(&'a self, batch: &'a StateBatch) -> BoxFuture<'a, Result<(), StateStoreError>> {
            Box::pin(async move {
                if *self.down.lock().unwrap() {
                    return Err(StateStoreError::Unavailable("connection refused".into()));
                }
                self.saved.lock().unwrap().push(batch.clone());
                Ok(())
            })
        }

        fn prune(&self, _: Timestamp) -> BoxFuture<'_, Result<PruneSummary, StateStoreError>> {
            Box::pin(async { Ok(PruneSummary::default()) })
        }

        fn history<'a>(
            &'a self,
            _: &'a HistoryQuery,
        ) -> BoxFuture<'a, Result<Vec<Transition>, StateStoreError>> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    fn step(phase: AlertPhase, at: i64) -> RuleStep {
        let key = AlertKey::new("Down", Labels::new().with("job", "api"));
        let mut record = AlertRecord::new(key.clone(), Timestamp(at));
        record.phase = phase;
        RuleStep {
            records: vec![record],
            removed: Vec::new(),
            transitions: vec![Transition {
                key,
                change: Change::Phase,
                from: AlertPhase::Inactive,
                to: phase,
                at: Timestamp(at),
                notify: false,
                value: Some(0.0),
                suppressed_by: None,
            }],
            health: None,
        }
    }

    #[tokio::test]
    async fn changes_wait_in_memory_while_the_database_is_down() {
        let db = Flaky::default();
        *db.down.lock().unwrap() = true;
        let mut pending = Pending::new("g");
        pending.add([step(AlertPhase::Pending, 1)]);
        assert!(pending.save(&db).await.is_err());
        pending.add([step(AlertPhase::Firing, 2)]);
        assert!(pending.save(&db).await.is_err());
        assert!(!pending.is_empty(), "nothing is lost while it is down");

        *db.down.lock().unwrap() = false;
        pending.save(&db).await.unwrap();
        assert!(pending.is_empty());
        let saved = db.saved.lock().unwrap();
        assert_eq!(saved.len(), 1, "one batch once it is back");
        // The newest record per alert, and every transition in order, under the group.
        assert_eq!(saved[0].group.as_deref(), Some("g"));
        assert_eq!(saved[0].upserts.len(), 1);
        assert_eq!(saved[0].upserts[0].phase, AlertPhase::Firing);
        let to: Vec<_> = saved[0].transitions.iter().map(|t| t.to).collect();
        assert_eq!(to, [AlertPhase::Pending, AlertPhase::Firing]);
    }

    #[test]
    fn a_removal_after_an_upsert_wins() {
        let mut pending = Pending::new("g");
        let s = step(AlertPhase::Pending, 1);
        let key = s.records[0].key.clone();
        pending.add([s]);
        pending.add([RuleStep {
            removed: vec![key.clone()],
            ..RuleStep::default()
        }]);
        let batch = pending.batch();
        assert!(batch.upserts.is_empty());
        assert_eq!(batch.removals, [key]);
    }
}
