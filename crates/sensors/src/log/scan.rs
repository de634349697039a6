//! The hot path: bytes of one file in, records out.
//!
//! Reads go into one reused buffer in blocks of [`BLOCK`]. Each block's complete lines are
//! searched once for every rule's literals (see `rules.rs`), then walked line by line with
//! `memchr` only as far as needed: when records are single lines and no timestamp is parsed,
//! lines between hits are only counted. Nothing is allocated per line.
//!
//! Records that are unfinished at the end of the data are not consumed: a last line without a
//! newline, and with `record_start` the last record (its stack trace may still be coming). The
//! returned position is then their start, so the next check reads them whole. They are consumed
//! only when the caller says the file is finished ([`Flush`]).
//!
//! Very long content is bounded: a record keeps at most [`MAX_RECORD`] bytes for matching and
//! events (later lines of the record are still counted), and a line longer than that keeps its
//! first [`MAX_RECORD`] bytes while the rest is skipped up to its newline.
//!
//! Layout: this file holds the types and the top-level flow (`scan`, `process`); `records`
//! assembles records from lines, `single_line` counts plain single-line records in bulk,
//! `buffer` keeps the buffer within bounds, and `lines` walks lines.

use std::io::{self, Read};

use memchr::{memchr, memrchr};
use regex::bytes::{CaptureLocations, Regex};

use super::rules::Matcher;
use super::timestamp::Parser;

mod buffer;
mod lines;
mod records;
mod single_line;

use lines::{Newlines, trim_cr};

/// Bytes asked for per read: big enough to amortise the system call and the searches' setup,
/// small enough to stay in the L2 cache while it is scanned.
pub(crate) const BLOCK: usize = 1 << 20;
/// Record bytes kept for matching and events.
pub(crate) const MAX_RECORD: usize = 2 << 20;

/// A position in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    /// Byte offset.
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
}

/// What to do with an unfinished end once the data runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Leave it for the next check.
    No,
    /// Consume it if the data ends exactly at this offset (the file did not grow while read).
    IfEndsAt(u64),
    /// Consume it: the file will not grow (rotated away).
    Always,
}

/// How a scan ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanEnd {
    /// Where the next check must start.
    pub next: Position,
    /// False when `stop` cut the scan short.
    pub complete: bool,
}

/// One record handed to the sink. Slices point into the scanner's buffer.
pub(crate) struct Record<'a> {
    /// The record without its final line terminator (lines joined by their own newlines);
    /// at most [`MAX_RECORD`] bytes.
    pub text: &'a [u8],
    /// The first line without its terminator.
    pub first_line: &'a [u8],
    /// 1-based number of the first line.
    pub line: u64,
    /// Lines in the record.
    pub lines: u64,
    /// Parsed timestamp, epoch milliseconds.
    pub time: Option<i64>,
    /// Byte range of the timestamp text in `first_line` (empty without one).
    pub time_span: (usize, usize),
    /// The prefilter saw a literal in one of its lines.
    pub candidate: bool,
    /// Content was cut to the bounds above.
    pub truncated: bool,
}

/// Receives records.
pub(crate) trait Sink {
    /// A record that may match (or must be looked at for its timestamp).
    fn record(&mut self, rec: &Record<'_>);
    /// `n` single-line records without a literal: only counted, with the span of the
    /// timestamps `times` found among them.
    fn plain(&mut self, n: u64, times: &Times);
}

/// How many timestamps were seen, and their range (meaningful when `count > 0`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Times {
    pub count: u64,
    pub min: i64,
    pub max: i64,
}

impl Default for Times {
    fn default() -> Self {
        Times {
            count: 0,
            min: i64::MAX,
            max: i64::MIN,
        }
    }
}

impl Times {
    #[inline]
    pub fn add(&mut self, t: i64) {
        self.min = self.min.min(t);
        self.max = self.max.max(t);
        self.count += 1;
    }
}

/// Finds record timestamps: an optional locating regex, then the layout parser.
pub(crate) struct Stamper {
    pub parser: Parser,
    pub pattern: Option<(Regex, usize, CaptureLocations)>,
}

impl Stamper {
    /// The record time alone: `stamp(line).0`.
    #[inline]
    fn time(&mut self, line: &[u8]) -> Option<i64> {
        match self.pattern {
            None => self.parser.time(line),
            Some(_) => self.stamp(line).0,
        }
    }

    fn stamp(&mut self, line: &[u8]) -> (Option<i64>, (usize, usize)) {
        if !self.parser.active() {
            return (None, (0, 0));
        }
        match &mut self.pattern {
            None => match self.parser.parse(line) {
                Some((ms, end)) => (Some(ms), (0, end)),
                None => (None, (0, 0)),
            },
            Some((re, group, locs)) => {
                if re.captures_read(locs, line).is_none() {
                    return (None, (0, 0));
                }
                let (Some((s, e)), Some(whole)) = (locs.get(*group), locs.get(0)) else {
                    return (None, (0, 0));
                };
                match self.parser.parse(&line[s..e]) {
                    Some((ms, _)) => (Some(ms), whole),
                    None => (None, (0, 0)),
                }
            }
        }
    }
}

/// A record being assembled.
struct Pending {
    start: usize,
    off: u64,
    line: u64,
    lines: u64,
    end: usize,
    first_end: usize,
    time: Option<i64>,
    span: (usize, usize),
    candidate: bool,
    frozen: bool,
    truncated: bool,
}

/// A line longer than the buffer allows: its head is kept at `pos..head_end`, the rest is
/// skipped until its newline.
#[derive(Clone, Copy)]
struct LongLine {
    head_end: usize,
    off: u64,
}

