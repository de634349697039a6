//! The sink over a real store: remote-write series met again are taken by their spelling, and
//! land on the same series as when they were first decoded.

use std::sync::Arc;

use model::{
    Matcher, Payload, PayloadFormat, PayloadSink as _, Querier as _, TimeRange, Timestamp,
};
use prost::Message as _;
use sensors::exposition::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use testkit::ManualClock;

use super::StoreSink;

const NOW: i64 = 1_700_000_000_000;

/// A remote-write payload with one entry per `(room, timestamp, value)` of metric `t`.
fn payload(entries: &[(&str, i64, f64)]) -> Payload {
    let label = |name: &str, value: &str| Label {
        name: name.into(),
        value: value.into(),
    };
    let request = WriteRequest {
        timeseries: entries
            .iter()
            .map(|&(room, timestamp, value)| TimeSeries {
                labels: vec![label("__name__", "t"), label("room", room)],
                samples: vec![Sample { value, timestamp }],
            })
            .collect(),
    };
    Payload {
        body: snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap(),
        format: PayloadFormat::RemoteWrite,
        origin: "test".into(),
    }
}

fn stored(store: &store::Store, room: &str) -> Vec<(i64, f64)> {
    let range = TimeRange::new(Timestamp(0), Timestamp(NOW));
    let found = store
        .select(&[Matcher::equal("room", room)], range)
        .unwrap();
    assert!(found.len() <= 1, "{found:?}");
    found
        .iter()
        .flat_map(|s| s.timestamps.iter().zip(&s.values))
        .map(|(t, v)| (t.as_millis(), *v))
        .collect()
}

#[tokio::test]
async fn series_met_again_land_where_they_did_and_errors_still_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(NOW)));
    let store = Arc::new(
        store::Store::open(dir.path(), store::StoreOptions::default(), clock.clone()).unwrap(),
    );
    let sink = StoreSink::new(store.clone(), clock);
    let t0 = NOW - 60_000;

    let first = sink
        .ingest(payload(&[("lab", t0, 1.0), ("hall", t0, 2.0)]))
        .await
        .unwrap();
    assert_eq!(first.samples, 2);
    // "lab" is known by its spelling now; "roof" is new and resolved by the store.
    let second = sink
        .ingest(payload(&[
            ("roof", t0 + 1000, 3.0),
            ("lab", t0 + 1000, 1.5),
        ]))
        .await
        .unwrap();
    assert_eq!(second.samples, 2);
    assert_eq!(stored(&store, "lab"), [(t0, 1.0), (t0 + 1000, 1.5)]);
    assert_eq!(stored(&store, "hall"), [(t0, 2.0)]);
    assert_eq!(stored(&store, "roof"), [(t0 + 1000, 3.0)]);

    // A conflicting duplicate on a known series refuses the payload and still names the series
    // (its labels were not decoded this time) and the entry.
    let refused = sink
        .ingest(payload(&[("hall", t0 + 2000, 2.5), ("lab", t0, 9.0)]))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("timeseries[1]"), "{refused}");
    assert!(refused.contains(r#"t{room="lab"}"#), "{refused}");
    assert_eq!(stored(&store, "hall"), [(t0, 2.0)], "all or nothing");
}
