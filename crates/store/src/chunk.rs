//! The head's in-memory sample encoding: one [`Chunk`] per series and block-span range.
//!
//! Appends must cost a few nanoseconds, so this is a byte-aligned cousin of Gorilla: the first
//! sample is stored whole, then each timestamp as a zigzag varint of its delta-of-delta (one
//! byte, `0x00`, for a regular scrape) and each value as the XOR with the previous value's bits:
//! a tag byte (0 = unchanged) followed by only the XOR's non-zero middle bytes. Block files use
//! pcodec instead, which compresses far better but works on whole columns, not one value at a
//! time. The same bytes are copied verbatim into WAL checkpoints (`docs/format/wal.md`).
//!
//! Samples that arrive out of order (older than the chunk's newest) go to a small sorted side
//! list, merged on read and folded back into the encoding when it grows.

use crate::codec::{Reader, Truncated, put_varint, unzigzag};

/// Out-of-order samples kept aside before the chunk is re-encoded with them merged in.
const MAX_SIDE: usize = 32;

/// Every this many encoded samples the decoder's state is remembered (a [`Mark`]), so a read of
/// the newest minutes of a two-hour chunk (every rule evaluation) resumes near them instead of
/// decoding the chunk from its start. Costs 32 bytes per 64 samples.
const MARK_EVERY: u32 = 64;

/// The decoder's state just after encoded sample number `decoded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mark {
    /// Byte offset of the next sample's encoding.
    pos: u32,
    /// Samples decoded up to here.
    decoded: u32,
    ts: i64,
    delta: i64,
    bits: u64,
}

/// Samples of one series inside one block-span range.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    data: Vec<u8>,
    first_ts: i64,
    last_ts: i64,
    last_delta: i64,
    last_bits: u64,
    count: u32,
    /// Sorted out-of-order samples, all older than `last_ts` and absent from `data`.
    // Boxed: 8 bytes instead of 24 in every chunk, and most chunks never get a side list.
    #[allow(clippy::box_collection)]
    side: Option<Box<Vec<(i64, f64)>>>,
    /// Resume points, one per [`MARK_EVERY`] encoded samples (boxed like `side`: short chunks
    /// have none).
    #[allow(clippy::box_collection)]
    marks: Option<Box<Vec<Mark>>>,
}

/// What happened to a sample offered to [`Chunk::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Stored.
    New,
    /// The identical sample was already there; nothing changed.
    Duplicate,
    /// Another value is stored at that timestamp; nothing changed.
    Conflict,
}

impl Chunk {
    /// A chunk holding one sample.
    pub fn new(ts: i64, v: f64) -> Self {
        let mut c = Chunk {
            data: Vec::with_capacity(16),
            ..Chunk::default()
        };
        c.push_first(ts, v);
        c
    }

    fn push_first(&mut self, ts: i64, v: f64) {
        put_varint(&mut self.data, ts);
        self.data.extend_from_slice(&v.to_bits().to_le_bytes());
        self.first_ts = ts;
        self.last_ts = ts;
        self.last_delta = 0;
        self.last_bits = v.to_bits();
        self.count = 1;
    }

    /// Number of samples, including the out-of-order side list.
    pub fn len(&self) -> usize {
        self.count as usize + self.side.as_ref().map_or(0, |s| s.len())
    }

    /// Oldest timestamp held.
    pub fn min_ts(&self) -> i64 {
        match self.side.as_deref().and_then(|s| s.first()) {
            Some(&(t, _)) => t.min(self.first_ts),
            None => self.first_ts,
        }
    }

    /// Newest timestamp held.
    pub fn max_ts(&self) -> i64 {
        self.last_ts
    }

