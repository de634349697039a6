//! WAL record encoding: file header, record framing (length + CRC32), and the record bodies.
//! The byte layout is documented in `docs/format/wal.md`; keep the two in step.

use model::Labels;

use crate::chunk::Chunk;
use crate::codec::{Reader, Truncated, put_bytes, put_uvarint, put_varint};

/// First 8 bytes of every WAL segment and checkpoint file.
pub const MAGIC: [u8; 8] = *b"PSCPWAL\0";
/// Format version written in the header; readers refuse others.
pub const VERSION: u32 = 1;
/// Header `kind` of a segment.
pub const KIND_SEGMENT: u32 = 0;
/// Header `kind` of a checkpoint.
pub const KIND_CHECKPOINT: u32 = 1;
/// Header size in bytes.
pub const HEADER_LEN: usize = 16;
/// Frame prefix: body length (u32) + CRC32 (u32).
pub const FRAME_LEN: usize = 8;
/// Larger bodies are taken as a corrupted length field.
pub const MAX_BODY: usize = 1 << 28;

const T_SERIES: u8 = 1;
const T_SAMPLES: u8 = 2;
const T_CHUNK: u8 = 3;
const T_CHECKPOINT: u8 = 4;

/// The 16-byte file header.
pub fn header(kind: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&kind.to_le_bytes());
    h
}

/// Checks a header; returns its kind or what is wrong.
pub fn check_header(buf: &[u8]) -> Result<u32, String> {
    if buf.len() < HEADER_LEN {
        return Err(format!("file shorter than the {HEADER_LEN}-byte header"));
    }
    if buf[..8] != MAGIC {
        return Err("not a Periscope WAL file (bad magic)".into());
    }
    let version = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if version != VERSION {
        return Err(format!(
            "WAL format version {version}, this build reads {VERSION}"
        ));
    }
    Ok(u32::from_le_bytes([buf[12], buf[13], buf[14], buf[15]]))
}

