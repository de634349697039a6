//! Periscope's JSON batch format (`docs/format/json-batch.md`):
//! `{"samples":[{"name":"...","labels":{...},"value":1.5,"timestamp":1700000000000,"unit":"s"}]}`
//! or the bare array.
//!
//! Strict: unknown fields, wrong types and bad names are errors, each named by its path
//! (`samples[3].labels: label name "1x" is not valid`). Only broken JSON syntax stops reading;
//! every other problem is collected and reading goes on, so a sender sees all its mistakes at
//! once. Strings are borrowed from the body where JSON escapes allow it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::batch::MetricType;
use super::compact::{Builder, CompactBatch};
use super::error::{Location, ParseErrors, Problems, single};
use super::names::{LabelPair, label_name_problem, metric_name_problem, sort_and_find_duplicate};

/// The fields a sample may have.
const FIELDS: &str = "name, labels, value, timestamp, unit";

/// Parses a JSON batch.
pub(crate) fn parse(body: &[u8], batch: CompactBatch) -> Result<CompactBatch, ParseErrors> {
    let mut state = State {
        builder: Builder::new(batch),
        ..State::default()
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let outcome = TopSeed { state: &mut state }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = outcome {
        let message = without_position(&e);
        let at = Location::Line {
            line: u32::try_from(e.line()).unwrap_or(u32::MAX),
            column: Some(u32::try_from(e.column()).unwrap_or(u32::MAX)),
        };
        let message = match &state.path {
            Some(path) => format!("{message} (in {path})"),
            None => message,
        };
        // What was collected before the syntax error is still worth showing.
        let mut problems = state.problems;
        problems.push(at, message);
        return problems.finish(CompactBatch::default());
    }
    if !state.saw_samples {
        return Err(single(
            Location::Field("samples".into()),
            "missing: the body must be {\"samples\": [...]} or an array of samples",
        ));
    }
    state.builder.finish(state.problems)
}

/// serde_json's message without its " at line L column C" (the location is reported apart).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

#[derive(Default)]
struct State {
    builder: Builder,
    problems: Problems,
    /// Where reading is, for a syntax error's message.
    path: Option<String>,
    saw_samples: bool,
    /// The family of the previous sample, reused while name and unit stay the same.
    last_family: Option<u32>,
}

/// The top level: `{"samples": [...]}` or `[...]`.
struct TopSeed<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with \"samples\" or an array of samples")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.state.saw_samples = true;
        read_samples(self.state, seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            if key.0 == "samples" {
                if self.state.saw_samples {
                    self.state.problems.at_field("samples", "appears twice");
                }
                self.state.saw_samples = true;
                map.next_value_seed(SamplesSeed {
                    state: &mut *self.state,
                })?;
            } else {
                self.state.problems.at_field(
                    key.0.as_ref(),
                    "unknown field (the top-level object has only \"samples\")",
                );
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct SamplesSeed<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for SamplesSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SamplesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of samples")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        read_samples(self.state, seq)
    }
}

fn read_samples<'de, A: SeqAccess<'de>>(state: &mut State, mut seq: A) -> Result<(), A::Error> {
    let mut index = 0usize;
    loop {
        state.path = Some(format!("samples[{index}]"));
        match seq.next_element::<Scalar<'de>>()? {
            None => break,
            Some(Scalar::Sample(raw)) => add_sample(state, index, *raw),
            Some(other) => state.problems.at_field(
                format!("samples[{index}]"),
                format!("must be an object, not {}", other.kind()),
            ),
        }
        index += 1;
    }
    state.path = None;
    Ok(())
}

/// A sample as written, before its checks.
#[derive(Default)]
struct RawSample<'de> {
    name: Option<Scalar<'de>>,
    labels: Option<Scalar<'de>>,
    value: Option<Scalar<'de>>,
    timestamp: Option<Scalar<'de>>,
    unit: Option<Scalar<'de>>,
    problems: Vec<(String, String)>,
}