    /// Heap bytes used (for the memory figure in stats).
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity()
            + self.side.as_ref().map_or(0, |s| 24 + s.capacity() * 16)
            + self
                .marks
                .as_ref()
                .map_or(0, |m| 24 + m.capacity() * size_of::<Mark>())
    }

    /// Appends a sample newer than every sample held. The caller guarantees `ts > max_ts()`.
    #[inline]
    pub fn push(&mut self, ts: i64, v: f64) {
        debug_assert!(ts > self.last_ts || self.count == 0);
        if self.count == 0 {
            self.push_first(ts, v);
            return;
        }
        let delta = ts.wrapping_sub(self.last_ts);
        put_varint(&mut self.data, delta.wrapping_sub(self.last_delta));
        let bits = v.to_bits();
        let x = bits ^ self.last_bits;
        if x == 0 {
            self.data.push(0);
        } else {
            let lead = (x.leading_zeros() / 8) as usize;
            let trail = (x.trailing_zeros() / 8) as usize;
            self.data.push(1 + (lead * 8 + trail) as u8);
            let n = 8 - lead - trail;
            self.data
                .extend_from_slice(&(x >> (8 * trail)).to_le_bytes()[..n]);
        }
        self.last_ts = ts;
        self.last_delta = delta;
        self.last_bits = bits;
        self.count += 1;
        if self.count.is_multiple_of(MARK_EVERY) {
            self.marks.get_or_insert_with(Default::default).push(Mark {
                pos: self.data.len() as u32,
                decoded: self.count,
                ts,
                delta,
                bits,
            });
        }
    }

    /// Stores a sample at any timestamp, applying the exactly-once rule: an identical sample
    /// is a duplicate, a different value at a stored timestamp a conflict.
    pub fn insert(&mut self, ts: i64, v: f64) -> Inserted {
        if self.count == 0 || ts > self.last_ts {
            self.push(ts, v);
            return Inserted::New;
        }
        if let Some(old) = self.find(ts) {
            return if old.to_bits() == v.to_bits() {
                Inserted::Duplicate
            } else {
                Inserted::Conflict
            };
        }
        let side = self.side.get_or_insert_with(Default::default);
        let at = side.partition_point(|&(t, _)| t < ts);
        side.insert(at, (ts, v));
        if side.len() > MAX_SIDE {
            self.fold_side();
        }
        Inserted::New
    }

    /// Re-encodes the chunk with the side list merged in.
    fn fold_side(&mut self) {
        let mut all = Vec::with_capacity(self.len());
        self.decode_into(&mut all);
        let mut fresh = Chunk {
            data: Vec::with_capacity(self.data.len() + 8 * MAX_SIDE),
            ..Chunk::default()
        };
        for (t, v) in all {
            fresh.push(t, v);
        }
        *self = fresh;
    }

    /// The value stored at `ts`, if any.
    pub fn find(&self, ts: i64) -> Option<f64> {
        if self.count == 0 || ts > self.last_ts {
            return None;
        }
        if ts == self.last_ts {
            return Some(f64::from_bits(self.last_bits));
        }
        if let Some(side) = &self.side
            && let Ok(i) = side.binary_search_by_key(&ts, |&(t, _)| t)
        {
            return Some(side[i].1);
        }
        if ts < self.first_ts {
            return None;
        }
        let mut found = None;
        // Head data was encoded by this process, so decoding cannot fail; a failure would only
        // mean "not found", never a panic.
        let _ = self.for_each_encoded_from(ts, |t, v| {
            if t == ts {
                found = Some(v);
            }
            t < ts
        });
        found
    }

    /// Appends every sample, oldest first, to `out`.
    pub fn decode_into(&self, out: &mut Vec<(i64, f64)>) {
        let start = out.len();
        let _ = self.for_each_encoded(|t, v| {
            out.push((t, v));
            true
        });
        if let Some(side) = &self.side {
            out.extend_from_slice(side);
            out[start..].sort_by_key(|&(t, _)| t);
        }
    }

    /// Appends the samples inside `[start, end]`, oldest first, to `out`. Decoding stops at the
    /// first encoded sample past `end` (encoded times only increase), and nothing outside the
    /// range is ever pushed: a rule looking back five minutes into a two-hour chunk copies
    /// twenty samples, not the chunk.
    pub fn decode_range_into(&self, start: i64, end: i64, out: &mut Vec<(i64, f64)>) {
        let first = out.len();
        let _ = self.for_each_encoded_from(start, |t, v| {
            if t > end {
                return false;
            }
            if t >= start {
                out.push((t, v));
            }
            true
        });
        if let Some(side) = &self.side {
            out.extend(side.iter().filter(|&&(t, _)| start <= t && t <= end));
            out[first..].sort_by_key(|&(t, _)| t);
        }
    }

    /// Calls `f` for each encoded sample (not the side list) until it returns false.
    fn for_each_encoded(&self, f: impl FnMut(i64, f64) -> bool) -> Result<(), Truncated> {
        decode_encoded(&self.data, self.count, f).map(|_| ())
    }

    /// Like [`Chunk::for_each_encoded`], but may skip samples older than `from`: decoding
    /// resumes at the last mark before it.
    fn for_each_encoded_from(
        &self,
        from: i64,
        f: impl FnMut(i64, f64) -> bool,
    ) -> Result<(), Truncated> {
        let marks = self.marks.as_deref().map_or(&[][..], Vec::as_slice);
        let Some(mark) = marks
            .partition_point(|m| m.ts < from)
            .checked_sub(1)
            .map(|i| marks[i])
        else {
            return self.for_each_encoded(f);
        };
        if mark.pos as usize > self.data.len() {
            return Err(Truncated { at: 0 });
        }
        decode_rest(
            &self.data,
            mark.pos as usize,
            self.count - mark.decoded,
            (mark.ts, mark.delta, mark.bits),
            f,
        )
        .map(|_| ())
    }

    /// The encoded bytes and their sample count, for WAL checkpoints; the side list is
    /// returned separately because it is not part of the encoding.
    pub fn parts(&self) -> (&[u8], u32, &[(i64, f64)]) {
        (
            &self.data,
            self.count,
            self.side.as_deref().map_or(&[], |s| s.as_slice()),
        )
    }

    /// Rebuilds a chunk from [`Chunk::parts`] read back from disk, validating the encoding
    /// (timestamps strictly increasing, exactly `count` samples, no trailing bytes).
    pub fn from_parts(data: &[u8], count: u32, side: &[(i64, f64)]) -> Result<Chunk, Truncated> {
        let mut c = Chunk::default();
        let mut bad = None;
        let used = decode_encoded(data, count, |t, v| {
            if c.count > 0 && t <= c.last_ts {
                bad = Some(t);
                return false;
            }
            c.push(t, v);
            true
        })?;
        if bad.is_some() || c.count != count || used != data.len() {
            return Err(Truncated { at: used });
        }
        for &(t, v) in side {
            c.insert(t, v);
        }
        Ok(c)
    }
}

