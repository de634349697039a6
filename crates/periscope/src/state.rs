//! Monitor state between checks (log offsets and the like), one small file per monitor.
//!
//! A file per monitor keeps the state of one monitor from ever corrupting another's, and each
//! write is atomic (temporary file + rename), so a crash leaves the old state or the new one,
//! never half of either. The state database of a later release replaces this behind the same
//! two calls.

use std::io;
use std::path::{Path, PathBuf};

/// The `monitors/` folder of the state directory.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Opens (and creates) the store under `state_dir`.
    pub fn open(state_dir: &Path) -> io::Result<Self> {
        let dir = state_dir.join("monitors");
        std::fs::create_dir_all(&dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create state directory {}: {e}", dir.display()),
            )
        })?;
        Ok(StateStore { dir })
    }

    fn path(&self, monitor: &str) -> PathBuf {
        self.dir.join(format!("{monitor}.state"))
    }

    /// The last committed state of `monitor`, if any. An unreadable file is logged and treated
    /// as no state: the monitor starts over rather than the run failing.
    pub fn load(&self, monitor: &str) -> Option<Vec<u8>> {
        match std::fs::read(self.path(monitor)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(monitor, error = %e, "cannot read monitor state; starting afresh");
                None
            }
        }
    }

    /// Commits `state` for `monitor`.
    pub fn save(&self, monitor: &str, state: &[u8]) -> io::Result<()> {
        let path = self.path(monitor);
        report::write_atomically(&path, state).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write monitor state {}: {e}", path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_per_monitor() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.load("a"), None);
        store.save("a", b"one").unwrap();
        store.save("b", b"two").unwrap();
        store.save("a", b"three").unwrap();
        assert_eq!(store.load("a").as_deref(), Some(&b"three"[..]));
        assert_eq!(store.load("b").as_deref(), Some(&b"two"[..]));
    }
}
