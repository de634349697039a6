//! The Prometheus query API of `serve`, end to end with the real binary: metrics pushed over
//! HTTP are read back with the requests Grafana's Prometheus data source sends.

mod common;

use common::World;
use common::serve::{Serve, free_port};
use serde_json::{Value, json};

fn config(port: u16) -> String {
    format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n"
    )
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

/// A POST with a form body, as Grafana sends queries.
async fn post_form(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_reads_pushed_metrics_through_the_query_api() {
    let port = free_port();
    let w = World::new(&config(port));
    let serve = Serve::start(&w, port);
    let client = reqwest::Client::new();
    let now_s = model::Clock::now(&model::SystemClock).as_millis() / 1000;
    // Ten samples, 15 s apart, ending a minute ago, for two status codes.
    let t0 = (now_s - 60 - 9 * 15) * 1000;
    let mut text = String::new();
    for i in 0..10i64 {
        let t = t0 + i * 15_000;
        text += &format!(
            "http_requests_total{{job=\"api\",code=\"200\"}} {} {t}\n",
            100 + 30 * i
        );
        text += &format!(
            "http_requests_total{{job=\"api\",code=\"500\"}} {} {t}\n",
            3 * i
        );
    }
    let response = client
        .post(format!("{}/api/v1/push", serve.base))
        .header("content-type", "text/plain; version=0.0.4")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let last = (t0 + 9 * 15_000) / 1000;

    // Instant query at the last sample: one value per code.
    let (status, body) = post_form(
        &client,
        &format!("{}/api/v1/query", serve.base),
        &[
            ("query", "sum by (code) (http_requests_total)"),
            ("time", &last.to_string()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "vector");
    let result = body["data"]["result"].as_array().unwrap();
    let by_code = |code: &str| {
        result
            .iter()
            .find(|r| r["metric"]["code"] == code)
            .map(|r| r["value"][1].clone())
    };
    assert_eq!(by_code("200"), Some(json!("370")));
    assert_eq!(by_code("500"), Some(json!("27")));

    // Range query of a rate: 2 per second for code 200, 0.2 for code 500.
    let (status, body) = post_form(
        &client,
        &format!("{}/api/v1/query_range", serve.base),
        &[
            ("query", "rate(http_requests_total{code=\"200\"}[1m])"),
            ("start", &(last - 60).to_string()),
            ("end", &last.to_string()),
            ("step", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix");
    let values = body["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 3, "{body}");
    for v in values {
        let rate: f64 = v[1].as_str().unwrap().parse().unwrap();
        assert!((rate - 2.0).abs() < 1e-9, "rate {rate} in {body}");
    }

    // What Grafana's query editor asks for: label names, values, series.
    let (_, body) = get(&client, &format!("{}/api/v1/labels", serve.base)).await;
    let names = body["data"].as_array().unwrap();
    for name in ["__name__", "code", "job"] {
        assert!(names.contains(&json!(name)), "{name} in {body}");
    }
    let (_, body) = get(&client, &format!("{}/api/v1/label/code/values", serve.base)).await;
    assert_eq!(body["data"], json!(["200", "500"]));
    let (_, body) = get(
        &client,
        &format!(
            "{}/api/v1/series?match[]=http_requests_total{{code=%22500%22}}",
            serve.base
        ),
    )
    .await;
    assert_eq!(
        body["data"],
        json!([{"__name__": "http_requests_total", "code": "500", "job": "api"}])
    );

    // A query asking for something odd is answered, with a warning that says so and where.
    let (status, body) = get(
        &client,
        &format!(
            "{}/api/v1/query?query=quantile(2,%20http_requests_total)&time={last}",
            serve.base
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["warnings"],
        json!(["PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)"])
    );

    // A malformed query is a 400 that says what is wrong.
    let (status, body) = get(
        &client,
        &format!("{}/api/v1/query?query=rate(x%5B5m%5D", serve.base),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], "bad_data");
    assert!(body["error"].as_str().unwrap().contains("PromQL"), "{body}");
    // A misplaced token is named with its position.
    let (status, body) = get(
        &client,
        &format!("{}/api/v1/query?query=up%20%3E%20%3E%201", serve.base),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"], "invalid PromQL: unexpected \">\" at 1:6",
        "{body}"
    );
    serve.stop();
}
