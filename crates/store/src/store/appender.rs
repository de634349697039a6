//! [`StoreAppender`]: a batch of samples checked at `append` time and made durable by one
//! WAL commit.
//!
//! The hot path (a sample newer than everything its series holds) is: a bounds check, a
//! future-skew compare against a cached clock reading, one atomic load of the series' newest
//! timestamp (no lock: the WAL thread applying earlier commits holds the head's sample lock,
//! see `head/newest.rs`), a hash-map update for the batch's own newest, and a push. Anything
//! else (an older sample, a range blocks may hold) is checked under the head's lock.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use model::{Appender, BoxFuture, CommitSummary, Labels, Rejection, SeriesRef, StoreError};

use super::Shared;
use crate::head::{Check, NewestView, normalize};
use crate::oneshot;
use crate::symbols::IdMap;
use crate::wal::{Commit, Job, encode_samples, encode_series};

/// A batch of writes to a [`super::Store`]. Nothing is visible or durable until the commit
/// resolves; dropping it discards the batch (series it created stay, empty).
pub struct StoreAppender {
    shared: Arc<Shared>,
    samples: Vec<(u32, i64, f64)>,
    /// Newest timestamp this batch holds per series.
    batch_newest: IdMap<u32, i64>,
    new_series: u64,
    /// Identical samples already stored: accepted, counted, not written again.
    duplicates: u64,
    /// Clock reading used for the future-skew check; refreshed before refusing anything.
    now: i64,
    /// Each series' newest timestamp; taken again when a series is newer than it.
    newest: NewestView,
}

impl StoreAppender {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        let now = shared.clock.now().as_millis();
        StoreAppender {
            shared,
            samples: Vec::new(),
            batch_newest: IdMap::default(),
            new_series: 0,
            duplicates: 0,
            now,
            newest: NewestView::default(),
        }
    }

    /// True when `ts` is newer than everything series `id` holds, in this batch or stored, in
    /// a range no block holds: the sample is new without a look at the head.
    #[inline]
    fn surely_new(&mut self, id: u32, ts: i64, batch_newest: i64) -> bool {
        if ts <= batch_newest {
            return false;
        }
        if self.newest.of(id).is_none() {
            self.newest = self.shared.core.head.newest();
        }
        let Some(newest) = self.newest.of(id) else {
            return false;
        };
        ts > newest.load(std::sync::atomic::Ordering::Acquire)
            && !self.shared.core.head.maybe_in_blocks(ts)
    }

    fn reject(&self, r: Rejection) -> StoreError {
        self.shared.core.counters.reject(r, 1);
        StoreError::Rejected(r)
    }

    /// Samples in the batch so far (accepted duplicates included).
    pub fn len(&self) -> usize {
        self.samples.len() + self.duplicates as usize
    }

    /// True when nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands the batch to the WAL thread; the receiver resolves after the sync.
    fn submit(self) -> oneshot::Receiver<Result<CommitSummary, StoreError>> {
        let (tx, rx) = oneshot::channel();
        let summary = CommitSummary {
            samples: self.samples.len() as u64 + self.duplicates,
            new_series: self.new_series,
        };
        let counters = &self.shared.core.counters;
        if self.samples.is_empty() {
            counters
                .samples_appended
                .fetch_add(self.duplicates, Relaxed);
            counters.duplicates.fetch_add(self.duplicates, Relaxed);
            tx.send(Ok(summary));
            return rx;
        }
        let mut bytes = Vec::new();
        encode_samples(&mut bytes, &self.samples);
        let commit = Commit {
            bytes,
            samples: self.samples,
            summary,
            duplicates: self.duplicates,
            reply: tx,
        };
        if let Err((job, why)) = self.shared.wal.submit(Job::Commit(commit))
            && let Job::Commit(c) = job
        {
            c.reply.send(Err(StoreError::Unavailable(why)));
        }
        rx
    }

    /// Commits and waits (on this thread) until the batch is synced: for synchronous callers
    /// such as an importer or a benchmark. Safe to call inside or outside an async runtime,
    /// but it blocks the calling thread.
    pub fn commit_blocking(self) -> Result<CommitSummary, StoreError> {
        self.submit()
            .wait()
            .unwrap_or_else(|| Err(StoreError::Unavailable("the WAL thread stopped".into())))
    }

    fn check_existing(
        &mut self,
        id: u32,
        ts: i64,
        v: f64,
        batch_newest: i64,
    ) -> Result<bool, StoreError> {
        // The batch itself may hold this timestamp already.
        if ts <= batch_newest
            && let Some(&(_, _, old)) = self.samples.iter().find(|s| s.0 == id && s.1 == ts)
        {
            return if old.to_bits() == v.to_bits() {
                Ok(false)
            } else {
                Err(self.reject(Rejection::ConflictingDuplicate))
            };
        }
        let check = self
            .shared
            .core
            .head
            .check(id, ts, v, batch_newest, self.shared.ooo_ms)
            .map_err(|r| self.reject(r))?;
        match check {
            Check::New => Ok(true),
            Check::Duplicate => Ok(false),
            Check::Unknown => Err(StoreError::Invalid(format!(
                "unknown series reference {id}: references come from this store's appender and are valid until it is closed"
            ))),
            Check::AskBlocks => match self.shared.persisted_value(id, ts) {
                None => Ok(true),
                Some(old) if old.to_bits() == v.to_bits() => Ok(false),
                Some(_) => Err(self.reject(Rejection::ConflictingDuplicate)),
            },
        }
    }
}

