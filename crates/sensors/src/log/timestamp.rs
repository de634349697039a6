//! Record timestamps: a strftime-like layout compiled once, then parsed from raw bytes without
//! allocation.
//!
//! Why our own parser rather than `jiff::fmt::strtime`: the monitor parses the timestamp of every
//! record (the `records_with_timestamp` fact counts them), so at millions of records per second
//! the parse must cost a few nanoseconds. A layout is a short list of [`Item`]s matched byte by
//! byte; the civil date is turned into epoch milliseconds with integer arithmetic, and only named
//! time zones go through jiff, behind a one-minute cache (offsets change at most every few
//! months, and never within a minute).
//!
//! Consecutive records mostly share the text up to their seconds (the layout's *head*), so the
//! parser keeps the last head's text, fields and instant: a record with the same head (or, when
//! the layout has a year and a date, the same head but for its seconds) costs a comparison of
//! about twenty bytes and the reading of its fraction, and gives exactly what a full parse
//! gives (`timestamp/tests.rs` checks this against a parse without caches). Which records count
//! as having a timestamp therefore never depends on the cache: every record is still parsed.
//!
//! Layout: this file holds the types and the parse flow (short path, full parse, the layout
//! tried); `layout` compiles formats and presets, `zone` reads configured zones, `matching`
//! matches items byte by byte, `head_cache` keeps the last head, and `instant` turns fields
//! into epoch milliseconds.

use jiff::tz::TimeZone;
use model::Timestamp;

mod head_cache;
mod instant;
mod layout;
mod matching;
mod zone;

use head_cache::{HEAD_CACHE_BYTES, HeadCache, head_eq, second_at};
use matching::{civil_from_days, fraction_millis, match_items, match_tail, opt_fraction};
// The tests check the civil-date arithmetic through this module's names.
#[cfg(test)]
use matching::days_from_civil;

pub(crate) use layout::preset_names;

/// One step of a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    /// This exact byte.
    Lit(u8),
    /// One or more spaces or tabs (a space in a format, like strptime).
    Space,
    /// `%Y`: four-digit year.
    Year4,
    /// `%y`: two-digit year, 69-99 → 19xx, 00-68 → 20xx (POSIX).
    Year2,
    /// `%m`: month 1-12, one or two digits.
    Month,
    /// `%d` / `%e`: day of month, one or two digits, `%e` allowing a leading space.
    Day,
    /// `%H`: hour 0-23.
    Hour,
    /// `%I`: hour 1-12, made 24-hour by a following [`Item::AmPm`].
    Hour12,
    /// `%p`: AM or PM.
    AmPm,
    /// `%M`: minute.
    Minute,
    /// `%S`: second (60 accepted for leap seconds, counted as 59).
    Second,
    /// `%f`: fraction digits, 1 to 9.
    Fraction,
    /// `%.f`: optionally `.` or `,` followed by fraction digits.
    OptFraction,
    /// `%b` / `%h` / `%B`: English month name, abbreviated or full, any case.
    MonthName,
    /// `%a` / `%A`: English weekday name, abbreviated or full (checked, then ignored).
    WeekdayName,
    /// `%z`: `Z`, `+hh`, `+hhmm` or `+hh:mm`.
    Offset,
    /// Like [`Item::Offset`] but optional (ISO 8601 preset).
    OptOffset,
    /// `%Z`: a zone abbreviation; `UTC`, `GMT` and `Z` mean offset 0, others are skipped and
    /// the configured zone applies (abbreviations are ambiguous: CST is three zones).
    ZoneName,
    /// `T` or a space between date and time (ISO 8601 preset).
    DateTimeSep,
    /// `%s`: seconds since the Unix epoch (may be followed by `%.f`).
    EpochSeconds,
    /// Milliseconds since the Unix epoch (preset `epoch_ms`).
    EpochMillis,
}

/// A compiled timestamp layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    items: Vec<Item>,
    /// Items before the first fraction: in a busy log consecutive records share this text (the
    /// same second), so its parse is cached and only the rest is read again.
    head: usize,
    /// Whether equal head text implies equal fields: the head's last item must have a fixed
    /// width, or the bytes after it could change what it consumed (`%d` reads 1 or 2 digits).
    cacheable: bool,
    /// Index of the head's only `%S`, when there is one.
    second: Option<usize>,
    /// The items after the head, as the short path of [`Parser::parse`] knows them.
    tail: Tail,
}

