//! Read-only views (`Store::open_read_only`) next to a running writer: every acknowledged
//! sample, each once, the writer undisturbed, and not one byte of the directory changed.

#[path = "support/helpers.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpers::{HOUR, copy_store, dump, everything, files_with, labels, open, options};
use model::{Appender, Labels, Matcher, Querier, Timestamp};
use store::{OpenError, Store, StoreOptions};
use testkit::ManualClock;

const T0: i64 = 1_699_920_000_000;

type Dump = BTreeMap<Labels, Vec<(i64, u64)>>;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp(T0 + 100 * HOUR)))
}

/// Everything `q` returns, failing on a label set returned twice or a timestamp that does
/// not strictly increase (a duplicate sample).
fn dump_once(q: &impl Querier) -> Dump {
    let mut out = Dump::new();
    for s in q.select(&[], everything()).expect("select") {
        assert!(
            s.timestamps.windows(2).all(|w| w[0] < w[1]),
            "{:?}: timestamps not strictly increasing: {:?}",
            s.labels,
            s.timestamps
        );
        let samples = s
            .timestamps
            .iter()
            .zip(&s.values)
            .map(|(t, v)| (t.0, v.to_bits()))
            .collect();
        assert!(
            out.insert(s.labels.clone(), samples).is_none(),
            "{:?} returned twice",
            s.labels
        );
    }
    out
}

