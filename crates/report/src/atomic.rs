//! Replacing a file so that readers see the old content or the new, never half of either.
//!
//! The new content goes to a hidden temporary file in the same directory (a rename is only
//! atomic within one file system), is flushed to disk, then renamed over the target. A crash or
//! a full disk at any point leaves the old file as it was; the temporary file is removed on
//! every error path we control.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` atomically: temp file in the same directory, write, fsync,
/// rename over `path`, fsync the directory. The directory must exist.
///
/// When `path` already exists its permissions are carried over, so replacing a file does not
/// silently change who may read it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with(path, |file| file.write_all(bytes))
}

/// Like [`write_atomically`], with the content produced by `fill` writing into the temp file
/// (e.g. a CSV writer), so large content need not be built in memory first.
pub(crate) fn replace_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (tmp_path, mut file) = create_temp(dir, name)?;
    let result = (|| {
        fill(&mut file)?;
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp_path, path)
    })();
    if let Err(e) = result {
        // Best effort: the error that matters is the one that stopped the write.
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    sync_dir(dir);
    Ok(())
}

/// Creates a new, hidden, uniquely named file next to the target.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        // Leading dot: globs like `snapshot-*.xml` or `*.csv` that readers use skip it.
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp_path = dir.join(tmp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
        {
            Ok(file) => return Ok((tmp_path, file)),
            // Left behind by a crashed process with our pid: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Makes the rename itself durable. Best effort: the new content is already in place, and some
/// file systems (network shares, Windows) cannot open or sync a directory; failing the whole
/// write there would report an error for a file that was in fact replaced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second, longer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer");
        assert_eq!(entries(dir.path()), ["a.xml"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_content_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        write_atomically(&path, b"old content").unwrap();
        let err = replace_with(&path, |f| {
            f.write_all(b"half of the new")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"old content");
        assert_eq!(entries(dir.path()), ["a.csv"]);
    }

    #[test]
    fn a_failed_rename_keeps_the_target_and_cleans_up() {
        // A directory in the way makes the rename fail even for root, who can write anywhere.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"kept").unwrap();
        assert!(write_atomically(&path, b"new").is_err());
        assert_eq!(fs::read(path.join("inside")).unwrap(), b"kept");
        assert_eq!(entries(dir.path()), ["busy"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(&dir.path().join("no/such/dir/a.xml"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_permissions_of_the_file_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_concurrent_reader_sees_one_whole_version_or_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.xml");
        let a = vec![b'a'; 256 * 1024];
        let b = vec![b'b'; 512 * 1024];
        write_atomically(&path, &a).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, done, a, b) = (path.clone(), Arc::clone(&done), a.clone(), b.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    let seen = fs::read(&path).unwrap();
                    assert!(seen == a || seen == b, "torn read of {} bytes", seen.len());
                    reads += 1;
                }
                reads
            })
        };
        for i in 0..60 {
            write_atomically(&path, if i % 2 == 0 { &b } else { &a }).unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        assert_eq!(entries(dir.path()), ["snapshot.xml"]);
    }
}
