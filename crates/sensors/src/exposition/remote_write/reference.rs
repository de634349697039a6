//! The decoder this module had before `wire.rs`, kept as the reference the hand-written one is
//! checked against: prost's `WriteRequest::decode` (a `String` per label), then the same rules.

use model::METRIC_NAME_LABEL;
use prost::Message as _;

use super::{Label, WriteRequest};
use crate::exposition::batch::MetricType;
use crate::exposition::compact::{Builder, CompactBatch};
use crate::exposition::error::{Location, ParseErrors, Problems, single};
use crate::exposition::names::{is_label_name, metric_name_problem};

/// Decodes a decompressed request with prost, or says why prost refused it.
pub(super) fn parse_decompressed(
    raw: &[u8],
    batch: CompactBatch,
) -> Result<CompactBatch, ParseErrors> {
    let request = WriteRequest::decode(raw).map_err(|e| {
        single(
            Location::Payload,
            format!("not a protobuf WriteRequest: {e}"),
        )
    })?;
    from_request(request, batch)
}

/// Checks and converts a decoded request.
fn from_request(request: WriteRequest, batch: CompactBatch) -> Result<CompactBatch, ParseErrors> {
    let mut problems = Problems::default();
    let mut builder = Builder::new(batch);
    let total: usize = request.timeseries.iter().map(|t| t.samples.len()).sum();
    builder.reserve(total);
    let mut last_family: Option<u32> = None;
    let mut scratch: Vec<(&str, &str)> = Vec::new();
    for (i, ts) in request.timeseries.iter().enumerate() {
        if !check_labels(i, &ts.labels, &mut scratch, &mut problems)
            || ts.samples.is_empty()
            || !problems.is_empty()
        {
            continue;
        }
        let name = scratch
            .iter()
            .find(|(n, _)| *n == METRIC_NAME_LABEL)
            .map_or("", |(_, v)| v);
        let family = match last_family {
            Some(f) if builder.family(f).name == name => f,
            _ => builder.add_family(name, MetricType::Unknown),
        };
        last_family = Some(family);
        let series = builder.push_series(family, scratch.iter().copied());
        let line = u32::try_from(i).unwrap_or(u32::MAX);
        for s in &ts.samples {
            builder.sample(series, s.value, Some(s.timestamp), line);
        }
    }
    builder.finish(problems)
}

/// Checks a series' labels into `out`, sorted by name; false (with problems reported) when they
/// break a rule. Labels with an empty value are left out: Prometheus treats them as absent.
fn check_labels<'r>(
    index: usize,
    labels: &'r [Label],
    out: &mut Vec<(&'r str, &'r str)>,
    problems: &mut Problems,
) -> bool {
    let path = |j: usize, field: &str| format!("timeseries[{index}].labels[{j}].{field}");
    let before = problems.len();
    out.clear();
    let mut name_seen = false;
    for (j, l) in labels.iter().enumerate() {
        let (name, value) = (l.name.as_str(), l.value.as_str());
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
        out.push((name, value));
    }
    if !name_seen {
        problems.at_field(
            format!("timeseries[{index}].labels"),
            "no __name__ label: every series needs a metric name",
        );
    }
    // The spec says senders sort; checking first costs little when they did.
    if !out.is_sorted_by(|a, b| a.0 <= b.0) {
        out.sort_by(|a, b| a.0.cmp(b.0));
    }
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        problems.at_field(
            format!("timeseries[{index}].labels"),
            format!("label {:?} appears twice", w[0].0),
        );
    }
    out.retain(|(_, v)| !v.is_empty());
    problems.len() == before
}
