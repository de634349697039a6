//! Cutting, compaction and retention keep every sample inside retention exactly once.

#[path = "support/helpers.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use helpers::{HOUR, dump, labels, open, options};
use model::{Appender, Timestamp};
use store::StoreOptions;
use testkit::ManualClock;

/// Midnight, so compaction windows (24 h) start on a day boundary.
const T0: i64 = 1_699_920_000_000;

#[test]
fn compaction_and_retention_keep_every_sample_inside_retention_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let opts = StoreOptions {
        retention_age: Duration::from_secs(10 * 24 * 3600),
        ..options()
    };
    let store = open(dir.path(), &clock, opts.clone());
    let mut written: BTreeMap<model::Labels, BTreeMap<i64, u64>> = BTreeMap::new();
    let step = 5 * 60_000;
    let end = T0 + 12 * 24 * HOUR;
    let mut t = T0;
    let mut compactions = 0;
    let mut deleted = 0;
    while t < end {
        // One commit per hour of 5-minute samples.
        clock.set(Timestamp(t + HOUR));
        let mut app = store.store_appender();
        for k in 0..12 {
            let ts = t + k * step;
            for j in 0..3 {
                let l = labels("m", &format!("j{j}"));
                let s = app.series(&l).unwrap();
                let v = ((ts - T0) / step * (j + 1)) as f64;
                app.append(s, Timestamp(ts), v).unwrap();
                written
                    .entry(l.clone())
                    .or_default()
                    .insert(ts, v.to_bits());
                // Now and then a sample 40 min late (inside the 1 h window), merged in order.
                if (ts / step) % 17 == 0 && ts - 40 * 60_000 >= T0 {
                    let late = ts - 40 * 60_000 + 1;
                    app.append(s, Timestamp(late), 7.0).unwrap();
                    written.entry(l).or_default().insert(late, 7.0f64.to_bits());
                }
            }
        }
        app.commit_blocking().unwrap();
        t += HOUR;
        let r = store.maintain(Timestamp(t)).unwrap();
        compactions += r.compactions.len();
        deleted += r.deleted.len();
        assert!(r.problems.is_empty(), "{r:?}");
    }
    let now = end;
    let report = store.maintain(Timestamp(now)).unwrap();
    compactions += report.compactions.len();
    deleted += report.deleted.len();
    assert!(compactions > 0, "nothing was compacted");
    assert!(deleted > 0, "retention deleted nothing");

    let cutoff = now - 10 * 24 * HOUR;
    let got = dump(&store);
    let mut stored = 0u64;
    for (l, samples) in &written {
        let have: BTreeMap<i64, u64> = got[l].iter().copied().collect();
        stored += have.len() as u64;
        for (t, v) in samples.range(cutoff..) {
            assert_eq!(have.get(t), Some(v), "{l:?} lost the sample at {t}");
        }
        for (t, v) in &have {
            assert_eq!(
                samples.get(t),
                Some(v),
                "{l:?} has an unwritten sample at {t}"
            );
        }
    }
    let stats = store.stats();
    assert_eq!(
        stats.head_samples + stats.block_samples,
        stored,
        "{stats:?}"
    );
    // Ten days of 2 h blocks would be 120; compacted, at most one per complete day plus
    // the 2 h blocks of the current day.
    assert!(
        stats.blocks <= 24,
        "blocks were not compacted: {}",
        stats.blocks
    );

    // Same answer after a restart.
    store.close().unwrap();
    let store = open(dir.path(), &clock, opts);
    assert_eq!(dump(&store), got);
    let stats = store.stats();
    assert_eq!(stats.head_samples + stats.block_samples, stored);
}

#[test]
fn retention_by_bytes_deletes_oldest_blocks_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let store = open(dir.path(), &clock, options());
    for h in 0..12 {
        let t = T0 + h * HOUR;
        clock.set(Timestamp(t + HOUR));
        let mut app = store.store_appender();
        for j in 0..20 {
            let s = app.series(&labels("m", &format!("j{j}"))).unwrap();
            for k in 0..60 {
                app.append(s, Timestamp(t + k * 60_000), (k * j) as f64 + 0.1)
                    .unwrap();
            }
        }
        app.commit_blocking().unwrap();
    }
    store.maintain(Timestamp(T0 + 12 * HOUR)).unwrap();
    let before = store.stats();
    assert!(before.blocks >= 4, "{before:?}");
    drop(store);

    let limit = before.bytes_on_disk() - 1;
    let opts = StoreOptions {
        retention_bytes: limit,
        ..options()
    };
    let store = open(dir.path(), &clock, opts);
    let r = store.maintain(Timestamp(T0 + 12 * HOUR)).unwrap();
    assert_eq!(r.deleted.len(), 1, "{r:?}");
    let after = store.stats();
    assert!(after.bytes_on_disk() <= limit, "{after:?}");
    // The oldest data went first.
    let oldest = dump(&store).values().map(|s| s[0].0).min().unwrap();
    assert!(
        oldest >= T0 + 2 * HOUR,
        "oldest remaining sample at {}",
        oldest - T0
    );
}
