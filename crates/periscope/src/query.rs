//! `periscope query`: stored samples of the series a selector matches, as a table, CSV or JSON;
//! and what `export` and `import` share with it (selectors, times, opening the store).

use std::io::Write;
use std::sync::Arc;

use comfy_table::{Table, presets};
use model::{Clock, Matcher, Querier, SeriesData, SystemClock, TimeRange, Timestamp};
use promql_parser::parser::Expr;

use crate::cli::{QueryFormat, SeriesRange};
use crate::commands::load_or_report;
use crate::config::LoadOptions;
use crate::ingest::series_text;
use crate::wire;

/// Default span when `--from` is not given.
const DEFAULT_SPAN_MS: i64 = 3600 * 1000;

/// `periscope query SELECTOR [--from] [--to] [--format]`: 0 when it printed (even nothing
/// matched), 1 for a bad selector or time, 3 when the store cannot be opened.
pub fn query(load: &LoadOptions, selector: &str, range: &SeriesRange, format: QueryFormat) -> u8 {
    let (series, range) = match stored_series(load, selector, range) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    let written = match format {
        QueryFormat::Table => writeln!(out, "{}", table(&series)),
        QueryFormat::Csv => write_csv(&mut out, &series),
        QueryFormat::Json => writeln!(out, "{}", matrix_json(&series)),
    };
    if let Err(e) = written {
        eprintln!("periscope: cannot write the result: {e}");
        return 3;
    }
    if series.is_empty() {
        eprintln!(
            "no stored samples match {selector} between {} and {}",
            range.start, range.end
        );
    }
    0
}

/// The stored series a command line asks for, and the range it meant; on failure the exit code
/// (1 for a bad selector or time, 3 when the store cannot be read) after saying why.
pub fn stored_series(
    load: &LoadOptions,
    selector: &str,
    range: &SeriesRange,
) -> Result<(Vec<SeriesData>, TimeRange), u8> {
    let (matchers, range) = selection(selector, range, SystemClock.now()).map_err(|e| {
        eprintln!("periscope: {e}");
        1
    })?;
    let store = open_view(load).ok_or(3u8)?;
    let series = store.select(&matchers, range).map_err(|e| {
        eprintln!("periscope: reading the metric store failed: {e}");
        3u8
    })?;
    Ok((series, range))
}

/// The matchers and time range a command line asks for.
pub fn selection(
    selector: &str,
    range: &SeriesRange,
    now: Timestamp,
) -> Result<(Vec<Matcher>, TimeRange), String> {
    let matchers = parse_selector(selector)?;
    let end = match &range.to {
        Some(t) => parse_time(t, now).map_err(|e| format!("--to: {e}"))?,
        None => now,
    };
    let start = match &range.from {
        Some(t) => parse_time(t, now).map_err(|e| format!("--from: {e}"))?,
        None => end.plus_millis(-DEFAULT_SPAN_MS),
    };
    if start > end {
        return Err(format!("--from ({start}) is after --to ({end})"));
    }
    Ok((matchers, TimeRange::new(start, end)))
}

/// Opens the config's metric store to write (import), printing why not when it cannot.
pub fn open_store(load: &LoadOptions) -> Option<store::Store> {
    let store_config = store_config(load)?;
    match wire::open_store(&store_config, Arc::new(SystemClock)) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("periscope: cannot open the metric store: {e}");
            None
        }
    }
}

/// A read-only view of the config's metric store, as it is durable now: it works while
/// `serve` holds the store, and changes nothing on disk.
pub fn open_view(load: &LoadOptions) -> Option<Box<dyn Querier>> {
    let store_config = store_config(load)?;
    match store::Store::open_read_only(&store_config.dir, Arc::new(SystemClock)) {
        Ok(view) => {
            for note in view.notes() {
                tracing::warn!(store = %store_config.dir.display(), "{note}");
            }
            Some(Box::new(view))
        }
        Err(store::OpenError::Missing { path } | store::OpenError::NoStore { path }) => {
            eprintln!(
                "no history yet: {} holds no metric store (`serve`, `run` or `import` creates it)",
                path.display()
            );
            Some(Box::new(NoHistory))
        }
        Err(e) => {
            eprintln!("periscope: cannot read the metric store: {e}");
            None
        }
    }
}

/// The answer before anything was ever stored: no series.
struct NoHistory;

impl Querier for NoHistory {
    fn select(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<SeriesData>, model::StoreError> {
        Ok(Vec::new())
    }

    fn label_names(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<String>, model::StoreError> {
        Ok(Vec::new())
    }

    fn label_values(
        &self,
        _: &str,
        _: &[Matcher],
        _: TimeRange,
    ) -> Result<Vec<String>, model::StoreError> {
        Ok(Vec::new())
    }
}

fn store_config(load: &LoadOptions) -> Option<crate::config::StoreConfig> {
    let config = load_or_report(load)?;
    let Some(store_config) = config.store else {
        eprintln!(
            "periscope: {} disables the metric store ([store] enabled = false)",
            config.path.display()
        );
        return None;
    };
    Some(store_config)
}

/// Parses a PromQL series selector (`name{label="v",...}`) into store matchers.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, String> {
    let expr = rules::promql::parse(text)
        .map_err(|e| format!("`{text}` is not a series selector: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!(
            "`{text}` is an expression; give a series selector such as `up{{job=\"api\"}}`"
        ));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(format!(
            "`{text}`: offset and @ belong to PromQL queries; use --from and --to here"
        ));
    }
    let mut sets = rules::promql::selector_matchers(&vs).map_err(|e| format!("`{text}`: {e}"))?;
    if sets.len() > 1 {
        return Err(format!(
            "`{text}`: `or` inside a selector is not supported here"
        ));
    }
    Ok(sets.pop().unwrap_or_default())
}

