use std::collections::BTreeMap;

use model::time_period::RawTimePeriod;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

fn route(receiver: &str, matchers: &[&str]) -> RawRoute {
    RawRoute {
        receiver: Some(receiver.into()),
        matchers: matchers.iter().map(|m| m.to_string()).collect(),
        ..RawRoute::default()
    }
}

fn tree(root: &RawRoute) -> RouteTree {
    RouteTree::build(root, &|_| true, &TimePeriods::default()).unwrap()
}

fn receivers(tree: &RouteTree, l: &Labels) -> Vec<String> {
    tree.matching(l)
        .iter()
        .map(|r| r.receiver.clone())
        .collect()
}

#[test]
fn first_match_wins_unless_continue_and_the_root_catches_the_rest() {
    // The shape of a common alertmanager.yml: test=1 goes to test1 only, test=2 to test1 and
    // (because test1 continues) test2, anything else to the default.
    let mut first = route("test1", &[r#"test=~"[12]""#]);
    first.continue_matching = true;
    let mut root = route("default", &[]);
    root.routes = vec![first, route("test2", &[r#"test="2""#])];
    let t = tree(&root);
    assert_eq!(receivers(&t, &labels(&[("test", "1")])), ["test1"]);
    assert_eq!(receivers(&t, &labels(&[("test", "2")])), ["test1", "test2"]);
    assert_eq!(receivers(&t, &labels(&[("test", "3")])), ["default"]);
    assert_eq!(receivers(&t, &labels(&[])), ["default"]);
}

#[test]
fn without_continue_later_siblings_are_not_tried() {
    let mut root = route("default", &[]);
    root.routes = vec![
        route("db", &[r#"service="db""#]),
        route("critical", &[r#"level="critical""#]),
    ];
    let t = tree(&root);
    let l = labels(&[("service", "db"), ("level", "critical")]);
    assert_eq!(receivers(&t, &l), ["db"]);
}

#[test]
fn children_inherit_what_they_do_not_set_and_descend_deepest_first() {
    let mut payments = RawRoute {
        matchers: vec![r#"service="payments""#.into()],
        group_by: Some(vec!["alertname".into(), "instance".into()]),
        group_wait: Some("10s".into()),
        ..RawRoute::default()
    };
    payments.routes = vec![route("payments-pager", &[r#"level="critical""#])];
    let mut root = route("ops", &[]);
    root.repeat_interval = Some("1h".into());
    root.routes = vec![payments];
    let t = tree(&root);

    let critical = labels(&[("service", "payments"), ("level", "critical")]);
    let matched = t.matching(&critical);
    assert_eq!(matched.len(), 1);
    let r = matched[0];
    assert_eq!(r.receiver, "payments-pager");
    assert_eq!(r.path, "root.0.0");
    assert_eq!(r.timing.group_wait, Duration::from_secs(10));
    assert_eq!(r.timing.group_interval, DEFAULT_GROUP_INTERVAL);
    assert_eq!(r.timing.repeat_interval, Duration::from_secs(3600));
    assert_eq!(
        r.group_by,
        GroupBy::Labels(vec!["alertname".into(), "instance".into()])
    );
    // A payments alert that is not critical stops at the payments route, which inherited
    // the root's receiver.
    let other = labels(&[("service", "payments"), ("level", "non-critical")]);
    assert_eq!(receivers(&t, &other), ["ops"]);
    assert_eq!(t.matching(&other)[0].path, "root.0");
}

#[test]
fn group_by_picks_labels_or_all() {
    let l = labels(&[("alertname", "Down"), ("instance", "a"), ("job", "x")]);
    let by = GroupBy::Labels(vec!["alertname".into(), "cluster".into()]);
    assert_eq!(by.group_labels(&l), labels(&[("alertname", "Down")]));
    assert_eq!(GroupBy::All.group_labels(&l), l);
    let mut root = route("r", &[]);
    root.group_by = Some(vec!["...".into()]);
    assert_eq!(tree(&root).root().group_by, GroupBy::All);
}

#[test]
fn time_periods_mute_and_activate_routes() {
    let defs = BTreeMap::from([
        (
            "office".to_string(),
            RawTimePeriod::line("weekdays 09:00-17:00 UTC"),
        ),
        (
            "deploys".to_string(),
            RawTimePeriod::line("tue 10:00-11:00 UTC"),
        ),
    ]);
    let periods = TimePeriods::build(&defs).unwrap();
    let mut root = route("r", &[]);
    root.active_time_periods = Some(vec!["office".into()]);
    root.mute_time_periods = Some(vec!["deploys".into()]);
    let t = RouteTree::build(&root, &|_| true, &periods).unwrap();
    let at = |s: &str| model::Timestamp::from_jiff(s.parse().unwrap());
    // Tuesday 24 Nov 2026.
    assert_eq!(t.root().muted_at(at("2026-11-24T09:30:00Z")), None);
    assert_eq!(
        t.root().muted_at(at("2026-11-24T10:30:00Z")),
        Some(("deploys".to_string(), true))
    );
    assert_eq!(
        t.root().muted_at(at("2026-11-24T18:00:00Z")),
        Some(("office".to_string(), false))
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let mut bad_child = RawRoute {
        receiver: Some("nobody".into()),
        matchers: vec!["service".into()],
        group_wait: Some("soon".into()),
        group_interval: Some("0".into()),
        mute_time_periods: Some(vec!["never-defined".into()]),
        ..RawRoute::default()
    };
    bad_child.routes = vec![RawRoute {
        group_by: Some(vec!["...".into(), "job".into()]),
        ..RawRoute::default()
    }];
    let root = RawRoute {
        matchers: vec![r#"a="b""#.into()],
        routes: vec![bad_child],
        ..RawRoute::default()
    };
    let issues = RouteTree::build(&root, &|r| r == "ops", &TimePeriods::default()).unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "receiver",
            "matchers",
            "route.0.receiver",
            "route.0.matchers",
            "route.0.group_wait",
            "route.0.group_interval",
            "route.0.mute_time_periods",
            "route.0.route.0.group_by",
        ],
        "{issues:#?}"
    );
    assert!(issues[2].message.contains("unknown receiver `nobody`"));
    assert!(
        issues[6]
            .message
            .contains("unknown time period `never-defined`")
    );
}
