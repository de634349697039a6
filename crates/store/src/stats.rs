//! The store's own figures: counters bumped on the hot paths (relaxed atomics, no locks) and
//! the snapshot [`StoreStats`] that turns them into `periscope_store_*` samples.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use model::{Rejection, Sample, Timestamp};

const REASONS: [Rejection; 4] = [
    Rejection::TooOld,
    Rejection::TooFarInFuture,
    Rejection::ConflictingDuplicate,
    Rejection::InvalidLabels,
];

fn reason_index(r: Rejection) -> usize {
    match r {
        Rejection::TooOld => 0,
        Rejection::TooFarInFuture => 1,
        Rejection::ConflictingDuplicate => 2,
        Rejection::InvalidLabels => 3,
    }
}

/// Monotonic counters, shared by appenders, the WAL thread and maintenance.
#[derive(Debug, Default)]
pub struct Counters {
    pub samples_appended: AtomicU64,
    pub duplicates: AtomicU64,
    rejected: [AtomicU64; 4],
    pub series_created: AtomicU64,
    pub commits: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub wal_fsyncs: AtomicU64,
    pub blocks_cut: AtomicU64,
    pub blocks_compacted: AtomicU64,
    pub blocks_deleted: AtomicU64,
    pub corrupt_reads: AtomicU64,
}

impl Counters {
    /// Counts `n` refused samples.
    pub fn reject(&self, r: Rejection, n: u64) {
        self.rejected[reason_index(r)].fetch_add(n, Relaxed);
    }

    /// Refused samples by reason.
    pub fn rejected(&self, r: Rejection) -> u64 {
        self.rejected[reason_index(r)].load(Relaxed)
    }
}

/// A snapshot of the store's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreStats {
    /// Series in the head (in memory).
    pub series: u64,
    /// Samples held in the head.
    pub head_samples: u64,
    /// Approximate heap bytes of the head (index + samples).
    pub head_bytes: u64,
    /// Samples accepted by commits since open (exact duplicates included).
    pub samples_appended: u64,
    /// Of those, exact duplicates stored once.
    pub duplicates: u64,
    /// Samples refused, by reason (every [`Rejection`] listed, zero included).
    pub rejected: Vec<(Rejection, u64)>,
    /// Series created since open.
    pub series_created: u64,
    /// Commits made durable since open.
    pub commits: u64,
    /// Bytes written to the WAL since open.
    pub wal_bytes_written: u64,
    /// WAL fsyncs since open.
    pub wal_fsyncs: u64,
    /// WAL files' current size on disk.
    pub wal_disk_bytes: u64,
    /// Blocks readable now.
    pub blocks: u64,
    /// Block files' size on disk.
    pub block_bytes: u64,
    /// Samples stored in blocks.
    pub block_samples: u64,
    /// Blocks written by head cuts, compactions, and deleted by retention since open.
    pub blocks_cut: u64,
    pub blocks_compacted: u64,
    pub blocks_deleted: u64,
    /// Block blobs that failed their checksum when read since open.
    pub corrupt_reads: u64,
}

impl StoreStats {
    /// Total bytes on disk (WAL + blocks).
    pub fn bytes_on_disk(&self) -> u64 {
        self.wal_disk_bytes + self.block_bytes
    }

    pub(crate) fn fill_counters(&mut self, c: &Counters) {
        self.samples_appended = c.samples_appended.load(Relaxed);
        self.duplicates = c.duplicates.load(Relaxed);
        self.rejected = REASONS.iter().map(|&r| (r, c.rejected(r))).collect();
        self.series_created = c.series_created.load(Relaxed);
        self.commits = c.commits.load(Relaxed);
        self.wal_bytes_written = c.wal_bytes.load(Relaxed);
        self.wal_fsyncs = c.wal_fsyncs.load(Relaxed);
        self.blocks_cut = c.blocks_cut.load(Relaxed);
        self.blocks_compacted = c.blocks_compacted.load(Relaxed);
        self.blocks_deleted = c.blocks_deleted.load(Relaxed);
        self.corrupt_reads = c.corrupt_reads.load(Relaxed);
    }

    /// The figures as samples named `periscope_store_*` at `now`.
    pub fn to_samples(&self, now: Timestamp) -> Vec<Sample> {
        let g = |name: &str, v: u64| Sample::new(format!("periscope_store_{name}"), v as f64, now);
        let mut out = vec![
            g("head_series", self.series),
            g("head_samples", self.head_samples),
            g("head_bytes", self.head_bytes).unit("B"),
            g("samples_appended_total", self.samples_appended),
            g("duplicate_samples_total", self.duplicates),
            g("series_created_total", self.series_created),
            g("commits_total", self.commits),
            g("wal_written_bytes_total", self.wal_bytes_written).unit("B"),
            g("wal_fsyncs_total", self.wal_fsyncs),
            g("wal_bytes", self.wal_disk_bytes).unit("B"),
            g("blocks", self.blocks),
            g("block_bytes", self.block_bytes).unit("B"),
            g("block_samples", self.block_samples),
            g("disk_bytes", self.bytes_on_disk()).unit("B"),
            g("blocks_cut_total", self.blocks_cut),
            g("blocks_compacted_total", self.blocks_compacted),
            g("blocks_deleted_total", self.blocks_deleted),
            g("corrupt_reads_total", self.corrupt_reads),
        ];
        for &(r, n) in &self.rejected {
            out.push(g("rejected_samples_total", n).label("reason", r.as_str()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_reported_with_its_label() {
        let c = Counters::default();
        c.reject(Rejection::TooOld, 2);
        let mut s = StoreStats::default();
        s.fill_counters(&c);
        let samples = s.to_samples(Timestamp(5));
        let rejected: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "periscope_store_rejected_samples_total")
            .map(|s| (s.labels.get("reason").unwrap().to_string(), s.value))
            .collect();
        assert_eq!(rejected.len(), 4);
        assert!(rejected.contains(&("too_old".to_string(), 2.0)));
        assert!(
            samples
                .iter()
                .all(|s| s.name.starts_with("periscope_store_"))
        );
    }
}
