//! [`Store`]: opening (recovery), the `Storage` seam, stats and closing. Appending lives in
//! `store/appender.rs`, recovery details in `store/recover.rs`, reads in `query.rs`,
//! maintenance in `maintain.rs`.

mod appender;
mod read_only;
mod recover;

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use model::{
    Appender, Clock, Matcher, Querier, Sample, SeriesData, Storage, StoreError, TimeRange,
    Timestamp,
};

use crate::block::Block;
use crate::error::{CloseError, MaintainError, OpenError, Recovery, open_err};
use crate::head::Head;
use crate::maintain::{MaintainState, MaintenanceReport};
use crate::options::{StoreOptions, ms};
use crate::stats::{Counters, StoreStats};
use crate::wal::{Wal, WalConfig};

pub use appender::StoreAppender;
pub use read_only::ReadOnlyStore;

/// What the WAL thread shares with everyone else.
pub(crate) struct Core {
    pub head: Head,
    pub counters: Counters,
}

/// Read problems remembered for [`Store::problems`].
const MAX_PROBLEMS: usize = 100;

/// The most recent read problems (bounded: a damaged block met by every query must not grow
/// memory without end).
#[derive(Debug, Default)]
pub(crate) struct Problems(Mutex<VecDeque<String>>);

impl Problems {
    pub fn push(&self, what: String) {
        let mut p = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() == MAX_PROBLEMS {
            p.pop_front();
        }
        p.push_back(what);
    }

    /// Oldest first.
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Everything behind a [`Store`] handle; appenders keep it alive.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub wal_dir: PathBuf,
    pub blocks_dir: PathBuf,
    pub options: StoreOptions,
    pub ooo_ms: i64,
    pub skew_ms: i64,
    pub clock: Arc<dyn Clock>,
    pub core: Arc<Core>,
    pub wal: Wal,
    /// Readable blocks, ascending by (min_t, seq).
    pub blocks: RwLock<Vec<Arc<Block>>>,
    pub maintain: Mutex<MaintainState>,
    problems: Problems,
    recovery: Vec<Recovery>,
    /// Held for the store's lifetime: one process per directory.
    _lock: File,
}

impl Shared {
    /// A snapshot of the block list (queries work on it without holding the lock).
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Remembers a read problem (bounded) and counts it.
    pub fn problem(&self, what: String) {
        self.core
            .counters
            .corrupt_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.problems.push(what);
    }

    /// The value a block holds for head series `id` at `ts`, if any (the exactly-once check
    /// for samples older than the head).
    pub fn persisted_value(&self, id: u32, ts: i64) -> Option<f64> {
        let blocks: Vec<_> = self
            .blocks()
            .into_iter()
            .filter(|b| b.overlaps(ts, ts))
            .collect();
        if blocks.is_empty() {
            return None;
        }
        let labels = self.core.head.index().labels(id);
        for b in blocks {
            let Some(i) = b.find(&labels) else { continue };
            if !b.entry(i).is_some_and(|e| e.min_t <= ts && ts <= e.max_t) {
                continue;
            }
            match b.read(i) {
                Ok((t, v)) => {
                    if let Ok(k) = t.binary_search(&ts) {
                        return Some(v[k]);
                    }
                }
                Err(e) => self.problem(e.to_string()),
            }
        }
        None
    }
}

