//! From fields to epoch milliseconds: the civil date and time in the record's offset or the
//! configured zone, a missing year or date completed from the check's `now`, and the
//! per-minute offset cache of named zones.

use jiff::civil::DateTime;

use super::matching::{days_from_civil, days_in_month};
use super::{Fields, Parser, Zone};

impl Parser {
    /// The instant the fields name, completing a missing year or date from `now`.
    pub(super) fn instant(&mut self, f: &Fields) -> Option<i64> {
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
