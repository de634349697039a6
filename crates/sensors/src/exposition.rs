//! Metric payloads in, [`Batch`]es out: OpenMetrics 1.0 text (strict), Prometheus text
//! exposition 0.0.4 (lenient), Periscope's JSON batch format and Prometheus remote-write 1.0;
//! and the OpenMetrics writer for export.
//!
//! One entry point, [`parse`] (or [`parse_compact_into`] on the hot path), for every
//! [`PayloadFormat`]. A payload is either entirely good (a [`Batch`]: families with their
//! metadata, series with their [`model::Labels`], samples pointing at their series) or refused
//! with every problem found, each with its line and column or field path ([`ParseErrors`]):
//! ingestion is all-or-nothing, and `periscope check-metrics` lists the problems.
//!
//! The one decision behind it: the two text formats are one parser with a strict and a lenient
//! mode (`text.rs`), so a rule is written once and the modes differ only where the formats do.
//!
//! Naming rules are shared by all formats (`names.rs`): metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`,
//! label names `[a-zA-Z_][a-zA-Z0-9_]*`, no `__`-prefixed label names except `__name__` in
//! remote-write, no duplicate label names, valid UTF-8.

mod batch;
mod compact;
mod error;
mod json;
mod names;
mod number;
pub mod remote_write;
mod text;
mod writer;

#[cfg(test)]
mod tests;

pub use batch::{Batch, Family, MetricType, ParsedSample, Series};
pub use compact::{CompactBatch, KnownSpellings, SeriesView};
pub use error::{Location, ParseError, ParseErrors};
pub use names::{is_label_name, is_metric_name};
pub use writer::{write_eof, write_families, write_openmetrics};

use model::PayloadFormat;

/// Parses `body` as `format`. Every problem found is returned (up to a cap), located.
pub fn parse(format: PayloadFormat, body: &[u8]) -> Result<Batch, ParseErrors> {
    parse_compact(format, body).map(Batch::from)
}

/// [`parse`] without building a [`model::Labels`] per series: the ingest hot path.
pub fn parse_compact(format: PayloadFormat, body: &[u8]) -> Result<CompactBatch, ParseErrors> {
    parse_with(format, body, CompactBatch::default(), None)
}

/// [`parse_compact`] into `batch`, reusing its memory: a receiver that keeps one batch per
/// worker allocates nothing per payload once the batch has grown. On error `batch` is left
/// empty.
pub fn parse_compact_into(
    format: PayloadFormat,
    body: &[u8],
    batch: &mut CompactBatch,
) -> Result<(), ParseErrors> {
    *batch = parse_with(format, body, std::mem::take(batch), None)?;
    Ok(())
}

/// [`parse_compact_into`] for a receiver that remembers the series it has resolved: a series
/// whose label spelling `known` has a handle for is neither decoded nor checked again, and
/// appears in `batch` with only that handle ([`SeriesView::known`]); the others carry their
/// spelling ([`SeriesView::spelling`]) when the format can tell it (remote-write; the text
/// formats and JSON ignore `known`).
pub fn parse_known_into(
    format: PayloadFormat,
    body: &[u8],
    batch: &mut CompactBatch,
    known: &dyn KnownSpellings,
) -> Result<(), ParseErrors> {
    *batch = parse_with(format, body, std::mem::take(batch), Some(known))?;
    Ok(())
}

fn parse_with(
    format: PayloadFormat,
    body: &[u8],
    batch: CompactBatch,
    known: Option<&dyn KnownSpellings>,
) -> Result<CompactBatch, ParseErrors> {
    match format {
        PayloadFormat::OpenMetrics => text::parse(body, text::Mode::Strict, batch),
        PayloadFormat::PrometheusText => text::parse(body, text::Mode::Lenient, batch),
        PayloadFormat::Json => json::parse(body, batch),
        PayloadFormat::RemoteWrite => remote_write::parse(body, batch, known),
    }
}
