//! The parts of `periscope` that talk to the outside over time: e-mail over a real SMTP
//! exchange, the daemon and its clean stop, and the demo.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{World, only_file, stderr, stdout};
use testkit::SmtpSink;

fn email_config(port: u16, monitors: &str) -> String {
    format!(
        "[periscope]\ntimezone = \"UTC\"\n\
         [email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsecurity = \"plain\"\n\
         from = \"periscope@example.com\"\nto = [\"dev@example.com\", \"support@example.com\"]\n\
         [alerts]\nto = [\"oncall@example.com\"]\n{monitors}"
    )
}

const FAILING: &str = "[monitor.broken]\nkind = \"command\"\nshell = \"echo 'CRITICAL - database down'; exit 2\"\n\
                       [monitor.healthy]\nkind = \"command\"\nshell = \"echo 'OK - all good'\"\n";
const HEALTHY: &str = "[monitor.healthy]\nkind = \"command\"\nshell = \"echo 'OK - all good'\"\n";

#[tokio::test]
async fn report_mode_emails_the_summary_over_smtp() {
    let sink = SmtpSink::start().await;
    let w = World::new(&email_config(sink.port(), FAILING));
    let out = tokio::task::spawn_blocking(move || (w.run(&["run", "--mode", "report"]), w))
        .await
        .unwrap();
    let (out, _w) = out;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "periscope@example.com");
    assert_eq!(mail.rcpt_to, ["dev@example.com", "support@example.com"]);
    assert!(
        mail.data.contains("Subject: [Periscope] CRITICAL"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("database down"),
        "the body is the summary: {}",
        mail.data
    );
    assert!(stdout(&out).contains("e-mailed"), "{}", stdout(&out));
}

#[tokio::test]
async fn alerts_mode_emails_only_when_something_needs_attention() {
    let sink = SmtpSink::start().await;
    let quiet = World::new(&email_config(sink.port(), HEALTHY));
    let out = tokio::task::spawn_blocking(move || quiet.run(&["run", "--mode", "alerts"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("no alert sent"), "{}", stdout(&out));

    let loud = World::new(&email_config(sink.port(), FAILING));
    let out = tokio::task::spawn_blocking(move || loud.run(&["run", "--mode", "alerts"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        mails.len(),
        1,
        "exactly one alert, none for the healthy run"
    );
    assert_eq!(mails[0].rcpt_to, ["oncall@example.com"]);
    assert!(mails[0].data.contains("database down"));
    assert!(
        !mails[0].data.contains("all good"),
        "only WARNING/CRITICAL monitors are in an alert"
    );
}

#[test]
fn smtp_server_down_is_reported_and_the_run_is_unknown() {
    // Port 9 (discard) on loopback: nothing listens there.
    let w = World::new(&email_config(9, HEALTHY));
    let out = w.run(&["run", "--mode", "report"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a summary that could not be sent must not look OK"
    );
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
    assert!(
        w.path("output/summary.txt").exists(),
        "the summary file is still written"
    );
}

#[test]
fn serve_checks_on_schedule_and_stops_cleanly_on_sigterm() {
    let w = World::new(
        "[monitor.tick]\nkind = \"command\"\ninterval = \"1s\"\nshell = \"echo 'OK - tick | n=1'\"\n",
    );
    let child = w
        .cmd(&["serve", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !w.path("output").exists() || std::fs::read_dir(w.path("output")).unwrap().count() < 2 {
        assert!(Instant::now() < deadline, "no snapshot written by serve");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500)); // let it run the monitor again
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "clean exit on SIGTERM");
    let log = stderr(&out);
    assert!(
        log.matches("check finished").count() >= 2,
        "ran on its interval: {log}"
    );
    assert!(log.contains("stopped cleanly"), "{log}");
    // Structured logs: every line is a JSON object; check results carry their fields.
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let check = events
        .iter()
        .find(|e| e["fields"]["message"] == "check finished")
        .expect("a check event");
    assert_eq!(check["fields"]["monitor"], "tick");
    assert_eq!(check["fields"]["status"], "OK");
    let snapshot = std::fs::read_to_string(only_file(&w.path("output"), ".json")).unwrap();
    assert!(snapshot.contains("tick"), "{snapshot}");
}

#[test]
fn demo_runs_with_nothing_set_up_and_says_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_periscope"))
        .args(["demo", "--dir"])
        .arg(&demo_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "No Errors Reported",
        "Get Loans Errors",
        "Card Declines",
        "payments.log.1",
        "Try next",
        "periscope.toml",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
    assert!(demo_dir.join("output/summary.txt").exists());
    only_file(&demo_dir.join("output"), ".xml");
    only_file(&demo_dir.join("output/csv"), "payments.csv");
}
