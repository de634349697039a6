//! Reading records: offsets across checks, unfinished ends, multi-line records, fields,
//! thresholds, awkward bytes, errors.

use model::{FactValue, Status};

use super::*;

const ERRORS: &str = r#"
paths = ["app.log"]
[rules.errors]
title = "Errors"
match = "ERROR"
warning = 2
critical = 4
"#;

#[tokio::test]
async fn counts_records_and_matches_once_across_checks() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "a ok\nb ERROR one\nc ok\n");
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "records"),
            fact(&o, "lines"),
            matches(&o, "errors")
        ),
        (3, 3, 1)
    );
    assert_eq!(fact(&o, "bytes"), 22);
    assert_eq!(o.outcome.status, Status::Ok);

    h.append("app.log", "d ERROR two\ne ok\n");
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (2, 1));
    assert_eq!(
        events(&o, "errors")[0].location.as_deref(),
        Some(&*format!("{}:4", h.path("app.log").display()))
    );

    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "records"),
            matches(&o, "errors"),
            fact(&o, "bytes")
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn thresholds_set_the_status_and_events_carry_it() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "ERROR 1\n");
    assert_eq!(h.check().await.outcome.status, Status::Ok);
    h.append("app.log", "ERROR 2\nERROR 3\n");
    let o = h.check().await;
    assert_eq!(o.outcome.status, Status::Warning);
    assert!(
        o.outcome.summary.contains("Errors: 2 (WARNING)"),
        "{}",
        o.outcome.summary
    );
    assert!(o.events.iter().all(|e| e.status == Status::Warning));
    h.append("app.log", "ERROR 4\nERROR 5\nERROR 6\nERROR 7\nERROR 8\n");
    let o = h.check().await;
    assert_eq!(o.outcome.status, Status::Critical);
    assert_eq!(matches(&o, "errors"), 5);
}

#[tokio::test]
async fn partial_last_line_waits_for_its_newline() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "one\ntwo ERR");
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "bytes")), (1, 4));
    assert_eq!(fact(&o, "backlog_bytes"), 7);
    h.append("app.log", "OR done\nthree\n");
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (2, 1));
    assert_eq!(events(&o, "errors")[0].message, "two ERROR done");
}

#[tokio::test]
async fn partial_last_line_is_read_once_the_file_is_quiet() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "one\ntwo ERROR");
    h.now = LATE;
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (2, 1));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 0);
}

#[tokio::test]
async fn flush_after_zero_reads_the_end_at_once() {
    let mut h = Harness::new(&format!("flush_after = \"0s\"\n{ERRORS}"));
    h.write("app.log", "one\ntwo ERROR");
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (2, 1));
}

const JAVA: &str = r#"
paths = ["app.log"]
record_start = '^\d{4}-\d{2}-\d{2} '
timestamp = { format = "%Y-%m-%d %H:%M:%S,%f" }
[rules.npe]
title = "Null pointers"
match = "NullPointerException"
[rules.errors]
regex = '^\S+ \S+ ERROR (?P<what>\w+)'
group_by = "what"
"#;

#[tokio::test]
async fn stack_traces_stay_with_their_record() {
    let mut h = Harness::new(JAVA);
    h.write(
        "app.log",
        "2024-01-01 10:00:00,000 INFO start\n\
         2024-01-01 10:00:01,000 ERROR GetLoans failed\n\
         java.lang.NullPointerException: x\n\
         \tat com.example.Loans.get(Loans.java:10)\n\
         \tat com.example.Main.run(Main.java:5)\n\
         2024-01-01 10:00:02,000 ERROR InsertDebt failed\n\
         \tat com.example.Debt.insert(Debt.java:7)\n",
    );
    // The last record may still grow: it waits for the next record to start.
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "lines")), (2, 5));
    assert_eq!((matches(&o, "npe"), matches(&o, "errors")), (1, 1));
    let npe = events(&o, "npe")[0];
    assert!(npe.message.starts_with(
        "2024-01-01 10:00:01,000 ERROR GetLoans failed\njava.lang.NullPointerException"
    ));
    assert!(npe.message.ends_with("(Main.java:5)"), "{}", npe.message);
    assert!(npe.location.as_deref().unwrap().ends_with("app.log:2"));
    assert_eq!(npe.time.to_string(), "2024-01-01T10:00:01.000Z");

    h.append(
        "app.log",
        "\tat com.example.Main.run(Main.java:6)\n2024-01-01 10:00:03,000 INFO end\n",
    );
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "lines")), (1, 3));
    let e = events(&o, "errors")[0];
    assert_eq!(e.message.lines().count(), 3);
    assert_eq!(
        e.fields,
        vec![("what".to_string(), "InsertDebt".to_string())]
    );
    assert_eq!(section(&o, "errors").groups[0].message, "InsertDebt");

    h.now = LATE;
    let o = h.check().await;
    assert_eq!(
        (fact(&o, "records"), fact(&o, "records_with_timestamp")),
        (1, 1)
    );
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 0);
}

