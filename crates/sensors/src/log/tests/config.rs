//! Settings: every problem reported at once, each at its key path.

use super::*;

fn issues(text: &str) -> Vec<ConfigIssue> {
    let dir = tempfile::tempdir().unwrap();
    match build(dir.path(), text) {
        Ok(_) => panic!("settings accepted:\n{text}"),
        Err(issues) => issues,
    }
}

fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.path.as_str()).collect()
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let found = issues(
        r#"
paths = []
record_start = '^(\d{4}'
flush_after = "soon"
max_events = 1000000
timestamp = { format = "%Y-%m-%d %Q", pattern = "no group", timezone = "Mars/Olympus" }
[rules.neither]
title = "Nothing"
[rules.both]
match = "a"
regex = "b"
[rules.bad-regex]
regex = 'Timeout (?P<ms>\d+'
[rules.limits]
match = "x"
warning = 10
critical = 5
[rules.zero]
match = ["ok", ""]
warning = 0
[rules.grouping]
regex = 'took (?P<ms>\d+) ms'
group_by = "service"
[rules.phrase-grouping]
match = "x"
group_by = "service"
"#,
    );
    let mut got = paths(&found);
    got.sort_unstable();
    let mut want = vec![
        "paths",
        "record_start",
        "timestamp.format",
        "timestamp.pattern",
        "timestamp.timezone",
        "flush_after",
        "max_events",
        "rules.neither",
        "rules.both",
        "rules.bad-regex.regex",
        "rules.limits.critical",
        "rules.zero.match.1",
        "rules.zero.warning",
        "rules.grouping.group_by",
        "rules.phrase-grouping.group_by",
    ];
    want.sort_unstable();
    assert_eq!(got, want, "{found:#?}");
    let by_path = |p: &str| found.iter().find(|i| i.path == p).unwrap();
    assert!(by_path("timestamp.format").message.contains("%Q"));
    assert!(
        by_path("timestamp.timezone")
            .message
            .contains("Mars/Olympus")
    );
    assert!(
        by_path("rules.bad-regex.regex")
            .message
            .contains("Timeout (?P<ms>")
    );
    assert!(
        by_path("rules.limits.critical")
            .message
            .contains("critical (5) is below warning (10)")
    );
    assert!(
        by_path("rules.grouping.group_by")
            .hint
            .as_deref()
            .unwrap()
            .contains("ms")
    );
    assert!(
        found
            .iter()
            .filter(|i| i.path != "max_events")
            .all(|i| !i.message.is_empty())
    );
}

#[test]
fn bad_globs_presets_and_keys_that_collide_are_reported() {
    let found = issues(
        r#"
paths = ["logs/[*.log", ""]
timestamp = { format = "iso9999" }
[rules.get-loans]
match = "a"
[rules.get_loans]
match = "b"
"#,
    );
    assert_eq!(
        paths(&found),
        vec!["paths.0", "paths.1", "timestamp.format", "rules.get_loans"],
        "{found:#?}"
    );
    assert!(found[2].hint.as_deref().unwrap().contains("syslog"));
}

#[test]
fn a_timestamp_table_needs_a_format() {
    let found = issues("paths = [\"a.log\"]\ntimestamp = { timezone = \"UTC\" }");
    assert_eq!(paths(&found), vec!["timestamp.format"]);
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = toml::from_str::<LogSettings>("paths = [\"a\"]\nrecord_starts = 'x'").unwrap_err();
    assert!(err.to_string().contains("record_starts"), "{err}");
    let err =
        toml::from_str::<LogSettings>("paths = [\"a\"]\n[rules.x]\nmatches = 'x'").unwrap_err();
    assert!(err.to_string().contains("matches"), "{err}");
}

#[test]
fn match_and_paths_take_a_string_or_a_list() {
    let s = settings(
        "paths = \"app.log\"\n[rules.a]\nmatch = \"x\"\n[rules.b]\nmatch = [\"y\", \"z\"]",
    );
    assert_eq!(s.paths, vec!["app.log"]);
    assert_eq!(
        s.rules[0].1.phrases.as_deref(),
        Some(&["x".to_string()][..])
    );
    assert_eq!(s.rules[1].1.phrases.as_ref().unwrap().len(), 2);
}

#[test]
fn rules_keep_their_config_order() {
    let s = settings("paths = [\"a\"]\n[rules.zeta]\nmatch = \"z\"\n[rules.alpha]\nmatch = \"a\"");
    let names: Vec<&str> = s.rules.iter().map(|(n, _)| n.as_str()).collect();
    // toml's default table is sorted; with `preserve_order` it is document order. Either way
    // the monitor reports sections in the order it was given.
    assert!(names == ["zeta", "alpha"] || names == ["alpha", "zeta"]);
}

#[test]
fn the_documented_example_builds() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
paths = ["/mnt/prodlogs/loans/*.log", "app.log"]
record_start = '^\d{4}-\d{2}-\d{2} '
timestamp = { format = "%Y-%m-%d %H:%M:%S,%f", pattern = '^(?P<ts>\S+ \S+)', timezone = "Europe/London" }
flush_after = "30s"
max_events = 1000
[rules.get-loans]
title = "Get Loans Errors"
match = "ERROR GetLoans"
warning = 1
critical = 10
[rules.timeouts]
regex = 'Timeout after (?P<ms>\d+) ms'
ignore_case = true
group_by = "ms"
"#;
    build(dir.path(), text).unwrap_or_else(|e| panic!("{e:?}"));
}
