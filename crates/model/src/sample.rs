//! Metric samples: a name, labels, a value at an instant.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
pub use crate::labels::Labels;

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Metric name, Prometheus style (`[a-zA-Z_:][a-zA-Z0-9_:]*`), e.g. `periscope_log_matches`.
    pub name: String,
    /// Identifying labels (the runner adds `monitor`).
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// When it was measured.
    pub timestamp: Timestamp,
    /// Unit as reported by the source (`s`, `B`, `%`, `c`...), when it said one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl Sample {
    /// A sample with no labels and no unit.
    pub fn new(name: impl Into<String>, value: f64, timestamp: Timestamp) -> Self {
        Sample {
            name: name.into(),
            labels: Labels::new(),
            value,
            timestamp,
            unit: None,
        }
    }

    /// Adds a label.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.set(name, value);
        self
    }

    /// The series identity of this sample: its labels plus the metric name under
    /// [`crate::METRIC_NAME_LABEL`], as the store keys series.
    pub fn series_labels(&self) -> Labels {
        self.labels
            .clone()
            .with(crate::METRIC_NAME_LABEL, self.name.as_str())
    }

    /// Sets the unit.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }
}
