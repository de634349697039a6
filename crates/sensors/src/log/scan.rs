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

use std::io::{self, Read};

use memchr::{memchr, memchr_iter, memrchr};
use regex::bytes::{CaptureLocations, Regex};

use super::rules::Matcher;
use super::timestamp::Parser;

/// Bytes asked for per read: big enough to amortise the system call and the searches' setup,
/// small enough to stay in the L2 cache while it is scanned.
pub(crate) const BLOCK: usize = 1 << 20;
/// Record bytes kept for matching and events.
pub(crate) const MAX_RECORD: usize = 2 << 20;
/// Largest buffer: a kept record, a kept long-line head, and room for a block.
const MAX_BUF: usize = 2 * MAX_RECORD + BLOCK;

/// Finds the next newline, once per line where timestamps are read. On x86-64 with AVX2 it
/// calls `memchr`'s AVX2 routine directly: `memchr::memchr` picks the routine anew on every
/// call, which costs a few percent of the whole scan when lines are about 100 bytes.
#[derive(Clone, Copy)]
struct Newlines {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl Newlines {
    fn new() -> Self {
        Newlines {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(haystack);
        }
        memchr(b'\n', haystack)
    }
}

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

    /// Ensures at least a block of free space after `len`, moving kept bytes to the front,
    /// growing the buffer, and as a last resort cutting over-long records and lines.
    fn make_room(&mut self, c: &mut Cursor) {
        if self.buf.len() - c.len >= BLOCK {
            return;
        }
        self.compact(c);
        if self.buf.len() - c.len >= BLOCK {
            return;
        }
        if self.buf.len() < MAX_BUF {
            let want = (self.buf.len() * 2).min(MAX_BUF);
            self.buf.resize(want, 0);
            if self.buf.len() - c.len >= BLOCK {
                return;
            }
        }
        if let Some(r) = c.rec.as_mut()
            && !r.frozen
            && c.pos - r.start > MAX_RECORD
        {
            r.end = r.end.min(r.start + MAX_RECORD);
            r.first_end = r.first_end.min(r.end);
            r.frozen = true;
            r.truncated = true;
            self.compact(c);
        }
        if self.buf.len() - c.len < BLOCK {
            // The unfinished line at `pos` has no newline: keep its head, skip the rest.
            let head_end = match c.long {
                Some(l) => l.head_end,
                None => {
                    let head_end = c.pos + (c.len - c.pos).min(MAX_RECORD);
                    c.long = Some(LongLine {
                        head_end,
                        off: c.base + c.pos as u64,
                    });
                    head_end
                }
            };
            c.base += (c.len - head_end) as u64;
            c.len = head_end;
        }
    }

