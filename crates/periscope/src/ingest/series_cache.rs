//! Series references remembered by how payloads spelled their labels, so a payload's series are
//! resolved without building a `Labels` or taking the store's index lock once they have been
//! seen.
//!
//! Why: senders repeat the same label sets on every scrape, and decoding, checking and building
//! owned labels plus the store's own lookup cost more than parsing a sample. Two spellings are
//! kept apart: a remote-write series by the raw protobuf bytes of its label fields (consulted
//! while parsing, so a known series is not even decoded), and any other series by its label
//! text after parsing. A store's references stay valid for as long as it is open, and the cache
//! lives exactly as long as the sink of that store. Parsing threads read it together, each for
//! a whole payload; new series go to a small side map first (see [`SeriesCache::remember`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard, TryLockError};

use model::SeriesRef;
use sensors::exposition::KnownSpellings;

/// Entries kept before the cache starts over (about 200 MB of keys at typical label sizes); a
/// miss only costs the slow path, so forgetting is always safe.
const MAX_ENTRIES: usize = 2_000_000;

/// Spelling -> reference. The hash is seeded per process: label bytes come from outside, and a
/// chosen-collision flood must not turn lookups linear.
type RefMap = HashMap<Box<[u8]>, SeriesRef, foldhash::fast::RandomState>;

#[derive(Default)]
struct Maps {
    /// Remote-write: the raw bytes of a series' label fields.
    by_wire: RefMap,
    /// Every other format: the label text, as [`key_into`] writes it.
    by_text: RefMap,
}

impl Maps {
    fn get(&self, spelled: Spelled, key: &[u8]) -> Option<SeriesRef> {
        match spelled {
            Spelled::Wire => self.by_wire.get(key).copied(),
            Spelled::Text => self.by_text.get(key).copied(),
        }
    }

    fn insert(&mut self, spelled: Spelled, key: Box<[u8]>, series: SeriesRef) {
        match spelled {
            Spelled::Wire => self.by_wire.insert(key, series),
            Spelled::Text => self.by_text.insert(key, series),
        };
    }

    fn len(&self) -> usize {
        self.by_wire.len() + self.by_text.len()
    }
}

/// How a series was spelled, as a key of one of the cache's two maps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Spelled {
    /// The raw bytes of its remote-write label fields.
    Wire,
    /// Its label text ([`key_into`]).
    Text,
}

/// Label spellings -> series reference, for one store.
#[derive(Default)]
pub struct SeriesCache {
    maps: RwLock<Maps>,
    /// Series resolved while payloads were reading `maps`, consulted on a miss there.
    recent: Mutex<Maps>,
}

/// A series to remember: how it was spelled, the spelling, its reference.
pub type Entry = (Spelled, Box<[u8]>, SeriesRef);

/// The cache read by one payload (shared with other payloads' readers).
pub struct Reading<'a> {
    maps: RwLockReadGuard<'a, Maps>,
    recent: &'a Mutex<Maps>,
}

impl SeriesCache {
    /// Reads the cache (one lock per payload, not per series).
    pub fn read(&self) -> Reading<'_> {
        Reading {
            maps: self.maps.read().unwrap_or_else(PoisonError::into_inner),
            recent: &self.recent,
        }
    }

    /// Remembers newly resolved series.
    ///
    /// Why not simply write them into the main map: readers hold it for a whole payload, and
    /// a waiting writer makes every new reader queue behind it, so while many series are new
    /// (a sender's first scrape) payloads would be parsed one at a time. The series go to a
    /// side map under its own short lock instead, which readers consult on a miss; it is
    /// moved into the main map whenever that is free ([`SeriesCache::settle`]).
    pub fn remember(&self, fresh: impl IntoIterator<Item = Entry>) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        for (spelled, key, series) in fresh {
            // Bounded like the main map, should payloads keep it busy for a long time.
            if recent.len() >= MAX_ENTRIES {
                *recent = Maps::default();
            }
            recent.insert(spelled, key, series);
        }
        drop(recent);
        self.settle();
    }

    /// Moves the side map into the main one if no payload is reading it; cheap when there is
    /// nothing to move, so every payload calls it.
    pub fn settle(&self) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == 0 {
            return;
        }
        let mut maps = match self.maps.try_write() {
            Ok(maps) => maps,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if maps.len() + recent.len() > MAX_ENTRIES {
            *maps = Maps::default();
        }
        let recent = std::mem::take(&mut *recent);
        for (spelled, map) in [
            (Spelled::Wire, recent.by_wire),
            (Spelled::Text, recent.by_text),
        ] {
            for (key, series) in map {
                maps.insert(spelled, key, series);
            }
        }
    }
}

impl Reading<'_> {
    /// The reference remembered for a series spelled `key`.
    pub fn get(&self, spelled: Spelled, key: &[u8]) -> Option<SeriesRef> {
        self.maps.get(spelled, key).or_else(|| {
            let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            recent.get(spelled, key)
        })
    }
}

impl KnownSpellings for Reading<'_> {
    fn handle(&self, spelling: &[u8]) -> Option<u64> {
        self.get(Spelled::Wire, spelling).map(|r| r.0)
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
        cache.remember([(Spelled::Text, a.clone().into(), SeriesRef(7))]);
        let read = cache.read();
        assert_eq!(read.get(Spelled::Text, &a), Some(SeriesRef(7)));
        assert_eq!(read.get(Spelled::Text, &b), None);
    }

    #[test]
    fn series_resolved_while_payloads_read_are_known_at_once_and_settle_later() {
        let cache = SeriesCache::default();
        let reading = cache.read();
        cache.remember([(Spelled::Wire, b"a"[..].into(), SeriesRef(1))]);
        assert_eq!(reading.handle(b"a"), Some(1), "known from the side map");
        assert_eq!(
            cache.recent.lock().unwrap().len(),
            1,
            "not moved under a reader"
        );
        drop(reading);
        cache.settle();
        assert_eq!(cache.recent.lock().unwrap().len(), 0);
        assert_eq!(cache.read().handle(b"a"), Some(1));
    }

    #[test]
    fn the_two_spellings_never_answer_for_each_other() {
        let cache = SeriesCache::default();
        cache.remember([
            (Spelled::Wire, b"same bytes"[..].into(), SeriesRef(1)),
            (Spelled::Text, b"other"[..].into(), SeriesRef(2)),
        ]);
        let read = cache.read();
        assert_eq!(read.handle(b"same bytes"), Some(1));
        assert_eq!(read.get(Spelled::Text, b"same bytes"), None);
        assert_eq!(read.handle(b"other"), None);
    }
}
