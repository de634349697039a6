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

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use model::Timestamp;

mod matching;

use matching::{
    civil_from_days, days_from_civil, days_in_month, fraction_millis, match_items, match_tail,
    offset_at, opt_fraction,
};

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

/// Named layouts: `(name, format or internal items, default locating regex)`.
const PRESETS: &[(&str, &str, Option<&str>)] = &[
    ("iso8601", "", None),
    ("rfc3339", "", None),
    ("syslog", "%b %e %H:%M:%S%.f", None),
    ("apache_error", "[%a %b %d %H:%M:%S%.f %Y]", None),
    (
        "clf",
        "%d/%b/%Y:%H:%M:%S %z",
        Some(r"\[(?P<ts>\d{1,2}/[A-Za-z]{3}/\d{4}:[^\]]+)\]"),
    ),
    ("epoch", "%s%.f", None),
    ("epoch_ms", "", None),
];

/// Layouts tried at the start of each record when no `timestamp` is configured, most common
/// first. Each must start with something a plain log message rarely starts with.
const AUTO: &[&str] = &[
    "iso8601",
    "[%Y-%m-%d %H:%M:%S%.f]",
    "apache_error",
    "syslog",
    "%Y/%m/%d %H:%M:%S%.f",
    "%d-%b-%Y %H:%M:%S%.f",
    "%y/%m/%d %H:%M:%S",
    "%y%m%d %H%M%S",
];

/// The names `format` accepts instead of a `%` layout.
pub(crate) fn preset_names() -> String {
    let mut names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
    names.push("none");
    names.join(", ")
}

impl Layout {
    fn new(items: Vec<Item>) -> Layout {
        let head = items
            .iter()
            .position(|i| matches!(i, Item::Fraction | Item::OptFraction))
            .unwrap_or(items.len());
        let cacheable = head > 0
            && matches!(
                items[head - 1],
                Item::Second | Item::Minute | Item::Year4 | Item::Year2 | Item::Lit(_)
            );
        let mut seconds = items[..head]
            .iter()
            .enumerate()
            .filter(|(_, i)| **i == Item::Second);
        let second = match (seconds.next(), seconds.next()) {
            (Some((k, _)), None) => Some(k),
            _ => None,
        };
        let tail = match items[head..] {
            [] => Tail::Empty,
            [Item::Fraction] => Tail::Fraction,
            [Item::OptFraction] => Tail::OptFraction,
            [Item::OptFraction, Item::OptOffset] => Tail::OptFractionOptOffset,
            _ => Tail::Other,
        };
        Layout {
            items,
            head,
            cacheable,
            second,
            tail,
        }
    }

    /// A preset by name, with its default locating pattern.
    pub(crate) fn preset(name: &str) -> Option<(Layout, Option<&'static str>)> {
        let (_, fmt, pattern) = PRESETS.iter().find(|p| p.0 == name)?;
        let layout = match name {
            "iso8601" | "rfc3339" => Layout::iso8601(),
            "epoch_ms" => Layout::new(vec![Item::EpochMillis]),
            _ => Layout::compile(fmt).expect("preset formats are valid"),
        };
        Some((layout, *pattern))
    }

    fn iso8601() -> Layout {
        use Item::*;
        Layout::new(vec![
            Year4,
            Lit(b'-'),
            Month,
            Lit(b'-'),
            Day,
            DateTimeSep,
            Hour,
            Lit(b':'),
            Minute,
            Lit(b':'),
            Second,
            OptFraction,
            OptOffset,
        ])
    }

    /// The layouts auto-detection tries.
    pub(crate) fn auto() -> Vec<Layout> {
        AUTO.iter()
            .map(|f| match Layout::preset(f) {
                Some((l, _)) => l,
                None => Layout::compile(f).expect("auto formats are valid"),
            })
            .collect()
    }