#[tokio::test]
async fn lines_before_the_first_record_start_form_a_record() {
    let mut h = Harness::new(JAVA);
    h.write("app.log", "\tat orphan.Frame(X.java:1)\n\tat orphan.Frame(X.java:2)\n2024-01-01 10:00:00,000 INFO a\n");
    h.now = LATE;
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "records"),
            fact(&o, "lines"),
            fact(&o, "records_with_timestamp")
        ),
        (2, 3, 1)
    );
}

#[tokio::test]
async fn named_captures_become_fields_and_group_messages() {
    let mut h = Harness::new(
        r#"
paths = ["app.log"]
max_events = 2
[rules.timeouts]
title = "Timeouts"
regex = 'Timeout after (?P<ms>\d+) ms calling (?P<service>\w+)'
group_by = "service"
warning = 1
"#,
    );
    h.write(
        "app.log",
        "2024-05-01T10:00:00Z Timeout after 1500 ms calling loans\n\
         2024-05-01T10:00:05Z Timeout after 2500 ms calling debts\n\
         2024-05-01T10:01:00Z Timeout after 900 ms calling loans\n\
         2024-05-01T10:02:00Z fine\n",
    );
    let o = h.check().await;
    assert_eq!(matches(&o, "timeouts"), 3);
    let ev = events(&o, "timeouts");
    assert_eq!(ev.len(), 2, "max_events caps events, not counts");
    assert_eq!(
        ev[0].fields,
        vec![
            ("ms".into(), "1500".into()),
            ("service".into(), "loans".into())
        ]
    );
    assert_eq!(ev[0].time.to_string(), "2024-05-01T10:00:00.000Z");
    let s = section(&o, "timeouts");
    assert_eq!(s.title, "Timeouts");
    assert_eq!(
        (s.groups[0].message.as_str(), s.groups[0].count),
        ("loans", 2)
    );
    assert_eq!(
        s.groups[0].first_seen.unwrap().to_string(),
        "2024-05-01T10:00:00.000Z"
    );
    assert_eq!(
        s.groups[0].last_seen.unwrap().to_string(),
        "2024-05-01T10:01:00.000Z"
    );
    assert_eq!(
        (s.groups[1].message.as_str(), s.groups[1].count),
        ("debts", 1)
    );
    // Auto-detected ISO 8601 timestamps feed the facts.
    assert_eq!(fact(&o, "records_with_timestamp"), 4);
    let first = o
        .fragment
        .facts
        .iter()
        .find(|f| f.key == "first_record_time")
        .unwrap();
    assert_eq!(
        first.value,
        FactValue::Time(
            "2024-05-01T10:00:00Z"
                .parse::<jiff::Timestamp>()
                .map(Timestamp::from_jiff)
                .unwrap()
        )
    );
}

#[tokio::test]
async fn default_grouping_is_the_first_line_without_its_timestamp() {
    let mut h = Harness::new(ERRORS);
    h.write(
        "app.log",
        "2024-05-01 10:00:00,001 ERROR db down\n2024-05-01 10:00:01,002 ERROR db down\n[Sun Dec 04 04:47:44 2005] [error] ERROR x\n",
    );
    let o = h.check().await;
    let s = section(&o, "errors");
    assert_eq!(
        (s.groups[0].message.as_str(), s.groups[0].count),
        ("ERROR db down", 2)
    );
    assert_eq!(s.groups[1].message, "[error] ERROR x");
}

