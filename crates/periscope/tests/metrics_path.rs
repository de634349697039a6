//! The passive metrics path end to end, with the real binary: `serve` receives pushed metrics
//! over HTTP (Prometheus text, JSON, remote-write), acknowledges them only when stored,
//! refuses bad requests without storing anything, keeps monitor samples, and `query`,
//! `export` and `import` read and move the history afterwards.

mod common;

use std::time::Duration;

use common::serve::{Serve, free_port};
use common::{World, stderr, stdout};
use prost::Message;
use sensors::exposition::remote_write::{Label, Sample, TimeSeries, WriteRequest};

fn config(port: u16) -> String {
    format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\nmax_body = \"64KiB\"\n\n\
         [monitor.tick]\nkind = \"command\"\ninterval = \"1s\"\nshell = \"echo 'OK - tick | queue=7;10;20'\"\n"
    )
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut request = client.post(url).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn query_json(w: &World, selector: &str) -> serde_json::Value {
    let out = w.run(&["query", selector, "--from", "0", "--format", "json"]);
    assert!(out.status.success(), "query failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn values(result: &serde_json::Value) -> Vec<(f64, String)> {
    result["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_string()))
        .collect()
}

fn remote_write_body(samples: &[(i64, f64)]) -> Vec<u8> {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "rw_temperature".into(),
                },
                Label {
                    name: "room".into(),
                    value: "lab".into(),
                },
            ],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_metrics_are_stored_once_acknowledged_and_bad_ones_never() {
    let port = free_port();
    let w = World::new(&config(port));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let push = format!("{}/api/v1/push", serve.base);
    let now_ms = model::Clock::now(&model::SystemClock).as_millis();
    let t0 = now_ms - 60_000;

    // Prometheus text with timestamps (ms).
    let text = format!(
        "# TYPE jobs_done counter\njobs_done{{job=\"import\"}} 5 {t0}\njobs_done{{job=\"import\"}} 8 {}\n",
        t0 + 15_000
    );
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain; version=0.0.4")],
        text.into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"samples\":2"), "{body}");

    // JSON batch.
    let json = format!(
        r#"{{"samples":[{{"name":"queue_size","labels":{{"queue":"loans"}},"value":42,"timestamp":{t0}}}]}}"#
    );
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "application/json")],
        json.into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Remote-write.
    let rw = remote_write_body(&[(t0, 21.5), (t0 + 1000, 21.75)]);
    let headers = [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "snappy"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ];
    let (status, body) = post(
        &client,
        &format!("{}/api/v1/write", serve.base),
        &headers,
        rw,
    )
    .await;
    assert_eq!(status, 204, "{body}");

    // All-or-nothing: one bad line refuses the request, naming the line; nothing is stored.
    let bad = format!("jobs_done{{job=\"bad\"}} 1 {t0}\njobs_done{{job=\"bad\" 2 {t0}\n");
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        bad.into_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line 2"), "names the line: {body}");

    // A conflicting duplicate (same series and time, other value) refuses the whole request.
    let conflict = format!("jobs_done{{job=\"import\"}} 6 {t0}\nfresh_series 1 {t0}\n");
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        conflict.into_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("line 1") && body.contains("different value"),
        "{body}"
    );

    // Far in the future, truncated snappy, wrong content type, too large: 4xx each.
    let future = format!("jobs_done{{job=\"later\"}} 1 {}\n", now_ms + 86_400_000);
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        future.into_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("future"), "{body}");
    let not_protobuf = snap::raw::Encoder::new()
        .compress_vec(b"\xff\xff\xff\xff this is not a WriteRequest")
        .unwrap();
    let (status, body) = post(
        &client,
        &format!("{}/api/v1/write", serve.base),
        &headers,
        not_protobuf,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let bad_label = format!("jobs_done{{__reserved=\"x\"}} 1 {t0}\n");
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        bad_label.into_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("__reserved"), "names the label: {body}");
    // NaN and infinities are values like any other.
    let special =
        format!("special_values{{v=\"nan\"}} NaN {t0}\nspecial_values{{v=\"inf\"}} +Inf {t0}\n");
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        special.into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut truncated = remote_write_body(&[(t0, 1.0)]);
    truncated.truncate(truncated.len() / 2);
    let (status, body) = post(
        &client,
        &format!("{}/api/v1/write", serve.base),
        &headers,
        truncated,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(
        &client,
        &push,
        &[("content-type", "application/xml")],
        b"<x/>".to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        vec![b'#'; 100 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 413, "{body}");

    // The same payload again (a redelivery) is accepted and stored once.
    let again = format!("jobs_done{{job=\"import\"}} 5 {t0}\n");
    let (status, body) = post(
        &client,
        &push,
        &[("content-type", "text/plain")],
        again.into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Let the monitor run at least once so its samples reach the store.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = serve.stop();
    // A clean stop closes the store: the next start has no log to replay.
    assert!(
        !log.contains("still in use") && !log.contains("not closed cleanly"),
        "{log}"
    );

    let jobs = query_json(&w, r#"jobs_done{job="import"}"#);
    let result = &jobs["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{jobs}");
    let t0s = t0 as f64 / 1000.0;
    assert_eq!(
        values(&result[0]),
        vec![(t0s, "5".to_string()), (t0s + 15.0, "8".to_string())]
    );
    for refused in [
        r#"jobs_done{job="bad"}"#,
        "fresh_series",
        r#"jobs_done{job="later"}"#,
    ] {
        let r = query_json(&w, refused);
        assert_eq!(
            r["result"].as_array().unwrap().len(),
            0,
            "{refused} stored: {r}"
        );
    }
    let special = query_json(&w, "special_values");
    let special: Vec<&str> = special["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["values"][0][1].as_str().unwrap())
        .collect();
    assert_eq!(special, ["+Inf", "NaN"]);
    let queue = query_json(&w, "queue_size");
    assert_eq!(values(&queue["result"][0]), vec![(t0s, "42".to_string())]);
    let rw = query_json(&w, r#"rw_temperature{room="lab"}"#);
    assert_eq!(
        values(&rw["result"][0]),
        vec![(t0s, "21.5".to_string()), (t0s + 1.0, "21.75".to_string())]
    );
    // Monitor samples and Periscope's own metrics keep history too.
    let perf = query_json(&w, r#"periscope_perfdata{monitor="tick",label="queue"}"#);
    assert!(!perf["result"].as_array().unwrap().is_empty(), "{perf}");
    assert_eq!(perf["result"][0]["values"][0][1], "7");

    // The default table, and an export to stdout, as people read them in a terminal.
    let out = w.run(&["query", "queue_size", "--from", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains(r#"queue_size{queue="loans"}"#) && table.contains("| 42 "),
        "{table}"
    );
    let out = w.run(&["export", "queue_size", "--from", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("# TYPE queue_size unknown\n") && text.ends_with("# EOF\n"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("exported 1 samples of 1 series"),
        "{}",
        stderr(&out)
    );

    // Export, then import into a fresh store: the same samples come back.
    let exported = w.path("history.om");
    let out = w.run(&[
        "export",
        "--from",
        "0",
        "--output",
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.ends_with("# EOF\n"));
    // Written a metric at a time: every family once, in name order, and nothing left over.
    let families: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let mut sorted = families.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(families, sorted, "{text}");
    assert!(families.len() >= 4, "{families:?}");
    assert!(!w.path("history.om.partial").exists());
    let nowhere = w.path("no/such/dir/history.om");
    let out = w.run(&["export", "--output", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
    assert!(!nowhere.exists());
    let copy = World::new("[store]\ndir = \"metrics\"\n");
    let out = copy.run(&["import", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("imported"), "{}", stderr(&out));
    for selector in [r#"jobs_done{job="import"}"#, "queue_size", "rw_temperature"] {
        assert_eq!(
            query_json(&copy, selector),
            query_json(&w, selector),
            "{selector} differs after export and import"
        );
    }
}

#[test]
fn query_explains_bad_selectors_and_times() {
    let w = World::new("[store]\ndir = \"metrics\"\n");
    let out = w.run(&["query", "rate(x[5m])"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("series selector"), "{}", stderr(&out));
    let out = w.run(&["query", "up", "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--from"), "{}", stderr(&out));
    let out = w.run(&["query", "up", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "series,timestamp,value\n");
}

#[test]
fn import_names_the_line_of_a_problem() {
    let w = World::new("[store]\ndir = \"metrics\"\n");
    w.write(
        "bad.om",
        "# TYPE a gauge\na 1 1700000000\na 2 1700000001\na{x=\"1\" 3 1700000002\n# EOF\n",
    );
    let out = w.run(&["import", w.path("bad.om").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 4"), "{}", stderr(&out));
    w.write("cut.om", "# TYPE a gauge\na 1 1700000000\n");
    let out = w.run(&["import", w.path("cut.om").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("# EOF"), "{}", stderr(&out));
}

#[test]
fn reading_history_needs_none_of_the_servers_secrets() {
    let w = World::new(
        "[store]\ndir = \"metrics\"\n\n\
         [receiver.orders]\nkind = \"rabbitmq\"\nurl = \"amqp://periscope@127.0.0.1:5672/%2f\"\n\
         exchange = \"metrics\"\nqueue = \"periscope\"\n\
         password_env = \"PERISCOPE_TEST_RABBIT_PASSWORD_UNSET\"\n",
    );
    // The operator's shell has no broker password: history is still readable.
    let out = w.run(&["query", "up", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run(&["export", "up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // What serves needs it, and says where it is configured.
    let check = w.run(&["check-config"]);
    assert_eq!(check.status.code(), Some(1));
    let said = stderr(&check);
    assert!(said.contains("receiver.orders.password_env"), "{said}");
    assert!(
        said.contains("PERISCOPE_TEST_RABBIT_PASSWORD_UNSET"),
        "{said}"
    );
}
