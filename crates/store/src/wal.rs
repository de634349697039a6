//! The write-ahead log: every commit is written and synced here before it is acknowledged.
//!
//! Layout of `<store>/wal/`: segment files `<n>.seg` (n as 16 hex digits, ascending) hold
//! records in commit order; a checkpoint `<n>.ckpt` is an image of the head that replaces
//! every segment before `n`. Replay = newest valid checkpoint + the segments from its `n` on.
//! Formats: `docs/format/wal.md`.

mod record;
mod replay;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use record::ChunkParts;
pub use replay::{Mode, Replayed, Sink, replay};
pub use writer::{CheckpointImage, Commit, Job, Wal, WalConfig};

use crate::head::Head;

/// Record encoders the appenders use directly.
pub use record::{encode_samples, encode_series};

/// Path of segment `n`.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016x}.seg"))
}

/// Path of the checkpoint that replaces the segments before `n`.
pub fn checkpoint_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016x}.ckpt"))
}

/// Makes a directory's entries (new, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Bytes of every file in the WAL directory.
pub fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Writes a complete checkpoint file image of the head: header, checkpoint record, then for
/// every series its series record and its chunks. Series without samples are included too:
/// appenders may still hold their ids and commit samples to the following segments.
pub fn encode_head_image(head: &Head, first_segment: u64, head_cut_seq: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&record::header(record::KIND_CHECKPOINT));
    record::encode_checkpoint(out, first_segment, head_cut_seq);
    let index = head.index();
    let data = head.data();
    for (id, s) in data.series.iter().enumerate() {
        let id32 = id as u32;
        encode_series(out, id as u64, index.pairs(id32));
        for c in s.chunks() {
            record::encode_chunk(out, id as u64, c);
        }
    }
}

/// Writes `image` as checkpoint `first_segment` (temporary file, fsync, rename, directory
/// fsync), so a crash leaves either the old checkpoint or the new one, never half of one.
pub fn install_checkpoint(dir: &Path, image: &CheckpointImage) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let path = checkpoint_path(dir, image.first_segment);
    let tmp = path.with_extension("ckpt.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(&image.bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(path)
}

/// Removes segments and checkpoints made obsolete by checkpoint `first_segment`.
pub fn remove_obsolete(dir: &Path, first_segment: u64) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some((n, ext)) = parse_name(&path) else {
            continue;
        };
        if (ext == "seg" || ext == "ckpt") && n < first_segment {
            std::fs::remove_file(&path)?;
        }
    }
    sync_dir(dir)
}

/// `(n, extension)` of a WAL file name.
pub fn parse_name(path: &Path) -> Option<(u64, &str)> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(stem, 16).ok()?, ext))
}
