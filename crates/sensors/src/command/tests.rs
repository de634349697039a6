//! Tests with real processes: exit codes, output, perfdata, timeouts, process-group cleanup.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use model::{CheckContext, FactValue, Monitor, Observation, Status, Timestamp};

use super::*;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn ctx_in(dir: &Path, timeout: Duration) -> BuildContext {
    BuildContext {
        base_dir: dir.to_path_buf(),
        timeout,
    }
}

fn ctx(timeout: Duration) -> BuildContext {
    ctx_in(Path::new("/"), timeout)
}

fn shell(line: &str) -> CommandMonitor {
    shell_with_timeout(line, Duration::from_secs(20))
}

fn shell_with_timeout(line: &str, timeout: Duration) -> CommandMonitor {
    let settings = CommandSettings {
        shell: Some(line.into()),
        ..Default::default()
    };
    settings
        .build("test", &ctx(timeout))
        .expect("valid settings")
}

fn argv(args: &[&str]) -> CommandSettings {
    CommandSettings {
        command: Some(args.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

async fn check(m: &CommandMonitor) -> Observation {
    m.check(CheckContext {
        now: NOW,
        state: None,
    })
    .await
    .expect("a command check always observes")
}

fn sample<'a>(obs: &'a Observation, name: &str, label: Option<&str>) -> Option<&'a model::Sample> {
    obs.samples.iter().find(|s| {
        s.name == name && s.labels.get("label") == label && s.labels.get("bound").is_none()
    })
}

fn fact<'a>(obs: &'a Observation, key: &str) -> Option<&'a FactValue> {
    obs.fragment
        .facts
        .iter()
        .find(|f| f.key == key)
        .map(|f| &f.value)
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself contain spaces.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pids_in(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[tokio::test]
async fn exit_codes_are_plugin_statuses() {
    for (code, status) in [
        (0, Status::Ok),
        (1, Status::Warning),
        (2, Status::Critical),
        (3, Status::Unknown),
    ] {
        let obs = check(&shell(&format!("echo 'THING {status}: fine'; exit {code}"))).await;
        assert_eq!(obs.outcome.status, status, "exit {code}");
        assert_eq!(obs.outcome.summary, format!("THING {status}: fine"));
        assert_eq!(
            sample(&obs, "periscope_check_exit_code", None).map(|s| s.value),
            Some(f64::from(code))
        );
        assert_eq!(
            fact(&obs, "exit_code"),
            Some(&FactValue::Count(code as u64))
        );
    }
}

#[tokio::test]
async fn argv_command_without_a_shell() {
    let m = argv(&["sh", "-c", "exit 2"])
        .build("t", &ctx(Duration::from_secs(20)))
        .unwrap();
    assert!(
        m.spec.program.is_absolute(),
        "resolved on PATH: {:?}",
        m.spec.program
    );
    assert_eq!(m.command_line(), "sh -c 'exit 2'");
    let obs = check(&m).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert_eq!(
        obs.outcome.summary,
        "sh -c 'exit 2' printed nothing (exit code 2)"
    );
    assert_eq!(obs.events.len(), 1);
    let event = &obs.events[0];
    assert_eq!(
        (event.status, event.rule.as_str()),
        (Status::Critical, "command")
    );
    assert!(event.fields.contains(&("exit_code".into(), "2".into())));
    assert!(event.time >= NOW);
}

#[tokio::test]
async fn exit_code_outside_0_to_3_is_unknown() {
    let obs = check(&shell("echo 'ALL GOOD'; exit 7")).await;
    assert_eq!(obs.outcome.status, Status::Unknown);
    assert_eq!(
        obs.outcome.summary,
        "exit code 7 is not a plugin status (0-3): ALL GOOD"
    );
    assert_eq!(
        sample(&obs, "periscope_check_exit_code", None).map(|s| s.value),
        Some(7.0)
    );
}

#[tokio::test]
async fn output_perfdata_becomes_samples_in_base_units() {
    let obs = check(&shell(
        "echo 'DISK OK - free space | /=2MB;3;4;0;10 time=5ms'; echo 'second line'; \
         echo 'third line | users=3;5;10 gone=U'; echo 'oops' >&2",
    ))
    .await;
    assert_eq!(obs.outcome.status, Status::Ok);
    assert_eq!(obs.outcome.summary, "DISK OK - free space");
    assert_eq!(
        obs.outcome.details,
        "second line\nthird line\nstderr:\noops"
    );
    assert!(obs.events.is_empty(), "no events for OK");

    const MB: f64 = 1024.0 * 1024.0;
    let root = sample(&obs, "periscope_perfdata", Some("/")).expect("/ sample");
    assert_eq!(
        (root.value, root.unit.as_deref(), root.timestamp),
        (2.0 * MB, Some("B"), NOW)
    );
    assert_eq!(
        sample(&obs, "periscope_perfdata_min", Some("/")).map(|s| s.value),
        Some(0.0)
    );
    assert_eq!(
        sample(&obs, "periscope_perfdata_max", Some("/")).map(|s| s.value),
        Some(10.0 * MB)
    );
    let warn: Vec<(Option<&str>, f64)> = obs
        .samples
        .iter()
        .filter(|s| s.name == "periscope_perfdata_warning" && s.labels.get("label") == Some("/"))
        .map(|s| (s.labels.get("bound"), s.value))
        .collect();
    assert_eq!(warn, [(Some("start"), 0.0), (Some("end"), 3.0 * MB)]);

    let time = sample(&obs, "periscope_perfdata", Some("time")).expect("time sample");
    assert_eq!((time.value, time.unit.as_deref()), (0.005, Some("s")));
    let users = sample(&obs, "periscope_perfdata", Some("users")).expect("users sample");
    assert_eq!((users.value, users.unit.as_deref()), (3.0, None));
    assert!(
        sample(&obs, "periscope_perfdata", Some("gone")).is_none(),
        "U gives no sample"
    );

    assert_eq!(
        fact(&obs, "perfdata_1"),
        Some(&FactValue::Number {
            value: 2.0,
            unit: Some("MB".into())
        })
    );
    assert_eq!(
        fact(&obs, "perfdata_time"),
        Some(&FactValue::Number {
            value: 5.0,
            unit: Some("ms".into())
        })
    );
    assert_eq!(
        fact(&obs, "perfdata_gone"),
        Some(&FactValue::Text("undetermined (U)".into()))
    );
    let duration = sample(&obs, "periscope_check_duration_seconds", None).expect("duration");
    assert_eq!(duration.unit.as_deref(), Some("s"));
    assert!(matches!(
        fact(&obs, "duration"),
        Some(FactValue::DurationMs(_))
    ));
    let keys: Vec<&str> = obs.fragment.facts.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys[..3], ["command", "exit_code", "duration"]);
}

