//! End-of-day CSV: one file per monitor, the last run of a day wins, other days are kept.

use std::fs;
use std::path::Path;

use jiff::tz::TimeZone;
use report::{CSV_HEADER, EndOfDayOutcome, ReportError, append_end_of_day};

use super::fixture::{run, run_days_later};

/// Every file in `dir`, sorted, as `== name ==` followed by its content.
fn dump(dir: &Path) -> String {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            format!(
                "== {} ==\n{}",
                n.to_string_lossy(),
                fs::read_to_string(dir.join(n)).unwrap()
            )
        })
        .collect()
}

#[test]
fn writes_one_file_per_monitor_with_a_row_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = append_end_of_day(&run(), dir.path(), &TimeZone::UTC).unwrap();
    assert_eq!(
        out.files,
        [
            "loan-importer.csv",
            "payments-gateway.csv",
            "reporting-replica.csv"
        ]
        .map(|n| dir.path().join(n))
    );
    assert_eq!(out.rows_replaced, 0);
    let dump = dump(dir.path());
    insta::assert_snapshot!("end_of_day_csv", dump);
    assert_eq!(
        dump.lines().filter(|l| l.starts_with("2026-")).count(),
        out.rows_written
    );

    // The CSV reads back: quoting of the awkward label survived.
    let mut reader = csv::Reader::from_path(dir.path().join("payments-gateway.csv")).unwrap();
    assert_eq!(
        reader
            .headers()
            .unwrap()
            .iter()
            .collect::<Vec<_>>()
            .join(","),
        CSV_HEADER
    );
    let labels: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[4].to_string())
        .filter(|l| l.starts_with("partner"))
        .collect();
    assert_eq!(labels, [r#"partner=ACME Bank, Ltd\; EU\="1""#]);
}

#[test]
fn running_twice_on_the_same_day_replaces_that_days_rows() {
    let dir = tempfile::tempdir().unwrap();
    let first = append_end_of_day(&run(), dir.path(), &TimeZone::UTC).unwrap();
    let after_first = dump(dir.path());

    let again = append_end_of_day(&run(), dir.path(), &TimeZone::UTC).unwrap();
    assert_eq!(
        dump(dir.path()),
        after_first,
        "the same run again changes nothing"
    );
    assert_eq!(
        again,
        EndOfDayOutcome {
            files: first.files.clone(),
            rows_written: first.rows_written,
            rows_replaced: first.rows_written
        }
    );

    // A later run the same day wins.
    let mut later = run();
    later.monitors[0].fragment.facts[1].value = model::FactValue::Count(250);
    append_end_of_day(&later, dir.path(), &TimeZone::UTC).unwrap();
    let csv = fs::read_to_string(dir.path().join("loan-importer.csv")).unwrap();
    assert!(csv.contains(",loans_transferred,,250,\n"), "{csv}");
    assert!(!csv.contains(",loans_transferred,,100,\n"), "{csv}");
    assert_eq!(csv.matches(CSV_HEADER).count(), 1);
}

#[test]
fn a_new_day_is_appended_and_earlier_days_kept() {
    let dir = tempfile::tempdir().unwrap();
    let day1 = append_end_of_day(&run(), dir.path(), &TimeZone::UTC).unwrap();
    let day1_text = fs::read_to_string(dir.path().join("payments-gateway.csv")).unwrap();
    let day2 = append_end_of_day(&run_days_later(1), dir.path(), &TimeZone::UTC).unwrap();
    assert_eq!(day2.rows_replaced, 0);
    assert_eq!(day2.rows_written, day1.rows_written);

    let text = fs::read_to_string(dir.path().join("payments-gateway.csv")).unwrap();
    assert!(
        text.starts_with(&day1_text),
        "day 1 rows are kept as they were"
    );
    let days: Vec<&str> = text.lines().skip(1).map(|l| &l[..10]).collect();
    let (d1, d2) = (
        days.iter().filter(|d| **d == "2026-11-21").count(),
        days.iter().filter(|d| **d == "2026-11-22").count(),
    );
    assert_eq!((d1, d2), (11, 11), "{text}");
}

#[test]
fn the_day_is_the_runs_day_in_the_report_zone() {
    let dir = tempfile::tempdir().unwrap();
    // 00:05 UTC is still the 20th in New York.
    let ny = TimeZone::get("America/New_York").unwrap();
    append_end_of_day(&run(), dir.path(), &ny).unwrap();
    let text = fs::read_to_string(dir.path().join("reporting-replica.csv")).unwrap();
    assert_eq!(
        text,
        format!(
            "{CSV_HEADER}\n2026-11-20,19:05:30,reporting-replica,status,,3,\n2026-11-20,19:05:30,reporting-replica,elapsed_ms,,30000,ms\n"
        )
    );
}

#[test]
fn a_file_that_is_not_ours_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments-gateway.csv");
    fs::write(&path, "when,what\n2020-01-01,precious\n").unwrap();
    let err = append_end_of_day(&run(), dir.path(), &TimeZone::UTC).unwrap_err();
    assert!(matches!(err, ReportError::CsvHeader { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("header `when,what`"),
        "{msg}"
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "when,what\n2020-01-01,precious\n"
    );
}

#[test]
fn rows_it_does_not_understand_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loan-importer.csv");
    fs::write(
        &path,
        format!("{CSV_HEADER}\n2026-11-20,23:55:00,loan-importer,hand-edited\n"),
    )
    .unwrap();
    append_end_of_day(&run(), dir.path(), &TimeZone::UTC).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!(
            "{CSV_HEADER}\n2026-11-20,23:55:00,loan-importer,hand-edited\n2026-11-21,"
        )),
        "{text}"
    );
}
