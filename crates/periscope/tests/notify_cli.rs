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

const PARTNERS: &str = r#"
[partner.acme]
description = "rating service"
hours = "mon-fri 08:00-18:00 America/New_York"
after = "1h"
only_in_hours = true
[[partner.acme.contact]]
name = "ACME NOC"
email = "noc@acme.example"
[[partner.acme.channel]]
kind = "webhook"
url = "http://127.0.0.1:9/acme"
[[partner.acme.failure_mode]]
name = "zip code mismatch"
matchers = ['error="zip"']
response = "WONTFIX: they update twice a year"
notify = "never"
[[partner.acme.downtime]]
when = "sun 02:00-04:00 America/New_York"
comment = "ACME's weekly batch"
"#;

#[test]
fn test_route_shows_what_a_partners_rule_does() {
    let w = World::new(&format!("{CONFIG}{PARTNERS}"));
    // Wednesday 10:00 New York (15:00 UTC): our pager hears at once, ACME in an hour.
    let out = w.run(&[
        "test-route",
        "alertname=QuoteErrors",
        "level=critical",
        "partner=acme",
        "--at",
        "2026-11-18T15:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "Route root.0 {level=\"critical\"} -> pager",
        "Route partner:acme {partner=\"acme\"} -> partner:acme",
        "receiver partner:acme: partner:acme/0:webhook",
        "partner acme: rating service",
        "partner acme: only if still failing 1h after it began: told at 2026-11-18T16:00:00.000Z if still failing",
        "contacts: ACME NOC <noc@acme.example>",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Friday 17:30 New York: the hour is up at 18:30, after their hours: Monday 08:00.
    let friday = stdout(&w.run(&[
        "test-route",
        "alertname=QuoteErrors",
        "partner=acme",
        "--at",
        "2026-11-20T22:30:00Z",
    ]));
    assert!(
        friday.contains("told at 2026-11-23T13:00:00.000Z if still failing"),
        "{friday}"
    );
    let wontfix = stdout(&w.run(&[
        "test-route",
        "alertname=Mismatch",
        "partner=acme",
        "error=zip",
        "--at",
        "2026-11-18T15:00:00Z",
    ]));
    assert!(
        wontfix.contains("failure mode \"zip code mismatch\": WONTFIX: they update twice a year"),
        "{wontfix}"
    );
    assert!(
        wontfix.contains("NOT TOLD: failure mode \"zip code mismatch\": never notified"),
        "{wontfix}"
    );
    // Sunday 03:00 New York: their batch window mutes their alerts for everyone.
    let batch = stdout(&w.run(&[
        "test-route",
        "alertname=QuoteErrors",
        "partner=acme",
        "--at",
        "2026-11-22T08:00:00Z",
    ]));
    assert!(batch.contains("MUTED at this time"), "{batch}");
    assert!(batch.contains("ACME's weekly batch"), "{batch}");
}

#[test]
fn partner_mistakes_are_reported_with_their_place() {
    let broken = PARTNERS
        .replace("after = \"1h\"", "after = \"soon\"")
        .replace("notify = \"never\"", "notify = \"rarely\"")
        .replace("kind = \"webhook\"", "kind = \"fax\"")
        .replace(
            "[[partner.acme.downtime]]\n",
            "[[partner.acme.downtime]]\nfrom = \"yesterday\"\n",
        );
    let w = World::new(&format!(
        "{CONFIG}{broken}\n[partner.zeta]\ndescription = \"no contact\"\n"
    ));
    let text = stderr(&w.run(&["check-config"]));
    for expected in [
        "partner.acme.after: ",
        "partner.acme.failure_mode.0.notify: `rarely` is not a notification rule",
        "partner.acme.channel.0.kind: unknown channel kind `fax`",
        "partner.acme.downtime.0.from: \"yesterday\" is not an RFC 3339 time",
        "partner.zeta: partner `zeta` has no way to be told",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Partners without [notify] are an error, not silently ignored.
    let w = World::new("[partner.acme]\nnotify = \"never\"\n");
    let text = stderr(&w.run(&["check-config"]));
    assert!(
        text.contains("partner: partners are told through [notify], which is missing"),
        "{text}"
    );
}

#[test]
fn test_route_names_the_people_of_non_critical_news_inside_their_hours() {
    let config = r#"
[notify.route]
receiver = "team"

[notify.receiver.team]
hours = "weekdays 08:00-20:00 Europe/London"
escalation = "day"
[[notify.receiver.team.channel]]
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[person.alice]
email = "alice@example.com"
hours = "weekdays 09:00-17:00 Europe/London"
[person.carol]
email = "carol@example.com"

[escalation.day]
[[escalation.day.step]]
notify = ["person:alice", "person:carol"]
after = "15m"
[[escalation.day.step]]
notify = ["person:carol"]
"#;
    let w = World::new(config);
    let route = |at: &str| {
        let out = w.run(&[
            "test-route",
            "alertname=QueueSlow",
            "level=non-critical",
            "--at",
            at,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    let morning = route("2026-11-25T10:00:00Z");
    assert!(
        morning.contains("people (first step of escalation day, no escalation): alice, carol"),
        "{morning}"
    );
    let evening = route("2026-11-25T18:00:00Z");
    assert!(
        evening.contains("people (first step of escalation day, no escalation): carol"),
        "{evening}"
    );
    assert!(
        evening.contains("left out: alice: outside their hours"),
        "{evening}"
    );
}
