//! Properties: no input makes a parser panic or fail without saying where; what Periscope
//! writes (OpenMetrics export) or what senders encode (JSON, remote-write) reads back exactly.

use std::collections::BTreeMap;

use model::{Labels, PayloadFormat, SeriesData, Timestamp};
use proptest::prelude::*;
use prost::Message as _;

use crate::exposition::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use crate::exposition::{Batch, Location, parse, write_eof, write_families, write_openmetrics};

const FORMATS: [PayloadFormat; 4] = [
    PayloadFormat::OpenMetrics,
    PayloadFormat::PrometheusText,
    PayloadFormat::Json,
    PayloadFormat::RemoteWrite,
];

/// Either a batch, or at least one error, each with a real location.
fn assert_located(format: PayloadFormat, body: &[u8]) -> Result<(), TestCaseError> {
    if let Err(errors) = parse(format, body) {
        prop_assert!(!errors.errors().is_empty());
        for e in errors.errors() {
            match &e.at {
                Location::Line { line, .. } => prop_assert!(*line >= 1, "{e}"),
                Location::Field(path) => prop_assert!(!path.is_empty(), "{e}"),
                Location::Payload => {}
            }
            prop_assert!(!e.message.is_empty());
        }
    }
    Ok(())
}

/// Bytes an exposition is made of, so inputs reach past the first token.
fn exposition_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "(# (TYPE|HELP|UNIT|EOF) ?)?[a-z_:]{0,4}(\\{([a-z_]{0,3}=\"[a-z\\\\\" #{}]{0,4}\",?){0,3}\\}?)? ?(-?[0-9.e]{0,4}|NaN|\\+Inf)?( [0-9.]{0,3})?( # \\{\\} 1)?\n?(# EOF\n?)?",
    )
    .unwrap()
}

fn metric_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z_:][a-zA-Z0-9_:]{0,8}").unwrap()
}

fn label_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z][a-zA-Z0-9_]{0,6}").unwrap()
}

/// Any value, NaN and infinities included, compared by bits (NaN by being NaN).
fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        proptest::num::f64::ANY,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        -1e6..1e6f64,
    ]
}

/// Label values with what needs escaping: quotes, backslashes, newlines, unicode, NUL.
fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::string::string_regex("[a\"\\\\\n\r\t é☃\u{0}#{}=,]{0,12}").unwrap(),
    ]
}

type Points = BTreeMap<i64, f64>;

fn series_set() -> impl Strategy<Value = BTreeMap<Labels, Points>> {
    let one = (
        metric_name(),
        proptest::collection::btree_map(label_name(), label_value(), 0..4),
        proptest::collection::btree_map(-10_000_000_000_000i64..10_000_000_000_000, value(), 1..4),
    );
    proptest::collection::vec(one, 0..6).prop_map(|list| {
        list.into_iter()
            .map(|(name, labels, points)| {
                let labels: Labels = labels
                    .into_iter()
                    .chain([("__name__".to_string(), name)])
                    .collect();
                (labels, points)
            })
            .collect()
    })
}

