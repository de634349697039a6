//! Packed storage for a set of name/value string pairs kept sorted by name, names unique: the
//! common core of [`crate::Labels`] and [`crate::alert::Annotations`].
//!
//! Why packed: label sets and annotations are built once and then cloned, compared, hashed and
//! freed through every stage of rule evaluation and alert routing. A vector of owned `String`
//! pairs costs two heap blocks per pair plus the vector's own (with unused capacity), and a
//! `BTreeMap` a whole node even for two entries. Here a whole set is one `Box<str>`:
//!
//! ```text
//! count | len(name) name len(value) value | len(name) name len(value) value | ...
//! ```
//!
//! Counts and lengths are written in a variable-length form made of ASCII bytes only (6 bits
//! per byte, least significant first, bit 6 set while more bytes follow), so the block is
//! valid UTF-8 and names and values are borrowed from it as `&str` slices without checking
//! them again. The encoding is canonical (shortest lengths, pairs in name order), so two sets
//! are equal exactly when their blocks are. An empty set is an empty box: no allocation.
//!
//! The trade-offs: finding a name walks the pairs from the start (sets are small, usually
//! under 20 pairs, and each step is a length comparison), and every change rebuilds the block
//! with one allocation, about what inserting one owned string into the vector cost before.

pub(crate) mod de;

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// Set in a length byte when more bytes of the same length follow.
const MORE: u8 = 0x40;
/// The payload bits of a length byte.
const BITS: u8 = 0x3F;
/// Payload bits per length byte.
const SHIFT: u32 = 6;

/// A sorted set of unique name/value pairs in one heap block; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pairs(Box<str>);

/// Where a name's pair is in the block, or would go (byte offsets).
struct Place {
    /// Number of pairs in the set.
    count: usize,
    /// Where the first pair starts (after the count).
    body_start: usize,
    /// True when the name is present.
    found: bool,
    /// First byte of the pair (its name's length), or where it would be inserted.
    start: usize,
    /// One past the last byte of its value (`start` when absent).
    end: usize,
}

impl Hash for Pairs {
    /// The number of pairs, then every name and value as a `str`: what both a derived
    /// `Vec<(String, String)>` and a `BTreeMap<String, String>` feed a hasher, so label sets
    /// and annotations hash as they did before this layout.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (name, value) in self.iter() {
            name.hash(state);
            value.hash(state);
        }
    }
}

impl PartialOrd for Pairs {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pairs {
    /// Lexicographic over the `(name, value)` pairs, as a vector of `(String, String)` (and a
    /// `BTreeMap`) orders; not the order of the encoded bytes.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        if self.0 == other.0 {
            return Ordering::Equal;
        }
        self.iter().cmp(other.iter())
    }
}

impl Pairs {
    /// The empty set.
    #[inline]
    pub(crate) fn new() -> Self {
        Pairs(Box::default())
    }

