//! `periscope run` end to end: a real config, real log files, real outputs, golden files.

mod common;

use common::{World, only_file, stderr, stdout};

const CONFIG: &str = r#"
[periscope]
timezone = "UTC"
host = "test-host"

[output]
dir = "out"

[monitor.loans]
kind = "log"
description = "Loan importer"
paths = ["logs/loans.log"]
record_start = '^\d{4}-\d{2}-\d{2} '
flush_after = "0s"

[monitor.loans.rules.get-loans]
title = "Get Loans Errors"
match = "[GetLoans]"
warning = 1
critical = 3

[monitor.loans.rules.insert-debt]
title = "Insert Debt Errors"
match = "[InsertDebt]"
warning = 1

[monitor.queue]
kind = "command"
description = "Queue depth"
shell = "printf 'QUEUE OK - 12 waiting | depth=12;50;100;0\n'"
"#;

const LOG: &str = "\
2026-11-20 00:05:09,000 INFO  [Importer] started
2026-11-20 00:05:10,000 ERROR [GetLoans] Timeout after 30000 ms
java.net.SocketTimeoutException: Read timed out
\tat com.example.LoanClient.fetch(LoanClient.java:88)
2026-11-20 00:05:11,000 INFO  [Importer] transferred L-1
2026-11-20 00:05:12,000 ERROR [GetLoans] Timeout after 30000 ms
2026-11-20 00:05:13,000 ERROR [GetLoans] Connection refused
2026-11-20 00:08:57,000 INFO  [Importer] finished
";

fn world() -> World {
    let w = World::new(CONFIG);
    w.write("logs/loans.log", LOG);
    w
}

