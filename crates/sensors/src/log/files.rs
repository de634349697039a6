//! Which files to read and from where: discovery of the configured paths, the cursor state kept
//! between checks, and rotation detection.
//!
//! A file is known by its identity (device + inode) plus a fingerprint of its first bytes (up to
//! [`FP_LEN`]). Identity follows a file through renames; the fingerprint tells a file from a new
//! one that got the same inode, or from its own content replaced in place. With both, each case
//! is recognised as follows (the no-loss, no-double-count rule):
//!
//! - **Same file, grown**: continue at the saved offset.
//! - **Rename rotation** (`app.log` → `app.log.1`, new `app.log`): the saved identity is found
//!   again, inside the configured set (glob `app.log*`) or next to the old path; it is finished
//!   from the saved offset, then the new file is read from 0.
//! - **copytruncate**: same identity but shorter than the offset, or its first bytes changed
//!   (truncated and already refilled). A copy starting with the saved fingerprint and at least as
//!   long as the offset is looked for next to it (or in the set); when found it is finished from
//!   the offset. The truncated file is then read from 0.
//! - **Truncate to zero / delete and recreate**: the file is read from 0; lines written to the old
//!   content after the last check cannot be recovered and a note says so.
//! - **New file in a glob**, and every file on the very first check: read from 0.
//! - **Inode changed, content the same** (some SMB mounts renumber inodes on remount): the file at
//!   the same path with the same fingerprint continues at the saved offset.
//!
//! Files are not held open between looks: discovery only stats them (a glob over thousands of
//! old logs must not use thousands of descriptors); each is opened when read and its identity
//! checked again, and planning starts over if a rotation slipped in between. Where an
//! unfinished end (a line without its newline) stops is decided in `scan.rs`.
//!
//! Nothing here writes: files are opened read-only and the new cursors travel in the
//! observation's `next_state`, saved by the runner only after the run's outputs are written.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use model::{MonitorError, Timestamp};
use serde::{Deserialize, Serialize};

use super::PathSpec;

/// Bytes of a file's beginning that identify its content.
pub(crate) const FP_LEN: u64 = 256;
/// Version of the serialized state; another version is ignored (read from the start again).
const STATE_VERSION: u32 = 1;

/// What a check hands the next one: where each file was left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    pub v: u32,
    pub files: Vec<Cursor>,
}

/// Where reading stopped in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Path the file had when last read.
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// Bytes consumed: everything before is counted, nothing after.
    pub offset: u64,
    /// Lines before `offset`, so event locations keep their line numbers.
    pub line: u64,
    /// File size when last read (bytes between `offset` and it were an unfinished end).
    pub size: u64,
    /// How many leading bytes `fp` covers.
    pub fp_len: u64,
    /// FNV-1a hash of the first `fp_len` bytes.
    pub fp: u64,
}

impl State {
    /// The state from its serialized form; `Err` says why it was not usable.
    pub fn decode(bytes: &[u8]) -> Result<State, String> {
        let s: State = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if s.v != STATE_VERSION {
            return Err(format!("state version {} is not {STATE_VERSION}", s.v));
        }
        Ok(s)
    }

    /// The serialized form.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("state serializes")
    }

    /// An empty state of the current version.
    pub fn new() -> State {
        State {
            v: STATE_VERSION,
            files: Vec::new(),
        }
    }
}

/// A file found through the configured paths (not held open: a glob over a directory of
/// thousands of old logs must not use thousands of descriptors).
pub(crate) struct Found {
    pub path: PathBuf,
    pub id: (u64, u64),
    pub size: u64,
}

/// Why a file is read from where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// Known file, continued at its offset.
    Continue,
    /// Not seen before: read from the start.
    New,
    /// Shorter than the offset, or its first bytes changed: read from the start again.
    Truncated,
    /// The file a rotation renamed away, finished from the old offset.
    RotatedAway,
    /// The copy `copytruncate` made, finished from the old offset.
    Copy,
}

/// One file to read in this check.
pub(crate) struct Task {
    pub path: PathBuf,
    pub id: (u64, u64),
    pub size: u64,
    pub offset: u64,
    pub line: u64,
    /// The fingerprint still valid for this content, if any.
    pub fp: Option<(u64, u64)>,
    pub why: Why,
    /// Part of the configured set: its cursor stays in the state.
    pub in_set: bool,
}

