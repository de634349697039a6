//! Line walking for the hot path: finding newlines with the routine picked once, calling a
//! closure per whole line, and trimming the `\r` of CRLF ends.

use memchr::memchr;

/// Finds the next newline, once per line where timestamps are read. On x86-64 with AVX2 it
/// calls `memchr`'s AVX2 routine directly: `memchr::memchr` picks the routine anew on every
/// call, which costs a few percent of the whole scan when lines are about 100 bytes.
#[derive(Clone, Copy)]
pub(super) struct Newlines {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl Newlines {
    pub(super) fn new() -> Self {
        Newlines {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    #[inline]
    pub(super) fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(haystack);
        }
        memchr(b'\n', haystack)
    }
}

/// Calls `f` with each whole line of `buf[ls..]` (terminator and CR excluded); returns how
/// many there were.
#[inline(always)]
pub(super) fn each_line(
    buf: &[u8],
    mut ls: usize,
    newlines: Newlines,
    mut f: impl FnMut(&[u8]),
) -> u64 {
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
pub(super) fn trim_cr(buf: &[u8], ls: usize, ce: usize) -> usize {
    if ce > ls && buf[ce - 1] == b'\r' {
        ce - 1
    } else {
        ce
    }
}
