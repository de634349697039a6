//! `periscope check-metrics` as a user runs it: a file or stdin, a format, every problem with
//! its line, and the exit code scripts act on.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::World;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `periscope ARGS` with `input` on stdin.
fn with_stdin(world: &World, args: &[&str], input: &str) -> Output {
    let mut child = world
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start periscope");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

const NODE_EXPORTER: &str = "\
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.21

# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 2.58143e+06
node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 12345.5 1700000000000
";

#[test]
fn valid_prometheus_text_from_a_file_is_ok() {
    let world = World::new("");
    world.write("node.prom", NODE_EXPORTER);
    let path = world.path("node.prom");
    let out = world.run(&["check-metrics", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("node.prom: OK (3 samples, 3 series, 2 families)\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn every_problem_is_listed_with_its_line_and_the_exit_code_is_1() {
    let world = World::new("");
    let input = "\
# TYPE http_requests_total counter
http_requests_total{path=\"/a} 1
http_requests_total{code=\"200\",code=\"500\"} 2
ok_metric 1
bad-name 3
";
    let out = with_stdin(&world, &["check-metrics"], input);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "stdin: line 2, column 26: label value for \"path\" is not terminated\n\
         stdin: line 3, column 32: label \"code\" appears twice\n\
         stdin: line 5, column 4: unexpected '-' after metric name \"bad\" (names are [a-zA-Z_:][a-zA-Z0-9_:]*)\n\
         stdin: 3 problems (prometheus format)\n"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn openmetrics_is_strict_where_prometheus_text_is_lenient() {
    let world = World::new("");
    let text = "# TYPE a counter\na_total 1\n";
    let lenient = with_stdin(&world, &["check-metrics", "--format", "prometheus"], text);
    assert_eq!(lenient.status.code(), Some(0), "{}", stderr(&lenient));

    let strict = with_stdin(&world, &["check-metrics", "--format", "openmetrics"], text);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        stderr(&strict).contains("line 2: missing \"# EOF\" at the end"),
        "{}",
        stderr(&strict)
    );

    let good = "# TYPE a counter\n# HELP a Requests.\na_total 1 # {trace_id=\"abc\"} 1\n# EOF\n";
    let out = with_stdin(&world, &["check-metrics", "--format", "openmetrics"], good);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("stdin: OK (1 sample, 1 series, 1 family)"));
}

#[test]
fn json_batches_are_checked_by_field() {
    let world = World::new("");
    let body = r#"{"samples":[{"name":"x","value":1},{"name":"y","labels":{"1x":"a"},"value":2}]}"#;
    let out = with_stdin(&world, &["check-metrics", "--format", "json"], body);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "stdin: samples[1].labels: label name \"1x\" is not valid (it must match [a-zA-Z_][a-zA-Z0-9_]*)\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreadable_file_is_unknown_not_invalid() {
    let world = World::new("");
    let missing = world.path("nope.prom");
    let out = world.run(&["check-metrics", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}
