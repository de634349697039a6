//! `periscope test-route`, `periscope oncall who` and the response side's config errors, with
//! the real binary.

mod common;

use common::{World, stderr, stdout};

const CONFIG: &str = r#"
[time_period.office]
weekdays = ["weekdays"]
times = ["09:00-17:00"]
time_zone = "Europe/London"

[notify.route]
receiver = "team"
group_by = ["alertname"]
[[notify.route.route]]
matchers = ['level="critical"']
receiver = "pager"

[notify.receiver.team]
hours = "office"
[[notify.receiver.team.channel]]
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[notify.receiver.pager]
escalation = "ops"
[[notify.receiver.pager.channel]]
kind = "webhook"
url = "http://127.0.0.1:9/page"

[person.alice]
email = "alice@example.com"
[person.bob]
email = "bob@example.com"
[person.dave]
email = "dave@example.com"

[schedule.ops]
time_zone = "Europe/London"
[[schedule.ops.layer]]
people = ["alice", "bob"]
handoff = "weekly mon 09:00"
start = "2026-11-02"
[[schedule.ops.override]]
person = "dave"
from = "2026-12-24 18:00"
to = "2026-12-27 09:00"
reason = "holiday swap"

[escalation.ops]
[[escalation.ops.step]]
notify = ["schedule:ops"]
after = "15m"
[[escalation.ops.step]]
notify = ["person:dave"]
"#;

#[test]
fn oncall_who_follows_rotations_and_overrides() {
    let w = World::new(CONFIG);
    // Week of 16 Nov: the third week since 2 Nov, alice again.
    let out = w.run(&["oncall", "who", "--at", "2026-11-18T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("ops: alice <alice@example.com> from 2026-11-16T09:00:00.000Z until 2026-11-23T09:00:00.000Z (layer "), "{text}");
    // Monday 23 Nov 08:59 and 09:00 London (GMT): the handoff.
    let before = stdout(&w.run(&["oncall", "who", "ops", "--at", "2026-11-23T08:59:00Z"]));
    let after = stdout(&w.run(&["oncall", "who", "ops", "--at", "2026-11-23T09:00:00Z"]));
    assert!(before.contains("ops: alice"), "{before}");
    assert!(after.contains("ops: bob"), "{after}");
    let christmas = stdout(&w.run(&["oncall", "who", "--at", "2026-12-25T03:00:00Z"]));
    assert!(
        christmas.contains("ops: dave") && christmas.contains("override: holiday swap"),
        "{christmas}"
    );
    let unknown = w.run(&["oncall", "who", "nightshift"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no schedule is called `nightshift`"));
}

#[test]
fn test_route_says_who_hears_when_and_why() {
    let w = World::new(CONFIG);
    // Saturday 2 AM: critical pages the on-call person now; non-critical waits for Monday.
    let page = w.run(&[
        "test-route",
        "alertname=Down",
        "level=critical",
        "--at",
        "2026-11-21T02:00:00Z",
    ]);
    assert_eq!(page.status.code(), Some(0), "{}", stderr(&page));
    let text = stdout(&page);
    assert!(
        text.contains("Route root.0 {level=\"critical\"} -> pager"),
        "{text}"
    );
    assert!(text.contains("critical: sent at once, 24x7"), "{text}");
    assert!(
        text.contains("step 1 at 2026-11-21T02:00:00.000Z: alice (on call in ops"),
        "{text}"
    );
    assert!(
        text.contains("step 2 at 2026-11-21T02:15:00.000Z: dave"),
        "{text}"
    );

    let wait = stdout(&w.run(&[
        "test-route",
        "alertname=SlowQueries",
        "level=non-critical",
        "--at",
        "2026-11-21T02:00:00Z",
    ]));
    assert!(wait.contains("Route root -> team"), "{wait}");
    assert!(
        wait.contains("held for the digest sent when office begins (2026-11-23T09:00:00.000Z)"),
        "{wait}"
    );
    let day = stdout(&w.run(&[
        "test-route",
        "alertname=SlowQueries",
        "level=non-critical",
        "--at",
        "2026-11-23T10:00:00Z",
    ]));
    assert!(
        day.contains("non-critical inside office: sent at once"),
        "{day}"
    );

    let logged = stdout(&w.run(&["test-route", "alertname=BackupDone", "level=logged"]));
    assert!(logged.contains("nobody is notified"), "{logged}");
    let bad = w.run(&["test-route", "alertname"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("is not NAME=VALUE"));
}

#[test]
fn response_config_mistakes_are_all_reported_with_their_place() {
    let broken = CONFIG
        .replace("receiver = \"pager\"", "receiver = \"pagr\"")
        .replace("escalation = \"ops\"", "escalation = \"opps\"")
        .replace(
            "url = \"http://127.0.0.1:9/page\"",
            "url = \"http://127.0.0.1:9/page\"\nretries = 3",
        );
    let w = World::new(&broken);
    let out = w.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    for expected in [
        "periscope.toml:12:12: notify.route.route.0.receiver: unknown receiver `pagr`",
        "notify.receiver.pager.escalation: no escalation policy is called `opps`",
        "hint: define [escalation.opps]; known: ops",
        "notify.receiver.pager.channel.0: unknown field `retries`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // A broken schedule is reported once, without a cascade of errors from the policies that
    // name it.
    let w = World::new(&CONFIG.replace(
        "handoff = \"weekly mon 09:00\"",
        "handoff = \"fortnightly\"",
    ));
    let text = stderr(&w.run(&["check-config"]));
    assert!(
        text.starts_with("1 problem in the configuration:"),
        "{text}"
    );
    assert!(
        text.contains("schedule.ops.layer.0.handoff: 'fortnightly' is not a handoff"),
        "{text}"
    );
}