#[tokio::test]
async fn bad_perfdata_is_reported_not_fatal() {
    let obs = check(&shell("echo 'OK | good=1 bad=x,y dup=1 dup=2'")).await;
    assert_eq!(obs.outcome.status, Status::Ok);
    assert!(sample(&obs, "periscope_perfdata", Some("good")).is_some());
    assert!(
        obs.outcome
            .details
            .contains("line 1, column 13: value 'x,y' is not a number in `bad=x,y` (item skipped)"),
        "{}",
        obs.outcome.details
    );
    assert!(
        obs.outcome
            .details
            .contains("label `dup` appears more than once")
    );
    let dups: Vec<f64> = obs
        .samples
        .iter()
        .filter(|s| s.name == "periscope_perfdata" && s.labels.get("label") == Some("dup"))
        .map(|s| s.value)
        .collect();
    assert_eq!(dups, [1.0]);
    let section = &obs.fragment.sections[0];
    assert_eq!(
        (section.key.as_str(), section.total()),
        ("perfdata_problems", 1)
    );
}

#[tokio::test]
async fn death_by_signal_is_unknown_and_says_which() {
    let obs = check(&shell("echo partial; kill -SEGV $$")).await;
    assert_eq!(obs.outcome.status, Status::Unknown);
    assert!(
        obs.outcome
            .summary
            .starts_with("/bin/sh was killed by signal 11 (SIGSEGV"),
        "{}",
        obs.outcome.summary
    );
    assert_eq!(obs.outcome.details, "output:\npartial");
    assert!(sample(&obs, "periscope_check_exit_code", None).is_none());
    assert_eq!(
        fact(&obs, "signal"),
        Some(&FactValue::Text("11 (SIGSEGV)".into()))
    );
}

