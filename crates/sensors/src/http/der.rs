//! Just enough DER to read an X.509 certificate's validity period.
//!
//! A certificate-parsing crate would pull a tree of dependencies into every build for two dates;
//! the path to them is short and fixed (RFC 5280 section 4.1):
//!
//! ```text
//! Certificate  ::= SEQUENCE { tbsCertificate TBSCertificate, ... }
//! TBSCertificate ::= SEQUENCE {
//!     version [0] EXPLICIT Version DEFAULT v1,  -- optional
//!     serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name,
//!     validity SEQUENCE { notBefore Time, notAfter Time }, ... }
//! Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }
//! ```
//!
//! Every length is checked against what is left, so no input can make it read out of bounds or
//! panic; anything unexpected is an error saying what and at which byte offset.

use model::Timestamp;

/// A certificate's validity period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// The first instant the certificate is valid.
    pub not_before: Timestamp,
    /// The last instant the certificate is valid.
    pub not_after: Timestamp,
}

/// Why a certificate's validity could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate: {what} at byte {offset}")]
pub struct DerError {
    /// What was wrong.
    pub what: String,
    /// Where, from the start of the certificate.
    pub offset: usize,
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const CONTEXT_0: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads the validity period of a DER-encoded X.509 certificate.
pub fn certificate_validity(der: &[u8]) -> Result<Validity, DerError> {
    let mut top = Reader { data: der, pos: 0 };
    let cert = top.expect(SEQUENCE, "Certificate")?;
    let mut cert = Reader {
        data: &der[..cert.end],
        pos: cert.start,
    };
    let tbs = cert.expect(SEQUENCE, "TBSCertificate")?;
    let mut tbs = Reader {
        data: &der[..tbs.end],
        pos: tbs.start,
    };
    if tbs.peek() == Some(CONTEXT_0) {
        tbs.expect(CONTEXT_0, "version")?;
    }
    tbs.expect(INTEGER, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature algorithm")?;
    tbs.expect(SEQUENCE, "issuer")?;
    let validity = tbs.expect(SEQUENCE, "validity")?;
    let mut v = Reader {
        data: &der[..validity.end],
        pos: validity.start,
    };
    let not_before = v.time("notBefore")?;
    let not_after = v.time("notAfter")?;
    Ok(Validity {
        not_before,
        not_after,
    })
}

/// Where one element's contents lie.
struct Element {
    tag: u8,
    start: usize,
    end: usize,
}

/// A cursor over `data`; offsets are from the start of the certificate.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, at: usize, what: impl Into<String>) -> DerError {
        DerError {
            what: what.into(),
            offset: at,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads one tag-length-value element and moves past it.
    fn element(&mut self, name: &str) -> Result<Element, DerError> {
        let at = self.pos;
        let tag = self
            .peek()
            .ok_or_else(|| self.error(at, format!("{name} missing (data ends)")))?;
        if tag & 0x1f == 0x1f {
            return Err(self.error(
                at,
                format!("{name}: multi-byte tags are not used in certificates"),
            ));
        }
        let first = *self
            .data
            .get(at + 1)
            .ok_or_else(|| self.error(at + 1, format!("{name}: length missing")))?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 {
                return Err(self.error(at + 1, format!("{name}: indefinite length is not DER")));
            }
            if n > 4 {
                return Err(self.error(at + 1, format!("{name}: length of {n} bytes is too long")));
            }
            let bytes = self
                .data
                .get(at + 2..at + 2 + n)
                .ok_or_else(|| self.error(at + 2, format!("{name}: length bytes missing")))?;
            (
                bytes
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
                2 + n,
            )
        };
        let start = at + header;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| self.error(at, format!("{name}: length {len} runs past the end")))?;
        self.pos = end;
        Ok(Element { tag, start, end })
    }

    /// Reads one element and checks its tag.
    fn expect(&mut self, tag: u8, name: &str) -> Result<Element, DerError> {
        let at = self.pos;
        let e = self.element(name)?;
        if e.tag != tag {
            return Err(self.error(
                at,
                format!("{name}: expected tag 0x{tag:02x}, found 0x{:02x}", e.tag),
            ));
        }
        Ok(e)
    }

