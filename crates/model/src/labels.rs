//! [`Labels`]: the label set that names a series or an alert.
//!
//! Kept in one heap block per set ([`crate::pairs`]), because label sets are cloned, compared
//! and hashed in every stage of ingest, rule evaluation and alert routing. Everything a caller
//! can observe is what a sorted vector of `(String, String)` pairs offered: the same order, the
//! same hash input, the same serialized form.

mod serde_impl;

use std::fmt;

use crate::pairs::Pairs;

/// Label pairs kept sorted by name, so equal label sets compare and hash equal.
///
/// Ordering is lexicographic over the `(name, value)` pairs, and hashing feeds the hasher the
/// number of pairs and then each name and value as a `str`: exactly what a derived
/// `Vec<(String, String)>` did, so sorted collections and hash keys behave as before. Serialized
/// as a sequence of `[name, value]` pairs.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Pairs);

impl Labels {
    /// An empty label set (no allocation).
    #[inline]
    pub fn new() -> Self {
        Labels(Pairs::new())
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        self.0.set(&name, &value);
    }

    /// Builder form of [`Labels::set`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    /// The value of `name`, if set.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// Removes `name`, returning its value if it was set.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Keeps only the pairs for which `keep(name, value)` is true.
    pub fn retain(&mut self, keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(keep);
    }

    /// The pairs, sorted by name.
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        self.0.iter()
    }

    /// The metric name (the [`crate::METRIC_NAME_LABEL`] label), if set.
    #[inline]
    pub fn metric_name(&self) -> Option<&str> {
        self.get(crate::METRIC_NAME_LABEL)
    }

    /// Number of pairs.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no label is set.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Labels {
    /// Builds the set once: of pairs with the same name the last one wins, as with repeated
    /// [`Labels::set`]. Borrowed pairs are copied once, into the set's one block: reading
    /// series out of the store builds a label set per series, and a `String` per name and
    /// value was most of that cost.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Labels(Pairs::from_unsorted(iter.into_iter().collect()))
    }
}

impl fmt::Debug for Labels {
    /// `Labels([("a", "1"), ("b", "2")])`, as the derive printed the vector of pairs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct PairList<'a>(&'a Labels);
        impl fmt::Debug for PairList<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.iter()).finish()
            }
        }
        f.debug_tuple("Labels").field(&PairList(self)).finish()
    }
}

#[cfg(test)]
mod tests;
