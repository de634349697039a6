//! The head: every series and its recent samples, in memory.
//!
//! Two locks, always taken in this order: `index` (label sets, postings; written only when a
//! series is created) and `data` (samples; written only by the WAL thread applying synced
//! commits and by maintenance moving whole chunks out). Samples are kept per series in one
//! [`Chunk`] per block-span range, so cutting a block moves chunks instead of re-encoding them.
//! Each series' newest timestamp is kept apart, in atomics read without either lock
//! (`newest.rs`), for the append-time check.

mod index;
mod newest;
mod select;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use model::{Labels, Matcher, Rejection, TimeRange};

use crate::chunk::{Chunk, Inserted};

pub use index::{HeadIndex, labels_hash, normalize};
pub use newest::{Newest, NewestView};

/// Samples of one series: at most one chunk per block-span range, oldest range first. Its
/// newest timestamp ever accepted (kept after its chunk is cut into a block) is in the head's
/// [`Newest`], passed to the methods that store samples.
#[derive(Debug, Default)]
pub struct SeriesSamples {
    chunks: Vec<Chunk>,
}

/// Where a timestamp stands in the head.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lookup {
    /// A sample is stored at that timestamp with this value.
    Found(f64),
    /// The head holds that range and nothing at the timestamp.
    Absent,
    /// The head has no chunk for that range: the sample may be in a block.
    NotInHead,
}

impl SeriesSamples {
    fn chunk_index(&self, range: i64, span: i64) -> Result<usize, usize> {
        self.chunks
            .binary_search_by_key(&range, |c| c.max_ts().div_euclid(span))
    }

    /// Stores a sample, applying the exactly-once rule; raises `newest`.
    #[inline]
    pub fn insert(&mut self, ts: i64, v: f64, span: i64, newest: &AtomicI64) -> Inserted {
        let range = ts.div_euclid(span);
        if let Some(last) = self.chunks.last_mut() {
            let last_range = last.max_ts().div_euclid(span);
            if range == last_range {
                let r = last.insert(ts, v);
                newest::raise(newest, ts);
                return r;
            }
            if range < last_range {
                return match self.chunk_index(range, span) {
                    Ok(i) => self.chunks[i].insert(ts, v),
                    Err(i) => {
                        self.chunks.reserve_exact(1);
                        self.chunks.insert(i, Chunk::new(ts, v));
                        Inserted::New
                    }
                };
            }
        }
        // A series holds one or two chunks: growing by one keeps `Vec`'s default minimum of
        // four (288 bytes) from dominating the per-series memory.
        self.chunks.reserve_exact(1);
        self.chunks.push(Chunk::new(ts, v));
        newest::raise(newest, ts);
        Inserted::New
    }

    /// What the head holds at `ts`.
    pub fn lookup(&self, ts: i64, span: i64) -> Lookup {
        match self.chunk_index(ts.div_euclid(span), span) {
            Ok(i) => self.chunks[i]
                .find(ts)
                .map_or(Lookup::Absent, Lookup::Found),
            Err(_) => Lookup::NotInHead,
        }
    }

    /// Appends the samples inside `range` to `out`, oldest first.
    pub fn collect(&self, range: TimeRange, out: &mut Vec<(i64, f64)>) {
        for c in &self.chunks {
            collect_chunk(c, range, out);
        }
    }

    /// True when a chunk overlaps `range`.
    pub fn overlaps(&self, range: TimeRange) -> bool {
        self.chunks
            .iter()
            .any(|c| c.min_ts() <= range.end.0 && c.max_ts() >= range.start.0)
    }

    /// The chunks.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// Puts a whole chunk back (from a checkpoint, or after a failed block write), merging
    /// it sample by sample if the head already has a chunk for that range; raises `newest`.
    fn restore(&mut self, chunk: Chunk, span: i64, newest: &AtomicI64) {
        newest::raise(newest, chunk.max_ts());
        match self.chunk_index(chunk.max_ts().div_euclid(span), span) {
            Err(i) => {
                self.chunks.reserve_exact(1);
                self.chunks.insert(i, chunk);
            }
            Ok(i) => {
                let mut samples = Vec::with_capacity(chunk.len());
                chunk.decode_into(&mut samples);
                for (t, v) in samples {
                    self.chunks[i].insert(t, v);
                }
            }
        }
    }
}

/// Appends the part of `c` inside `range`.
pub fn collect_chunk(c: &Chunk, range: TimeRange, out: &mut Vec<(i64, f64)>) {
    if c.min_ts() > range.end.0 || c.max_ts() < range.start.0 {
        return;
    }
    c.decode_range_into(range.start.0, range.end.0, out);
}

