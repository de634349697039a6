//! The `command` channel with real `sh -c` scripts.

use std::collections::BTreeMap;
use std::path::Path;

use notify::Channel;
use notify::channel::command::{CommandChannel, CommandSettings};
use serde_json::Value;

use super::*;

/// A channel running `sh -c script`, with `DIR` set to `dir` in its environment.
fn sh(script: &str, dir: &Path, timeout: Option<&str>) -> CommandChannel {
    CommandSettings {
        command: vec!["sh".into(), "-c".into(), script.into()],
        timeout: timeout.map(str::to_string),
        env: BTreeMap::from([("DIR".to_string(), dir.display().to_string())]),
    }
    .build(&ctx())
    .unwrap()
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_script_reads_the_webhook_payload_and_its_first_line_is_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let ch = sh(
        r#"cat > "$DIR/in.json"; echo; echo "  INC-42  "; echo "ignored""#,
        dir.path(),
        None,
    );
    assert_eq!(ch.kind(), "command");
    let n = notification();
    let delivered = ch.deliver(&n).await.unwrap();
    assert_eq!(delivered.reference.as_deref(), Some("INC-42"));

    let input: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("in.json")).unwrap())
            .unwrap();
    // Exactly what the webhook channel POSTs.
    assert_eq!(input, notify::channel::payload::webhook_payload(&n, 0));
    assert_eq!(input["version"], "4");
    assert_eq!(input["receiver"], "ops");
    assert_eq!(input["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        input["periscope"]["people"][0]["email"],
        "alice@example.com"
    );

    // A command that ignores its input and prints nothing is delivered, without a reference.
    let quiet = sh("exit 0", dir.path(), None).deliver(&n).await.unwrap();
    assert_eq!(quiet.reference, None);
}

#[tokio::test]
async fn a_failing_exit_is_permanent_with_the_first_line_of_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let ch = sh(
        "cat >/dev/null; echo 'modem: no carrier' >&2; echo 'second line' >&2; exit 3",
        dir.path(),
        None,
    );
    let e = ch.deliver(&notification()).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    // The program is named, its arguments (which may hold credentials) are not.
    assert!(
        e.message == "command `sh` exited with code 3: modem: no carrier",
        "{e}"
    );
    assert!(!e.message.contains("second line"), "{e}");

    let e = sh("kill -TERM $$", dir.path(), None)
        .deliver(&notification())
        .await
        .unwrap_err();
    assert!(!e.retryable && e.message.contains("signal 15"), "{e}");
}

#[tokio::test]
async fn past_the_timeout_the_whole_process_group_is_killed_and_it_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let ch = sh(
        r#"echo $$ > "$DIR/sh.pid"; sleep 300 & echo $! > "$DIR/child.pid"; echo 'waiting for the modem' >&2; wait"#,
        dir.path(),
        Some("1s"),
    );
    let e = ch.deliver(&notification()).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(e.message.contains("ran longer than 1s"), "{e}");
    // What it said before it was killed is kept for people.
    assert!(e.message.contains("waiting for the modem"), "{e}");
    for pid_file in ["sh.pid", "child.pid"] {
        let pid = read_pid(&dir.path().join(pid_file));
        assert!(
            process_ends(pid).await,
            "{pid_file}: process {pid} still runs"
        );
    }
}

#[tokio::test]
async fn a_background_child_holding_the_output_does_not_hold_up_the_delivery() {
    let dir = tempfile::tempdir().unwrap();
    // The script exits at once, but `sleep` inherited its stdout and keeps the pipe open.
    let ch = sh(
        r#"sleep 300 & echo $! > "$DIR/child.pid"; echo REF-7"#,
        dir.path(),
        Some("1m"),
    );
    let delivered = ch.deliver(&notification()).await.unwrap();
    assert_eq!(delivered.reference.as_deref(), Some("REF-7"));
    let pid = read_pid(&dir.path().join("child.pid"));
    assert!(
        process_ends(pid).await,
        "the background child {pid} still runs"
    );
}

#[tokio::test]
async fn a_command_that_cannot_start_is_retried() {
    let ch = CommandSettings {
        command: vec!["/nonexistent/periscope-pager".into()],
        ..CommandSettings::default()
    }
    .build(&ctx())
    .unwrap();
    let e = ch.deliver(&notification()).await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(e.message.contains("could not be started"), "{e}");
}

#[test]
fn settings_are_strict() {
    let unknown: Result<CommandSettings, _> = serde_json::from_value(serde_json::json!({
        "command": ["true"], "timeout_secs": 3
    }));
    assert!(unknown.is_err());
    let issues = CommandSettings {
        command: vec!["sh".into()],
        timeout: Some("0s".into()),
        ..CommandSettings::default()
    }
    .build(&ctx())
    .unwrap_err();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, "timeout");
}
