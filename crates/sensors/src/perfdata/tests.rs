//! Tests: every example of the Monitoring Plugins guidelines, real plugin output, bad input.

use proptest::prelude::*;

use super::*;

fn range(text: &str) -> Range {
    Range::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn item(text: &str) -> PerfValue {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn labels(out: &PluginOutput) -> Vec<&str> {
    out.perfdata.iter().map(|p| p.label.as_str()).collect()
}

// ---- Threshold and ranges --------------------------------------------------------------------

/// The guidelines' "Example ranges" table: range text, values that alert, values that do not.
#[test]
fn example_ranges_table() {
    #[rustfmt::skip]
    let table: &[(&str, &[f64], &[f64])] = &[
        // "< 0 or > 10, (outside the range of {0 .. 10})"
        ("10",     &[-0.1, -5.0, 10.1, 1e9],      &[0.0, 5.0, 10.0]),
        // "< 10, (outside {10 .. inf})"
        ("10:",    &[9.99, 0.0, -1e9],            &[10.0, 11.0, 1e12]),
        // "> 10, (outside the range of {-inf .. 10})"
        ("~:10",   &[10.01, 1e9],                 &[10.0, 0.0, -1e12]),
        // "< 10 or > 20, (outside the range of {10 .. 20})"
        ("10:20",  &[9.9, 20.1, -1.0],            &[10.0, 15.0, 20.0]),
        // ">= 10 and <= 20, (inside the range of {10 .. 20})"
        ("@10:20", &[10.0, 15.0, 20.0],           &[9.9, 20.1, -1.0]),
    ];
    for (text, alerting, quiet) in table {
        let r = range(text);
        for v in *alerting {
            assert!(r.alerts(*v), "{text} should alert for {v}");
        }
        for v in *quiet {
            assert!(!r.alerts(*v), "{text} should not alert for {v}");
        }
    }
}

#[test]
fn range_parsing() {
    assert_eq!(
        range("10"),
        Range {
            start: Some(0.0),
            end: Some(10.0),
            inside: false
        }
    );
    assert_eq!(
        range("10:"),
        Range {
            start: Some(10.0),
            end: None,
            inside: false
        }
    );
    assert_eq!(
        range("~:10"),
        Range {
            start: None,
            end: Some(10.0),
            inside: false
        }
    );
    assert_eq!(
        range("10:20"),
        Range {
            start: Some(10.0),
            end: Some(20.0),
            inside: false
        }
    );
    assert_eq!(
        range("@10:20"),
        Range {
            start: Some(10.0),
            end: Some(20.0),
            inside: true
        }
    );
    assert_eq!(range(":10"), range("10"));
    assert_eq!(
        range("~:"),
        Range {
            start: None,
            end: None,
            inside: false
        }
    );
    assert_eq!(
        range("-5:-1.5"),
        Range {
            start: Some(-5.0),
            end: Some(-1.5),
            inside: false
        }
    );
    assert_eq!(
        range("@~:0"),
        Range {
            start: None,
            end: Some(0.0),
            inside: true
        }
    );
    assert_eq!(
        range("5:5"),
        Range {
            start: Some(5.0),
            end: Some(5.0),
            inside: false
        }
    );

    // "start <= end"
    assert_eq!(
        Range::parse("20:10"),
        Err(RangeError::StartAfterEnd {
            start: "20".into(),
            end: "10".into()
        })
    );
    assert_eq!(Range::parse(""), Err(RangeError::Empty));
    assert_eq!(Range::parse("@"), Err(RangeError::Empty));
    assert_eq!(
        Range::parse("abc"),
        Err(RangeError::NotANumber("abc".into()))
    );
    assert_eq!(
        Range::parse("1:2:3"),
        Err(RangeError::NotANumber("2:3".into()))
    );
    assert_eq!(
        Range::parse("10%"),
        Err(RangeError::NotANumber("10%".into()))
    );
    assert_eq!(Range::parse("~"), Err(RangeError::NotANumber("~".into())));
}

#[test]
fn range_display_is_the_short_form() {
    for text in [
        "10", "10:", "~:10", "10:20", "@10:20", "~:", "@0:", "-1:1", "@5",
    ] {
        assert_eq!(range(text).to_string(), text);
    }
    assert_eq!(range("0:10").to_string(), "10");
}

/// The guidelines' "Command line examples" table, as `get_status(value, thresholds)` sees it.
#[test]
fn command_line_examples_table() {
    use Status::{Critical as C, Ok as O, Warning as W};
    let status = |w: Option<&str>, c: Option<&str>, v: f64| {
        let (w, c) = (w.map(range), c.map(range));
        threshold_status(v, w.as_ref(), c.as_ref())
    };
    // check_stuff -w10 -c20: "Critical if "stuff" is over 20, else warn if over 10 (will be
    // critical if "stuff" is less than 0)"
    for (v, want) in [
        (25.0, C),
        (15.0, W),
        (5.0, O),
        (10.0, O),
        (20.0, W),
        (-1.0, C),
    ] {
        assert_eq!(
            status(Some("10"), Some("20"), v),
            want,
            "-w10 -c20 with {v}"
        );
    }
    // check_stuff -w~:10 -c~:20: "Same as above. Negative "stuff" is OK"
    for (v, want) in [(25.0, C), (15.0, W), (5.0, O), (-1.0, O), (-1e6, O)] {
        assert_eq!(
            status(Some("~:10"), Some("~:20"), v),
            want,
            "-w~:10 -c~:20 with {v}"
        );
    }
    // check_stuff -w10: -c20: "Critical if "stuff" is over 20, else warn if "stuff" is below 10
    // (will be critical if "stuff" is less than 0)"
    for (v, want) in [(25.0, C), (5.0, W), (15.0, O), (-1.0, C)] {
        assert_eq!(
            status(Some("10:"), Some("20"), v),
            want,
            "-w10: -c20 with {v}"
        );
    }
    // check_stuff -c1: "Critical if "stuff" is less than 1"
    for (v, want) in [(0.5, C), (-3.0, C), (1.0, O), (1e9, O)] {
        assert_eq!(status(None, Some("1:"), v), want, "-c1: with {v}");
    }
    // check_stuff -w~:0 -c10: "Critical if "stuff" is above 10; Warn if "stuff" is above zero
    // (will be critical if "stuff" is less than 0)"
    for (v, want) in [(11.0, C), (5.0, W), (0.0, O), (-1.0, C)] {
        assert_eq!(
            status(Some("~:0"), Some("10"), v),
            want,
            "-w~:0 -c10 with {v}"
        );
    }
    // check_stuff -c5:6: "Critical if "stuff" is less than 5 or more than 6"
    for (v, want) in [(4.9, C), (6.1, C), (5.0, O), (5.5, O), (6.0, O)] {
        assert_eq!(status(None, Some("5:6"), v), want, "-c5:6 with {v}");
    }
    // check_stuff -c@10:20: "OK if stuff is less than 10 or higher than 20, otherwise critical"
    for (v, want) in [(9.0, O), (21.0, O), (10.0, C), (15.0, C), (20.0, C)] {
        assert_eq!(status(None, Some("@10:20"), v), want, "-c@10:20 with {v}");
    }
}

#[test]
fn nan_is_outside_every_range() {
    assert!(range("10").alerts(f64::NAN));
    assert!(!range("@10").alerts(f64::NAN));
}

// ---- Performance data items ------------------------------------------------------------------

/// The format line `'label'=value[UOM];[warn];[crit];[min];[max]` with every part filled in.
#[test]
fn full_item() {
    let pv = item("'label'=12.5ms;100;200;0;1000");
    assert_eq!(
        pv,
        PerfValue {
            label: "label".into(),
            value: Some(12.5),
            unit: Some("ms".into()),
            warn: Some(range("100")),
            crit: Some(range("200")),
            min: Some(0.0),
            max: Some(1000.0),
        }
    );
    assert_eq!(pv.threshold_status(), Some(Status::Ok));
}

/// "space separated list of label/value pairs"
#[test]
fn space_separated_list() {
    let out = parse_plugin_output("OK | a=1 b=2\tc=3   d=4 ");
    assert_eq!(labels(&out), ["a", "b", "c", "d"]);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}

/// "label can contain any characters except the equals sign or single quote (')"
#[test]
fn labels_with_any_characters() {
    for label in [
        "/var/log",
        "C:\\ Used",
        "eth0:rx-bytes",
        "ümlaut",
        "a;b",
        "x[1]",
        "100%used",
    ] {
        let text = if label.contains(' ') {
            format!("'{label}'=1")
        } else {
            format!("{label}=1")
        };
        assert_eq!(item(&text).label, label, "{text}");
    }
}

/// "the single quotes for the label are optional. Required if spaces are in the label"
#[test]
fn quoted_labels_and_spaces() {
    assert_eq!(item("'quoted'=1").label, "quoted");
    assert_eq!(item("'with space'=1").label, "with space");
    assert_eq!(item("' lead and trail '=1").label, " lead and trail ");

    // Without quotes the space splits the item: the first half is reported, the second kept.
    let out = parse_plugin_output("OK | with space=1 next=2");
    assert_eq!(labels(&out), ["space", "next"]);
    assert_eq!(out.problems.len(), 1);
    let p = &out.problems[0];
    assert_eq!(
        (p.line, p.column, p.item.as_str(), p.dropped),
        (1, 6, "with", true)
    );
    assert!(p.message.contains("no '='"), "{}", p.message);
}

/// "label length is arbitrary, but ideally the first 19 characters are unique"
#[test]
fn long_labels() {
    let label = "x".repeat(500);
    assert_eq!(item(&format!("{label}=1")).label, label);
}

/// "to specify a quote character, use two single quotes"
#[test]
fn doubled_quotes() {
    assert_eq!(item("'it''s'=1").label, "it's");
    assert_eq!(item("''''=1").label, "'");
    assert_eq!(item("'a''''b'=1").label, "a''b");
    assert_eq!(item("'a=b'=1").label, "a=b");
}

/// "warn, crit, min or max may be null ... Trailing unfilled semicolons can be dropped"
#[test]
fn empty_and_trailing_fields() {
    let bare = PerfValue::new("a", 1.0);
    assert_eq!(item("a=1"), bare);
    assert_eq!(item("a=1;"), bare);
    assert_eq!(item("a=1;;;;"), bare);
    assert_eq!(item("a=1;;;;;;"), bare, "extra empty fields are harmless");
    assert_eq!(
        item("a=1;;;0;100"),
        PerfValue {
            min: Some(0.0),
            max: Some(100.0),
            ..bare.clone()
        }
    );
    assert_eq!(
        item("a=1;;5"),
        PerfValue {
            crit: Some(range("5")),
            ..bare.clone()
        }
    );
    assert_eq!(
        item("a=1;5"),
        PerfValue {
            warn: Some(range("5")),
            ..bare
        }
    );
}

/// "min and max are not required if UOM=%"
#[test]
fn percent_without_min_max() {
    let pv = item("used=50%;80;90");
    assert_eq!(
        (pv.value, pv.unit.as_deref(), pv.min, pv.max),
        (Some(50.0), Some("%"), None, None)
    );
}

/// "value, min and max in class [-0-9.] ... value may be a literal "U" instead"
#[test]
fn value_class_and_undetermined() {
    assert_eq!(item("a=-1.5").value, Some(-1.5));
    assert_eq!(item("a=.5").value, Some(0.5));
    assert_eq!(item("a=5.").value, Some(5.0));
    assert_eq!(item("a=-0.25;;;-10;-0.1").min, Some(-10.0));
    let u = item("a=U;1;2;0;10");
    assert_eq!((u.value, u.min, u.max), (None, Some(0.0), Some(10.0)));
    assert_eq!(u.threshold_status(), None);
    assert_eq!(item("a=Ums").unit.as_deref(), Some("ms"));
}

/// "warn and crit are in the range format"
#[test]
fn thresholds_are_ranges() {
    let pv = item("a=15;10:;@10:20;0;100");
    assert_eq!(pv.warn, Some(range("10:")));
    assert_eq!(pv.crit, Some(range("@10:20")));
    assert_eq!(pv.threshold_status(), Some(Status::Critical));
    assert_eq!(
        item("a=5;~:4;~:10").threshold_status(),
        Some(Status::Warning)
    );
}

/// "UOM (unit of measurement) is one of" none, s/ms/us, %, B/KB/MB/TB, c.
#[test]
fn units_of_measurement() {
    for unit in ["s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"] {
        let pv = item(&format!("a=3{unit}"));
        assert_eq!(
            (pv.value, pv.unit.as_deref()),
            (Some(3.0), Some(unit)),
            "{unit}"
        );
        assert!(unit_scale(unit).is_some(), "{unit} is a known unit");
    }
    assert_eq!(item("a=3").unit, None);
    // Units the guidelines do not list are kept as printed.
    assert_eq!(item("temp=41.5C").unit.as_deref(), Some("C"));
    assert_eq!(item("speed=1200rpm").unit.as_deref(), Some("rpm"));
    assert_eq!(
        item("size=2EB").unit.as_deref(),
        Some("EB"),
        "E followed by a letter is no exponent"
    );
    assert_eq!(item("tiny=1e-3s").value, Some(0.001));
}

#[test]
fn normalized_to_base_units() {
    let pv = item("time=250ms;500;1000;0;10000").normalized();
    assert_eq!(pv.value, Some(0.25));
    assert_eq!(pv.unit.as_deref(), Some("s"));
    assert_eq!(pv.warn, Some(range("0.5")));
    assert_eq!(pv.max, Some(10.0));
    assert_eq!(item("t=5us").normalized().value, Some(0.000005));
    assert_eq!(
        item("d=2MB;;;0;4").normalized().max,
        Some(4.0 * 1024.0 * 1024.0)
    );
    assert_eq!(item("d=1TB").normalized().value, Some(1024f64.powi(4)));
    let plain = item("users=3;5;10");
    assert_eq!(plain.normalized(), plain);
    let odd = item("t=41C");
    assert_eq!(odd.normalized(), odd);
}

// ---- Plugin output ---------------------------------------------------------------------------

/// The guidelines' multi-line layout, literally.
#[test]
fn multi_line_output_from_the_guidelines() {
    let stdout = "SERVICE STATUS: First line of output | first=1;2;3\n\
                  Any number of subsequent lines of output, but note that buffers\n\
                  may have a limited size | second=2s third=3%\n\
                  fourth=4;;;0;10\n";
    let out = parse_plugin_output(stdout);
    assert_eq!(out.summary, "SERVICE STATUS: First line of output");
    assert_eq!(
        out.long_text,
        "Any number of subsequent lines of output, but note that buffers\nmay have a limited size"
    );
    assert_eq!(labels(&out), ["first", "second", "third", "fourth"]);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}

/// "SERVICE STATUS: Information text" with no performance data at all.
#[test]
fn text_only() {
    let out = parse_plugin_output("SERVICE STATUS: Information text\n");
    assert_eq!(out.summary, "SERVICE STATUS: Information text");
    assert_eq!(out.long_text, "");
    assert!(out.perfdata.is_empty() && out.problems.is_empty());
}

/// The Nagios documentation's check_disk example of the same layout, with CRLF line ends.
#[test]
fn nagios_disk_example() {
    let stdout = "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\r\n\
                  / 15272 MB (77%);\r\n\
                  /boot 68 MB (69%);\r\n\
                  /home 69357 MB (27%);\r\n\
                  /var/log 819 MB (84%); | /boot=68MB;88;93;0;98\r\n\
                  /home=69357MB;253404;253409;0;253414 \r\n\
                  /var/log=818MB;970;975;0;980\r\n";
    let out = parse_plugin_output(stdout);
    assert_eq!(out.summary, "DISK OK - free space: / 3326 MB (56%);");
    assert_eq!(
        out.long_text,
        "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);"
    );
    assert_eq!(labels(&out), ["/", "/boot", "/home", "/var/log"]);
    let home = &out.perfdata[2];
    assert_eq!(home.value, Some(69357.0));
    assert_eq!(home.max, Some(253414.0));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}

/// Outputs of the real monitoring-plugins 2.3 (captured once, byte for byte).
#[test]
fn real_plugin_outputs() {
    let load = parse_plugin_output(
        "LOAD OK - total load average: 1.06, 0.63, 0.26|load1=1.060;5.000;10.000;0; load5=0.630;4.000;8.000;0; load15=0.260;3.000;6.000;0; \n",
    );
    assert_eq!(
        load.summary,
        "LOAD OK - total load average: 1.06, 0.63, 0.26"
    );
    assert_eq!(labels(&load), ["load1", "load5", "load15"]);
    assert_eq!(load.perfdata[0].crit, Some(range("10")));
    assert_eq!(load.perfdata[2].min, Some(0.0));

    let tcp = parse_plugin_output(
        "TCP OK - 0.000 second response time on 127.0.0.1 port 45678|time=0.000328s;;;0.000000;10.000000\n",
    );
    assert_eq!(
        tcp.perfdata,
        vec![PerfValue {
            unit: Some("s".into()),
            min: Some(0.0),
            max: Some(10.0),
            ..PerfValue::new("time", 0.000328)
        }]
    );

    let disk = parse_plugin_output(
        "DISK OK - free space: / 79842MiB (85% inode=97%);| /=13850640384B;243497277849;257024904396;0;270552530944\n",
    );
    assert_eq!(disk.perfdata[0].label, "/");
    assert_eq!(disk.perfdata[0].unit.as_deref(), Some("B"));
    assert_eq!(disk.perfdata[0].max, Some(270552530944.0));
}

#[test]
fn bad_items_do_not_poison_good_ones() {
    let out = parse_plugin_output("OK | a=1 b=x c=3 d= =5 e=1,5 f=2;abc;3;z g=UNKNOWN h=4;;;;;9");
    assert_eq!(labels(&out), ["a", "c", "f", "h"]);
    let f = &out.perfdata[2];
    assert_eq!((f.warn, f.crit, f.min), (None, Some(range("3")), None));
    let seen: Vec<(usize, &str, bool)> = out
        .problems
        .iter()
        .map(|p| (p.column, p.item.as_str(), p.dropped))
        .collect();
    assert_eq!(
        seen,
        [
            (10, "b=x", true),
            (18, "d=", true),
            (21, "=5", true),
            (24, "e=1,5", true),
            (30, "f=2;abc;3;z", false),
            (30, "f=2;abc;3;z", false),
            (42, "g=UNKNOWN", true),
            (52, "h=4;;;;;9", false),
        ]
    );
    let messages: Vec<&str> = out.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages[0], "value 'x' is not a number");
    assert_eq!(messages[1], "missing value after '='");
    assert_eq!(messages[2], "empty label");
    assert!(
        messages[3].contains("decimal comma") && messages[3].contains("LC_NUMERIC=C"),
        "{}",
        messages[3]
    );
    assert_eq!(
        messages[4],
        "warn threshold 'abc' ignored: 'abc' is not a number"
    );
    assert_eq!(messages[5], "min 'z' ignored: not a number");
    assert!(
        messages[7].starts_with("more than 5 fields"),
        "{}",
        messages[7]
    );
    assert_eq!(
        out.problems[0].to_string(),
        "line 1, column 10: value 'x' is not a number in `b=x` (item skipped)"
    );
}

#[test]
fn problems_name_line_and_character_column() {
    let out = parse_plugin_output("OK\nlong ünïcode text | good=1 bad\nmore=2 'open=3");
    assert_eq!(labels(&out), ["good", "more"]);
    let at: Vec<(usize, usize, &str)> = out
        .problems
        .iter()
        .map(|p| (p.line, p.column, p.item.as_str()))
        .collect();
    assert_eq!(at, [(2, 28, "bad"), (3, 8, "'open=3")]);
    assert!(out.problems[1].message.contains("no closing quote"));
}

#[test]
fn unquoted_label_after_quote_needs_equals() {
    let out = parse_plugin_output("OK | 'a b'c=1 d=2");
    assert_eq!(labels(&out), ["d"]);
    assert_eq!(out.problems[0].item, "'a b'c=1");
    assert!(out.problems[0].message.contains("'='"));
}

#[test]
fn problem_list_is_bounded() {
    let junk = "x ".repeat(10_000);
    let out = parse_plugin_output(&format!("OK | {junk} ok=1"));
    assert_eq!(labels(&out), ["ok"]);
    assert_eq!(out.problems.len(), MAX_PROBLEMS + 1);
    assert_eq!(
        out.problems[MAX_PROBLEMS].message,
        format!("{} more problems not listed", 10_000 - MAX_PROBLEMS)
    );
    let long_item = format!("y={}", "9".repeat(1000) + "x");
    let out = parse_plugin_output(&format!("OK | {long_item}"));
    assert!(out.problems[0].item.len() < 200, "item text is cut");
}

#[test]
fn odd_shapes() {
    assert_eq!(parse_plugin_output(""), PluginOutput::default());
    let out = parse_plugin_output("\n\n\n");
    assert_eq!((out.summary.as_str(), out.long_text.as_str()), ("", ""));
    let out = parse_plugin_output("| a=1");
    assert_eq!((out.summary.as_str(), labels(&out)), ("", vec!["a"]));
    // A second `|` on the first line is part of the perfdata, and not a valid item.
    let out = parse_plugin_output("OK | a=1 | b=2");
    assert_eq!(labels(&out), ["a", "b"]);
    assert_eq!(out.problems[0].item, "|");
    // Long text keeps its indentation, drops trailing blank lines.
    let out = parse_plugin_output("OK\n  indented\n\nafter blank\n\n\n");
    assert_eq!(out.long_text, "  indented\n\nafter blank");
    // A long-output line that is only `| perfdata` adds no text.
    let out = parse_plugin_output("OK\ntext\n| a=1");
    assert_eq!((out.long_text.as_str(), labels(&out)), ("text", vec!["a"]));
}

#[test]
fn display_formats_in_the_guidelines_format() {
    assert_eq!(PerfValue::new("a", 1.0).to_string(), "a=1");
    assert_eq!(
        item("'my disk'=1.5MB;;;0").to_string(),
        "'my disk'=1.5MB;;;0"
    );
    assert_eq!(item("'it''s'=U").to_string(), "'it''s'=U");
    assert_eq!(
        item("a=1;@10:20;~:5;0;100").to_string(),
        "a=1;@10:20;~:5;0;100"
    );
    assert_eq!(item("'a=b'=1").to_string(), "'a=b'=1");
}

#[test]
fn from_str_wants_exactly_one_clean_item() {
    assert!(
        "a=1 b=2"
            .parse::<PerfValue>()
            .unwrap_err()
            .contains("found 2")
    );
    assert!("".parse::<PerfValue>().unwrap_err().contains("found 0"));
    assert!(
        "a=1;x"
            .parse::<PerfValue>()
            .unwrap_err()
            .contains("warn threshold 'x' ignored")
    );
}

#[test]
fn serializes_for_the_conformance_cli() {
    let out = parse_plugin_output("OK | a=5ms;~:10;@1:2;0;");
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(
        json["perfdata"][0],
        serde_json::json!({
            "label": "a", "value": 5.0, "unit": "ms",
            "warn": {"start": null, "end": 10.0, "inside": false},
            "crit": {"start": 1.0, "end": 2.0, "inside": true},
            "min": 0.0, "max": null
        })
    );
}

// ---- Properties ------------------------------------------------------------------------------

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        (-1_000_000i64..1_000_000).prop_map(|v| v as f64 / 1000.0),
    ]
}