/// Chunks taken out of the head for one block-span range while their block is written.
/// Queries and duplicate checks still read them until the block is in place.
#[derive(Debug)]
pub struct Frozen {
    /// The range index (`timestamp.div_euclid(span)`).
    pub range: i64,
    /// (series id, chunk), ascending by id.
    pub series: Vec<(u32, Chunk)>,
}

impl Frozen {
    /// The chunk of series `id`, if it had one in this range.
    pub fn chunk(&self, id: u32) -> Option<&Chunk> {
        self.series
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|i| &self.series[i].1)
    }
}

/// The mutable sample side of the head.
#[derive(Debug, Default)]
pub struct HeadData {
    pub series: Vec<SeriesSamples>,
    pub frozen: Vec<Arc<Frozen>>,
}

/// What applying a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub new: u64,
    pub duplicates: u64,
    /// Lost a race with another commit that stored a different value first.
    pub conflicts: u64,
}

/// Outcome of the append-time check of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Not stored yet: add it to the batch.
    New,
    /// The identical sample is stored: accept, do not store again.
    Duplicate,
    /// The head cannot tell; the blocks covering the timestamp must be asked.
    AskBlocks,
    /// No such series.
    Unknown,
}

/// Series catalogue plus samples.
#[derive(Debug)]
pub struct Head {
    index: RwLock<HeadIndex>,
    data: RwLock<HeadData>,
    /// Each series' newest timestamp, read by appenders without taking `data`.
    newest: Newest,
    /// Block span in milliseconds: the chunk range width.
    span: i64,
    /// Highest range index that blocks may hold samples of (`i64::MIN`: none).
    cut_upto: AtomicI64,
}

impl Head {
    /// An empty head whose chunks cover `span_ms` each.
    pub fn new(span_ms: i64) -> Self {
        Head {
            index: RwLock::default(),
            data: RwLock::default(),
            newest: Newest::default(),
            span: span_ms.max(1),
            cut_upto: AtomicI64::new(i64::MIN),
        }
    }

    /// Chunk range width in milliseconds.
    pub fn span(&self) -> i64 {
        self.span
    }

