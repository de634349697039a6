//! Keeping the scan buffer within bounds: kept bytes move to the front, the buffer grows up to
//! a limit, and only then are an over-long record or line cut.

use super::{BLOCK, Cursor, LongLine, MAX_RECORD, Scanner};

/// Largest buffer: a kept record, a kept long-line head, and room for a block.
const MAX_BUF: usize = 2 * MAX_RECORD + BLOCK;

impl Scanner<'_> {
    /// Ensures at least a block of free space after `len`, moving kept bytes to the front,
    /// growing the buffer, and as a last resort cutting over-long records and lines.
    pub(super) fn make_room(&mut self, c: &mut Cursor) {
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
}
