//! Maintenance, run by the caller with `now`: cut complete head ranges into blocks, take a
//! WAL checkpoint so the cut samples leave the WAL, compact blocks, apply retention.
//!
//! Crash safety comes from ordering, not from locks on disk: a block file appears only by
//! rename once complete; a cut block counts only once a checkpoint that excludes its samples
//! exists (recovery deletes "orphans" whose samples are still in the WAL); a compacted block
//! names its parents, and recovery deletes parents that outlived it.

mod compact;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use model::Timestamp;

use crate::block::{Block, BlockMeta, BlockWriter, Origin};
use crate::error::{MaintainError, io_err};
use crate::head::Frozen;
use crate::store::Shared;
use crate::wal::{self, Job};

/// State kept between maintenance runs (behind the store's maintenance mutex, which also
/// keeps two runs from overlapping).
#[derive(Debug)]
pub struct MaintainState {
    /// Sequence number of the next block written.
    pub next_seq: u64,
}

/// A block written by a head cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutBlock {
    pub seq: u64,
    pub min_t: i64,
    pub max_t: i64,
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
}

/// A compaction: which blocks were merged into which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    pub from: Vec<u64>,
    /// `None` when nothing inside retention was left to keep.
    pub into: Option<u64>,
    pub samples: u64,
}

/// What one maintenance run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Blocks cut from the head.
    pub cut: Vec<CutBlock>,
    /// The WAL checkpoint taken after cutting (its first segment), if any.
    pub checkpoint: Option<u64>,
    pub compactions: Vec<Compaction>,
    /// Blocks deleted by retention (by age or by size).
    pub deleted: Vec<u64>,
    /// Damaged data met and skipped while compacting.
    pub problems: Vec<String>,
}

/// `Store::maintain`.
pub fn maintain(shared: &Shared, now: Timestamp) -> Result<MaintenanceReport, MaintainError> {
    let mut state = shared.maintain.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(why) = shared.wal.stopped() {
        return Err(MaintainError::WalStopped(why));
    }
    let mut report = MaintenanceReport::default();
    cut(shared, &mut state, now.0, &mut report)?;
    compact::compact(shared, &mut state, now.0, &mut report)?;
    retention(shared, now.0, &mut report)?;
    Ok(report)
}

/// Cuts every head range that ended at least one out-of-order window ago.
fn cut(
    shared: &Shared,
    state: &mut MaintainState,
    now: i64,
    report: &mut MaintenanceReport,
) -> Result<(), MaintainError> {
    let head = &shared.core.head;
    let span = head.span();
    let ready: Vec<i64> = head
        .ranges()
        .into_iter()
        .filter(|&r| {
            r.saturating_add(1)
                .saturating_mul(span)
                .saturating_add(shared.ooo_ms)
                <= now
        })
        .collect();
    let mut last = None;
    for range in ready {
        let frozen = head.freeze(range);
        let seq = state.next_seq;
        match write_frozen(shared, &frozen, seq) {
            Ok(block) => {
                state.next_seq += 1;
                report.cut.push(CutBlock {
                    seq,
                    min_t: block.meta.min_t,
                    max_t: block.meta.max_t,
                    series: block.meta.series,
                    samples: block.meta.samples,
                    bytes: block.bytes,
                });
                add_block(shared, block);
                head.thaw(&frozen);
                shared.core.counters.blocks_cut.fetch_add(1, Relaxed);
                last = Some(seq);
            }
            Err(e) => {
                head.unfreeze(&frozen);
                return Err(e);
            }
        }
    }
    if let Some(seq) = last {
        report.checkpoint = Some(checkpoint(shared, seq)?);
    }
    Ok(())
}

fn write_frozen(shared: &Shared, frozen: &Frozen, seq: u64) -> Result<Arc<Block>, MaintainError> {
    let dir = &shared.blocks_dir;
    let mut list: Vec<_> = {
        let index = shared.core.head.index();
        frozen
            .series
            .iter()
            .map(|(id, c)| (index.labels(*id), c))
            .collect()
    };
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let mut w = BlockWriter::create(dir, seq).map_err(io_err("creating block in", dir))?;
    let mut buf = Vec::new();
    for (labels, chunk) in list {
        buf.clear();
        chunk.decode_into(&mut buf);
        let (ts, vals): (Vec<i64>, Vec<f64>) = buf.iter().copied().unzip();
        if let Err(e) = w.add(labels, &ts, &vals) {
            w.abandon();
            return Err(io_err("writing block in", dir)(e));
        }
    }
    let meta = BlockMeta {
        seq,
        min_t: 0,
        max_t: 0,
        series: 0,
        samples: 0,
        origin: Origin::HeadCut,
        parents: Vec::new(),
    };
    let (path, _, _) = w.finish(meta).map_err(io_err("finishing block in", dir))?;
    open_block(&path)
}

