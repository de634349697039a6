//! End-of-day CSV: one file per monitor, one row per value, one run's rows per day.
//!
//! The seed's end-of-day mode appends to CSV files that drive the dashboard's charts. Each
//! monitor gets `<monitor>.csv` (name made file-safe) with the header
//! `date,time,monitor,metric,labels,value,unit` and, per run, these rows:
//!
//! - `status`: the plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN);
//! - `elapsed_ms`: how long the check took (unit `ms`), the seed's "Elapsed Time" to watch;
//! - one per numeric fact (count, number, duration), metric = the fact's key; text and time
//!   facts are not chartable and are left to the snapshot;
//! - `section_errors` with label `section=<key>` per error section: the day's error totals;
//! - one per sample, metric = the sample's name, labels `k=v;k=v` (sorted, without `monitor`,
//!   which has its own column; `\`, `;` and `=` inside names and values are escaped with `\`).
//!
//! `date` is the day of the run's start in the report's zone: the day the rows belong to.
//! `time` is when the value was measured, in the same zone.
//!
//! Running twice on one day must not count the day twice. The last run of the day wins: the
//! file is read, that day's earlier rows for the monitor are dropped, the new rows appended,
//! and the whole file replaced atomically, so a chart reading it never sees half a row. Other
//! days and other monitors' rows are kept as they were. Only one end-of-day run should write a
//! directory at a time (the scheduler runs them one after another); two at once could each
//! miss the other's rows.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use model::{FactValue, MonitorRun, RunRecord};

use crate::atomic::replace_with;
use crate::error::ReportError;
use crate::value::local_date;

/// The header line of every end-of-day file.
pub const CSV_HEADER: &str = "date,time,monitor,metric,labels,value,unit";

const COLUMNS: [&str; 7] = [
    "date", "time", "monitor", "metric", "labels", "value", "unit",
];

/// What [`append_end_of_day`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndOfDayOutcome {
    /// The files written, one per monitor (in config order).
    pub files: Vec<PathBuf>,
    /// Rows added by this run.
    pub rows_written: usize,
    /// Rows of the same day from an earlier run that this run replaced (0 on the first run of
    /// a day).
    pub rows_replaced: usize,
}

/// Adds the day's rows for every monitor of `run` to its CSV file in `dir` (created if
/// missing), replacing rows an earlier run wrote for the same day. Dates and times in `tz`.
pub fn append_end_of_day(
    run: &RunRecord,
    dir: &Path,
    tz: &TimeZone,
) -> Result<EndOfDayOutcome, ReportError> {
    fs::create_dir_all(dir).map_err(ReportError::io("create end-of-day directory", dir))?;
    let date = local_date(run.started, tz);

    // Monitors whose names clean up to the same file name share it; the monitor column tells
    // their rows apart.
    let mut files: Vec<(String, Vec<&MonitorRun>)> = Vec::new();
    for m in &run.monitors {
        let name = file_name(&m.name);
        match files.iter_mut().find(|(n, _)| *n == name) {
            Some((_, ms)) => ms.push(m),
            None => files.push((name, vec![m])),
        }
    }

    let mut outcome = EndOfDayOutcome::default();
    for (name, monitors) in files {
        let path = dir.join(name);
        let names: HashSet<&str> = monitors.iter().map(|m| m.name.as_str()).collect();
        let (kept, replaced) = existing_rows(&path, &date, &names)?;
        let new: Vec<[String; 7]> = monitors.iter().flat_map(|m| rows(m, &date, tz)).collect();

        replace_with(&path, |file| {
            // Flexible: kept rows of another length are written back as they were read.
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .flexible(true)
                .from_writer(file);
            w.write_record(COLUMNS)?;
            for r in &kept {
                w.write_record(r)?;
            }
            for r in &new {
                w.write_record(r)?;
            }
            w.flush()
        })
        .map_err(ReportError::io("write end-of-day CSV", &path))?;

        outcome.rows_written += new.len();
        outcome.rows_replaced += replaced;
        outcome.files.push(path);
    }
    Ok(outcome)
}

