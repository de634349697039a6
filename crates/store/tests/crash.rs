//! Kill -9 while ingesting at full speed, many times: every acknowledged batch must be there
//! after reopening, whole, and nothing that was not written.
//!
//! The test binary re-runs itself as the child (`PERISCOPE_CRASH_CHILD` names the store
//! directory); the child prints `ack <batch>` only after a commit resolved. The parent kills
//! it with SIGKILL (`Child::kill`) at a random moment (deterministic `testkit::Rng`), reopens
//! the store, checks, and starts the next round on the same directory.

#[path = "support/helpers.rs"]
mod helpers;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use helpers::{dump, labels};
use model::{Appender, Timestamp};
use store::{RecoveryKind, Store, StoreOptions};
use testkit::{ManualClock, Rng};

const ROUNDS: u64 = 24;
const THREADS: u64 = 2;
const SERIES_PER_THREAD: u64 = 40;
const BASE: i64 = 1_700_000_000_000;

/// Small blocks and windows so the child also cuts, checkpoints and compacts while dying.
fn options() -> StoreOptions {
    StoreOptions {
        block_span: Duration::from_secs(10),
        max_block_span: Duration::from_secs(40),
        out_of_order_window: Duration::from_secs(5),
        retention_age: Duration::ZERO,
        ..StoreOptions::default()
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp(BASE + (1 << 40))))
}

/// Batch `b` writes, for each series of its thread, the sample (ts(b), value(b, s)).
fn ts(batch: u64) -> i64 {
    BASE + batch as i64 * 1000
}
fn value(batch: u64, series: u64) -> f64 {
    (batch * 1000 + series) as f64 + 0.25
}
fn series_name(s: u64) -> model::Labels {
    labels("crash_test", &format!("s{s}"))
}

/// The child role: a no-op unless the parent set the environment.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("PERISCOPE_CRASH_CHILD") else {
        return;
    };
    let round: u64 = std::env::var("PERISCOPE_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let store = Arc::new(Store::open(dir.as_ref(), options(), clock()).unwrap());
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || {
                let out = std::io::stdout();
                for n in 0.. {
                    let batch = round * 1_000_000 + n * THREADS + thread;
                    let mut app = store.store_appender();
                    for s in thread * SERIES_PER_THREAD..(thread + 1) * SERIES_PER_THREAD {
                        let r = app.series(&series_name(s)).unwrap();
                        app.append(r, Timestamp(ts(batch)), value(batch, s))
                            .unwrap();
                    }
                    app.commit_blocking().unwrap();
                    writeln!(out.lock(), "ack {batch}").unwrap();
                    if thread == 0 && n % 20 == 19 {
                        store.maintain(Timestamp(ts(batch))).unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}

#[test]
fn acknowledged_batches_survive_kill_9() {
    if std::env::var("PERISCOPE_CRASH_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x5EED_CAFE);
    let mut acked = BTreeSet::new();
    for round in 1..=ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("PERISCOPE_CRASH_CHILD", dir.path())
            .env("PERISCOPE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, acking) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line
                    .strip_prefix("ack ")
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    if ids.is_empty() {
                        let _ = first_ack.send(());
                    }
                    ids.push(id);
                }
            }
            ids
        });
        // The kill lands at a random moment once the child is writing: on a loaded machine,
        // reopening a store of many blocks can take longer than the random delay itself.
        let _ = acking.recv_timeout(Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(rng.below(350)));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the child exited by itself: {status}"
        );
        let ids = reader.join().unwrap();
        assert!(
            !ids.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        acked.extend(ids);

        let store = Store::open(dir.path(), options(), clock()).unwrap();
        for note in store.recovery() {
            assert!(
                matches!(
                    note.kind,
                    RecoveryKind::TornTail
                        | RecoveryKind::OrphanBlock
                        | RecoveryKind::CompactedSource
                        | RecoveryKind::Leftover
                ),
                "round {round}: unexpected recovery note {note}"
            );
        }
        check(&store, &acked, round);
        let stats = store.stats();
        println!(
            "round {round}: {} batches acknowledged so far, {} blocks, {} head samples, notes {:?}",
            acked.len(),
            stats.blocks,
            stats.head_samples,
            store.recovery().iter().map(|n| n.kind).collect::<Vec<_>>()
        );
        store.close().unwrap();
    }
}

/// Every acknowledged batch is complete; every stored sample is one the child wrote; batches
/// are all-or-nothing.
fn check(store: &Store, acked: &BTreeSet<u64>, round: u64) {
    let mut present: BTreeMap<u64, u64> = BTreeMap::new();
    for (labels, samples) in dump(store) {
        let s: u64 = labels.get("job").unwrap()[1..].parse().unwrap();
        for (t, bits) in samples {
            let batch = ((t - BASE) / 1000) as u64;
            assert_eq!(
                (t - BASE) % 1000,
                0,
                "round {round}: unexpected timestamp {t}"
            );
            assert_eq!(
                f64::from_bits(bits),
                value(batch, s),
                "round {round}: series {s} batch {batch} holds a value nobody wrote"
            );
            assert_eq!(
                batch % THREADS,
                s / SERIES_PER_THREAD,
                "wrong thread's series"
            );
            *present.entry(batch).or_default() += 1;
        }
    }
    for (batch, n) in &present {
        assert_eq!(
            *n, SERIES_PER_THREAD,
            "round {round}: batch {batch} is partial"
        );
    }
    let missing: Vec<_> = acked.iter().filter(|b| !present.contains_key(b)).collect();
    assert!(
        missing.is_empty(),
        "round {round}: acknowledged batches lost: {missing:?}"
    );
}
