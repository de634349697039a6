//! Rules outside `serve`, with the real binary: `run --mode alerts` exits like a plugin with
//! the firing alerts counted by level (a logged alert does not raise it), and `check-config`
//! refuses a `[rule.NAME]` whose `monitor` names no monitor, with file, line, key and a hint.

mod common;

use common::World;

/// A config with a store, mail to `smtp_port`, the rule files under `rules/` and `tail`.
fn config(smtp_port: u16, tail: &str) -> String {
    format!(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\nsecurity = \"plain\"\n\
         from = \"periscope@example.com\"\nto = [\"oncall@example.com\"]\n\n\
         [store]\ndir = \"metrics\"\n\n\
         [rules]\nfiles = [\"rules/*.yml\"]\n\n{tail}"
    )
}

/// One alert that fires at every evaluation, labelled `label`.
fn always_firing(name: &str, label: &str) -> String {
    format!(
        "groups:\n  - name: {name}\n    rules:\n      - alert: {name}\n        expr: vector(1)\n\
         \x20       labels:\n          {label}\n"
    )
}

/// The exit code of `run --mode alerts` with the rule files `files` (name, text) and `tail`.
async fn alerts_exit(files: &[(&str, String)], tail: &str) -> (i32, String) {
    let sink = testkit::SmtpSink::start().await;
    let w = World::new(&config(sink.port(), tail));
    for (name, text) in files {
        w.write(&format!("rules/{name}.yml"), text);
    }
    let out = tokio::task::spawn_blocking(move || w.run(&["run", "--mode", "alerts"]))
        .await
        .unwrap();
    let said = format!("{}{}", common::stdout(&out), common::stderr(&out));
    (out.status.code().expect("exited"), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_mode_exits_with_the_worst_firing_level() {
    let logged = ("logged", always_firing("Noted", "level: logged"));
    let warning = ("warning", always_firing("Slow", "severity: warning"));
    let critical = ("critical", always_firing("Down", "level: critical"));

    let (code, said) = alerts_exit(std::slice::from_ref(&logged), "").await;
    assert_eq!(code, 0, "a logged alert does not raise the status: {said}");
    assert!(said.contains("e-mailed"), "it is still mailed: {said}");

    let (code, said) = alerts_exit(&[logged.clone(), warning.clone()], "").await;
    assert_eq!(code, 1, "a non-critical alert is WARNING: {said}");

    let (code, said) = alerts_exit(&[warning.clone(), critical], "").await;
    assert_eq!(code, 2, "a critical alert is CRITICAL: {said}");

    // With the monitors: the worst of both, like a plugin.
    let failing_monitor = "[monitor.queue]\nkind = \"command\"\n\
                           shell = \"printf 'QUEUE CRITICAL - 900 waiting\\n'; exit 2\"\n";
    let (code, said) = alerts_exit(std::slice::from_ref(&warning), failing_monitor).await;
    assert_eq!(
        code, 2,
        "a CRITICAL monitor outranks a WARNING alert: {said}"
    );
}

#[test]
fn a_monitor_rule_naming_no_monitor_is_a_config_error_with_a_hint() {
    let w = World::new(
        "[monitor.disk]\nkind = \"command\"\nshell = \"true\"\n\n\
         [monitor.queue]\nkind = \"command\"\nshell = \"true\"\n\n\
         [rule.disk-bad]\nmonitor = \"dsk\"\n\n\
         [rule.backup-bad]\nmonitor = \"nightly-backup\"\n\n\
         [rule.queue-bad]\nmonitor = \"queue\"\n",
    );
    let out = w.run(&["check-config"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("periscope.toml:10:11: rule.disk-bad.monitor: no monitor is called `dsk`"),
        "file, line, key path: {err}"
    );
    assert!(err.contains("hint: did you mean `disk`?"), "{err}");
    assert!(
        err.contains("rule.backup-bad.monitor: no monitor is called `nightly-backup`"),
        "{err}"
    );
    assert!(err.contains("hint: known monitors: disk, queue"), "{err}");
    assert!(
        !err.contains("queue-bad"),
        "a monitor that exists is fine: {err}"
    );
    assert!(err.starts_with("2 problems"), "{err}");
}
