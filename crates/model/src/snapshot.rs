//! A monitor's contribution to the snapshot and the summary report.
//!
//! A monitor says *what* it knows as data ([`Fragment`]); the report crate decides how it reads
//! as text, XML or JSON. That keeps every output format in step with every monitor.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What one monitor contributes to the snapshot: key facts, then error sections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fragment {
    /// Key facts in reading order, e.g. "Lines Read: 2000".
    pub facts: Vec<Fact>,
    /// Error sections in reading order, e.g. "Get Loans Errors" with its grouped messages.
    pub sections: Vec<Section>,
}

/// One key fact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Stable identifier in `snake_case`; becomes the XML element and JSON key.
    pub key: String,
    /// What a person reads, e.g. `Number of Loans Transferred`.
    pub label: String,
    /// The value.
    pub value: FactValue,
}

impl Fact {
    /// A fact with the given key, label and value.
    pub fn new(key: impl Into<String>, label: impl Into<String>, value: FactValue) -> Self {
        Fact {
            key: key.into(),
            label: label.into(),
            value,
        }
    }
}

/// A fact's value, typed so each output can format it well.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FactValue {
    /// Free text.
    Text(String),
    /// A count of things.
    Count(u64),
    /// A measured number with an optional unit (`s`, `B`, `%`...).
    Number { value: f64, unit: Option<String> },
    /// An instant.
    Time(Timestamp),
    /// A duration in milliseconds.
    DurationMs(i64),
}

/// A titled list of grouped errors; empty means "No Errors Reported".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// Stable identifier in `snake_case`, e.g. `get_loans`.
    pub key: String,
    /// Heading a person reads, e.g. `Get Loans Errors`.
    pub title: String,
    /// Distinct messages with their counts, most frequent first.
    pub groups: Vec<ErrorGroup>,
}

/// One distinct message and how often it was seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    /// The message (first line of the record, or the rule's grouping key).
    pub message: String,
    /// How many times it was seen in this run.
    pub count: u64,
    /// First time seen in this run, when the source told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last time seen in this run, when the source told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
}

impl Section {
    /// Total count over all groups.
    pub fn total(&self) -> u64 {
        self.groups.iter().map(|g| g.count).sum()
    }
}
