//! Reading the WAL back on open: the newest valid checkpoint, then every later segment.
//!
//! Every record is checked against its CRC. The first bad frame of a file ends that file:
//! at the tail of the last segment that is a torn write from a crash (expected, reported as
//! such), anywhere else it is corruption (reported as a bad checksum). Every record before it
//! is recovered. Nothing is repaired in place: after replay the store writes a fresh
//! checkpoint and deletes the files read here, which is what truncates the bad tail away.
//!
//! A read-only view replays the same way as an [`Mode::Observer`]: it touches nothing, and
//! the unfinished tail of the last segment is the writer appending right now, not damage.

use std::path::{Path, PathBuf};

use model::Labels;

use super::record::{self, ChunkParts, Frame, KIND_CHECKPOINT, KIND_SEGMENT, Record};
use super::{parse_name, sync_dir};
use crate::error::{OpenError, Recovery, RecoveryKind, open_err};

/// Receives what replay finds, in log order.
pub trait Sink {
    /// A series definition.
    fn series(&mut self, id: u64, labels: Labels);
    /// Samples by WAL series id.
    fn samples(&mut self, samples: Vec<(u64, i64, f64)>, notes: &mut Vec<Recovery>, at: &Path);
    /// A head chunk from a checkpoint.
    fn chunk(&mut self, id: u64, parts: ChunkParts, notes: &mut Vec<Recovery>, at: &Path);
}

/// Whose replay this is: it decides what may be touched and what counts as damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The store opening under its lock: leftover temporary files are removed, and a torn
    /// tail is a crash mid-write, reported.
    Owner,
    /// A read-only view while a writer may be running: nothing is written or removed, a
    /// temporary file is a write in progress, and a torn tail of the last segment is an append
    /// in progress (dropped silently). A file that vanished while being read is an error, so
    /// that the caller can start over instead of falling back to older files.
    Observer,
}

/// What replay learned about the files.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The number the next segment must get (above every existing one).
    pub next_segment: u64,
    /// From the checkpoint used: the newest block cut from the head that it excludes.
    pub head_cut_seq: Option<u64>,
    /// Every WAL file read or skipped; delete them once a new checkpoint replaces them.
    pub files: Vec<PathBuf>,
}