fn arb_range() -> impl Strategy<Value = Range> {
    (
        proptest::option::of(finite()),
        proptest::option::of(finite()),
        any::<bool>(),
    )
        .prop_map(|(a, b, inside)| {
            let (start, end) = match (a, b) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                other => other,
            };
            Range { start, end, inside }
        })
}

fn arb_perf_value() -> impl Strategy<Value = PerfValue> {
    let units = prop::sample::select(vec![
        "", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c", "EB", "rpm", "°C",
    ]);
    (
        "[^\n\r]{1,24}",
        proptest::option::of(finite()),
        units,
        proptest::option::of(arb_range()),
        proptest::option::of(arb_range()),
        proptest::option::of(finite()),
        proptest::option::of(finite()),
    )
        .prop_map(|(label, value, unit, warn, crit, min, max)| {
            // `U` carries a unit only when it is one the guidelines know.
            let unit = if value.is_none() && unit_scale(unit).is_none() {
                ""
            } else {
                unit
            };
            let unit = (!unit.is_empty()).then(|| unit.to_string());
            PerfValue {
                label,
                value,
                unit,
                warn,
                crit,
                min,
                max,
            }
        })
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = parse_plugin_output(&s);
    }

    #[test]
    fn parse_never_panics_on_perfdata_like_text(s in "[a-z' =;:@~|.U0-9%\n\r-]{0,200}") {
        let out = parse_plugin_output(&s);
        prop_assert!(out.problems.len() <= MAX_PROBLEMS + 1);
    }

    #[test]
    fn format_then_parse_round_trips(pv in arb_perf_value()) {
        let text = pv.to_string();
        let back: PerfValue = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, pv);
    }

    #[test]
    fn several_items_round_trip_through_plugin_output(pvs in proptest::collection::vec(arb_perf_value(), 0..6)) {
        // `|` splits plugin output lines, so labels carrying one are for `FromStr` only.
        let pvs: Vec<PerfValue> = pvs.into_iter().filter(|p| !p.label.contains('|')).collect();
        let line: Vec<String> = pvs.iter().map(ToString::to_string).collect();
        let out = parse_plugin_output(&format!("OK | {}", line.join(" ")));
        prop_assert!(out.problems.is_empty(), "{:?}", out.problems);
        prop_assert_eq!(out.perfdata, pvs);
    }

    #[test]
    fn range_display_round_trips(r in arb_range()) {
        prop_assert_eq!(Range::parse(&r.to_string()), Ok(r));
    }
}
