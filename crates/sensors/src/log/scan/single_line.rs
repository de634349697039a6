//! The fast paths for single-line records: lines without a rule's literal are not made into
//! records, only counted in bulk (with their timestamps parsed when the monitor reads them).

use memchr::{memchr, memchr_iter};

use super::lines::{each_line, trim_cr};
use super::{Cursor, Record, Scanner, Sink, Times};

impl Scanner<'_> {
    /// Single-line records with timestamps: lines holding a literal become records, the others
    /// only have their timestamp parsed and are counted in bulk.
    pub(super) fn time_between_hits<S: Sink>(
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
    pub(super) fn count_between_hits<S: Sink>(
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
}