    /// Reads a `Time`: UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`.
    fn time(&mut self, name: &str) -> Result<Timestamp, DerError> {
        let at = self.pos;
        let e = self.element(name)?;
        let text = &self.data[e.start..e.end];
        let bad = |why: &str| {
            self.error(
                e.start,
                format!("{name}: {why} in {:?}", String::from_utf8_lossy(text)),
            )
        };
        let (year, rest) = match e.tag {
            UTC_TIME => {
                let yy = digits(text, 0, 2).ok_or_else(|| bad("bad year"))?;
                // RFC 5280: UTCTime years 50-99 are 19xx, 00-49 are 20xx.
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
            }
            GENERALIZED_TIME => (
                digits(text, 0, 4).ok_or_else(|| bad("bad year"))?,
                &text[4..],
            ),
            other => {
                return Err(self.error(
                    at,
                    format!("{name}: expected a time, found tag 0x{other:02x}"),
                ));
            }
        };
        // DER fixes the rest: MMDDHHMMSS then `Z` (no fractions, no offsets, seconds present).
        if rest.len() != 11 || rest[10] != b'Z' {
            return Err(bad("not of the form ...MMDDHHMMSSZ"));
        }
        let field = |i: usize| digits(rest, i, 2).ok_or_else(|| bad("not a digit"));
        let (month, day, hour, minute, second) =
            (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
        let to_i8 = |v: u32| i8::try_from(v).map_err(|_| bad("field out of range"));
        let year = i16::try_from(year).map_err(|_| bad("year out of range"))?;
        let dt = jiff::civil::DateTime::new(
            year,
            to_i8(month)?,
            to_i8(day)?,
            to_i8(hour)?,
            to_i8(minute)?,
            to_i8(second)?,
            0,
        )
        .map_err(|e| bad(&e.to_string()))?;
        let ts = dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| bad(&e.to_string()))?
            .timestamp();
        Ok(Timestamp::from_jiff(ts))
    }
}

/// `count` ASCII digits at `at` as a number.
fn digits(text: &[u8], at: usize, count: usize) -> Option<u32> {
    let part = text.get(at..at + count)?;
    part.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::from_jiff(text.parse().unwrap())
    }

    /// The test server's certificate (see testdata/generate.sh): dates past 2049 are
    /// GeneralizedTime, and it has a version field.
    #[test]
    fn generalized_time_certificate() {
        let v = certificate_validity(include_bytes!("testdata/leaf.der")).unwrap();
        assert_eq!(v.not_before, ts("2026-11-21T02:36:22Z"));
        assert_eq!(v.not_after, ts("2126-10-28T02:36:22Z"));
    }

    #[test]
    fn utc_time_certificate() {
        let v = certificate_validity(include_bytes!("testdata/utc.der")).unwrap();
        assert_eq!(v.not_before, ts("2026-11-21T02:36:22Z"));
        assert_eq!(v.not_after, ts("2048-10-16T02:36:22Z"));
    }

    #[test]
    fn utc_years_before_1950_rule() {
        // A hand-built v1 certificate (no version field) with UTCTime 99 -> 1999, 49 -> 2049.
        let validity = [
            &[0x30, 30][..],
            &[0x17, 13],
            b"990102030405Z",
            &[0x17, 13],
            b"491231235959Z",
        ]
        .concat();
        let tbs = [&[0x02, 1, 5][..], &[0x30, 0], &[0x30, 0], &validity].concat();
        let cert = [
            &[0x30, (tbs.len() + 2) as u8, 0x30, tbs.len() as u8][..],
            &tbs,
        ]
        .concat();
        let v = certificate_validity(&cert).unwrap();
        assert_eq!(v.not_before, ts("1999-01-02T03:04:05Z"));
        assert_eq!(v.not_after, ts("2049-12-31T23:59:59Z"));
    }

    #[test]
    fn errors_say_what_and_where() {
        let leaf = include_bytes!("testdata/leaf.der");
        let cut = certificate_validity(&leaf[..60]).unwrap_err();
        assert_eq!(
            cut.to_string(),
            "malformed certificate: Certificate: length 455 runs past the end at byte 0"
        );
        assert_eq!(
            certificate_validity(&[]).unwrap_err().to_string(),
            "malformed certificate: Certificate missing (data ends) at byte 0"
        );
        assert_eq!(
            certificate_validity(&[0x02, 0x01, 0x00])
                .unwrap_err()
                .to_string(),
            "malformed certificate: Certificate: expected tag 0x30, found 0x02 at byte 0"
        );
        let mut bad_month = leaf.to_vec();
        // The notBefore UTCTime "261121023622Z" starts at byte 81; make the month 13.
        bad_month[83..85].copy_from_slice(b"13");
        let err = certificate_validity(&bad_month).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("malformed certificate: notBefore: "),
            "{err}"
        );
        assert_eq!(err.offset, 81);
        assert_eq!(
            certificate_validity(&[0x30, 0x80]).unwrap_err().to_string(),
            "malformed certificate: Certificate: indefinite length is not DER at byte 1"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = certificate_validity(&bytes);
        }

        #[test]
        fn never_panics_on_corrupted_certificates(at in 0usize..459, byte in any::<u8>(), cut in 0usize..460) {
            let mut der = include_bytes!("testdata/leaf.der").to_vec();
            der[at] = byte;
            der.truncate(cut.max(1));
            let _ = certificate_validity(&der);
        }
    }
}
