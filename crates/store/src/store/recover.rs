//! Opening a store: blocks are loaded and checked, the WAL is replayed into a fresh head, and
//! a new checkpoint replaces every WAL file read.
//!
//! Series get new, dense ids on every open (references never outlive a store), and series
//! whose samples are all in blocks are not brought back into the head: that is where the
//! head forgets series that stopped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use model::Labels;

use crate::block::{self, Block, Origin};
use crate::chunk::Chunk;
use crate::error::{OpenError, Recovery, RecoveryKind, open_err};
use crate::head::Head;
use crate::wal::{self, ChunkParts, Mode, Replayed, Sink};

/// What open needs after recovery.
pub struct Recovered {
    /// Readable blocks, ascending by (min_t, seq).
    pub blocks: Vec<Arc<Block>>,
    /// The segment the WAL thread starts with (the new checkpoint's number).
    pub first_segment: u64,
    /// The next block sequence number.
    pub next_seq: u64,
}

fn note(kind: RecoveryKind, path: &Path, detail: String) -> Recovery {
    Recovery {
        kind,
        path: path.to_path_buf(),
        offset: None,
        detail,
    }
}

/// Runs recovery into `head`, adding notes for everything found.
pub fn recover(
    wal_dir: &Path,
    blocks_dir: &Path,
    head: &Head,
    notes: &mut Vec<Recovery>,
) -> Result<Recovered, OpenError> {
    let blocks = load_blocks(blocks_dir, notes)?;
    let replayed = replay_into(wal_dir, head, notes, Mode::Owner)?;

    let (blocks, superseded) = split_superseded(blocks, replayed.head_cut_seq);
    for (b, kind) in superseded {
        let (what, detail) = match kind {
            RecoveryKind::OrphanBlock => (
                "removing orphan block",
                "cut from the head but never checkpointed; its samples are in the WAL",
            ),
            _ => (
                "removing compacted block",
                "already merged into a newer block",
            ),
        };
        std::fs::remove_file(&b.path).map_err(open_err(what, &b.path))?;
        notes.push(note(kind, &b.path, detail.into()));
    }
    wal::sync_dir(blocks_dir).map_err(open_err("syncing", blocks_dir))?;

    let span = head.span();
    if let Some(max) = blocks.iter().map(|b| b.meta.max_t).max() {
        head.mark_cut(max.div_euclid(span));
    }
    let max_seq = blocks
        .iter()
        .map(|b| b.meta.seq)
        .chain(replayed.head_cut_seq)
        .max()
        .unwrap_or(0);

    // The new checkpoint accounts for every block now present and replaces every WAL file.
    let first_segment = replayed.next_segment;
    let mut bytes = Vec::new();
    wal::encode_head_image(head, first_segment, max_seq, &mut bytes);
    let image = wal::CheckpointImage {
        first_segment,
        bytes,
    };
    wal::install_checkpoint(wal_dir, &image).map_err(open_err("writing checkpoint in", wal_dir))?;
    wal::remove_obsolete(wal_dir, first_segment)
        .map_err(open_err("removing replayed WAL files in", wal_dir))?;

    Ok(Recovered {
        blocks,
        first_segment,
        next_seq: max_seq + 1,
    })
}

/// Replays the WAL in `wal_dir` into `head`, noting samples of unknown series.
pub fn replay_into(
    wal_dir: &Path,
    head: &Head,
    notes: &mut Vec<Recovery>,
    mode: Mode,
) -> Result<Replayed, OpenError> {
    let mut sink = Replay {
        head,
        labels: HashMap::new(),
        ids: HashMap::new(),
        unknown: HashMap::new(),
        batch: Vec::new(),
    };
    let replayed = wal::replay(wal_dir, &mut sink, notes, mode)?;
    for (path, n) in sink.unknown {
        notes.push(note(
            RecoveryKind::UnknownSeries,
            Path::new(&path),
            format!("{n} samples referred to series without a series record and were dropped"),
        ));
    }
    Ok(replayed)
}

/// Blocks that read fine but are no longer part of the store, and why.
pub type Superseded = Vec<(Arc<Block>, RecoveryKind)>;