fn add_sample(state: &mut State, index: usize, raw: RawSample<'_>) {
    let at = |field: &str| format!("samples[{index}].{field}");
    let before = state.problems_len();
    for (field, message) in &raw.problems {
        state.problems.at_field(at(field), message.as_str());
    }
    let name = match raw.name {
        Some(Scalar::Str(s)) => {
            if let Some(p) = metric_name_problem(&s) {
                state.problems.at_field(at("name"), p);
            }
            Some(s)
        }
        None => {
            state.problems.at_field(at("name"), "missing");
            None
        }
        Some(other) => {
            state.problems.at_field(
                at("name"),
                format!("must be a string, not {}", other.kind()),
            );
            None
        }
    };
    let mut owned_labels: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    match raw.labels {
        None | Some(Scalar::Null) => {}
        Some(Scalar::Labels(entries)) => {
            for (name, value) in entries {
                if let Some(p) = label_name_problem(&name) {
                    state.problems.at_field(at("labels"), p);
                }
                match value {
                    Scalar::Str(v) => owned_labels.push((name, v)),
                    other => state.problems.at_field(
                        format!("samples[{index}].labels.{name}"),
                        format!("label values must be strings, not {}", other.kind()),
                    ),
                }
            }
        }
        Some(other) => state.problems.at_field(
            at("labels"),
            format!("must be an object of strings, not {}", other.kind()),
        ),
    }
    let value = match raw.value {
        Some(Scalar::Float(v)) => Some(v),
        Some(Scalar::Int(v)) => Some(v as f64),
        Some(Scalar::UInt(v)) => Some(v as f64),
        Some(Scalar::Str(s)) => match s.as_ref() {
            "NaN" => Some(f64::NAN),
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            other => {
                state.problems.at_field(
                    at("value"),
                    format!("{other:?} is not a value (numbers, or the strings \"NaN\", \"+Inf\", \"-Inf\")"),
                );
                None
            }
        },
        None => {
            state.problems.at_field(at("value"), "missing");
            None
        }
        Some(other) => {
            state.problems.at_field(
                at("value"),
                format!(
                    "must be a number, \"NaN\", \"+Inf\" or \"-Inf\", not {}",
                    other.kind()
                ),
            );
            None
        }
    };
    let timestamp = match raw.timestamp {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Int(ms)) => Some(ms),
        Some(Scalar::UInt(ms)) => match i64::try_from(ms) {
            Ok(ms) => Some(ms),
            Err(_) => {
                state
                    .problems
                    .at_field(at("timestamp"), format!("{ms} is out of range"));
                None
            }
        },
        Some(Scalar::Str(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t.as_millisecond()),
            Err(e) => {
                state.problems.at_field(
                    at("timestamp"),
                    format!("{s:?} is not an RFC 3339 time such as 2023-11-14T22:13:20Z: {e}"),
                );
                None
            }
        },
        Some(other) => {
            state.problems.at_field(
                at("timestamp"),
                format!(
                    "must be integer milliseconds since the epoch or an RFC 3339 string, not {}",
                    other.kind()
                ),
            );
            None
        }
    };
    let unit = match raw.unit {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Str(s)) => (!s.is_empty()).then_some(s),
        Some(other) => {
            state.problems.at_field(
                at("unit"),
                format!("must be a string, not {}", other.kind()),
            );
            None
        }
    };
    let mut pairs: Vec<LabelPair<'_>> = owned_labels
        .iter()
        .enumerate()
        .map(|(i, (n, v))| LabelPair {
            name: n.as_ref(),
            value: Cow::Borrowed(v.as_ref()),
            at: i,
        })
        .collect();
    if let Some(dup) = sort_and_find_duplicate(&mut pairs) {
        state
            .problems
            .at_field(at("labels"), format!("label {:?} appears twice", dup.name));
    }
    if state.problems_len() != before {
        return;
    }
    let (Some(name), Some(value)) = (name, value) else {
        return;
    };
    let family = match state.last_family {
        Some(f)
            if state.builder.family(f).name == name.as_ref()
                && state.builder.family(f).unit.as_deref() == unit.as_deref() =>
        {
            f
        }
        _ => {
            let f = state.builder.add_family(&name, MetricType::Unknown);
            state.builder.family_mut(f).unit = unit.map(Cow::into_owned);
            f
        }
    };
    state.last_family = Some(family);
    let series = state.builder.series(family, &name, &pairs);
    let line = u32::try_from(index).unwrap_or(u32::MAX);
    state.builder.sample(series, value, timestamp, line);
}

impl State {
    fn problems_len(&self) -> usize {
        // Problems only grow; comparing counts tells whether a sample added any.
        self.problems.len()
    }
}

/// Any JSON value, read without failing on its type so the checks can say what was wrong.
enum Scalar<'de> {
    Null,
    Bool,
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'de, str>),
    Labels(Vec<(Cow<'de, str>, Scalar<'de>)>),
    Sample(Box<RawSample<'de>>),
    Array,
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool => "a boolean",
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Labels(_) | Scalar::Sample(_) => "an object",
            Scalar::Array => "an array",
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor { sample: true })
    }
}

/// Reads any value; an object becomes a sample (`sample`) or a flat string map (labels).
struct ScalarVisitor {
    sample: bool,
}

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        if !self.sample {
            let mut entries = Vec::new();
            while let Some(key) = map.next_key::<CowStr<'de>>()? {
                let value = map.next_value_seed(ScalarSeed { sample: false })?;
                entries.push((key.0, value));
            }
            return Ok(Scalar::Labels(entries));
        }
        let mut raw = RawSample::default();
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let key = key.0;
            let slot = match key.as_ref() {
                "name" => &mut raw.name,
                "labels" => &mut raw.labels,
                "value" => &mut raw.value,
                "timestamp" => &mut raw.timestamp,
                "unit" => &mut raw.unit,
                other => {
                    raw.problems.push((
                        other.to_string(),
                        format!("unknown field (a sample has {FIELDS})"),
                    ));
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value_seed(ScalarSeed { sample: false })?;
            if slot.is_some() {
                raw.problems
                    .push((key.to_string(), "appears twice".to_string()));
            }
            *slot = Some(value);
        }
        Ok(Scalar::Sample(Box::new(raw)))
    }
}

