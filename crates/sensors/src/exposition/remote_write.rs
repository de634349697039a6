//! Prometheus remote-write 1.0: a snappy raw block (not the framed format) holding a protobuf
//! `WriteRequest`.
//!
//! The messages are declared here with `prost`'s derive, only the fields Periscope reads (time
//! series labels and samples), for senders and tests to encode; decoding walks the wire format
//! by hand (`remote_write/wire.rs`) so labels are borrowed from the decompressed request instead
//! of allocated, and `metadata`, exemplars and native histograms are skipped as protobuf skips
//! unknown fields. The decoded size is checked before decompressing, so a 20-byte body cannot
//! ask for 4 GiB; the decompressed request lives in a buffer each thread reuses.

mod wire;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod spelling_tests;
#[cfg(test)]
mod wire_tests;

use std::cell::RefCell;

#[cfg(test)]
use prost::Message as _;

use model::METRIC_NAME_LABEL;

use super::batch::MetricType;
use super::compact::{Builder, CompactBatch, KnownSpellings};
use super::error::{Location, ParseErrors, Problems, single};
use super::names::{is_label_name, metric_name_problem};

/// The most a body may decompress to.
pub const MAX_DECODED_BYTES: usize = 256 << 20;

/// `prometheus.WriteRequest` (remote-write 1.0), the fields Periscope reads.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series and their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: a label set (with `__name__`) and its samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, `__name__` included; the spec says sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (NaN and infinities included; Prometheus' stale marker is a NaN).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Decompressed requests up to this size keep their buffer for the thread's next request (a
/// Prometheus request of 2 000 samples is a few hundred KB); a larger one is freed after use,
/// so one huge request does not pin its memory in every thread of a blocking pool.
const KEEP_BUFFER_BYTES: usize = 32 << 20;

thread_local! {
    /// The decompressed request, reused: a receiver thread allocates it once, not per request.
    static DECODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decodes a remote-write body.
pub(crate) fn parse(
    body: &[u8],
    batch: CompactBatch,
    known: Option<&dyn KnownSpellings>,
) -> Result<CompactBatch, ParseErrors> {
    if body.is_empty() {
        return Err(single(
            Location::Payload,
            "empty body (expected a snappy-compressed protobuf WriteRequest)",
        ));
    }
    let decoded_len = snap::raw::decompress_len(body).map_err(|e| {
        single(
            Location::Payload,
            format!("not a snappy block (remote-write uses the raw, unframed format): {e}"),
        )
    })?;
    if decoded_len > MAX_DECODED_BYTES {
        return Err(single(
            Location::Payload,
            format!(
                "decompresses to {decoded_len} bytes; at most {MAX_DECODED_BYTES} are accepted (send smaller batches)"
            ),
        ));
    }
    DECODED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            let result = decompress_and_decode(body, decoded_len, &mut buffer, batch, known);
            if buffer.capacity() > KEEP_BUFFER_BYTES {
                *buffer = Vec::new();
            }
            result
        }
        // Only reentrance could get here; it costs an allocation, not a failure.
        Err(_) => decompress_and_decode(body, decoded_len, &mut Vec::new(), batch, known),
    })
}

fn decompress_and_decode(
    body: &[u8],
    decoded_len: usize,
    buffer: &mut Vec<u8>,
    batch: CompactBatch,
    known: Option<&dyn KnownSpellings>,
) -> Result<CompactBatch, ParseErrors> {
    // Grown, never shrunk in length: no zeroing per request once it is big enough.
    if buffer.len() < decoded_len {
        buffer.resize(decoded_len, 0);
    }
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut buffer[..decoded_len])
        .map_err(|e| {
            single(
                Location::Payload,
                format!("snappy block is corrupt or truncated: {e}"),
            )
        })?;
    decode(&buffer[..n], batch, known)
}

/// Checks and converts a decompressed request, walking its protobuf encoding (`wire.rs`). A
/// series whose label spelling `known` has a handle for is taken by that handle, undecoded;
/// with `known`, the other series keep their spelling for the caller to remember.
fn decode(
    raw: &[u8],
    batch: CompactBatch,
    known: Option<&dyn KnownSpellings>,
) -> Result<CompactBatch, ParseErrors> {
    let mut problems = Problems::default();
    let mut builder = Builder::new(batch);
    // Prometheus sends one sample per time series: counting series is counting samples.
    builder.reserve(wire::count_series(raw));
    let mut last_family: Option<u32> = None;
    let mut known_family: Option<u32> = None;
    let mut labels = Vec::new();
    wire::for_each_series(raw, |entry| {
        let spelling = known.and(entry.spelling());
        if let Some(handle) = spelling.and_then(|s| known?.handle(s)) {
            if entry.samples.is_empty() || !problems.is_empty() {
                return Ok(());
            }
            let family =
                *known_family.get_or_insert_with(|| builder.add_family("", MetricType::Unknown));
            let series = builder.push_known(family, handle);
            push_samples(&mut builder, series, entry);
            return Ok(());
        }
        entry.labels(&mut labels)?;
        if !check_labels(entry.index, &mut labels, &mut problems)
            || entry.samples.is_empty()
            || !problems.is_empty()
        {
            return Ok(());
        }
        let name = labels
            .iter()
            .find(|(n, _)| *n == METRIC_NAME_LABEL)
            .map_or("", |(_, v)| v);
        let family = match last_family {
            Some(f) if builder.family(f).name == name => f,
            _ => builder.add_family(name, MetricType::Unknown),
        };
        last_family = Some(family);
        let series = builder.push_series(family, labels.iter().copied());
        if let Some(spelling) = spelling {
            builder.spelled(series, spelling);
        }
        push_samples(&mut builder, series, entry);
        Ok(())
    })
    .map_err(|e| {
        single(
            Location::Payload,
            format!("not a protobuf WriteRequest: {e}"),
        )
    })?;
    builder.finish(problems)
}