#[tokio::test]
async fn invalid_utf8_and_a_one_megabyte_line_are_counted_with_the_lines_after() {
    let mut h = Harness::new(ERRORS);
    let mut data = b"first ok\n\xff\xfe\xfd ERROR in latin-1 \xe9t\xe9\n".to_vec();
    let mut big = vec![b'x'; 1_000_000];
    big[999_000..999_005].copy_from_slice(b"ERROR");
    data.extend_from_slice(&big);
    data.extend_from_slice(b"\nafter ERROR\nlast ok\n");
    h.write("app.log", &data);
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (5, 3));
    assert_eq!(fact(&o, "bytes"), data.len() as u64);
    let ev = events(&o, "errors");
    assert!(ev[0].message.contains('\u{FFFD}') && ev[0].message.contains("ERROR in latin-1"));
    assert!(
        ev[1].message.len() < 5000 && ev[1].message.ends_with("(1000000 bytes)"),
        "{}",
        &ev[1].message[4000..]
    );
    assert_eq!(ev[2].message, "after ERROR");
    assert!(ev[2].location.as_deref().unwrap().ends_with(":4"));
}

#[tokio::test]
async fn lines_longer_than_the_buffer_are_cut_but_counted() {
    let mut h = Harness::new(ERRORS);
    // 9 MiB without a newline, then normal lines: the line keeps its head for matching.
    let mut data = b"ERROR at the start ".to_vec();
    data.resize(9 << 20, b'y');
    data.extend_from_slice(b"\nnext ERROR\nok\n");
    h.write("app.log", &data);
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "records"),
            fact(&o, "lines"),
            matches(&o, "errors")
        ),
        (3, 3, 2)
    );
    assert_eq!(fact(&o, "bytes"), data.len() as u64);
    assert!(
        events(&o, "errors")[1]
            .location
            .as_deref()
            .unwrap()
            .ends_with(":2")
    );
    h.append("app.log", "more ERROR\n");
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (1, 1));
}

#[tokio::test]
async fn an_unfinished_huge_line_is_not_consumed_until_complete() {
    let mut h = Harness::new(ERRORS);
    let mut data = b"ok\n".to_vec();
    data.resize(7 << 20, b'z');
    h.write("app.log", &data);
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "bytes")), (1, 3));
    h.append("app.log", " ERROR end\n");
    let o = h.check().await;
    assert_eq!(
        (fact(&o, "records"), fact(&o, "bytes")),
        (1, (7 << 20) - 3 + 11)
    );
}

#[tokio::test]
async fn huge_multi_line_records_keep_their_head() {
    let mut h = Harness::new(JAVA);
    let mut data = String::from("2024-01-01 10:00:00,000 ERROR Big NullPointerException\n");
    for i in 0..100_000 {
        data.push_str(&format!("\tat frame.number{i}(F.java:{i})\n"));
    }
    data.push_str("2024-01-01 10:00:01,000 INFO after\n");
    h.write("app.log", &data);
    h.now = LATE;
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "lines")), (2, 100_002));
    assert_eq!((matches(&o, "npe"), matches(&o, "errors")), (1, 1));
    assert_eq!(fact(&o, "bytes"), data.len() as u64);
}

#[tokio::test]
async fn crlf_lines_lose_their_carriage_return() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "a\r\nERROR b\r\n");
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 2);
    assert_eq!(events(&o, "errors")[0].message, "ERROR b");
}

#[tokio::test]
async fn glob_reads_every_matching_file_and_picks_up_new_ones() {
    let mut h = Harness::new(
        r#"
paths = ["logs/*.log", "extra.txt"]
[rules.errors]
match = ["ERROR", "FATAL"]
"#,
    );
    fs::create_dir(h.path("logs")).unwrap();
    h.write("logs/a.log", "ERROR a\nok\n");
    h.write("logs/b.log", "FATAL b\n");
    h.write("logs/c.txt", "ERROR not matched by the glob\n");
    h.write("extra.txt", "ok\n");
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "files"),
            fact(&o, "records"),
            matches(&o, "errors")
        ),
        (3, 4, 2)
    );
    h.write("logs/d.log", "ERROR d\n");
    h.append("logs/a.log", "ERROR a2\n");
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "files"),
            fact(&o, "records"),
            matches(&o, "errors")
        ),
        (4, 2, 2)
    );
}