#[tokio::test]
async fn program_that_cannot_start_is_unknown_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check_gone");
    std::fs::write(&script, "#!/bin/sh\necho OK\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let m = argv(&["./check_gone"])
        .build("t", &ctx_in(dir.path(), Duration::from_secs(5)))
        .unwrap();
    assert_eq!(check(&m).await.outcome.summary, "OK");

    std::fs::remove_file(&script).unwrap();
    let obs = check(&m).await;
    assert_eq!(obs.outcome.status, Status::Unknown);
    let want = format!(
        "cannot run {}: No such file or directory",
        dir.path().join("./check_gone").display()
    );
    assert!(
        obs.outcome.summary.starts_with(&want),
        "{} / {want}",
        obs.outcome.summary
    );
    assert!(obs.samples.is_empty(), "nothing ran, nothing measured");
    assert_eq!(obs.events.len(), 1);

    // A file that is executable but no program the kernel can run.
    std::fs::write(&script, [0u8, 1, 2, 3]).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let obs = check(&m).await;
    assert_eq!(obs.outcome.status, Status::Unknown);
    assert!(
        obs.outcome.summary.contains("xec format error"),
        "{}",
        obs.outcome.summary
    );
}

#[tokio::test]
async fn missing_workdir_at_run_time_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let settings = CommandSettings {
        workdir: Some(work.clone()),
        ..argv(&["/bin/true"])
    };
    let m = settings.build("t", &ctx(Duration::from_secs(5))).unwrap();
    std::fs::remove_dir(&work).unwrap();
    let obs = check(&m).await;
    assert_eq!(
        obs.outcome.summary,
        format!(
            "cannot run /bin/true: working directory {} does not exist",
            work.display()
        )
    );
}

#[tokio::test]
async fn env_and_workdir_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let settings = CommandSettings {
        shell: Some(r#"echo "$GREETING from $(pwd) numeric=$LC_NUMERIC""#.into()),
        env: [("GREETING".to_string(), "hello".to_string())].into(),
        workdir: Some(PathBuf::from("sub")),
        ..Default::default()
    };
    let m = settings
        .build("t", &ctx_in(dir.path(), Duration::from_secs(5)))
        .unwrap();
    let want = format!(
        "hello from {} numeric=C",
        dir.path().join("sub").canonicalize().unwrap().display()
    );
    assert_eq!(check(&m).await.outcome.summary, want);

    // The user's own LC_NUMERIC wins; stdin is empty, so `cat` does not wait.
    let settings = CommandSettings {
        shell: Some(r#"cat; echo "numeric=$LC_NUMERIC""#.into()),
        env: [("LC_NUMERIC".to_string(), "de_DE.UTF-8".to_string())].into(),
        ..Default::default()
    };
    let m = settings.build("t", &ctx(Duration::from_secs(5))).unwrap();
    assert_eq!(check(&m).await.outcome.summary, "numeric=de_DE.UTF-8");
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let m = shell_with_timeout("sleep 60 & echo $!; sleep 60", Duration::from_secs(1));
    let start = Instant::now();
    let obs = check(&m).await;
    let took = start.elapsed();
    // Behaviour, not speed: the check ends at its timeout, nowhere near the 60 s sleep, and
    // not before the timeout either. The bound is loose so a loaded CI machine cannot fail it.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(took >= Duration::from_millis(850), "took {took:?}");
    assert_eq!(obs.outcome.status, Status::Unknown);
    assert_eq!(
        obs.outcome.summary,
        "timed out after 1s (process group killed)"
    );
    let pids = pids_in(&obs.outcome.details);
    assert_eq!(
        pids.len(),
        1,
        "the background sleep's pid in the partial output: {}",
        obs.outcome.details
    );
    wait_until("the grandchild to be dead", || !alive(pids[0])).await;
    assert!(sample(&obs, "periscope_check_duration_seconds", None).is_some());
}

#[tokio::test]
async fn dropping_the_check_kills_the_group_and_reaps_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let line = format!(
        "echo $$ > {0}.tmp; sleep 60 & echo $! >> {0}.tmp; mv {0}.tmp {0}; wait",
        pidfile.display()
    );
    let m = shell_with_timeout(&line, Duration::from_secs(60));
    // What the runner does at its timeout: drop the check's future.
    let cut = tokio::time::timeout(Duration::from_millis(500), check(&m)).await;
    assert!(cut.is_err(), "the check should still be running");
    let pids = pids_in(&std::fs::read_to_string(&pidfile).expect("the script wrote its pids"));
    assert_eq!(pids.len(), 2);
    let (leader, grandchild) = (pids[0], pids[1]);
    wait_until("the grandchild to be dead", || !alive(grandchild)).await;
    wait_until("the leader to be dead", || !alive(leader)).await;
    // tokio's orphan queue reaps the dropped child: no zombie is left behind either.
    wait_until("the leader to be reaped", || {
        !Path::new(&format!("/proc/{leader}")).exists()
    })
    .await;
}

