//! The head cache: the text, fields and instant of the last parsed layout head, so that a
//! record of the same second (or the same minute, at another second) skips the full parse.

use super::matching::match_items;
use super::{Fields, Layout, Tail};

/// The text and fields of the last parsed layout head.
pub(super) struct HeadCache {
    pub(super) layout: usize,
    /// The layout's tail.
    pub(super) tail: Tail,
    pub(super) len: usize,
    pub(super) bytes: [u8; HEAD_CACHE_BYTES],
    pub(super) fields: Fields,
    /// The instant of `fields`, once a record with this head was parsed and its tail changed
    /// no field but the fraction: then every record with this head whose tail is simple (see
    /// [`match_tail`](super::matching::match_tail)) is this instant plus its fraction.
    pub(super) instant: Option<i64>,
    /// Where the `%S` digits are in `bytes`, when the instant moves one for one with the
    /// seconds: a year and a date are present (no "latest instant not in the future"
    /// completion) and no epoch. A text differing from `bytes` only there is the same minute.
    pub(super) second_at: Option<usize>,
}

impl HeadCache {
    /// The instant of `text`'s head when it is this head, or this head but for its seconds
    /// (the cache then moves to the new second). `None`: parse in full.
    #[inline]
    pub(super) fn instant_of(&mut self, text: &[u8]) -> Option<i64> {
        let ms = self.instant?;
        if head_eq(text, &self.bytes, self.len) {
            return Some(ms);
        }
        self.next_second(text)
    }

    /// The same minute at another second (a busy log moves to the next second every few dozen
    /// records). Matching the head again would give the same fields but `second`: the bytes
    /// before the `%S` digits are equal, the digits are two (`%S` reads exactly two, and an
    /// item before it cannot have looked at them without consuming them), the bytes after
    /// are equal, and the head ends in a fixed-width item. The instant moves with the second:
    /// no completion from `now` applies, and a named zone's offset is per minute.
    #[cold]
    #[inline(never)]
    fn next_second(&mut self, text: &[u8]) -> Option<i64> {
        let (at, ms) = (self.second_at?, self.instant?);
        let (&a, &b) = (text.get(at)?, text.get(at + 1)?);
        if !a.is_ascii_digit() || !b.is_ascii_digit() {
            return None;
        }
        let mut probe = self.bytes;
        probe[at] = a;
        probe[at + 1] = b;
        if !head_eq(text, &probe, self.len) {
            return None;
        }
        let s = u32::from(a - b'0') * 10 + u32::from(b - b'0');
        if s > 60 {
            return None;
        }
        let second = s.min(59);
        let ms = ms + (i64::from(second) - i64::from(self.fields.second)) * 1000;
        self.bytes = probe;
        self.fields.second = second;
        self.instant = Some(ms);
        Some(ms)
    }
}

/// Whether `text` starts with the `len` first bytes of `head` (`len` at most
/// [`HEAD_CACHE_BYTES`]), comparing 16 or 8 bytes at a time rather than calling `memcmp`.
#[inline]
pub(super) fn head_eq(text: &[u8], head: &[u8; HEAD_CACHE_BYTES], len: usize) -> bool {
    let (Some(t), Some(h)) = (text.get(..len), head.get(..len)) else {
        return false;
    };
    fn at<const N: usize>(s: &[u8], i: usize) -> [u8; N] {
        s[i..i + N].try_into().expect("N bytes")
    }
    if (16..=32).contains(&len) {
        at::<16>(t, 0) == at::<16>(h, 0) && at::<16>(t, len - 16) == at::<16>(h, len - 16)
    } else if len > 32 {
        at::<16>(t, 0) == at::<16>(h, 0)
            && at::<16>(t, 16) == at::<16>(h, 16)
            && at::<16>(t, len - 16) == at::<16>(h, len - 16)
    } else if len >= 8 {
        at::<8>(t, 0) == at::<8>(h, 0) && at::<8>(t, len - 8) == at::<8>(h, len - 8)
    } else {
        t == h
    }
}

/// Longest head text cached; longer heads are parsed every time.
pub(super) const HEAD_CACHE_BYTES: usize = 48;

/// Where the `%S` digits of a head just matched in `text` are, when the head's instant moves
/// one for one with them (see [`HeadCache::second_at`]).
pub(super) fn second_at(layout: &Layout, text: &[u8], head: &Fields) -> Option<usize> {
    let k = layout.second?;
    if head.year.is_none() || !head.has_date || head.epoch_ms.is_some() {
        return None;
    }
    let (_, at, _) = match_items(&layout.items[..k], text, Fields::default(), 0, usize::MAX)?;
    Some(at)
}