impl Appender for StoreAppender {
    fn series(&mut self, labels: &Labels) -> Result<SeriesRef, StoreError> {
        let labels = normalize(labels).map_err(|r| self.reject(r))?;
        let wal = &self.shared.wal;
        let (id, created) = self.shared.core.head.get_or_create(&labels, |id| {
            let mut bytes = Vec::new();
            encode_series(&mut bytes, u64::from(id), labels.iter());
            // If the WAL has stopped, the commit that would need this record fails too.
            let _ = wal.submit(Job::Bytes(bytes));
        });
        if created {
            self.new_series += 1;
            self.shared
                .core
                .counters
                .series_created
                .fetch_add(1, Relaxed);
        }
        Ok(SeriesRef(u64::from(id)))
    }

    fn series_many(
        &mut self,
        labels: &[Labels],
        out: &mut Vec<SeriesRef>,
    ) -> Result<(), StoreError> {
        let normalized = labels
            .iter()
            .map(normalize)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|r| self.reject(r))?;
        let normalized: Vec<&Labels> = normalized.iter().map(AsRef::as_ref).collect();
        let wal = &self.shared.wal;
        let mut ids = Vec::with_capacity(labels.len());
        self.shared
            .core
            .head
            .get_or_create_many(&normalized, &mut ids, |created| {
                let mut bytes = Vec::new();
                for &(id, i) in created {
                    encode_series(&mut bytes, u64::from(id), normalized[i].iter());
                }
                // If the WAL has stopped, the commit that would need these records fails too.
                let _ = wal.submit(Job::Bytes(bytes));
            });
        let created = ids.iter().filter(|(_, new)| *new).count() as u64;
        if created > 0 {
            self.new_series += created;
            self.shared
                .core
                .counters
                .series_created
                .fetch_add(created, Relaxed);
        }
        out.clear();
        out.extend(ids.iter().map(|&(id, _)| SeriesRef(u64::from(id))));
        Ok(())
    }

    #[inline]
    fn append(
        &mut self,
        series: SeriesRef,
        timestamp: model::Timestamp,
        value: f64,
    ) -> Result<(), StoreError> {
        let id = u32::try_from(series.0)
            .map_err(|_| StoreError::Invalid(format!("unknown series reference {}", series.0)))?;
        let ts = timestamp.as_millis();
        if ts > self.now.saturating_add(self.shared.skew_ms) {
            // The cached reading may be stale: look again before refusing.
            self.now = self.shared.clock.now().as_millis();
            if ts > self.now.saturating_add(self.shared.skew_ms) {
                return Err(self.reject(Rejection::TooFarInFuture));
            }
        }
        let batch_newest = self.batch_newest.get(&id).copied().unwrap_or(i64::MIN);
        if self.surely_new(id, ts, batch_newest)
            || self.check_existing(id, ts, value, batch_newest)?
        {
            self.samples.push((id, ts, value));
            if ts > batch_newest {
                self.batch_newest.insert(id, ts);
            }
        } else {
            self.duplicates += 1;
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<CommitSummary, StoreError>> {
        let rx = (*self).submit();
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|| Err(StoreError::Unavailable("the WAL thread stopped".into())))
        })
    }
}
