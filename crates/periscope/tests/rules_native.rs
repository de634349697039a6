//! Periscope's own TOML rules in `serve`, end to end with the real binary: a pushed metric
//! crosses a `[rule.NAME]` threshold, `/api/v1/alerts` shows the alert with its `level`, and a
//! value crossing into the critical threshold replaces it with a critical alert.

mod common;

use std::time::{Duration, Instant};

use common::World;
use common::api::get;
use common::serve::{Serve, free_port};
use serde_json::Value;

fn config(port: u16) -> String {
    format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [rules]\ninterval = \"300ms\"\n\n\
         [rule.ApiLatency]\n\
         description = \"API latency\"\n\
         expr = 'latency_seconds{{job=\"api\"}}'\n\
         above = {{ non_critical = 2, critical = 4 }}\n\
         no_data = \"ok\"\n\
         annotations = {{ summary = \"{{{{ $labels.job }}}} is slow ({{{{ $labels.level }}}})\" }}\n"
    )
}

/// The firing ApiLatency alert at `level`, waiting up to 30 s for it.
async fn firing_at(client: &reqwest::Client, base: &str, level: &str) -> Value {
    let url = format!("{base}/api/v1/alerts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = get(client, &url).await;
        let found = body["data"]["alerts"].as_array().and_then(|alerts| {
            alerts
                .iter()
                .find(|a| {
                    a["labels"]["alertname"] == "ApiLatency"
                        && a["labels"]["level"] == level
                        && a["state"] == "firing"
                })
                .cloned()
        });
        if let Some(alert) = found {
            return alert;
        }
        assert!(
            Instant::now() < deadline,
            "never saw a {level} alert: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_pushed_metric_crossing_a_toml_rule_fires_with_its_level() {
    let port = free_port();
    let w = World::new(&config(port));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();

    common::notify::push(&client, &serve.base, 3.0).await;
    let alert = firing_at(&client, &serve.base, "non-critical").await;
    assert_eq!(alert["labels"]["job"], "api");
    assert_eq!(
        alert["annotations"]["summary"],
        "api is slow (non-critical)"
    );
    assert_eq!(alert["value"], "3e+00");

    common::notify::push(&client, &serve.base, 5.0).await;
    firing_at(&client, &serve.base, "critical").await;
    let body = get(&client, &format!("{}/api/v1/alerts", serve.base)).await;
    let levels: Vec<&str> = body["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "ApiLatency")
        .map(|a| a["labels"]["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["critical"],
        "the non-critical alert resolved: {body}"
    );

    let rules = get(&client, &format!("{}/api/v1/rules", serve.base)).await;
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "periscope", "{rules}");
    assert_eq!(group["rules"][0]["query"], "latency_seconds{job=\"api\"}");
    serve.stop();
}

/// A log monitor checked every 300 ms and a rule on its matches evaluated only every 10 minutes:
/// the rule sees each check at once, so the alert fires seconds after the line is written, not
/// at the rule's next interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_on_a_monitor_is_evaluated_right_after_its_check() {
    let port = free_port();
    let w = World::new(&format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [monitor.app]\nkind = \"log\"\npaths = [\"app.log\"]\ninterval = \"300ms\"\n\
         flush_after = \"0s\"\n\
         [monitor.app.rules.error]\nmatch = \"ERROR\"\n\n\
         [rule.AppErrors]\nlog = \"app/error\"\nwindow = \"10m\"\ninterval = \"10m\"\n\
         above = {{ critical = 0 }}\nno_data = \"ok\"\n"
    ));
    w.write("app.log", "2026-11-21 10:00:00 INFO started\n");
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let alerts = format!("{}/api/v1/alerts", serve.base);
    // The start's evaluation has run: nothing fires.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let body = get(&client, &alerts).await;
    assert_eq!(body["data"]["alerts"], serde_json::json!([]), "{body}");
    w.append("app.log", "2026-11-21 10:00:01 ERROR payment declined\n");
    let written = Instant::now();
    let deadline = written + Duration::from_secs(20);
    loop {
        let body = get(&client, &alerts).await;
        let firing = body["data"]["alerts"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["labels"]["alertname"] == "AppErrors" && x["state"] == "firing")
        });
        if firing {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "AppErrors never fired (the rule's interval is 10 minutes): {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve.stop();
}
