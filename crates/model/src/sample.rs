//! Metric samples: a name, labels, a value at an instant.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Label pairs kept sorted by name, so equal label sets compare and hash equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// An empty label set.
    pub fn new() -> Self {
        Labels(Vec::new())
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Builder form of [`Labels::set`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Removes `name`, returning its value if it was set.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0.remove(i).1)
    }

    /// Keeps only the pairs for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The metric name (the [`crate::METRIC_NAME_LABEL`] label), if set.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(crate::METRIC_NAME_LABEL)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no label is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut labels = Labels::new();
        for (k, v) in iter {
            labels.set(k, v);
        }
        labels
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_sorted_and_unique() {
        let l = Labels::new().with("b", "2").with("a", "1").with("b", "3");
        let pairs: Vec<_> = l.iter().collect();
        assert_eq!(pairs, vec![("a", "1"), ("b", "3")]);
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.get("c"), None);
    }
}