#[tokio::test]
async fn missing_file_is_an_error_naming_it() {
    let mut h = Harness::new(ERRORS);
    let err = h.check_err().await;
    assert!(
        err.contains(&h.path("app.log").display().to_string()),
        "{err}"
    );
    assert!(err.contains("No such file"), "{err}");
}

#[tokio::test]
async fn missing_share_and_empty_glob_are_errors_unless_allowed() {
    let mut h = Harness::new("paths = [\"share/*.log\"]");
    let err = h.check_err().await;
    assert!(
        err.contains("cannot read directory")
            && err.contains("share")
            && err.contains("No such file"),
        "{err}"
    );
    fs::create_dir(h.path("share")).unwrap();
    let err = h.check_err().await;
    assert!(
        err.contains("no file matches") && err.contains("allow_missing"),
        "{err}"
    );

    let mut h2 = Harness::new("paths = [\"share/*.log\", \"missing.log\"]\nallow_missing = true");
    fs::create_dir(h2.path("share")).unwrap();
    let o = h2.check().await;
    assert_eq!(fact(&o, "files"), 0);
}

#[tokio::test]
async fn unreadable_directory_is_an_error_with_the_os_reason() {
    let mut h = Harness::new("paths = [\"blocker/*.log\"]");
    // A path through a regular file cannot be listed, as root too.
    h.write("blocker", "not a directory");
    let err = h.check_err().await;
    assert!(
        err.contains("blocker") && err.contains("Not a directory"),
        "{err}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut h = Harness::new("paths = [\"locked/*.log\"]");
        fs::create_dir(h.path("locked")).unwrap();
        h.write("locked/app.log", "x\n");
        fs::set_permissions(h.path("locked"), fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read_dir(h.path("locked")).is_ok() {
            eprintln!(
                "running as root: permission bits are not enforced, skipping the EACCES half"
            );
        } else {
            let err = h.check_err().await;
            assert!(
                err.contains("locked") && err.contains("Permission denied"),
                "{err}"
            );
        }
        fs::set_permissions(h.path("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[tokio::test]
async fn unreadable_state_starts_over_and_says_so() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "ERROR\n");
    h.state = Some(b"not json".to_vec());
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 1);
    assert!(
        o.outcome.details.contains("previous state unreadable"),
        "{}",
        o.outcome.details
    );
}

#[tokio::test]
async fn a_time_limited_check_leaves_the_rest_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext {
        base_dir: dir.path().to_path_buf(),
        timeout: Duration::ZERO,
    };
    let monitor = settings(ERRORS).build("t", &ctx).unwrap();
    let mut h = Harness {
        dir,
        monitor,
        state: None,
        now: EARLY,
    };
    let n = 300_000;
    h.write("app.log", lines("ERROR", 0..n));
    let (mut records, mut errors, mut checks) = (0, 0, 0);
    while records < n as u64 {
        let o = h.check().await;
        records += fact(&o, "records");
        errors += matches(&o, "errors");
        checks += 1;
        assert!(checks < 100, "no progress");
    }
    assert!(checks > 1, "a zero budget reads one block per check");
    assert_eq!((records, errors), (n as u64, n as u64));
    assert_eq!(fact(&h.check().await, "records"), 0);
}

#[tokio::test]
async fn samples_have_prometheus_names_and_units() {
    let mut h = Harness::new(ERRORS);
    h.write("app.log", "ERROR\n");
    let o = h.check().await;
    let names: Vec<&str> = o.samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "periscope_log_files",
            "periscope_log_records",
            "periscope_log_records_with_timestamp",
            "periscope_log_lines",
            "periscope_log_bytes",
            "periscope_log_backlog_bytes",
            "periscope_log_matches",
        ]
    );
    assert!(o.samples.iter().all(|s| s.timestamp == EARLY));
    assert_eq!(o.samples[4].unit.as_deref(), Some("B"));
    assert_eq!(h.monitor.kind(), "log");
    assert_eq!(h.monitor.name(), "test");
}

