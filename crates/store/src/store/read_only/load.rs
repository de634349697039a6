//! One attempt at loading a read-only view: what the directory lists, and the blocks and
//! WAL behind that listing loaded into a private head.
//!
//! Only names matter for the listing. Every file the store writes is immutable once it has
//! its final name (blocks and checkpoints appear by rename, complete), except the newest WAL
//! segment, which only grows; and names are never reused while a writer runs (segment,
//! checkpoint and block numbers only increase). So two equal listings taken before and after
//! the load bracket a stretch in which the loaded files formed one state of the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::block::{self, Block, BlockError};
use crate::error::{OpenError, Recovery, RecoveryKind, open_err};
use crate::head::Head;
use crate::store::recover;
use crate::wal::{self, Mode};

/// The store files a directory holds, by name.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    /// `None`: no `wal/` directory.
    wal: Option<Wal>,
    /// `None`: no `blocks/` directory. Otherwise (seq, path), ascending by seq.
    blocks: Option<Vec<(u64, PathBuf)>>,
}

#[derive(Debug, PartialEq, Eq)]
struct Wal {
    /// Ascending.
    checkpoints: Vec<u64>,
    /// Ascending.
    segments: Vec<u64>,
}

impl Listing {
    /// Lists `dir`; fails when it is missing or holds no store.
    pub fn take(dir: &Path) -> Result<Listing, OpenError> {
        match std::fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OpenError::Missing {
                    path: dir.to_path_buf(),
                });
            }
            Err(e) => return Err(open_err("reading store directory", dir)(e)),
            Ok(m) if !m.is_dir() => {
                return Err(OpenError::NoStore {
                    path: dir.to_path_buf(),
                });
            }
            Ok(_) => {}
        }
        let wal = names(&dir.join("wal"))?.map(|paths| {
            let mut w = Wal {
                checkpoints: Vec::new(),
                segments: Vec::new(),
            };
            for p in &paths {
                match wal::parse_name(p) {
                    Some((n, "seg")) => w.segments.push(n),
                    Some((n, "ckpt")) => w.checkpoints.push(n),
                    _ => {}
                }
            }
            w.checkpoints.sort_unstable();
            w.segments.sort_unstable();
            w
        });
        let blocks = names(&dir.join("blocks"))?.map(|paths| {
            // `.block.tmp` (being written) and `.block.corrupt` (set aside) do not parse.
            let mut v: Vec<_> = paths
                .into_iter()
                .filter_map(|p| Some((block::parse_file_name(&p)?, p)))
                .collect();
            v.sort();
            v
        });
        if wal.is_none() && blocks.is_none() {
            return Err(OpenError::NoStore {
                path: dir.to_path_buf(),
            });
        }
        Ok(Listing { wal, blocks })
    }

    /// True when `later` (taken after loading `self`) shows that the load saw one state of
    /// the store: the same blocks and checkpoints, and the same segments plus perhaps newer
    /// ones. New segments are harmless: one is started only after the previous one is
    /// completely written, so everything acknowledged before the load began is in a listed
    /// segment. When a new segment is the start of a checkpoint, the block that checkpoint
    /// accounts for was renamed into place before it; if that block was listed, the
    /// checkpoint read does not account for it yet and it is skipped as an orphan, else the
    /// block lists differ.
    pub fn still_holds(&self, later: &Listing) -> bool {
        let wal_holds = match (&self.wal, &later.wal) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.checkpoints == b.checkpoints && b.segments.starts_with(&a.segments)
            }
            _ => false,
        };
        wal_holds && self.blocks == later.blocks
    }
}

/// The entries of `dir`, or `None` when it does not exist.
fn names(dir: &Path) -> Result<Option<Vec<PathBuf>>, OpenError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_err("listing", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        out.push(entry.map_err(open_err("listing", dir))?.path());
    }
    Ok(Some(out))
}

/// What one attempt loaded.
pub struct Loaded {
    pub head: Head,
    /// Ascending by (min_t, seq).
    pub blocks: Vec<Arc<Block>>,
    pub notes: Vec<Recovery>,
}

/// Why an attempt did not produce a view.
pub enum Failure {
    /// A listed file vanished: the writer moved on; start over.
    Changed,
    /// Anything else: give up with this error.
    Fatal(OpenError),
}

fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

