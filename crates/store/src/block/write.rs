//! Writing a block file: series blobs as they come (ascending label order), then the index,
//! the meta and the footer; written to a temporary name, synced, and renamed into place so a
//! reader never sees half a block.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use model::Labels;

use super::{
    BLOB_PREFIX, BlockMeta, FOOTER_MAGIC, HEADER_LEN, MAGIC, VERSION, encode_series_data, file_name,
};
use crate::codec::{put_bytes, put_uvarint, put_varint};

struct Entry {
    labels: Labels,
    offset: u64,
    min_t: i64,
    max_t: i64,
    count: u64,
}

/// Builds one block file.
pub struct BlockWriter {
    dir: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    entries: Vec<Entry>,
    scratch: Vec<u8>,
    min_t: i64,
    max_t: i64,
    samples: u64,
}

impl BlockWriter {
    /// Starts `<dir>/<seq>.block.tmp`.
    pub fn create(dir: &Path, seq: u64) -> io::Result<BlockWriter> {
        let tmp = dir.join(format!("{}.tmp", file_name(seq)));
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut header = [0u8; HEADER_LEN as usize];
        header[..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out.write_all(&header)?;
        Ok(BlockWriter {
            dir: dir.to_path_buf(),
            tmp,
            out,
            pos: HEADER_LEN,
            entries: Vec::new(),
            scratch: Vec::new(),
            min_t: i64::MAX,
            max_t: i64::MIN,
            samples: 0,
        })
    }

    fn blob(&mut self, payload_from_scratch: bool, payload: &[u8]) -> io::Result<u64> {
        let payload = if payload_from_scratch {
            &self.scratch[..]
        } else {
            payload
        };
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::other("block blob larger than 4 GiB"))?;
        let at = self.pos;
        self.out.write_all(&len.to_le_bytes())?;
        self.out
            .write_all(&crc32fast::hash(payload).to_le_bytes())?;
        self.out.write_all(payload)?;
        self.pos += BLOB_PREFIX + payload.len() as u64;
        Ok(at)
    }

    /// Adds a series. Label sets must come in ascending order, samples sorted by time with
    /// unique timestamps; series without samples are skipped.
    pub fn add(&mut self, labels: Labels, ts: &[i64], vals: &[f64]) -> io::Result<()> {
        let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
            return Ok(());
        };
        if self.entries.last().is_some_and(|e| e.labels >= labels) {
            return Err(io::Error::other("block series added out of label order"));
        }
        self.scratch.clear();
        let mut payload = std::mem::take(&mut self.scratch);
        encode_series_data(ts, vals, &mut payload)?;
        self.scratch = payload;
        let offset = self.blob(true, &[])?;
        self.min_t = self.min_t.min(first);
        self.max_t = self.max_t.max(last);
        self.samples += ts.len() as u64;
        self.entries.push(Entry {
            labels,
            offset,
            min_t: first,
            max_t: last,
            count: ts.len() as u64,
        });
        Ok(())
    }

    /// Series added so far.
    pub fn series(&self) -> usize {
        self.entries.len()
    }

    /// Writes index, meta and footer, syncs, renames into place and syncs the directory.
    /// `meta`'s time range and counts are filled in here. Returns the final path and size.
    pub fn finish(mut self, mut meta: BlockMeta) -> io::Result<(PathBuf, u64, BlockMeta)> {
        meta.min_t = if self.entries.is_empty() {
            0
        } else {
            self.min_t
        };
        meta.max_t = if self.entries.is_empty() {
            -1
        } else {
            self.max_t
        };
        meta.series = self.entries.len() as u64;
        meta.samples = self.samples;

        let index = self.encode_index();
        let index_at = self.blob(false, &index)?;
        let mut m = Vec::new();
        meta.encode(&mut m);
        let meta_at = self.blob(false, &m)?;
        let mut footer = Vec::with_capacity(24);
        footer.extend_from_slice(&index_at.to_le_bytes());
        footer.extend_from_slice(&meta_at.to_le_bytes());
        let crc = crc32fast::hash(&footer);
        footer.extend_from_slice(&crc.to_le_bytes());
        footer.extend_from_slice(&FOOTER_MAGIC);
        self.out.write_all(&footer)?;
        self.pos += footer.len() as u64;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let path = self.dir.join(file_name(meta.seq));
        std::fs::rename(&self.tmp, &path)?;
        crate::wal::sync_dir(&self.dir)?;
        Ok((path, self.pos, meta))
    }

    /// Symbols (sorted), series (label pairs as symbol ids, blob offset, time range, count),
    /// postings (name -> value -> series ordinals).
    fn encode_index(&self) -> Vec<u8> {
        let mut symbols: BTreeMap<&str, u32> = BTreeMap::new();
        for e in &self.entries {
            for (n, v) in e.labels.iter() {
                symbols.insert(n, 0);
                symbols.insert(v, 0);
            }
        }
        for (i, id) in symbols.values_mut().enumerate() {
            *id = i as u32;
        }
        let mut out = Vec::new();
        put_uvarint(&mut out, symbols.len() as u64);
        for s in symbols.keys() {
            put_bytes(&mut out, s.as_bytes());
        }
        let mut postings: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
        put_uvarint(&mut out, self.entries.len() as u64);
        for (i, e) in self.entries.iter().enumerate() {
            put_uvarint(&mut out, e.labels.len() as u64);
            for (n, v) in e.labels.iter() {
                let (n, v) = (symbols[n], symbols[v]);
                put_uvarint(&mut out, u64::from(n));
                put_uvarint(&mut out, u64::from(v));
                postings.entry((n, v)).or_default().push(i as u32);
            }
            put_uvarint(&mut out, e.offset);
            put_varint(&mut out, e.min_t);
            put_uvarint(&mut out, e.max_t.abs_diff(e.min_t));
            put_uvarint(&mut out, e.count);
        }
        // Grouped by name: count names first.
        type Values<'a> = Vec<(u32, &'a Vec<u32>)>;
        let mut names: Vec<(u32, Values<'_>)> = Vec::new();
        for ((n, v), ids) in &postings {
            match names.last_mut() {
                Some((last, values)) if last == n => values.push((*v, ids)),
                _ => names.push((*n, vec![(*v, ids)])),
            }
        }
        put_uvarint(&mut out, names.len() as u64);
        for (n, values) in names {
            put_uvarint(&mut out, u64::from(n));
            put_uvarint(&mut out, values.len() as u64);
            for (v, ids) in values {
                put_uvarint(&mut out, u64::from(v));
                put_uvarint(&mut out, ids.len() as u64);
                let mut prev = 0u32;
                for (k, &id) in ids.iter().enumerate() {
                    put_uvarint(&mut out, u64::from(if k == 0 { id } else { id - prev }));
                    prev = id;
                }
            }
        }
        out
    }

    /// Abandons the block, removing the temporary file.
    pub fn abandon(self) {
        let tmp = self.tmp.clone();
        drop(self);
        let _ = std::fs::remove_file(tmp);
    }
}
