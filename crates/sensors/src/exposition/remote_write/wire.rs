//! The protobuf wire format of a `WriteRequest`, walked by hand over the decompressed bytes.
//!
//! Why not `prost::Message::decode`: it allocates a `String` per label and a `Vec` per time
//! series, all dropped as soon as the labels are copied into the batch's arena; that was most of
//! the cost of remote-write ingest. Here label names and values are `&str` slices of the
//! decompressed buffer. What is accepted is exactly what prost accepts (unknown fields of every
//! wire type skipped, groups nested at most as deep as prost's recursion limit, the last
//! occurrence of a scalar field winning), which a property test checks against prost itself.

use std::borrow::Cow;
use std::fmt;

use super::Sample;

/// prost's recursion limit: how deep messages and skipped groups may nest.
const RECURSION_LIMIT: u32 = 100;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// A malformed request: what, where in the message (a field path) and at which byte of the
/// decompressed request.
#[derive(Debug)]
pub(super) struct WireError {
    at: usize,
    path: String,
    what: Cow<'static, str>,
}

impl WireError {
    fn new(at: usize, what: impl Into<Cow<'static, str>>) -> Self {
        WireError {
            at,
            path: String::new(),
            what: what.into(),
        }
    }

    /// The same error, its path prefixed by the enclosing field's.
    fn within(mut self, field: impl fmt::Display) -> Self {
        self.path = if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{field}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(
            f,
            "{} (at byte {} of the decompressed request)",
            self.what, self.at
        )
    }
}

fn wire_type_name(wire: u8) -> &'static str {
    match wire {
        VARINT => "varint",
        FIXED64 => "64-bit",
        LEN => "length-delimited",
        START_GROUP => "start-group",
        END_GROUP => "end-group",
        FIXED32 => "32-bit",
        _ => "invalid",
    }
}

/// A cursor over one message; `base` is where the message starts in the whole request, so
/// errors give absolute offsets.
#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, WireError> {
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.varint_slow(),
        }
    }

    #[cold]
    fn varint_slow(&mut self) -> Result<u64, WireError> {
        let start = self.offset();
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(WireError::new(
                    start,
                    "varint runs past the end of its message",
                ));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                // The tenth byte holds the 64th bit only.
                if i == 9 && b > 1 {
                    break;
                }
                return Ok(value);
            }
        }
        Err(WireError::new(start, "varint overflows 64 bits"))
    }

    /// A field key: field number and wire type.
    #[inline]
    fn key(&mut self) -> Result<(u32, u8), WireError> {
        let at = self.offset();
        let key = self.varint()?;
        let Ok(key) = u32::try_from(key) else {
            return Err(WireError::new(
                at,
                format!("field key {key} is out of range"),
            ));
        };
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(WireError::new(
                at,
                format!("field {} has invalid wire type {wire}", key >> 3),
            ));
        }
        if key >> 3 == 0 {
            return Err(WireError::new(at, "field number 0 is not valid"));
        }
        Ok((key >> 3, wire))
    }

    /// The next `len` bytes.
    fn take(&mut self, len: u64, at: usize) -> Result<Reader<'a>, WireError> {
        let rest = self.buf.len() - self.pos;
        if let Ok(len) = usize::try_from(len)
            && len <= rest
        {
            let start = self.pos;
            self.pos += len;
            return Ok(Reader {
                buf: &self.buf[start..start + len],
                pos: 0,
                base: self.base + start,
            });
        }
        let what = if i64::try_from(len).is_err() {
            format!(
                "length is negative ({} as a signed number)",
                len.cast_signed()
            )
        } else {
            format!("length {len} runs past the end of its message ({rest} bytes left)")
        };
        Err(WireError::new(at, what))
    }

    /// A length-delimited field's content.
    #[inline]
    fn delimited(&mut self) -> Result<Reader<'a>, WireError> {
        let at = self.offset();
        let len = self.varint()?;
        self.take(len, at)
    }

    fn fixed64(&mut self) -> Result<u64, WireError> {
        let at = self.offset();
        let bytes = self.take(8, at)?.buf;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(word))
    }

    fn str(&mut self) -> Result<&'a str, WireError> {
        let field = self.delimited()?;
        std::str::from_utf8(field.buf)
            .map_err(|e| WireError::new(field.base + e.valid_up_to(), "string is not valid UTF-8"))
    }

    /// Skips a field this decoder does not read (its key was at `at`), as prost does: `depth` is
    /// what is left of the recursion limit in the enclosing message.
    fn skip(&mut self, field: u32, wire: u8, at: usize, depth: u32) -> Result<(), WireError> {
        if depth == 0 {
            return Err(WireError::new(at, "groups nest too deep"));
        }
        match wire {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                let here = self.offset();
                self.take(8, here)?;
            }
            FIXED32 => {
                let here = self.offset();
                self.take(4, here)?;
            }
            LEN => {
                self.delimited()?;
            }
            START_GROUP => loop {
                let inner_at = self.offset();
                let (inner, inner_wire) = self.key()?;
                if inner_wire == END_GROUP {
                    if inner != field {
                        return Err(WireError::new(
                            inner_at,
                            format!("group {field} ends with the end of group {inner}"),
                        ));
                    }
                    break;
                }
                self.skip(inner, inner_wire, inner_at, depth - 1)?;
            },
            _ => {
                return Err(WireError::new(
                    at,
                    format!("end of group {field} without its start"),
                ));
            }
        }
        Ok(())
    }
}