#[tokio::test]
async fn background_process_holding_the_pipes_does_not_hold_the_check() {
    let m = shell("sleep 60 & echo \"OK $!\"");
    let start = Instant::now();
    let obs = check(&m).await;
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(obs.outcome.status, Status::Ok);
    let pids = pids_in(&obs.outcome.summary);
    wait_until("the background sleep to be dead", || !alive(pids[0])).await;
}

#[tokio::test]
async fn huge_output_is_bounded() {
    let obs = check(&shell(
        "echo 'OK | a=1'; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo err >&2",
    ))
    .await;
    assert_eq!(obs.outcome.status, Status::Ok);
    assert_eq!(obs.outcome.summary, "OK");
    assert!(
        obs.outcome.details.len() < MAX_OUTPUT_BYTES + 1000,
        "{}",
        obs.outcome.details.len()
    );
    assert!(
        obs.outcome.details.contains(&format!(
            "stdout was cut: kept the first {MAX_OUTPUT_BYTES} of 3000010 bytes"
        )),
        "{}",
        &obs.outcome.details[obs.outcome.details.len() - 200..]
    );
    assert!(obs.outcome.details.contains("stderr:\nerr"));
}

#[tokio::test]
async fn endless_output_times_out_with_bounded_memory() {
    let obs = check(&shell_with_timeout("yes", Duration::from_secs(1))).await;
    assert_eq!(
        obs.outcome.summary,
        "timed out after 1s (process group killed)"
    );
    assert!(obs.outcome.details.len() < MAX_OUTPUT_BYTES + 1000);
    assert!(obs.outcome.details.contains("stdout was cut"));
}

#[tokio::test]
async fn non_utf8_output_is_read_lossily() {
    let obs = check(&shell(r"printf 'OK \377\376 | a=1\n'")).await;
    assert_eq!(obs.outcome.summary, "OK \u{FFFD}\u{FFFD}");
    assert!(sample(&obs, "periscope_perfdata", Some("a")).is_some());
}

// ---- Settings --------------------------------------------------------------------------------

