//! The XML snapshot: one well-formed document, whatever the logs put into messages.
//!
//! Escaping is done here rather than left to the writer, because quick-xml escapes markup but
//! passes characters XML 1.0 forbids (NUL, ESC and other controls from log lines) straight
//! through, and one such byte makes the whole day's snapshot unreadable for every consumer.

use std::borrow::Cow;

use model::{Fact, FactValue, MonitorRun, RunRecord, Section};
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

use super::fact_type;
use crate::text::strip_ansi;

/// Element names the snapshot uses itself; a fact whose key maps to one of these gets a
/// `Fact` prefix so consumers never see two `<StartTime>` elements in a monitor.
const RESERVED: [&str; 8] = [
    "StartTime",
    "StopTime",
    "ElapsedMs",
    "Summary",
    "Details",
    "Description",
    "Errors",
    "Error",
];

type XmlWriter = Writer<Vec<u8>>;
type XmlResult = std::io::Result<()>;

/// The snapshot of `run` as one XML document (UTF-8, indented, times in RFC 3339 UTC).
///
/// ```xml
/// <Snapshot host="app01" environment="production" started="..." finished="..." status="OK">
///   <Monitor name="loan-importer" kind="log" status="OK">
///     <StartTime>2026-11-21T00:05:09.000Z</StartTime> ...
///     <LoansTransferred label="Number of Loans Transferred" type="count">100</LoansTransferred>
///     <Errors key="get_loans" title="Get Loans Errors" total="0"/>
/// ```
pub fn snapshot_xml(run: &RunRecord) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail; the Result only exists for other sinks.
    document(&mut w, run).expect("writing XML into memory");
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    // Every piece written is a &str or ASCII markup, so the document is UTF-8.
    String::from_utf8(bytes).expect("XML built from UTF-8 strings")
}

fn document(w: &mut XmlWriter, run: &RunRecord) -> XmlResult {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let root = start(
        "Snapshot",
        &[
            ("host", &run.host),
            ("environment", &run.environment),
            ("started", &run.started.to_string()),
            ("finished", &run.finished.to_string()),
            ("status", run.worst().as_str()),
        ],
    );
    w.write_event(Event::Start(root))?;
    for m in &run.monitors {
        monitor(w, m)?;
    }
    w.write_event(Event::End(BytesEnd::new("Snapshot")))
}

fn monitor(w: &mut XmlWriter, m: &MonitorRun) -> XmlResult {
    let attrs = [
        ("name", m.name.as_str()),
        ("kind", &m.kind),
        ("status", m.outcome.status.as_str()),
    ];
    w.write_event(Event::Start(start("Monitor", &attrs)))?;
    if !m.description.is_empty() {
        text_element(w, "Description", &[], &m.description)?;
    }
    text_element(w, "StartTime", &[], &m.started.to_string())?;
    text_element(w, "StopTime", &[], &m.finished.to_string())?;
    text_element(w, "ElapsedMs", &[], &m.elapsed_ms().to_string())?;
    text_element(w, "Summary", &[], &m.outcome.summary)?;
    if !m.outcome.details.is_empty() {
        text_element(w, "Details", &[], &m.outcome.details)?;
    }
    for f in &m.fragment.facts {
        fact(w, f)?;
    }
    for s in &m.fragment.sections {
        section(w, s)?;
    }
    w.write_event(Event::End(BytesEnd::new("Monitor")))
}

fn fact(w: &mut XmlWriter, f: &Fact) -> XmlResult {
    let name = element_name(&f.key);
    let kind = fact_type(&f.value);
    let mut attrs = vec![("label", f.label.as_str()), ("type", kind)];
    let text = match &f.value {
        FactValue::Text(s) => s.clone(),
        FactValue::Count(n) => n.to_string(),
        FactValue::Number { value, unit } => {
            if let Some(u) = unit {
                attrs.push(("unit", u));
            }
            xsd_double(*value)
        }
        FactValue::Time(t) => t.to_string(),
        FactValue::DurationMs(ms) => {
            attrs.push(("unit", "ms"));
            ms.to_string()
        }
    };
    text_element(w, &name, &attrs, &text)
}

fn section(w: &mut XmlWriter, s: &Section) -> XmlResult {
    let total = s.total().to_string();
    let el = start(
        "Errors",
        &[("key", &s.key), ("title", &s.title), ("total", &total)],
    );
    if s.groups.is_empty() {
        // `<Errors ... total="0"/>`: the seed's `<GetLoansErrors />`, "No Errors Reported".
        return w.write_event(Event::Empty(el));
    }
    w.write_event(Event::Start(el))?;
    for g in &s.groups {
        let count = g.count.to_string();
        let first = g.first_seen.map(|t| t.to_string());
        let last = g.last_seen.map(|t| t.to_string());
        let mut attrs = vec![("count", count.as_str())];
        if let Some(t) = &first {
            attrs.push(("firstSeen", t));
        }
        if let Some(t) = &last {
            attrs.push(("lastSeen", t));
        }
        text_element(w, "Error", &attrs, &g.message)?;
    }
    w.write_event(Event::End(BytesEnd::new("Errors")))
}

