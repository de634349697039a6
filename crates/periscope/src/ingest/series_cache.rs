//! Series references remembered by their label text, so a payload's series are resolved without
//! building a `Labels` or taking the store's index lock once they have been seen.
//!
//! Why: senders repeat the same label sets on every scrape, and building owned labels plus the
//! store's own lookup cost more than parsing a sample. A store's references stay valid for as
//! long as it is open, and the cache lives exactly as long as the sink of that store.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use model::SeriesRef;

/// Entries kept before the cache starts over (about 100 MB of keys at typical label sizes); a
/// miss only costs the slow path, so forgetting is always safe.
const MAX_ENTRIES: usize = 2_000_000;

/// Label text -> series reference, for one store.
#[derive(Default)]
pub struct SeriesCache {
    map: Mutex<HashMap<Box<[u8]>, SeriesRef>>,
}

/// The cache, held for the series of one payload.
pub struct Held<'a> {
    map: MutexGuard<'a, HashMap<Box<[u8]>, SeriesRef>>,
}

impl SeriesCache {
    /// Locks the cache for one payload (one lock per payload, not per series).
    pub fn hold(&self) -> Held<'_> {
        Held {
            map: self.map.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

impl Held<'_> {
    /// The reference remembered for `key`.
    pub fn get(&self, key: &[u8]) -> Option<SeriesRef> {
        self.map.get(key).copied()
    }

    /// Remembers `series` for `key`.
    pub fn insert(&mut self, key: &[u8], series: SeriesRef) {
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(key.into(), series);
    }
}

/// Writes the cache key of a label set (sorted pairs, `__name__` included) into `key`: names
/// and values separated by bytes that never occur in UTF-8 text, so two different label sets
/// never share a key.
pub fn key_into<'a>(key: &mut Vec<u8>, labels: impl Iterator<Item = (&'a str, &'a str)>) {
    key.clear();
    for (name, value) in labels {
        key.extend_from_slice(name.as_bytes());
        key.push(0xFF);
        key.extend_from_slice(value.as_bytes());
        key.push(0xFE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_label_sets_apart() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        key_into(&mut a, [("a", "b=c")].into_iter());
        key_into(&mut b, [("a", "b"), ("c", "")].into_iter());
        assert_ne!(a, b);
        let cache = SeriesCache::default();
        let mut held = cache.hold();
        held.insert(&a, SeriesRef(7));
        assert_eq!(held.get(&a), Some(SeriesRef(7)));
        assert_eq!(held.get(&b), None);
    }
}
