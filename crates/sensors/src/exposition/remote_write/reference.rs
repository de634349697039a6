//! The decoder this module had before `wire.rs`, kept as the reference the hand-written one is
//! checked against: prost's `WriteRequest::decode` (a `String` per label), then the module's own
//! label rules.

use model::METRIC_NAME_LABEL;
use prost::Message as _;

use super::WriteRequest;
use crate::exposition::batch::MetricType;
use crate::exposition::compact::{Builder, CompactBatch};
use crate::exposition::error::{Location, ParseErrors, Problems, single};

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
        scratch.clear();
        scratch.extend(
            ts.labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str())),
        );
        // The label rules are the module's own: this reference stands in for the wire decoding
        // only.
        if !super::check_labels(i, &mut scratch, &mut problems)
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
