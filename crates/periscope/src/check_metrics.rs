//! `periscope check-metrics`: reads a metrics payload (Prometheus text, OpenMetrics or the JSON
//! batch format) and lists every problem with its line, like `promtool check metrics`.
//!
//! It runs the same parser ingestion uses, so "OK" here means the push receiver and broker
//! consumers accept the payload too.

use std::io::Read;
use std::path::Path;

use model::PayloadFormat;

use crate::cli::MetricsFormat;

/// Exit code when the input could not be read at all.
const EXIT_UNKNOWN: u8 = 3;

/// `periscope check-metrics [--format F] [FILE]`: 0 when valid, 1 with problems, 3 when the
/// input cannot be read.
pub fn check_metrics(format: MetricsFormat, file: Option<&Path>) -> u8 {
    let source = file.map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
    let mut body = Vec::new();
    let read = match file {
        Some(path) => std::fs::read(path).map(|b| body = b),
        None => std::io::stdin().read_to_end(&mut body).map(|_| ()),
    };
    if let Err(e) = read {
        eprintln!("periscope: cannot read {source}: {e}");
        return EXIT_UNKNOWN;
    }
    let format = match format {
        MetricsFormat::Prometheus => PayloadFormat::PrometheusText,
        MetricsFormat::Openmetrics => PayloadFormat::OpenMetrics,
        MetricsFormat::Json => PayloadFormat::Json,
    };
    match sensors::exposition::parse_compact(format, &body) {
        Ok(batch) => {
            println!(
                "{source}: OK ({} {}, {} series, {} {})",
                batch.len(),
                plural(batch.len(), "sample", "samples"),
                batch.series_len(),
                batch.families.len(),
                plural(batch.families.len(), "family", "families"),
            );
            0
        }
        Err(errors) => {
            for e in errors.errors() {
                eprintln!("{source}: {e}");
            }
            if errors.omitted() > 0 {
                eprintln!("{source}: ... and {} more problems", errors.omitted());
            }
            eprintln!(
                "{source}: {} {} ({} format)",
                errors.total(),
                plural(errors.total(), "problem", "problems"),
                format.as_str()
            );
            1
        }
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}
