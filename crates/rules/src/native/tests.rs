//! Periscope rules over an in-memory querier: series in the test language's notation, the
//! group evaluated at successive `now`s, expected alert phases and levels.
//!
//! Rule tables are written in YAML here (the crate has a YAML reader; the TOML config gives
//! the same [`RuleDef`] through the same serde derive).

use std::collections::BTreeMap;

use model::alert::AlertPhase;
use model::time_period::{RawTimePeriod, TimePeriods};
use model::{Matcher, Querier, SeriesData, StoreError, TimeRange};

use super::{RULE_FAILING_ALERT, RuleDef, compile};
use crate::group::{Group, GroupOptions, GroupOutcome};
use crate::promqltest::{MemoryQuerier, SeqValue, parse_series};

const MIN: i64 = 60_000;

fn def(yaml: &str) -> RuleDef {
    serde_saphyr::from_str(yaml).expect("valid rule table")
}

fn periods() -> TimePeriods {
    let mut defs = BTreeMap::new();
    defs.insert(
        "business_hours".to_string(),
        RawTimePeriod::line("weekdays 08:00-18:00 Europe/London"),
    );
    TimePeriods::build(&defs).expect("valid periods")
}

/// A group of the rules `(name, yaml)`.
fn group(rules: &[(&str, &str)]) -> Group {
    let compiled: Vec<_> = rules
        .iter()
        .map(|(name, yaml)| compile(name, &def(yaml), &periods()).expect("rule compiles"))
        .collect();
    Group::native(
        "periscope",
        std::time::Duration::from_secs(60),
        &compiled,
        &GroupOptions::default(),
    )
    .expect("group builds")
}

/// Loads `series values`, one sample per minute from 0.
fn load(q: &mut MemoryQuerier, line: &str) {
    let (labels, values) = parse_series(line).expect("valid series");
    for (i, v) in values.into_iter().enumerate() {
        if let SeqValue::Float(v) = v {
            q.add_sample(&labels, i as i64 * MIN, v);
        }
    }
}

fn eval(g: &mut Group, q: &mut MemoryQuerier, minute: i64) -> GroupOutcome {
    let out = g.evaluate(q, minute * MIN);
    for s in &out.samples {
        q.add_sample(&s.labels, s.t, s.value);
    }
    out
}

/// The rule's alerts that are not inactive, as `level phase`, with the other labels (without
/// `alertname` and `level`) when `with_labels`.
fn alerts(g: &Group, rule: &str) -> Vec<String> {
    let view = g.rules().find(|r| r.name == rule).expect("rule exists");
    view.alerts
        .iter()
        .filter(|r| r.phase != AlertPhase::Inactive)
        .map(|r| {
            let level = r.key.labels.get("level").unwrap_or("?");
            let rest: Vec<String> = r
                .key
                .labels
                .iter()
                .filter(|(k, _)| *k != "level" && *k != "alertname")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{level} {} {}", r.phase, rest.join(","))
                .trim_end()
                .to_string()
        })
        .collect()
}

