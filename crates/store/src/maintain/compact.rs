//! Compaction: overlapping blocks (late samples cut after their range) are merged first;
//! then the blocks inside one compaction window (`StoreOptions::compaction_span_ms`) are
//! merged once that window is complete. Longer series compress better with pcodec, and fewer
//! blocks mean fewer index lookups per query. Merging drops samples outside retention.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use model::Labels;

use super::{Compaction, MaintainState, MaintenanceReport, add_block, open_block, remove_blocks};
use crate::block::{Block, BlockMeta, BlockWriter, Origin};
use crate::error::{MaintainError, io_err};
use crate::store::Shared;

/// Upper bound on merges per run, so one call cannot run for ever on a pathological set.
const MAX_MERGES_PER_RUN: usize = 64;

pub fn compact(
    shared: &Shared,
    state: &mut MaintainState,
    now: i64,
    report: &mut MaintenanceReport,
) -> Result<(), MaintainError> {
    for _ in 0..MAX_MERGES_PER_RUN {
        let blocks = shared.blocks();
        let Some(group) = overlapping(&blocks).or_else(|| windowed(shared, &blocks, now)) else {
            break;
        };
        merge(shared, state, &group, now, report)?;
    }
    Ok(())
}

/// The first run of blocks whose time ranges overlap (blocks are ordered by min_t).
fn overlapping(blocks: &[Arc<Block>]) -> Option<Vec<Arc<Block>>> {
    let mut group: Vec<Arc<Block>> = Vec::new();
    let mut max_t = i64::MIN;
    for b in blocks {
        if !group.is_empty() && b.meta.min_t <= max_t {
            group.push(b.clone());
            max_t = max_t.max(b.meta.max_t);
            continue;
        }
        if group.len() >= 2 {
            return Some(group);
        }
        group = vec![b.clone()];
        max_t = b.meta.max_t;
    }
    (group.len() >= 2).then_some(group)
}

/// The blocks of the oldest complete compaction window holding two or more of them.
fn windowed(shared: &Shared, blocks: &[Arc<Block>], now: i64) -> Option<Vec<Arc<Block>>> {
    let c = shared.options.compaction_span_ms();
    let mut windows: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
    for b in blocks {
        let w = b.meta.min_t.div_euclid(c);
        if b.meta.max_t.div_euclid(c) == w {
            windows.entry(w).or_default().push(b.clone());
        }
    }
    windows.into_iter().find_map(|(w, group)| {
        let complete = w
            .saturating_add(1)
            .saturating_mul(c)
            .saturating_add(shared.ooo_ms)
            <= now;
        (complete && group.len() >= 2).then_some(group)
    })
}

fn merge(
    shared: &Shared,
    state: &mut MaintainState,
    group: &[Arc<Block>],
    now: i64,
    report: &mut MaintenanceReport,
) -> Result<(), MaintainError> {
    let cutoff = if shared.options.retention_age.is_zero() {
        i64::MIN
    } else {
        now.saturating_sub(crate::options::ms(shared.options.retention_age))
    };
    let mut all: BTreeMap<Labels, Vec<(usize, u32)>> = BTreeMap::new();
    for (k, b) in group.iter().enumerate() {
        for i in 0..b.len() as u32 {
            all.entry(b.labels(i)).or_default().push((k, i));
        }
    }
    let dir = &shared.blocks_dir;
    let seq = state.next_seq;
    state.next_seq += 1;
    let mut w = BlockWriter::create(dir, seq).map_err(io_err("creating block in", dir))?;
    let mut samples = Vec::new();
    let mut total = 0u64;
    for (labels, sources) in all {
        samples.clear();
        for (k, i) in sources {
            match group[k].read(i) {
                Ok((ts, vals)) => samples.extend(ts.into_iter().zip(vals)),
                Err(e) => {
                    report.problems.push(e.to_string());
                    shared.problem(e.to_string());
                }
            }
        }
        // Stable sort, then keep the first of equal timestamps: sources are in (min_t, seq)
        // order, and equal timestamps carry equal values by the exactly-once rule.
        samples.sort_by_key(|&(t, _)| t);
        samples.dedup_by_key(|&mut (t, _)| t);
        samples.retain(|&(t, _)| t >= cutoff);
        let (ts, vals): (Vec<i64>, Vec<f64>) = samples.iter().copied().unzip();
        total += ts.len() as u64;
        if let Err(e) = w.add(labels, &ts, &vals) {
            w.abandon();
            return Err(io_err("writing block in", dir)(e));
        }
    }
    let from: Vec<u64> = group.iter().map(|b| b.meta.seq).collect();
    let into = if w.series() == 0 {
        w.abandon();
        None
    } else {
        let meta = BlockMeta {
            seq,
            min_t: 0,
            max_t: 0,
            series: 0,
            samples: 0,
            origin: Origin::Compaction,
            parents: from.clone(),
        };
        let (path, _, _) = w.finish(meta).map_err(io_err("finishing block in", dir))?;
        add_block(shared, open_block(&path)?);
        Some(seq)
    };
    remove_blocks(shared, &from)?;
    shared
        .core
        .counters
        .blocks_compacted
        .fetch_add(from.len() as u64, Relaxed);
    report.compactions.push(Compaction {
        from,
        into,
        samples: total,
    });
    Ok(())
}