impl Task {
    /// A rotated-away file or a copy: it will not grow, so its unfinished end is read now.
    pub fn is_final(&self) -> bool {
        matches!(self.why, Why::RotatedAway | Why::Copy)
    }

    /// The cursor that leaves this file as it was (a task that was not run).
    pub fn unchanged(&self) -> Cursor {
        Cursor {
            path: self.path.clone(),
            dev: self.id.0,
            ino: self.id.1,
            offset: self.offset,
            line: self.line,
            size: self.size,
            fp_len: self.fp.map_or(0, |f| f.0),
            fp: self.fp.map_or(0, |f| f.1),
        }
    }
}

/// The reads of one check, older content first, and notes for the details.
pub(crate) struct Plan {
    pub tasks: Vec<Task>,
    pub notes: Vec<String>,
}

/// Why planning failed.
pub(crate) enum PlanError {
    /// A file changed identity between two looks (a rotation during the check): plan again.
    Changed,
    /// A file or directory could not be read.
    Failed(MonitorError),
}

impl From<MonitorError> for PlanError {
    fn from(e: MonitorError) -> Self {
        PlanError::Failed(e)
    }
}

pub(crate) fn io_error(what: &str, path: &Path, e: &io::Error) -> MonitorError {
    MonitorError::new(format!("cannot {what} {}: {e}", path.display()))
}

/// Device and inode (0, 0 where the platform has none: the fingerprint then does the work).
fn identity(meta: &Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// Modification time.
pub(crate) fn mtime(meta: &Metadata) -> Option<Timestamp> {
    let t = meta.modified().ok()?;
    let ms = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).ok()?,
        Err(e) => -i64::try_from(e.duration().as_millis()).ok()?,
    };
    Some(Timestamp(ms))
}

/// A regular file's identity and size; `Ok(None)` when the path is something else.
fn stat(path: &Path) -> Result<Option<Found>, MonitorError> {
    let meta = fs::metadata(path).map_err(|e| io_error("open", path, &e))?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some(Found {
        path: path.to_path_buf(),
        id: identity(&meta),
        size: meta.len(),
    }))
}

/// Opens `path` read-only if it still is the file `id` names: `Ok(None)` when a rotation put
/// another file there since it was looked at.
pub(crate) fn open_same(
    path: &Path,
    id: (u64, u64),
) -> Result<Option<(File, Metadata)>, MonitorError> {
    let file = File::open(path).map_err(|e| io_error("open", path, &e))?;
    let meta = file.metadata().map_err(|e| io_error("stat", path, &e))?;
    if id != (0, 0) && identity(&meta) != id {
        return Ok(None);
    }
    Ok(Some((file, meta)))
}

/// The directory a glob pattern starts in: its components before the first one with a
/// wildcard. Reading it tells a missing or unreadable share from a pattern matching nothing.
fn glob_root(pattern: &Path) -> PathBuf {
    let mut root = PathBuf::new();
    for comp in pattern.components() {
        if comp.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        root.push(comp);
    }
    root
}

/// Every file the configured paths name now, each once (by identity).
pub(crate) fn discover(
    specs: &[PathSpec],
    allow_missing: bool,
) -> Result<Vec<Found>, MonitorError> {
    let mut out: Vec<Found> = Vec::new();
    for spec in specs {
        // Counted before de-duplication: a pattern whose files another path already names
        // still matches something.
        let mut matched = 0;
        if spec.is_glob {
            let root = glob_root(&spec.resolved);
            fs::read_dir(&root).map_err(|e| io_error("read directory", &root, &e))?;
            let pattern = spec.resolved.to_string_lossy();
            let paths = glob::glob(&pattern).map_err(|e| {
                MonitorError::new(format!("invalid glob pattern {pattern}: {}", e.msg))
            })?;
            for entry in paths {
                let path = entry.map_err(|e| io_error("read", e.path(), e.error()))?;
                match stat(&path) {
                    Ok(Some(found)) => {
                        matched += 1;
                        push_unique(&mut out, found);
                    }
                    Ok(None) => {}
                    // Gone between the directory listing and the stat: rotated right now.
                    Err(_) if !path.exists() => {}
                    Err(e) => return Err(e),
                }
            }
        } else {
            match stat(&spec.resolved) {
                Ok(Some(found)) => push_unique(&mut out, found),
                Ok(None) => {
                    return Err(MonitorError::new(format!(
                        "{} is not a regular file",
                        spec.resolved.display()
                    )));
                }
                Err(_) if allow_missing && !spec.resolved.exists() => {}
                Err(e) => return Err(e),
            }
        }
        if matched == 0 && !allow_missing && spec.is_glob {
            let resolved = spec.resolved.display().to_string();
            let shown = if resolved == spec.configured {
                resolved
            } else {
                format!("{} ({resolved})", spec.configured)
            };
            return Err(MonitorError::new(format!(
                "no file matches {shown} (set allow_missing = true if that can be normal)"
            )));
        }
    }
    Ok(out)
}

