//! Behaviour of the text formats as a user sees it: what is accepted, what is refused, and what
//! the messages say. (JSON, remote-write and the writer have their tests beside them; property
//! tests are in `proptests.rs`.)

mod proptests;

use model::{Labels, PayloadFormat, Timestamp};

use super::{Batch, CompactBatch, MetricType, parse, parse_compact_into};

fn om(text: &str) -> Result<Batch, Vec<String>> {
    parse(PayloadFormat::OpenMetrics, text.as_bytes())
        .map_err(|e| e.errors().iter().map(|e| e.to_string()).collect())
}

fn prom(text: &str) -> Result<Batch, Vec<String>> {
    parse(PayloadFormat::PrometheusText, text.as_bytes())
        .map_err(|e| e.errors().iter().map(|e| e.to_string()).collect())
}

#[track_caller]
fn om_err(text: &str) -> Vec<String> {
    match om(text) {
        Ok(b) => panic!("accepted: {text:?} -> {b:?}"),
        Err(e) => e,
    }
}

#[test]
fn openmetrics_example_from_the_spec_is_read_with_metadata() {
    let text = "# TYPE acme_http_router_request_seconds summary\n\
# UNIT acme_http_router_request_seconds seconds\n\
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n\
acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n\
acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n\
acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n\
# TYPE go_goroutines gauge\n\
go_goroutines 69 1520879607.789\n\
# TYPE process_cpu_seconds counter\n\
process_cpu_seconds_total 4.20072246e+06\n\
# EOF\n";
    let batch = om(text).unwrap();
    assert_eq!(batch.len(), 5);
    assert_eq!(batch.families.len(), 3);
    let f = &batch.families[0];
    assert_eq!(f.kind, MetricType::Summary);
    assert_eq!(f.unit.as_deref(), Some("seconds"));
    assert_eq!(
        f.help.as_deref(),
        Some("Latency though all of ACME's HTTP request router.")
    );
    let (labels, sample) = batch.iter().next().unwrap();
    assert_eq!(
        labels.metric_name(),
        Some("acme_http_router_request_seconds_sum")
    );
    assert_eq!(labels.get("method"), Some("GET"));
    assert_eq!(sample.value, 9036.32);
    assert_eq!(sample.timestamp, None);
    assert_eq!(sample.line, 4);
    let goroutines = &batch.samples[3];
    assert_eq!(goroutines.timestamp, Some(Timestamp(1_520_879_607_789)));
    assert_eq!(batch.family(goroutines).kind, MetricType::Gauge);
    assert_eq!(batch.samples[4].value, 4_200_722.46);
}

#[test]
fn label_values_are_unescaped() {
    let batch = om("a{a=\"x\\\"y\\\\z\\nw\\q\",b=\"é # }\"} 1\n# EOF").unwrap();
    let labels = batch.labels(&batch.samples[0]);
    assert_eq!(labels.get("a"), Some("x\"y\\z\nw\\q"));
    assert_eq!(labels.get("b"), Some("é # }"));
}

#[test]
fn errors_say_line_column_and_what() {
    assert_eq!(
        om_err("# TYPE a gauge\na{path=\"/x} 1\n# EOF\n"),
        vec!["line 2, column 8: label value for \"path\" is not terminated"]
    );
    assert_eq!(
        om_err("a 1\n\nb 2\n"),
        vec![
            "line 2: blank lines are not allowed",
            "line 3: missing \"# EOF\" at the end (OpenMetrics expositions must end with it)",
        ]
    );
    assert_eq!(
        om_err("a{a=\"1\",a=\"2\"} 1\n# EOF\n"),
        vec!["line 1, column 9: label \"a\" appears twice"]
    );
    assert_eq!(
        om_err("a{__x=\"1\"} 1\n# EOF\n"),
        vec![
            "line 1, column 3: label name \"__x\" is reserved (names starting with \"__\" are for internal use)"
        ]
    );
}

#[test]
fn every_problem_is_listed_not_only_the_first() {
    let errors = om_err("a 1 z\nb x\n# TYPE c counter\nc_total -1\n# EOF\n");
    assert_eq!(
        errors,
        vec![
            "line 1, column 5: timestamp \"z\" is not a number (seconds since the epoch)",
            "line 2, column 3: value \"x\" is not a number",
            "line 4, column 9: _total values must not be negative",
        ]
    );
}

