//! Reading a block: footer, meta and index at open (kept in memory), series blobs on demand
//! with positioned reads (no mmap: the workspace forbids `unsafe`, and a read per series is
//! cheap next to decompressing it).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use model::{Labels, Matcher};

use super::{
    BLOB_PREFIX, BlockError, BlockMeta, FOOTER_LEN, FOOTER_MAGIC, HEADER_LEN, MAGIC, VERSION,
    decode_series_data,
};
use crate::codec::{Reader, Truncated};
use crate::postings::{Postings, SymbolLookup};

/// One series in a block's index.
#[derive(Clone, Debug)]
pub struct SeriesEntry {
    /// Name and value symbol ids, alternating, in label-name order.
    labels: Box<[u32]>,
    /// Offset of the series' data blob.
    pub offset: u64,
    pub min_t: i64,
    pub max_t: i64,
    pub count: u64,
}

/// A block's index, decoded.
#[derive(Debug, Default)]
pub struct BlockIndex {
    symbols: Vec<Box<str>>,
    series: Vec<SeriesEntry>,
    postings: Postings,
}

impl SymbolLookup for BlockIndex {
    fn lookup(&self, s: &str) -> Option<u32> {
        self.symbols
            .binary_search_by(|x| (**x).cmp(s))
            .ok()
            .map(|i| i as u32)
    }
    fn get(&self, id: u32) -> &str {
        self.symbols.get(id as usize).map_or("", |s| s)
    }
}

impl BlockIndex {
    fn decode(buf: &[u8]) -> Result<BlockIndex, Truncated> {
        let mut r = Reader::new(buf);
        let n = r.len(buf.len())?;
        let mut symbols = Vec::with_capacity(n);
        for _ in 0..n {
            symbols.push(Box::<str>::from(r.str()?));
        }
        let nsym = symbols.len() as u64;
        let sym = |r: &mut Reader<'_>| -> Result<u32, Truncated> {
            let at = r.pos();
            let v = r.uvarint()?;
            if v >= nsym {
                return Err(Truncated { at });
            }
            Ok(v as u32)
        };
        let n = r.len(buf.len())?;
        let mut series = Vec::with_capacity(n);
        for _ in 0..n {
            let pairs = r.len(buf.len())?;
            let mut labels = Vec::with_capacity(pairs * 2);
            for _ in 0..pairs * 2 {
                labels.push(sym(&mut r)?);
            }
            let offset = r.uvarint()?;
            let min_t = r.varint()?;
            let max_t = min_t.wrapping_add_unsigned(r.uvarint()?);
            let count = r.uvarint()?;
            series.push(SeriesEntry {
                labels: labels.into_boxed_slice(),
                offset,
                min_t,
                max_t,
                count,
            });
        }
        let nseries = series.len() as u64;
        let mut postings = Postings::default();
        let names = r.len(buf.len())?;
        for _ in 0..names {
            let name = sym(&mut r)?;
            let values = r.len(buf.len())?;
            for _ in 0..values {
                let value = sym(&mut r)?;
                let count = r.len(buf.len())?;
                let mut ids = Vec::with_capacity(count);
                let mut prev = 0u64;
                for k in 0..count {
                    let at = r.pos();
                    let d = r.uvarint()?;
                    let id = if k == 0 { d } else { prev.saturating_add(d) };
                    if id >= nseries || (k > 0 && d == 0) {
                        return Err(Truncated { at });
                    }
                    ids.push(id as u32);
                    prev = id;
                }
                postings.set(name, value, ids);
            }
        }
        if !r.is_empty() {
            return Err(Truncated { at: r.pos() });
        }
        Ok(BlockIndex {
            symbols,
            series,
            postings,
        })
    }
}

/// An open, readable block.
#[derive(Debug)]
pub struct Block {
    pub path: PathBuf,
    file: File,
    pub meta: BlockMeta,
    index: BlockIndex,
    /// File size.
    pub bytes: u64,
}

