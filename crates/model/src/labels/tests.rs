//! Label sets behave exactly like the sorted vector of owned pairs they replace: every
//! operation checked against a `BTreeMap` model, and order, hash and serialized form against
//! the old derived type.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;

mod old {
    use serde::{Deserialize, Serialize};

    /// The type `Labels` used to be, with its derives: the reference for order, hash and form.
    #[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub struct Labels(pub Vec<(String, String)>);
}
use old::Labels as OldLabels;

impl OldLabels {
    fn of(model: &BTreeMap<String, String>) -> Self {
        OldLabels(model.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// Records every call a hasher gets, to compare what two types feed it.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Hasher for Recorder {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.push(format!("bytes {bytes:?}"));
    }
    fn write_u8(&mut self, i: u8) {
        self.0.push(format!("u8 {i}"));
    }
    fn write_usize(&mut self, i: usize) {
        self.0.push(format!("usize {i}"));
    }
}

fn recorded(value: &impl Hash) -> Vec<String> {
    let mut r = Recorder::default();
    value.hash(&mut r);
    r.0
}

fn std_hash(value: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Set(String, String),
    With(String, String),
    Remove(String),
    /// Keep the pairs whose name and value lengths add up to something not divisible by this.
    Retain(usize),
    Collect(Vec<(String, String)>),
}

/// Few short names, so operations meet the same names often; values of any kind, some long
/// enough to need multi-byte lengths.
fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-d_]{0,2}", Just("__name__".to_string())]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,8}",
        1 => "[xé]{60,70}",
        1 => Just(String::new()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (name(), value()).prop_map(|(n, v)| Op::Set(n, v)),
        2 => (name(), value()).prop_map(|(n, v)| Op::With(n, v)),
        2 => name().prop_map(Op::Remove),
        1 => (1usize..4).prop_map(Op::Retain),
        1 => prop::collection::vec((name(), value()), 0..8).prop_map(Op::Collect),
    ]
}

fn model_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(name(), value(), 0..6)
}

fn check_same(labels: &Labels, model: &BTreeMap<String, String>) -> Result<(), TestCaseError> {
    let expected: Vec<(&str, &str)> = model
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    prop_assert_eq!(labels.iter().collect::<Vec<_>>(), expected);
    prop_assert_eq!(labels.len(), model.len());
    prop_assert_eq!(labels.iter().len(), model.len());
    prop_assert_eq!(labels.is_empty(), model.is_empty());
    for probe in ["", "a", "ab", "b", "d_", "zz", "__name__"] {
        prop_assert_eq!(labels.get(probe), model.get(probe).map(String::as_str));
    }
    prop_assert_eq!(
        labels.metric_name(),
        model.get("__name__").map(String::as_str)
    );
    Ok(())
}