    /// Number of pairs.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.header().0
    }

    /// True when there is no pair.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in name order.
    #[inline]
    pub(crate) fn iter(&self) -> PairsIter<'_> {
        let (left, pos) = self.header();
        PairsIter {
            text: &self.0,
            pos,
            left,
        }
    }

    /// The value of `name`, if present.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        // Bytes and equality only: a skipped pair costs two length reads and (rarely, when the
        // lengths agree) one comparison; the sets are too small for stopping early to pay.
        let (count, mut pos) = self.header();
        let bytes = self.0.as_bytes();
        for _ in 0..count {
            let name_len = read_len(bytes, &mut pos);
            let matches = name_len == name.len() && &bytes[pos..pos + name_len] == name.as_bytes();
            pos += name_len;
            let value_len = read_len(bytes, &mut pos);
            if matches {
                return Some(&self.0[pos..pos + value_len]);
            }
            pos += value_len;
        }
        None
    }

    /// Sets `name` to `value`; returns true when `name` was present (its value is replaced).
    pub(crate) fn set(&mut self, name: &str, value: &str) -> bool {
        let place = self.locate(name);
        if place.found && self.pair_at(place.start).1 == value {
            // Nothing changes: keep the block.
            return true;
        }
        let count = place.count + usize::from(!place.found);
        let size = len_size(count)
            + (place.start - place.body_start)
            + pair_size(name, value)
            + (self.0.len() - place.end);
        let mut out = String::with_capacity(size);
        write_len(&mut out, count);
        out.push_str(&self.0[place.body_start..place.start]);
        write_pair(&mut out, name, value);
        out.push_str(&self.0[place.end..]);
        self.replace_with(out, size);
        place.found
    }

    /// Removes `name`, returning its value if it was present.
    pub(crate) fn remove(&mut self, name: &str) -> Option<String> {
        let place = self.locate(name);
        if !place.found {
            return None;
        }
        let value = self.pair_at(place.start).1.to_owned();
        let count = place.count - 1;
        if count == 0 {
            *self = Pairs::new();
            return Some(value);
        }
        let size = len_size(count) + (place.start - place.body_start) + (self.0.len() - place.end);
        let mut out = String::with_capacity(size);
        write_len(&mut out, count);
        out.push_str(&self.0[place.body_start..place.start]);
        out.push_str(&self.0[place.end..]);
        self.replace_with(out, size);
        Some(value)
    }

    /// Keeps only the pairs for which `keep(name, value)` is true; `keep` sees every pair once,
    /// in name order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        // The kept pairs' bytes, built only once the first pair is dropped.
        let mut kept: Option<String> = None;
        let mut kept_count = 0;
        let (count, body_start) = self.header();
        let mut pos = body_start;
        for _ in 0..count {
            let start = pos;
            let (name, value) = read_pair(&self.0, &mut pos);
            if keep(name, value) {
                kept_count += 1;
                if let Some(kept) = &mut kept {
                    kept.push_str(&self.0[start..pos]);
                }
            } else if kept.is_none() {
                kept = Some(self.0[body_start..start].to_owned());
            }
        }
        let Some(kept) = kept else {
            return;
        };
        if kept_count == 0 {
            *self = Pairs::new();
            return;
        }
        let size = len_size(kept_count) + kept.len();
        let mut out = String::with_capacity(size);
        write_len(&mut out, kept_count);
        out.push_str(&kept);
        self.replace_with(out, size);
    }

    /// A set of `items` in any order; of pairs with the same name the last one wins (as if
    /// each had been set in turn).
    pub(crate) fn from_unsorted<N: AsRef<str>, V: AsRef<str>>(mut items: Vec<(N, V)>) -> Self {
        // Stable, so pairs of one name stay in their order and the last can be kept.
        items.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let last_of_name = |i: usize| {
            items
                .get(i + 1)
                .is_none_or(|next| next.0.as_ref() != items[i].0.as_ref())
        };
        let unique = (0..items.len())
            .filter(|&i| last_of_name(i))
            .map(|i| (items[i].0.as_ref(), items[i].1.as_ref()));
        Pairs::from_sorted_unique(unique)
    }

    /// A set of `pairs` the caller has sorted by name, without repeated names.
    pub(crate) fn from_sorted_unique<'a, I>(pairs: I) -> Self
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        let (count, bytes) = pairs
            .clone()
            .fold((0, 0), |(c, b), (n, v)| (c + 1, b + pair_size(n, v)));
        if count == 0 {
            return Pairs::new();
        }
        let size = len_size(count) + bytes;
        let mut out = String::with_capacity(size);
        write_len(&mut out, count);
        for (name, value) in pairs {
            write_pair(&mut out, name, value);
        }
        let mut built = Pairs::new();
        built.replace_with(out, size);
        built
    }

    /// Adds `items` to the set; they replace present pairs of the same name, and of `items`
    /// with the same name the last one wins.
    pub(crate) fn extend<N: AsRef<str>, V: AsRef<str>>(&mut self, items: Vec<(N, V)>) {
        if items.is_empty() {
            return;
        }
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(self.len() + items.len());
        all.extend(self.iter());
        all.extend(items.iter().map(|(n, v)| (n.as_ref(), v.as_ref())));
        *self = Pairs::from_unsorted(all);
    }

    /// Heap bytes held (the block; nothing else is allocated).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.len()
    }

    /// The number of pairs and the byte offset where the first starts (after the count).
    #[inline]
    fn header(&self) -> (usize, usize) {
        if self.0.is_empty() {
            return (0, 0);
        }
        let mut pos = 0;
        let count = read_len(self.0.as_bytes(), &mut pos);
        (count, pos)
    }

    /// Where `name`'s pair is, or where it would be inserted to keep name order.
    fn locate(&self, name: &str) -> Place {
        let (count, body_start) = self.header();
        let mut pos = body_start;
        for _ in 0..count {
            let start = pos;
            let (n, _) = read_pair(&self.0, &mut pos);
            match n.cmp(name) {
                Ordering::Less => {}
                Ordering::Equal | Ordering::Greater => {
                    let found = n == name;
                    return Place {
                        count,
                        body_start,
                        found,
                        start,
                        end: if found { pos } else { start },
                    };
                }
            }
        }
        Place {
            count,
            body_start,
            found: false,
            start: self.0.len(),
            end: self.0.len(),
        }
    }

    /// The pair starting at byte `start`.
    fn pair_at(&self, start: usize) -> (&str, &str) {
        read_pair(&self.0, &mut { start })
    }

    /// Takes `out` (built with exactly `size` bytes of capacity) as the new block.
    fn replace_with(&mut self, out: String, size: usize) {
        debug_assert_eq!(out.len(), size, "size computed for the block");
        // Exact capacity, so turning it into a box does not reallocate.
        self.0 = out.into_boxed_str();
    }
}