#[test]
fn report_mode_writes_summary_and_snapshots_and_exits_with_the_worst_status() {
    let w = world();
    let out = w.run(&["run", "--mode", "report"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "CRITICAL: 3 GetLoans errors reach critical = 3\n{}",
        stderr(&out)
    );
    let settings = w.settings();
    settings.bind(|| {
        insta::assert_snapshot!("summary_stdout", stdout(&out));
        insta::assert_snapshot!("summary_file", w.read("out/summary.txt"));
        insta::assert_snapshot!(
            "snapshot_xml",
            std::fs::read_to_string(only_file(&w.path("out"), ".xml")).unwrap()
        );
        insta::assert_snapshot!(
            "snapshot_json",
            std::fs::read_to_string(only_file(&w.path("out"), ".json")).unwrap()
        );
    });
    assert!(
        stdout(&out).contains("No Errors Reported"),
        "the clean rule says so"
    );
}

#[test]
fn offsets_persist_so_the_next_run_counts_only_new_records() {
    let w = world();
    assert_eq!(w.run(&["run", "--mode", "silent"]).status.code(), Some(2));
    // Nothing new: everything is OK now.
    let again = w.run(&["run", "--mode", "report"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    // One new error: WARNING, and exactly one counted.
    w.append(
        "logs/loans.log",
        "2026-11-20 01:00:00,000 ERROR [InsertDebt] duplicate key L-7\n",
    );
    let third = w.run(&["run", "--mode", "report"]);
    assert_eq!(third.status.code(), Some(1), "{}", stdout(&third));
    let text = stdout(&third);
    assert!(
        text.contains("1 x") && text.contains("duplicate key L-7"),
        "{text}"
    );
}

#[test]
fn silent_mode_prints_nothing_and_writes_the_snapshot() {
    let w = world();
    let out = w.run(&["run", "--mode", "silent"]);
    assert!(
        stdout(&out).is_empty(),
        "silent means silent: {}",
        stdout(&out)
    );
    only_file(&w.path("out"), ".xml");
    assert!(
        !w.path("out/summary.txt").exists(),
        "silent mode writes no summary"
    );
}

#[test]
fn per_run_snapshots_add_a_file_each_run_and_daily_replaces() {
    let w = world();
    w.run(&["run"]);
    w.run(&["run"]);
    only_file(&w.path("out"), ".xml"); // daily: still one file
    w.write(
        "periscope.test.toml",
        "[output]\nsnapshot = \"per-run\"\ndir = \"per-run\"\n",
    );
    w.run(&["run", "--env", "test"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    w.run(&["run", "--env", "test"]);
    let n = std::fs::read_dir(w.path("per-run"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "xml")
        })
        .count();
    assert_eq!(n, 2, "per-run: one file per run");
}

#[test]
fn end_of_day_appends_csv_once_per_day() {
    let w = world();
    assert_eq!(
        w.run(&["run", "--mode", "end-of-day"]).status.code(),
        Some(2)
    );
    let csv = w.read("out/csv/loans.csv");
    w.run(&["run", "--mode", "end-of-day"]);
    let again = w.read("out/csv/loans.csv");
    assert_eq!(
        csv.lines().count(),
        again.lines().count(),
        "a second end-of-day run the same day replaces, not duplicates"
    );
    assert_eq!(
        again.lines().filter(|l| l.starts_with("date,")).count(),
        1,
        "header once"
    );
    w.settings()
        .bind(|| insta::assert_snapshot!("end_of_day_csv", csv));
}

#[test]
fn a_hanging_command_does_not_delay_the_run_beyond_its_timeout() {
    let w = World::new(
        "[monitor.hangs]\nkind = \"command\"\nshell = \"sleep 60\"\ntimeout = \"1s\"\n\
         [monitor.fine]\nkind = \"command\"\ncommand = [\"true\"]\n",
    );
    let began = std::time::Instant::now();
    let out = w.run(&["run", "--mode", "report"]);
    let took = began.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    assert_eq!(out.status.code(), Some(3), "UNKNOWN is the worst here");
    let text = stdout(&out);
    assert!(text.contains("timed out after 1s"), "{text}");
    assert!(text.contains("fine"), "{text}");
}

#[test]
fn monitor_run_prints_one_monitor_and_leaves_offsets_alone() {
    let w = world();
    let out = w.run(&["monitor", "run", "loans", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(run["name"], "loans");
    assert_eq!(run["outcome"]["status"], "CRITICAL");
    // Not committed: a scheduled run still sees the errors.
    assert_eq!(w.run(&["run"]).status.code(), Some(2));
    let missing = w.run(&["monitor", "run", "nope"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        stderr(&missing).contains("no monitor named `nope`") && stderr(&missing).contains("loans")
    );
}

#[test]
fn check_config_reports_problems_with_file_and_line() {
    let w = World::new(
        "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\n[monitor.a.rules.x]\nregex = '('\n",
    );
    let out = w.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("periscope.toml:5:") && err.contains("monitor.a.rules.x.regex"),
        "{err}"
    );
    let good = world().run(&["check-config"]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert!(stdout(&good).contains("OK (2 monitors, 2 enabled"));
}

#[test]
fn missing_log_file_is_unknown_with_the_path() {
    let w =
        World::new("[monitor.gone]\nkind = \"log\"\npaths = [\"/nonexistent/share/app.log\"]\n");
    let out = w.run(&["run", "--mode", "report"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("/nonexistent/share/app.log"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn monitor_list_shows_kind_schedule_and_enabled() {
    let w = world();
    w.write(
        "periscope.test.toml",
        "[monitor.queue]\nenabled = false\ncron = \"*/15 * * * *\"\n",
    );
    let out = w.run(&["monitor", "list", "--env", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<_> = text.lines().collect();
    assert!(
        lines[1].starts_with("loans")
            && lines[1].contains("log")
            && lines[1].contains("yes")
            && lines[1].contains("every 1m"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("queue")
            && lines[2].contains("command")
            && lines[2].contains("no")
            && lines[2].contains("cron `*/15 * * * *`"),
        "{text}"
    );
}

#[test]
fn check_perfdata_reads_plugin_output_and_flags_bad_items() {
    use std::io::Write;
    let w = world();
    let mut child = w
        .cmd(&["check-perfdata"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"DISK WARNING - 81% used | '/ used'=81%;80;90;0;100 bad=x\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a malformed item makes the exit code 1"
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["summary"], "DISK WARNING - 81% used");
    assert_eq!(parsed["perfdata"][0]["label"], "/ used");
    assert_eq!(parsed["threshold_status"][0], "WARNING");
    assert_eq!(parsed["problems"][0]["item"], "bad=x");
}
