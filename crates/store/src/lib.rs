//! Periscope's embedded time-series store: it owns every metric sample from the moment a
//! commit is acknowledged until retention removes it.
//!
//! Data flows WAL -> head -> blocks:
//!
//! - **WAL** (`wal`): appenders encode their batch on their own thread; one WAL thread writes
//!   all pending batches and syncs at most once per commit window (group commit), then makes
//!   the samples visible and resolves the commits. A commit resolves only after its bytes are
//!   synced, so acknowledged data survives `kill -9`.
//! - **Head** (`head`, `chunk`): every series (interned labels + postings) and its recent
//!   samples in a compact byte encoding, one chunk per block-span range.
//! - **Blocks** (`block`): `maintain(now)` cuts complete ranges into immutable files with
//!   pcodec-compressed columns and a CRC on every blob, compacts them and applies retention.
//!
//! **The one decision behind it:** the store is append-mostly and single-writer per piece of
//! state. The WAL thread is the only writer of samples, maintenance the only writer of files,
//! and every on-disk change becomes visible by an atomic rename. Recovery therefore never
//! repairs in place: it reads what is valid, reports what is not, and writes a fresh
//! checkpoint.
//!
//! # Acceptance rules (per series, by timestamp)
//!
//! - later than the clock by more than `future_skew`: refused, `TooFarInFuture`;
//! - older than the series' newest sample by more than `out_of_order_window`: refused,
//!   `TooOld`; within the window: accepted and merged in time order on read;
//! - a timestamp already stored (in the batch, the head or a block) with the *identical*
//!   value (same bits): accepted and stored once, so redelivered messages are idempotent;
//!   with a different value: refused, `ConflictingDuplicate`. If two concurrent batches race
//!   with different values for one timestamp, the one synced first wins and the other's
//!   sample is dropped when applied (counted as a conflicting duplicate).
//!
//! Every refusal is counted by reason (`Store::stats`). On-disk formats: `docs/format/`.
//!
//! # Read-only views
//!
//! A store directory belongs to one writer (`Store::open` locks `<dir>/LOCK`), but
//! [`Store::open_read_only`] can read it at any time, also while the writer runs (a one-off
//! query or export next to `periscope serve`). The [`ReadOnlyStore`] it returns is a private,
//! point-in-time copy of the head plus the blocks, and answers [`model::Querier`] calls exactly
//! as a normal open would have at that moment: every acknowledged commit, each sample once.
//!
//! It takes no lock and creates, writes, renames, truncates or deletes nothing, so it repairs
//! nothing: it follows the writer's atomic-rename rules to tell finished files from files in
//! progress, skips what recovery would delete (orphan blocks, compacted sources), drops the
//! WAL tail being appended without a word, and leaves real damage out, listed in
//! [`ReadOnlyStore::notes`]. When the writer changes the files while it reads (a cut, a
//! checkpoint, a compaction) it starts over, at most 20 times, then fails with
//! [`OpenError::KeptChanging`]. The rules a reader relies on: `docs/format/wal.md` and
//! `docs/format/block.md`, "Reading next to a writer".

mod block;
mod chunk;
mod codec;
mod error;
mod head;
mod maintain;
mod oneshot;
mod options;
mod postings;
mod query;
pub mod state_db;
mod stats;
mod store;
mod symbols;
mod wal;

pub use error::{CloseError, MaintainError, OpenError, Recovery, RecoveryKind};
pub use maintain::{Compaction, CutBlock, MaintenanceReport};
pub use options::{
    DEFAULT_BLOCK_SPAN, DEFAULT_COMMIT_WINDOW, DEFAULT_FUTURE_SKEW, DEFAULT_MAX_BLOCK_SPAN,
    DEFAULT_OUT_OF_ORDER_WINDOW, DEFAULT_RETENTION_AGE, DEFAULT_WAL_SEGMENT_BYTES, StoreOptions,
};
pub use state_db::StateDb;
pub use stats::StoreStats;
pub use store::{ReadOnlyStore, Store, StoreAppender};
