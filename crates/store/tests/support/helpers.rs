//! Shared by the integration tests: opening a store on a manual clock, committing, reading
//! everything back as a map.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use model::{Labels, Matcher, Querier, TimeRange, Timestamp};
use store::{Store, StoreOptions};
use testkit::ManualClock;

pub const HOUR: i64 = 3_600_000;

/// Options with a short commit window so tests do not wait.
pub fn options() -> StoreOptions {
    StoreOptions {
        commit_window: Duration::from_millis(1),
        ..StoreOptions::default()
    }
}

pub fn open(dir: &Path, clock: &Arc<ManualClock>, options: StoreOptions) -> Store {
    Store::open(dir, options, clock.clone()).expect("open store")
}

pub fn labels(name: &str, job: &str) -> Labels {
    Labels::new().with("__name__", name).with("job", job)
}

pub fn everything() -> TimeRange {
    TimeRange::new(Timestamp(i64::MIN), Timestamp(i64::MAX))
}

/// Every stored sample, by label set, as (timestamp, value bits).
pub fn dump(store: &Store) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    dump_matching(store, &[])
}

pub fn dump_matching(store: &Store, matchers: &[Matcher]) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    store
        .select(matchers, everything())
        .expect("select")
        .into_iter()
        .map(|s| {
            let samples = s
                .timestamps
                .iter()
                .zip(&s.values)
                .map(|(t, v)| (t.0, v.to_bits()))
                .collect();
            (s.labels, samples)
        })
        .collect()
}

/// Polls a future to completion on this thread (no runtime needed: that is the point).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Copies a store directory (two levels: `wal/`, `blocks/`), without the lock file.
pub fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_store(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Files in `dir` with extension `ext`, sorted.
pub fn files_with(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}