/// `<name attrs>text</name>` on one line.
fn text_element(w: &mut XmlWriter, name: &str, attrs: &[(&str, &str)], text: &str) -> XmlResult {
    w.write_event(Event::Start(start(name, attrs)))?;
    w.write_event(Event::Text(BytesText::from_escaped(escape(text, false))))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// A start tag whose attribute values are escaped by [`escape`].
fn start<'a>(name: &'a str, attrs: &[(&'a str, &str)]) -> BytesStart<'a> {
    let mut el = BytesStart::new(name);
    for (key, value) in attrs {
        el.push_attribute(Attribute {
            key: QName(key.as_bytes()),
            value: Cow::Owned(escape(value, true).into_owned().into_bytes()),
        });
    }
    el
}

/// Escapes `s` for XML text or a double-quoted attribute value. ANSI colour sequences are
/// removed (see [`strip_ansi`]); every other character
/// XML 1.0 does not allow (and the C1 controls it discourages) by U+FFFD, so the reader sees
/// that something was there. Carriage returns, and in attributes tabs and line breaks, become
/// character references: a parser would otherwise normalize them away.
fn escape(s: &str, attribute: bool) -> Cow<'_, str> {
    let s = strip_ansi(s);
    let needs_work =
        |c: char| matches!(c, '&' | '<' | '>' | '"' | '\r' | '\n' | '\t') || !is_plain_xml_char(c);
    if !s.chars().any(needs_work) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' | '"' => out.push(c),
            c if is_plain_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    Cow::Owned(out)
}

/// XML 1.0 `Char` minus white-space controls, minus C1 controls and DEL (which are allowed but
/// discouraged, and in log lines are always a wrong encoding rather than meaning).
fn is_plain_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// A fact key as an XML element name, in CamelCase: `records_read` -> `RecordsRead`.
///
/// Any character other than an ASCII letter or digit separates words, so every key gives a
/// valid name. `Fact` goes in front when the result would be empty, start with a digit, start
/// with `xml` (reserved by the XML spec) or clash with the snapshot's own elements.
pub(crate) fn element_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for word in key.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.push_str(chars.as_str());
        }
    }
    let clashes = name.is_empty()
        || name.starts_with(|c: char| c.is_ascii_digit())
        || name.to_ascii_lowercase().starts_with("xml")
        || RESERVED.contains(&name.as_str());
    if clashes {
        name.insert_str(0, "Fact");
    }
    name
}

/// A number as XML Schema's `xsd:double` writes it: shortest exact form, `NaN`, `INF`, `-INF`.
fn xsd_double(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        f64::INFINITY => "INF".into(),
        f64::NEG_INFINITY => "-INF".into(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_key_becomes_a_valid_element_name() {
        let cases = [
            ("records_read", "RecordsRead"),
            ("recordsRead", "RecordsRead"),
            ("http.status-code", "HttpStatusCode"),
            ("5xx_count", "Fact5xxCount"),
            ("xml_size", "FactXmlSize"),
            ("start_time", "FactStartTime"),
            ("errors", "FactErrors"),
            ("", "Fact"),
            ("<&>", "Fact"),
            ("données_lues", "DonnEsLues"),
        ];
        for (key, want) in cases {
            assert_eq!(element_name(key), want, "{key:?}");
        }
    }

    #[test]
    fn escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(escape("plain", false), "plain");
        assert_eq!(escape("a<b>&\"c\"", false), "a&lt;b&gt;&amp;\"c\"");
        assert_eq!(escape("a\"b\nc\td", true), "a&quot;b&#10;c&#9;d");
        assert_eq!(
            escape("x\u{0}\u{1b}[0m\u{7f}\u{85}\r\n\u{FFFF}\u{1b} y", false),
            "x\u{FFFD}\u{FFFD}\u{FFFD}&#13;\n\u{FFFD}\u{FFFD} y"
        );
    }

    #[test]
    fn doubles_use_schema_spelling() {
        assert_eq!(xsd_double(0.1), "0.1");
        assert_eq!(xsd_double(100000.0), "100000");
        assert_eq!(xsd_double(f64::INFINITY), "INF");
        assert_eq!(xsd_double(f64::NAN), "NaN");
    }
}
