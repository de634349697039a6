//! Immutable blocks: one file per block holding every series of a time range, each series'
//! timestamps and values compressed with pcodec, plus an index (symbols, series, postings).
//!
//! Every blob carries its own length and CRC32, so one damaged series costs that series, a
//! damaged index or meta costs that block, and nothing else. Layout: `docs/format/block.md`.

mod read;
mod write;

use std::io;
use std::path::{Path, PathBuf};

use crate::codec::{Reader, Truncated, put_uvarint, put_varint};

pub use read::Block;
pub use write::BlockWriter;

/// First 8 bytes of a block file.
pub const MAGIC: [u8; 8] = *b"PSCPBLK\0";
/// Last 4 bytes of a block file.
pub const FOOTER_MAGIC: [u8; 4] = *b"PBLK";
/// Format version; readers refuse others.
pub const VERSION: u32 = 1;
/// Header size.
pub const HEADER_LEN: u64 = 16;
/// Footer size: index offset, meta offset, CRC32 of those 16 bytes, magic.
pub const FOOTER_LEN: u64 = 24;
/// Blob prefix: payload length (u32) + CRC32 of the payload (u32).
pub const BLOB_PREFIX: u64 = 8;
/// pcodec compression level: 4 compresses these short columns as well as the default 8
/// (measured within 1 %) at twice the speed.
pub const PCO_LEVEL: usize = 4;

/// File name of block `seq` inside the blocks directory.
pub fn file_name(seq: u64) -> String {
    format!("{seq:016x}.block")
}

/// The block sequence number in a block file name.
pub fn parse_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".block")?;
    (stem.len() == 16)
        .then(|| u64::from_str_radix(stem, 16).ok())
        .flatten()
}

/// A block could not be read (or part of it).
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The file could not be read.
    #[error("reading block {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A check failed: what, and at which byte offset.
    #[error("block {path} is corrupt at byte {offset}: {what}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
}

/// How a block came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Cut from the head; valid only once the WAL checkpoint that excludes it exists.
    HeadCut,
    /// Merged from other blocks (its `parents`), which are deleted after it is in place.
    Compaction,
}

/// What a block holds, stored in its meta blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    /// Unique, increasing sequence number (also the file name).
    pub seq: u64,
    /// Oldest and newest sample timestamp (ms).
    pub min_t: i64,
    pub max_t: i64,
    pub series: u64,
    pub samples: u64,
    pub origin: Origin,
    /// Blocks this one replaces (compaction).
    pub parents: Vec<u64>,
}

impl BlockMeta {
    /// Encodes the meta payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_uvarint(out, self.seq);
        put_varint(out, self.min_t);
        put_varint(out, self.max_t);
        put_uvarint(out, self.series);
        put_uvarint(out, self.samples);
        out.push(match self.origin {
            Origin::HeadCut => 0,
            Origin::Compaction => 1,
        });
        put_uvarint(out, self.parents.len() as u64);
        for &p in &self.parents {
            put_uvarint(out, p);
        }
    }

    /// Decodes a meta payload.
    pub fn decode(buf: &[u8]) -> Result<BlockMeta, Truncated> {
        let mut r = Reader::new(buf);
        let seq = r.uvarint()?;
        let min_t = r.varint()?;
        let max_t = r.varint()?;
        let series = r.uvarint()?;
        let samples = r.uvarint()?;
        let at = r.pos();
        let origin = match r.u8()? {
            0 => Origin::HeadCut,
            1 => Origin::Compaction,
            _ => return Err(Truncated { at }),
        };
        let n = r.len(buf.len())?;
        let parents = (0..n).map(|_| r.uvarint()).collect::<Result<_, _>>()?;
        if !r.is_empty() {
            return Err(Truncated { at: r.pos() });
        }
        Ok(BlockMeta {
            seq,
            min_t,
            max_t,
            series,
            samples,
            origin,
            parents,
        })
    }
}

/// Compresses one series' columns into a data blob payload.
pub fn encode_series_data(ts: &[i64], vals: &[f64], out: &mut Vec<u8>) -> io::Result<()> {
    let cfg = pco::ChunkConfig::default().with_compression_level(PCO_LEVEL);
    let t = pco::standalone::simple_compress(ts, &cfg).map_err(io::Error::other)?;
    let v = pco::standalone::simple_compress(vals, &cfg).map_err(io::Error::other)?;
    put_uvarint(out, ts.len() as u64);
    put_uvarint(out, t.len() as u64);
    out.extend_from_slice(&t);
    out.extend_from_slice(&v);
    Ok(())
}

/// Decodes a data blob payload; `Err` says what is wrong. pcodec is given only bytes whose
/// CRC matched, and any panic inside it is caught: a bad file must never take the store down.
pub fn decode_series_data(buf: &[u8]) -> Result<(Vec<i64>, Vec<f64>), String> {
    let mut r = Reader::new(buf);
    let n = r.len(1 << 32).map_err(|e| e.to_string())?;
    let tlen = r.len(buf.len()).map_err(|e| e.to_string())?;
    let t = r.bytes(tlen).map_err(|e| e.to_string())?;
    let v = &buf[r.pos()..];
    let decoded = std::panic::catch_unwind(|| {
        let ts: Vec<i64> = pco::standalone::simple_decompress(t).map_err(|e| e.to_string())?;
        let vals: Vec<f64> = pco::standalone::simple_decompress(v).map_err(|e| e.to_string())?;
        Ok::<_, String>((ts, vals))
    })
    .map_err(|_| "pcodec panicked on this data".to_string())??;
    if decoded.0.len() != n || decoded.1.len() != n {
        return Err(format!(
            "expected {n} samples, found {} timestamps and {} values",
            decoded.0.len(),
            decoded.1.len()
        ));
    }
    if decoded.0.windows(2).any(|w| w[0] >= w[1]) {
        return Err("timestamps are not strictly increasing".into());
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn meta_round_trips(seq in any::<u64>(), a in any::<i64>(), b in any::<i64>(),
                            parents in proptest::collection::vec(any::<u64>(), 0..5), c in any::<bool>()) {
            let m = BlockMeta { seq, min_t: a, max_t: b, series: 3, samples: 9,
                origin: if c { Origin::HeadCut } else { Origin::Compaction }, parents };
            let mut buf = Vec::new();
            m.encode(&mut buf);
            prop_assert_eq!(BlockMeta::decode(&buf).unwrap(), m);
        }

        #[test]
        fn series_data_round_trips(start in -1_000_000_000i64..1_000_000_000,
                                   gaps in proptest::collection::vec(1i64..100_000, 1..300),
                                   vals in proptest::collection::vec(any::<u64>(), 300)) {
            let mut ts = vec![start];
            for g in &gaps { ts.push(ts.last().unwrap() + g); }
            let vs: Vec<f64> = vals[..ts.len()].iter().map(|&b| f64::from_bits(b)).collect();
            let mut buf = Vec::new();
            encode_series_data(&ts, &vs, &mut buf).unwrap();
            let (t2, v2) = decode_series_data(&buf).unwrap();
            prop_assert_eq!(t2, ts);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&v2), bits(&vs));
        }

        #[test]
        fn garbage_series_data_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_series_data(&buf);
        }
    }

    #[test]
    fn file_names_round_trip() {
        assert_eq!(parse_file_name(Path::new(&file_name(0xabc))), Some(0xabc));
        assert_eq!(parse_file_name(Path::new("x.block")), None);
    }
}