fn read_only(dir: &Path) -> store::ReadOnlyStore {
    Store::open_read_only(dir, clock()).expect("read-only open")
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

const WRITER_SERIES: u64 = 40;

/// Commit `i` of the writer test: one sample per series at `T0 + i s`.
fn writer_value(i: u64, j: u64) -> f64 {
    (i * WRITER_SERIES + j) as f64 + 0.5
}

#[test]
fn a_view_next_to_a_busy_writer_sees_every_acknowledged_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    // Small segments: the WAL rotates every few commits, also while views are loading.
    let opts = StoreOptions {
        wal_segment_bytes: 4096,
        ..options()
    };
    let store = Arc::new(open(dir.path(), &clock, opts));
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, acked, stop) = (store.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut app = store.store_appender();
                for j in 0..WRITER_SERIES {
                    let s = app.series(&labels("w", &format!("j{j}"))).unwrap();
                    app.append(s, Timestamp(T0 + i as i64 * 1000), writer_value(i, j))
                        .unwrap();
                }
                app.commit_blocking().expect("the writer keeps committing");
                i += 1;
                acked.store(i, Ordering::Release);
            }
            i
        })
    };
    while acked.load(Ordering::Acquire) < 20 {
        std::thread::sleep(Duration::from_millis(1));
    }

    let mut retried = 0;
    for _ in 0..30 {
        let before = acked.load(Ordering::Acquire);
        let view = read_only(dir.path());
        let after = acked.load(Ordering::Acquire);
        retried += u32::from(view.attempts() > 1);
        assert!(view.notes().is_empty(), "{:?}", view.notes());
        let got = dump_once(&view);
        assert_eq!(got.len(), WRITER_SERIES as usize);
        for j in 0..WRITER_SERIES {
            let samples = &got[&labels("w", &format!("j{j}"))];
            // Everything acknowledged before the open, nothing invented, nothing from the
            // future: exactly commits 0..n for some n between the two counts (+1 for a commit
            // synced but not yet counted).
            let n = samples.len() as u64;
            assert!(
                before <= n && n <= after + 1,
                "{n} commits seen, {before}..={after} acknowledged"
            );
            for (i, &(t, v)) in samples.iter().enumerate() {
                let i = i as u64;
                assert_eq!((t, v), (T0 + i as i64 * 1000, writer_value(i, j).to_bits()));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    eprintln!("{commits} commits; {retried} of 30 views started over at least once");
    let segments = files_with(&dir.path().join("wal"), "seg").len();
    assert!(segments > 5, "the WAL rotated only {segments} times");

    // Quiet now: a view answers exactly what the writer answers.
    let view = read_only(dir.path());
    assert_eq!(dump_once(&view), dump(&store));
    assert_eq!(dump(&store)[&labels("w", "j0")].len() as u64, commits);
    let m = [Matcher::equal("__name__", "w")];
    let r = everything();
    assert_eq!(
        view.label_names(&m, r).unwrap(),
        store.label_names(&m, r).unwrap()
    );
    assert_eq!(
        view.label_values("job", &[], r).unwrap(),
        store.label_values("job", &[], r).unwrap()
    );

    // The writer is undisturbed: it still cuts and checkpoints, closes cleanly, and its next
    // open finds nothing to repair.
    let written = dump(&store);
    store.maintain(Timestamp(T0 + 10 * HOUR)).unwrap();
    Arc::into_inner(store).unwrap().close().unwrap();
    let again = open(dir.path(), &clock, options());
    assert!(again.recovery().is_empty(), "{:?}", again.recovery());
    assert_eq!(dump(&again), written);
}

#[test]
fn views_taken_while_maintenance_cuts_blocks_hold_exactly_the_committed_samples() {
    const BASE: i64 = 1_700_000_000_000;
    const RANGES: i64 = 120;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(BASE + (1 << 40))));
    // 10 s blocks merged up to 40 s: every maintenance run cuts, checkpoints, and often
    // compacts (new block, parents deleted).
    let opts = StoreOptions {
        block_span: Duration::from_secs(10),
        max_block_span: Duration::from_secs(40),
        out_of_order_window: Duration::from_secs(5),
        retention_age: Duration::ZERO,
        ..options()
    };
    let store = Arc::new(open(dir.path(), &clock, opts));
    let mut app = store.store_appender();
    for k in 0..RANGES * 10 {
        for j in 0..3 {
            let s = app.series(&labels("m", &format!("j{j}"))).unwrap();
            app.append(s, Timestamp(BASE + k * 1000 + j), (k * 3 + j) as f64)
                .unwrap();
        }
    }
    app.commit_blocking().unwrap();
    let committed = dump(&store);
    assert_eq!(committed[&labels("m", "j0")].len() as i64, RANGES * 10);

    let views_done = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU64::new(0));
    let reports = Arc::new(Mutex::new((0usize, 0usize)));
    let maintainer = {
        let (store, done, runs, reports) = (
            store.clone(),
            views_done.clone(),
            runs.clone(),
            reports.clone(),
        );
        std::thread::spawn(move || {
            // One range becomes complete per run, as with a periodic maintenance task (a
            // real one runs far less often).
            for r in 1..=RANGES {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let report = store
                    .maintain(Timestamp(BASE + r * 10_000 + 5_000))
                    .unwrap();
                let mut counts = reports.lock().unwrap();
                counts.0 += report.cut.len();
                counts.1 += report.compactions.len();
                drop(counts);
                runs.fetch_add(1, Ordering::Release);
                std::thread::sleep(Duration::from_millis(15));
            }
        })
    };
    let mut attempts = Vec::new();
    for round in 0..20 {
        // Spread the views over about 40 runs, each started at a different moment of a
        // run's cycle, so that many load while a run renames and deletes files.
        while runs.load(Ordering::Acquire) < 2 * round + 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(round * 7 % 20));
        let view = read_only(dir.path());
        attempts.push(view.attempts());
        assert!(view.notes().is_empty(), "{:?}", view.notes());
        assert!(
            dump_once(&view) == committed,
            "view {round} differs from the committed samples"
        );
    }
    views_done.store(true, Ordering::Relaxed);
    maintainer.join().unwrap();
    let (cut, compacted) = *reports.lock().unwrap();
    eprintln!("{cut} blocks cut, {compacted} compactions; attempts per view: {attempts:?}");
    assert!(
        cut >= 20 && compacted > 0,
        "maintenance did not run alongside"
    );
    assert_eq!(dump(&store), committed);
}

/// Commits `batches` small batches; returns the expected contents after each one.
fn write_batches(store: &Store, batches: usize) -> Vec<Dump> {
    let mut states = vec![Dump::new()];
    for b in 0..batches {
        let mut app = store.store_appender();
        for i in 0..3 {
            let s = app.series(&labels("m", &format!("j{i}"))).unwrap();
            app.append(s, Timestamp(T0 + 3 * HOUR + (b * 10 + i) as i64), b as f64)
                .unwrap();
        }
        app.commit_blocking().unwrap();
        states.push(dump(store));
    }
    states
}