/// Appends one framed record whose body (type byte first) `body` writes.
fn frame(out: &mut Vec<u8>, ty: u8, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_LEN]);
    out.push(ty);
    body(out);
    let len = (out.len() - start - FRAME_LEN) as u32;
    let crc = crc32fast::hash(&out[start + FRAME_LEN..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A series record for one series.
pub fn encode_series<'a>(
    out: &mut Vec<u8>,
    id: u64,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) {
    let pairs: Vec<(&str, &str)> = pairs.collect();
    frame(out, T_SERIES, |b| {
        put_uvarint(b, 1);
        put_uvarint(b, id);
        put_uvarint(b, pairs.len() as u64);
        for (n, v) in pairs {
            put_bytes(b, n.as_bytes());
            put_bytes(b, v.as_bytes());
        }
    });
}

/// A samples record: `(series id, timestamp, value)` in commit order.
pub fn encode_samples(out: &mut Vec<u8>, samples: &[(u32, i64, f64)]) {
    let base = samples.first().map_or(0, |s| s.1);
    frame(out, T_SAMPLES, |b| {
        b.reserve(samples.len() * 11 + 12);
        put_varint(b, base);
        put_uvarint(b, samples.len() as u64);
        let mut prev = 0i64;
        for &(id, ts, v) in samples {
            put_varint(b, i64::from(id) - prev);
            prev = i64::from(id);
            put_varint(b, ts.wrapping_sub(base));
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    });
}

/// A checkpoint's head chunk, copied in its in-memory encoding.
pub fn encode_chunk(out: &mut Vec<u8>, id: u64, chunk: &Chunk) {
    let (data, count, side) = chunk.parts();
    frame(out, T_CHUNK, |b| {
        put_uvarint(b, id);
        put_uvarint(b, u64::from(count));
        put_bytes(b, data);
        put_uvarint(b, side.len() as u64);
        for &(t, v) in side {
            put_varint(b, t);
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    });
}

/// The first record of a checkpoint.
pub fn encode_checkpoint(out: &mut Vec<u8>, first_segment: u64, head_cut_seq: u64) {
    frame(out, T_CHECKPOINT, |b| {
        put_uvarint(b, first_segment);
        put_uvarint(b, head_cut_seq);
    });
}

/// A decoded record body.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Series definitions: WAL id and label set.
    Series(Vec<(u64, Labels)>),
    /// Samples by WAL series id.
    Samples(Vec<(u64, i64, f64)>),
    /// A head chunk of one series (checkpoints only).
    Chunk { id: u64, chunk: ChunkParts },
    /// Checkpoint marker: the first segment that follows it, and the last block cut from the
    /// head that the checkpoint already excludes.
    Checkpoint {
        first_segment: u64,
        head_cut_seq: u64,
    },
}

/// A chunk as read from disk, before validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkParts {
    pub count: u32,
    pub data: Vec<u8>,
    pub side: Vec<(i64, f64)>,
}

/// Decodes a record body (type byte first). The CRC was checked by the caller.
pub fn decode(body: &[u8]) -> Result<Record, Truncated> {
    let mut r = Reader::new(body);
    let ty = r.u8()?;
    let rec = match ty {
        T_SERIES => {
            let n = r.len(body.len())?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let id = r.uvarint()?;
                let pairs = r.len(body.len())?;
                let mut labels = Labels::new();
                for _ in 0..pairs {
                    let name = r.str()?;
                    let value = r.str()?;
                    labels.set(name, value);
                }
                out.push((id, labels));
            }
            Record::Series(out)
        }
        T_SAMPLES => {
            let base = r.varint()?;
            let n = r.len(body.len() / 10)?;
            let mut out = Vec::with_capacity(n);
            let mut id = 0i64;
            for _ in 0..n {
                id = id.wrapping_add(r.varint()?);
                let ts = base.wrapping_add(r.varint()?);
                let v = f64::from_bits(r.u64_le()?);
                let id = u64::try_from(id).map_err(|_| Truncated { at: r.pos() })?;
                out.push((id, ts, v));
            }
            Record::Samples(out)
        }
        T_CHUNK => {
            let id = r.uvarint()?;
            let at = r.pos();
            let count = u32::try_from(r.uvarint()?).map_err(|_| Truncated { at })?;
            let data = r.len_bytes()?.to_vec();
            let n = r.len(body.len() / 9)?;
            let mut side = Vec::with_capacity(n);
            for _ in 0..n {
                let t = r.varint()?;
                side.push((t, f64::from_bits(r.u64_le()?)));
            }
            Record::Chunk {
                id,
                chunk: ChunkParts { count, data, side },
            }
        }
        T_CHECKPOINT => Record::Checkpoint {
            first_segment: r.uvarint()?,
            head_cut_seq: r.uvarint()?,
        },
        _ => return Err(Truncated { at: 0 }),
    };
    if !r.is_empty() {
        return Err(Truncated { at: r.pos() });
    }
    Ok(rec)
}

