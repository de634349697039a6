//! Time zones as configured: `UTC`, `local`, an IANA name or a fixed offset, reduced to a
//! fixed offset whenever the zone has no daylight saving time (the parser's cheap case).

use jiff::tz::TimeZone;

use super::Zone;
use super::matching::offset_at;

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