#[test]
fn a_torn_tail_and_interrupted_maintenance_are_read_around_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock, options());
    let mut app = store.store_appender();
    let s = app.series(&labels("m", "cut")).unwrap();
    for k in 0..6 {
        app.append(s, Timestamp(T0 + k * HOUR / 2), k as f64)
            .unwrap();
    }
    app.commit_blocking().unwrap();
    let states = write_batches(&store, 4);
    // Ranges 0 and 1 are cut into blocks; then the WAL from before the cut is put back, as
    // if the writer died between renaming the blocks and writing the checkpoint: the blocks
    // are orphans, their samples are in the WAL.
    let wal_copy = tempfile::tempdir().unwrap();
    copy_store(&dir.path().join("wal"), wal_copy.path());
    assert_eq!(
        store.maintain(Timestamp(T0 + 5 * HOUR)).unwrap().cut.len(),
        2
    );
    store.close().unwrap();
    std::fs::remove_dir_all(dir.path().join("wal")).unwrap();
    copy_store(wal_copy.path(), &dir.path().join("wal"));
    // The last commit torn in the middle, and a block and a checkpoint being written.
    let seg = files_with(&dir.path().join("wal"), "seg").pop().unwrap();
    let full = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &full[..full.len() - 5]).unwrap();
    std::fs::write(
        dir.path().join("blocks").join("00000000000000ff.block.tmp"),
        b"half a block",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("wal").join("00000000000000ff.ckpt.tmp"),
        b"half a checkpoint",
    )
    .unwrap();

    // What a normal open makes of the same files (a copy: it repairs what it finds).
    let copy = tempfile::tempdir().unwrap();
    copy_store(dir.path(), copy.path());
    let owner = open(copy.path(), &clock, options());
    let kinds: Vec<_> = owner.recovery().iter().map(|n| n.kind).collect();
    for kind in [
        store::RecoveryKind::TornTail,
        store::RecoveryKind::OrphanBlock,
        store::RecoveryKind::Leftover,
    ] {
        assert!(kinds.contains(&kind), "no {kind:?} in {kinds:?}");
    }
    let expected = dump(&owner);
    assert_eq!(expected, states[3], "the torn commit is the last one");

    let before = snapshot(dir.path());
    let view = read_only(dir.path());
    assert!(view.notes().is_empty(), "{:?}", view.notes());
    assert_eq!(dump_once(&view), expected);
    let r = everything();
    assert_eq!(
        view.label_values("job", &[], r).unwrap(),
        owner.label_values("job", &[], r).unwrap()
    );
    drop(view);
    assert!(
        snapshot(dir.path()) == before,
        "a read-only open changed the directory"
    );
}

#[test]
fn missing_and_empty_directories_are_errors_naming_the_path() {
    let base = tempfile::tempdir().unwrap();

    let missing = base.path().join("nope");
    let err = Store::open_read_only(&missing, clock()).unwrap_err();
    assert!(matches!(err, OpenError::Missing { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );
    assert!(!missing.exists(), "a read-only open created the directory");

    let empty = base.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = Store::open_read_only(&empty, clock()).unwrap_err();
    assert!(matches!(err, OpenError::NoStore { .. }), "{err:?}");
    assert!(err.to_string().contains(&*empty.to_string_lossy()), "{err}");
    assert!(snapshot(&empty).is_empty());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);

    let file = base.path().join("a-file");
    std::fs::write(&file, b"not a store").unwrap();
    let err = Store::open_read_only(&file, clock()).unwrap_err();
    assert!(matches!(err, OpenError::NoStore { .. }), "{err:?}");

    // A store with nothing in it yet is a store: an empty view, not an error.
    let fresh = base.path().join("fresh");
    open(&fresh, &clock(), options()).close().unwrap();
    let view = read_only(&fresh);
    assert!(dump_once(&view).is_empty());
}
