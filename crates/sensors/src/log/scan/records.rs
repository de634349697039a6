//! Records from lines: a line either starts a record or, under `record_start`, continues the
//! pending one (bounded to [`MAX_RECORD`] bytes); finished records go to the sink.

use super::{Cursor, MAX_RECORD, Pending, Record, Scanner, Sink};

impl Scanner<'_> {
    /// One line `buf[ls..ce]` (terminator excluded) at file offset `off`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn line<S: Sink>(
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

    pub(super) fn finalize<S: Sink>(&self, r: Pending, sink: &mut S) {
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