fn issues(settings: CommandSettings, dir: &Path) -> Vec<String> {
    match settings.build("t", &ctx_in(dir, Duration::from_secs(1))) {
        Ok(m) => panic!("expected issues, built {m:?}"),
        Err(issues) => issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn settings_from_toml() {
    let s: CommandSettings = toml::from_str(
        r#"
        command = ["/usr/lib/nagios/plugins/check_load", "-w", "5,4,3", "-c", "10,8,6"]
        env = { K = "v" }
        workdir = "/tmp"
        "#,
    )
    .unwrap();
    assert_eq!(s.command.as_ref().map(Vec::len), Some(5));
    assert_eq!(s.env.get("K").map(String::as_str), Some("v"));
    let err = toml::from_str::<CommandSettings>("shell = 'true'\nargs = []").unwrap_err();
    assert!(err.to_string().contains("unknown field `args`"), "{err}");
}

#[test]
fn one_of_command_or_shell() {
    let dir = Path::new("/");
    let neither = issues(CommandSettings::default(), dir);
    assert_eq!(neither.len(), 1);
    assert!(
        neither[0].starts_with("command: no command to run (hint: set `command"),
        "{}",
        neither[0]
    );
    let both = issues(
        CommandSettings {
            shell: Some("true".into()),
            ..argv(&["/bin/true"])
        },
        dir,
    );
    assert_eq!(
        both,
        [
            "shell: both `command` and `shell` are set (hint: use `command` for a program with arguments, or `shell` for a command line)"
        ]
    );
    assert_eq!(
        issues(argv(&[]), dir)[0].split(" (hint").next(),
        Some("command: the command is empty")
    );
    assert_eq!(
        issues(argv(&[" "]), dir),
        ["command.0: the program name is empty"]
    );
    assert_eq!(
        issues(
            CommandSettings {
                shell: Some("  ".into()),
                ..Default::default()
            },
            dir
        ),
        ["shell: the shell command line is empty"]
    );
}

#[test]
fn programs_are_checked_when_built() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let found = issues(argv(&["check_definitely_not_here", "-w", "1"]), d);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("command.0: `check_definitely_not_here` was not found on PATH ("),
        "{}",
        found[0]
    );
    assert!(
        found[0].contains(
            "hint: give the full path, e.g. /usr/lib/nagios/plugins/check_definitely_not_here"
        ),
        "{}",
        found[0]
    );

    if Path::new("/usr/lib/nagios/plugins/check_dummy").exists() {
        let found = issues(argv(&["check_dummy", "0"]), d);
        assert!(
            found[0].ends_with("(hint: did you mean /usr/lib/nagios/plugins/check_dummy?)"),
            "{}",
            found[0]
        );
    }

    assert_eq!(
        issues(argv(&["./nope"]), d),
        [format!(
            "command.0: {} does not exist",
            d.join("./nope").display()
        )]
    );
    std::fs::write(d.join("plain"), "#!/bin/sh\n").unwrap();
    assert_eq!(
        issues(argv(&["./plain"]), d),
        [format!(
            "command.0: {} is not executable (try `chmod +x`)",
            d.join("./plain").display()
        )]
    );
    assert_eq!(
        issues(argv(&["/tmp"]), d),
        ["command.0: /tmp is a directory, not a program"]
    );

    // A PATH given in `env` is the one searched.
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("my_check"), "#!/bin/sh\necho OK\n").unwrap();
    std::fs::set_permissions(bin.join("my_check"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let settings = CommandSettings {
        env: [("PATH".to_string(), bin.display().to_string())].into(),
        ..argv(&["my_check"])
    };
    let m = settings
        .build("t", &ctx_in(d, Duration::from_secs(1)))
        .unwrap();
    assert_eq!(m.spec.program, bin.join("my_check"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CommandSettings {
        command: Some(vec!["/bin/true".into(), "a\0b".into()]),
        env: [
            ("A=B".to_string(), "x".to_string()),
            ("OK".to_string(), "nul\0".to_string()),
        ]
        .into(),
        workdir: Some(PathBuf::from("missing")),
        ..Default::default()
    };
    let found = issues(settings, dir.path());
    assert_eq!(
        found,
        [
            "env.A=B: invalid environment variable name `A=B` (hint: names must be non-empty and contain neither '=' nor NUL)".to_string(),
            "env.OK: the value contains a NUL character".to_string(),
            format!("workdir: {} does not exist", dir.path().join("missing").display()),
            "command.1: contains a NUL character".to_string(),
        ]
    );
}

#[test]
fn own_deadline_leaves_the_runner_room() {
    assert_eq!(
        own_deadline(Duration::from_secs(1)),
        Duration::from_millis(900)
    );
    assert_eq!(
        own_deadline(Duration::from_secs(60)),
        Duration::from_millis(59_750)
    );
    assert_eq!(own_deadline(Duration::ZERO), Duration::ZERO);
}