fn push_samples(builder: &mut Builder, series: u32, entry: &wire::Entry<'_, '_>) {
    let line = u32::try_from(entry.index).unwrap_or(u32::MAX);
    for s in entry.samples {
        builder.sample(series, s.value, Some(s.timestamp), line);
    }
}

/// Checks a series' labels (in payload order), then sorts them by name; false (with problems
/// reported) when they break a rule. Labels with an empty value are left out: Prometheus treats
/// them as absent.
fn check_labels(index: usize, labels: &mut Vec<(&str, &str)>, problems: &mut Problems) -> bool {
    let path = |j: usize, field: &str| format!("timeseries[{index}].labels[{j}].{field}");
    let before = problems.len();
    let mut name_seen = false;
    for (j, &(name, value)) in labels.iter().enumerate() {
        if name == METRIC_NAME_LABEL {
            name_seen = true;
            if let Some(p) = metric_name_problem(value) {
                problems.at_field(path(j, "value"), p);
            }
        } else if !is_label_name(name) {
            problems.at_field(
                path(j, "name"),
                format!("label name {name:?} is not valid (it must match [a-zA-Z_][a-zA-Z0-9_]*)"),
            );
        } else if name.starts_with("__") {
            problems.at_field(
                path(j, "name"),
                format!(
                    "label name {name:?} is reserved (names starting with \"__\" are for internal use)"
                ),
            );
        }
    }
    if !name_seen {
        problems.at_field(
            format!("timeseries[{index}].labels"),
            "no __name__ label: every series needs a metric name",
        );
    }
    // The spec says senders sort; checking first costs little when they did.
    if !labels.is_sorted_by(|a, b| a.0 <= b.0) {
        labels.sort_by(|a, b| a.0.cmp(b.0));
    }
    if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        problems.at_field(
            format!("timeseries[{index}].labels"),
            format!("label {:?} appears twice", w[0].0),
        );
    }
    labels.retain(|(_, v)| !v.is_empty());
    problems.len() == before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    fn decode(body: &[u8]) -> Result<crate::exposition::Batch, ParseErrors> {
        parse(body, CompactBatch::default(), None).map(crate::exposition::Batch::from)
    }

    fn label(name: &str, value: &str) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn decodes_series_and_samples() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    label("job", "api"),
                    label("__name__", "up"),
                    label("empty", ""),
                ],
                samples: vec![
                    Sample {
                        value: 1.0,
                        timestamp: 1000,
                    },
                    Sample {
                        value: f64::NAN,
                        timestamp: 2000,
                    },
                ],
            }],
        };
        let batch = decode(&encode(&req)).unwrap();
        assert_eq!(batch.series.len(), 1);
        assert_eq!(batch.len(), 2);
        let labels = &batch.series[0].labels;
        assert_eq!(labels.metric_name(), Some("up"));
        assert_eq!(labels.get("job"), Some("api"));
        assert_eq!(labels.get("empty"), None);
        assert!(batch.samples[1].value.is_nan());
        assert_eq!(batch.samples[1].timestamp, Some(model::Timestamp(2000)));
    }

    #[test]
    fn bad_labels_are_named_by_path() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![label("__name__", "ok")],
                    samples: vec![Sample::default()],
                },
                TimeSeries {
                    labels: vec![
                        label("1x", "v"),
                        label("__y", "v"),
                        label("a", "1"),
                        label("a", "2"),
                    ],
                    samples: vec![Sample::default()],
                },
            ],
        };
        let e = decode(&encode(&req)).unwrap_err().to_string();
        assert_eq!(
            e,
            "timeseries[1].labels[0].name: label name \"1x\" is not valid (it must match [a-zA-Z_][a-zA-Z0-9_]*)\n\
             timeseries[1].labels[1].name: label name \"__y\" is reserved (names starting with \"__\" are for internal use)\n\
             timeseries[1].labels: no __name__ label: every series needs a metric name\n\
             timeseries[1].labels: label \"a\" appears twice"
        );
    }

    #[test]
    fn truncated_snappy_and_wrong_protobuf_say_so() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "up")],
                samples: vec![Sample::default()],
            }],
        };
        let body = encode(&req);
        let e = decode(&body[..body.len() - 3]).unwrap_err().to_string();
        assert!(
            e.starts_with("payload: snappy block is corrupt or truncated"),
            "{e}"
        );
        let e = decode(b"").unwrap_err().to_string();
        assert_eq!(
            e,
            "payload: empty body (expected a snappy-compressed protobuf WriteRequest)"
        );
        let not_proto = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\xff")
            .unwrap();
        let e = decode(&not_proto).unwrap_err().to_string();
        assert!(e.starts_with("payload: not a protobuf WriteRequest"), "{e}");
        // A header claiming 4 GiB is refused before any allocation.
        let e = decode(&[0xff, 0xff, 0xff, 0xff, 0x0f])
            .unwrap_err()
            .to_string();
        assert!(e.contains("decompresses to"), "{e}");
    }
}
