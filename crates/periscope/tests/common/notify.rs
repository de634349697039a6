//! The response side's test setup: a config that fires a critical alert on a pushed value
//! above 4 and sends it to one webhook, an escalation policy, and the push.

use std::time::Instant;

/// A `[rule]` that fires at once on a pushed `latency_seconds{job="api"}` above 4, routed to
/// the webhook at `hook` with no hold time; `receiver` goes into the receiver's table and
/// `tail` after everything.
pub fn config(port: u16, hook: &str, receiver: &str, tail: &str) -> String {
    format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [rules]\ninterval = \"200ms\"\n\n\
         [rule.ApiLatency]\n\
         expr = 'latency_seconds{{job=\"api\"}}'\n\
         above = {{ critical = 4 }}\n\
         no_data = \"ok\"\n\
         annotations = {{ summary = \"{{{{ $labels.job }}}} is slow\" }}\n\n\
         [notify]\nexternal_url = \"http://periscope.test\"\n\n\
         [notify.route]\nreceiver = \"ops\"\ngroup_by = [\"alertname\"]\n\
         group_wait = \"0s\"\ngroup_interval = \"500ms\"\n\n\
         [notify.receiver.ops]\n{receiver}\n\
         [[notify.receiver.ops.channel]]\nkind = \"webhook\"\nurl = \"{hook}\"\n\n{tail}"
    )
}

/// `periscope silence add` of a two-hour silence on `service="db"` by alice, "disk swap".
pub const SILENCE_DB: [&str; 9] = [
    "silence",
    "add",
    "service=\"db\"",
    "--duration",
    "2h",
    "--author",
    "alice",
    "--comment",
    "disk swap",
];

/// Alice first; Bob `after` the escalation started, unless someone acknowledged.
pub fn escalation(after: &str) -> String {
    format!(
        "[person.alice]\nemail = \"alice@example.com\"\n\n\
         [person.bob]\nemail = \"bob@example.com\"\n\n\
         [escalation.ops]\n\
         [[escalation.ops.step]]\nnotify = [\"person:alice\"]\nafter = \"{after}\"\n\n\
         [[escalation.ops.step]]\nnotify = [\"person:bob\"]\n"
    )
}

/// Pushes `latency_seconds{job="api"} value` stamped now; returns when it was sent.
pub async fn push(client: &reqwest::Client, base: &str, value: f64) -> Instant {
    let now_ms = model::Clock::now(&model::SystemClock).as_millis();
    let sent = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/push"))
        .header("content-type", "text/plain; version=0.0.4")
        .body(format!("latency_seconds{{job=\"api\"}} {value} {now_ms}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    sent
}