/// The reusable scanner of one check.
pub(crate) struct Scanner<'c> {
    matcher: &'c Matcher,
    record_start: Option<&'c Regex>,
    pub stamper: Option<Stamper>,
    buf: Vec<u8>,
    hits: Vec<usize>,
    newlines: Newlines,
}

/// Mutable position state of one scan, apart from the buffer so both can be borrowed.
struct Cursor {
    len: usize,
    pos: usize,
    /// File offset of buffer index 0, valid for indexes at or after `pos`.
    base: u64,
    line_no: u64,
    rec: Option<Pending>,
    long: Option<LongLine>,
}

impl<'c> Scanner<'c> {
    pub fn new(
        matcher: &'c Matcher,
        record_start: Option<&'c Regex>,
        stamper: Option<Stamper>,
    ) -> Self {
        Scanner {
            matcher,
            record_start,
            stamper,
            buf: Vec::new(),
            hits: Vec::new(),
            newlines: Newlines::new(),
        }
    }

    /// Reads `src` (positioned at `start`) to its end or until `stop` says so, feeding `sink`.
    pub fn scan<R: Read, S: Sink>(
        &mut self,
        mut src: R,
        start: Position,
        flush: Flush,
        stop: &mut dyn FnMut() -> bool,
        sink: &mut S,
    ) -> io::Result<ScanEnd> {
        if self.buf.len() < 2 * BLOCK {
            self.buf.resize(2 * BLOCK, 0);
        }
        let mut c = Cursor {
            len: 0,
            pos: 0,
            base: start.offset,
            line_no: start.line,
            rec: None,
            long: None,
        };
        let mut complete = true;
        loop {
            self.make_room(&mut c);
            let n = match src.read(&mut self.buf[c.len..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let searched = c.len;
            c.len += n;
            self.process(&mut c, searched, sink);
            if stop() {
                complete = false;
                break;
            }
        }
        let end_offset = c.base + c.len as u64;
        let finish = complete
            && match flush {
                Flush::No => false,
                Flush::IfEndsAt(size) => end_offset == size,
                Flush::Always => true,
            };
        if finish {
            if c.len > c.pos {
                let (head_end, off, truncated) = match c.long.take() {
                    Some(l) => (l.head_end, l.off, true),
                    None => (c.len, c.base + c.pos as u64, false),
                };
                let cand = self.matcher.has_prefilter()
                    && self.matcher.any_literal(&self.buf[c.pos..head_end]);
                let (ls, ce) = (c.pos, trim_cr(&self.buf, c.pos, head_end));
                self.line(&mut c, ls, ce, off, truncated, cand, sink);
                c.pos = c.len;
            }
            if let Some(r) = c.rec.take() {
                self.finalize(r, sink);
            }
            return Ok(ScanEnd {
                next: Position {
                    offset: end_offset,
                    line: c.line_no,
                },
                complete,
            });
        }
        let next = match (&c.rec, &c.long) {
            (Some(r), _) => Position {
                offset: r.off,
                line: r.line - 1,
            },
            (None, Some(l)) => Position {
                offset: l.off,
                line: c.line_no,
            },
            (None, None) => Position {
                offset: c.base + c.pos as u64,
                line: c.line_no,
            },
        };
        Ok(ScanEnd { next, complete })
    }

    /// Handles the complete lines in the buffer; `searched` is where new bytes begin (the bytes
    /// before it, from `pos`, hold no newline).
    fn process<S: Sink>(&mut self, c: &mut Cursor, searched: usize, sink: &mut S) {
        if let Some(l) = c.long {
            let from = searched.max(l.head_end);
            let Some(i) = memchr(b'\n', &self.buf[from..c.len]) else {
                return;
            };
            let nl = from + i;
            let cand = self.matcher.has_prefilter()
                && self.matcher.any_literal(&self.buf[c.pos..l.head_end]);
            let (ls, ce) = (c.pos, trim_cr(&self.buf, c.pos, l.head_end));
            c.long = None;
            self.line(c, ls, ce, l.off, true, cand, sink);
            c.pos = nl + 1;
        }
        let from = searched.max(c.pos);
        let Some(last) = memrchr(b'\n', &self.buf[from..c.len]) else {
            return;
        };
        let end = from + last + 1;
        let (start, matcher) = (c.pos, self.matcher);
        self.hits.clear();
        if matcher.has_prefilter() {
            matcher.candidate_lines(&self.buf, start, end, &mut self.hits);
        }
        let timestamps = self.stamper.as_ref().is_some_and(|s| s.parser.active());
        let single = self.record_start.is_none() && !matcher.checks_every_record();
        if single && !timestamps {
            self.count_between_hits(c, start, end, sink);
        } else if single {
            self.time_between_hits(c, start, end, sink);
        } else {
            let hits = std::mem::take(&mut self.hits);
            let mut next_hit = hits.iter().copied().peekable();
            let mut ls = start;
            // A plain loop rather than `memchr_iter`: the iterator would borrow the buffer
            // across `line`, which needs the scanner mutably. Both search the same way.
            while let Some(i) = memchr(b'\n', &self.buf[ls..end]) {
                let le = ls + i;
                let cand = next_hit.next_if_eq(&ls).is_some();
                let ce = trim_cr(&self.buf, ls, le);
                self.line(c, ls, ce, c.base + ls as u64, false, cand, sink);
                ls = le + 1;
            }
            self.hits = hits;
        }
        c.pos = end;
    }
}

#[cfg(test)]
mod tests;