#[test]
fn a_value_crossing_levels_resolves_one_level_and_fires_the_other() {
    let mut g = group(&[(
        "Latency",
        "expr: latency_seconds\nabove: { non_critical: 2, critical: 4 }\nflap_detection: false",
    )]);
    let mut q = MemoryQuerier::default();
    load(&mut q, r#"latency_seconds{job="api"} 1 3 5 3 1"#);
    eval(&mut g, &mut q, 0);
    assert!(alerts(&g, "Latency").is_empty());
    eval(&mut g, &mut q, 1);
    assert_eq!(alerts(&g, "Latency"), ["non-critical firing job=api"]);
    let out = eval(&mut g, &mut q, 2);
    assert_eq!(
        alerts(&g, "Latency"),
        ["critical firing job=api", "non-critical resolved job=api"]
    );
    let step = out.rules[0].alerts.as_ref().unwrap();
    assert!(
        step.transitions.iter().all(|t| t.notify),
        "both moves are told"
    );
    eval(&mut g, &mut q, 3);
    assert_eq!(
        alerts(&g, "Latency"),
        ["critical resolved job=api", "non-critical firing job=api"]
    );
    eval(&mut g, &mut q, 4);
    assert_eq!(alerts(&g, "Latency"), ["non-critical resolved job=api"]);
}

#[test]
fn time_tiered_thresholds_follow_the_london_wall_clock_across_dst() {
    let rule = r#"
expr: latency_seconds
flap_detection: false
when:
  - during: business_hours
    above: { critical: 4 }
  - above: { critical: 10 }
"#;
    // Evaluated alone at each instant: 6 s is critical inside business hours only.
    let level_at = |utc: &str| -> Vec<String> {
        let mut g = group(&[("Latency", rule)]);
        let now = utc
            .parse::<jiff::Timestamp>()
            .expect("valid time")
            .as_millisecond();
        let mut q = MemoryQuerier::default();
        q.add_sample(
            &model::Labels::new()
                .with("__name__", "latency_seconds")
                .with("job", "api"),
            now - MIN,
            6.0,
        );
        g.evaluate(&q, now);
        alerts(&g, "Latency")
    };
    let firing = ["critical firing job=api"];
    // Friday before the spring change (GMT = UTC).
    assert!(level_at("2026-03-27T07:30:00Z").is_empty(), "07:30 GMT");
    assert_eq!(level_at("2026-03-27T08:30:00Z"), firing, "08:30 GMT");
    assert_eq!(level_at("2026-03-27T17:30:00Z"), firing, "17:30 GMT");
    // Monday after it (BST = UTC+1): the same UTC instants are an hour later locally.
    assert_eq!(level_at("2026-03-30T07:30:00Z"), firing, "08:30 BST");
    assert!(level_at("2026-03-30T17:30:00Z").is_empty(), "18:30 BST");
    // Friday before the autumn change (BST), Monday after it (GMT again).
    assert_eq!(level_at("2026-10-23T07:30:00Z"), firing, "08:30 BST");
    assert!(level_at("2026-10-26T07:30:00Z").is_empty(), "07:30 GMT");
    assert_eq!(level_at("2026-10-26T17:30:00Z"), firing, "17:30 GMT");
    // The change days are Sundays: no business hours at all.
    assert!(level_at("2026-03-29T12:00:00Z").is_empty());
    assert!(level_at("2026-10-25T12:00:00Z").is_empty());
}

#[test]
fn for_checks_makes_a_soft_problem_hard_and_recover_after_needs_good_checks() {
    let mut g = group(&[(
        "Disk",
        "expr: disk_used_ratio\nabove: { critical: 0.9 }\nfor_checks: 3\nrecover_after: 2\nflap_detection: false",
    )]);
    let mut q = MemoryQuerier::default();
    load(
        &mut q,
        r#"disk_used_ratio{dev="sda"} 0.95 0.95 0.5 0.95 0.95 0.95 0.5 0.95 0.5 0.5"#,
    );
    let expect = [
        (0, "critical pending dev=sda"),
        (1, "critical pending dev=sda"),
        (2, ""), // a soft problem that recovered is forgotten
        (3, "critical pending dev=sda"),
        (4, "critical pending dev=sda"),
        (5, "critical firing dev=sda"), // third failing check in a row: hard
        (6, "critical firing dev=sda"), // one good check is not enough
        (7, "critical firing dev=sda"), // and a failing one starts the count again
        (8, "critical firing dev=sda"),
        (9, "critical resolved dev=sda"),
    ];
    for (minute, want) in expect {
        eval(&mut g, &mut q, minute);
        let got = alerts(&g, "Disk");
        assert_eq!(got.join(";"), want, "minute {minute}");
    }
}

#[test]
fn a_series_that_stops_arriving_fires_unless_no_data_says_otherwise() {
    let rules = [
        (
            "Failing",
            "expr: queue_depth\nabove: { non_critical: 100, critical: 1000 }\nflap_detection: false",
        ),
        (
            "Ok",
            "expr: queue_depth\nabove: { critical: 1000 }\nno_data: ok",
        ),
        (
            "Keep",
            "expr: queue_depth\nabove: { critical: 1000 }\nno_data: keep",
        ),
    ];
    let mut g = group(&rules);
    let mut q = MemoryQuerier::default();
    load(&mut q, r#"queue_depth{queue="mail"} 5 5"#);
    eval(&mut g, &mut q, 1);
    for (name, _) in rules {
        assert!(alerts(&g, name).is_empty(), "{name}");
    }
    // Past the 5-minute lookback, the series is gone.
    eval(&mut g, &mut q, 10);
    assert_eq!(
        alerts(&g, "Failing"),
        ["critical firing queue=mail"],
        "no data fires at the most urgent level"
    );
    assert!(alerts(&g, "Ok").is_empty());
    assert!(alerts(&g, "Keep").is_empty());
    eval(&mut g, &mut q, 11);
    assert_eq!(alerts(&g, "Failing"), ["critical firing queue=mail"]);
    // It comes back, fine: resolved.
    q.add_sample(
        &model::Labels::new()
            .with("__name__", "queue_depth")
            .with("queue", "mail"),
        12 * MIN,
        5.0,
    );
    eval(&mut g, &mut q, 12);
    assert_eq!(alerts(&g, "Failing"), ["critical resolved queue=mail"]);
}

#[test]
fn a_series_that_stopped_before_a_restart_fires_when_the_seen_series_are_restored() {
    let rule = [(
        "Queue",
        "expr: queue_depth\nabove: { critical: 1000 }\nflap_detection: false",
    )];
    let mut q = MemoryQuerier::default();
    load(&mut q, r#"queue_depth{queue="mail"} 5 5"#);
    load(&mut q, r#"queue_depth{queue="sms"} 5+0x12"#);
    let mail = model::Labels::new().with("queue", "mail");
    let sms = model::Labels::new().with("queue", "sms");

    let mut before = group(&rule);
    let out = eval(&mut before, &mut q, 1);
    let change = out.rules[0].seen.clone().expect("both series are new");
    assert_eq!(change.appeared, [mail.clone(), sms.clone()]);
    assert!(change.vanished.is_empty());
    let out = eval(&mut before, &mut q, 2);
    assert_eq!(out.rules[0].seen, None, "nothing changed, nothing to save");
    let seen: Vec<_> = before.seen("Queue").unwrap().iter().cloned().collect();

    // A restart that forgot what the rule saw: mail's silence goes unnoticed.
    let mut forgetful = group(&rule);
    eval(&mut forgetful, &mut q, 10);
    assert!(alerts(&forgetful, "Queue").is_empty());

    // With the seen series given back, mail is missing data and fires.
    let mut restored = group(&rule);
    assert!(restored.restore_seen("Queue", seen));
    assert!(!restored.restore_seen("NoSuchRule", Vec::new()));
    let out = eval(&mut restored, &mut q, 10);
    assert_eq!(alerts(&restored, "Queue"), ["critical firing queue=mail"]);
    let change = out.rules[0].seen.clone().expect("mail vanished");
    assert_eq!(change.vanished, [mail]);
    assert!(change.appeared.is_empty());
    assert_eq!(restored.seen("Queue").unwrap().len(), 1);
}

#[test]
fn a_rule_that_never_found_its_series_fires_with_the_selector_labels() {
    let mut g = group(&[(
        "Backup",
        "heartbeat: 'backup_last_success_timestamp_seconds{job=\"backup\"}'\nmax_age: 26h",
    )]);
    let mut q = MemoryQuerier::default();
    eval(&mut g, &mut q, 0);
    assert_eq!(alerts(&g, "Backup"), ["critical firing job=backup"]);
    // A success recorded now: the heartbeat is fresh and the alert resolves.
    q.add_sample(
        &model::Labels::new()
            .with("__name__", "backup_last_success_timestamp_seconds")
            .with("job", "backup"),
        MIN,
        60.0,
    );
    eval(&mut g, &mut q, 2);
    assert_eq!(alerts(&g, "Backup"), ["critical resolved job=backup"]);
}

#[test]
fn a_stale_heartbeat_fires_with_its_age() {
    let mut g = group(&[(
        "Backup",
        "heartbeat: 'backup_last_success_timestamp_seconds{job=\"backup\"}'\nmax_age: 1h\nlevel: non-critical",
    )]);
    let mut q = MemoryQuerier::default();
    // The job pushes its last success (at 0) every minute; at minute 61 it is 61 min old.
    load(
        &mut q,
        r#"backup_last_success_timestamp_seconds{job="backup"} 0x70"#,
    );
    eval(&mut g, &mut q, 59);
    assert!(alerts(&g, "Backup").is_empty());
    eval(&mut g, &mut q, 61);
    assert_eq!(alerts(&g, "Backup"), ["non-critical firing job=backup"]);
    let view = g.rules().next().unwrap();
    assert_eq!(view.alerts[0].last_value, Some(61.0 * 60.0));
}

#[test]
fn a_boolean_rule_fires_at_its_level_and_an_absent_series_is_fine() {
    let mut g = group(&[(
        "Down",
        "expr: up == 0\nlevel: critical\nflap_detection: false",
    )]);
    let mut q = MemoryQuerier::default();
    load(&mut q, r#"up{job="a"} 1 0 1"#);
    load(&mut q, r#"up{job="b"} 1 1 1"#);
    eval(&mut g, &mut q, 0);
    assert!(
        alerts(&g, "Down").is_empty(),
        "a filtering comparison: absent is good"
    );
    eval(&mut g, &mut q, 1);
    assert_eq!(alerts(&g, "Down"), ["critical firing job=a"]);
    eval(&mut g, &mut q, 2);
    assert_eq!(alerts(&g, "Down"), ["critical resolved job=a"]);
}

#[test]
fn a_firing_parent_suppresses_its_childs_new_alerts_but_not_resolutions() {
    let mut g = group(&[
        // The child is listed first: the group orders parents first anyway.
        (
            "ApiSlow",
            "expr: latency_seconds\nabove: { critical: 4 }\ndepends_on: [DbDown]\nflap_detection: false",
        ),
        (
            "DbDown",
            "expr: db_up == bool 0\nlevel: critical\nflap_detection: false",
        ),
    ]);
    let mut q = MemoryQuerier::default();
    load(&mut q, r#"db_up{db="main"} 1 0 0 1 1"#);
    load(&mut q, r#"latency_seconds{job="api"} 5 9 9 9 1"#);
    let out = eval(&mut g, &mut q, 0);
    // Before the parent fires, the child notifies as usual.
    let child = out.rules.iter().find(|r| r.name == "ApiSlow").unwrap();
    let t = &child.alerts.as_ref().unwrap().transitions[0];
    assert!(t.notify && t.suppressed_by.is_none());
    eval(&mut g, &mut q, 1);
    assert_eq!(alerts(&g, "DbDown"), ["critical firing db=main"]);
    // A new child alert while the parent fires: recorded, suppressed, not notified. The
    // group gives the child a new alert by moving it to a new instance label.
    let mut q2 = q.clone();
    load(&mut q2, r#"latency_seconds{job="web"} 9 9 9 9 9"#);
    let out = eval(&mut g, &mut q2, 2);
    let child = out.rules.iter().find(|r| r.name == "ApiSlow").unwrap();
    let step = child.alerts.as_ref().unwrap();
    let web = step
        .transitions
        .iter()
        .find(|t| t.key.labels.get("job") == Some("web"))
        .expect("web alert moved");
    assert_eq!(web.to, AlertPhase::Firing);
    assert!(!web.notify);
    assert_eq!(web.suppressed_by.as_deref(), Some("DbDown"));
    let record = step
        .records
        .iter()
        .find(|r| r.key.labels.get("job") == Some("web"))
        .unwrap();
    assert_eq!(record.suppressed_by.as_deref(), Some("DbDown"));
    // The api alert, told before the parent fired, still tells its resolution.
    let out = eval(&mut g, &mut q2, 4);
    let child = out.rules.iter().find(|r| r.name == "ApiSlow").unwrap();
    let api = child
        .alerts
        .as_ref()
        .unwrap()
        .transitions
        .iter()
        .find(|t| t.key.labels.get("job") == Some("api"))
        .expect("api alert moved");
    assert_eq!(api.to, AlertPhase::Resolved);
    assert!(api.notify, "resolutions still flow");
}

#[test]
fn the_error_ratio_needs_a_minimum_sample_and_many_errors_are_critical() {
    let rule = "errors: 'http_errors_total'\ntotal: 'http_requests_total'\nby: [job]\nwindow: 10m\n\
                ratio_above: 0.2\nmin_total: 30\ncritical_errors: 1000\nflap_detection: false";
    let mut g = group(&[("ApiErrors", rule)]);
    let mut q = MemoryQuerier::default();
    // few: 2 requests a minute, half failing: 50 % of ~20 requests, below the minimum.
    load(&mut q, r#"http_requests_total{job="few"} 0+2x20"#);
    load(&mut q, r#"http_errors_total{job="few"} 0+1x20"#);
    // some: 10 a minute, 4 failing: 40 % of ~100 requests.
    load(&mut q, r#"http_requests_total{job="some"} 0+10x20"#);
    load(&mut q, r#"http_errors_total{job="some"} 0+4x20"#);
    // many: 1000 a minute, 150 failing: 15 %, but ~1500 errors in the window.
    load(&mut q, r#"http_requests_total{job="many"} 0+1000x20"#);
    load(&mut q, r#"http_errors_total{job="many"} 0+150x20"#);
    // clean: requests and no error series at all: a ratio of 0, not "no data".
    load(&mut q, r#"http_requests_total{job="clean"} 0+100x20"#);
    eval(&mut g, &mut q, 15);
    assert_eq!(
        alerts(&g, "ApiErrors"),
        ["critical firing job=many", "non-critical firing job=some"]
    );
}

#[test]
fn a_rule_that_cannot_be_evaluated_raises_the_meta_alert_until_it_works_again() {
    /// A store that cannot be read.
    struct Broken;
    impl Querier for Broken {
        fn select(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<SeriesData>, StoreError> {
            Err(StoreError::Unavailable("disk on fire".into()))
        }
        fn label_names(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<String>, StoreError> {
            Err(StoreError::Unavailable("disk on fire".into()))
        }
        fn label_values(
            &self,
            _: &str,
            _: &[Matcher],
            _: TimeRange,
        ) -> Result<Vec<String>, StoreError> {
            Err(StoreError::Unavailable("disk on fire".into()))
        }
    }
    let mut g = group(&[(
        "Latency",
        "expr: latency_seconds\nabove: { critical: 4 }\nflap_detection: false",
    )]);
    let out = g.evaluate(&Broken, 0);
    let meta = out.rules.last().unwrap();
    assert_eq!(meta.name, RULE_FAILING_ALERT);
    let t = &meta.alerts.as_ref().unwrap().transitions[0];
    assert_eq!(t.to, AlertPhase::Firing);
    assert!(t.notify);
    assert_eq!(t.key.labels.get("rule"), Some("Latency"));
    assert_eq!(t.key.labels.get("group"), Some("periscope"));
    assert_eq!(t.key.labels.get("level"), Some("critical"));
    let record = &g.meta_alerts()[0];
    assert!(
        record.annotations["error"].contains("disk on fire"),
        "{:?}",
        record.annotations
    );
    // The rule's own alerts are untouched: no data is not claimed for an unreadable store.
    assert!(alerts(&g, "Latency").is_empty());

    let mut q = MemoryQuerier::default();
    load(&mut q, r#"latency_seconds{job="api"} 1 1"#);
    let out = g.evaluate(&q, MIN);
    let t = &out
        .rules
        .last()
        .unwrap()
        .alerts
        .as_ref()
        .unwrap()
        .transitions[0];
    assert_eq!(t.to, AlertPhase::Resolved);
}

#[test]
fn short_forms_compile_to_documented_promql() {
    let p = periods();
    let query = |yaml: &str| compile("r", &def(yaml), &p).expect("compiles").query_text();
    assert_eq!(
        query("monitor: disk"),
        r#"last_over_time(periscope_check_status{monitor="disk"}[1h])"#
    );
    assert_eq!(
        query("log: app/errors\nwindow: 10m\nabove: { non_critical: 0, critical: 10 }"),
        r#"sum_over_time(periscope_log_matches{monitor="app",rule="errors"}[10m])"#
    );
    assert_eq!(
        query("heartbeat: 'b{job=\"x\"}'\nmax_age: 26h"),
        r#"time() - last_over_time(b{job="x"}[52h])"#
    );
    assert_eq!(
        query(
            "timing: 'job_duration_seconds{job=\"import\"}'\nwindow: 1h\nstat: p95\nabove: { critical: 30 }"
        ),
        r#"quantile_over_time(0.95, job_duration_seconds{job="import"}[1h])"#
    );
    assert_eq!(
        query("errors: e\ntotal: t\nwindow: 5m\nratio_above: 0.1"),
        "((sum (increase(e[5m]))) or (sum (increase(t[5m]))) * 0) / (sum (increase(t[5m])))"
    );
}

#[test]
fn the_monitor_form_fires_on_warning_and_critical_outcomes() {
    let mut g = group(&[("disk", "monitor: disk\nflap_detection: false")]);
    let mut q = MemoryQuerier::default();
    load(
        &mut q,
        r#"periscope_check_status{monitor="disk"} 0 1 2 3 0"#,
    );
    let want = [
        "",
        "non-critical firing monitor=disk",
        "critical firing monitor=disk;non-critical resolved monitor=disk",
        "critical firing monitor=disk",
        "critical resolved monitor=disk",
    ];
    for (minute, want) in want.iter().enumerate() {
        eval(&mut g, &mut q, minute as i64);
        let got = alerts(&g, "disk");
        assert_eq!(got.join(";"), *want, "minute {minute}");
    }
}

#[test]
fn bad_tables_say_which_key_is_wrong() {
    let p = periods();
    let issues = |yaml: &str| -> Vec<String> {
        compile("r", &def(yaml), &p)
            .expect_err("refused")
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect()
    };
    let got = issues("expr: x\nabove: { critical: 1 }\nfor: 5m\nfor_checks: 3");
    assert!(
        got.iter().any(|i| i.starts_with("for_checks: set either")),
        "{got:?}"
    );
    let got = issues("expr: x\nabove: { critical: 1, non_critical: 2 }");
    assert!(
        got.iter()
            .any(|i| i.starts_with("above: ") && i.contains("at most")),
        "{got:?}"
    );
    let got = issues("expr: x\nwhen: [ { during: 'lunch_time', above: { critical: 1 } } ]");
    assert!(
        got.iter()
            .any(|i| i.starts_with("when: ") && i.contains("lunch_time")),
        "{got:?}"
    );
    let got = issues("expr: 'rate(x[5m]'\nabove: { critical: 1 }");
    assert!(
        got.iter().any(|i| i.starts_with("expr: not valid PromQL")),
        "{got:?}"
    );
    let got = issues("log: no-slash\nwindow: 5m\nabove: { critical: 1 }");
    assert!(got.iter().any(|i| i.starts_with("log: ")), "{got:?}");
    let got = issues("errors: e\nwindow: 5m\nratio_above: 0.2");
    assert!(got.iter().any(|i| i.starts_with("total: ")), "{got:?}");
    let got = issues("expr: x");
    assert!(got.iter().any(|i| i.contains("no thresholds")), "{got:?}");
    assert!(serde_saphyr::from_str::<RuleDef>("expr: x\nlevel: page").is_err());
    assert!(serde_saphyr::from_str::<RuleDef>("expr: x\nthreshold: 3").is_err());
}