    /// Moves the kept bytes (a pending record, then everything from `pos`) to the front.
    fn compact(&mut self, c: &mut Cursor) {
        let (rec_start, rec_end) = match &c.rec {
            Some(r) if r.frozen => (r.start, r.end),
            Some(r) => (r.start, c.pos),
            None => (c.pos, c.pos),
        };
        if rec_start == 0 && rec_end == c.pos {
            return;
        }
        self.buf.copy_within(rec_start..rec_end, 0);
        let new_pos = rec_end - rec_start;
        self.buf.copy_within(c.pos..c.len, new_pos);
        let shift_tail = c.pos - new_pos;
        if let Some(r) = c.rec.as_mut() {
            r.start -= rec_start;
            r.end -= rec_start;
            r.first_end -= rec_start;
        }
        if let Some(l) = c.long.as_mut() {
            l.head_end -= shift_tail;
        }
        c.base += shift_tail as u64;
        c.len -= shift_tail;
        c.pos = new_pos;
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

    /// Single-line records with timestamps: lines holding a literal become records, the others
    /// only have their timestamp parsed and are counted in bulk.
    fn time_between_hits<S: Sink>(
        &mut self,
        c: &mut Cursor,
        start: usize,
        end: usize,
        sink: &mut S,
    ) {
        let mut times = Times::default();
        let mut plain = 0;
        let mut ls = start;
        for k in 0..=self.hits.len() {
            // The lines before the next hit (hits are line starts, in order) are plain.
            let stop = self.hits.get(k).copied().unwrap_or(end);
            let n = self.time_plain(ls, stop, &mut times);
            plain += n;
            c.line_no += n;
            let Some(i) = self.newlines.find(&self.buf[stop..end]) else {
                break;
            };
            let le = stop + i;
            let ce = trim_cr(&self.buf, stop, le);
            self.line(c, stop, ce, c.base + stop as u64, false, true, sink);
            ls = le + 1;
        }
        sink.plain(plain, &times);
    }

    /// Adds to `times` the timestamps of the whole lines in `buf[ls..stop]`; returns how many
    /// lines there are. The hot loop of a scan that matches nothing: the stamper's variant is
    /// chosen once rather than per line.
    #[inline]
    fn time_plain(&mut self, ls: usize, stop: usize, times: &mut Times) -> u64 {
        let (buf, newlines) = (&self.buf[..stop], self.newlines);
        match self.stamper.as_mut() {
            Some(s) if s.pattern.is_none() => {
                let parser = &mut s.parser;
                each_line(buf, ls, newlines, |line| {
                    if let Some(t) = parser.time(line) {
                        times.add(t);
                    }
                })
            }
            Some(s) => each_line(buf, ls, newlines, |line| {
                if let Some(t) = s.time(line) {
                    times.add(t);
                }
            }),
            None => memchr_iter(b'\n', &buf[ls..]).count() as u64,
        }
    }

    /// Single-line records without timestamps: only lines holding a literal become records;
    /// the lines between are counted in bulk.
    fn count_between_hits<S: Sink>(
        &mut self,
        c: &mut Cursor,
        start: usize,
        end: usize,
        sink: &mut S,
    ) {
        let mut at = start;
        for k in 0..self.hits.len() {
            let ls = self.hits[k];
            let skipped = memchr_iter(b'\n', &self.buf[at..ls]).count() as u64;
            sink.plain(skipped, &Times::default());
            c.line_no += skipped;
            let le = ls + memchr(b'\n', &self.buf[ls..end]).expect("a hit lies in a complete line");
            let ce = trim_cr(&self.buf, ls, le);
            c.line_no += 1;
            sink.record(&Record {
                text: &self.buf[ls..ce],
                first_line: &self.buf[ls..ce],
                line: c.line_no,
                lines: 1,
                time: None,
                time_span: (0, 0),
                candidate: true,
                truncated: false,
            });
            at = le + 1;
        }
        let rest = memchr_iter(b'\n', &self.buf[at..end]).count() as u64;
        sink.plain(rest, &Times::default());
        c.line_no += rest;
    }

    /// One line `buf[ls..ce]` (terminator excluded) at file offset `off`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn line<S: Sink>(
        &mut self,
        c: &mut Cursor,
        ls: usize,
        ce: usize,
        off: u64,
        truncated: bool,
        cand: bool,
        sink: &mut S,
    ) {
        c.line_no += 1;
        let content = &self.buf[ls..ce];
        let starts = match (self.record_start, &c.rec) {
            (None, _) | (_, None) => true,
            (Some(re), Some(_)) => re.is_match(content),
        };
        if !starts {
            let r = c.rec.as_mut().expect("checked above");
            r.lines += 1;
            r.candidate |= cand;
            if !r.frozen {
                r.end = ce;
                if truncated || r.end - r.start > MAX_RECORD {
                    r.end = r.end.min(r.start + MAX_RECORD);
                    r.frozen = true;
                    r.truncated = true;
                }
            }
            return;
        }
        if let Some(r) = c.rec.take() {
            self.finalize(r, sink);
        }
        let (time, span) = match &mut self.stamper {
            Some(s) => s.stamp(&self.buf[ls..ce]),
            None => (None, (0, 0)),
        };
        let r = Pending {
            start: ls,
            off,
            line: c.line_no,
            lines: 1,
            end: ce,
            first_end: ce,
            time,
            span,
            candidate: cand,
            frozen: truncated,
            truncated,
        };
        if self.record_start.is_some() {
            c.rec = Some(r);
        } else {
            self.finalize(r, sink);
        }
    }

    fn finalize<S: Sink>(&self, r: Pending, sink: &mut S) {
        sink.record(&Record {
            text: &self.buf[r.start..r.end],
            first_line: &self.buf[r.start..r.first_end],
            line: r.line,
            lines: r.lines,
            time: r.time,
            time_span: r.span,
            candidate: r.candidate,
            truncated: r.truncated,
        });
    }
}

/// Calls `f` with each whole line of `buf[ls..]` (terminator and CR excluded); returns how
/// many there were.
#[inline(always)]
fn each_line(buf: &[u8], mut ls: usize, newlines: Newlines, mut f: impl FnMut(&[u8])) -> u64 {
    let mut n = 0;
    while let Some(i) = newlines.find(&buf[ls..]) {
        let le = ls + i;
        f(&buf[ls..trim_cr(buf, ls, le)]);
        n += 1;
        ls = le + 1;
    }
    n
}

/// `ce` without a preceding `\r` (CRLF files).
#[inline]
fn trim_cr(buf: &[u8], ls: usize, ce: usize) -> usize {
    if ce > ls && buf[ce - 1] == b'\r' {
        ce - 1
    } else {
        ce
    }
}

#[cfg(test)]
mod tests;
