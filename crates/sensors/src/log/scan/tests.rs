//! The line walk of the hot path against a naive byte loop: every line end found, in order,
//! whatever the alignment, length and density of newlines, with CRLF ends trimmed.

use proptest::prelude::*;

use super::lines::{Newlines, each_line};

/// The whole lines of `buf[from..]` the slow way: the unfinished tail is not a line, and a
/// line's final `\r` is not content.
fn naive_lines(buf: &[u8], from: usize) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line = Vec::new();
    for &b in &buf[from..] {
        if b == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(std::mem::take(&mut line));
        } else {
            line.push(b);
        }
    }
    lines
}

/// What the scanner's walk sees; also checks each `find` against the next newline.
fn walked_lines(buf: &[u8], from: usize) -> Vec<Vec<u8>> {
    let newlines = Newlines::new();
    let mut ls = from;
    loop {
        let want = buf[ls..].iter().position(|&b| b == b'\n');
        assert_eq!(newlines.find(&buf[ls..]), want, "find from {ls} in {buf:?}");
        match want {
            Some(i) => ls += i + 1,
            None => break,
        }
    }
    let mut lines = Vec::new();
    let n = each_line(buf, from, newlines, |l| lines.push(l.to_vec()));
    assert_eq!(n, lines.len() as u64);
    lines
}

/// Bytes where `\n` has weight `nl` out of 64 (and `\r` shows up too).
fn bytes(nl: u32, len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        nl => Just(b'\n'),
        4 => Just(b'\r'),
        (60 - nl.min(56)) => any::<u8>(),
    ];
    proptest::collection::vec(byte, len)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn line_walk_agrees_with_a_naive_loop(
        (lead, data) in (0usize..64, prop_oneof![bytes(1, 0..300), bytes(16, 0..300), bytes(56, 0..300)]),
        lead_byte in prop_oneof![Just(b'\n'), any::<u8>()],
    ) {
        // `lead` bytes before the start put it at every alignment; newlines there must not
        // be reported.
        let mut buf = vec![lead_byte; lead];
        buf.extend_from_slice(&data);
        prop_assert_eq!(walked_lines(&buf, lead), naive_lines(&buf, lead));
    }
}

#[test]
fn line_walk_agrees_at_every_alignment_and_length() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = |below: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % below
    };
    for density in [3, 40, 200] {
        let data: Vec<u8> = (0..300 + 64)
            .map(|_| match random(density) {
                0 => b'\n',
                1 => b'\r',
                _ => b'a' + random(26) as u8,
            })
            .collect();
        for lead in 0..64 {
            for len in 0..300 {
                let buf = &data[..lead + len];
                assert_eq!(
                    walked_lines(buf, lead),
                    naive_lines(buf, lead),
                    "{lead} {len}"
                );
            }
        }
    }
}
