//! Recovery: torn and corrupted WAL tails, corrupted blocks, and interrupted maintenance.

#[path = "support/helpers.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use helpers::{HOUR, copy_store, dump, files_with, labels, open, options};
use model::{Appender, Labels, Timestamp};
use store::{RecoveryKind, Store};
use testkit::ManualClock;

/// Aligned to a day, so the 2 h blocks of the first hours share one compaction window.
const T0: i64 = 1_699_920_000_000;

type Dump = BTreeMap<Labels, Vec<(i64, u64)>>;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp(T0 + 100 * HOUR)))
}

/// Commits `batches` small batches; returns the expected contents after each one.
fn write_batches(store: &Store, batches: usize) -> Vec<Dump> {
    let mut states = vec![Dump::new()];
    for b in 0..batches {
        let mut app = store.store_appender();
        for i in 0..3 {
            let s = app
                .series(&labels("m", &format!("j{}", (b + i) % 4)))
                .unwrap();
            app.append(
                s,
                Timestamp(T0 + (b * 10 + i) as i64),
                (b * 3 + i) as f64 + 0.5,
            )
            .unwrap();
        }
        app.commit_blocking().unwrap();
        states.push(dump(store));
    }
    states
}

/// (end offset of each frame) of a WAL file, and which of them are samples records.
fn frames(buf: &[u8]) -> Vec<(usize, bool)> {
    let mut at = 16;
    let mut out = Vec::new();
    while at + 9 <= buf.len() {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        let is_samples = buf[at + 8] == 2;
        at += 8 + len;
        out.push((at, is_samples));
    }
    out
}

#[test]
fn wal_cut_at_every_byte_offset_recovers_every_complete_record() {
    let pristine = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(pristine.path(), &clock, options());
    let states = write_batches(&store, 4);
    store.close().unwrap();

    let seg = files_with(&pristine.path().join("wal"), "seg")
        .pop()
        .unwrap();
    let seg_name = seg.file_name().unwrap().to_owned();
    let full = std::fs::read(&seg).unwrap();
    let frames = frames(&full);
    assert_eq!(frames.last().unwrap().0, full.len());
    // Every byte offset of the last two records (each open costs several fsyncs, so the
    // earlier, identically framed records are cut at every third byte only).
    let tail_from = frames[frames.len() - 3].0;
    let cuts = (0..tail_from).step_by(3).chain(tail_from..=full.len());
    for cut in cuts {
        let work = tempfile::tempdir().unwrap();
        copy_store(pristine.path(), work.path());
        let seg = work.path().join("wal").join(&seg_name);
        std::fs::write(&seg, &full[..cut]).unwrap();
        let store = open(work.path(), &clock, options());
        let complete = frames.iter().filter(|(end, s)| *s && *end <= cut).count();
        assert_eq!(dump(&store), states[complete], "cut at byte {cut}");
        let torn = cut != full.len() && cut != 16 && !frames.iter().any(|&(end, _)| end == cut);
        let notes = store.recovery();
        if torn {
            assert!(
                notes.iter().any(|n| n.kind == RecoveryKind::TornTail),
                "cut at {cut}: {notes:?}"
            );
        } else {
            assert!(notes.is_empty(), "cut at {cut}: {notes:?}");
        }
        if cut % 10 != 0 {
            continue;
        }
        // The damage is gone after recovery: a second open is clean and identical.
        drop(store);
        let again = open(work.path(), &clock, options());
        assert!(again.recovery().is_empty(), "{:?}", again.recovery());
        assert_eq!(dump(&again), states[complete]);
    }
}

#[test]
fn a_flipped_byte_in_the_wal_loses_only_what_follows_it() {
    let pristine = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(pristine.path(), &clock, options());
    let states = write_batches(&store, 4);
    store.close().unwrap();
    let seg = files_with(&pristine.path().join("wal"), "seg")
        .pop()
        .unwrap();
    let full = std::fs::read(&seg).unwrap();
    let frames = frames(&full);
    for flip in (16..full.len()).step_by(4) {
        let work = tempfile::tempdir().unwrap();
        copy_store(pristine.path(), work.path());
        let mut bad = full.clone();
        bad[flip] ^= 0x10;
        std::fs::write(work.path().join("wal").join(seg.file_name().unwrap()), &bad).unwrap();
        let store = open(work.path(), &clock, options());
        // Records ending before the flipped byte survive; the one holding it and all later
        // ones are dropped.
        let intact = frames.iter().filter(|(end, s)| *s && *end <= flip).count();
        assert_eq!(dump(&store), states[intact], "flip at byte {flip}");
        assert!(
            store
                .recovery()
                .iter()
                .any(|n| matches!(n.kind, RecoveryKind::BadChecksum | RecoveryKind::TornTail)),
            "flip at {flip}: {:?}",
            store.recovery()
        );
    }
}

