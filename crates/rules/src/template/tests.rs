//! Tests of the template engine: Prometheus' documented function outputs, Go's formatting, the
//! control structures real rule files use, and the errors a user sees.

use std::collections::BTreeMap;

use super::{AlertData, QuerySample, Template, TemplateError, TemplateQuery, expand};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn data(value: f64) -> AlertData {
    AlertData {
        labels: labels(&[
            ("instance", "db-1.example.com:9100"),
            ("job", "node"),
            ("severity", "critical"),
        ]),
        external_labels: labels(&[("cluster", "eu-1")]),
        external_url: "https://prom.example.com/prometheus".into(),
        value,
    }
}

fn run(text: &str, value: f64) -> String {
    let t = Template::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    t.execute(&data(value), None)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn exec_error(text: &str, value: f64) -> String {
    let t = Template::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    match t.execute(&data(value), None) {
        Err(e @ TemplateError::Exec { .. }) => e.to_string(),
        other => panic!("{text:?}: expected an execution error, got {other:?}"),
    }
}

fn parse_error(text: &str) -> String {
    match Template::parse(text) {
        Err(e @ TemplateError::Parse { .. }) => e.to_string(),
        other => panic!("{text:?}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn humanize_matches_prometheus() {
    for (input, want) in [
        ("0", "0"),
        ("1234567", "1.235M"),
        ("1", "1"),
        ("12", "12"),
        ("123", "123"),
        ("1234", "1.234k"),
        ("12345.0", "12.35k"),
        ("0.1", "100m"),
        ("0.0001", "100u"),
        ("-1234567", "-1.235M"),
        ("1e30", "1e+06Y"),
        ("\"1234567\"", "1.235M"),
    ] {
        assert_eq!(
            run(&format!("{{{{ humanize {input} }}}}"), 0.0),
            want,
            "humanize {input}"
        );
    }
}

#[test]
fn humanize1024_matches_prometheus() {
    for (input, want) in [
        ("0", "0"),
        ("1", "1"),
        ("1024", "1ki"),
        ("1048576", "1Mi"),
        ("1073741824.0", "1Gi"),
        ("1500", "1.465ki"),
    ] {
        assert_eq!(run(&format!("{{{{ humanize1024 {input} }}}}"), 0.0), want);
    }
}

#[test]
fn humanize_duration_matches_prometheus() {
    for (input, want) in [
        ("0", "0s"),
        ("1", "1s"),
        ("60", "1m 0s"),
        ("3600", "1h 0m 0s"),
        ("3661", "1h 1m 1s"),
        ("86400", "1d 0h 0m 0s"),
        ("90061.5", "1d 1h 1m 1s"),
        ("1.5", "1.5s"),
        ("0.1", "100ms"),
        ("0.000001", "1us"),
        ("-3661", "-1h 1m 1s"),
    ] {
        assert_eq!(
            run(&format!("{{{{ humanizeDuration {input} }}}}"), 0.0),
            want,
            "{input}"
        );
    }
}

#[test]
fn humanize_percentage_and_timestamp_match_prometheus() {
    assert_eq!(run("{{ humanizePercentage 0.1234 }}", 0.0), "12.34%");
    assert_eq!(run("{{ humanizePercentage 1 }}", 0.0), "100%");
    assert_eq!(run("{{ humanizePercentage 0.000123 }}", 0.0), "0.0123%");
    assert_eq!(
        run("{{ humanizeTimestamp 1435065584.128 }}", 0.0),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(
        run("{{ humanizeTimestamp 0 }}", 0.0),
        "1970-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(run("{{ $value | humanize }}", f64::NAN), "NaN");
    assert_eq!(
        run("{{ $value | humanizeTimestamp }}", f64::INFINITY),
        "+Inf"
    );
}

#[test]
fn value_prints_as_go_does() {
    assert_eq!(run("{{ $value }}", 0.5), "0.5");
    assert_eq!(run("{{ .Value }}", 1234567.0), "1.234567e+06");
    assert_eq!(run("{{ $value }}", 100000.0), "100000");
    assert_eq!(run("{{ $value }}", 1e-5), "1e-05");
    assert_eq!(run("{{ $value }}", 3.0), "3");
    assert_eq!(run("{{ $value }}", f64::NEG_INFINITY), "-Inf");
    // Around Go's switch to an exponent (below 1e-4, from 1e6 on).
    for (value, go) in [
        (0.0001, "0.0001"),
        (0.00009999, "9.999e-05"),
        (-0.00012345, "-0.00012345"),
        (999999.9, "999999.9"),
        (-999999.0, "-999999"),
        (1e6, "1e+06"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-0.0, "0"),
        (123.456, "123.456"),
    ] {
        assert_eq!(run("{{ $value }}", value), go, "{value:e}");
    }
}

#[test]
fn value_shortcut_prints_what_the_general_go_formatting_prints() {
    use super::gofmt::{format_float, format_g};
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut values = vec![1e-4, 1e6, 5e-5, 2e6, 1.0, 0.5, 42.0, 1e5, 99999.99];
    for _ in 0..20_000 {
        // xorshift: mantissas and exponents all over the range the shortcut covers and beyond.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
        let exponent = (state % 15) as i32 - 6;
        let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
        values.push(sign * mantissa * 10f64.powi(exponent));
    }
    for v in values {
        assert_eq!(format_float(v), format_g(v, None, false), "{v:e}");
    }
}

#[test]
fn printf_follows_go_verbs() {
    assert_eq!(run(r#"{{ printf "%.2f" $value }}"#, 1.23456), "1.23");
    assert_eq!(run(r#"{{ $value | printf "%.1f%%" }}"#, 99.95), "100.0%");
    assert_eq!(run(r#"{{ printf "%s is %d" "x" 3 }}"#, 0.0), "x is 3");
    assert_eq!(
        run(r#"{{ printf "%5.1f|%-4s|%04d" $value "ab" 7 }}"#, 2.25),
        "  2.2|ab  |0007"
    );
    assert_eq!(
        run(r#"{{ printf "%g %e" $value $value }}"#, 1234567.0),
        "1.234567e+06 1.234567e+06"
    );
    assert_eq!(
        run(r#"{{ printf "%.3g" $value }}"#, 0.000123456),
        "0.000123"
    );
    assert_eq!(run(r#"{{ printf "%q" "a\"b" }}"#, 0.0), r#""a\"b""#);
    assert_eq!(run(r#"{{ printf "%d" $value }}"#, 1.5), "%!d(float64=1.5)");
    assert_eq!(run(r#"{{ printf "%s %s" "a" }}"#, 0.0), "a %!s(MISSING)");
}

#[test]
fn labels_variables_and_fields() {
    assert_eq!(
        run(
            "{{ $labels.instance }} of {{ .Labels.job }} in {{ $externalLabels.cluster }}",
            0.0
        ),
        "db-1.example.com:9100 of node in eu-1"
    );
    assert_eq!(
        run("{{ $externalURL }}", 0.0),
        "https://prom.example.com/prometheus"
    );
    assert_eq!(
        run("{{ .ExternalURL }}/alerts", 0.0),
        "https://prom.example.com/prometheus/alerts"
    );
    assert_eq!(run("[{{ $labels.nope }}]", 0.0), "[<no value>]");
    assert_eq!(
        run(r#"{{ $x := "a" }}{{ $x }}{{ $x = "b" }}{{ $x }}"#, 0.0),
        "ab"
    );
    assert_eq!(run(r#"{{ index $labels "job" }}"#, 0.0), "node");
    assert_eq!(run("{{ len $labels }}", 0.0), "3");
}

#[test]
fn predeclared_variables_can_be_shadowed_and_assigned() {
    // A declaration inside a block shadows `$labels` until its `end`.
    assert_eq!(
        run(
            r#"{{ with "x" }}{{ $labels := "inner" }}{{ $labels }}{{ end }}/{{ $labels.job }}"#,
            0.0
        ),
        "inner/node"
    );
    // An assignment changes the variable itself, also after the block that assigned it.
    assert_eq!(
        run(
            r#"{{ if true }}{{ $value = 7 }}{{ end }}{{ $value }} {{ .Value }}"#,
            2.0
        ),
        "7 2"
    );
    assert_eq!(
        run(
            r#"{{ $labels = $externalLabels }}{{ $labels.cluster }}{{ $labels.job }} {{ .Labels.job }}"#,
            0.0
        ),
        "eu-1<no value> node"
    );
    // Fields of the alert data and of maps chain as in Go.
    assert_eq!(run("{{ .Labels.instance }}", 0.0), "db-1.example.com:9100");
    assert_eq!(run("{{ $.Labels.job }}", 0.0), "node");
    assert_eq!(run("{{ len .Labels }}", 0.0), "3");
    assert!(exec_error("{{ $labels.nope.deeper }}", 0.0).contains("nil data"));
}

#[test]
fn string_functions() {
    assert_eq!(run(r#"{{ "Hello World" | toUpper }}"#, 0.0), "HELLO WORLD");
    assert_eq!(run(r#"{{ toLower "ABC" }}"#, 0.0), "abc");
    assert_eq!(
        run(r#"{{ title "disk full-ish on host_a" }}"#, 0.0),
        "Disk Full-Ish On Host_a"
    );
    assert_eq!(
        run(r#"{{ reReplaceAll "(.*):.*" "$1" $labels.instance }}"#, 0.0),
        "db-1.example.com"
    );
    assert_eq!(
        run("{{ $labels.instance | stripPort }}", 0.0),
        "db-1.example.com"
    );
    assert_eq!(
        run("{{ $labels.instance | stripDomain }}", 0.0),
        "db-1:9100"
    );
    assert_eq!(
        run(r#"{{ stripDomain "10.0.0.1:80" }}"#, 0.0),
        "10.0.0.1:80"
    );
    assert_eq!(run(r#"{{ stripPort "[::1]:9090" }}"#, 0.0), "::1");
    assert_eq!(run(r#"{{ stripPort "host" }}"#, 0.0), "host");
    assert_eq!(run(r#"{{ safeHtml "<b>x</b>" }}"#, 0.0), "<b>x</b>");
    assert_eq!(run(r#"{{ html "<b>" }}"#, 0.0), "&lt;b&gt;");
    assert_eq!(
        run(r#"{{ if match "^db-" $labels.instance }}db{{ end }}"#, 0.0),
        "db"
    );
    assert_eq!(
        run(r#"{{ graphLink "up == 0" }}"#, 0.0),
        "/graph?g0.expr=up+%3D%3D+0&g0.tab=0"
    );
    assert_eq!(run("{{ pathPrefix }}", 0.0), "/prometheus");
    assert_eq!(run(r#"{{ parseDuration "1h30m" }}"#, 0.0), "5400");
}

#[test]
fn conditionals_and_comparisons() {
    let t = r#"{{ if gt $value 90.0 }}critical{{ else if gt $value 80.0 }}warning{{ else }}ok{{ end }}"#;
    assert_eq!(run(t, 95.0), "critical");
    assert_eq!(run(t, 85.0), "warning");
    assert_eq!(run(t, 10.0), "ok");
    assert_eq!(
        run(
            r#"{{ if eq $labels.severity "page" "critical" }}yes{{ end }}"#,
            0.0
        ),
        "yes"
    );
    assert_eq!(
        run(
            r#"{{ if and (ne $labels.job "x") (not false) }}y{{ end }}"#,
            0.0
        ),
        "y"
    );
    assert_eq!(run(r#"{{ or "" "fallback" }}"#, 0.0), "fallback");
    assert_eq!(
        run(r#"{{ with $labels.job }}job={{ . }}{{ end }}"#, 0.0),
        "job=node"
    );
    assert_eq!(
        run(r#"{{ with $labels.nope }}x{{ else }}none{{ end }}"#, 0.0),
        "none"
    );
    assert_eq!(
        run(
            r#"{{ if le 1 2 }}{{ if ge "b" "a" }}ok{{ end }}{{ end }}"#,
            0.0
        ),
        "ok"
    );
}

#[test]
fn range_over_labels_and_trimming_and_comments() {
    let t = "{{ range $k, $v := $labels -}}\n  {{ $k }}={{ $v }};\n{{- end }}";
    assert_eq!(
        run(t, 0.0),
        "instance=db-1.example.com:9100;job=node;severity=critical;"
    );
    assert_eq!(run("a {{- /* gone */ -}} b", 0.0), "ab");
    assert_eq!(run("a {{/* kept spaces */}} b", 0.0), "a  b");
    assert_eq!(run("{{ range 3 }}x{{ end }}", 0.0), "xxx");
}

struct FakeEngine;

impl TemplateQuery for FakeEngine {
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String> {
        match expr {
            "up" => Ok(vec![
                QuerySample {
                    labels: labels(&[("instance", "b")]),
                    value: 1.0,
                },
                QuerySample {
                    labels: labels(&[("instance", "a")]),
                    value: 0.0,
                },
            ]),
            "empty" => Ok(Vec::new()),
            _ => Err(format!("bad query {expr:?}")),
        }
    }
}

#[test]
fn query_runs_through_the_given_engine() {
    let t = Template::parse(
        r#"{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }}={{ .Value }} {{ end }}|{{ query "up" | first | value }}|{{ with query "up" }}{{ . | first | label "instance" }}{{ end }}"#,
    )
    .unwrap();
    assert_eq!(
        t.execute(&data(0.0), Some(&FakeEngine)).unwrap(),
        "a=0 b=1 |1|b"
    );
    let empty = Template::parse(r#"{{ query "empty" | first | value }}"#).unwrap();
    let err = empty.execute(&data(0.0), Some(&FakeEngine)).unwrap_err();
    assert!(
        err.to_string()
            .contains("first() called on vector with no elements"),
        "{err}"
    );
    let none = Template::parse(r#"{{ query "up" }}"#).unwrap();
    let err = none.execute(&data(0.0), None).unwrap_err();
    assert!(
        err.to_string().contains("query is not supported here"),
        "{err}"
    );
}

#[test]
fn parse_errors_name_the_position_and_the_problem() {
    let e = parse_error("Instance {{ $label.foo }} down");
    assert!(
        e.contains("line 1, column 13") && e.contains("undefined variable \"$label\""),
        "{e}"
    );
    let e = parse_error("a\n{{ humanise $value }}");
    assert!(
        e.contains("line 2, column 4")
            && e.contains("function \"humanise\" not defined (did you mean \"humanize\"?)"),
        "{e}"
    );
    assert!(parse_error("{{ if true }}x").contains("has no {{end}}"));
    assert!(parse_error("x{{ end }}").contains("unexpected {{end}}"));
    assert!(parse_error("{{ $value ").contains("unclosed action"));
    assert!(parse_error("{{ \"abc }}").contains("unterminated quoted string"));
    assert!(parse_error("{{ }}").contains("missing value for command"));
    assert!(parse_error("{{ template \"x\" }}").contains("not supported"));
    assert!(parse_error("{{ if $x := 1 }}{{ end }}{{ $x }}").contains("undefined variable \"$x\""));
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    assert!(parse_error(&deep).contains("nested more than 100 levels"));
    assert!(exec_error("{{ range 1000000000 }}x{{ end }}", 0.0).contains("iterations allowed"));
    assert_eq!(
        run(r#"{{ printf "%.99999999f" 1.0 }}"#, 0.0),
        "%!(BADPREC)1.000000"
    );
    assert_eq!(run(r#"{{ printf "%.f" 2.5 }}"#, 0.0), "2");
}

#[test]
fn execution_errors_are_reported_and_placed_in_the_text() {
    let e = exec_error("{{ gt $value 100 }}", 5.0);
    assert!(e.contains("incompatible types for comparison"), "{e}");
    let e = exec_error("{{ humanize $labels.job }}", 0.0);
    assert!(
        e.contains("error calling humanize") && e.contains("ParseFloat"),
        "{e}"
    );
    let e = exec_error("{{ toUpper $value }}", 0.0);
    assert!(e.contains("expected string; got float64"), "{e}");
    let out = expand(
        "annotation \"summary\"",
        "v={{ humanize \"x\" }}",
        &data(0.0),
        None,
    );
    assert!(out.error.is_some());
    assert!(
        out.text.starts_with("<error expanding template: annotation \"summary\": template failed at line 1, column 6: error calling humanize"),
        "{}",
        out.text
    );
    let ok = expand("a", "{{ $value }}", &data(2.0), None);
    assert_eq!((ok.text.as_str(), ok.error), ("2", None));
}