/// Opens a block this process just wrote (its checks double as a read-back test).
fn open_block(path: &std::path::Path) -> Result<Arc<Block>, MaintainError> {
    Block::open(path)
        .map(Arc::new)
        .map_err(|e| MaintainError::Io {
            what: "reading back new block",
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
}

/// Adds a block to the readable list, keeping it ordered.
fn add_block(shared: &Shared, block: Arc<Block>) {
    let mut blocks = shared.blocks.write().unwrap_or_else(|p| p.into_inner());
    blocks.push(block);
    blocks.sort_by_key(|b| (b.meta.min_t, b.meta.seq));
}

/// Removes blocks from the readable list, then their files. Queries holding the old list
/// keep reading through their open file handles.
fn remove_blocks(shared: &Shared, seqs: &[u64]) -> Result<(), MaintainError> {
    let gone: Vec<Arc<Block>> = {
        let mut blocks = shared.blocks.write().unwrap_or_else(|p| p.into_inner());
        let (gone, kept) = blocks.drain(..).partition(|b| seqs.contains(&b.meta.seq));
        *blocks = kept;
        gone
    };
    for b in &gone {
        std::fs::remove_file(&b.path).map_err(io_err("removing block", &b.path))?;
    }
    wal::sync_dir(&shared.blocks_dir).map_err(io_err("syncing", &shared.blocks_dir))
}

/// Asks the WAL thread for a head image and installs it as the new checkpoint; returns its
/// first segment.
fn checkpoint(shared: &Shared, head_cut_seq: u64) -> Result<u64, MaintainError> {
    let (tx, rx) = crate::oneshot::channel();
    shared
        .wal
        .submit(Job::Checkpoint {
            head_cut_seq,
            reply: tx,
        })
        .map_err(|(_, why)| MaintainError::WalStopped(why))?;
    let image = rx
        .wait()
        .unwrap_or_else(|| Err("WAL thread ended without answering".into()))
        .map_err(MaintainError::WalStopped)?;
    let dir = &shared.wal_dir;
    wal::install_checkpoint(dir, &image).map_err(io_err("writing checkpoint in", dir))?;
    wal::remove_obsolete(dir, image.first_segment)
        .map_err(io_err("removing checkpointed WAL files in", dir))?;
    Ok(image.first_segment)
}

/// Deletes blocks past the retention age, then the oldest blocks while over the byte limit.
fn retention(
    shared: &Shared,
    now: i64,
    report: &mut MaintenanceReport,
) -> Result<(), MaintainError> {
    let opts = &shared.options;
    let mut doomed = Vec::new();
    let blocks = shared.blocks();
    if !opts.retention_age.is_zero() {
        let cutoff = now.saturating_sub(crate::options::ms(opts.retention_age));
        doomed.extend(
            blocks
                .iter()
                .filter(|b| b.meta.max_t < cutoff)
                .map(|b| b.meta.seq),
        );
    }
    if opts.retention_bytes > 0 {
        let mut total: u64 = wal::disk_bytes(&shared.wal_dir)
            + blocks
                .iter()
                .filter(|b| !doomed.contains(&b.meta.seq))
                .map(|b| b.bytes)
                .sum::<u64>();
        // `blocks` is ordered oldest first.
        let candidates: Vec<_> = blocks
            .iter()
            .filter(|b| !doomed.contains(&b.meta.seq))
            .collect();
        for b in candidates {
            if total <= opts.retention_bytes {
                break;
            }
            total -= b.bytes;
            doomed.push(b.meta.seq);
        }
    }
    if !doomed.is_empty() {
        remove_blocks(shared, &doomed)?;
        shared
            .core
            .counters
            .blocks_deleted
            .fetch_add(doomed.len() as u64, Relaxed);
        report.deleted = doomed;
    }
    Ok(())
}
