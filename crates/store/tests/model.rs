//! Property test: random appends, commits, dropped batches, restarts and maintenance runs,
//! compared after every step with a plain `BTreeMap` model of the exactly-once rules.

#[path = "support/helpers.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use helpers::{dump, dump_matching, labels};
use model::{AnchoredRegex, Appender, MatchOp, Matcher, Rejection, StoreError, Timestamp};
use proptest::prelude::*;
use store::{Store, StoreAppender, StoreOptions};
use testkit::ManualClock;

#[derive(Clone, Debug)]
enum Op {
    Append { series: u8, slot: u8, value: u8 },
    Commit,
    Drop,
    Restart,
    Maintain { now_s: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..5, 0u8..60, 0u8..5).prop_map(|(series, slot, value)| Op::Append { series, slot, value }),
        3 => Just(Op::Commit),
        1 => Just(Op::Drop),
        1 => Just(Op::Restart),
        2 => (900u16..1200).prop_map(|now_s| Op::Maintain { now_s }),
    ]
}

const VALUES: [f64; 5] = [0.0, 1.0, 2.5, -1.0, f64::NAN];

/// 10 s blocks, 40 s compaction windows, an out-of-order window wider than all timestamps
/// (so `TooOld` never fires and late samples keep landing in ranges already cut).
fn options() -> StoreOptions {
    StoreOptions {
        commit_window: Duration::from_millis(1),
        block_span: Duration::from_secs(10),
        max_block_span: Duration::from_secs(40),
        out_of_order_window: Duration::from_secs(1000),
        retention_age: Duration::ZERO,
        ..StoreOptions::default()
    }
}

type Model = BTreeMap<u8, BTreeMap<i64, u64>>;

fn expected(model: &Model, only: impl Fn(u8) -> bool) -> BTreeMap<model::Labels, Vec<(i64, u64)>> {
    model
        .iter()
        .filter(|(k, m)| only(**k) && !m.is_empty())
        .map(|(k, m)| {
            (
                labels("m", &format!("j{k}")),
                m.iter().map(|(&t, &v)| (t, v)).collect(),
            )
        })
        .collect()
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(10_000_000)));
    let mut store = Some(Store::open(dir.path(), options(), clock.clone()).unwrap());
    let mut app: Option<StoreAppender> = None;
    let mut committed = Model::new();
    let mut pending: Vec<(u8, i64, u64)> = Vec::new();
    let re = Matcher {
        name: "job".into(),
        op: MatchOp::Regex(AnchoredRegex::new("j[0-2]").unwrap()),
    };
    for op in ops {
        let s = store.as_ref().unwrap();
        match op {
            Op::Append {
                series,
                slot,
                value,
            } => {
                let a = app.get_or_insert_with(|| s.store_appender());
                let r = a.series(&labels("m", &format!("j{series}"))).unwrap();
                let (ts, v) = (i64::from(slot) * 1000, VALUES[value as usize]);
                let known = committed
                    .get(&series)
                    .and_then(|m| m.get(&ts))
                    .copied()
                    .or_else(|| {
                        pending
                            .iter()
                            .find(|p| p.0 == series && p.1 == ts)
                            .map(|p| p.2)
                    });
                let got = a.append(r, Timestamp(ts), v);
                match known {
                    None => {
                        prop_assert_eq!(got, Ok(()));
                        pending.push((series, ts, v.to_bits()));
                    }
                    Some(bits) if bits == v.to_bits() => prop_assert_eq!(got, Ok(())),
                    Some(_) => prop_assert_eq!(
                        got,
                        Err(StoreError::Rejected(Rejection::ConflictingDuplicate))
                    ),
                }
            }
            Op::Commit => {
                if let Some(a) = app.take() {
                    a.commit_blocking().unwrap();
                }
                for (k, t, v) in pending.drain(..) {
                    committed.entry(k).or_default().insert(t, v);
                }
            }
            Op::Drop => {
                app = None;
                pending.clear();
            }
            Op::Restart => {
                app = None;
                pending.clear();
                store.take().unwrap().close().unwrap();
                let reopened = Store::open(dir.path(), options(), clock.clone()).unwrap();
                prop_assert!(reopened.recovery().is_empty(), "{:?}", reopened.recovery());
                store = Some(reopened);
            }
            Op::Maintain { now_s } => {
                s.maintain(Timestamp(i64::from(now_s) * 1000)).unwrap();
            }
        }
        let s = store.as_ref().unwrap();
        prop_assert_eq!(dump(s), expected(&committed, |_| true));
        prop_assert_eq!(
            dump_matching(s, std::slice::from_ref(&re)),
            expected(&committed, |k| k <= 2)
        );
        // Exactly once on disk and in memory, not just after the read-side merge.
        let stats = s.stats();
        let stored: usize = committed.values().map(|m| m.len()).sum();
        prop_assert_eq!(stats.head_samples + stats.block_samples, stored as u64);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_a_map_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
