//! What [`crate::exposition::parse`] produces: a [`Batch`] of families, series and samples.
//!
//! Samples point at their series by index and series at their family, so a series' labels are
//! built once however many samples it has (remote-write sends many per series; text formats
//! repeat a series only with several timestamps). Parsers fill a [`CompactBatch`] (label text in
//! one arena, see `compact.rs`); a `Batch` is that converted to [`model::Labels`] per series.

use model::{Labels, Timestamp};

use super::compact::CompactBatch;

/// A metric family's type, as the payload declared it (`Unknown` when it did not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Monotonic total (`_total`, `_created`).
    Counter,
    /// Current value.
    Gauge,
    /// Cumulative buckets (`_bucket` with `le`, `_count`, `_sum`, `_created`).
    Histogram,
    /// Current distribution (`_bucket`, `_gcount`, `_gsum`).
    GaugeHistogram,
    /// Quantiles (`quantile` label), `_count`, `_sum`, `_created`.
    Summary,
    /// A set of boolean states, one label named like the family.
    StateSet,
    /// Constant textual information (`_info`, value 1).
    Info,
    /// Not declared (Prometheus `untyped`, OpenMetrics `unknown`).
    Unknown,
}

impl MetricType {
    /// The OpenMetrics name, e.g. `gaugehistogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::StateSet => "stateset",
            MetricType::Info => "info",
            MetricType::Unknown => "unknown",
        }
    }
}

/// A metric family: name and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    /// The family name (for a counter `foo` the samples are `foo_total`, `foo_created`).
    pub name: String,
    /// Declared type.
    pub kind: MetricType,
    /// `HELP` text, unescaped; `None` when absent or empty.
    pub help: Option<String>,
    /// Unit (`UNIT` line, or the JSON `unit` field); `None` when absent or empty.
    pub unit: Option<String>,
}

/// One sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParsedSample {
    /// Index of its series ([`Batch::series`]).
    pub series: u32,
    /// The value (NaN and infinities included).
    pub value: f64,
    /// When it was measured; `None` means "when it was received" (the caller decides).
    pub timestamp: Option<Timestamp>,
    /// Where it came from: the line (text formats), the sample index (JSON) or the time series
    /// index (remote-write), from 1 for lines and from 0 for indexes.
    pub line: u32,
}

/// One series: its full label set, metric name included under [`model::METRIC_NAME_LABEL`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Labels, sorted, with `__name__`.
    pub labels: Labels,
    /// Index into [`Batch::families`].
    pub family: u32,
}

/// A parsed payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Metric families in payload order. Text formats list declared families even without
    /// samples; JSON and remote-write make one `Unknown` family per run of samples with the same
    /// name (and unit).
    pub families: Vec<Family>,
    /// Distinct series in payload order (consecutive samples of one series share it).
    pub series: Vec<Series>,
    /// Samples in payload order.
    pub samples: Vec<ParsedSample>,
}

impl Batch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The labels (with `__name__`) of `sample`'s series.
    pub fn labels(&self, sample: &ParsedSample) -> &Labels {
        &self.series[sample.series as usize].labels
    }

    /// The family of `sample`.
    pub fn family(&self, sample: &ParsedSample) -> &Family {
        let series = &self.series[sample.series as usize];
        &self.families[series.family as usize]
    }

    /// Each sample with its series' labels.
    pub fn iter(&self) -> impl Iterator<Item = (&Labels, &ParsedSample)> {
        self.samples.iter().map(|s| (self.labels(s), s))
    }
}

/// One [`Labels`] per series (two strings per label: this is where a `Batch` costs more than a
/// [`CompactBatch`]).
fn series_of(compact: &CompactBatch) -> Vec<Series> {
    (0..index(compact.series_len()))
        .map(|i| {
            let view = compact.series(i);
            Series {
                labels: view.to_labels(),
                family: view.family_index(),
            }
        })
        .collect()
}

impl From<&CompactBatch> for Batch {
    fn from(compact: &CompactBatch) -> Self {
        Batch {
            families: compact.families.clone(),
            series: series_of(compact),
            samples: compact.samples.clone(),
        }
    }
}

impl From<CompactBatch> for Batch {
    fn from(mut compact: CompactBatch) -> Self {
        Batch {
            series: series_of(&compact),
            families: std::mem::take(&mut compact.families),
            samples: std::mem::take(&mut compact.samples),
        }
    }
}

/// Indexes are u32 to keep samples small; a payload with 4 billion entries is refused long
/// before this by body limits, so saturating is only a guard.
pub(crate) fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