fn push_unique(out: &mut Vec<Found>, found: Found) {
    // Two patterns (or a symlink) naming one file must not read it twice; platforms without
    // inodes report (0, 0) for everything, so they dedupe by path instead.
    let dup = out.iter().any(|f| {
        if found.id == (0, 0) {
            f.path == found.path
        } else {
            f.id == found.id
        }
    });
    if !dup {
        out.push(found);
    }
}

/// FNV-1a: stable across Rust versions and machines, unlike `DefaultHasher`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The first `n` bytes of a file (fewer if it is shorter).
fn read_prefix(file: &mut File, n: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(n as usize);
    file.by_ref().take(n).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The fingerprint of an open file as it is now: `(len, hash)`.
pub(crate) fn fingerprint(file: &mut File, size: u64) -> io::Result<(u64, u64)> {
    let bytes = read_prefix(file, size.min(FP_LEN))?;
    Ok((bytes.len() as u64, fnv1a(&bytes)))
}

/// Whether file `f` starts with the bytes `c` fingerprinted.
fn same_start(f: &Found, c: &Cursor) -> Result<bool, PlanError> {
    if c.fp_len == 0 {
        return Ok(true);
    }
    if f.size < c.fp_len {
        return Ok(false);
    }
    let Some((mut file, _)) = open_same(&f.path, f.id)? else {
        return Err(PlanError::Changed);
    };
    let bytes = read_prefix(&mut file, c.fp_len).map_err(|e| io_error("read", &f.path, &e))?;
    Ok(bytes.len() as u64 == c.fp_len && fnv1a(&bytes) == c.fp)
}

/// Plans the reads of one check from the files found and the previous cursors.
pub(crate) fn plan(found: Vec<Found>, prev: &State) -> Result<Plan, PlanError> {
    let mut taken = vec![false; found.len()];
    let mut current: Vec<Option<Task>> = (0..found.len()).map(|_| None).collect();
    let mut older = Vec::new();
    let mut notes = Vec::new();
    let cursor_ids: Vec<(u64, u64)> = prev.files.iter().map(|c| (c.dev, c.ino)).collect();

    for c in &prev.files {
        let same_id = found
            .iter()
            .enumerate()
            .position(|(i, f)| !taken[i] && f.id == (c.dev, c.ino) && f.id != (0, 0));
        if let Some(i) = same_id {
            let f = &found[i];
            taken[i] = true;
            if same_start(f, c)? && f.size >= c.offset {
                current[i] = Some(task_from(f, c, Why::Continue, true));
                continue;
            }
            // Truncated or rewritten in place: finish the copy if one was kept, then start over.
            if c.offset > 0 {
                match find_copy(c, &f.path, &found, &mut taken, &cursor_ids)? {
                    Some(Located::InSet(j)) => {
                        current[j] = Some(task_from(&found[j], c, Why::Copy, true));
                    }
                    Some(Located::Outside(copy)) => {
                        older.push(task_from(&copy, c, Why::Copy, false));
                    }
                    None => notes.push(format!(
                        "{} was truncated or rewritten and no copy of it was found next to it: \
                         lines written after the previous check (offset {}) may be missing",
                        f.path.display(),
                        c.offset
                    )),
                }
            }
            current[i] = Some(Task {
                offset: 0,
                line: 0,
                fp: None,
                ..task_from(f, c, Why::Truncated, true)
            });
            continue;
        }
        // The file is no longer in the set: renamed away by a rotation, or deleted.
        if let Some(f) = find_by_identity(c)? {
            older.push(task_from(&f, c, Why::RotatedAway, false));
            continue;
        }
        let same_path = found.iter().position(|f| f.path == c.path);
        if let Some(i) = same_path.filter(|&i| !taken[i] && !cursor_ids.contains(&found[i].id)) {
            let f = &found[i];
            if c.fp_len > 0 && f.size >= c.offset && same_start(f, c)? {
                // Same content under a new inode number (e.g. a network share remounted).
                taken[i] = true;
                current[i] = Some(task_from(f, c, Why::Continue, true));
                continue;
            }
            if c.offset > 0 {
                notes.push(format!(
                    "{} was replaced and its previous file was not found next to it: \
                     lines written to it after the previous check (offset {}) may be missing",
                    c.path.display(),
                    c.offset
                ));
            }
        } else if c.size > c.offset {
            notes.push(format!(
                "{} disappeared with {} bytes not yet read",
                c.path.display(),
                c.size - c.offset
            ));
        }
    }

    let mut tasks = older;
    for (i, f) in found.into_iter().enumerate() {
        tasks.push(current[i].take().unwrap_or(Task {
            path: f.path,
            id: f.id,
            size: f.size,
            offset: 0,
            line: 0,
            fp: None,
            why: Why::New,
            in_set: true,
        }));
    }
    Ok(Plan { tasks, notes })
}

/// A task for `f` continuing cursor `c`.
fn task_from(f: &Found, c: &Cursor, why: Why, in_set: bool) -> Task {
    Task {
        path: f.path.clone(),
        id: f.id,
        size: f.size,
        offset: c.offset,
        line: c.line,
        fp: (c.fp_len > 0).then_some((c.fp_len, c.fp)),
        why,
        in_set,
    }
}

enum Located {
    /// Index into the found files.
    InSet(usize),
    /// A file outside the configured set.
    Outside(Found),
}

/// Regular files in the directory of `path`, except `path` itself.
fn siblings(path: &Path) -> Vec<PathBuf> {
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p != path)
        .collect()
}

