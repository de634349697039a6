//! Byte-level matching of layout items: digits, fractions, offsets, month and weekday names,
//! and the civil-date arithmetic that turns fields into days. Free functions over `&[u8]` and a
//! position, so the parser's hot path allocates nothing.

use super::{Fields, Item};

/// Matches a layout's tail from position `i` when it can set nothing but the fraction: the
/// fraction's milliseconds (what `fields.nanos / 1_000_000` is) and the end position, as
/// [`match_items`] would find them. `None` when it does not match, or when it would set
/// another field (an item other than literals, blanks and fractions, or an optional offset
/// that is present): the full parse decides.
#[inline]
pub(super) fn match_tail(items: &[Item], t: &[u8], mut i: usize) -> Option<(u32, usize)> {
    let mut nanos = 0;
    for item in items {
        match *item {
            Item::Lit(b) => {
                if t.get(i) != Some(&b) {
                    return None;
                }
                i += 1;
            }
            Item::Space => blanks(t, &mut i)?,
            Item::DateTimeSep => date_time_sep(t, &mut i)?,
            Item::Fraction => nanos = fraction(t, &mut i)?,
            Item::OptFraction => {
                if let Some(n) = opt_fraction(t, &mut i) {
                    nanos = n;
                }
            }
            Item::OptOffset => {
                if offset_at(t, &mut i.clone()).is_some() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some((nanos / 1_000_000, i))
}

/// The milliseconds of the fraction at `i` (at least one digit): what [`fraction`] would give
/// divided by a million, from at most three digits.
#[inline]
pub(super) fn fraction_millis(t: &[u8], i: usize) -> Option<u32> {
    let digit = |k: usize| {
        t.get(i + k)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    };
    let d0 = digit(0)?;
    let Some(d1) = digit(1) else {
        return Some(d0 * 100);
    };
    Some(d0 * 100 + d1 * 10 + digit(2).unwrap_or(0))
}

/// One or more spaces or tabs.
#[inline]
pub(super) fn blanks(t: &[u8], i: &mut usize) -> Option<()> {
    let start = *i;
    while matches!(t.get(*i), Some(b' ' | b'\t')) {
        *i += 1;
    }
    (*i > start).then_some(())
}

/// `T` or a space.
#[inline]
pub(super) fn date_time_sep(t: &[u8], i: &mut usize) -> Option<()> {
    if !matches!(t.get(*i), Some(b'T' | b' ')) {
        return None;
    }
    *i += 1;
    Some(())
}

/// `%.f`: the fraction when a `.` or `,` and a digit follow, else nothing is consumed.
#[inline]
pub(super) fn opt_fraction(t: &[u8], i: &mut usize) -> Option<u32> {
    if matches!(t.get(*i), Some(b'.' | b',')) && t.get(*i + 1).is_some_and(u8::is_ascii_digit) {
        *i += 1;
        return fraction(t, i);
    }
    None
}

/// What [`match_items`] returns: fields, end position, and fields and position at the head.
pub(super) type Matched = (Fields, usize, Option<(Fields, usize)>);

/// Matches `items` in `t` from position `i` with fields `f` so far: the fields, the end
/// position, and the fields and position when item `head` was reached (if it was).
pub(super) fn match_items(
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
            Item::Space => blanks(t, &mut i)?,
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
                if let Some(n) = opt_fraction(t, &mut i) {
                    f.nanos = n;
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
            Item::DateTimeSep => date_time_sep(t, &mut i)?,
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
pub(super) fn digits(t: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
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
#[inline]
pub(super) fn fraction(t: &[u8], i: &mut usize) -> Option<u32> {
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
    const SCALE: [u32; 9] = [
        100_000_000,
        10_000_000,
        1_000_000,
        100_000,
        10_000,
        1000,
        100,
        10,
        1,
    ];
    Some(v * SCALE[n.min(9) - 1])
}

/// `Z`, `+hh`, `+hhmm` or `+hh:mm` as seconds east of UTC.
pub(super) fn offset_at(t: &[u8], i: &mut usize) -> Option<i32> {
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

pub(super) const MONTHS: [&str; 12] = [
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
pub(super) const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// An English name, abbreviated to three letters or in full, any case: its index.
pub(super) fn name(t: &[u8], i: &mut usize, names: &[&str]) -> Option<u32> {
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

pub(super) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(super) fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub(super) fn civil_from_days(z: i64) -> (i32, u32, u32) {
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