    /// Compiles a strftime-like format; the error names the offending directive.
    pub(crate) fn compile(format: &str) -> Result<Layout, String> {
        use Item::*;
        let mut items = Vec::new();
        let bytes = format.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if b == b' ' || b == b'\t' {
                // Runs of blanks in the format match one run of blanks in the text.
                if items.last() != Some(&Space) {
                    items.push(Space);
                }
                continue;
            }
            if b != b'%' {
                items.push(Lit(b));
                continue;
            }
            let Some(&d) = bytes.get(i) else {
                return Err("format ends with a lone `%`".into());
            };
            i += 1;
            match d {
                b'Y' => items.push(Year4),
                b'y' => items.push(Year2),
                b'm' => items.push(Month),
                b'd' | b'e' => items.push(Day),
                b'H' | b'k' => items.push(Hour),
                b'I' | b'l' => items.push(Hour12),
                b'p' | b'P' => items.push(AmPm),
                b'M' => items.push(Minute),
                b'S' => items.push(Second),
                b'f' => items.push(Fraction),
                b'.' if bytes.get(i) == Some(&b'f') => {
                    i += 1;
                    items.push(OptFraction);
                }
                b'b' | b'h' | b'B' => items.push(MonthName),
                b'a' | b'A' => items.push(WeekdayName),
                b'z' => items.push(Offset),
                b'Z' => items.push(ZoneName),
                b's' => items.push(EpochSeconds),
                b'T' => items.extend([Hour, Lit(b':'), Minute, Lit(b':'), Second]),
                b'F' => items.extend([Year4, Lit(b'-'), Month, Lit(b'-'), Day]),
                b'D' => items.extend([Month, Lit(b'/'), Day, Lit(b'/'), Year2]),
                b'R' => items.extend([Hour, Lit(b':'), Minute]),
                b'%' => items.push(Lit(b'%')),
                _ => {
                    let shown = format[i - 2..].chars().take(2).collect::<String>();
                    return Err(format!(
                        "unsupported directive `{shown}` in timestamp format"
                    ));
                }
            }
        }
        let has = |want: &[Item]| items.iter().any(|it| want.contains(it));
        if has(&[Hour12]) && !has(&[AmPm]) {
            return Err("`%I` (12-hour clock) needs `%p` (AM/PM) in the same format".into());
        }
        let epoch = has(&[EpochSeconds, EpochMillis]);
        let date = has(&[Month, MonthName]) && has(&[Day]);
        let time = has(&[Hour, Hour12]);
        if !epoch && !date && !time {
            return Err(
                "the format has neither a date (month and day), a time of day (%H) nor \
                        epoch seconds (%s)"
                    .into(),
            );
        }
        Ok(Layout::new(items))
    }
}

/// A time zone as the parser uses it.
#[derive(Clone, Debug)]
pub(crate) enum Zone {
    /// A fixed offset in seconds east of UTC (UTC itself is 0).
    Fixed(i32),
    /// A named zone with daylight saving time.
    Named(TimeZone),
}

impl Zone {
    /// `UTC`, `local` (the system's zone), an IANA name, or a fixed offset such as `+02:00`.
    pub(crate) fn parse(name: &str) -> Result<Zone, String> {
        if name.eq_ignore_ascii_case("utc") || name == "Z" {
            return Ok(Zone::Fixed(0));
        }
        if let Some(secs) = parse_offset_text(name.as_bytes()) {
            return Ok(Zone::Fixed(secs));
        }
        let tz = if name.eq_ignore_ascii_case("local") {
            TimeZone::try_system()
                .map_err(|e| format!("cannot determine the local time zone: {e}"))?
        } else {
            TimeZone::get(name).map_err(|e| format!("unknown time zone `{name}`: {e}"))?
        };
        Ok(match tz.to_fixed_offset() {
            Ok(off) => Zone::Fixed(off.seconds()),
            Err(_) => Zone::Named(tz),
        })
    }
}