/// Decodes `count` samples from `data`; returns the bytes consumed.
fn decode_encoded(
    data: &[u8],
    count: u32,
    mut f: impl FnMut(i64, f64) -> bool,
) -> Result<usize, Truncated> {
    if count == 0 {
        return Ok(0);
    }
    let mut r = Reader::new(data);
    let ts = r.varint()?;
    let bits = r.u64_le()?;
    if !f(ts, f64::from_bits(bits)) {
        return Ok(r.pos());
    }
    decode_rest(data, r.pos(), count - 1, (ts, 0, bits), f)
}

/// Decodes the `remaining` samples that follow the decoder state `(ts, delta, bits)`, starting
/// at byte `pos` of `data`; returns where the last decoded sample ends. Errors carry the byte
/// offset in `data`, as [`Reader`] reports them.
///
/// Every rule evaluation decodes tens of samples per series, so this reads `data` directly:
/// a one-byte delta-of-delta (a regular scrape) takes one comparison, and the XOR's bytes are
/// read as one word wherever eight bytes remain.
fn decode_rest(
    data: &[u8],
    mut pos: usize,
    remaining: u32,
    (mut ts, mut delta, mut bits): (i64, i64, u64),
    mut f: impl FnMut(i64, f64) -> bool,
) -> Result<usize, Truncated> {
    for _ in 0..remaining {
        let &first = data.get(pos).ok_or(Truncated { at: pos })?;
        pos += 1;
        let dod = if first < 0x80 {
            u64::from(first)
        } else {
            let (v, next) = uvarint_after(data, pos, first)?;
            pos = next;
            v
        };
        delta = delta.wrapping_add(unzigzag(dod));
        ts = ts.wrapping_add(delta);
        let &tag = data.get(pos).ok_or(Truncated { at: pos })?;
        pos += 1;
        if tag != 0 {
            let code = usize::from(tag - 1);
            let (lead, trail) = (code / 8, code % 8);
            if lead + trail >= 8 {
                return Err(Truncated { at: pos - 1 });
            }
            let n = 8 - lead - trail;
            let x = match data
                .get(pos..pos + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
            {
                Some(word) => u64::from_le_bytes(word) & (u64::MAX >> (64 - 8 * n)),
                None => data
                    .get(pos..pos + n)
                    .ok_or(Truncated { at: pos })?
                    .iter()
                    .rev()
                    .fold(0u64, |x, &b| (x << 8) | u64::from(b)),
            };
            pos += n;
            bits ^= x << (8 * trail);
        }
        if !f(ts, f64::from_bits(bits)) {
            break;
        }
    }
    Ok(pos)
}

/// The rest of an unsigned LEB128 varint at `pos` whose first byte, `first` (just before
/// `pos`), has its high bit set; with the position after it. Fails where [`Reader::uvarint`]
/// would.
fn uvarint_after(data: &[u8], mut pos: usize, first: u8) -> Result<(u64, usize), Truncated> {
    let mut v = u64::from(first & 0x7f);
    let mut shift = 7u32;
    loop {
        let &b = data.get(pos).ok_or(Truncated { at: pos })?;
        pos += 1;
        if shift == 63 && b > 1 {
            return Err(Truncated { at: pos });
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok((v, pos));
        }
        shift += 7;
        if shift > 63 {
            return Err(Truncated { at: pos });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn regular_constant_series_costs_two_bytes_per_sample() {
        let mut c = Chunk::new(1_000, 1.0);
        for i in 1..100 {
            c.push(1_000 + i * 15_000, 1.0);
        }
        // 15_000 first delta: 3-byte varint once, then 0x00 0x00 per sample.
        assert!(c.parts().0.len() < 9 + 4 + 2 * 100, "{}", c.parts().0.len());
    }

    #[test]
    fn reads_resume_at_marks_and_agree_with_a_full_decode() {
        // 1000 irregular samples: 15 marks; every window and lookup must match a full decode.
        let mut c = Chunk::new(0, 0.0);
        let mut t = 0;
        for i in 1..1000i64 {
            t += 1 + (i * 7919) % 13;
            c.push(t, (i as f64).sqrt());
        }
        assert_eq!(c.marks.as_ref().map(|m| m.len()), Some(15));
        let mut all = Vec::new();
        c.decode_into(&mut all);
        for start in (-5..t + 5).step_by(37) {
            for len in [0, 1, 50, 300, 5000] {
                let want: Vec<_> = all
                    .iter()
                    .copied()
                    .filter(|&(x, _)| start <= x && x <= start + len)
                    .collect();
                let mut got = Vec::new();
                c.decode_range_into(start, start + len, &mut got);
                assert_eq!(got, want, "window {start}..={}", start + len);
            }
        }
        for &(x, v) in all.iter().step_by(11) {
            assert_eq!(c.find(x), Some(v));
            assert_eq!(
                c.find(x + 1).is_some(),
                all.iter().any(|&(y, _)| y == x + 1)
            );
        }
        // Rebuilt from its parts (a WAL checkpoint), the chunk has the same marks.
        let (data, count, side) = c.parts();
        let back = Chunk::from_parts(data, count, side).unwrap();
        assert_eq!(back.marks, c.marks);
    }

    proptest! {
        #[test]
        fn range_decoding_keeps_exactly_the_samples_inside(
            samples in proptest::collection::vec((0i64..500, -3i32..3), 1..300),
            start in -10i64..510,
            len in 0i64..520,
        ) {
            // Out-of-order inserts land in the side list: both parts are exercised.
            let mut c = Chunk::new(samples[0].0, f64::from(samples[0].1));
            for &(t, v) in &samples[1..] {
                let _ = c.insert(t, f64::from(v));
            }
            let mut all = Vec::new();
            c.decode_into(&mut all);
            let end = start + len;
            let want: Vec<_> = all.into_iter().filter(|&(t, _)| start <= t && t <= end).collect();
            let mut got = vec![(-1, 0.0)];
            c.decode_range_into(start, end, &mut got);
            prop_assert_eq!(got[0], (-1, 0.0), "what was in `out` stays");
            prop_assert_eq!(&got[1..], &want[..]);
        }

        #[test]
        fn inserts_match_a_map(samples in proptest::collection::vec((0i64..500, -3i32..3), 1..300)) {
            let mut model = BTreeMap::new();
            let mut c: Option<Chunk> = None;
            for (t, v) in samples {
                let v = f64::from(v) * 0.5;
                let want = match model.get(&t) {
                    None => { model.insert(t, v); Inserted::New }
                    Some(old) if *old == v => Inserted::Duplicate,
                    Some(_) => Inserted::Conflict,
                };
                let got = match &mut c {
                    None => { c = Some(Chunk::new(t, v)); Inserted::New }
                    Some(c) => c.insert(t, v),
                };
                prop_assert_eq!(got, want);
            }
            let c = c.unwrap();
            let mut out = Vec::new();
            c.decode_into(&mut out);
            let expect: Vec<_> = model.iter().map(|(&t, &v)| (t, v)).collect();
            prop_assert_eq!(&out, &expect);
            for (&t, &v) in &model {
                prop_assert_eq!(c.find(t), Some(v));
            }
            prop_assert_eq!(c.min_ts(), *model.keys().next().unwrap());
            let (data, count, side) = c.parts();
            let back = Chunk::from_parts(data, count, side).unwrap();
            let mut again = Vec::new();
            back.decode_into(&mut again);
            prop_assert_eq!(again, expect);
        }

        #[test]
        fn any_bits_round_trip(vals in proptest::collection::vec(any::<u64>(), 1..100),
                               gaps in proptest::collection::vec(1i64..1_000_000_000, 100)) {
            let mut c = Chunk::new(-5, f64::from_bits(vals[0]));
            let mut t = -5;
            let mut expect = vec![(t, vals[0])];
            for (i, &b) in vals.iter().enumerate().skip(1) {
                t += gaps[i];
                c.push(t, f64::from_bits(b));
                expect.push((t, b));
            }
            let mut out = Vec::new();
            c.decode_into(&mut out);
            let got: Vec<_> = out.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(got, expect);
        }

        #[test]
        fn garbage_parts_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64), count in 0u32..40) {
            let _ = Chunk::from_parts(&data, count, &[]);
        }
    }
}
