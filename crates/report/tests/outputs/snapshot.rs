//! XML and JSON snapshots: content, well-formedness whatever the logs hold, and files.

use std::fs;

use jiff::tz::TimeZone;
use model::{ErrorGroup, Fact, FactValue, Section};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use report::{SnapshotFormat, SnapshotNaming, snapshot_json, snapshot_xml, write_snapshots};

use super::fixture::{self, run, run_days_later};

/// What a parser sees in `xml`: one line per element (`Name attr="value"`, attributes
/// unescaped) and per non-blank text (`  text: ...`, unescaped). Panics on anything not
/// well-formed (mismatched tags, bad escapes, no single root), and on characters XML 1.0
/// forbids, which quick-xml itself does not check.
fn parse(xml: &str) -> Vec<String> {
    for c in xml.chars() {
        let allowed = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        assert!(allowed, "character {c:?} is not allowed in XML");
    }
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let (mut seen, mut depth, mut roots) = (Vec::new(), 0i32, 0);
    let mut text = String::new();
    let element = |e: &BytesStart| {
        let mut item = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        for a in e.attributes() {
            let a = a.expect("well-formed attribute");
            let value = a.unescape_value().expect("attribute value unescapes");
            item.push_str(&format!(
                " {}={value:?}",
                String::from_utf8_lossy(a.key.as_ref())
            ));
        }
        item
    };
    let flush = |text: &mut String, seen: &mut Vec<String>| {
        if !text.trim().is_empty() {
            seen.push(format!("  text: {text:?}"));
        }
        text.clear();
    };
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}", reader.buffer_position()));
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                flush(&mut text, &mut seen);
                roots += i32::from(depth == 0);
                depth += 1;
                seen.push(element(&e));
            }
            Event::Empty(e) => {
                flush(&mut text, &mut seen);
                roots += i32::from(depth == 0);
                seen.push(element(&e));
            }
            Event::End(_) => {
                flush(&mut text, &mut seen);
                depth -= 1;
            }
            Event::Text(t) => text.push_str(&t.xml_content().expect("text decodes")),
            // quick-xml hands references over apart from the text around them.
            Event::GeneralRef(r) => {
                match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => text.push(c),
                    None => text.push_str(match &*r.decode().unwrap() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("undeclared entity &{other};"),
                    }),
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        (roots, depth),
        (1, 0),
        "one root element, every element closed"
    );
    seen
}

