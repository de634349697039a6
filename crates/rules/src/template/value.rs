//! The values a template computes with, printed and compared the way Go's templates do.

use std::collections::BTreeMap;

use super::QuerySample;
use super::gofmt::format_float;

/// A value during template execution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A map lookup that found nothing; Go prints it as `<no value>`.
    Missing,
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (number constants written without `.` or an exponent, `len`).
    Int(i64),
    /// A float64 (`$value`, number constants with a decimal point, function results).
    Float(f64),
    /// A string.
    Str(String),
    /// A label set (`$labels`, `$externalLabels`, `.Labels`).
    Map(BTreeMap<String, String>),
    /// The result of `query`.
    Samples(Vec<QuerySample>),
    /// One element of a query result.
    Sample(QuerySample),
    /// The alert data itself (the dot at the top of an alert template).
    Alert,
}

impl Value {
    /// Go's truth: false, 0, nil and empty things are false.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Samples(s) => !s.is_empty(),
            Value::Sample(_) | Value::Alert => true,
        }
    }

    /// Go's type name, for error messages and `printf`'s bad-verb output.
    pub(crate) fn go_type(&self) -> &'static str {
        match self {
            Value::Missing => "invalid",
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Map(_) => "map[string]string",
            Value::Samples(_) => "template.queryResult",
            Value::Sample(_) => "*template.sample",
            Value::Alert => "struct",
        }
    }

    /// How the value prints in the output (Go's `%v`).
    pub(crate) fn display(&self) -> String {
        match self {
            Value::Missing => "<no value>".into(),
            Value::Nil => "<nil>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Str(s) => s.clone(),
            Value::Map(m) => map_display(m),
            Value::Samples(s) => {
                let items: Vec<String> = s.iter().map(sample_display).collect();
                format!("[{}]", items.join(" "))
            }
            Value::Sample(s) => sample_display(s),
            Value::Alert => "{alert}".into(),
        }
    }
}

fn map_display(m: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", items.join(" "))
}

fn sample_display(s: &QuerySample) -> String {
    format!("{{{} {}}}", map_display(&s.labels), format_float(s.value))
}
