//! The OpenMetrics text writer, for `periscope export`: stored series out as a valid
//! exposition that this module's strict parser (and any other OpenMetrics reader) reads back
//! sample for sample.
//!
//! Stored series carry no type, so every family is written as `unknown` (samples named exactly
//! like the family). Series are grouped by metric name because OpenMetrics forbids interleaved
//! families, while the store sorts by whole label sets. Timestamps are written in seconds with
//! exactly three decimals, so milliseconds survive unchanged; values use the shortest text that
//! reads back to the same `f64`.

use std::io::{self, Write};

use model::{METRIC_NAME_LABEL, SeriesData};

use super::names::{is_metric_name, label_name_problem};

/// Writes `series` as an OpenMetrics 1.0 exposition ending in `# EOF`.
///
/// Fails with [`io::ErrorKind::InvalidInput`] (before writing anything) when a series has no
/// metric name, an invalid one, or a label name the format does not allow, so an export never
/// produces a file that cannot be read back.
pub fn write_openmetrics<W: Write>(mut out: W, series: &[SeriesData]) -> io::Result<()> {
    write_families(&mut out, series)?;
    write_eof(out)
}

/// The closing `# EOF` line of an exposition written by [`write_families`] calls.
pub fn write_eof<W: Write>(mut out: W) -> io::Result<()> {
    out.write_all(b"# EOF\n")
}

/// The families of `series` without the closing `# EOF`, so a large export can be written a
/// metric at a time: calls for distinct metric names, in name order, followed by
/// [`write_eof`], give the same text as one [`write_openmetrics`] over all of them.
pub fn write_families<W: Write>(mut out: W, series: &[SeriesData]) -> io::Result<()> {
    let mut order: Vec<(&str, usize)> = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        let Some(name) = s.labels.metric_name() else {
            return Err(invalid(format!(
                "a series has no {METRIC_NAME_LABEL} label: {:?}",
                s.labels
            )));
        };
        if !is_metric_name(name) {
            return Err(invalid(format!("metric name {name:?} is not valid")));
        }
        for (label, _) in s.labels.iter() {
            if label != METRIC_NAME_LABEL
                && let Some(problem) = label_name_problem(label)
            {
                return Err(invalid(format!("series {name}: {problem}")));
            }
        }
        if s.timestamps.len() != s.values.len() {
            return Err(invalid(format!(
                "series {name} has {} timestamps but {} values",
                s.timestamps.len(),
                s.values.len()
            )));
        }
        order.push((name, i));
    }
    // Stable: series of one name keep the store's order.
    order.sort_by(|a, b| a.0.cmp(b.0));

    let mut line = String::with_capacity(256);
    let mut previous: Option<&str> = None;
    for &(name, i) in &order {
        if previous != Some(name) {
            writeln!(out, "# TYPE {name} unknown")?;
            previous = Some(name);
        }
        let s = &series[i];
        line.clear();
        line.push_str(name);
        let mut first = true;
        for (label, value) in s.labels.iter().filter(|(n, _)| *n != METRIC_NAME_LABEL) {
            line.push(if first { '{' } else { ',' });
            first = false;
            line.push_str(label);
            line.push_str("=\"");
            escape_into(&mut line, value);
            line.push('"');
        }
        if !first {
            line.push('}');
        }
        let head = line.len();
        for (t, v) in s.timestamps.iter().zip(&s.values) {
            line.truncate(head);
            line.push(' ');
            push_value(&mut line, *v);
            line.push(' ');
            push_seconds(&mut line, t.as_millis());
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Label value escaping: backslash, double quote and line feed.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `NaN`, `+Inf`, `-Inf`, or the shortest decimal that reads back to the same `f64`.
fn push_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        // Debug is the shortest round-trip form, with an exponent for very large or small values
        // (`1e300`), which OpenMetrics allows.
        let _ = write!(out, "{v:?}");
    }
}

/// Milliseconds as seconds with three decimals: `-1` is `-0.001`.
fn push_seconds(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:03}", abs / 1000, abs % 1000);
}

#[cfg(test)]
mod tests {
    use model::{Labels, Timestamp};

    use super::*;

    fn series(labels: Labels, points: &[(i64, f64)]) -> SeriesData {
        SeriesData {
            labels,
            timestamps: points.iter().map(|p| Timestamp(p.0)).collect(),
            values: points.iter().map(|p| p.1).collect(),
            start_timestamps: Vec::new(),
        }
    }

    #[test]
    fn writes_grouped_families_escaped_labels_and_second_timestamps() {
        let data = vec![
            series(
                Labels::new().with("__name__", "b").with("A", "x\"y\\z\nw"),
                &[(1_700_000_000_123, 1.5), (1_700_000_001_000, f64::NAN)],
            ),
            series(
                Labels::new().with("__name__", "a"),
                &[(-1, f64::NEG_INFINITY)],
            ),
            series(
                Labels::new().with("__name__", "b").with("A", "v"),
                &[(0, 1e300)],
            ),
        ];
        let mut out = Vec::new();
        write_openmetrics(&mut out, &data).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# TYPE a unknown\n\
             a -Inf -0.001\n\
             # TYPE b unknown\n\
             b{A=\"x\\\"y\\\\z\\nw\"} 1.5 1700000000.123\n\
             b{A=\"x\\\"y\\\\z\\nw\"} NaN 1700000001.000\n\
             b{A=\"v\"} 1e300 0.000\n\
             # EOF\n"
        );
    }

    #[test]
    fn refuses_what_could_not_be_read_back() {
        let no_name = series(Labels::new().with("a", "b"), &[(0, 1.0)]);
        let err = write_openmetrics(Vec::new(), &[no_name]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let reserved = series(
            Labels::new().with("__name__", "a").with("__x", "b"),
            &[(0, 1.0)],
        );
        assert!(write_openmetrics(Vec::new(), &[reserved]).is_err());
    }
}
