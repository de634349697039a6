//! The `nats` and `mqtt` receivers when the broker *server* goes away and comes back: each test
//! runs its own server process on a free loopback port (the shared ones on 4222 and 1883 stay
//! untouched), kills it with SIGKILL or SIGTERM, starts it again on the same port and data, and
//! checks that the receiver reconnects within seconds and that every sample published around
//! the drop ends up in the store once by (series, timestamp).
//!
//! A test whose server binary is not installed says `SKIPPED` on stderr and returns.

#[path = "brokers_common.rs"]
mod common;
#[path = "brokers_server_drop/mqtt.rs"]
mod mqtt;
#[path = "brokers_server_drop/nats.rs"]
mod nats;
#[path = "brokers_server_drop/scenarios.rs"]
mod scenarios;
#[path = "brokers_server_drop/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{KeptSample, SeriesAt, TestSink, sorted};

/// Timestamps of the test samples start here (ms).
const BASE_MS: i64 = 1_700_000_000_000;

/// How soon after the server is started again the receiver must have reconnected, with the
/// test's retry settings (waits of 20 ms doubling up to 200 ms).
const RECONNECT_WITHIN: Duration = Duration::from_secs(5);

/// How soon after the reconnect a new batch, published once, must be stored: consuming must
/// resume, not only the connection.
const STORED_WITHIN: Duration = Duration::from_secs(5);

/// `n` Prometheus text payloads of batch `batch`, one sample each: the series
/// `drop_test{batch="<batch>"}` at `BASE_MS + i` with the value `i`.
fn payloads(batch: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "drop_test{{batch=\"{batch}\"}} {i} {}\n",
                BASE_MS + i as i64
            )
        })
        .collect()
}

/// The samples `payloads(batch, n)` carry, keyed as the store keys them.
fn expected_samples(batches: &[(&str, usize)]) -> BTreeMap<SeriesAt, f64> {
    batches
        .iter()
        .flat_map(|&(batch, n)| {
            (0..n).map(move |i| {
                (
                    (
                        format!("drop_test{{batch=\"{batch}\"}}"),
                        BASE_MS + i as i64,
                    ),
                    i as f64,
                )
            })
        })
        .collect()
}

/// Every payload of `batches` reached the sink, and the store holds each of their samples
/// exactly once with its value: nothing lost, nothing doubled. Returns how many samples came
/// more than once (redeliveries the store absorbed), for the caller to judge.
fn assert_stored_once(sink: &TestSink, batches: &[(&str, &[String])]) -> usize {
    let lists: Vec<&[String]> = batches.iter().map(|(_, list)| *list).collect();
    assert_eq!(sink.bodies(), sorted(&lists), "every payload is stored");
    let kept = sink.samples();
    let got: BTreeMap<SeriesAt, f64> = kept.iter().map(|(k, s)| (k.clone(), s.value)).collect();
    let sizes: Vec<(&str, usize)> = batches.iter().map(|(b, l)| (*b, l.len())).collect();
    assert_eq!(
        got,
        expected_samples(&sizes),
        "the store holds each sample once"
    );
    kept.values()
        .filter(|KeptSample { offered, .. }| *offered > 1)
        .count()
}