/// The pairs of a label set or of annotations, in name order.
#[derive(Clone, Debug)]
pub struct PairsIter<'a> {
    text: &'a str,
    pos: usize,
    left: usize,
}

impl<'a> Iterator for PairsIter<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(read_pair(self.text, &mut self.pos))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for PairsIter<'_> {}

impl std::iter::FusedIterator for PairsIter<'_> {}

/// Bytes one pair takes in the block.
fn pair_size(name: &str, value: &str) -> usize {
    len_size(name.len()) + name.len() + len_size(value.len()) + value.len()
}

fn write_pair(out: &mut String, name: &str, value: &str) {
    write_len(out, name.len());
    out.push_str(name);
    write_len(out, value.len());
    out.push_str(value);
}

/// Reads the pair at `*pos` and moves `*pos` past it.
#[inline]
fn read_pair<'a>(text: &'a str, pos: &mut usize) -> (&'a str, &'a str) {
    let name = read_str(text, pos);
    let value = read_str(text, pos);
    (name, value)
}

#[inline]
fn read_str<'a>(text: &'a str, pos: &mut usize) -> &'a str {
    let len = read_len(text.as_bytes(), pos);
    let s = &text[*pos..*pos + len];
    *pos += len;
    s
}

/// Bytes [`write_len`] uses for `n`.
fn len_size(n: usize) -> usize {
    let mut size = 1;
    let mut rest = n >> SHIFT;
    while rest > 0 {
        size += 1;
        rest >>= SHIFT;
    }
    size
}

/// Writes `n` as ASCII bytes: 6 bits each, least significant first, [`MORE`] on all but the
/// last. The shortest form is always used, which keeps equal sets byte-equal.
fn write_len(out: &mut String, mut n: usize) {
    while n > usize::from(BITS) {
        out.push(char::from(MORE | (n as u8 & BITS)));
        n >>= SHIFT;
    }
    out.push(char::from(n as u8));
}

/// Reads a length [`write_len`] wrote at `*pos` and moves `*pos` past it.
#[inline]
fn read_len(bytes: &[u8], pos: &mut usize) -> usize {
    let first = bytes[*pos];
    *pos += 1;
    if first & MORE == 0 {
        return usize::from(first);
    }
    let mut n = usize::from(first & BITS);
    let mut shift = SHIFT;
    loop {
        let b = bytes[*pos];
        *pos += 1;
        n |= usize::from(b & BITS) << shift;
        if b & MORE == 0 {
            return n;
        }
        shift += SHIFT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_ascii() {
        for n in [
            0,
            1,
            63,
            64,
            65,
            4095,
            4096,
            262_143,
            262_144,
            usize::MAX >> 2,
        ] {
            let mut s = String::new();
            write_len(&mut s, n);
            assert!(s.is_ascii(), "{n}");
            assert_eq!(s.len(), len_size(n), "{n}");
            let mut pos = 0;
            assert_eq!(read_len(s.as_bytes(), &mut pos), n);
            assert_eq!(pos, s.len());
        }
    }

    #[test]
    fn long_and_multibyte_strings_survive() {
        let long = "é".repeat(5000);
        let p = Pairs::from_unsorted(vec![("z", "ü"), ("a", long.as_str()), ("", "")]);
        let pairs: Vec<_> = p.iter().collect();
        assert_eq!(pairs, vec![("", ""), ("a", long.as_str()), ("z", "ü")]);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn one_block_of_exactly_the_bytes_needed() {
        assert_eq!(Pairs::new().heap_bytes(), 0);
        let p = Pairs::from_unsorted(vec![("job", "api"), ("instance", "db1")]);
        // count, then 1 length byte before each of the four strings.
        assert_eq!(p.heap_bytes(), 1 + (1 + 3 + 1 + 3) + (1 + 8 + 1 + 3));
    }

    #[test]
    fn removing_the_last_pair_frees_the_block() {
        let mut p = Pairs::from_unsorted(vec![("a", "1")]);
        assert_eq!(p.remove("a").as_deref(), Some("1"));
        assert_eq!(p, Pairs::new());
        let mut p = Pairs::from_unsorted(vec![("a", "1"), ("b", "2")]);
        p.retain(|_, _| false);
        assert_eq!(p, Pairs::new());
    }
}