    // A poisoned lock means a panic elsewhere mid-update; the structures are still
    // consistent enough to read (every update is a push or an in-place insert), so go on.
    pub fn index(&self) -> RwLockReadGuard<'_, HeadIndex> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn index_mut(&self) -> RwLockWriteGuard<'_, HeadIndex> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }
    pub fn data(&self) -> RwLockReadGuard<'_, HeadData> {
        self.data.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn data_mut(&self) -> RwLockWriteGuard<'_, HeadData> {
        self.data.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Finds or creates the series of a normalized label set. `on_create` runs while the
    /// index is still locked, so whatever it queues (the WAL series record) is ordered before
    /// any commit that can know the new id.
    pub fn get_or_create(&self, labels: &Labels, on_create: impl FnOnce(u32)) -> (u32, bool) {
        let hash = labels_hash(labels);
        if let Some(id) = self.index().find(labels, hash) {
            return (id, false);
        }
        let mut index = self.index_mut();
        if let Some(id) = index.find(labels, hash) {
            return (id, false);
        }
        let id = index.create(labels, hash);
        self.newest.add(id);
        self.data_mut().series.push(SeriesSamples::default());
        on_create(id);
        (id, true)
    }

    /// [`Head::get_or_create`] for many normalized label sets: `out[i]` is `labels[i]`'s id and
    /// whether it was created. The index is locked for writing once for all the new ones, and
    /// `on_create` runs once, with every `(id, i)` created, while it still is.
    ///
    /// Why: a sender's first payload brings thousands of new series, and taking the write lock
    /// (and queuing a WAL record) per series made concurrent payloads wait on each other.
    pub fn get_or_create_many(
        &self,
        labels: &[&Labels],
        out: &mut Vec<(u32, bool)>,
        on_create: impl FnOnce(&[(u32, usize)]),
    ) {
        out.clear();
        let hashes: Vec<u64> = labels.iter().map(|l| labels_hash(l)).collect();
        let mut missing = Vec::new();
        {
            let index = self.index();
            for (i, (l, &hash)) in labels.iter().zip(&hashes).enumerate() {
                let found = index.find(l, hash);
                out.push((found.unwrap_or(u32::MAX), false));
                if found.is_none() {
                    missing.push(i);
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        let mut index = self.index_mut();
        let mut created = Vec::new();
        for i in missing {
            // Found now when another payload created it meanwhile, or when it repeats here.
            if let Some(id) = index.find(labels[i], hashes[i]) {
                out[i] = (id, false);
                continue;
            }
            let id = index.create(labels[i], hashes[i]);
            self.newest.add(id);
            out[i] = (id, true);
            created.push((id, i));
        }
        let mut data = self.data_mut();
        let len = data.series.len() + created.len();
        data.series.resize_with(len, SeriesSamples::default);
        drop(data);
        on_create(&created);
    }

    /// Number of series.
    pub fn series_count(&self) -> u32 {
        self.index().len()
    }

    /// The append-time rules for one sample: too old, duplicate, conflicting duplicate.
    /// `batch_newest` is the newest timestamp the caller's own batch holds for the series.
    pub fn check(
        &self,
        id: u32,
        ts: i64,
        v: f64,
        batch_newest: i64,
        ooo_window: i64,
    ) -> Result<Check, Rejection> {
        let data = self.data();
        let Some(s) = data.series.get(id as usize) else {
            return Ok(Check::Unknown);
        };
        let newest = self.newest.get(id).max(batch_newest);
        let range = ts.div_euclid(self.span);
        let maybe_in_blocks = range <= self.cut_upto.load(Ordering::Acquire);
        if ts > newest && !maybe_in_blocks {
            return Ok(Check::New);
        }
        if newest.saturating_sub(ts) > ooo_window {
            return Err(Rejection::TooOld);
        }
        let same = |old: f64| {
            if old.to_bits() == v.to_bits() {
                Ok(Check::Duplicate)
            } else {
                Err(Rejection::ConflictingDuplicate)
            }
        };
        if let Lookup::Found(old) = s.lookup(ts, self.span) {
            return same(old);
        }
        if !maybe_in_blocks {
            // Never cut: the head is the only place this sample could be.
            return Ok(Check::New);
        }
        for f in data.frozen.iter().filter(|f| f.range == range) {
            if let Some(old) = f.chunk(id).and_then(|c| c.find(ts)) {
                return same(old);
            }
        }
        Ok(Check::AskBlocks)
    }

    /// True when blocks may hold samples at `ts` (its range was cut).
    #[inline]
    pub fn maybe_in_blocks(&self, ts: i64) -> bool {
        ts.div_euclid(self.span) <= self.cut_upto.load(Ordering::Acquire)
    }

    /// Records that blocks may hold samples up to range index `range` (inclusive).
    pub fn mark_cut(&self, range: i64) {
        self.cut_upto.fetch_max(range, Ordering::AcqRel);
    }

    /// Stores synced samples in WAL order (the WAL thread and replay call this).
    pub fn apply(&self, samples: &[(u32, i64, f64)]) -> Applied {
        let mut data = self.data_mut();
        // Taken under `data`: every series in `data` was added to `newest` before it.
        let newest = self.newest.view();
        let mut a = Applied::default();
        for &(id, ts, v) in samples {
            let (Some(s), Some(n)) = (data.series.get_mut(id as usize), newest.of(id)) else {
                continue;
            };
            match s.insert(ts, v, self.span, n) {
                Inserted::New => a.new += 1,
                Inserted::Duplicate => a.duplicates += 1,
                Inserted::Conflict => a.conflicts += 1,
            }
        }
        a
    }

    /// Range indexes that have chunks in the head, ascending.
    pub fn ranges(&self) -> Vec<i64> {
        let data = self.data();
        let mut r: Vec<i64> = data
            .series
            .iter()
            .flat_map(|s| s.chunks.iter().map(|c| c.max_ts().div_euclid(self.span)))
            .collect();
        r.sort_unstable();
        r.dedup();
        r
    }

    /// Moves every chunk of `range` out of the head into a [`Frozen`] set that stays readable
    /// until [`Head::thaw`].
    pub fn freeze(&self, range: i64) -> Arc<Frozen> {
        let mut data = self.data_mut();
        self.mark_cut(range);
        let span = self.span;
        let mut taken = Vec::new();
        for (id, s) in data.series.iter_mut().enumerate() {
            if let Ok(i) = s.chunk_index(range, span) {
                taken.push((id as u32, s.chunks.remove(i)));
                s.chunks.shrink_to_fit();
            }
        }
        let frozen = Arc::new(Frozen {
            range,
            series: taken,
        });
        data.frozen.push(frozen.clone());
        frozen
    }

    /// Gives a frozen set's chunks back to the head (its block could not be written).
    pub fn unfreeze(&self, frozen: &Arc<Frozen>) {
        let mut data = self.data_mut();
        data.frozen.retain(|f| !Arc::ptr_eq(f, frozen));
        let newest = self.newest.view();
        for (id, chunk) in &frozen.series {
            if let (Some(s), Some(n)) = (data.series.get_mut(*id as usize), newest.of(*id)) {
                s.restore(chunk.clone(), self.span, n);
            }
        }
    }

    /// Puts a whole chunk of series `id` back (read from a checkpoint at start).
    pub fn restore_chunk(&self, id: u32, chunk: Chunk) {
        let newest = self.newest.view();
        if let (Some(s), Some(n)) = (self.data_mut().series.get_mut(id as usize), newest.of(id)) {
            s.restore(chunk, self.span, n);
        }
    }

    /// Every series' newest timestamp, for checks that do not take the head's locks.
    pub fn newest(&self) -> NewestView {
        self.newest.view()
    }

    /// Forgets a frozen set once its block is readable.
    pub fn thaw(&self, frozen: &Arc<Frozen>) {
        self.data_mut().frozen.retain(|f| !Arc::ptr_eq(f, frozen));
    }

    /// How many series match, without reading samples.
    pub fn matching_series(&self, matchers: &[Matcher]) -> usize {
        self.index().select(matchers).len()
    }

    /// Label sets and in-range samples of the matching series (frozen chunks included).
    pub fn select(&self, matchers: &[Matcher], range: TimeRange) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let index = self.index();
        let ids = index.select(matchers);
        let data = self.data();
        let mut out = Vec::new();
        for id in ids {
            let mut samples = Vec::new();
            if let Some(s) = data.series.get(id as usize) {
                s.collect(range, &mut samples);
            }
            for f in &data.frozen {
                if let Some(c) = f.chunk(id) {
                    collect_chunk(c, range, &mut samples);
                }
            }
            if !samples.is_empty() {
                samples.sort_by_key(|&(t, _)| t);
                out.push((index.labels(id), samples));
            }
        }
        out
    }

    /// Calls `f` with the label pairs of each matching series that has samples in `range`.
    pub fn for_each_labels(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
        mut f: impl FnMut(&mut dyn Iterator<Item = (&str, &str)>),
    ) {
        let index = self.index();
        let ids = index.select(matchers);
        let data = self.data();
        for id in ids {
            let in_head = data
                .series
                .get(id as usize)
                .is_some_and(|s| s.overlaps(range));
            let in_frozen = || {
                data.frozen.iter().any(|fr| {
                    fr.chunk(id)
                        .is_some_and(|c| c.min_ts() <= range.end.0 && c.max_ts() >= range.start.0)
                })
            };
            if in_head || in_frozen() {
                f(&mut index.pairs(id));
            }
        }
    }

    /// (samples held, approximate heap bytes of index and samples), for stats.
    pub fn footprint(&self) -> (u64, u64) {
        let index_bytes = self.index().heap_bytes();
        let data = self.data();
        let mut samples = 0u64;
        let mut bytes = data.series.capacity() * std::mem::size_of::<SeriesSamples>();
        for s in &data.series {
            bytes += s.chunks.capacity() * std::mem::size_of::<Chunk>();
            for c in &s.chunks {
                samples += c.len() as u64;
                bytes += c.heap_bytes();
            }
        }
        (samples, (bytes + index_bytes) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_range_and_freeze_moves_them() {
        let head = Head::new(100);
        let l = Labels::new().with("__name__", "up");
        let (id, created) = head.get_or_create(&l, |_| {});
        assert!(created);
        assert_eq!(head.get_or_create(&l, |_| panic!("exists")), (id, false));
        let a = head.apply(&[(id, 10, 1.0), (id, 150, 2.0), (id, 20, 3.0), (id, 20, 3.0)]);
        assert_eq!((a.new, a.duplicates), (3, 1));
        assert_eq!(head.ranges(), vec![0, 1]);
        assert_eq!(
            head.check(id, 20, 4.0, i64::MIN, 1000),
            Err(Rejection::ConflictingDuplicate)
        );
        assert_eq!(
            head.check(id, 20, 3.0, i64::MIN, 1000),
            Ok(Check::Duplicate)
        );
        assert_eq!(head.check(id, 151, 3.0, i64::MIN, 1000), Ok(Check::New));
        assert_eq!(
            head.check(id, 30, 3.0, i64::MIN, 100),
            Err(Rejection::TooOld)
        );
        let f = head.freeze(0);
        assert_eq!(head.ranges(), vec![1]);
        // Still answered from the frozen set while the block is written.
        assert_eq!(
            head.check(id, 10, 1.0, i64::MIN, 1000),
            Ok(Check::Duplicate)
        );
        let all = TimeRange::new(model::Timestamp(0), model::Timestamp(1000));
        assert_eq!(
            head.select(&[], all)[0].1,
            vec![(10, 1.0), (20, 3.0), (150, 2.0)]
        );
        head.thaw(&f);
        assert_eq!(
            head.check(id, 10, 1.0, i64::MIN, 1000),
            Ok(Check::AskBlocks)
        );
        assert_eq!(head.select(&[], all)[0].1, vec![(150, 2.0)]);
    }
}
