//! Request parameters as Prometheus reads them: from the query string and, for POST, from an
//! `application/x-www-form-urlencoded` body; times as RFC 3339 or Unix seconds, durations as
//! seconds or Prometheus durations (`30s`, `1m30s`).

use axum::http::{HeaderMap, header};

use super::response::ApiError;

/// All parameters of one request, in order, repeated names kept (`match[]` repeats).
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Collects the query string's pairs and, when the body is a form, the body's.
    pub(super) fn from_request(
        raw_query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = raw_query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        if !body.is_empty() {
            if !is_form(headers) {
                return Err(ApiError::bad_data(
                    "a POST body must be application/x-www-form-urlencoded",
                ));
            }
            pairs.extend(url::form_urlencoded::parse(body).into_owned());
        }
        Ok(Params { pairs })
    }

    /// The first value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The value of `name`, or a 400 naming it.
    pub(super) fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::bad_data(format!(
                "invalid parameter \"{name}\": missing"
            ))),
        }
    }

    /// A required time parameter, in milliseconds.
    pub(super) fn required_time(&self, name: &str) -> Result<i64, ApiError> {
        parse_time(self.required(name)?).map_err(|e| invalid(name, &e))
    }

    /// A time parameter, or `default` when absent or empty.
    pub(super) fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => parse_time(v).map_err(|e| invalid(name, &e)),
            _ => Ok(default),
        }
    }

    /// A required duration parameter, in milliseconds.
    pub(super) fn required_duration(&self, name: &str) -> Result<i64, ApiError> {
        parse_duration(self.required(name)?).map_err(|e| invalid(name, &e))
    }
}

fn invalid(name: &str, why: &str) -> ApiError {
    ApiError::bad_data(format!("invalid parameter \"{name}\": {why}"))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Unix seconds (fractions allowed) or RFC 3339, to milliseconds.
pub(super) fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds.abs() > 9.2e15 {
            return Err(format!("cannot parse {text:?} to a valid timestamp"));
        }
        return Ok((seconds * 1000.0).round() as i64);
    }
    text.parse::<jiff::Timestamp>()
        .map(|ts| ts.as_millisecond())
        .map_err(|_| format!("cannot parse {text:?} to a valid timestamp"))
}

/// Seconds (fractions allowed) or a Prometheus duration, to milliseconds.
pub(super) fn parse_duration(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds.abs() > 9.2e15 {
            return Err(format!("cannot parse {text:?} to a valid duration"));
        }
        return Ok((seconds * 1000.0).round() as i64);
    }
    prometheus_duration(text).ok_or_else(|| format!("cannot parse {text:?} to a valid duration"))
}

/// `1w2d3h4m5s6ms`: units in falling order, each at most once.
fn prometheus_duration(text: &str) -> Option<i64> {
    // (suffix, milliseconds, rank by size); "ms" comes before "m" so it is tried first.
    const UNITS: [(&str, i64, u8); 7] = [
        ("ms", 1, 6),
        ("y", 365 * 86_400_000, 0),
        ("w", 7 * 86_400_000, 1),
        ("d", 86_400_000, 2),
        ("h", 3_600_000, 3),
        ("m", 60_000, 4),
        ("s", 1_000, 5),
    ];
    let mut rest = text;
    let mut total: i64 = 0;
    let mut previous_rank: Option<u8> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, factor, rank) = UNITS.iter().find(|(unit, _, _)| rest.starts_with(unit))?;
        if previous_rank.is_some_and(|p| *rank <= p) {
            return None;
        }
        previous_rank = Some(*rank);
        rest = &rest[unit.len()..];
        total = total.checked_add(number.checked_mul(*factor)?)?;
    }
    previous_rank.map(|_| total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_unix_seconds_or_rfc3339() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert!(parse_time("yesterday").unwrap_err().contains("yesterday"));
        assert!(parse_time("NaN").is_err());
    }

    #[test]
    fn durations_are_seconds_or_prometheus_units() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("100ms"), Ok(100));
        assert_eq!(parse_duration("1d2h"), Ok(93_600_000));
        assert!(parse_duration("30s1m").is_err(), "units out of order");
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn repeated_parameters_are_all_kept_and_form_bodies_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let params = Params::from_request(
            Some("match[]=up&start=1"),
            &headers,
            b"match[]=process_start_time_seconds%7Bjob%3D%22x%22%7D",
        )
        .unwrap();
        assert_eq!(
            params.all("match[]"),
            vec!["up", "process_start_time_seconds{job=\"x\"}"]
        );
        assert_eq!(params.get("start"), Some("1"));
        let not_form = Params::from_request(None, &HeaderMap::new(), b"query=up");
        assert!(not_form.is_err());
    }
}