/// The copy `copytruncate` made of the file `c` describes: same first bytes, at least `offset`
/// long, another identity, a name starting like the original's (`app.log.1`, `app-2024.log`).
fn find_copy(
    c: &Cursor,
    path: &Path,
    found: &[Found],
    taken: &mut [bool],
    cursor_ids: &[(u64, u64)],
) -> Result<Option<Located>, PlanError> {
    for (j, f) in found.iter().enumerate() {
        if taken[j] || cursor_ids.contains(&f.id) || f.size < c.offset {
            continue;
        }
        if same_start(f, c)? {
            taken[j] = true;
            return Ok(Some(Located::InSet(j)));
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or(&name).to_string();
    for p in siblings(path) {
        let sibling = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !sibling.starts_with(&stem) || found.iter().any(|f| f.path == p) {
            continue;
        }
        let Ok(Some(f)) = stat(&p) else { continue };
        if f.id == (c.dev, c.ino) || f.size < c.offset {
            continue;
        }
        // A sibling that changes under us is not the copy we are looking for.
        if matches!(same_start(&f, c), Ok(true)) {
            return Ok(Some(Located::Outside(f)));
        }
    }
    Ok(None)
}

/// The file `c` describes, looked up by identity next to its old path (where rotations leave
/// it), if it still starts with the same bytes.
fn find_by_identity(c: &Cursor) -> Result<Option<Found>, PlanError> {
    if (c.dev, c.ino) == (0, 0) {
        return Ok(None);
    }
    for p in siblings(&c.path) {
        #[cfg(unix)]
        {
            // Compare the inode from a stat that does not follow links before anything else.
            use std::os::unix::fs::MetadataExt;
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_file() && m.ino() == c.ino && m.dev() == c.dev => {}
                _ => continue,
            }
        }
        let Ok(Some(f)) = stat(&p) else { continue };
        if f.id != (c.dev, c.ino) {
            continue;
        }
        return Ok((same_start(&f, c)? && f.size >= c.offset).then_some(f));
    }
    Ok(None)
}