/// Replays `dir` into `sink`, adding a note for every problem met.
pub fn replay(
    dir: &Path,
    sink: &mut impl Sink,
    notes: &mut Vec<Recovery>,
    mode: Mode,
) -> Result<Replayed, OpenError> {
    let mut checkpoints = Vec::new();
    let mut segments = Vec::new();
    let mut out = Replayed::default();
    for entry in std::fs::read_dir(dir).map_err(open_err("reading WAL directory", dir))? {
        let path = entry
            .map_err(open_err("reading WAL directory", dir))?
            .path();
        match parse_name(&path) {
            Some((n, "seg")) => segments.push((n, path)),
            Some((n, "ckpt")) => checkpoints.push((n, path)),
            _ if mode == Mode::Owner && path.extension().is_some_and(|e| e == "tmp") => {
                std::fs::remove_file(&path).map_err(open_err("removing", &path))?;
                notes.push(note(
                    RecoveryKind::Leftover,
                    &path,
                    None,
                    "interrupted checkpoint write",
                ));
            }
            _ => {}
        }
    }
    if mode == Mode::Owner {
        sync_dir(dir).map_err(open_err("syncing WAL directory", dir))?;
    }
    checkpoints.sort();
    segments.sort();
    out.files = checkpoints
        .iter()
        .chain(segments.iter())
        .map(|(_, p)| p.clone())
        .collect();
    out.next_segment = segments
        .iter()
        .chain(checkpoints.iter())
        .map(|&(n, _)| n + 1)
        .max()
        .unwrap_or(1);

    // The newest checkpoint that reads completely; older ones are fallbacks.
    let mut start = 0;
    for (_, path) in checkpoints.iter().rev() {
        let buf = match std::fs::read(path) {
            Ok(buf) => buf,
            // Deleted by the writer's next checkpoint since the listing: the caller starts
            // over rather than replaying an older, incomplete picture.
            Err(e) if mode == Mode::Observer && e.kind() == std::io::ErrorKind::NotFound => {
                return Err(open_err("reading WAL checkpoint", path)(e));
            }
            Err(e) => {
                notes.push(note(
                    RecoveryKind::BadWalFile,
                    path,
                    None,
                    &format!("checkpoint unusable ({e}); trying an older one"),
                ));
                continue;
            }
        };
        match read_checkpoint(&buf) {
            Ok((first_segment, head_cut_seq, records)) => {
                for rec in records {
                    feed(sink, rec, notes, path);
                }
                start = first_segment;
                out.head_cut_seq = Some(head_cut_seq);
                break;
            }
            Err((offset, why)) => notes.push(note(
                RecoveryKind::BadWalFile,
                path,
                offset,
                &format!("checkpoint unusable ({why}); trying an older one"),
            )),
        }
    }

    let last = segments.last().map(|&(n, _)| n);
    for (n, path) in segments.iter().filter(|&&(n, _)| n >= start) {
        let buf = std::fs::read(path).map_err(open_err("reading WAL segment", path))?;
        if let Err(why) = record::check_header(&buf).and_then(|k| {
            (k == KIND_SEGMENT)
                .then_some(())
                .ok_or_else(|| format!("header kind {k} is not a segment"))
        }) {
            let kind = if Some(*n) == last && buf.len() < record::HEADER_LEN {
                RecoveryKind::TornTail
            } else {
                RecoveryKind::BadWalFile
            };
            // A segment the writer has just created and not yet given its header.
            if !(mode == Mode::Observer && kind == RecoveryKind::TornTail) {
                notes.push(note(kind, path, Some(0), &why));
            }
            continue;
        }
        let mut at = record::HEADER_LEN;
        loop {
            match record::next_frame(&buf, at) {
                Frame::End => break,
                Frame::Ok { body, next } => {
                    match record::decode(body) {
                        Ok(rec) => feed(sink, rec, notes, path),
                        Err(e) => {
                            notes.push(note(
                                RecoveryKind::BadChecksum,
                                path,
                                Some(at as u64),
                                &format!("record with a valid checksum does not decode ({e}); rest of file dropped"),
                            ));
                            break;
                        }
                    }
                    at = next;
                }
                Frame::Bad { reason } => {
                    let torn = Some(*n) == last
                        && matches!(
                            reason,
                            "torn frame header" | "record runs past the end of the file"
                        );
                    let kind = if torn {
                        RecoveryKind::TornTail
                    } else {
                        RecoveryKind::BadChecksum
                    };
                    if mode == Mode::Observer && torn {
                        // The writer's append in progress: the commit is not acknowledged
                        // before it is complete, so nothing durable is missed.
                        break;
                    }
                    let dropped = buf.len() - at;
                    notes.push(note(
                        kind,
                        path,
                        Some(at as u64),
                        &format!("{reason}; {dropped} bytes from here on dropped"),
                    ));
                    break;
                }
            }
        }
    }
    Ok(out)
}

type CheckpointRead = (u64, u64, Vec<Record>);

fn read_checkpoint(buf: &[u8]) -> Result<CheckpointRead, (Option<u64>, String)> {
    let kind = record::check_header(buf).map_err(|e| (Some(0), e))?;
    if kind != KIND_CHECKPOINT {
        return Err((Some(0), format!("header kind {kind} is not a checkpoint")));
    }
    let mut at = record::HEADER_LEN;
    let mut records = Vec::new();
    loop {
        match record::next_frame(buf, at) {
            Frame::End => break,
            Frame::Ok { body, next } => {
                let rec = record::decode(body).map_err(|e| (Some(at as u64), e.to_string()))?;
                records.push(rec);
                at = next;
            }
            Frame::Bad { reason } => return Err((Some(at as u64), reason.to_string())),
        }
    }
    let mut it = records.into_iter();
    match it.next() {
        Some(Record::Checkpoint {
            first_segment,
            head_cut_seq,
        }) => Ok((first_segment, head_cut_seq, it.collect())),
        _ => Err((Some(0), "does not start with a checkpoint record".into())),
    }
}

fn feed(sink: &mut impl Sink, rec: Record, notes: &mut Vec<Recovery>, path: &Path) {
    match rec {
        Record::Series(list) => {
            for (id, labels) in list {
                sink.series(id, labels);
            }
        }
        Record::Samples(s) => sink.samples(s, notes, path),
        Record::Chunk { id, chunk } => sink.chunk(id, chunk, notes, path),
        // Only meaningful as a checkpoint's first record.
        Record::Checkpoint { .. } => {}
    }
}

/// A recovery note.
pub fn note(kind: RecoveryKind, path: &Path, offset: Option<u64>, detail: &str) -> Recovery {
    Recovery {
        kind,
        path: path.to_path_buf(),
        offset,
        detail: detail.to_string(),
    }
}
