//! The head's series catalogue: interned label sets, the hash lookup from a label set to its
//! id, and the postings used by queries.

use model::{Labels, Matcher, Rejection};

use crate::postings::Postings;
use crate::symbols::{IdMap, Symbols, hash_bytes};

/// Every series the head knows, by dense id.
#[derive(Debug, Default)]
pub struct HeadIndex {
    pub symbols: Symbols,
    /// Every series' name and value symbol ids, alternating, in label-name order, one
    /// series after the other (one arena instead of a boxed slice per series: 30 bytes less
    /// per series).
    label_ids: Vec<u32>,
    /// Where each series' ids start in `label_ids` (they end where the next one starts).
    starts: Vec<u32>,
    /// Label-set hash -> id (the first series with that hash).
    by_hash: IdMap<u64, u32>,
    /// Further ids whose label-set hash collided with an earlier series.
    collided: IdMap<u64, Vec<u32>>,
    pub postings: Postings,
}

/// Hash of a label set; equal sets hash equal because [`Labels`] keeps pairs sorted.
pub fn labels_hash(labels: &Labels) -> u64 {
    let mut h = 0u64;
    for (n, v) in labels.iter() {
        h = hash_bytes(h, n.as_bytes());
        h = hash_bytes(h ^ 0xff, v.as_bytes());
    }
    h
}

/// Checks the naming rules: a non-empty `__name__` made of `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
/// names of `[a-zA-Z_][a-zA-Z0-9_]*`. Returns the set without empty-valued labels, since an
/// empty value means "absent" (so `{a=""}` and `{}` are one series).
pub fn normalize(labels: &Labels) -> Result<std::borrow::Cow<'_, Labels>, Rejection> {
    let name = labels.metric_name().unwrap_or("");
    let name_ok = |s: &str, colon: bool| {
        let mut bytes = s.bytes();
        let first = |b: u8| b.is_ascii_alphabetic() || b == b'_' || (colon && b == b':');
        bytes.next().is_some_and(first)
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || (colon && b == b':'))
    };
    if !name_ok(name, true) || !labels.iter().all(|(n, _)| name_ok(n, false)) {
        return Err(Rejection::InvalidLabels);
    }
    if labels.iter().any(|(_, v)| v.is_empty()) {
        Ok(std::borrow::Cow::Owned(
            labels.iter().filter(|(_, v)| !v.is_empty()).collect(),
        ))
    } else {
        Ok(std::borrow::Cow::Borrowed(labels))
    }
}

impl HeadIndex {
    /// Number of series.
    pub fn len(&self) -> u32 {
        self.starts.len() as u32
    }

    fn ids(&self, id: u32) -> &[u32] {
        let i = id as usize;
        let Some(&start) = self.starts.get(i) else {
            return &[];
        };
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.label_ids.len(), |&e| e as usize);
        &self.label_ids[start as usize..end]
    }

    /// The id of a (normalized) label set, if known.
    pub fn find(&self, labels: &Labels, hash: u64) -> Option<u32> {
        let first = *self.by_hash.get(&hash)?;
        if self.equals(first, labels) {
            return Some(first);
        }
        self.collided
            .get(&hash)?
            .iter()
            .copied()
            .find(|&id| self.equals(id, labels))
    }

    fn equals(&self, id: u32, labels: &Labels) -> bool {
        let pairs = self.ids(id);
        pairs.len() == labels.len() * 2
            && pairs
                .chunks_exact(2)
                .zip(labels.iter())
                .all(|(p, (n, v))| self.symbols.get(p[0]) == n && self.symbols.get(p[1]) == v)
    }

    /// Adds a (normalized) label set the caller checked is absent; returns its id.
    pub fn create(&mut self, labels: &Labels, hash: u64) -> u32 {
        let id = self.starts.len() as u32;
        self.starts.push(self.label_ids.len() as u32);
        for (n, v) in labels.iter() {
            let (n, v) = (self.symbols.intern(n), self.symbols.intern(v));
            self.label_ids.push(n);
            self.label_ids.push(v);
            self.postings.add(n, v, id);
        }
        if let Some(&other) = self.by_hash.get(&hash) {
            debug_assert_ne!(other, id);
            self.collided.entry(hash).or_default().push(id);
        } else {
            self.by_hash.insert(hash, id);
        }
        id
    }

    /// The label pairs of series `id`, in name order.
    pub fn pairs(&self, id: u32) -> impl Iterator<Item = (&str, &str)> {
        self.ids(id)
            .chunks_exact(2)
            .map(|p| (self.symbols.get(p[0]), self.symbols.get(p[1])))
    }

    /// The label set of series `id`.
    pub fn labels(&self, id: u32) -> Labels {
        self.pairs(id).collect()
    }

    /// Ascending ids of the series matching every matcher.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<u32> {
        self.postings.select(&self.symbols, matchers, self.len())
    }

    /// Approximate heap bytes (for stats).
    pub fn heap_bytes(&self) -> usize {
        self.symbols.heap_bytes()
            + self.postings.heap_bytes()
            + self.starts.capacity() * 4
            + self.label_ids.capacity() * 4
            + self.by_hash.capacity() * 13
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked_and_empty_values_dropped() {
        let ok = Labels::new().with("__name__", "up").with("job", "a");
        assert!(normalize(&ok).is_ok());
        let colon = Labels::new().with("__name__", "job:up:rate5m");
        assert!(normalize(&colon).is_ok());
        for bad in [
            Labels::new().with("job", "a"),
            Labels::new().with("__name__", ""),
            Labels::new().with("__name__", "1up"),
            Labels::new().with("__name__", "up").with("bad-name", "x"),
            Labels::new().with("__name__", "up").with("a:b", "x"),
        ] {
            assert_eq!(
                normalize(&bad).unwrap_err(),
                Rejection::InvalidLabels,
                "{bad:?}"
            );
        }
        let empty = Labels::new().with("__name__", "up").with("zone", "");
        assert_eq!(
            normalize(&empty).unwrap().into_owned(),
            Labels::new().with("__name__", "up")
        );
    }

    #[test]
    fn find_and_create_agree_even_on_hash_collisions() {
        let mut idx = HeadIndex::default();
        let a = Labels::new().with("__name__", "a");
        let b = Labels::new().with("__name__", "b");
        // Force a collision by passing the same hash for different sets.
        let ia = idx.create(&a, 7);
        assert_eq!(idx.find(&b, 7), None);
        let ib = idx.create(&b, 7);
        assert_eq!(idx.find(&a, 7), Some(ia));
        assert_eq!(idx.find(&b, 7), Some(ib));
        assert_eq!(idx.labels(ib), b);
    }
}
