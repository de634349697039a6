//! Label string interning, and the cheap hashers the in-memory maps use.
//!
//! Every label name and value is stored once per store and referred to by a `u32`, so a series
//! costs a few words per label instead of two heap strings; this is what keeps memory per
//! active series small. Maps keyed by an already-computed 64-bit hash use [`IdHasher`] so the
//! key is not hashed a second time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for keys that are already well-distributed integers (a hash or a dense id):
/// a multiply spreads dense ids over the high bits the map uses.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// `HashMap` with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// FNV-1a over bytes, finished with a multiply-xorshift so short strings spread well.
/// Deterministic across runs (unlike `RandomState`), which nothing persists but tests like.
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

/// Interned strings, each with a dense `u32` id.
#[derive(Debug, Default)]
pub struct Symbols {
    strings: Vec<Box<str>>,
    /// String hash -> id of the first string with that hash.
    by_hash: IdMap<u64, u32>,
    /// The rare strings whose hash collided with an earlier, different string.
    collided: HashMap<Box<str>, u32>,
    bytes: usize,
}

impl Symbols {
    /// The id of `s`, if interned.
    pub fn lookup(&self, s: &str) -> Option<u32> {
        let h = hash_bytes(0, s.as_bytes());
        match self.by_hash.get(&h) {
            Some(&id) if &*self.strings[id as usize] == s => Some(id),
            Some(_) => self.collided.get(s).copied(),
            None => None,
        }
    }

    /// The id of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        let h = hash_bytes(0, s.as_bytes());
        let next = self.strings.len() as u32;
        match self.by_hash.get(&h) {
            Some(&id) if &*self.strings[id as usize] == s => return id,
            Some(_) => {
                if let Some(&id) = self.collided.get(s) {
                    return id;
                }
                self.collided.insert(s.into(), next);
            }
            None => {
                self.by_hash.insert(h, next);
            }
        }
        self.strings.push(s.into());
        self.bytes += s.len();
        next
    }

    /// The string behind an id handed out by this table.
    pub fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    /// Approximate heap bytes (for stats).
    pub fn heap_bytes(&self) -> usize {
        self.bytes + self.strings.capacity() * 16 + self.by_hash.capacity() * 13
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_lookups_agree() {
        let mut s = Symbols::default();
        let a = s.intern("job");
        let b = s.intern("instance");
        assert_eq!(s.intern("job"), a);
        assert_ne!(a, b);
        assert_eq!(s.lookup("instance"), Some(b));
        assert_eq!(s.lookup("nope"), None);
        assert_eq!(s.get(a), "job");
        for i in 0..10_000 {
            let id = s.intern(&format!("v{i}"));
            assert_eq!(s.get(id), format!("v{i}"));
        }
        assert_eq!(s.lookup("v9999").map(|id| s.get(id)), Some("v9999"));
    }
}