#[tokio::test]
async fn a_huge_continuation_line_freezes_its_record_without_losing_the_next() {
    let mut h = Harness::new(JAVA);
    let mut data = b"2024-01-01 10:00:00,000 ERROR Big failure\n\tat ".to_vec();
    data.resize(data.len() + (9 << 20), b'f');
    data.extend_from_slice(b" NullPointerException\n2024-01-01 10:00:01,000 ERROR Next one\n2024-01-01 10:00:02,000 INFO x\n");
    h.write("app.log", &data);
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "lines")), (2, 3));
    // The literal in the cut-off tail is not seen; both ERROR records are.
    assert_eq!((matches(&o, "npe"), matches(&o, "errors")), (0, 2));
    assert!(
        events(&o, "errors")[1]
            .location
            .as_deref()
            .unwrap()
            .ends_with(":3")
    );
}

#[tokio::test]
async fn ignore_case_applies_to_phrases_and_regexes() {
    let mut h = Harness::new(
        r#"
paths = ["app.log"]
timestamp = { format = "none" }
[rules.phrase]
match = "connection refused"
ignore_case = true
[rules.regex]
regex = 'disk (full|quota)'
ignore_case = true
[rules.exact]
match = "connection refused"
"#,
    );
    h.write(
        "app.log",
        "CONNECTION REFUSED\nConnection Refused\nconnection refused\nDISK FULL\nDisk Quota\nfine\n",
    );
    let o = h.check().await;
    assert_eq!(
        (
            matches(&o, "phrase"),
            matches(&o, "regex"),
            matches(&o, "exact")
        ),
        (3, 2, 1)
    );
    assert_eq!(fact(&o, "records_with_timestamp"), 0);
}

#[tokio::test]
async fn presets_locate_and_zone_timestamps() {
    let mut h = Harness::new(
        r#"
paths = ["access.log"]
timestamp = { format = "clf" }
[rules.server-errors]
regex = '" 5\d\d '
"#,
    );
    h.write(
        "access.log",
        "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.0\" 200 2326\n\
         127.0.0.1 - - [10/Oct/2000:13:56:00 -0700] \"GET /b HTTP/1.0\" 503 12\n",
    );
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "records_with_timestamp"),
            matches(&o, "server-errors")
        ),
        (2, 1)
    );
    assert_eq!(
        events(&o, "server-errors")[0].time.to_string(),
        "2000-10-10T20:56:00.000Z"
    );
    // The grouping key drops the bracketed timestamp.
    assert_eq!(
        section(&o, "server_errors").groups[0].message,
        "127.0.0.1 - -  \"GET /b HTTP/1.0\" 503 12"
    );

    let mut h = Harness::new(
        r#"
paths = ["app.log"]
timestamp = { format = "%Y-%m-%d %H:%M:%S", timezone = "America/New_York" }
[rules.e]
match = "E"
"#,
    );
    h.write(
        "app.log",
        "2024-07-04 12:00:00 E summer\n2024-12-24 12:00:00 E winter\n",
    );
    let o = h.check().await;
    let times: Vec<String> = o.events.iter().map(|e| e.time.to_string()).collect();
    assert_eq!(
        times,
        ["2024-07-04T16:00:00.000Z", "2024-12-24T17:00:00.000Z"]
    );
}

#[tokio::test]
async fn a_file_named_twice_is_read_once() {
    let mut h = Harness::new(
        "paths = [\"logs/a.log\", \"logs/*.log\", \"link.log\"]\n[rules.e]\nmatch = \"E\"",
    );
    fs::create_dir(h.path("logs")).unwrap();
    h.write("logs/a.log", "E 1\nE 2\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(h.path("logs/a.log"), h.path("link.log")).unwrap();
    #[cfg(not(unix))]
    h.write("link.log", "");
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "e")), (2, 2));
}