/// Loads what `listing` names from `dir` into a head whose chunks span `span_ms`.
pub fn load(dir: &Path, listing: &Listing, span_ms: i64) -> Result<Loaded, Failure> {
    let mut notes = Vec::new();
    let mut blocks = Vec::new();
    for (_, path) in listing.blocks.iter().flatten() {
        match Block::open(path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(BlockError::Io { source, .. }) if vanished(&source) => {
                return Err(Failure::Changed);
            }
            // Unreadable (permissions, a failing disk): a partial answer would look complete.
            Err(BlockError::Io { path, source }) => {
                return Err(Failure::Fatal(open_err("reading block", path)(source)));
            }
            // Complete by the rename rule, so this is damage; the owner sets it aside on its
            // next open. Here it is only left out.
            Err(e @ BlockError::Corrupt { .. }) => notes.push(Recovery {
                kind: RecoveryKind::CorruptBlock,
                path: path.clone(),
                offset: None,
                detail: format!("{e}; not used (a read-only view leaves it in place)"),
            }),
        }
    }

    let head = Head::new(span_ms);
    let replayed = if listing.wal.is_some() {
        match recover::replay_into(&dir.join("wal"), &head, &mut notes, Mode::Observer) {
            Ok(r) => Some(r),
            Err(OpenError::Io { source, .. }) if vanished(&source) => {
                return Err(Failure::Changed);
            }
            Err(e) => return Err(Failure::Fatal(e)),
        }
    } else {
        None
    };

    // Orphans and compacted sources are normal, passing states while a writer runs (and
    // leftovers of a crash otherwise); the owner deletes them, a view just skips them.
    let head_cut_seq = replayed.and_then(|r| r.head_cut_seq);
    let (mut blocks, _superseded) = recover::split_superseded(blocks, head_cut_seq);
    blocks.sort_by_key(|b| (b.meta.min_t, b.meta.seq));
    Ok(Loaded {
        head,
        blocks,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use model::{Appender, Labels, Timestamp};
    use testkit::ManualClock;

    use super::*;
    use crate::{Store, StoreOptions};

    const BASE: i64 = 1_700_000_000_000;

    /// A store cutting 10 s blocks, with `samples` one-second samples of one series.
    fn store(dir: &Path, samples: i64) -> Store {
        let clock = Arc::new(ManualClock::new(Timestamp(BASE + (1 << 40))));
        let options = StoreOptions {
            commit_window: Duration::from_millis(1),
            block_span: Duration::from_secs(10),
            max_block_span: Duration::from_secs(10),
            out_of_order_window: Duration::from_secs(5),
            retention_age: Duration::ZERO,
            wal_segment_bytes: 4096,
            ..StoreOptions::default()
        };
        let store = Store::open(dir, options, clock).unwrap();
        commit(&store, 0..samples);
        store
    }

    fn commit(store: &Store, seconds: std::ops::Range<i64>) {
        let mut app = store.store_appender();
        let s = app
            .series(&Labels::new().with("__name__", "m").with("job", "a"))
            .unwrap();
        for k in seconds {
            app.append(s, Timestamp(BASE + k * 1000), k as f64).unwrap();
        }
        app.commit_blocking().unwrap();
    }

    #[test]
    fn a_block_cut_between_listing_and_loading_is_caught_by_the_second_listing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), 20);
        let before = Listing::take(dir.path()).unwrap();
        // Range 0 goes into a block, and the new checkpoint no longer holds its samples.
        let report = store.maintain(Timestamp(BASE + 15_000)).unwrap();
        assert_eq!(report.cut.len(), 1);
        let Ok(loaded) = load(dir.path(), &before, 10_000) else {
            panic!("nothing listed was deleted before being read");
        };
        // The hazard: the block was not listed, the checkpoint read excludes it.
        assert!(loaded.blocks.is_empty());
        assert_eq!(
            loaded.head.footprint().0,
            10,
            "range 0 is lost in this load"
        );
        // ... which the second listing catches.
        let after = Listing::take(dir.path()).unwrap();
        assert!(!before.still_holds(&after));
        let again = load(dir.path(), &after, 10_000).ok().unwrap();
        assert_eq!(again.blocks.len(), 1);
        assert_eq!(again.head.footprint().0, 10);
    }

    #[test]
    fn new_segments_keep_a_listing_valid_and_other_changes_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), 0);
        let before = Listing::take(dir.path()).unwrap();
        let segments = |l: &Listing| l.wal.as_ref().map_or(0, |w| w.segments.len());
        let mut k = 0;
        while segments(&Listing::take(dir.path()).unwrap()) <= segments(&before) + 1 {
            commit(&store, k..k + 300);
            k += 300;
        }
        let rotated = Listing::take(dir.path()).unwrap();
        assert!(before.still_holds(&rotated));
        assert!(!rotated.still_holds(&before), "segments went missing");

        store.maintain(Timestamp(BASE + 15_000)).unwrap();
        assert!(!rotated.still_holds(&Listing::take(dir.path()).unwrap()));
    }
}