/// The common tails (items after the head) of layouts: nothing, or a fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    Empty,
    Fraction,
    OptFraction,
    /// ISO 8601: an optional fraction, then an optional offset.
    OptFractionOptOffset,
    /// Anything else: read by [`match_tail`].
    Other,
}

/// A time zone as the parser uses it.
#[derive(Clone, Debug)]
pub(crate) enum Zone {
    /// A fixed offset in seconds east of UTC (UTC itself is 0).
    Fixed(i32),
    /// A named zone with daylight saving time.
    Named(TimeZone),
}

/// Fields read from the text before they become an instant.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Fields {
    year: Option<i32>,
    month: u32,
    day: u32,
    hour: u32,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    nanos: u32,
    offset: Option<i32>,
    epoch_ms: Option<i64>,
    has_date: bool,
}

/// A parser for one check: layouts, zone, the check's `now` (to complete dates that lack a year
/// or a day), and the offset cache.
pub(crate) struct Parser {
    layouts: Vec<Layout>,
    /// Auto-detection: try every layout, the last one that worked first, and give up after
    /// [`AUTO_GIVE_UP`] records in a row matched none of them (a log without timestamps should
    /// not pay for eight failed attempts per record).
    auto: bool,
    last_good: usize,
    misses: u32,
    zone: Zone,
    now_ms: i64,
    today: (i32, u32, u32),
    cache_key: i64,
    cache_offset: i32,
    head: Option<HeadCache>,
    /// The last instant computed, for fields equal but for the fraction.
    last: Option<(Fields, i64)>,
}

/// Records in a row without a recognisable timestamp after which auto-detection stops trying.
const AUTO_GIVE_UP: u32 = 1000;

impl Parser {
    /// A parser for the given layouts (several only when auto-detecting).
    pub(crate) fn new(layouts: Vec<Layout>, auto: bool, zone: Zone, now: Timestamp) -> Parser {
        let now_ms = now.as_millis();
        let local_secs = now_ms.div_euclid(1000)
            + match &zone {
                Zone::Fixed(off) => i64::from(*off),
                Zone::Named(tz) => i64::from(tz.to_offset(now.to_jiff()).seconds()),
            };
        let today = civil_from_days(local_secs.div_euclid(86_400));
        Parser {
            layouts,
            auto,
            last_good: 0,
            misses: 0,
            zone,
            now_ms,
            today,
            cache_key: i64::MIN,
            cache_offset: 0,
            head: None,
            last: None,
        }
    }

    /// Whether this parser may find anything (false once auto-detection gave up).
    pub(crate) fn active(&self) -> bool {
        !(self.layouts.is_empty() || self.auto && self.misses >= AUTO_GIVE_UP)
    }

    /// Parses a timestamp at the start of `text`: epoch milliseconds and the bytes it took.
    ///
    /// Records of the same second (or, with a year and a date, the same minute) as the last
    /// one take a short path with the same result: the head text is compared with the cached
    /// one, only the tail (fraction) is read, and the cached instant is reused.
    #[inline]
    pub(crate) fn parse(&mut self, text: &[u8]) -> Option<(i64, usize)> {
        if let Some(found) = self.parse_cached::<true>(text) {
            return Some(found);
        }
        self.parse_full(text)
    }

    /// The instant alone: `parse(text).map(|(ms, _)| ms)`, a little faster on the short path
    /// (a fraction's digits after the milliseconds are not read when nothing follows it).
    #[inline]
    pub(crate) fn time(&mut self, text: &[u8]) -> Option<i64> {
        if let Some((ms, _)) = self.parse_cached::<false>(text) {
            return Some(ms);
        }
        self.parse_full(text).map(|(ms, _)| ms)
    }

