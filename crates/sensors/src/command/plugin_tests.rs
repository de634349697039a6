//! Tests with the real Monitoring Plugins (Debian packages `monitoring-plugins-basic` and
//! `monitoring-plugins-standard`). They fail, rather than skip, when the plugins are missing:
//! CI installs them, and a silently skipped test proves nothing.

use std::path::Path;
use std::time::Duration;

use model::{CheckContext, Monitor, Observation, Sample, Status, Timestamp};

use super::*;
use crate::perfdata::unit_scale;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

fn plugin(name: &str) -> String {
    let path = format!("{PLUGINS}/{name}");
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: install the Monitoring Plugins with \
         `apt-get install -y monitoring-plugins-basic monitoring-plugins-standard`"
    );
    path
}

async fn run_plugin(name: &str, args: &[&str]) -> Observation {
    let mut command = vec![plugin(name)];
    command.extend(args.iter().map(|a| a.to_string()));
    let ctx = BuildContext {
        base_dir: "/".into(),
        timeout: Duration::from_secs(20),
    };
    let m = CommandSettings {
        command: Some(command),
        ..Default::default()
    }
    .build(name, &ctx)
    .expect("valid settings");
    m.check(CheckContext {
        now: Timestamp(1_700_000_000_000),
        state: None,
    })
    .await
    .expect("observed")
}

fn perf<'a>(obs: &'a Observation, name: &str, label: &str) -> Option<&'a Sample> {
    obs.samples.iter().find(|s| {
        s.name == name && s.labels.get("label") == Some(label) && s.labels.get("bound").is_none()
    })
}

fn bound(obs: &Observation, name: &str, label: &str, which: &str) -> Option<f64> {
    obs.samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.get("label") == Some(label)
                && s.labels.get("bound") == Some(which)
        })
        .map(|s| s.value)
}

#[tokio::test]
async fn check_load_gives_three_load_averages() {
    // Thresholds far above any real load, so the status is known whatever else runs here.
    let obs = run_plugin(
        "check_load",
        &["-w", "1000,1000,1000", "-c", "2000,2000,2000"],
    )
    .await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    assert!(
        obs.outcome.summary.starts_with("LOAD OK"),
        "{}",
        obs.outcome.summary
    );
    for label in ["load1", "load5", "load15"] {
        let s = perf(&obs, "periscope_perfdata", label)
            .unwrap_or_else(|| panic!("{label} in {:?}", obs.samples));
        assert!(s.value >= 0.0 && s.unit.is_none(), "{s:?}");
        assert_eq!(
            bound(&obs, "periscope_perfdata_warning", label, "end"),
            Some(1000.0)
        );
        assert_eq!(
            bound(&obs, "periscope_perfdata_critical", label, "end"),
            Some(2000.0)
        );
        assert_eq!(
            perf(&obs, "periscope_perfdata_min", label).map(|s| s.value),
            Some(0.0)
        );
    }
    assert!(
        obs.fragment.sections.is_empty(),
        "no perfdata problems: {:?}",
        obs.fragment.sections
    );
}

#[tokio::test]
async fn check_disk_gives_root_usage_in_bytes_with_thresholds() {
    let obs = run_plugin("check_disk", &["-w", "1%", "-c", "1%", "-p", "/"]).await;
    assert_ne!(obs.outcome.status, Status::Unknown, "{:?}", obs.outcome);
    assert!(
        obs.outcome.summary.starts_with("DISK "),
        "{}",
        obs.outcome.summary
    );
    // monitoring-plugins 2.3 prints bytes (`B`), older releases `MB`: both end up in bytes.
    let root =
        perf(&obs, "periscope_perfdata", "/").unwrap_or_else(|| panic!("/ in {:?}", obs.samples));
    assert_eq!(root.unit.as_deref(), Some("B"));
    let max = perf(&obs, "periscope_perfdata_max", "/")
        .expect("max")
        .value;
    assert_eq!(
        perf(&obs, "periscope_perfdata_min", "/").map(|s| s.value),
        Some(0.0)
    );
    assert!(
        root.value > 0.0 && root.value <= max,
        "used {} of {max}",
        root.value
    );
    let warn = bound(&obs, "periscope_perfdata_warning", "/", "end").expect("warning");
    let crit = bound(&obs, "periscope_perfdata_critical", "/", "end").expect("critical");
    assert!(
        warn <= crit && crit <= max,
        "warn {warn} crit {crit} max {max}"
    );
    // The fact keeps the unit the plugin printed.
    let fact = obs
        .fragment
        .facts
        .iter()
        .find(|f| f.label == "/")
        .expect("fact for /");
    match &fact.value {
        model::FactValue::Number {
            unit: Some(unit), ..
        } => assert_eq!(unit_scale(unit).map(|u| u.1), Some("B")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn check_tcp_measures_a_local_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            drop(socket);
        }
    });
    let obs = run_plugin("check_tcp", &["-H", "127.0.0.1", "-p", &port]).await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    assert!(
        obs.outcome.summary.starts_with("TCP OK"),
        "{}",
        obs.outcome.summary
    );
    let time = perf(&obs, "periscope_perfdata", "time").expect("time");
    assert_eq!(time.unit.as_deref(), Some("s"));
    assert!((0.0..5.0).contains(&time.value), "{time:?}");
    assert_eq!(
        perf(&obs, "periscope_perfdata_min", "time").map(|s| s.value),
        Some(0.0)
    );
    assert!(perf(&obs, "periscope_perfdata_max", "time").is_some());
    server.abort();
    let _ = server.await; // the listener is closed once the task is really gone

    // Nothing listens any more: the plugin's CRITICAL comes through as it is.
    let obs = run_plugin("check_tcp", &["-H", "127.0.0.1", "-p", &port]).await;
    assert_eq!(obs.outcome.status, Status::Critical, "{:?}", obs.outcome);
    assert!(
        obs.outcome.summary.contains("Connection refused"),
        "{}",
        obs.outcome.summary
    );
    assert_eq!(obs.events.len(), 1);
}

#[tokio::test]
async fn check_procs_counts_processes() {
    let obs = run_plugin("check_procs", &["-w", "100000", "-c", "200000"]).await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    let procs = perf(&obs, "periscope_perfdata", "procs").expect("procs");
    assert!(procs.value >= 1.0, "{procs:?}");
    assert_eq!(
        bound(&obs, "periscope_perfdata_warning", "procs", "end"),
        Some(100000.0)
    );
    assert_eq!(
        perf(&obs, "periscope_perfdata_min", "procs").map(|s| s.value),
        Some(0.0)
    );
}

#[tokio::test]
async fn check_dummy_statuses_and_usage_errors() {
    for (code, status) in [
        ("0", Status::Ok),
        ("1", Status::Warning),
        ("2", Status::Critical),
        ("3", Status::Unknown),
    ] {
        let obs = run_plugin("check_dummy", &[code, "hello there"]).await;
        assert_eq!(obs.outcome.status, status);
        assert_eq!(obs.outcome.summary, format!("{status}: hello there"));
    }
    // A usage error is the plugin's own UNKNOWN (exit 3) with its message.
    let obs = run_plugin("check_dummy", &["17"]).await;
    assert_eq!(obs.outcome.status, Status::Unknown);
    assert!(!obs.outcome.summary.is_empty());
}

#[tokio::test]
async fn check_users_reports_users() {
    let obs = run_plugin("check_users", &["-w", "1000", "-c", "2000"]).await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    assert!(
        perf(&obs, "periscope_perfdata", "users").is_some(),
        "{:?}",
        obs.samples
    );
}
