//! [`ReadOnlyStore`]: a point-in-time view of a store directory that a writer (another
//! process, or a [`Store`] in this one) may hold open, for one-off queries and exports next to
//! a long-running server.
//!
//! It takes no lock and writes nothing: it relies on the rules the writer already follows
//! for crash safety (files appear complete by rename, the WAL only grows, superseded files are
//! recognisable, see `docs/format/`). What it cannot rule out by reading once is a writer
//! changing the directory half-way through, so each attempt lists the files, loads them and
//! lists again, and starts over when the second listing shows the writer moved on or a listed
//! file vanished (`load.rs` explains why an unchanged listing is enough).

mod load;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use model::{Clock, Matcher, Querier, SeriesData, StoreError, TimeRange, Timestamp};

use super::{Problems, Store};
use crate::block::Block;
use crate::error::{OpenError, Recovery};
use crate::head::Head;
use crate::options::{DEFAULT_BLOCK_SPAN, ms};
use load::{Failure, Listing};

/// Attempts before giving up with [`OpenError::KeptChanging`]. Maintenance changes the files
/// once per run and the WAL rotates every `wal_segment_bytes`, which a view tolerates, so a
/// retry is rare and many in a row mean a writer that never pauses.
const MAX_ATTEMPTS: u32 = 20;

/// Pause before attempt `n` (1-based), so that a busy maintenance run can finish: 1, 2, 4 …
/// ms, at most 50 ms (about 0.7 s over all attempts).
fn backoff(n: u32) -> Duration {
    Duration::from_millis((1u64 << n.saturating_sub(1).min(6)).min(50))
}

/// A read-only, point-in-time view of a store, from [`Store::open_read_only`].
///
/// It answers [`Querier`] calls with exactly what a normal open of the directory would have
/// answered at [`ReadOnlyStore::as_of`]: every commit acknowledged before the open began,
/// possibly commits acknowledged during it, each sample once. It does not follow the writer
/// afterwards; open again for fresher data. It holds its blocks' files open, so blocks the
/// writer deletes meanwhile keep their disk space until the view is dropped.
pub struct ReadOnlyStore {
    dir: PathBuf,
    head: Head,
    /// Ascending by (min_t, seq).
    blocks: Vec<Arc<Block>>,
    notes: Vec<Recovery>,
    problems: Problems,
    as_of: Timestamp,
    attempts: u32,
}

impl std::fmt::Debug for ReadOnlyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyStore")
            .field("dir", &self.dir)
            .field("as_of", &self.as_of)
            .field("blocks", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a read-only view of the store in `dir`, whether or not a writer has it open.
    ///
    /// Takes no lock and never creates, writes, renames, truncates or deletes anything, so it
    /// repairs nothing either: damage is left out of the view and listed in
    /// [`ReadOnlyStore::notes`]. A WAL tail being appended (or torn by a crash) is not damage
    /// and is dropped silently; blocks being written, orphaned by an unfinished maintenance
    /// run or already merged into another block are skipped.
    ///
    /// Fails when `dir` does not exist ([`OpenError::Missing`]), holds neither `wal/` nor
    /// `blocks/` ([`OpenError::NoStore`]), cannot be read, or when the writer changed the
    /// files during every one of 20 attempts ([`OpenError::KeptChanging`]). `clock` stamps
    /// the view ([`ReadOnlyStore::as_of`]).
    pub fn open_read_only(dir: &Path, clock: Arc<dyn Clock>) -> Result<ReadOnlyStore, OpenError> {
        // The writer's block span is not recorded on disk. It only decides how the private
        // head groups samples into chunks; a different one costs re-merging, not results.
        let span = ms(DEFAULT_BLOCK_SPAN);
        for attempt in 1..=MAX_ATTEMPTS {
            if attempt > 1 {
                std::thread::sleep(backoff(attempt - 1));
            }
            let as_of = clock.now();
            let before = Listing::take(dir)?;
            let loaded = match load::load(dir, &before, span) {
                Ok(loaded) => loaded,
                Err(Failure::Changed) => continue,
                Err(Failure::Fatal(e)) => return Err(e),
            };
            if !before.still_holds(&Listing::take(dir)?) {
                continue;
            }
            return Ok(ReadOnlyStore {
                dir: dir.to_path_buf(),
                head: loaded.head,
                blocks: loaded.blocks,
                notes: loaded.notes,
                problems: Problems::default(),
                as_of,
                attempts: attempt,
            });
        }
        Err(OpenError::KeptChanging {
            path: dir.to_path_buf(),
            attempts: MAX_ATTEMPTS,
        })
    }
}

impl ReadOnlyStore {
    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The clock's time when the load that produced this view began: everything committed
    /// before it is in the view.
    pub fn as_of(&self) -> Timestamp {
        self.as_of
    }

    /// Damage met while loading and left out of the view (corrupt blocks, bad WAL records):
    /// for a debug log. The writer reports and repairs the same on its next open.
    pub fn notes(&self) -> &[Recovery] {
        &self.notes
    }

    /// How many loads it took (1 unless the writer changed the files meanwhile).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Recent read problems (corrupt block blobs met by queries), oldest first.
    pub fn problems(&self) -> Vec<String> {
        self.problems.list()
    }
}

impl crate::query::Source for ReadOnlyStore {
    fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.clone()
    }
    fn head(&self) -> &Head {
        &self.head
    }
    fn problem(&self, what: String) {
        self.problems.push(what);
    }
}

impl Querier for ReadOnlyStore {
    fn select(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<SeriesData>, StoreError> {
        Ok(crate::query::select(self, matchers, range))
    }

    fn select_at_most(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
        max_series: usize,
    ) -> Result<Option<Vec<SeriesData>>, StoreError> {
        Ok(crate::query::select_at_most(
            self, matchers, range, max_series,
        ))
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        Ok(crate::query::label_names(self, matchers, range))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        Ok(crate::query::label_values(self, name, matchers, range))
    }
}