impl Block {
    /// Opens and checks header, footer, meta and index (series blobs are checked when read).
    pub fn open(path: &Path) -> Result<Block, BlockError> {
        let io = |source| BlockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |offset: u64, what: &str| BlockError::Corrupt {
            path: path.to_path_buf(),
            offset,
            what: what.to_string(),
        };
        let file = File::open(path).map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        if bytes < HEADER_LEN + FOOTER_LEN {
            return Err(corrupt(0, "file too short for header and footer"));
        }
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut header, 0).map_err(io)?;
        if header[..8] != MAGIC {
            return Err(corrupt(0, "bad magic: not a Periscope block"));
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version != VERSION {
            return Err(corrupt(
                8,
                &format!("format version {version}, this build reads {VERSION}"),
            ));
        }
        if header[12..] != [0; 4] {
            return Err(corrupt(12, "reserved header bytes are not zero"));
        }
        let footer_at = bytes - FOOTER_LEN;
        let mut footer = [0u8; FOOTER_LEN as usize];
        file.read_exact_at(&mut footer, footer_at).map_err(io)?;
        let mut r = Reader::new(&footer);
        let (index_at, meta_at, crc) = (
            r.u64_le().unwrap_or(0),
            r.u64_le().unwrap_or(0),
            r.u32_le().unwrap_or(0),
        );
        if footer[20..] != FOOTER_MAGIC || crc32fast::hash(&footer[..16]) != crc {
            return Err(corrupt(footer_at, "bad footer (magic or checksum)"));
        }
        let mut block = Block {
            path: path.to_path_buf(),
            file,
            meta: BlockMeta {
                seq: 0,
                min_t: 0,
                max_t: -1,
                series: 0,
                samples: 0,
                origin: super::Origin::HeadCut,
                parents: Vec::new(),
            },
            index: BlockIndex::default(),
            bytes,
        };
        let meta = block.read_blob(meta_at)?;
        block.meta = BlockMeta::decode(&meta)
            .map_err(|e| corrupt(meta_at + BLOB_PREFIX + e.at as u64, "meta does not decode"))?;
        let index = block.read_blob(index_at)?;
        block.index = BlockIndex::decode(&index).map_err(|e| {
            corrupt(
                index_at + BLOB_PREFIX + e.at as u64,
                "index does not decode",
            )
        })?;
        if block.index.series.len() as u64 != block.meta.series {
            return Err(corrupt(
                index_at,
                "index and meta disagree on the series count",
            ));
        }
        Ok(block)
    }

    /// Reads and checks the blob at `at`.
    fn read_blob(&self, at: u64) -> Result<Vec<u8>, BlockError> {
        let corrupt = |offset: u64, what: String| BlockError::Corrupt {
            path: self.path.clone(),
            offset,
            what,
        };
        let limit = self.bytes.saturating_sub(FOOTER_LEN);
        if at < HEADER_LEN || at.saturating_add(BLOB_PREFIX) > limit {
            return Err(corrupt(at, "blob offset outside the file".into()));
        }
        let mut prefix = [0u8; BLOB_PREFIX as usize];
        self.file
            .read_exact_at(&mut prefix, at)
            .map_err(|source| BlockError::Io {
                path: self.path.clone(),
                source,
            })?;
        let len = u64::from(u32::from_le_bytes([
            prefix[0], prefix[1], prefix[2], prefix[3],
        ]));
        let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if at + BLOB_PREFIX + len > limit {
            return Err(corrupt(at, format!("blob length {len} runs past the end")));
        }
        let mut buf = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut buf, at + BLOB_PREFIX)
            .map_err(|source| BlockError::Io {
                path: self.path.clone(),
                source,
            })?;
        if crc32fast::hash(&buf) != crc {
            return Err(corrupt(at, "blob checksum mismatch".into()));
        }
        Ok(buf)
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.index.series.len()
    }

    /// True when the block's time range overlaps `[start, end]`.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.meta.min_t <= end && self.meta.max_t >= start
    }

    /// Ordinals of the series matching every matcher.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<u32> {
        self.index
            .postings
            .select(&self.index, matchers, self.index.series.len() as u32)
    }

    /// The index entry of series `i`.
    pub fn entry(&self, i: u32) -> Option<&SeriesEntry> {
        self.index.series.get(i as usize)
    }

    /// Label pairs of series `i`.
    pub fn pairs(&self, i: u32) -> impl Iterator<Item = (&str, &str)> {
        self.entry(i)
            .map_or(&[][..], |e| &e.labels[..])
            .chunks_exact(2)
            .map(|p| (self.index.get(p[0]), self.index.get(p[1])))
    }

    /// Label set of series `i`.
    pub fn labels(&self, i: u32) -> Labels {
        self.pairs(i).collect()
    }

    /// The ordinal of the series with exactly these labels (series are sorted by labels).
    pub fn find(&self, labels: &Labels) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.index.series.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.labels(mid as u32).cmp(labels) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// Timestamps and values of series `i`, checked.
    pub fn read(&self, i: u32) -> Result<(Vec<i64>, Vec<f64>), BlockError> {
        let entry = self.entry(i).ok_or_else(|| BlockError::Corrupt {
            path: self.path.clone(),
            offset: 0,
            what: format!("no series {i}"),
        })?;
        let buf = self.read_blob(entry.offset)?;
        let (ts, vals) = decode_series_data(&buf).map_err(|what| BlockError::Corrupt {
            path: self.path.clone(),
            offset: entry.offset,
            what,
        })?;
        if ts.len() as u64 != entry.count
            || ts.first() != Some(&entry.min_t)
            || ts.last() != Some(&entry.max_t)
        {
            return Err(BlockError::Corrupt {
                path: self.path.clone(),
                offset: entry.offset,
                what: "series data disagrees with its index entry".into(),
            });
        }
        Ok((ts, vals))
    }

    /// Reads every series blob; returns the problems found (empty when the block is sound).
    pub fn verify(&self) -> Vec<BlockError> {
        (0..self.len() as u32)
            .filter_map(|i| self.read(i).err())
            .collect()
    }
}