#[test]
fn histograms_follow_the_spec() {
    let good = "# TYPE a histogram\n\
a_bucket{le=\"0.1\"} 1 # {trace_id=\"x\"} 0.05\n\
a_bucket{le=\"1\"} 2\n\
a_bucket{le=\"+Inf\"} 3\n\
a_count 3\n\
a_sum 1.5\n\
a_created 1520430000.123\n\
# EOF\n";
    assert_eq!(om(good).unwrap().len(), 6);
    let no_inf = "# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n";
    assert_eq!(
        om_err(no_inf),
        vec!["line 2: histogram a{} has no +Inf bucket"]
    );
    let count_mismatch = "# TYPE a histogram\na_bucket{le=\"+Inf\"} 2\na_count 3\na_sum 1\n# EOF\n";
    assert_eq!(
        om_err(count_mismatch),
        vec!["line 2: histogram a{}: _count is 3 but the +Inf bucket is 2"]
    );
    let exemplar_outside =
        "# TYPE a histogram\na_bucket{le=\"1\"} 0 # {} 2\na_bucket{le=\"+Inf\"} 0\n# EOF\n";
    assert_eq!(
        om_err(exemplar_outside),
        vec!["line 2, column 20: exemplar value 2 is not in the bucket (le 1)"]
    );
}

#[test]
fn several_points_of_a_metric_need_increasing_timestamps() {
    let ok = "# TYPE a summary\n\
a_count{x=\"1\"} 0 123\na_sum{x=\"1\"} 0 123\na_count{x=\"1\"} 0 456\na_sum{x=\"1\"} 0 456\n\
a_count{x=\"2\"} 0 123\n# EOF\n";
    let batch = om(ok).unwrap();
    assert_eq!(batch.len(), 5);
    // Equal once truncated to milliseconds: the earliest is kept.
    let same_ms = "a 1 1.0001\na 2 1.0002\na 3 1.001\n# EOF\n";
    let batch = om(same_ms).unwrap();
    let values: Vec<f64> = batch.samples.iter().map(|s| s.value).collect();
    assert_eq!(values, vec![1.0, 3.0]);
    assert_eq!(batch.series.len(), 1);
    assert_eq!(
        om_err("a 1\na 2\n# EOF\n"),
        vec![
            "line 2, column 3: a (value) already has a value; several points of a metric need increasing timestamps"
        ]
    );
    assert_eq!(
        om_err("a 1 2\na 2 1\n# EOF\n"),
        vec!["line 2, column 3: timestamps of a metric must not go backwards"]
    );
    assert_eq!(
        om_err("a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1 5\n# EOF\n"),
        vec![
            "line 3, column 1: the samples of metric a{x=\"1\"} are not together: they must not be interleaved with other metrics"
        ]
    );
}

#[test]
fn families_must_not_clash_or_repeat() {
    assert_eq!(
        om_err("# TYPE a_created gauge\n# TYPE a counter\n# EOF\n"),
        vec![
            "line 2: metric family \"a\" clashes with an earlier family: both could have samples named \"a_created\""
        ]
    );
    assert_eq!(
        om_err("a 1\nb 1\na 2\n# EOF\n"),
        vec![
            "line 3: metric family \"a\" appears twice, or clashes with an earlier family's samples; a family's lines must be together"
        ]
    );
    assert_eq!(
        om_err("# TYPE a gauge\na 1\n# HELP a text\n# EOF\n"),
        vec!["line 3: \"# HELP\" for \"a\" comes after its samples; metadata must come first"]
    );
}

#[test]
fn nothing_may_follow_eof() {
    assert_eq!(
        om_err("a 1\n# EOF\n\n"),
        vec!["line 3: nothing may follow \"# EOF\""]
    );
    assert!(om("a 1\n# EOF").is_ok());
    assert!(om("# EOF\n").unwrap().is_empty());
}

