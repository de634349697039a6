//! Record timestamps: a strftime-like layout compiled once, then parsed from raw bytes without
//! allocation.
//!
//! Why our own parser rather than `jiff::fmt::strtime`: the monitor parses the timestamp of every
//! record (the `records_with_timestamp` fact counts them), so at millions of records per second
//! the parse must cost a few nanoseconds. A layout is a short list of [`Item`]s matched byte by
//! byte; the civil date is turned into epoch milliseconds with integer arithmetic, and only named
//! time zones go through jiff, behind a one-minute cache (offsets change at most every few
//! months, and never within a minute).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use model::Timestamp;

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
        Layout {
            items,
            head,
            cacheable,
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
    len: usize,
    bytes: [u8; HEAD_CACHE_BYTES],
    fields: Fields,
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
    pub(crate) fn parse(&mut self, text: &[u8]) -> Option<(i64, usize)> {
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
        let cached = self.head.as_ref().filter(|h| {
            h.layout == idx && text.len() >= h.len && text[..h.len] == h.bytes[..h.len]
        });
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
                        len,
                        bytes,
                        fields: head_fields,
                    });
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

/// What [`match_items`] returns: fields, end position, and fields and position at the head.
type Matched = (Fields, usize, Option<(Fields, usize)>);

/// Matches `items` in `t` from position `i` with fields `f` so far: the fields, the end
/// position, and the fields and position when item `head` was reached (if it was).
fn match_items(
    items: &[Item],
    t: &[u8],
    mut f: Fields,
    mut i: usize,
    head: usize,
) -> Option<Matched> {
    let mut at_head = None;
    for (k, item) in items.iter().enumerate() {
        if k == head {
            at_head = Some((f, i));
        }
        match *item {
            Item::Lit(b) => {
                if t.get(i) != Some(&b) {
                    return None;
                }
                i += 1;
            }
            Item::Space => {
                let start = i;
                while matches!(t.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                if i == start {
                    return None;
                }
            }
            Item::Year4 => f.year = Some(digits(t, &mut i, 4, 4)? as i32),
            Item::Year2 => {
                let y = digits(t, &mut i, 2, 2)? as i32;
                f.year = Some(if y >= 69 { 1900 + y } else { 2000 + y });
            }
            Item::Month => {
                f.month = digits(t, &mut i, 1, 2)?;
                f.has_date = true;
            }
            Item::Day => {
                if t.get(i) == Some(&b' ') {
                    i += 1;
                }
                f.day = digits(t, &mut i, 1, 2)?;
                f.has_date = true;
            }
            Item::Hour | Item::Hour12 => f.hour = digits(t, &mut i, 1, 2)?,
            Item::AmPm => {
                let w = t.get(i..i + 2)?;
                f.pm = Some(
                    match [w[0].to_ascii_uppercase(), w[1].to_ascii_uppercase()] {
                        [b'A', b'M'] => false,
                        [b'P', b'M'] => true,
                        _ => return None,
                    },
                );
                i += 2;
            }
            Item::Minute => {
                f.minute = digits(t, &mut i, 2, 2)?;
                if f.minute > 59 {
                    return None;
                }
            }
            Item::Second => {
                let s = digits(t, &mut i, 2, 2)?;
                if s > 60 {
                    return None;
                }
                f.second = s.min(59);
            }
            Item::Fraction => f.nanos = fraction(t, &mut i)?,
            Item::OptFraction => {
                if matches!(t.get(i), Some(b'.' | b','))
                    && t.get(i + 1).is_some_and(u8::is_ascii_digit)
                {
                    i += 1;
                    f.nanos = fraction(t, &mut i)?;
                }
            }
            Item::MonthName => {
                f.month = name(t, &mut i, &MONTHS)? + 1;
                f.has_date = true;
            }
            Item::WeekdayName => {
                name(t, &mut i, &WEEKDAYS)?;
            }
            Item::Offset => f.offset = Some(offset_at(t, &mut i)?),
            Item::OptOffset => {
                let mut j = i;
                if let Some(off) = offset_at(t, &mut j) {
                    f.offset = Some(off);
                    i = j;
                }
            }
            Item::ZoneName => {
                let start = i;
                while t.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
                if i == start {
                    return None;
                }
                if matches!(&t[start..i], b"UTC" | b"GMT" | b"Z") {
                    f.offset = Some(0);
                }
            }
            Item::DateTimeSep => {
                if !matches!(t.get(i), Some(b'T' | b' ')) {
                    return None;
                }
                i += 1;
            }
            Item::EpochSeconds | Item::EpochMillis => {
                let neg = t.get(i) == Some(&b'-');
                if neg {
                    i += 1;
                }
                let start = i;
                let mut v: i64 = 0;
                while let Some(&c) = t.get(i).filter(|c| c.is_ascii_digit()) {
                    v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                    i += 1;
                }
                if i == start || i - start > 16 {
                    return None;
                }
                let v = if neg { -v } else { v };
                f.epoch_ms = Some(if *item == Item::EpochSeconds {
                    v.checked_mul(1000)?
                } else {
                    v
                });
            }
        }
    }
    if head == items.len() {
        at_head = Some((f, i));
    }
    Some((f, i, at_head))
}

/// `min..=max` ASCII digits as a number.
#[inline]
fn digits(t: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
    let mut v = 0u32;
    let mut n = 0;
    while n < max {
        match t.get(*i + n) {
            Some(&c) if c.is_ascii_digit() => v = v * 10 + u32::from(c - b'0'),
            _ => break,
        }
        n += 1;
    }
    if n < min {
        return None;
    }
    *i += n;
    Some(v)
}

/// 1 to 9 fraction digits as nanoseconds (further digits are skipped).
fn fraction(t: &[u8], i: &mut usize) -> Option<u32> {
    let start = *i;
    let mut v = 0u32;
    while let Some(&c) = t.get(*i).filter(|c| c.is_ascii_digit()) {
        if *i - start < 9 {
            v = v * 10 + u32::from(c - b'0');
        }
        *i += 1;
    }
    let n = *i - start;
    if n == 0 {
        return None;
    }
    Some(v * 10u32.pow(9 - n.min(9) as u32))
}

/// `Z`, `+hh`, `+hhmm` or `+hh:mm` as seconds east of UTC.
fn offset_at(t: &[u8], i: &mut usize) -> Option<i32> {
    match *t.get(*i)? {
        b'Z' => {
            *i += 1;
            Some(0)
        }
        sign @ (b'+' | b'-') => {
            let mut j = *i + 1;
            let h = digits(t, &mut j, 2, 2)?;
            if t.get(j) == Some(&b':') {
                j += 1;
            }
            let m = match digits(t, &mut j, 2, 2) {
                Some(m) => m,
                None if t.get(j - 1) == Some(&b':') => return None,
                None => 0,
            };
            if h > 23 || m > 59 {
                return None;
            }
            *i = j;
            let secs = (h * 3600 + m * 60) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// An English name, abbreviated to three letters or in full, any case: its index.
fn name(t: &[u8], i: &mut usize, names: &[&str]) -> Option<u32> {
    let abbr = t.get(*i..*i + 3)?;
    let idx = names
        .iter()
        .position(|n| n.as_bytes()[..3].eq_ignore_ascii_case(abbr))?;
    let full = names[idx].as_bytes();
    *i += 3;
    if t.get(*i - 3..*i - 3 + full.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(full))
    {
        *i += full.len() - 3;
    }
    Some(idx as u32)
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

#[cfg(test)]
mod tests;