proptest! {
    #[test]
    fn every_operation_matches_a_sorted_map(ops in prop::collection::vec(op(), 0..30)) {
        let mut labels = Labels::new();
        let mut model = BTreeMap::new();
        for op in ops {
            match op {
                Op::Set(n, v) => {
                    labels.set(n.as_str(), v.as_str());
                    model.insert(n, v);
                }
                Op::With(n, v) => {
                    labels = labels.with(n.clone(), v.clone());
                    model.insert(n, v);
                }
                Op::Remove(n) => {
                    prop_assert_eq!(labels.remove(&n), model.remove(&n));
                }
                Op::Retain(k) => {
                    let keep = |n: &str, v: &str| !(n.len() + v.len()).is_multiple_of(k);
                    let mut seen = Vec::new();
                    labels.retain(|n, v| {
                        seen.push((n.to_owned(), v.to_owned()));
                        keep(n, v)
                    });
                    // `keep` sees every pair once, in order.
                    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    prop_assert_eq!(seen, all);
                    model.retain(|n, v| keep(n, v));
                }
                Op::Collect(items) => {
                    labels = items.iter().cloned().collect();
                    // Repeated names: the last one wins, as with repeated `set`.
                    model = items.into_iter().collect();
                }
            }
            check_same(&labels, &model)?;
            prop_assert_eq!(labels.clone(), labels.clone());
            prop_assert_eq!(pairs(&labels.clone()), pairs(&labels));
        }
    }

    #[test]
    fn order_and_hash_are_those_of_the_old_vector(a in model_strategy(), b in model_strategy()) {
        let (la, lb): (Labels, Labels) = (a.clone().into_iter().collect(), b.clone().into_iter().collect());
        let (oa, ob) = (OldLabels::of(&a), OldLabels::of(&b));
        prop_assert_eq!(la.cmp(&lb), oa.cmp(&ob));
        prop_assert_eq!(la.partial_cmp(&lb), oa.partial_cmp(&ob));
        prop_assert_eq!(la == lb, a == b);
        prop_assert_eq!(recorded(&la), recorded(&oa));
        prop_assert_eq!(std_hash(&la), std_hash(&oa));
        prop_assert_eq!(format!("{la:?}"), format!("{oa:?}"));
    }

    #[test]
    fn serialized_form_is_the_old_one_and_round_trips(model in model_strategy()) {
        let labels: Labels = model.clone().into_iter().collect();
        let old = OldLabels::of(&model);
        let json = serde_json::to_string(&labels).unwrap();
        prop_assert_eq!(&json, &serde_json::to_string(&old).unwrap());
        prop_assert_eq!(serde_json::from_str::<Labels>(&json).unwrap(), labels.clone());
        let pretty = serde_json::to_string_pretty(&old).unwrap();
        prop_assert_eq!(serde_json::from_str::<Labels>(&pretty).unwrap(), labels.clone());
        // A format that is not self-describing the same way (TOML: inside a table).
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Row { labels: Labels }
        let text = toml::to_string(&Row { labels: labels.clone() }).unwrap();
        prop_assert_eq!(toml::from_str::<Row>(&text).unwrap(), Row { labels });
    }
}

#[test]
fn labels_stay_sorted_and_unique() {
    let l = Labels::new().with("b", "2").with("a", "1").with("b", "3");
    let pairs: Vec<_> = l.iter().collect();
    assert_eq!(pairs, vec![("a", "1"), ("b", "3")]);
    assert_eq!(l.get("b"), Some("3"));
    assert_eq!(l.get("c"), None);
}

#[test]
fn a_label_set_written_by_the_previous_version_reads_back() {
    // As kept in the state database's `labels` column by the derived vector of pairs.
    let saved = r#"[["__name__","node_load1"],["instance","db1:9100"],["job","node"],["zone","é \"q\" \\"]]"#;
    let labels: Labels = serde_json::from_str(saved).unwrap();
    assert_eq!(
        labels,
        Labels::new()
            .with("zone", "é \"q\" \\")
            .with("job", "node")
            .with("instance", "db1:9100")
            .with("__name__", "node_load1")
    );
    assert_eq!(serde_json::to_string(&labels).unwrap(), saved);
    assert_eq!(serde_json::from_str::<Labels>("[]").unwrap(), Labels::new());
}

#[test]
fn reading_sorts_and_refuses_a_name_given_twice() {
    let unsorted: Labels = serde_json::from_str(r#"[["b","2"],["a","1"]]"#).unwrap();
    assert_eq!(
        unsorted.iter().collect::<Vec<_>>(),
        [("a", "1"), ("b", "2")]
    );

    let err = serde_json::from_str::<Labels>(r#"[["job","a"],["x","1"],["job","b"]]"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"label name "job" appears more than once"#),
        "{err}"
    );
    assert!(err.contains("line 1"), "the position comes along: {err}");

    for bad in [
        r#"[["a"]]"#,
        r#"[["a", 1]]"#,
        r#"{"a": "1"}"#,
        r#"[["a","1","2"]]"#,
    ] {
        assert!(serde_json::from_str::<Labels>(bad).is_err(), "{bad}");
    }
}

#[test]
fn building_from_pairs_keeps_the_last_of_a_name() {
    let l: Labels = [("job", "a"), ("instance", "x"), ("job", "b"), ("job", "c")]
        .into_iter()
        .collect();
    assert_eq!(
        l.iter().collect::<Vec<_>>(),
        [("instance", "x"), ("job", "c")]
    );
}

#[test]
fn an_empty_set_and_a_cleared_set_are_the_same() {
    let mut l = Labels::new().with("a", "1");
    l.retain(|_, _| false);
    assert_eq!(l, Labels::default());
    assert_eq!(std_hash(&l), std_hash(&Labels::new()));
    assert_eq!(format!("{l:?}"), "Labels([])");
}
