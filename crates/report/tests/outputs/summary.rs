//! The summary report, its subject, and the alert mail.

use jiff::tz::TimeZone;
use model::{ErrorGroup, Section, Status};
use report::{alert_text, summary_subject, summary_text};

use super::fixture::{self, run};

#[test]
fn summary_text_reads_like_the_seed_report() {
    insta::assert_snapshot!("summary_text", summary_text(&run(), &TimeZone::UTC));
}

#[test]
fn summary_lists_monitors_worst_first_then_in_config_order() {
    let mut run = run();
    let mut second_ok = fixture::loan_importer();
    second_ok.name = "disk-space".into();
    run.monitors.push(second_ok);
    let text = summary_text(&run, &TimeZone::UTC);
    // A monitor's title is the line above its underline.
    let lines: Vec<&str> = text.lines().collect();
    let titles: Vec<&str> = lines
        .windows(2)
        .filter(|w| w[1].starts_with("---") && w[1].trim_matches('-').is_empty())
        .map(|w| w[0])
        .collect();
    assert_eq!(
        titles,
        [
            "payments-gateway: CRITICAL",
            "reporting-replica: UNKNOWN",
            "loan-importer: OK",
            "disk-space: OK"
        ]
    );
    assert!(
        text.contains("Monitors: 1 CRITICAL, 1 UNKNOWN, 2 OK\n"),
        "{text}"
    );
}

#[test]
fn summary_times_are_in_the_given_zone() {
    let paris = TimeZone::get("Europe/Paris").unwrap();
    let text = summary_text(&run(), &paris);
    assert!(
        text.contains("Run: 2026-11-21 01:05:00 CET, took 4 min 2 s\n"),
        "{text}"
    );
    assert!(text.contains("Start Time: 2026-11-21 01:05:09\n"), "{text}");
    assert!(
        text.contains("Last Record: 2026-11-21 01:08:55\n"),
        "{text}"
    );
}

#[test]
fn summary_lines_fit_a_phone() {
    let text = summary_text(&run(), &TimeZone::UTC);
    for line in text.lines() {
        assert!(
            line.chars().count() <= 60,
            "too wide ({}): {line}",
            line.chars().count()
        );
        assert!(
            !line.chars().any(char::is_control),
            "control character in {line:?}"
        );
    }
}

#[test]
fn long_sections_show_the_ten_most_frequent_and_count_the_rest() {
    let mut run = run();
    let groups = (1..=13)
        .map(|i| ErrorGroup {
            message: format!("error kind {i}"),
            count: i,
            first_seen: None,
            last_seen: None,
        })
        .collect();
    run.monitors[1].fragment.sections = vec![Section {
        key: "many".into(),
        title: "Many Errors".into(),
        groups,
    }];
    let text = summary_text(&run, &TimeZone::UTC);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Many Errors"))
        .take(13)
        .collect();
    assert_eq!(section[0], "Many Errors (91)");
    assert_eq!(section[1], "   13 x error kind 13");
    assert_eq!(section[10], "   4 x error kind 4");
    assert_eq!(section[11], "   ... and 3 more messages, seen 6 times");
}

#[test]
fn subject_counts_what_needs_attention() {
    assert_eq!(
        summary_subject(&run()),
        "[Periscope] CRITICAL: 2 of 3 monitors need attention (app-prod-01)"
    );

    let mut ok = run();
    ok.monitors.truncate(1);
    ok.environment = "test".into();
    assert_eq!(
        summary_subject(&ok),
        "[Periscope] OK: 1 monitor (app-prod-01, test)"
    );

    ok.monitors.clear();
    assert_eq!(
        summary_subject(&ok),
        "[Periscope] OK: no monitors (app-prod-01, test)"
    );
    assert!(summary_text(&ok, &TimeZone::UTC).contains("Monitors: none ran\n"));
}

#[test]
fn alert_text_holds_only_warning_and_critical_monitors() {
    let (subject, body) =
        alert_text(&run(), &TimeZone::UTC).expect("the run has a CRITICAL monitor");
    assert_eq!(
        subject,
        "[Periscope] ALERT CRITICAL: payments-gateway (app-prod-01)"
    );
    insta::assert_snapshot!("alert_text", body);
    assert!(
        !body.contains("reporting-replica"),
        "UNKNOWN is not an alert"
    );
    assert!(!body.contains("loan-importer"), "OK is not an alert");
}

#[test]
fn alert_subject_names_the_alerting_monitors_worst_first() {
    let mut run = run();
    for (i, status) in [
        Status::Warning,
        Status::Warning,
        Status::Critical,
        Status::Warning,
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = fixture::payments();
        m.name = format!("m{i}");
        m.outcome.status = status;
        run.monitors.push(m);
    }
    let (subject, body) = alert_text(&run, &TimeZone::UTC).unwrap();
    assert_eq!(
        subject,
        "[Periscope] ALERT CRITICAL: payments-gateway, m2, m0, +2 more (app-prod-01)"
    );
    assert!(
        body.contains("Alerting: 2 CRITICAL, 3 WARNING (of 7 monitors)\n"),
        "{body}"
    );
}

#[test]
fn no_alert_when_nothing_is_warning_or_critical() {
    let mut run = run();
    run.monitors.remove(1); // leaves OK and UNKNOWN
    assert_eq!(alert_text(&run, &TimeZone::UTC), None);
}
