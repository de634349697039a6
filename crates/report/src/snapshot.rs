//! The snapshot: every monitor's fragment of one run in one file, for dashboards and tools.
//!
//! As in the seed, each monitor contributes its element and the run collects them into one
//! master document: `<Snapshot>` with one `<Monitor>` each (XML), or the same content as JSON.
//! Files are either one per day, replaced by every run (the dashboard reads "today so far"), or
//! one per run (to see how the day built up). Either way a file is replaced atomically.

mod json;
mod xml;

use std::fs;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use model::{FactValue, RunRecord};

use crate::atomic::write_atomically;
use crate::error::ReportError;
use crate::value::local_date;

pub use json::snapshot_json;
pub use xml::snapshot_xml;

/// How snapshot files are named, and so how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotNaming {
    /// `snapshot-YYYY-MM-DD.xml`, the date of the run's start in the report's time zone:
    /// one file per day, replaced by each run, so at day's end it holds the day's last state.
    Daily,
    /// `snapshot-YYYYMMDDTHHMMSS.mmmZ.xml`, the run's start in UTC: a new file per run
    /// (96 a day at one run per 15 minutes). UTC so names sort in time order across DST changes.
    PerRun,
}

/// A snapshot file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotFormat {
    /// One XML document ([`snapshot_xml`]).
    Xml,
    /// Pretty-printed JSON with the same content ([`snapshot_json`]).
    Json,
}

impl SnapshotFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            SnapshotFormat::Xml => "xml",
            SnapshotFormat::Json => "json",
        }
    }

    fn render(self, run: &RunRecord) -> String {
        match self {
            SnapshotFormat::Xml => snapshot_xml(run),
            SnapshotFormat::Json => snapshot_json(run),
        }
    }
}

/// Writes `run` as a snapshot in each of `formats` into `dir` (created if missing), named by
/// `naming` with dates in `tz`. Returns the paths written, in the order of `formats`.
pub fn write_snapshots(
    run: &RunRecord,
    dir: &Path,
    naming: SnapshotNaming,
    formats: &[SnapshotFormat],
    tz: &TimeZone,
) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(ReportError::io("create snapshot directory", dir))?;
    let mut written = Vec::new();
    for &format in formats {
        let path = dir.join(file_name(run, naming, format, tz));
        if written.contains(&path) {
            continue; // the same format listed twice
        }
        write_atomically(&path, format.render(run).as_bytes())
            .map_err(ReportError::io("write snapshot", &path))?;
        written.push(path);
    }
    Ok(written)
}

/// The snapshot file name for `run`.
fn file_name(
    run: &RunRecord,
    naming: SnapshotNaming,
    format: SnapshotFormat,
    tz: &TimeZone,
) -> String {
    let stem = match naming {
        SnapshotNaming::Daily => local_date(run.started, tz),
        SnapshotNaming::PerRun => {
            let t = run.started.to_jiff();
            format!(
                "{}.{:03}Z",
                t.strftime("%Y%m%dT%H%M%S"),
                run.started.as_millis().rem_euclid(1000)
            )
        }
    };
    format!("snapshot-{stem}.{}", format.extension())
}

/// The `type` a fact's value has in both formats.
pub(crate) fn fact_type(value: &FactValue) -> &'static str {
    match value {
        FactValue::Text(_) => "text",
        FactValue::Count(_) => "count",
        FactValue::Number { .. } => "number",
        FactValue::Time(_) => "time",
        FactValue::DurationMs(_) => "duration",
    }
}

#[cfg(test)]
mod tests {
    use model::Timestamp;

    use super::*;

    fn run_at(ms: i64) -> RunRecord {
        RunRecord {
            host: "h".into(),
            environment: "production".into(),
            started: Timestamp(ms),
            finished: Timestamp(ms + 1000),
            monitors: vec![],
        }
    }

    #[test]
    fn names_files_by_day_in_the_zone_or_by_run_in_utc() {
        let run = run_at(1_795_218_309_123); // 2026-11-20T23:45:09.123Z
        let utc = TimeZone::UTC;
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let x = SnapshotFormat::Xml;
        assert_eq!(
            file_name(&run, SnapshotNaming::Daily, x, &utc),
            "snapshot-2026-11-20.xml"
        );
        assert_eq!(
            file_name(&run, SnapshotNaming::Daily, x, &paris),
            "snapshot-2026-11-21.xml"
        );
        assert_eq!(
            file_name(&run, SnapshotNaming::PerRun, SnapshotFormat::Json, &paris),
            "snapshot-20261120T234509.123Z.json"
        );
    }
}