/// Parses a command-line time: `now`, `-1h` / `now-1h` (a span back from now), RFC 3339, or
/// Unix seconds (fractions allowed).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let t = text.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(back) = t.strip_prefix("now-").or_else(|| t.strip_prefix('-')) {
        let span: jiff::Span = back
            .parse()
            .map_err(|e| format!("`{text}`: `{back}` is not a duration ({e})"))?;
        let d = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|e| format!("`{text}`: {e}; use days or shorter units"))?;
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        return Ok(now.plus_millis(-ms));
    }
    if let Ok(seconds) = t.parse::<f64>()
        && seconds.is_finite()
    {
        return Ok(Timestamp::from_millis((seconds * 1000.0).round() as i64));
    }
    t.parse::<jiff::Timestamp>()
        .map(Timestamp::from_jiff)
        .map_err(|_| {
            format!(
                "`{text}` is not a time: use RFC 3339 (2026-11-21T08:00:00Z), Unix seconds, \
                 `now` or `-1h`"
            )
        })
}

fn table(series: &[SeriesData]) -> Table {
    let mut table = Table::new();
    // One line per sample: a separator between every row would halve what fits on a screen.
    table.load_style(presets::ASCII_FULL_CONDENSED);
    table.set_header(["series", "time", "value"]);
    for s in series {
        let name = series_text(&s.labels);
        for (t, v) in s.timestamps.iter().zip(&s.values) {
            table.add_row([name.clone(), t.to_string(), format_value(*v)]);
        }
    }
    table
}

fn write_csv(out: &mut impl Write, series: &[SeriesData]) -> std::io::Result<()> {
    writeln!(out, "series,timestamp,value")?;
    for s in series {
        let name = csv_field(&series_text(&s.labels));
        for (t, v) in s.timestamps.iter().zip(&s.values) {
            writeln!(out, "{name},{t},{}", format_value(*v))?;
        }
    }
    Ok(())
}

/// Quotes a CSV field when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The Prometheus API's matrix shape: times in seconds, values as strings.
fn matrix_json(series: &[SeriesData]) -> serde_json::Value {
    let result: Vec<serde_json::Value> = series
        .iter()
        .map(|s| {
            let metric: serde_json::Map<String, serde_json::Value> = s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                .collect();
            let values: Vec<serde_json::Value> = s
                .timestamps
                .iter()
                .zip(&s.values)
                .map(|(t, v)| serde_json::json!([t.as_millis() as f64 / 1000.0, format_value(*v)]))
                .collect();
            serde_json::json!({"metric": metric, "values": values})
        })
        .collect();
    serde_json::json!({"resultType": "matrix", "result": result})
}

/// Values as Prometheus prints them: `NaN`, `+Inf`, `-Inf`, else the shortest exact decimal.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_store_matchers() {
        let m = parse_selector(r#"http_requests_total{code=~"5..",job!="test"}"#).unwrap();
        let text: Vec<String> = m.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            text,
            [
                r#"__name__="http_requests_total""#,
                r#"code=~"5..""#,
                r#"job!="test""#
            ]
        );
        let only_labels = parse_selector(r#"{job=~"import|export"}"#).unwrap();
        assert_eq!(only_labels.len(), 1);
        assert!(
            parse_selector("rate(x[5m])")
                .unwrap_err()
                .contains("expression")
        );
        assert!(
            parse_selector("x offset 5m")
                .unwrap_err()
                .contains("--from")
        );
        assert!(
            parse_selector("x{")
                .unwrap_err()
                .contains("not a series selector")
        );
    }

    #[test]
    fn times_read_in_every_form() {
        let now = Timestamp::from_millis(1_763_700_000_000);
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("-1h", now), Ok(now.plus_millis(-3_600_000)));
        assert_eq!(parse_time("now-2d", now), Ok(now.plus_millis(-172_800_000)));
        assert_eq!(
            parse_time("1763700000.5", now),
            Ok(Timestamp::from_millis(1_763_700_000_500))
        );
        assert_eq!(
            parse_time("2025-11-21T04:40:00Z", now),
            Ok(Timestamp::from_millis(1_763_700_000_000))
        );
        assert!(
            parse_time("yesterday", now)
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(parse_time("-3mo", now).unwrap_err().contains("days"));
    }

    #[test]
    fn csv_quotes_series_with_commas() {
        let series = SeriesData {
            labels: model::Labels::new()
                .with("__name__", "up")
                .with("a", "1")
                .with("b", "2"),
            timestamps: vec![Timestamp::from_millis(0)],
            values: vec![f64::NAN],
            start_timestamps: Vec::new(),
        };
        let mut out = Vec::new();
        write_csv(&mut out, &[series]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "series,timestamp,value\n\"up{a=\"\"1\"\",b=\"\"2\"\"}\",1970-01-01T00:00:00.000Z,NaN\n"
        );
    }
}