/// The rows of `path` to keep (all but `date`'s rows for `monitors`) and how many were dropped.
/// A missing or empty file has none; a file with another header is refused, not rewritten.
fn existing_rows(
    path: &Path,
    date: &str,
    monitors: &HashSet<&str>,
) -> Result<(Vec<csv::StringRecord>, usize), ReportError> {
    let mut reader = match csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
    {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::NotFound) =>
        {
            return Ok((Vec::new(), 0));
        }
        Err(source) => {
            return Err(ReportError::Csv {
                path: path.into(),
                source,
            });
        }
    };
    let mut records = reader.records();
    match records.next() {
        None => return Ok((Vec::new(), 0)),
        Some(Err(source)) => {
            return Err(ReportError::Csv {
                path: path.into(),
                source,
            });
        }
        Some(Ok(header)) if header.iter().ne(COLUMNS) => {
            let found = header.iter().collect::<Vec<_>>().join(",");
            return Err(ReportError::CsvHeader {
                path: path.into(),
                found,
                expected: CSV_HEADER,
            });
        }
        Some(Ok(_)) => {}
    }
    let mut kept = Vec::new();
    let mut dropped = 0;
    for record in records {
        let record = record.map_err(|source| ReportError::Csv {
            path: path.into(),
            source,
        })?;
        if record.get(0) == Some(date) && record.get(2).is_some_and(|m| monitors.contains(m)) {
            dropped += 1;
        } else {
            // Rows we do not understand (edited by hand, fewer columns) are kept as they are:
            // this file is the chart's history, and it is not ours to lose.
            kept.push(record);
        }
    }
    Ok((kept, dropped))
}

/// The rows one monitor contributes (see the module documentation).
fn rows(m: &MonitorRun, date: &str, tz: &TimeZone) -> Vec<[String; 7]> {
    let time = |t: model::Timestamp| {
        t.to_jiff()
            .to_zoned(tz.clone())
            .strftime("%H:%M:%S")
            .to_string()
    };
    let done = time(m.finished);
    let row = |time: &str, metric: &str, labels: String, value: String, unit: &str| {
        [
            date.to_string(),
            time.to_string(),
            m.name.clone(),
            metric.to_string(),
            labels,
            value,
            unit.to_string(),
        ]
    };

    let mut out = vec![
        row(
            &done,
            "status",
            String::new(),
            m.outcome.status.exit_code().to_string(),
            "",
        ),
        row(
            &done,
            "elapsed_ms",
            String::new(),
            m.elapsed_ms().to_string(),
            "ms",
        ),
    ];
    for f in &m.fragment.facts {
        let (value, unit) = match &f.value {
            FactValue::Count(n) => (n.to_string(), ""),
            FactValue::Number { value, unit } => (value.to_string(), unit.as_deref().unwrap_or("")),
            FactValue::DurationMs(ms) => (ms.to_string(), "ms"),
            FactValue::Text(_) | FactValue::Time(_) => continue,
        };
        out.push(row(&done, &f.key, String::new(), value, unit));
    }
    for s in &m.fragment.sections {
        out.push(row(
            &done,
            "section_errors",
            format!("section={}", escape_label(&s.key)),
            s.total().to_string(),
            "",
        ));
    }
    for s in &m.samples {
        let labels = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "monitor")
            .map(|(k, v)| format!("{}={}", escape_label(k), escape_label(v)))
            .collect::<Vec<_>>()
            .join(";");
        out.push(row(
            &time(s.timestamp),
            &s.name,
            labels,
            s.value.to_string(),
            s.unit.as_deref().unwrap_or(""),
        ));
    }
    out
}

/// `\`, `;` and `=` escaped with a backslash, so `k=v;k=v` splits back unambiguously.
fn escape_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `<monitor>.csv` with anything but ASCII letters, digits, `-`, `_` and `.` made `_`, and no
/// leading dot (no hidden files, no `..`).
fn file_name(monitor: &str) -> String {
    let safe: String = monitor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    if safe.is_empty() {
        "_.csv".to_string()
    } else {
        format!("{safe}.csv")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_names_become_safe_file_names() {
        assert_eq!(file_name("loan-importer"), "loan-importer.csv");
        assert_eq!(file_name("../etc/passwd"), "_etc_passwd.csv");
        assert_eq!(file_name("disk C: space"), "disk_C__space.csv");
        assert_eq!(file_name("..."), "_.csv");
        assert_eq!(file_name(""), "_.csv");
    }

    #[test]
    fn label_separators_are_escaped() {
        assert_eq!(escape_label(r"a;b=c\d"), r"a\;b\=c\\d");
    }
}