/// Checks that known field `field` came with wire type `want`.
fn expect(field: u32, wire: u8, want: u8, at: usize) -> Result<(), WireError> {
    if wire == want {
        Ok(())
    } else {
        Err(WireError::new(
            at,
            format!(
                "field {field} has wire type {wire} ({}), expected {want} ({})",
                wire_type_name(wire),
                wire_type_name(want)
            ),
        ))
    }
}

/// How many time series `raw` holds, for reserving room; stops counting at anything malformed
/// (the walk proper reports it).
pub(super) fn count_series(raw: &[u8]) -> usize {
    let mut r = Reader::new(raw);
    let mut n = 0;
    while !r.at_end() {
        let at = r.offset();
        let Ok((field, wire)) = r.key() else { break };
        if r.skip(field, wire, at, 1).is_err() {
            break;
        }
        n += usize::from(field == 1);
    }
    n
}

/// One `TimeSeries` of a request, walked: its samples, and its label fields not yet decoded.
/// `'r` is the request's lifetime, `'w` the walk's (which reuses its vectors per series).
pub(super) struct Entry<'r, 'w> {
    /// Position of the series in the request (0-based).
    pub index: usize,
    /// Its samples, in payload order.
    pub samples: &'w [Sample],
    /// The message the label fields are in.
    series: Reader<'r>,
    /// Where its label fields are in `series`, adjacent fields merged.
    label_fields: &'w [(usize, usize)],
}

impl<'r> Entry<'r, '_> {
    /// The bytes that spell the labels (every label field, key and length included) when they
    /// lie together, as every sender writes them; `None` when other fields come between.
    ///
    /// Equal bytes decode to equal labels, so a receiver may remember what it made of a
    /// spelling and skip decoding and checking it the next time.
    pub fn spelling(&self) -> Option<&'r [u8]> {
        match self.label_fields {
            [(start, end)] => Some(&self.series.buf[*start..*end]),
            [] => Some(&[]),
            _ => None,
        }
    }

    /// Decodes the labels into `out`, in payload order.
    pub fn labels(&self, out: &mut Vec<(&'r str, &'r str)>) -> Result<(), WireError> {
        out.clear();
        decode_labels(self.series, self.label_fields, out)
            .map_err(|e| e.within(format_args!("timeseries[{}]", self.index)))
    }
}

/// Calls `each` for every `TimeSeries` of the request in `raw`, in order. Stops at the first
/// malformed byte, or at the first error `each` returns (from [`Entry::labels`]): a series'
/// labels are only decoded when `each` asks, yet an error is still the first malformed byte's.
pub(super) fn for_each_series<'r>(
    raw: &'r [u8],
    mut each: impl FnMut(&Entry<'r, '_>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let mut label_fields = Vec::new();
    let mut samples = Vec::new();
    let mut r = Reader::new(raw);
    let mut index = 0;
    while !r.at_end() {
        let at = r.offset();
        let (field, wire) = r.key()?;
        if field == 1 {
            let series = (|| {
                expect(field, wire, LEN, at)?;
                r.delimited()
            })()
            .map_err(|e| e.within(format_args!("timeseries[{index}]")))?;
            time_series(series, &mut label_fields, &mut samples)
                .map_err(|e| e.within(format_args!("timeseries[{index}]")))?;
            each(&Entry {
                index,
                samples: &samples,
                series,
                label_fields: &label_fields,
            })?;
            index += 1;
        } else {
            r.skip(field, wire, at, RECURSION_LIMIT)?;
        }
    }
    Ok(())
}

