use super::*;
use crate::route::RawRoute;
use model::time_period::TimePeriods;

const S: i64 = 1000;

fn tree(group_wait: &str, group_interval: &str) -> Arc<RouteTree> {
    let mut pager = RawRoute {
        receiver: Some("pager".into()),
        matchers: vec![r#"level="critical""#.into()],
        continue_matching: true,
        ..RawRoute::default()
    };
    pager.group_wait = Some("0s".into());
    let root = RawRoute {
        receiver: Some("ops".into()),
        group_by: Some(vec!["alertname".into()]),
        group_wait: Some(group_wait.into()),
        group_interval: Some(group_interval.into()),
        routes: vec![pager],
        ..RawRoute::default()
    };
    Arc::new(RouteTree::build(&root, &|_| true, &TimePeriods::default()).unwrap())
}

fn alert(name: &str, instance: &str, start: i64) -> Alert {
    let labels: Labels = [("alertname", name), ("instance", instance)]
        .into_iter()
        .collect();
    Alert::firing(labels, Timestamp(start))
}

fn names(flush: &Flush) -> Vec<(String, bool)> {
    flush
        .alerts
        .iter()
        .map(|a| (a.labels.get("instance").unwrap().to_string(), a.is_firing()))
        .collect()
}

#[test]
fn a_new_group_waits_group_wait_then_flushes_every_group_interval() {
    let mut d = Dispatcher::new(tree("30s", "5m"));
    d.insert(alert("Down", "a", 0), Timestamp(0));
    d.insert(alert("Down", "b", 10 * S), Timestamp(10 * S));
    assert_eq!(d.next_wake(), Some(Timestamp(30 * S)));
    assert!(d.flush_due(Timestamp(29 * S)).is_empty());
    let flushes = d.flush_due(Timestamp(30 * S));
    assert_eq!(flushes.len(), 1);
    assert_eq!(flushes[0].receiver, "ops");
    assert_eq!(flushes[0].key, r#"root:{alertname="Down"}"#);
    assert_eq!(names(&flushes[0]), [("a".into(), true), ("b".into(), true)]);
    // The next flush is one group_interval later, whatever arrives in between.
    d.insert(alert("Down", "c", 60 * S), Timestamp(60 * S));
    assert_eq!(d.next_wake(), Some(Timestamp(330 * S)));
    let again = d.flush_due(Timestamp(330 * S));
    assert_eq!(again[0].alerts.len(), 3);
}

#[test]
fn groups_split_by_group_by_labels() {
    let mut d = Dispatcher::new(tree("30s", "5m"));
    d.insert(alert("Down", "a", 0), Timestamp(0));
    d.insert(alert("DiskFull", "a", 0), Timestamp(0));
    let mut keys: Vec<String> = d
        .flush_due(Timestamp(30 * S))
        .into_iter()
        .map(|f| f.key)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            r#"root:{alertname="DiskFull"}"#,
            r#"root:{alertname="Down"}"#
        ]
    );
}

#[test]
fn resolved_alerts_leave_with_the_flush_that_carries_them_and_empty_groups_go() {
    let mut d = Dispatcher::new(tree("30s", "5m"));
    d.insert(alert("Down", "a", 0), Timestamp(0));
    d.insert(alert("Down", "b", 0), Timestamp(0));
    d.flush_due(Timestamp(30 * S));
    d.insert(
        alert("Down", "a", 0).resolved_at(Timestamp(100 * S)),
        Timestamp(100 * S),
    );
    assert_eq!(d.alert_count(), 2);
    let f = d.flush_due(Timestamp(330 * S));
    assert_eq!(names(&f[0]), [("b".into(), true), ("a".into(), false)]);
    assert_eq!(d.alert_count(), 1);
    d.insert(
        alert("Down", "b", 0).resolved_at(Timestamp(400 * S)),
        Timestamp(400 * S),
    );
    let f = d.flush_due(Timestamp(630 * S));
    assert_eq!(names(&f[0]), [("b".into(), false)]);
    assert_eq!(d.groups().count(), 0);
    assert_eq!(d.next_wake(), None);
    assert_eq!(d.alert_count(), 0);
}

#[test]
fn a_resolution_alone_never_starts_a_group() {
    let mut d = Dispatcher::new(tree("30s", "5m"));
    d.insert(
        alert("Down", "a", 0).resolved_at(Timestamp(5 * S)),
        Timestamp(5 * S),
    );
    assert_eq!(d.groups().count(), 0);
    assert_eq!(d.next_wake(), None);
}

#[test]
fn an_alert_goes_to_the_matching_child_not_also_to_its_parent() {
    let mut d = Dispatcher::new(tree("30s", "5m"));
    let mut critical = alert("Down", "a", 0);
    critical.labels.set("level", "critical");
    d.insert(critical, Timestamp(0));
    // The pager child matches, so the root is not an answer of its own (`continue` only lets
    // later siblings be tried); the pager route waits 0 s.
    let f = d.flush_due(Timestamp(0));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].receiver, "pager");
}

#[test]
fn a_late_wake_up_does_not_shift_the_schedule() {
    let mut d = Dispatcher::new(tree("30s", "5m"));
    d.insert(alert("Down", "a", 0), Timestamp(0));
    d.flush_due(Timestamp(31 * S));
    assert_eq!(d.next_wake(), Some(Timestamp(330 * S)));
}