fn collect(batch: &Batch) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for (labels, s) in batch.iter() {
        out.entry(labels.clone())
            .or_default()
            .push((s.timestamp.map_or(i64::MIN, Timestamp::as_millis), s.value));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        for format in FORMATS {
            assert_located(format, &body)?;
        }
        // Also as a snappy block, so remote-write reaches the protobuf decoder.
        let packed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        assert_located(PayloadFormat::RemoteWrite, &packed)?;
    }

    #[test]
    fn exposition_like_text_never_panics(lines in proptest::collection::vec(exposition_like(), 0..8)) {
        let body = lines.concat();
        for format in FORMATS {
            assert_located(format, body.as_bytes())?;
        }
    }

    #[test]
    fn openmetrics_written_reads_back_exactly(set in series_set()) {
        let data: Vec<SeriesData> = set
            .iter()
            .map(|(labels, points)| SeriesData {
                labels: labels.clone(),
                timestamps: points.keys().map(|&t| Timestamp(t)).collect(),
                values: points.values().copied().collect(),
                start_timestamps: Vec::new(),
            })
            .collect();
        let mut text = Vec::new();
        write_openmetrics(&mut text, &data).unwrap();
        // Written a metric name at a time, as `periscope export` does: the same text.
        let mut names: Vec<&str> = data.iter().filter_map(|s| s.labels.metric_name()).collect();
        names.sort_unstable();
        names.dedup();
        let mut by_name = Vec::new();
        for name in names {
            let one: Vec<SeriesData> = data
                .iter()
                .filter(|s| s.labels.metric_name() == Some(name))
                .cloned()
                .collect();
            write_families(&mut by_name, &one).unwrap();
        }
        write_eof(&mut by_name).unwrap();
        prop_assert_eq!(&by_name, &text);
        let batch = parse(PayloadFormat::OpenMetrics, &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&text))))?;
        let got = collect(&batch);
        prop_assert_eq!(got.len(), set.len());
        for (labels, points) in &set {
            let read = &got[labels];
            prop_assert_eq!(read.len(), points.len());
            for ((t, v), (rt, rv)) in points.iter().zip(read) {
                prop_assert_eq!(t, rt);
                prop_assert!(same_value(*v, *rv), "{} vs {}", v, rv);
            }
        }
    }

    #[test]
    fn json_encoded_reads_back_exactly(
        samples in proptest::collection::vec(
            (metric_name(), proptest::collection::btree_map(label_name(), label_value(), 0..4),
             value(), proptest::option::of(any::<i64>()), proptest::option::of("[a-z%]{1,4}")),
            0..6)
    ) {
        let json: Vec<serde_json::Value> = samples
            .iter()
            .map(|(name, labels, v, ts, unit)| {
                let value = if v.is_nan() {
                    serde_json::json!("NaN")
                } else if *v == f64::INFINITY {
                    serde_json::json!("+Inf")
                } else if *v == f64::NEG_INFINITY {
                    serde_json::json!("-Inf")
                } else {
                    serde_json::json!(v)
                };
                let mut o = serde_json::json!({"name": name, "labels": labels, "value": value});
                if let Some(ts) = ts {
                    o["timestamp"] = serde_json::json!(ts);
                }
                if let Some(unit) = unit {
                    o["unit"] = serde_json::json!(unit);
                }
                o
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({"samples": json})).unwrap();
        let batch = parse(PayloadFormat::Json, &body)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(batch.len(), samples.len());
        for ((name, labels, v, ts, unit), (got_labels, got)) in samples.iter().zip(batch.iter()) {
            let want: Labels = labels.clone().into_iter().chain([("__name__".to_string(), name.clone())]).collect();
            prop_assert_eq!(got_labels, &want);
            prop_assert!(same_value(*v, got.value), "{} vs {}", v, got.value);
            prop_assert_eq!(got.timestamp, ts.map(Timestamp));
            prop_assert_eq!(batch.family(got).unit.as_deref(), unit.as_deref());
        }
    }

    #[test]
    fn remote_write_encoded_reads_back_exactly(
        series in proptest::collection::vec(
            (metric_name(),
             proptest::collection::btree_map(label_name(), label_value().prop_filter("non-empty", |v| !v.is_empty()), 0..4),
             proptest::collection::vec((proptest::num::f64::ANY, any::<i64>()), 1..4)),
            0..6)
    ) {
        let request = WriteRequest {
            timeseries: series
                .iter()
                .map(|(name, labels, samples)| TimeSeries {
                    labels: [("__name__", name.as_str())]
                        .into_iter()
                        .chain(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                        .map(|(n, v)| Label {
                            name: n.into(),
                            value: v.into(),
                        })
                        .collect(),
                    samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
                })
                .collect(),
        };
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
        let batch = parse(PayloadFormat::RemoteWrite, &body)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want: Vec<(Labels, f64, i64)> = series
            .iter()
            .flat_map(|(name, labels, samples)| {
                let l: Labels = labels.clone().into_iter().chain([("__name__".to_string(), name.clone())]).collect();
                samples.iter().map(move |&(v, t)| (l.clone(), v, t))
            })
            .collect();
        prop_assert_eq!(batch.len(), want.len());
        for ((labels, v, t), (got_labels, got)) in want.iter().zip(batch.iter()) {
            prop_assert_eq!(got_labels, labels);
            // Protobuf keeps the bits, NaN payloads (Prometheus' stale marker) included; only
            // -0.0 arrives as 0.0, because proto3 does not send a field equal to its default.
            if *v == 0.0 {
                prop_assert_eq!(got.value, 0.0);
            } else {
                prop_assert_eq!(got.value.to_bits(), v.to_bits());
            }
            prop_assert_eq!(got.timestamp, Some(Timestamp(*t)));
        }
    }
}