/// Periscope's embedded time-series store. Cheap to share behind an `Arc`; every method
/// takes `&self`.
pub struct Store {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`: loads blocks, replays the WAL, and writes a
    /// fresh checkpoint. Damage found on the way (torn WAL tail, bad checksums, corrupt
    /// blocks) does not fail the open: it is repaired or set aside and listed in the returned
    /// [`Recovery`] notes, see [`Store::recovery`]. Fails only on I/O errors, invalid
    /// options or a held lock.
    pub fn open(
        dir: &Path,
        options: StoreOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, OpenError> {
        let issues = options.check();
        if !issues.is_empty() {
            return Err(OpenError::Options(issues));
        }
        let wal_dir = dir.join("wal");
        let blocks_dir = dir.join("blocks");
        for d in [dir, &wal_dir, &blocks_dir] {
            std::fs::create_dir_all(d).map_err(open_err("creating directory", d))?;
        }
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(open_err("creating lock file", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OpenError::Locked {
                    path: dir.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(open_err("locking", &lock_path)(e));
            }
        }

        let mut notes = Vec::new();
        let head = Head::new(ms(options.block_span));
        let recovered = recover::recover(&wal_dir, &blocks_dir, &head, &mut notes)?;
        let core = Arc::new(Core {
            head,
            counters: Counters::default(),
        });
        let wal = Wal::start(
            WalConfig {
                dir: wal_dir.clone(),
                first_segment: recovered.first_segment,
                window: options.commit_window,
                segment_bytes: options.wal_segment_bytes,
            },
            core.clone(),
        )
        .map_err(open_err("starting WAL segment in", &wal_dir))?;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            wal_dir,
            blocks_dir,
            ooo_ms: ms(options.out_of_order_window),
            skew_ms: ms(options.future_skew),
            options,
            clock,
            core,
            wal,
            blocks: RwLock::new(recovered.blocks),
            maintain: Mutex::new(MaintainState {
                next_seq: recovered.next_seq,
            }),
            problems: Problems::default(),
            recovery: notes,
            _lock: lock,
        });
        Ok(Store { shared })
    }

    /// What recovery found and did when this store was opened (empty after a clean close).
    pub fn recovery(&self) -> &[Recovery] {
        &self.shared.recovery
    }

    /// A typed appender (the trait object from [`Storage::appender`] wraps the same thing);
    /// it also offers [`StoreAppender::commit_blocking`].
    pub fn store_appender(&self) -> StoreAppender {
        StoreAppender::new(self.shared.clone())
    }

    /// Cuts head ranges that are complete into blocks, compacts blocks, applies retention.
    /// `now` decides what is complete and what is expired; the clock is not read.
    pub fn maintain(&self, now: Timestamp) -> Result<MaintenanceReport, MaintainError> {
        crate::maintain::maintain(&self.shared, now)
    }

    /// Current figures.
    pub fn stats(&self) -> StoreStats {
        let mut s = StoreStats::default();
        s.fill_counters(&self.shared.core.counters);
        let (samples, bytes) = self.shared.core.head.footprint();
        s.series = u64::from(self.shared.core.head.series_count());
        s.head_samples = samples;
        s.head_bytes = bytes;
        s.wal_disk_bytes = crate::wal::disk_bytes(&self.shared.wal_dir);
        for b in self.shared.blocks() {
            s.blocks += 1;
            s.block_bytes += b.bytes;
            s.block_samples += b.meta.samples;
        }
        s
    }

    /// [`Store::stats`] as `periscope_store_*` samples at `now`.
    pub fn self_metrics(&self, now: Timestamp) -> Vec<Sample> {
        self.stats().to_samples(now)
    }

    /// Recent read problems (corrupt block blobs met by queries), oldest first.
    pub fn problems(&self) -> Vec<String> {
        self.shared.problems.list()
    }

    /// Reads every blob of every block; returns what is damaged.
    pub fn verify_blocks(&self) -> Vec<String> {
        self.shared
            .blocks()
            .iter()
            .flat_map(|b| b.verify())
            .map(|e| e.to_string())
            .collect()
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Syncs everything committed and stops the WAL; later commits fail as unavailable.
    /// Dropping the store does the same, silently.
    pub fn close(self) -> Result<(), CloseError> {
        self.shared.wal.close().map_err(CloseError)
    }
}

impl crate::query::Source for Shared {
    fn blocks(&self) -> Vec<Arc<Block>> {
        Shared::blocks(self)
    }
    fn head(&self) -> &Head {
        &self.core.head
    }
    fn problem(&self, what: String) {
        Shared::problem(self, what)
    }
}

impl Querier for Store {
    fn select(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<SeriesData>, StoreError> {
        Ok(crate::query::select(&*self.shared, matchers, range))
    }

    fn select_at_most(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
        max_series: usize,
    ) -> Result<Option<Vec<SeriesData>>, StoreError> {
        Ok(crate::query::select_at_most(
            &*self.shared,
            matchers,
            range,
            max_series,
        ))
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        Ok(crate::query::label_names(&*self.shared, matchers, range))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        Ok(crate::query::label_values(
            &*self.shared,
            name,
            matchers,
            range,
        ))
    }
}

impl Storage for Store {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(self.store_appender())
    }
}