#[test]
fn prometheus_text_is_read_leniently() {
    let text = "# HELP http_requests_total The total number of HTTP requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{ method = \"post\" , code=\"400\", }    3   1395066363000\n\
\n\
# A comment\n\
  metric_without_timestamp_and_labels 12.47\r\n\
\tsomething_weird{problem=\"division by zero\"} +Inf -3982045\n\
# TYPE rpc_duration_seconds summary\n\
rpc_duration_seconds{quantile=\"0.01\"} 3102\n\
rpc_duration_seconds_sum 1.7560473e+07\n\
rpc_duration_seconds_count 2693\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
untyped_nan NaN\n";
    let batch = prom(text).unwrap();
    assert_eq!(batch.len(), 9);
    assert_eq!(
        batch.samples[0].timestamp,
        Some(Timestamp(1_395_066_363_000))
    );
    assert_eq!(batch.labels(&batch.samples[1]).get("code"), Some("400"));
    assert_eq!(batch.samples[3].value, f64::INFINITY);
    assert_eq!(batch.samples[3].timestamp, Some(Timestamp(-3_982_045)));
    assert_eq!(batch.family(&batch.samples[0]).kind, MetricType::Counter);
    assert_eq!(batch.family(&batch.samples[5]).name, "rpc_duration_seconds");
    assert_eq!(batch.family(&batch.samples[6]).kind, MetricType::Summary);
    let access = batch.labels(&batch.samples[7]);
    assert_eq!(access.get("path"), Some("C:\\DIR\\FILE.TXT"));
    assert_eq!(access.get("error"), Some("Cannot find file:\n\"FILE.TXT\""));
    assert_eq!(
        batch.family(&batch.samples[0]).help.as_deref(),
        Some("The total number of HTTP requests.")
    );
}

#[test]
fn prometheus_text_still_refuses_broken_lines() {
    assert_eq!(
        prom("a 1 1.5\n# TYPE b blob\n# TYPE c gauge\n# TYPE c gauge\nd{x=\"1\",x=\"2\"} 1\n")
            .unwrap_err(),
        vec![
            "line 1, column 5: timestamp \"1.5\" is not an integer (milliseconds since the epoch)",
            "line 2, column 10: unknown type \"blob\" (expected counter, gauge, histogram, summary or untyped)",
            "line 4: second \"# TYPE\" line for \"c\"",
            "line 5, column 9: label \"x\" appears twice",
        ]
    );
    assert!(prom("").unwrap().is_empty());
}

#[test]
fn consecutive_samples_share_their_series_and_labels_read_back_sorted() {
    let text = "b{z=\"1\",A=\"2\",m=\"3\"} 1 1000\n\
b{z=\"1\",A=\"2\",m=\"3\"} 2 2000\n\
b{z=\"1\",A=\"2\",m=\"4\"} 3\n";
    let batch = prom(text).unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch.series.len(), 2);
    let s = &batch.series[0].labels;
    assert_eq!(
        s.iter().collect::<Vec<_>>(),
        vec![("A", "2"), ("__name__", "b"), ("m", "3"), ("z", "1")]
    );
    assert_eq!(
        s,
        &Labels::new()
            .with("__name__", "b")
            .with("A", "2")
            .with("m", "3")
            .with("z", "1")
    );
    assert_eq!(batch.series[1].labels.get("m"), Some("4"));
    assert_eq!(batch.series[1].labels.metric_name(), Some("b"));
}

#[test]
fn a_compact_batch_is_refilled_and_left_empty_on_error() {
    let mut batch = CompactBatch::default();
    parse_compact_into(
        PayloadFormat::PrometheusText,
        b"a{x=\"1\",A=\"2\"} 1\nb 2\n",
        &mut batch,
    )
    .unwrap();
    assert_eq!(batch.len(), 2);
    let a = batch.series(0);
    assert_eq!(
        a.labels().collect::<Vec<_>>(),
        vec![("A", "2"), ("__name__", "a"), ("x", "1")]
    );
    assert_eq!(a.metric_name(), "a");
    assert_eq!(a.get("x"), Some("1"));
    assert_eq!(a.family().name, "a");
    assert_eq!(
        a.to_labels(),
        Labels::new()
            .with("__name__", "a")
            .with("A", "2")
            .with("x", "1")
    );
    parse_compact_into(PayloadFormat::PrometheusText, b"c 3\n", &mut batch).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch.series_len(), 1);
    assert_eq!(batch.families.len(), 1);
    assert_eq!(batch.series(0).metric_name(), "c");
    assert!(parse_compact_into(PayloadFormat::PrometheusText, b"d{ 1\n", &mut batch).is_err());
    assert!(batch.is_empty());
}

#[test]
fn invalid_utf8_is_located_and_other_lines_still_checked() {
    let errors = parse(
        PayloadFormat::PrometheusText,
        b"a{x=\"\xff\"} 1\nb{ 2\nc 3\n",
    )
    .unwrap_err()
    .errors()
    .iter()
    .map(|e| e.to_string())
    .collect::<Vec<_>>();
    assert_eq!(
        errors,
        vec![
            "line 1, column 6: not valid UTF-8",
            "line 2, column 4: label name \"2\" is not valid (it must match [a-zA-Z_][a-zA-Z0-9_]*)",
        ]
    );
}
