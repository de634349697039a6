//! Byte-level helpers shared by every on-disk format: LEB128 varints, zigzag, and a
//! bounds-checked reader that turns "ran off the end" into an error instead of a panic.
//!
//! Every decoder in this crate reads through [`Reader`], so a truncated or corrupted file can
//! only ever produce a [`Truncated`] error, never an out-of-bounds index.

/// Decoding ran past the end of the input, or met a varint longer than 10 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed or truncated data at byte {at}")]
pub struct Truncated {
    /// Offset inside the decoded buffer where decoding failed.
    pub at: usize,
}

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded, so small negative numbers stay short.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Maps signed to unsigned so that numbers near zero get small codes.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A cursor over a byte slice whose every read is bounds-checked.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn err(&self) -> Truncated {
        Truncated { at: self.pos }
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        let b = *self.buf.get(self.pos).ok_or(self.err())?;
        self.pos += 1;
        Ok(b)
    }

    /// `n` raw bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(self.err())?;
        let s = self.buf.get(self.pos..end).ok_or(self.err())?;
        self.pos = end;
        Ok(s)
    }

    /// A fixed-size array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Little-endian u64.
    pub fn u64_le(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// An unsigned LEB128 varint.
    #[inline]
    pub fn uvarint(&mut self) -> Result<u64, Truncated> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(self.err());
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(self.err());
            }
        }
    }

    /// A zigzag varint.
    #[inline]
    pub fn varint(&mut self) -> Result<i64, Truncated> {
        self.uvarint().map(unzigzag)
    }

    /// A varint that must fit in `usize` and be at most `max` (guards allocations sized
    /// from untrusted lengths).
    pub fn len(&mut self, max: usize) -> Result<usize, Truncated> {
        let at = self.pos;
        let v = self.uvarint()?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(Truncated { at })
    }

    /// A length-prefixed byte string.
    pub fn len_bytes(&mut self) -> Result<&'a [u8], Truncated> {
        let n = self.len(self.remaining())?;
        self.bytes(n)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, Truncated> {
        let at = self.pos;
        let b = self.len_bytes()?;
        std::str::from_utf8(b).map_err(|_| Truncated { at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>()) {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, u);
            put_varint(&mut buf, i);
            put_bytes(&mut buf, b"abc");
            let mut r = Reader::new(&buf);
            prop_assert_eq!(r.uvarint().unwrap(), u);
            prop_assert_eq!(r.varint().unwrap(), i);
            prop_assert_eq!(r.len_bytes().unwrap(), b"abc");
            prop_assert!(r.is_empty());
        }

        #[test]
        fn truncated_input_errors_instead_of_panicking(u in any::<u64>(), cut in 0usize..10) {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, u);
            if cut < buf.len() {
                buf.truncate(cut);
                prop_assert!(Reader::new(&buf).uvarint().is_err());
            }
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let buf = [0xffu8; 11];
        assert!(Reader::new(&buf).uvarint().is_err());
        let buf = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
        assert!(Reader::new(&buf).uvarint().is_err());
    }
}