/// The next frame in a file buffer.
#[derive(Debug, PartialEq)]
pub enum Frame<'a> {
    /// A record body whose CRC matched; the next frame starts at `next`.
    Ok { body: &'a [u8], next: usize },
    /// Clean end of file.
    End,
    /// The bytes from here on are not a valid frame.
    Bad { reason: &'static str },
}

/// Reads the frame starting at `at`.
pub fn next_frame(buf: &[u8], at: usize) -> Frame<'_> {
    if at >= buf.len() {
        return Frame::End;
    }
    let Some(prefix) = buf.get(at..at + FRAME_LEN) else {
        return Frame::Bad {
            reason: "torn frame header",
        };
    };
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    if len == 0 || len > MAX_BODY {
        return Frame::Bad {
            reason: "implausible record length",
        };
    }
    let Some(body) = buf.get(at + FRAME_LEN..at + FRAME_LEN + len) else {
        return Frame::Bad {
            reason: "record runs past the end of the file",
        };
    };
    if crc32fast::hash(body) != crc {
        return Frame::Bad {
            reason: "checksum mismatch",
        };
    }
    Frame::Ok {
        body,
        next: at + FRAME_LEN + len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(buf: &[u8]) -> (Vec<Record>, Option<&'static str>) {
        let mut at = 0;
        let mut out = Vec::new();
        loop {
            match next_frame(buf, at) {
                Frame::Ok { body, next } => {
                    out.push(decode(body).expect("valid body"));
                    at = next;
                }
                Frame::End => return (out, None),
                Frame::Bad { reason } => return (out, Some(reason)),
            }
        }
    }

    proptest! {
        #[test]
        fn records_round_trip(
            samples in proptest::collection::vec((0u32..1000, any::<i64>(), any::<u64>()), 0..50),
            name in "[a-z_]{1,8}", value in ".{0,12}", id in any::<u64>(),
            seg in any::<u64>(), seq in any::<u64>(),
        ) {
            let samples: Vec<(u32, i64, f64)> =
                samples.into_iter().map(|(i, t, b)| (i, t, f64::from_bits(b))).collect();
            let labels = Labels::new().with("__name__", name.clone()).with("v", value.clone());
            let mut chunk = Chunk::new(5, 1.5);
            chunk.push(9, 2.5);
            chunk.insert(7, 3.0);
            let mut buf = Vec::new();
            encode_checkpoint(&mut buf, seg, seq);
            encode_series(&mut buf, id, labels.iter());
            encode_samples(&mut buf, &samples);
            encode_chunk(&mut buf, id, &chunk);
            let (recs, bad) = read_all(&buf);
            prop_assert_eq!(bad, None);
            prop_assert_eq!(&recs[0], &Record::Checkpoint { first_segment: seg, head_cut_seq: seq });
            prop_assert_eq!(&recs[1], &Record::Series(vec![(id, labels)]));
            let Record::Samples(got) = &recs[2] else { panic!("samples") };
            let got: Vec<_> = got.iter().map(|&(i, t, v)| (i as u32, t, v.to_bits())).collect();
            let want: Vec<_> = samples.iter().map(|&(i, t, v)| (i, t, v.to_bits())).collect();
            prop_assert_eq!(got, want);
            let Record::Chunk { id: cid, chunk: parts } = &recs[3] else { panic!("chunk") };
            prop_assert_eq!(*cid, id);
            let back = Chunk::from_parts(&parts.data, parts.count, &parts.side).unwrap();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            back.decode_into(&mut a);
            chunk.decode_into(&mut b);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn any_cut_or_flip_is_detected(cut in 0usize..200, flip in 0usize..200) {
            let mut buf = Vec::new();
            encode_samples(&mut buf, &[(1, 1000, 1.0), (2, 1000, 2.0)]);
            encode_samples(&mut buf, &[(3, 2000, 3.0)]);
            let first_len = match next_frame(&buf, 0) { Frame::Ok { next, .. } => next, _ => unreachable!() };
            // Truncation: every complete frame before the cut survives, nothing else.
            let cut = cut % (buf.len() + 1);
            let (recs, bad) = read_all(&buf[..cut]);
            let complete = if cut == buf.len() { 2 } else if cut >= first_len { 1 } else { 0 };
            prop_assert_eq!(recs.len(), complete);
            prop_assert_eq!(bad.is_some(), cut != buf.len() && cut != first_len && cut != 0);
            // A flipped byte is never read back as a valid different record.
            let mut flipped = buf.clone();
            let i = flip % buf.len();
            flipped[i] ^= 0x40;
            let (recs, bad) = read_all(&flipped);
            prop_assert!(bad.is_some());
            prop_assert!(recs.len() < 2);
        }

        #[test]
        fn garbage_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&body);
        }
    }
}
