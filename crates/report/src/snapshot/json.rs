//! The JSON snapshot: the XML snapshot's content for tools that prefer JSON.
//!
//! It is rendered from a view rather than by serializing [`RunRecord`] itself, so the file
//! format is ours to keep stable while the model evolves, and keys come out in a fixed order
//! (struct field order; facts in the monitor's reading order) so two snapshots diff cleanly.

use std::collections::HashSet;

use model::{Fact, FactValue, MonitorRun, RunRecord, Section, Status};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::fact_type;

/// The snapshot of `run` as pretty-printed JSON (times in RFC 3339 UTC), ending in a newline.
///
/// Facts are an object keyed by [`Fact::key`] in reading order; when a monitor repeats a key
/// the later ones become `key_2`, `key_3`, so no value is lost to a duplicate JSON key.
pub fn snapshot_json(run: &RunRecord) -> String {
    let view = SnapshotView {
        host: &run.host,
        environment: &run.environment,
        started: run.started.to_string(),
        finished: run.finished.to_string(),
        status: run.worst(),
        monitors: run.monitors.iter().map(MonitorView::from).collect(),
    };
    // Only plain data and string keys: serialization cannot fail.
    let mut s = serde_json::to_string_pretty(&view).expect("snapshot view serializes");
    s.push('\n');
    s
}

#[derive(Serialize)]
struct SnapshotView<'a> {
    host: &'a str,
    environment: &'a str,
    started: String,
    finished: String,
    status: Status,
    monitors: Vec<MonitorView<'a>>,
}

#[derive(Serialize)]
struct MonitorView<'a> {
    name: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    status: Status,
    summary: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    details: &'a str,
    start_time: String,
    stop_time: String,
    elapsed_ms: i64,
    facts: FactsView<'a>,
    sections: Vec<SectionView<'a>>,
}

impl<'a> From<&'a MonitorRun> for MonitorView<'a> {
    fn from(m: &'a MonitorRun) -> Self {
        MonitorView {
            name: &m.name,
            kind: &m.kind,
            description: &m.description,
            status: m.outcome.status,
            summary: &m.outcome.summary,
            details: &m.outcome.details,
            start_time: m.started.to_string(),
            stop_time: m.finished.to_string(),
            elapsed_ms: m.elapsed_ms(),
            facts: FactsView(&m.fragment.facts),
            sections: m.fragment.sections.iter().map(SectionView::from).collect(),
        }
    }
}

/// Facts as a JSON object in reading order, duplicate keys numbered.
struct FactsView<'a>(&'a [Fact]);

impl Serialize for FactsView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut used: HashSet<String> = HashSet::new();
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for f in self.0 {
            let mut key = f.key.clone();
            let mut n = 2;
            while used.contains(&key) {
                key = format!("{}_{n}", f.key);
                n += 1;
            }
            map.serialize_entry(&key, &FactView::from(f))?;
            used.insert(key);
        }
        map.end()
    }
}

#[derive(Serialize)]
struct FactView<'a> {
    label: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: JsonValue<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
}

/// A fact's value as JSON: numbers stay numbers (a non-finite one becomes `null`), times are
/// RFC 3339 strings, durations whole milliseconds.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonValue<'a> {
    Text(&'a str),
    Owned(String),
    Count(u64),
    Number(f64),
    Millis(i64),
}

impl<'a> From<&'a Fact> for FactView<'a> {
    fn from(f: &'a Fact) -> Self {
        let (value, unit) = match &f.value {
            FactValue::Text(s) => (JsonValue::Text(s), None),
            FactValue::Count(n) => (JsonValue::Count(*n), None),
            FactValue::Number { value, unit } => (JsonValue::Number(*value), unit.as_deref()),
            FactValue::Time(t) => (JsonValue::Owned(t.to_string()), None),
            FactValue::DurationMs(ms) => (JsonValue::Millis(*ms), Some("ms")),
        };
        FactView {
            label: &f.label,
            kind: fact_type(&f.value),
            value,
            unit,
        }
    }
}

#[derive(Serialize)]
struct SectionView<'a> {
    key: &'a str,
    title: &'a str,
    total: u64,
    errors: Vec<ErrorView<'a>>,
}

impl<'a> From<&'a Section> for SectionView<'a> {
    fn from(s: &'a Section) -> Self {
        SectionView {
            key: &s.key,
            title: &s.title,
            total: s.total(),
            errors: s
                .groups
                .iter()
                .map(|g| ErrorView {
                    message: &g.message,
                    count: g.count,
                    first_seen: g.first_seen.map(|t| t.to_string()),
                    last_seen: g.last_seen.map(|t| t.to_string()),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct ErrorView<'a> {
    message: &'a str,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fact_keys_are_numbered_not_lost() {
        let facts = vec![
            Fact::new("lines", "Lines", FactValue::Count(1)),
            Fact::new("lines", "Lines again", FactValue::Count(2)),
            Fact::new(
                "rate",
                "Rate",
                FactValue::Number {
                    value: f64::NAN,
                    unit: None,
                },
            ),
            Fact::new("lines_2", "Really lines 2", FactValue::Count(3)),
        ];
        let json = serde_json::to_value(FactsView(&facts)).unwrap();
        assert_eq!(json["lines"]["value"], 1);
        assert_eq!(json["lines_2"]["value"], 2);
        assert!(json["rate"]["value"].is_null());
        assert_eq!(json["lines_2_2"]["value"], 3);
    }
}
