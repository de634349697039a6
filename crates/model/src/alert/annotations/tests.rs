//! Annotations behave like the `BTreeMap<String, String>` they replace: the same answers, the
//! same order, hash, debug text and serialized form, and saved records read back.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use proptest::prelude::*;

use super::*;

fn std_hash(value: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[derive(Clone, Debug)]
enum Op {
    Insert(String, String),
    Remove(String),
    Extend(Vec<(String, String)>),
    Retain(usize),
}

fn name() -> impl Strategy<Value = String> {
    "[a-d]{0,2}"
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![4 => ".{0,12}", 1 => "[yö]{50,80}"]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (name(), value()).prop_map(|(n, v)| Op::Insert(n, v)),
        2 => name().prop_map(Op::Remove),
        1 => prop::collection::vec((name(), value()), 0..5).prop_map(Op::Extend),
        1 => (1usize..4).prop_map(Op::Retain),
    ]
}

proptest! {
    #[test]
    fn every_operation_matches_the_map(ops in prop::collection::vec(op(), 0..30)) {
        let mut ours = Annotations::new();
        let mut map = BTreeMap::<String, String>::new();
        for op in ops {
            match op {
                Op::Insert(n, v) => {
                    prop_assert_eq!(ours.insert(n.clone(), v.clone()), map.insert(n, v));
                }
                Op::Remove(n) => prop_assert_eq!(ours.remove(&n), map.remove(&n)),
                Op::Extend(items) => {
                    ours.extend(items.clone());
                    map.extend(items);
                }
                Op::Retain(k) => {
                    ours.retain(|n, v| !(n.len() + v.len()).is_multiple_of(k));
                    map.retain(|n, v| !(n.len() + v.len()).is_multiple_of(k));
                }
            }
            let entries: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), entries.clone());
            prop_assert_eq!((&ours).into_iter().collect::<Vec<_>>(), entries);
            prop_assert_eq!(ours.keys().collect::<Vec<_>>(), map.keys().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(ours.values().collect::<Vec<_>>(), map.values().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(ours.len(), map.len());
            prop_assert_eq!(ours.is_empty(), map.is_empty());
            for probe in ["", "a", "b", "cd", "x"] {
                prop_assert_eq!(ours.get(probe), map.get(probe).map(String::as_str));
                prop_assert_eq!(ours.contains_key(probe), map.contains_key(probe));
            }
            prop_assert_eq!(&Annotations::from(map.clone()), &ours);
            prop_assert_eq!(BTreeMap::from(&ours), map.clone());
            prop_assert_eq!(ours.clone().into_iter().collect::<BTreeMap<_, _>>(), map.clone());
            prop_assert_eq!(std_hash(&ours), std_hash(&map));
            prop_assert_eq!(format!("{ours:?}"), format!("{map:?}"));
            let json = serde_json::to_string(&ours).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&map).unwrap());
            prop_assert_eq!(serde_json::from_str::<Annotations>(&json).unwrap(), ours.clone());
        }
    }

    #[test]
    fn order_is_the_maps(a in prop::collection::btree_map(name(), value(), 0..4),
                         b in prop::collection::btree_map(name(), value(), 0..4)) {
        let (oa, ob) = (Annotations::from(a.clone()), Annotations::from(b.clone()));
        prop_assert_eq!(oa.cmp(&ob), a.cmp(&b));
        prop_assert_eq!(oa == ob, a == b);
    }
}

#[test]
fn annotations_saved_as_a_map_read_back() {
    // The state database's `annotations` column, as the map wrote it.
    let saved = r#"{"description":"db1 has 2% left","runbook_url":"https://x/disk","summary":"Disk \"/\" full"}"#;
    let ours: Annotations = serde_json::from_str(saved).unwrap();
    assert_eq!(ours.get("summary"), Some("Disk \"/\" full"));
    assert_eq!(ours.len(), 3);
    assert_eq!(serde_json::to_string(&ours).unwrap(), saved);
    // In any order, and a name given twice keeps its last value, as the map did.
    let twice: Annotations = serde_json::from_str(r#"{"b":"1","a":"2","b":"3"}"#).unwrap();
    assert_eq!(twice.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
    let err = serde_json::from_str::<Annotations>(r#"{"a": 1}"#).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn indexing_reads_a_present_value() {
    let a = Annotations::from([("summary".to_string(), "full".to_string())]);
    assert_eq!(&a["summary"], "full");
    let missing = std::panic::catch_unwind(|| a["nope"].len());
    assert!(missing.is_err());
}