/// A whole string that is `+hh:mm`, `+hhmm` or `+hh`.
fn parse_offset_text(s: &[u8]) -> Option<i32> {
    let mut i = 0;
    let secs = offset_at(s, &mut i)?;
    (i == s.len() && !s.is_empty() && s[0] != b'Z').then_some(secs)
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

/// The text and fields of the last parsed layout head.
struct HeadCache {
    layout: usize,
    /// The layout's tail.
    tail: Tail,
    len: usize,
    bytes: [u8; HEAD_CACHE_BYTES],
    fields: Fields,
    /// The instant of `fields`, once a record with this head was parsed and its tail changed
    /// no field but the fraction: then every record with this head whose tail is simple (see
    /// [`match_tail`]) is this instant plus its fraction.
    instant: Option<i64>,
    /// Where the `%S` digits are in `bytes`, when the instant moves one for one with the
    /// seconds: a year and a date are present (no "latest instant not in the future"
    /// completion) and no epoch. A text differing from `bytes` only there is the same minute.
    second_at: Option<usize>,
}

impl HeadCache {
    /// The instant of `text`'s head when it is this head, or this head but for its seconds
    /// (the cache then moves to the new second). `None`: parse in full.
    #[inline]
    fn instant_of(&mut self, text: &[u8]) -> Option<i64> {
        let ms = self.instant?;
        if head_eq(text, &self.bytes, self.len) {
            return Some(ms);
        }
        self.next_second(text)
    }

    /// The same minute at another second (a busy log moves to the next second every few dozen
    /// records). Matching the head again would give the same fields but `second`: the bytes
    /// before the `%S` digits are equal, the digits are two (`%S` reads exactly two, and an
    /// item before it cannot have looked at them without consuming them), the bytes after
    /// are equal, and the head ends in a fixed-width item. The instant moves with the second:
    /// no completion from `now` applies, and a named zone's offset is per minute.
    #[cold]
    #[inline(never)]
    fn next_second(&mut self, text: &[u8]) -> Option<i64> {
        let (at, ms) = (self.second_at?, self.instant?);
        let (&a, &b) = (text.get(at)?, text.get(at + 1)?);
        if !a.is_ascii_digit() || !b.is_ascii_digit() {
            return None;
        }
        let mut probe = self.bytes;
        probe[at] = a;
        probe[at + 1] = b;
        if !head_eq(text, &probe, self.len) {
            return None;
        }
        let s = u32::from(a - b'0') * 10 + u32::from(b - b'0');
        if s > 60 {
            return None;
        }
        let second = s.min(59);
        let ms = ms + (i64::from(second) - i64::from(self.fields.second)) * 1000;
        self.bytes = probe;
        self.fields.second = second;
        self.instant = Some(ms);
        Some(ms)
    }
}

/// Whether `text` starts with the `len` first bytes of `head` (`len` at most
/// [`HEAD_CACHE_BYTES`]), comparing 16 or 8 bytes at a time rather than calling `memcmp`.
#[inline]
fn head_eq(text: &[u8], head: &[u8; HEAD_CACHE_BYTES], len: usize) -> bool {
    let (Some(t), Some(h)) = (text.get(..len), head.get(..len)) else {
        return false;
    };
    fn at<const N: usize>(s: &[u8], i: usize) -> [u8; N] {
        s[i..i + N].try_into().expect("N bytes")
    }
    if (16..=32).contains(&len) {
        at::<16>(t, 0) == at::<16>(h, 0) && at::<16>(t, len - 16) == at::<16>(h, len - 16)
    } else if len > 32 {
        at::<16>(t, 0) == at::<16>(h, 0)
            && at::<16>(t, 16) == at::<16>(h, 16)
            && at::<16>(t, len - 16) == at::<16>(h, len - 16)
    } else if len >= 8 {
        at::<8>(t, 0) == at::<8>(h, 0) && at::<8>(t, len - 8) == at::<8>(h, len - 8)
    } else {
        t == h
    }
}

/// Longest head text cached; longer heads are parsed every time.
const HEAD_CACHE_BYTES: usize = 48;

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

    /// The instant the fields name, completing a missing year or date from `now`.
    fn instant(&mut self, f: &Fields) -> Option<i64> {
        if let Some(ms) = f.epoch_ms {
            return Some(ms + i64::from(f.nanos / 1_000_000));
        }
        let mut hour = f.hour;
        match f.pm {
            Some(pm) if (1..=12).contains(&hour) => hour = hour % 12 + if pm { 12 } else { 0 },
            Some(_) => return None,
            None => {}
        }
        let (mut year, mut month, mut day) = (f.year.unwrap_or(self.today.0), f.month, f.day);
        if !f.has_date {
            (year, month, day) = self.today;
        }
        if month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) || hour > 23 {
            return None;
        }
        let mut ms = self.local_to_ms(
            year, month, day, hour, f.minute, f.second, f.nanos, f.offset,
        )?;
        // A timestamp without a year (syslog) or without a date is the latest one not in the
        // future: "Dec 31 23:59" read on January 1st is last year's. A little slack allows for
        // clocks that disagree.
        if !f.has_date && ms > self.now_ms + 3_600_000 {
            ms -= 86_400_000;
        } else if f.year.is_none() && f.has_date && ms > self.now_ms + 86_400_000 {
            year -= 1;
            if day > days_in_month(year, month) {
                return None;
            }
            ms = self.local_to_ms(
                year, month, day, hour, f.minute, f.second, f.nanos, f.offset,
            )?;
        }
        Some(ms)
    }

    #[allow(clippy::too_many_arguments)]
    fn local_to_ms(
        &mut self,
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        nanos: u32,
        offset: Option<i32>,
    ) -> Option<i64> {
        let days = days_from_civil(year, month, day);
        let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        let off = match (offset, &self.zone) {
            (Some(off), _) => i64::from(off),
            (None, Zone::Fixed(off)) => i64::from(*off),
            (None, Zone::Named(tz)) => {
                let key = local / 60;
                if key != self.cache_key {
                    let dt = DateTime::new(
                        i16::try_from(year).ok()?,
                        i8::try_from(month).ok()?,
                        i8::try_from(day).ok()?,
                        i8::try_from(hour).ok()?,
                        i8::try_from(minute).ok()?,
                        0,
                        0,
                    )
                    .ok()?;
                    // Ambiguous or skipped local times (DST changes) resolve the way most
                    // software does: the earlier offset for a repeated hour.
                    let ts = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
                    self.cache_offset = tz.to_offset(ts).seconds();
                    self.cache_key = key;
                }
                i64::from(self.cache_offset)
            }
        };
        Some((local - off) * 1000 + i64::from(nanos / 1_000_000))
    }
}

/// Where the `%S` digits of a head just matched in `text` are, when the head's instant moves
/// one for one with them (see [`HeadCache::second_at`]).
fn second_at(layout: &Layout, text: &[u8], head: &Fields) -> Option<usize> {
    let k = layout.second?;
    if head.year.is_none() || !head.has_date || head.epoch_ms.is_some() {
        return None;
    }
    let (_, at, _) = match_items(&layout.items[..k], text, Fields::default(), 0, usize::MAX)?;
    Some(at)
}

#[cfg(test)]
mod tests;