struct ScalarSeed {
    sample: bool,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor {
            sample: self.sample,
        })
    }
}

/// A string borrowed from the body when it has no escapes.
struct CowStr<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use model::PayloadFormat;

    use crate::exposition::parse;

    fn problems(body: &str) -> Vec<String> {
        match parse(PayloadFormat::Json, body.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors().iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn reads_the_documented_example() {
        let body = r#"{"samples":[{"name":"job_duration_seconds","labels":{"job":"import"},"value":12.5,"timestamp":1700000000000}]}"#;
        let batch = parse(PayloadFormat::Json, body.as_bytes()).unwrap();
        assert_eq!(batch.len(), 1);
        let (labels, s) = batch.iter().next().unwrap();
        assert_eq!(labels.metric_name(), Some("job_duration_seconds"));
        assert_eq!(labels.get("job"), Some("import"));
        assert_eq!(s.value, 12.5);
        assert_eq!(s.timestamp, Some(model::Timestamp(1_700_000_000_000)));
    }

    #[test]
    fn accepts_an_array_strings_for_special_values_rfc3339_and_units() {
        let body = r#"[
            {"name":"a","value":"NaN"},
            {"name":"a","value":"+Inf","timestamp":"2023-11-14T22:13:20.5Z","unit":"seconds"},
            {"name":"b","value":-3,"labels":{"x":"caf\u00e9 \"q\""},"timestamp":null}
        ]"#;
        let batch = parse(PayloadFormat::Json, body.as_bytes()).unwrap();
        assert_eq!(batch.len(), 3);
        assert!(batch.samples[0].value.is_nan());
        assert_eq!(batch.samples[0].timestamp, None);
        assert_eq!(batch.samples[1].value, f64::INFINITY);
        assert_eq!(
            batch.samples[1].timestamp,
            Some(model::Timestamp(1_700_000_000_500))
        );
        assert_eq!(
            batch.family(&batch.samples[1]).unit.as_deref(),
            Some("seconds")
        );
        assert_eq!(batch.family(&batch.samples[0]).unit, None);
        assert_eq!(batch.labels(&batch.samples[2]).get("x"), Some("café \"q\""));
    }

    #[test]
    fn every_problem_is_named_by_sample_and_field() {
        let body = r#"{"samples":[
            {"name":"ok","value":1},
            {"name":"ok","value":1},
            {"name":"ok","value":1},
            {"name":"bad name","labels":{"1x":"v","__y":"w","n":5},"value":"lots","timestamp":1.5,"extra":true},
            {"value":1}
        ]}"#;
        assert_eq!(
            problems(body),
            vec![
                "samples[3].extra: unknown field (a sample has name, labels, value, timestamp, unit)",
                "samples[3].name: metric name \"bad name\" is not valid (it must match [a-zA-Z_:][a-zA-Z0-9_:]*)",
                "samples[3].labels: label name \"1x\" is not valid (it must match [a-zA-Z_][a-zA-Z0-9_]*)",
                "samples[3].labels: label name \"__y\" is reserved (names starting with \"__\" are for internal use)",
                "samples[3].labels.n: label values must be strings, not a number",
                "samples[3].value: \"lots\" is not a value (numbers, or the strings \"NaN\", \"+Inf\", \"-Inf\")",
                "samples[3].timestamp: must be integer milliseconds since the epoch or an RFC 3339 string, not a number",
                "samples[4].name: missing",
            ]
        );
    }

    #[test]
    fn duplicates_unknown_top_level_fields_and_syntax_errors_are_reported() {
        assert_eq!(
            problems(r#"{"samples":[{"name":"a","labels":{"x":"1","x":"2"},"value":1}]}"#),
            vec!["samples[0].labels: label \"x\" appears twice"]
        );
        assert_eq!(
            problems(r#"{"samples":[],"other":1}"#),
            vec!["other: unknown field (the top-level object has only \"samples\")"]
        );
        assert_eq!(
            problems(r#"{}"#),
            vec!["samples: missing: the body must be {\"samples\": [...]} or an array of samples"]
        );
        let syntax = problems("{\"samples\":[{\"name\":\"a\",\n\"value\":1,}]}");
        assert_eq!(syntax.len(), 1);
        assert!(syntax[0].starts_with("line 2, column"), "{syntax:?}");
        assert!(syntax[0].contains("samples[0]"), "{syntax:?}");
        assert_eq!(
            problems("[1]"),
            vec!["samples[0]: must be an object, not a number"]
        );
    }
}