/// Splits readable blocks into those that belong to the store and those superseded (the
/// owner deletes them, a read-only view ignores them), given the replayed checkpoint's
/// "head cut seq". Superseded: orphans (`RecoveryKind::OrphanBlock`) first, then compacted
/// sources (`RecoveryKind::CompactedSource`).
pub fn split_superseded(
    blocks: Vec<Arc<Block>>,
    head_cut_seq: Option<u64>,
) -> (Vec<Arc<Block>>, Superseded) {
    let mut superseded = Vec::new();
    // Blocks cut from the head after the checkpoint we replayed: their samples came back
    // from the WAL, so the blocks go (else the data would exist twice until compaction).
    let (orphans, blocks): (Vec<_>, Vec<_>) = blocks.into_iter().partition(|b| {
        head_cut_seq.is_some_and(|cut| b.meta.origin == Origin::HeadCut && b.meta.seq > cut)
    });
    superseded.extend(orphans.into_iter().map(|b| (b, RecoveryKind::OrphanBlock)));
    // A compaction that finished writing but did not get to delete its sources.
    let parents: Vec<u64> = blocks.iter().flat_map(|b| b.meta.parents.clone()).collect();
    let (sources, kept): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| parents.contains(&b.meta.seq));
    superseded.extend(
        sources
            .into_iter()
            .map(|b| (b, RecoveryKind::CompactedSource)),
    );
    (kept, superseded)
}

fn load_blocks(dir: &Path, notes: &mut Vec<Recovery>) -> Result<Vec<Arc<Block>>, OpenError> {
    let mut blocks = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(open_err("reading blocks directory", dir))? {
        let path = entry
            .map_err(open_err("reading blocks directory", dir))?
            .path();
        if path.extension().is_some_and(|e| e == "tmp") {
            std::fs::remove_file(&path).map_err(open_err("removing", &path))?;
            notes.push(note(
                RecoveryKind::Leftover,
                &path,
                "interrupted block write".into(),
            ));
            continue;
        }
        if block::parse_file_name(&path).is_none() {
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(e) => {
                // Set aside, not deleted: someone may want to look at it.
                let aside = path.with_extension("block.corrupt");
                std::fs::rename(&path, &aside).map_err(open_err("setting aside", &path))?;
                notes.push(note(
                    RecoveryKind::CorruptBlock,
                    &path,
                    format!("{e}; renamed to {}", aside.display()),
                ));
            }
        }
    }
    blocks.sort_by_key(|b| (b.meta.min_t, b.meta.seq));
    Ok(blocks)
}

/// Feeds replayed records into the head, mapping WAL series ids to fresh head ids.
struct Replay<'a> {
    head: &'a Head,
    labels: HashMap<u64, Labels>,
    ids: HashMap<u64, u32>,
    /// Samples of unknown series, by file.
    unknown: HashMap<String, u64>,
    batch: Vec<(u32, i64, f64)>,
}

impl Replay<'_> {
    fn resolve(&mut self, id: u64) -> Option<u32> {
        if let Some(&h) = self.ids.get(&id) {
            return Some(h);
        }
        let labels = self.labels.get(&id)?;
        let (h, _) = self.head.get_or_create(labels, |_| {});
        self.ids.insert(id, h);
        Some(h)
    }
}

impl Sink for Replay<'_> {
    fn series(&mut self, id: u64, labels: Labels) {
        self.ids.remove(&id);
        self.labels.insert(id, labels);
    }

    fn samples(&mut self, samples: Vec<(u64, i64, f64)>, _: &mut Vec<Recovery>, at: &Path) {
        self.batch.clear();
        let mut unknown = 0;
        for (id, ts, v) in samples {
            match self.resolve(id) {
                Some(h) => self.batch.push((h, ts, v)),
                None => unknown += 1,
            }
        }
        if unknown > 0 {
            *self.unknown.entry(at.display().to_string()).or_default() += unknown;
        }
        self.head.apply(&self.batch);
    }

    fn chunk(&mut self, id: u64, parts: ChunkParts, notes: &mut Vec<Recovery>, at: &Path) {
        let Some(h) = self.resolve(id) else {
            *self.unknown.entry(at.display().to_string()).or_default() += u64::from(parts.count);
            return;
        };
        match Chunk::from_parts(&parts.data, parts.count, &parts.side) {
            Ok(c) => {
                self.head.restore_chunk(h, c);
            }
            Err(e) => notes.push(note(
                RecoveryKind::BadChecksum,
                at,
                format!("a head chunk of series {id} does not decode ({e}); its samples are lost"),
            )),
        }
    }
}