#[test]
fn xml_snapshot_holds_every_monitor() {
    let xml = snapshot_xml(&run());
    insta::assert_snapshot!("snapshot_xml", xml);
    let seen = parse(&xml);
    assert_eq!(seen.iter().filter(|l| l.starts_with("Monitor ")).count(), 3);
    assert!(
        seen.contains(&r#"Errors key="get_loans" title="Get Loans Errors" total="0""#.to_string())
    );
    assert!(seen.contains(
        &r#"LoansTransferred label="Number of Loans Transferred" type="count""#.to_string()
    ));
    assert!(seen.contains(
        &r#"  text: "Duplicate payment reference <PAY-19283> & \"retry\" refused""#.to_string()
    ));
}

#[test]
fn xml_stays_well_formed_whatever_the_messages_hold() {
    let nasty = [
        "<&>\"'",
        "]]> <![CDATA[ x ]]>",
        "<!-- not a comment --> <?pi?> &amp; &#0; &bogus;",
        "\u{0}\u{1}\u{8}\u{b}\u{c}\u{e}\u{1f}\u{7f}\u{80}\u{9f}",
        "\u{1b}[31mred\u{1b}[0m and a lone \u{1b} escape",
        "tab\there\r\nCRLF\rCR",
        "\u{FFFE}\u{FFFF}\u{D7FF}\u{E000}\u{FFFD}\u{10FFFF}",
        "émoji 🎉 and RTL \u{202E}text",
        "",
    ];
    let mut run = run();
    for (i, s) in nasty.iter().enumerate() {
        let m = &mut run.monitors[i % 3];
        m.name.push_str(s);
        m.outcome.summary.push_str(s);
        m.outcome.details.push_str(s);
        m.fragment.facts.push(Fact::new(
            format!("k{s}{i}"),
            *s,
            FactValue::Text(s.to_string()),
        ));
        m.fragment.facts.push(Fact::new(
            *s,
            *s,
            FactValue::Number {
                value: f64::NAN,
                unit: Some(s.to_string()),
            },
        ));
        m.fragment.sections.push(Section {
            key: s.to_string(),
            title: s.to_string(),
            groups: vec![ErrorGroup {
                message: s.to_string(),
                count: 1,
                first_seen: None,
                last_seen: None,
            }],
        });
    }
    run.host = nasty.concat();
    let seen = parse(&snapshot_xml(&run));

    // Markup-like text is data, not markup: it comes back exactly.
    assert!(seen.iter().any(|l| l == r#"  text: "<&>\"'""#), "{seen:#?}");
    assert!(seen.iter().any(|l| l.contains(r#"]]> <![CDATA[ x ]]>"#)));
    assert!(seen.iter().any(|l| l.contains("&amp; &#0; &bogus;")));
    // Colour sequences are dropped; other forbidden characters are visibly replaced.
    assert!(
        seen.iter()
            .any(|l| l.contains("red and a lone \u{FFFD} escape")),
        "{seen:#?}"
    );
    // Carriage returns and tabs come back as they were, not normalized away by the parser.
    assert!(
        seen.iter().any(|l| l.contains(r"tab\there\r\nCRLF\rCR")),
        "{seen:#?}"
    );
}

#[test]
fn json_snapshot_has_the_same_content() {
    let json = snapshot_json(&run());
    insta::assert_snapshot!("snapshot_json", json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["status"], "CRITICAL");
    assert_eq!(v["monitors"].as_array().unwrap().len(), 3);
    let payments = &v["monitors"][1];
    assert_eq!(payments["facts"]["lines_read"]["value"], 48213);
    assert_eq!(payments["sections"][0]["total"], 17);
    assert_eq!(
        payments["sections"][0]["errors"][0]["first_seen"],
        "2026-11-21T00:01:12.000Z"
    );
    assert_eq!(
        v["monitors"][2]["details"],
        "connection refused (os error 111)\nretried 3 times over 30 s"
    );
}

#[test]
fn daily_snapshots_replace_the_days_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshots"); // created on first use
    let formats = [SnapshotFormat::Xml, SnapshotFormat::Json];

    let first = write_snapshots(
        &run(),
        &out,
        SnapshotNaming::Daily,
        &formats,
        &TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(
        first,
        [
            out.join("snapshot-2026-11-21.xml"),
            out.join("snapshot-2026-11-21.json")
        ]
    );

    let mut later = run();
    later.monitors[0].outcome.summary = "the second run of the day".into();
    let second = write_snapshots(
        &later,
        &out,
        SnapshotNaming::Daily,
        &formats,
        &TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(second, first);
    assert!(
        fs::read_to_string(&first[0])
            .unwrap()
            .contains("the second run of the day")
    );
    assert!(
        fs::read_to_string(&first[1])
            .unwrap()
            .contains("the second run of the day")
    );

    write_snapshots(
        &run_days_later(1),
        &out,
        SnapshotNaming::Daily,
        &formats,
        &TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(
        names(&out),
        [
            "snapshot-2026-11-21.json",
            "snapshot-2026-11-21.xml",
            "snapshot-2026-11-22.json",
            "snapshot-2026-11-22.xml"
        ]
    );
}

#[test]
fn per_run_snapshots_add_a_file_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let xml = [SnapshotFormat::Xml];
    let mut second = run();
    second.started = fixture::at(15 * 60_000 + 123);
    write_snapshots(
        &run(),
        dir.path(),
        SnapshotNaming::PerRun,
        &xml,
        &TimeZone::UTC,
    )
    .unwrap();
    let paths = write_snapshots(
        &second,
        dir.path(),
        SnapshotNaming::PerRun,
        &xml,
        &TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(
        paths,
        [dir.path().join("snapshot-20261121T002000.123Z.xml")]
    );
    assert_eq!(
        names(dir.path()),
        [
            "snapshot-20261121T000500.000Z.xml",
            "snapshot-20261121T002000.123Z.xml"
        ]
    );
}

#[test]
fn an_unwritable_snapshot_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, "x").unwrap();
    let err = write_snapshots(
        &run(),
        &file,
        SnapshotNaming::Daily,
        &[SnapshotFormat::Xml],
        &TimeZone::UTC,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot create snapshot directory {}: ",
            file.display()
        )),
        "{err}"
    );
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