/// A store with two blocks (ranges 0 and 1) and head data in range 3.
fn store_with_blocks(dir: &Path, clock: &Arc<ManualClock>) -> Dump {
    let store = open(dir, clock, options());
    let mut app = store.store_appender();
    for j in 0..3 {
        let s = app.series(&labels("m", &format!("j{j}"))).unwrap();
        for k in 0..8 {
            app.append(s, Timestamp(T0 + k * HOUR / 2 + j), (k * 10 + j) as f64)
                .unwrap();
        }
    }
    app.commit_blocking().unwrap();
    // Ranges 0 and 1 are complete once their end is an out-of-order window (1 h) past.
    let report = store.maintain(Timestamp(T0 + 5 * HOUR)).unwrap();
    assert_eq!(report.cut.len(), 2, "{report:?}");
    let mut app = store.store_appender();
    let s = app.series(&labels("m", "j0")).unwrap();
    app.append(s, Timestamp(T0 + 6 * HOUR), 1.0).unwrap();
    app.commit_blocking().unwrap();
    let all = dump(&store);
    store.close().unwrap();
    all
}

#[test]
fn every_flipped_byte_of_a_block_is_detected_and_the_rest_still_reads() {
    let pristine = tempfile::tempdir().unwrap();
    let clock = clock();
    let all = store_with_blocks(pristine.path(), &clock);
    let blocks = files_with(&pristine.path().join("blocks"), "block");
    assert_eq!(blocks.len(), 2);
    let name = blocks[0].file_name().unwrap().to_owned();
    let full = std::fs::read(&blocks[0]).unwrap();
    // Every other byte: header, every blob's prefix and payload, index, meta, footer.
    for flip in (0..full.len()).step_by(2) {
        let work = tempfile::tempdir().unwrap();
        copy_store(pristine.path(), work.path());
        let mut bad = full.clone();
        bad[flip] ^= 0x01;
        std::fs::write(work.path().join("blocks").join(&name), &bad).unwrap();
        let store = open(work.path(), &clock, options());
        let got = dump(&store);
        let set_aside = store
            .recovery()
            .iter()
            .any(|n| n.kind == RecoveryKind::CorruptBlock);
        let read_problems = store.problems().len() + store.verify_blocks().len();
        assert!(
            set_aside || read_problems > 0,
            "flip at byte {flip} went unnoticed"
        );
        // Never a wrong sample: what is returned is a subset of what was written, and the
        // samples outside the damaged block (range 0) are all there.
        for (labels, samples) in &got {
            for s in samples {
                assert!(all[labels].contains(s), "flip at {flip}: invented {s:?}");
            }
        }
        for (labels, samples) in &all {
            for s in samples.iter().filter(|s| s.0 >= T0 + 2 * HOUR) {
                assert!(
                    got.get(labels).is_some_and(|g| g.contains(s)),
                    "flip at {flip}: lost {s:?} of {labels:?} outside the damaged block"
                );
            }
        }
    }
}

#[test]
fn interrupted_maintenance_is_finished_or_undone_on_open() {
    // A crash after a cut block was renamed into place but before the checkpoint that
    // excludes its samples: the block is an orphan, its samples come back from the WAL.
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock, options());
    let mut app = store.store_appender();
    let s = app.series(&labels("m", "a")).unwrap();
    for k in 0..6 {
        app.append(s, Timestamp(T0 + k * HOUR / 2), k as f64)
            .unwrap();
    }
    app.commit_blocking().unwrap();
    let before = dump(&store);
    let wal_copy = tempfile::tempdir().unwrap();
    copy_store(&dir.path().join("wal"), wal_copy.path());
    store.maintain(Timestamp(T0 + 5 * HOUR)).unwrap();
    store.close().unwrap();
    std::fs::remove_dir_all(dir.path().join("wal")).unwrap();
    copy_store(wal_copy.path(), &dir.path().join("wal"));
    let store = open(dir.path(), &clock, options());
    assert!(
        store
            .recovery()
            .iter()
            .any(|n| n.kind == RecoveryKind::OrphanBlock),
        "{:?}",
        store.recovery()
    );
    assert_eq!(dump(&store), before);
    assert_eq!(store.stats().blocks, 0);

    // A crash after a compaction wrote its block but before its sources were deleted.
    let report = store.maintain(Timestamp(T0 + 5 * HOUR)).unwrap();
    assert_eq!(report.cut.len(), 2);
    let blocks = dir.path().join("blocks");
    let sources = tempfile::tempdir().unwrap();
    copy_store(&blocks, sources.path());
    let report = store.maintain(Timestamp(T0 + 100 * HOUR)).unwrap();
    assert_eq!(report.compactions.len(), 1, "{report:?}");
    store.close().unwrap();
    copy_store(sources.path(), &blocks);
    let store = open(dir.path(), &clock, options());
    let compacted = store
        .recovery()
        .iter()
        .filter(|n| n.kind == RecoveryKind::CompactedSource)
        .count();
    assert_eq!(compacted, 2, "{:?}", store.recovery());
    assert_eq!(dump(&store), before);
    assert_eq!(store.stats().blocks, 1);
}
