//! Appending, committing, reading back, and the acceptance rules, through the public API.

#[path = "support/helpers.rs"]
mod helpers;

use std::sync::Arc;

use helpers::{HOUR, block_on, dump, dump_matching, everything, labels, open, options};
use model::{
    AnchoredRegex, Appender, MatchOp, Matcher, Querier, Rejection, SeriesRef, Storage, StoreError,
    TimeRange, Timestamp,
};
use store::{OpenError, Store};
use testkit::ManualClock;

const T0: i64 = 1_700_000_000_000;

fn setup() -> (tempfile::TempDir, Arc<ManualClock>, Store) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let store = open(dir.path(), &clock, options());
    (dir, clock, store)
}

fn rejected(r: Result<(), StoreError>) -> Rejection {
    match r {
        Err(StoreError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn committed_samples_are_readable_and_survive_reopen() {
    let (dir, clock, store) = setup();
    let mut app = store.appender();
    let up = app.series(&labels("up", "api")).unwrap();
    let load = app.series(&labels("load", "api")).unwrap();
    assert_ne!(up, load);
    for i in 0..10 {
        app.append(up, Timestamp(T0 + i * 1000), 1.0).unwrap();
        app.append(load, Timestamp(T0 + i * 1000), i as f64 * 0.25)
            .unwrap();
    }
    // The trait's future works without any async runtime.
    let summary = block_on(app.commit()).unwrap();
    assert_eq!((summary.samples, summary.new_series), (20, 2));
    let before = dump(&store);
    assert_eq!(before.len(), 2);
    assert_eq!(
        before[&labels("load", "api")][3],
        (T0 + 3000, 0.75f64.to_bits())
    );
    store.close().unwrap();

    let store = open(dir.path(), &clock, options());
    assert!(store.recovery().is_empty(), "{:?}", store.recovery());
    assert_eq!(dump(&store), before);
    // Series references are re-resolved after reopening.
    let mut app = store.store_appender();
    let up2 = app.series(&labels("up", "api")).unwrap();
    app.append(up2, Timestamp(T0 + 10_000), 0.0).unwrap();
    let s = app.commit_blocking().unwrap();
    assert_eq!((s.samples, s.new_series), (1, 0));
    assert_eq!(dump(&store)[&labels("up", "api")].len(), 11);
}

#[test]
fn nothing_is_visible_before_commit_and_dropped_batches_vanish() {
    let (_dir, _clock, store) = setup();
    let mut app = store.appender();
    let s = app.series(&labels("up", "a")).unwrap();
    app.append(s, Timestamp(T0), 1.0).unwrap();
    assert!(dump(&store).is_empty());
    drop(app);
    assert!(dump(&store).is_empty());
    let mut app = store.store_appender();
    app.append(s, Timestamp(T0), 2.0).unwrap();
    app.commit_blocking().unwrap();
    assert_eq!(
        dump(&store)[&labels("up", "a")],
        vec![(T0, 2.0f64.to_bits())]
    );
}

#[test]
fn out_of_order_duplicates_and_future_follow_the_rules() {
    let (_dir, clock, store) = setup();
    let mut app = store.store_appender();
    let s = app.series(&labels("up", "a")).unwrap();
    app.append(s, Timestamp(T0), 1.0).unwrap();
    app.commit_blocking().unwrap();

    let mut app = store.store_appender();
    // Within the out-of-order window (1 h): accepted, read back in order.
    app.append(s, Timestamp(T0 - HOUR / 2), 0.5).unwrap();
    // Beyond it: too old.
    assert_eq!(
        rejected(app.append(s, Timestamp(T0 - 2 * HOUR), 0.0)),
        Rejection::TooOld
    );
    // Same timestamp, same value: accepted (stored once); different value: conflict.
    app.append(s, Timestamp(T0), 1.0).unwrap();
    assert_eq!(
        rejected(app.append(s, Timestamp(T0), 9.0)),
        Rejection::ConflictingDuplicate
    );
    // Inside the batch too.
    app.append(s, Timestamp(T0 + 5), 3.0).unwrap();
    app.append(s, Timestamp(T0 + 5), 3.0).unwrap();
    assert_eq!(
        rejected(app.append(s, Timestamp(T0 + 5), 4.0)),
        Rejection::ConflictingDuplicate
    );
    // Future skew (10 min) is measured against the clock, read again before refusing.
    assert_eq!(
        rejected(app.append(s, Timestamp(T0 + 11 * 60_000), 1.0)),
        Rejection::TooFarInFuture
    );
    clock.advance_ms(2 * 60_000);
    app.append(s, Timestamp(T0 + 11 * 60_000), 1.0).unwrap();
    let summary = app.commit_blocking().unwrap();
    assert_eq!(summary.samples, 5);

    let got = dump(&store);
    let want: Vec<(i64, u64)> = [
        (T0 - HOUR / 2, 0.5),
        (T0, 1.0),
        (T0 + 5, 3.0),
        (T0 + 11 * 60_000, 1.0),
    ]
    .iter()
    .map(|&(t, v): &(i64, f64)| (t, v.to_bits()))
    .collect();
    assert_eq!(got[&labels("up", "a")], want);

    let mut app = store.appender();
    assert_eq!(
        app.series(&model::Labels::new().with("job", "no-name")),
        Err(StoreError::Rejected(Rejection::InvalidLabels))
    );
    assert!(matches!(
        app.append(SeriesRef(999), Timestamp(T0), 1.0),
        Err(StoreError::Invalid(_))
    ));

    let stats = store.stats();
    let by = |r: Rejection| stats.rejected.iter().find(|(x, _)| *x == r).unwrap().1;
    assert_eq!(by(Rejection::TooOld), 1);
    assert_eq!(by(Rejection::ConflictingDuplicate), 2);
    assert_eq!(by(Rejection::TooFarInFuture), 1);
    assert_eq!(by(Rejection::InvalidLabels), 1);
    assert_eq!(stats.duplicates, 2);
    assert_eq!(stats.samples_appended, 6);
    let metrics = store.self_metrics(Timestamp(T0));
    let too_old = metrics
        .iter()
        .find(|m| {
            m.name == "periscope_store_rejected_samples_total"
                && m.labels.get("reason") == Some("too_old")
        })
        .unwrap();
    assert_eq!(too_old.value, 1.0);
}

#[test]
fn redelivered_batches_are_idempotent_across_restarts() {
    let (dir, clock, store) = setup();
    let batch = |store: &Store| {
        let mut app = store.store_appender();
        for i in 0..50 {
            let s = app.series(&labels("m", &format!("j{}", i % 5))).unwrap();
            app.append(s, Timestamp(T0 + i), i as f64).unwrap();
        }
        app.commit_blocking().unwrap()
    };
    batch(&store);
    let once = dump(&store);
    assert_eq!(batch(&store).samples, 50);
    assert_eq!(dump(&store), once);
    drop(store);
    let store = open(dir.path(), &clock, options());
    batch(&store);
    assert_eq!(dump(&store), once);
    assert_eq!(store.stats().duplicates, 50);
}

#[test]
fn matchers_and_label_queries() {
    let (_dir, _clock, store) = setup();
    let mut app = store.store_appender();
    for (name, job, zone) in [
        ("up", "api", "eu"),
        ("up", "web", ""),
        ("load", "api", "us"),
    ] {
        let l = labels(name, job).with("zone", zone);
        let s = app.series(&l).unwrap();
        app.append(s, Timestamp(T0), 1.0).unwrap();
    }
    app.commit_blocking().unwrap();
    let re = |p: &str| AnchoredRegex::new(p).unwrap();
    let m = |n: &str, op| Matcher { name: n.into(), op };
    let names = |ms: &[Matcher]| -> Vec<String> {
        dump_matching(&store, ms)
            .keys()
            .map(|l| format!("{}/{}", l.metric_name().unwrap(), l.get("job").unwrap()))
            .collect()
    };
    assert_eq!(
        names(&[Matcher::equal("__name__", "up")]),
        ["up/api", "up/web"]
    );
    assert_eq!(names(&[Matcher::equal("zone", "")]), ["up/web"]);
    assert_eq!(
        names(&[m("zone", MatchOp::NotEqual("eu".into()))]),
        ["load/api", "up/web"]
    );
    assert_eq!(
        names(&[m("job", MatchOp::Regex(re("a.*")))]),
        ["load/api", "up/api"]
    );
    assert_eq!(
        names(&[m("zone", MatchOp::NotRegex(re("e.*")))]),
        ["load/api", "up/web"]
    );
    assert_eq!(
        store.label_names(&[], everything()).unwrap(),
        ["__name__", "job", "zone"]
    );
    assert_eq!(
        store
            .label_values("job", &[Matcher::equal("__name__", "up")], everything())
            .unwrap(),
        ["api", "web"]
    );
    // Nothing in range: nothing returned.
    let early = TimeRange::new(Timestamp(0), Timestamp(T0 - 1));
    assert!(store.select(&[], early).unwrap().is_empty());
    assert!(store.label_names(&[], early).unwrap().is_empty());
}

#[test]
fn a_directory_is_opened_by_one_store_at_a_time() {
    let (dir, clock, store) = setup();
    let second = Store::open(dir.path(), options(), clock.clone());
    assert!(
        matches!(second, Err(OpenError::Locked { .. })),
        "{second:?}"
    );
    drop(store);
    Store::open(dir.path(), options(), clock).unwrap();
}

#[test]
fn commits_after_close_are_refused_as_retryable() {
    let (_dir, _clock, store) = setup();
    let mut app = store.store_appender();
    let s = app.series(&labels("up", "a")).unwrap();
    app.append(s, Timestamp(T0), 1.0).unwrap();
    let stats = store.stats();
    assert_eq!(stats.series, 1);
    // The open appender keeps the store's state alive, but the WAL is closed.
    store.close().unwrap();
    let err = app.commit_blocking().unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[test]
fn bounded_selects_refuse_too_many_series_from_the_head_and_from_blocks() {
    let (_dir, clock, store) = setup();
    let mut app = store.store_appender();
    for i in 0..50 {
        let s = app.series(&labels("wide", &format!("job{i}"))).unwrap();
        app.append(s, Timestamp(T0), i as f64).unwrap();
    }
    app.commit_blocking().unwrap();
    let wide = [Matcher::equal("__name__", "wide")];
    let bounded = |limit| {
        store
            .select_at_most(&wide, everything(), limit)
            .unwrap()
            .map(|s| s.len())
    };
    assert_eq!(bounded(50), Some(50));
    assert_eq!(bounded(49), None);
    // Once the samples are in a block and out of the head, the limit still holds.
    clock.set(Timestamp(T0 + 5 * HOUR));
    store.maintain(Timestamp(T0 + 5 * HOUR)).unwrap();
    assert_eq!(bounded(49), None);
    assert_eq!(bounded(50), Some(50));
}

#[test]
fn many_series_at_once_resolve_as_one_at_a_time_and_survive_reopen() {
    let (dir, clock, store) = setup();
    let mut app = store.appender();
    let known = app.series(&labels("up", "api")).unwrap();
    block_on(app.commit()).unwrap();

    let mut app = store.appender();
    let asked = [
        labels("up", "db"),
        labels("up", "api"),
        labels("load", "api"),
        labels("up", "db"),
    ];
    let mut refs = Vec::new();
    app.series_many(&asked, &mut refs).unwrap();
    assert_eq!(refs.len(), 4);
    assert_eq!(refs[1], known);
    assert_eq!(refs[0], refs[3], "a label set asked twice is one series");
    assert_ne!(refs[0], refs[2]);
    for (i, r) in refs.iter().enumerate() {
        app.append(*r, Timestamp(T0 + i as i64), i as f64).unwrap();
    }
    let summary = block_on(app.commit()).unwrap();
    assert_eq!(summary.new_series, 2);
    // The same references one at a time.
    let mut app = store.appender();
    assert_eq!(app.series(&labels("load", "api")).unwrap(), refs[2]);
    drop(app);
    let before = dump(&store);
    assert_eq!(
        before[&labels("up", "db")],
        [(T0, 0), (T0 + 3, 3f64.to_bits())]
    );
    store.close().unwrap();

    // The series records written together replay like single ones.
    let store = open(dir.path(), &clock, options());
    assert!(store.recovery().is_empty(), "{:?}", store.recovery());
    assert_eq!(dump(&store), before);
    let mut app = store.appender();
    let mut bad = Vec::new();
    let refused = app.series_many(&[labels("up", "x"), labels("1bad", "x")], &mut bad);
    assert_eq!(rejected(refused.map(drop)), Rejection::InvalidLabels);
}