    /// The short path of [`Parser::parse`]: `None` when it does not apply. Without `END` the
    /// returned end position is meaningless.
    #[inline]
    fn parse_cached<const END: bool>(&mut self, text: &[u8]) -> Option<(i64, usize)> {
        let h = self.head.as_mut()?;
        // What `parse_full` would try first: the only layout, or the last one that worked.
        // Auto-detection stays where it is: that layout succeeds, as `parse_full` would find.
        if self.auto && (h.layout != self.last_good || self.misses >= AUTO_GIVE_UP) {
            return None;
        }
        let ms = h.instant_of(text)?;
        let (millis, end) = match (END, h.tail) {
            // Only the milliseconds: a fraction's further digits need not be read.
            (false, Tail::Empty) => (0, 0),
            (false, Tail::Fraction) => (fraction_millis(text, h.len)?, 0),
            (false, Tail::OptFraction) => {
                let ms = match text.get(h.len) {
                    Some(b'.' | b',') => fraction_millis(text, h.len + 1).unwrap_or(0),
                    _ => 0,
                };
                (ms, 0)
            }
            (false, Tail::OptFractionOptOffset) => {
                let mut i = h.len;
                let ms = opt_fraction(text, &mut i).map_or(0, |nanos| nanos / 1_000_000);
                // An offset changes the instant: the full parse reads it.
                if matches!(text.get(i), Some(b'Z' | b'+' | b'-')) {
                    return None;
                }
                (ms, 0)
            }
            _ => {
                let layout = &self.layouts[h.layout];
                match_tail(&layout.items[layout.head..], text, h.len)?
            }
        };
        self.misses = 0;
        Some((ms + i64::from(millis), end))
    }

    /// [`Parser::parse`] in full: the layouts in order, the head cache only for equal text.
    #[inline(never)]
    fn parse_full(&mut self, text: &[u8]) -> Option<(i64, usize)> {
        if !self.auto {
            return if self.layouts.is_empty() {
                None
            } else {
                self.parse_with(0, text)
            };
        }
        if !self.active() {
            return None;
        }
        let n = self.layouts.len();
        for k in 0..n {
            let idx = (self.last_good + k) % n;
            if let Some(found) = self.parse_with(idx, text) {
                self.last_good = idx;
                self.misses = 0;
                return Some(found);
            }
        }
        self.misses += 1;
        None
    }

    /// Parses with layout `idx`, reusing the cached head when the text starts with it.
    fn parse_with(&mut self, idx: usize, text: &[u8]) -> Option<(i64, usize)> {
        let layout = &self.layouts[idx];
        let cached = self
            .head
            .as_ref()
            .filter(|h| h.layout == idx && head_eq(text, &h.bytes, h.len));
        // Whether the head cache now holds this text's head.
        let mut head_is_text = true;
        let (fields, end) = match cached {
            Some(h) => {
                let (fields, end, _) = match_items(
                    &layout.items[layout.head..],
                    text,
                    h.fields,
                    h.len,
                    usize::MAX,
                )?;
                (fields, end)
            }
            None => {
                let (fields, end, head) =
                    match_items(&layout.items, text, Fields::default(), 0, layout.head)?;
                if let Some((head_fields, len)) =
                    head.filter(|&(_, len)| layout.cacheable && len <= HEAD_CACHE_BYTES)
                {
                    let mut bytes = [0; HEAD_CACHE_BYTES];
                    bytes[..len].copy_from_slice(&text[..len]);
                    self.head = Some(HeadCache {
                        layout: idx,
                        tail: layout.tail,
                        len,
                        bytes,
                        fields: head_fields,
                        instant: None,
                        second_at: second_at(layout, text, &head_fields),
                    });
                } else {
                    head_is_text = false;
                }
                (fields, end)
            }
        };
        let whole = Fields { nanos: 0, ..fields };
        let ms = match self.last {
            Some((f, ms)) if f == whole => ms,
            _ => {
                let ms = self.instant(&whole)?;
                self.last = Some((whole, ms));
                ms
            }
        };
        // The tail changed nothing but the fraction: `ms` is the head's instant, for the short
        // path.
        if head_is_text
            && let Some(h) = self.head.as_mut()
            && h.fields == whole
        {
            h.instant = Some(ms);
        }
        Some((ms + i64::from(fields.nanos / 1_000_000), end))
    }
}

#[cfg(test)]
mod tests;