/// Walks one `TimeSeries`: decodes its samples and notes where its label fields are. When the
/// message is malformed, a malformed label before the bad byte is the error reported, as a walk
/// that decoded every label on the way would report it.
fn time_series(
    series: Reader<'_>,
    label_fields: &mut Vec<(usize, usize)>,
    samples: &mut Vec<Sample>,
) -> Result<(), WireError> {
    label_fields.clear();
    samples.clear();
    let walked = walk_time_series(series, label_fields, samples);
    if walked.is_err() {
        decode_labels(series, label_fields, &mut Vec::new())?;
    }
    walked
}

fn walk_time_series(
    mut r: Reader<'_>,
    label_fields: &mut Vec<(usize, usize)>,
    samples: &mut Vec<Sample>,
) -> Result<(), WireError> {
    while !r.at_end() {
        let start = r.pos;
        let at = r.offset();
        let (field, wire) = r.key()?;
        match field {
            1 if wire == LEN => {
                // Structure only; the content is checked when the labels are decoded. A
                // length running past the end is still an error here, at its own byte.
                r.delimited().map_err(|e| {
                    e.within(format_args!("labels[{}]", label_count(label_fields, r)))
                })?;
                match label_fields.last_mut() {
                    Some((_, end)) if *end == start => *end = r.pos,
                    _ => label_fields.push((start, r.pos)),
                }
            }
            1 => {
                let j = label_count(label_fields, r);
                expect(field, wire, LEN, at).map_err(|e| e.within(format_args!("labels[{j}]")))?;
            }
            2 => {
                let j = samples.len();
                let s = (|| {
                    expect(field, wire, LEN, at)?;
                    sample(r.delimited()?)
                })();
                samples.push(s.map_err(|e| e.within(format_args!("samples[{j}]")))?);
            }
            _ => r.skip(field, wire, at, RECURSION_LIMIT - 1)?,
        }
    }
    Ok(())
}

/// How many label fields lie in `fields` of the message `r` walks (only for error paths).
#[cold]
fn label_count(fields: &[(usize, usize)], r: Reader<'_>) -> usize {
    let mut n = 0;
    for &(start, end) in fields {
        let mut inner = Reader {
            buf: &r.buf[start..end],
            pos: 0,
            base: r.base + start,
        };
        while !inner.at_end() && inner.key().is_ok() && inner.delimited().is_ok() {
            n += 1;
        }
    }
    n
}

/// Decodes the label fields at `fields` of `series` into `out` (appending).
fn decode_labels<'r>(
    series: Reader<'r>,
    fields: &[(usize, usize)],
    out: &mut Vec<(&'r str, &'r str)>,
) -> Result<(), WireError> {
    for &(start, end) in fields {
        let mut r = Reader {
            buf: &series.buf[start..end],
            pos: 0,
            base: series.base + start,
        };
        while !r.at_end() {
            let j = out.len();
            // Only label fields were recorded here, with their lengths already checked.
            let label = r.key().and_then(|_| label(r.delimited()?));
            out.push(label.map_err(|e| e.within(format_args!("labels[{j}]")))?);
        }
    }
    Ok(())
}

fn label(mut r: Reader<'_>) -> Result<(&str, &str), WireError> {
    let (mut name, mut value) = ("", "");
    while !r.at_end() {
        let at = r.offset();
        let (field, wire) = r.key()?;
        match field {
            1 => {
                expect(field, wire, LEN, at).map_err(|e| e.within("name"))?;
                name = r.str().map_err(|e| e.within("name"))?;
            }
            2 => {
                expect(field, wire, LEN, at).map_err(|e| e.within("value"))?;
                value = r.str().map_err(|e| e.within("value"))?;
            }
            _ => r.skip(field, wire, at, RECURSION_LIMIT - 2)?,
        }
    }
    Ok((name, value))
}

fn sample(mut r: Reader<'_>) -> Result<Sample, WireError> {
    let mut s = Sample::default();
    while !r.at_end() {
        let at = r.offset();
        let (field, wire) = r.key()?;
        match field {
            1 => {
                expect(field, wire, FIXED64, at).map_err(|e| e.within("value"))?;
                s.value = f64::from_bits(r.fixed64().map_err(|e| e.within("value"))?);
            }
            2 => {
                expect(field, wire, VARINT, at).map_err(|e| e.within("timestamp"))?;
                s.timestamp = r.varint().map_err(|e| e.within("timestamp"))?.cast_signed();
            }
            _ => r.skip(field, wire, at, RECURSION_LIMIT - 2)?,
        }
    }
    Ok(s)
}
