//! Maintenance windows as an operator writes them: recurring ones that keep to the wall clock
//! across DST, one-off ones, both together, named periods, and every mistake reported.

use std::collections::BTreeMap;

use model::time_period::RawTimePeriod;

use super::*;

fn utc(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse().unwrap())
}

fn db_alert() -> Alert {
    let labels = [("alertname", "DbDown"), ("service", "db")]
        .into_iter()
        .collect();
    Alert::firing(labels, Timestamp(0))
}

fn web_alert() -> Alert {
    let labels = [("alertname", "Slow"), ("service", "web")]
        .into_iter()
        .collect();
    Alert::firing(labels, Timestamp(0))
}

fn window(matchers: &[&str]) -> RawWindow {
    RawWindow {
        matchers: matchers.iter().map(|m| m.to_string()).collect(),
        ..RawWindow::default()
    }
}

fn build(raw: &[RawWindow]) -> MaintenanceWindows {
    MaintenanceWindows::build(raw, &TimePeriods::default()).unwrap()
}

#[test]
fn a_recurring_window_keeps_to_the_wall_clock_across_dst() {
    let windows = build(&[RawWindow {
        when: Some("sun 02:00-04:00 Europe/London".into()),
        comment: Some("weekly db patching".into()),
        ..window(&[r#"service="db""#])
    }]);
    let muted = |at: &str| windows.mute(&db_alert(), utc(at)).is_some();
    // Sunday 22 March 2026, GMT: 02:00-04:00 local is 02:00-04:00 UTC.
    assert!(!muted("2026-03-22T01:59:00Z"));
    assert!(muted("2026-03-22T02:00:00Z"));
    assert!(muted("2026-03-22T03:59:00Z"));
    assert!(!muted("2026-03-22T04:00:00Z"));
    // Sunday 29 March, clocks go forward at 01:00 UTC: the window is 01:00-03:00 UTC.
    assert!(!muted("2026-03-29T00:59:00Z"));
    assert!(muted("2026-03-29T01:00:00Z"));
    assert!(muted("2026-03-29T02:59:00Z"));
    assert!(!muted("2026-03-29T03:30:00Z"));
    // Sunday 25 October, clocks went back at 01:00 UTC: 02:00-04:00 UTC again.
    assert!(!muted("2026-10-25T01:30:00Z"));
    assert!(muted("2026-10-25T02:30:00Z"));

    assert_eq!(
        windows.mute(&db_alert(), utc("2026-03-29T02:00:00Z")),
        Some(MuteReason::Maintenance {
            window: "weekly db patching".into()
        })
    );
    assert_eq!(
        windows.mute(&web_alert(), utc("2026-03-29T02:00:00Z")),
        None
    );

    // The scheduler wakes when it opens and when it closes, in summer time.
    assert_eq!(
        windows.next_change(utc("2026-03-28T12:00:00Z")),
        Some(utc("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        windows.next_change(utc("2026-03-29T01:30:00Z")),
        Some(utc("2026-03-29T03:00:00Z"))
    );
}

#[test]
fn a_one_off_window_opens_once_and_is_done() {
    let windows = build(&[RawWindow {
        from: Some("2026-05-01T22:00:00+01:00".into()),
        to: Some("2026-05-02T01:00:00+01:00".into()),
        ..window(&[r#"service="db""#])
    }]);
    let muted = |at: &str| windows.mute(&db_alert(), utc(at));
    assert_eq!(muted("2026-05-01T20:59:59Z"), None);
    assert_eq!(
        muted("2026-05-01T21:00:00Z"),
        Some(MuteReason::Maintenance {
            window: "2026-05-01T22:00:00+01:00..2026-05-02T01:00:00+01:00".into()
        })
    );
    assert!(muted("2026-05-01T23:59:59Z").is_some());
    assert_eq!(muted("2026-05-02T00:00:00Z"), None, "`to` is exclusive");
    assert_eq!(
        windows.next_change(utc("2026-04-01T00:00:00Z")),
        Some(utc("2026-05-01T21:00:00Z"))
    );
    assert_eq!(
        windows.next_change(utc("2026-05-01T22:00:00Z")),
        Some(utc("2026-05-02T00:00:00Z"))
    );
    assert_eq!(windows.next_change(utc("2026-05-02T00:00:00Z")), None);
}

#[test]
fn a_recurring_window_between_dates_and_by_name() {
    let defs: BTreeMap<String, RawTimePeriod> = [(
        "maintenance-window".to_string(),
        RawTimePeriod::line("daily 01:00-02:00"),
    )]
    .into_iter()
    .collect();
    let periods = TimePeriods::build(&defs).unwrap();
    let windows = MaintenanceWindows::build(
        &[RawWindow {
            when: Some("maintenance-window".into()),
            from: Some("2026-05-02T00:00:00Z".into()),
            to: Some("2026-05-04T01:30:00Z".into()),
            ..window(&[])
        }],
        &periods,
    )
    .unwrap();
    let muted = |at: &str| windows.mute(&web_alert(), utc(at)).is_some();
    assert!(!muted("2026-05-01T01:30:00Z"), "before `from`");
    assert!(muted("2026-05-02T01:30:00Z"), "no matchers: every alert");
    assert!(!muted("2026-05-02T02:30:00Z"));
    assert!(muted("2026-05-04T01:00:00Z"));
    assert!(!muted("2026-05-04T01:30:00Z"), "cut short by `to`");
    assert!(!muted("2026-05-05T01:30:00Z"), "after `to`");
    assert_eq!(
        windows.next_change(utc("2026-04-20T00:00:00Z")),
        Some(utc("2026-05-02T01:00:00Z"))
    );
    assert_eq!(
        windows.next_change(utc("2026-05-04T01:10:00Z")),
        Some(utc("2026-05-04T01:30:00Z"))
    );
    assert_eq!(windows.next_change(utc("2026-05-04T03:00:00Z")), None);
    assert_eq!(
        windows.mute(&web_alert(), utc("2026-05-03T01:00:00Z")),
        Some(MuteReason::Maintenance {
            window: "maintenance-window".into()
        })
    );
}

#[test]
fn every_mistake_is_reported_at_its_key() {
    let issues = MaintenanceWindows::build(
        &[
            RawWindow {
                when: Some("sun 02:00-04:00".into()),
                ..window(&[r#"service=~"(""#])
            },
            RawWindow {
                when: Some("maintenance-windw".into()),
                ..window(&[])
            },
            window(&[r#"service="db""#]),
            RawWindow {
                from: Some("2026-05-01T22:00:00Z".into()),
                ..window(&[])
            },
            RawWindow {
                from: Some("2026-05-02T00:00:00Z".into()),
                to: Some("2026-05-01T00:00:00Z".into()),
                ..window(&[])
            },
            RawWindow {
                from: Some("tomorrow".into()),
                to: Some("2026-05-01T00:00:00Z".into()),
                ..window(&[])
            },
        ],
        &TimePeriods::default(),
    )
    .unwrap_err();
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    let at = |path: &str| {
        text.iter()
            .find(|t| t.starts_with(&format!("{path}: ")))
            .unwrap_or_else(|| panic!("no issue at {path}: {text:?}"))
    };
    assert!(at("0.matchers.0").contains("invalid regex"));
    assert!(at("1.when").contains("maintenance-windw"));
    assert!(at("2").contains("needs `when` or `from` and `to`"));
    assert!(at("3.to").contains("needs `to`"));
    assert!(at("4.to").contains("must be after `from`"));
    assert!(at("5.from").contains("\"tomorrow\" is not an RFC 3339 time"));
    assert_eq!(issues.len(), 6, "{text:?}");
}

#[test]
fn unknown_keys_are_refused() {
    let e = serde_json::from_str::<RawWindow>(r#"{"matchers": [], "until": "x"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `until`"), "{e}");
}
