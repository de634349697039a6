//! [`Annotations`]: an alert's annotations by name, in one heap block ([`crate::pairs`]).
//!
//! A map from name to value, with the map methods the callers use; names and values come out
//! as `&str`. It compares, hashes, prints and serializes like the `BTreeMap<String, String>` it
//! replaces (a JSON object in name order), so saved records read back unchanged. It is not a
//! `BTreeMap` because an alert carries two or three annotations, and a map node for them cost
//! about 540 bytes plus a block per string; alerts are cloned through every stage of routing.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Index;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::pairs::Pairs;
use crate::pairs::de::{Repeats, Staging};

/// Annotations of an alert (summary, description, runbook...), by name, in name order.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Annotations(Pairs);

impl Annotations {
    /// No annotations (no allocation).
    #[inline]
    pub fn new() -> Self {
        Annotations(Pairs::new())
    }

    /// The value of `name`, if present.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// True when `name` is present.
    #[inline]
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.get(name).is_some()
    }

    /// Sets `name` to `value`; returns the value it replaces, if any.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        let old = self.0.get(&name).map(str::to_owned);
        self.0.set(&name, &value);
        old
    }

    /// Removes `name`, returning its value if it was present.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Keeps only the entries for which `keep(name, value)` is true.
    pub fn retain(&mut self, keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(keep);
    }

    /// The entries in name order.
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        self.0.iter()
    }

    /// The names in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.0.iter().map(|(name, _)| name)
    }

    /// The values, in the order of their names.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.0.iter().map(|(_, value)| value)
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no entry.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// Entries go in as `(String, String)` only, as into the map this replaces: one item type keeps
// `(a.into(), b.into())` at the call sites unambiguous.
impl Extend<(String, String)> for Annotations {
    /// Adds every entry, rebuilding once; later entries replace earlier ones of the same name.
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        self.0.extend(iter.into_iter().collect());
    }
}

impl FromIterator<(String, String)> for Annotations {
    /// Of entries with the same name the last one wins, as with repeated inserts.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Annotations(Pairs::from_unsorted(iter.into_iter().collect()))
    }
}

impl From<BTreeMap<String, String>> for Annotations {
    fn from(map: BTreeMap<String, String>) -> Self {
        // Already sorted and unique.
        Annotations(Pairs::from_sorted_unique(
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }
}

impl From<&Annotations> for BTreeMap<String, String> {
    /// Owned copies, for views that hand the annotations on as a map.
    fn from(annotations: &Annotations) -> Self {
        annotations
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl<const N: usize> From<[(String, String); N]> for Annotations {
    fn from(entries: [(String, String); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl Index<&str> for Annotations {
    type Output = str;

    /// The value of `name`; panics when it is absent, as indexing a map does.
    fn index(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no annotation named {name:?}"))
    }
}

impl IntoIterator for Annotations {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    /// Owned entries in name order, as a map gives them.
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl<'a> IntoIterator for &'a Annotations {
    type Item = (&'a str, &'a str);
    type IntoIter = crate::pairs::PairsIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for Annotations {
    /// `{"summary": "disk full"}`, as a map prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Annotations {
    /// A map (a JSON object), names in order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Annotations {
    /// A map of strings; a name given twice keeps its last value, as a `BTreeMap` did.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AnnotationsVisitor)
    }
}

struct AnnotationsVisitor;

impl<'de> Visitor<'de> for AnnotationsVisitor {
    type Value = Annotations;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("annotations: a map of names to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
        let mut staging = Staging::with_capacity(map.size_hint());
        loop {
            let name_start = staging.mark();
            if map.next_key_seed(staging.string())?.is_none() {
                break;
            }
            let value_start = staging.mark();
            map.next_value_seed(staging.string())?;
            staging.push(name_start, value_start);
        }
        Ok(Annotations(staging.finish(Repeats::LastWins)?))
    }
}

#[cfg(test)]
mod tests;
