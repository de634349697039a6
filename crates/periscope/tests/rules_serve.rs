//! Rules in `serve`, end to end with the real binary: pushed metrics feed a recording rule and
//! an alert with `for`; the query API shows the alert pending, then firing, and the rules with
//! their health; the recorded series is queryable; and a restart keeps the firing alert's
//! start, with alert state in SQLite (the default) or in the real PostgreSQL on this machine.

mod common;

use std::time::Duration;

use common::World;
use common::api::{get, wait_for};
use common::serve::{Serve, free_port};
use serde_json::Value;

const RULES: &str = r#"groups:
  - name: api
    rules:
      - record: job:errors:sum
        expr: sum by (job) (errors_total)
      - alert: ErrorsHigh
        expr: job:errors:sum > 5
        for: 2s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.job }} has {{ $value }} errors"
  - name: broken
    rules:
      # Both series get the same labels once renamed: an evaluation error, every time.
      - record: errors:copied
        expr: '{__name__=~"errors_total|errors_copy"}'
"#;

fn config(port: u16, state: Option<&str>) -> String {
    let state = state
        .map(|url| format!("[periscope]\nstate = \"{url}\"\n\n"))
        .unwrap_or_default();
    format!(
        "{state}[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [rules]\nfiles = [\"rules/*.yml\"]\ninterval = \"300ms\"\n"
    )
}

/// The one ErrorsHigh alert in an `/api/v1/alerts` answer, if it is in `state`.
fn alert_in(body: &Value, state: &str) -> Option<Value> {
    body["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == "ErrorsHigh" && a["state"] == state)
        .cloned()
}

async fn push_errors(client: &reqwest::Client, base: &str, value: u32) {
    let now_ms = model::Clock::now(&model::SystemClock).as_millis();
    let text = format!(
        "errors_total{{job=\"api\",instance=\"a\"}} {value} {now_ms}\n\
         errors_copy{{job=\"api\",instance=\"a\"}} {value} {now_ms}\n"
    );
    let response = client
        .post(format!("{base}/api/v1/push"))
        .header("content-type", "text/plain; version=0.0.4")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

/// The whole story against the state database `state` (the default SQLite file when `None`).
async fn alert_fires_and_survives_a_restart(state: Option<&str>) {
    let port = free_port();
    let w = World::new(&config(port, state));
    w.write("rules/api.yml", RULES);
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    push_errors(&client, &serve.base, 12).await;

    let alerts = format!("{}/api/v1/alerts", serve.base);
    let pending = wait_for(&client, &alerts, "a pending alert", |b| {
        alert_in(b, "pending")
    })
    .await;
    assert_eq!(pending["labels"]["severity"], "critical");
    assert_eq!(pending["labels"]["job"], "api");
    assert_eq!(pending["annotations"]["summary"], "api has 12 errors");
    let firing = wait_for(&client, &alerts, "the alert firing", |b| {
        alert_in(b, "firing")
    })
    .await;
    // Firing keeps the start of the failing stretch, as Prometheus' activeAt does.
    assert_eq!(firing["activeAt"], pending["activeAt"]);
    assert_eq!(firing["value"], "1.2e+01");

    let rules = get(&client, &format!("{}/api/v1/rules", serve.base)).await;
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "api", "{rules}");
    assert!(group["file"].as_str().unwrap().ends_with("api.yml"));
    assert_eq!(group["interval"], 0.3);
    let rule_list = group["rules"].as_array().unwrap();
    assert_eq!(rule_list.len(), 2);
    assert_eq!(rule_list[0]["type"], "recording");
    assert_eq!(rule_list[0]["name"], "job:errors:sum");
    assert_eq!(rule_list[1]["type"], "alerting");
    assert_eq!(rule_list[1]["state"], "firing");
    assert_eq!(rule_list[1]["duration"], 2.0);
    for rule in rule_list {
        assert_eq!(rule["health"], "ok", "{rule}");
        assert_eq!(rule["lastError"], "");
    }

    // A failing rule is a health problem of its own group; the others went on.
    let broken = &rules["data"]["groups"][1]["rules"][0];
    assert_eq!(broken["health"], "err", "{rules}");
    assert!(
        broken["lastError"]
            .as_str()
            .unwrap()
            .contains("same labelset"),
        "{broken}"
    );
    // ... and it does not go quiet: a meta-alert names it (it fires at once: no `for`).
    wait_for(
        &client,
        &alerts,
        "the meta-alert for the broken rule",
        |b| {
            b["data"]["alerts"]
                .as_array()?
                .iter()
                .find(|a| {
                    a["labels"]["alertname"] == "PeriscopeRuleFailing"
                        && a["labels"]["rule"] == "errors:copied"
                        && a["labels"]["group"] == "broken"
                        && a["state"] == "firing"
                })
                .cloned()
        },
    )
    .await;

    // The recording rule's output is a series like any other.
    let query = format!("{}/api/v1/query?query=job:errors:sum", serve.base);
    let result = wait_for(&client, &query, "the recorded series", |b| {
        b["data"]["result"]
            .as_array()
            .filter(|r| !r.is_empty())
            .cloned()
    })
    .await;
    assert_eq!(result[0]["metric"]["job"], "api");
    assert_eq!(result[0]["value"][1], "12");
    serve.stop();

    // After a restart the alert is still firing, since the same moment.
    let serve = Serve::start(&w, port);
    // A new client: the old one's pooled connections went with the first server.
    let client = reqwest::Client::new();
    let again = wait_for(&client, &alerts, "the alert firing after a restart", |b| {
        alert_in(b, "firing")
    })
    .await;
    assert_eq!(
        again["activeAt"], pending["activeAt"],
        "state survived the restart"
    );
    assert!(alert_in(&get(&client, &alerts).await, "pending").is_none());
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_goes_pending_then_firing_and_survives_a_restart_in_sqlite() {
    alert_fires_and_survives_a_restart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_works_with_state_in_postgres() {
    common::postgres::with_fresh_database("periscope_rules_serve", |url| async move {
        alert_fires_and_survives_a_restart(Some(&url)).await;
    })
    .await;
}

#[test]
fn an_unreachable_state_database_stops_serve_naming_it_without_the_password() {
    let port = free_port();
    let w = World::new(&config(
        port,
        Some("postgres://periscope:s3cret@127.0.0.1:1/state"),
    ));
    w.write("rules/api.yml", RULES);
    let out = w.run(&["serve"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot open the state database postgres://periscope:***@127.0.0.1:1/state"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_mode_mails_firing_alerts_beside_serve_and_without_it() {
    let sink = testkit::SmtpSink::start().await;
    let port = free_port();
    let email = format!(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsecurity = \"plain\"\n\
         from = \"periscope@example.com\"\nto = [\"oncall@example.com\"]\n\n",
        sink.port()
    );
    let w = World::new(&format!("{email}{}", config(port, None)));
    w.write("rules/api.yml", RULES);
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    push_errors(&client, &serve.base, 12).await;
    let alerts = format!("{}/api/v1/alerts", serve.base);
    wait_for(&client, &alerts, "the alert firing", |b| {
        alert_in(b, "firing")
    })
    .await;

    // Beside serve: its store and state are read, nothing is written.
    let (out, w) = tokio::task::spawn_blocking(move || (w.run(&["run", "--mode", "alerts"]), w))
        .await
        .unwrap();
    let said = common::stdout(&out);
    assert!(said.contains("holds the metric store"), "{said}");
    assert!(said.contains("e-mailed"), "{said}{}", common::stderr(&out));
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        mails[0].data.contains("ALERT FIRING: ErrorsHigh"),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0].data.contains("api has 12 errors"),
        "{}",
        mails[0].data
    );
    serve.stop();

    // Alone: the state database says it has been firing, and the store still has the data.
    let out = tokio::task::spawn_blocking(move || w.run(&["run", "--mode", "alerts"]))
        .await
        .unwrap();
    let said = common::stdout(&out);
    assert!(!said.contains("holds the metric store"), "{said}");
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    assert!(mails[1].data.contains("ErrorsHigh{"), "{}", mails[1].data);
    assert!(mails[1].data.contains("firing since"), "{}", mails[1].data);
}
