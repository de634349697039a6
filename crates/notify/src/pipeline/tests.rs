//! Time-driven tests of the whole pipeline: `now` is whatever the test says, so hours and
//! nights of behaviour run at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use model::alert::{Document, DocumentWrite};
use model::time_period::TimePeriods;
use model::{Labels, Timestamp};

use super::*;
use crate::ack::AckSigner;
use crate::channel::{BoxFuture, Delivered, DeliveryError, Notification};
use crate::escalation::RawPolicy;
use crate::inhibit::RawInhibitRule;
use crate::oncall::RawPerson;
use crate::route::RawRoute;
use crate::silence::NewSilence;

/// A channel the pure pipeline never calls: tests report outcomes themselves.
pub(super) struct Inert(pub(super) &'static str);

impl Channel for Inert {
    fn kind(&self) -> &'static str {
        self.0
    }
    fn deliver<'a>(
        &'a self,
        _: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async { Ok(Delivered::default()) })
    }
}

pub(super) fn at(text: &str) -> Timestamp {
    Timestamp::from_jiff(text.parse().unwrap())
}

pub(super) fn alert(name: &str, instance: &str, level: &str, start: Timestamp) -> Alert {
    let labels: Labels = [
        ("alertname", name),
        ("instance", instance),
        ("level", level),
    ]
    .into_iter()
    .collect();
    Alert::firing(labels, start)
}

pub(super) struct Options {
    pub(super) hours: Option<&'static str>,
    pub(super) escalation: bool,
    pub(super) inhibit: Vec<RawInhibitRule>,
}

/// Everything to `ops`, by `alertname`, waiting 30 s, updating every 5 min, repeating every 4 h.
pub(super) fn root_route() -> RawRoute {
    RawRoute {
        receiver: Some("ops".into()),
        group_by: Some(vec!["alertname".into()]),
        group_wait: Some("30s".into()),
        group_interval: Some("5m".into()),
        repeat_interval: Some("4h".into()),
        ..RawRoute::default()
    }
}

pub(super) fn setup(opts: Options) -> Setup {
    let root = root_route();
    let tree = Arc::new(RouteTree::build(&root, &|_| true, &TimePeriods::default()).unwrap());
    let mut ops = Receiver::new(
        "ops",
        vec![Arc::new(Inert("webhook")), Arc::new(Inert("email"))],
    );
    ops.hours = opts
        .hours
        .map(|h| ("office".to_string(), h.parse().unwrap()));
    let people = BTreeMap::from([
        (
            "alice".to_string(),
            RawPerson {
                email: "alice@example.com".into(),
                ..RawPerson::default()
            },
        ),
        (
            "bob".to_string(),
            RawPerson {
                email: "bob@example.com".into(),
                ..RawPerson::default()
            },
        ),
    ]);
    let oncall = OnCall::build(&people, &BTreeMap::new()).unwrap();
    let policy: RawPolicy = serde_json::from_value(serde_json::json!({
        "repeat": 1,
        "step": [
            { "notify": ["person:alice"], "after": "15m" },
            { "notify": ["person:bob"] },
        ]
    }))
    .unwrap();
    let policies =
        EscalationPolicies::build(&BTreeMap::from([("ops".to_string(), policy)]), &oncall).unwrap();
    if opts.escalation {
        ops.escalation = Some("ops".into());
    }
    Setup {
        tree,
        receivers: HashMap::from([("ops".to_string(), ops)]),
        inhibitor: Inhibitor::build(&opts.inhibit).unwrap(),
        maintenance: MaintenanceWindows::build(&[], &TimePeriods::default()).unwrap(),
        dependencies: Dependencies::build(&BTreeMap::new()).unwrap(),
        oncall: Arc::new(oncall),
        policies: Arc::new(policies),
        external_url: "http://periscope.test".into(),
        ack_links: AckSigner::new(b"a test secret of 32 bytes, really"),
        partners: Default::default(),
    }
}

pub(super) fn plain() -> Options {
    Options {
        hours: None,
        escalation: false,
        inhibit: Vec::new(),
    }
}

/// Delivers every delivery successfully; returns them.
pub(super) fn deliver_all(p: &mut Pipeline, now: Timestamp) -> Vec<Delivery> {
    let out = p.tick(now);
    for d in &out {
        let r = p.finished(
            &d.entry.integration,
            &d.entry.group_key,
            Ok(Delivered::default()),
            now,
        );
        assert_eq!(r, Finished::Delivered);
    }
    out
}

fn statuses(d: &Delivery) -> Vec<(String, &'static str)> {
    d.entry
        .notification
        .alerts
        .iter()
        .map(|a| {
            (
                a.labels.get("instance").unwrap().to_string(),
                a.status().as_str(),
            )
        })
        .collect()
}

#[test]
fn critical_news_goes_to_every_channel_once_then_only_changes_and_repeats() {
    let t0 = at("2026-11-21T02:00:00Z");
    let mut p = Pipeline::new(setup(plain()));
    p.ingest(alert("Down", "a", "critical", t0), t0);
    assert_eq!(p.next_wake(t0), Some(t0.plus_millis(30_000)));
    assert!(p.tick(t0.plus_millis(29_999)).is_empty());
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    let channels: Vec<&str> = sent.iter().map(|d| d.entry.integration.as_str()).collect();
    assert_eq!(channels.len(), 2);
    assert!(channels.contains(&"ops/0:webhook") && channels.contains(&"ops/1:email"));
    // Five minutes on, nothing changed: nothing sent.
    assert!(deliver_all(&mut p, t0.plus_millis(330_000)).is_empty());
    // A second alert joins the group: sent at the next group interval, with both.
    p.ingest(
        alert("Down", "b", "critical", t0.plus_millis(400_000)),
        t0.plus_millis(400_000),
    );
    let sent = deliver_all(&mut p, t0.plus_millis(630_000));
    assert_eq!(sent.len(), 2);
    assert_eq!(
        statuses(&sent[0]),
        [("a".into(), "firing"), ("b".into(), "firing")]
    );
    // Four hours after the last message, the unchanged group is repeated.
    let mut now = t0.plus_millis(630_000);
    let mut repeats = 0;
    while now < t0.plus_millis(630_000 + 4 * 3_600_000) {
        now = now.plus_millis(300_000);
        repeats += deliver_all(&mut p, now).len();
    }
    assert_eq!(repeats, 2, "one repeat per channel");
    // It resolves: both channels hear it once.
    let r = alert("Down", "a", "critical", t0).resolved_at(now);
    p.ingest(r, now);
    let sent = deliver_all(&mut p, now.plus_millis(300_000));
    assert_eq!(sent.len(), 2);
    assert_eq!(
        statuses(&sent[0]),
        [("b".into(), "firing"), ("a".into(), "resolved")]
    );
}

#[test]
fn logged_alerts_reach_nobody() {
    let t0 = at("2026-11-21T10:00:00Z");
    let mut p = Pipeline::new(setup(plain()));
    p.ingest(alert("BackupDone", "a", "logged", t0), t0);
    assert!(p.tick(t0.plus_millis(3_600_000)).is_empty());
    assert_eq!(p.counters().logged, 1);
    assert_eq!(p.next_wake(t0), None);
}

#[test]
fn non_critical_news_at_night_waits_for_one_digest_at_the_start_of_business_hours() {
    // Europe/London changes to summer time on Sunday 29 March 2026: Monday's 09:00 is 08:00 UTC.
    let opts = Options {
        hours: Some("weekdays 09:00-17:00 Europe/London"),
        ..plain()
    };
    let mut p = Pipeline::new(setup(opts));
    let night = at("2026-03-29T23:30:00Z"); // 00:30 BST on Monday
    p.ingest(alert("SlowQueries", "db1", "non-critical", night), night);
    p.ingest(alert("TapeCleaning", "lib", "non-critical", night), night);
    assert!(deliver_all(&mut p, night.plus_millis(30_000)).is_empty());
    assert_eq!(p.counters().held, 4, "two groups, two channels");
    // A problem that comes and goes overnight is still told, as resolved.
    let later = night.plus_millis(3_600_000);
    p.ingest(
        alert("TapeCleaning", "lib", "non-critical", night).resolved_at(later),
        later,
    );
    let mut now = night.plus_millis(30_000);
    while now < at("2026-03-30T07:59:00Z") {
        now = p.next_wake(now).unwrap().max(now.plus_millis(1));
        if now >= at("2026-03-30T07:59:00Z") {
            break;
        }
        assert!(deliver_all(&mut p, now).is_empty(), "sent at {now}");
    }
    // One second before 09:00 BST nothing goes; at 09:00 BST the digest does.
    assert!(deliver_all(&mut p, at("2026-03-30T07:59:59Z")).is_empty());
    let morning = at("2026-03-30T08:00:00Z");
    let sent = deliver_all(&mut p, morning);
    assert_eq!(sent.len(), 2, "one digest per channel");
    let digest = &sent[0].entry.notification;
    assert_eq!(digest.group_key, "digest:ops");
    let mut told: Vec<(String, &str)> = digest
        .alerts
        .iter()
        .map(|a| (a.name().to_string(), a.status().as_str()))
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            ("SlowQueries".into(), "firing"),
            ("TapeCleaning".into(), "resolved")
        ]
    );
    // The groups already told in the digest are not told again at their next flush.
    assert!(deliver_all(&mut p, morning.plus_millis(300_000)).is_empty());
    // During the day non-critical news goes out at once.
    let noon = at("2026-03-30T11:00:00Z");
    p.ingest(alert("SlowQueries", "db2", "non-critical", noon), noon);
    assert_eq!(deliver_all(&mut p, noon.plus_millis(300_000)).len(), 2);
}

#[test]
fn critical_news_ignores_business_hours() {
    let opts = Options {
        hours: Some("weekdays 09:00-17:00 Europe/London"),
        ..plain()
    };
    let mut p = Pipeline::new(setup(opts));
    let night = at("2026-11-21T02:00:00Z");
    p.ingest(alert("Down", "a", "critical", night), night);
    assert_eq!(deliver_all(&mut p, night.plus_millis(30_000)).len(), 2);
}

#[test]
fn a_resolution_reaches_people_who_heard_even_when_a_silence_started_in_between() {
    let t0 = at("2026-11-21T10:00:00Z");
    let mut p = Pipeline::new(setup(plain()));
    p.ingest(alert("Down", "a", "critical", t0), t0);
    assert_eq!(deliver_all(&mut p, t0.plus_millis(30_000)).len(), 2);
    let id = p
        .silences_mut()
        .add(
            NewSilence {
                matchers: vec![r#"alertname="Down""#.into()],
                starts_at: t0,
                ends_at: t0.plus_millis(86_400_000),
                created_by: "alice".into(),
                comment: "replacing the disk".into(),
            },
            t0.plus_millis(60_000),
        )
        .unwrap();
    p.save_silence(&id, t0.plus_millis(60_000));
    // While silenced nothing is sent, not even the 4 h repeat.
    let mut now = t0.plus_millis(30_000);
    for _ in 0..60 {
        now = now.plus_millis(300_000);
        assert!(deliver_all(&mut p, now).is_empty());
    }
    // A new alert of the same group while silenced: still nothing.
    p.ingest(alert("Down", "b", "critical", now), now);
    now = now.plus_millis(300_000);
    assert!(deliver_all(&mut p, now).is_empty());
    // It resolves: the people who were told it fired are told it resolved; b was never told.
    p.ingest(alert("Down", "a", "critical", t0).resolved_at(now), now);
    let sent = deliver_all(&mut p, now.plus_millis(300_000));
    assert_eq!(sent.len(), 2);
    assert_eq!(statuses(&sent[0]), [("a".into(), "resolved")]);
}

#[test]
fn inhibition_mutes_targets_while_the_source_fires() {
    let rule: RawInhibitRule = serde_json::from_value(serde_json::json!({
        "source_matchers": [r#"alertname="SiteDown""#],
        "target_matchers": [r#"alertname="Down""#],
        "equal": []
    }))
    .unwrap();
    let mut p = Pipeline::new(setup(Options {
        inhibit: vec![rule],
        ..plain()
    }));
    let t0 = at("2026-11-21T10:00:00Z");
    p.ingest(alert("SiteDown", "london", "critical", t0), t0);
    p.ingest(alert("Down", "a", "critical", t0), t0);
    let sent = deliver_all(&mut p, t0.plus_millis(30_000));
    let names: Vec<&str> = sent
        .iter()
        .map(|d| d.entry.notification.alerts[0].name())
        .collect();
    assert_eq!(names, ["SiteDown", "SiteDown"]);
    assert_eq!(p.counters().muted, 1);
}

#[test]
fn retryable_failures_back_off_and_permanent_ones_stop() {
    let t0 = at("2026-11-21T10:00:00Z");
    let mut p = Pipeline::new(setup(plain()));
    p.ingest(alert("Down", "a", "critical", t0), t0);
    let now = t0.plus_millis(30_000);
    let sent = p.tick(now);
    let (web, mail) = (&sent[0].entry, &sent[1].entry);
    let web_retry = p.finished(
        &web.integration,
        &web.group_key,
        Err(DeliveryError::retryable("503")),
        now,
    );
    assert_eq!(web_retry, Finished::Retrying(now.plus_millis(1_000)));
    let mail_fail = p.finished(
        &mail.integration,
        &mail.group_key,
        Err(DeliveryError::permanent("550 no such user")),
        now,
    );
    assert_eq!(mail_fail, Finished::Failed);
    // The webhook is tried again after 1 s, then 2 s; the mail is not.
    let again = p.tick(now.plus_millis(1_000));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].entry.attempts, 1);
    let r = p.finished(
        &web.integration,
        &web.group_key,
        Err(DeliveryError::retryable("503").after(Some(std::time::Duration::from_secs(60)))),
        now.plus_millis(1_000),
    );
    assert_eq!(
        r,
        Finished::Retrying(now.plus_millis(61_000)),
        "Retry-After is honoured"
    );
    assert!(p.tick(now.plus_millis(60_000)).is_empty());
    let third = deliver_all(&mut p, now.plus_millis(61_000));
    assert_eq!(third.len(), 1);
    assert_eq!(p.counters().delivered, 1);
    // The delivered channel is not told again at the next flush; the failed one is tried anew
    // (its news is still news).
    let next = p.tick(now.plus_millis(300_000));
    let channels: Vec<&str> = next.iter().map(|d| d.entry.integration.as_str()).collect();
    assert_eq!(channels, ["ops/1:email"]);
}

#[test]
fn critical_alerts_escalate_until_acknowledged() {
    let t0 = at("2026-11-21T02:00:00Z");
    let mut p = Pipeline::new(setup(Options {
        escalation: true,
        ..plain()
    }));
    p.ingest(alert("Down", "a", "critical", t0), t0);
    let first = deliver_all(&mut p, t0.plus_millis(30_000));
    let n = &first[0].entry.notification;
    let people: Vec<&str> = n.people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(people, ["alice"]);
    let link = n.ack_url.clone().expect("an acknowledge link");
    assert!(
        link.starts_with("http://periscope.test/api/v1/notify/ack?group="),
        "{link}"
    );
    // Fifteen minutes without an acknowledgement: bob is told, on every channel.
    let step_at = t0.plus_millis(30_000 + 15 * 60_000);
    assert_eq!(
        p.next_wake(t0.plus_millis(31_000)).map(|w| w <= step_at),
        Some(true)
    );
    let second = deliver_all(&mut p, step_at);
    assert_eq!(second.len(), 2);
    assert!(
        second
            .iter()
            .all(|d| d.entry.notification.people[0].name == "bob")
    );
    assert!(second[0].entry.group_key.ends_with("#escalation"));

    // Another group: acknowledged before its second step, so bob never hears.
    let t1 = t0.plus_millis(3_600_000);
    p.ingest(alert("DiskFull", "a", "critical", t1), t1);
    deliver_all(&mut p, t1.plus_millis(30_000));
    assert!(p.acknowledge(
        r#"root:{alertname="DiskFull"}"#,
        "alice",
        t1.plus_millis(60_000)
    ));
    let later = t1.plus_millis(30_000 + 16 * 60_000);
    let escalated: Vec<_> = deliver_all(&mut p, later)
        .into_iter()
        .filter(|d| d.entry.group_key.contains("DiskFull"))
        .collect();
    assert!(escalated.is_empty());
    assert!(!p.acknowledge("root:{nothing}", "alice", later));
}

/// Applies writes to an in-memory table, as the state database would.
pub(super) fn apply(table: &mut BTreeMap<(String, String), Document>, writes: Vec<DocumentWrite>) {
    for w in writes {
        match w {
            DocumentWrite::Put(d) => {
                table.insert((d.kind.clone(), d.key.clone()), d);
            }
            DocumentWrite::Delete { kind, key } => {
                table.remove(&(kind, key));
            }
        }
    }
}

#[test]
fn after_a_restart_nothing_is_sent_twice_and_a_pending_retry_goes_out_once() {
    let t0 = at("2026-11-21T10:00:00Z");
    let mut table = BTreeMap::new();
    let mut p = Pipeline::new(setup(plain()));
    p.ingest(alert("Down", "a", "critical", t0), t0);
    let now = t0.plus_millis(30_000);
    let sent = p.tick(now);
    // The webhook got it; the mail server was down when Periscope stopped.
    let (web, mail) = (sent[0].entry.clone(), sent[1].entry.clone());
    p.finished(
        &web.integration,
        &web.group_key,
        Ok(Delivered::default()),
        now,
    );
    p.finished(
        &mail.integration,
        &mail.group_key,
        Err(DeliveryError::retryable("connection refused")),
        now,
    );
    apply(&mut table, p.take_writes());
    drop(p);

    // Restart a minute later: the rule engine hands the still-firing alert over again.
    let restart = now.plus_millis(60_000);
    let mut p = Pipeline::new(setup(plain()));
    let docs: Vec<Document> = table.values().cloned().collect();
    assert!(p.restore(&docs, restart).is_empty());
    p.ingest(alert("Down", "a", "critical", t0), restart);
    let resumed = deliver_all(&mut p, restart);
    let channels: Vec<&str> = resumed
        .iter()
        .map(|d| d.entry.integration.as_str())
        .collect();
    assert_eq!(channels, ["ops/1:email"], "the pending retry, once");
    // The regrouped alert flushes after group_wait: both channels already know it.
    assert!(deliver_all(&mut p, restart.plus_millis(30_000)).is_empty());
    apply(&mut table, p.take_writes());
    assert!(
        table.keys().all(|(kind, _)| kind != "outbox"),
        "{:?}",
        table.keys()
    );
}

#[test]
fn a_saved_delivery_in_flight_when_the_group_regroups_after_a_restart_goes_out_once() {
    let t0 = at("2026-11-21T10:00:00Z");
    let mut table = BTreeMap::new();
    let mut p = Pipeline::new(setup(plain()));
    p.ingest(alert("Down", "a", "critical", t0), t0);
    let now = t0.plus_millis(30_000);
    for d in p.tick(now) {
        let result = if d.entry.integration == "ops/1:email" {
            Err(DeliveryError::retryable("503"))
        } else {
            Ok(Delivered::default())
        };
        p.finished(&d.entry.integration, &d.entry.group_key, result, now);
    }
    apply(&mut table, p.take_writes());

    // Restart: the saved e-mail goes out at once and is still in flight (a slow mail server)
    // when the regrouped alert flushes and plans the same message.
    let restart = now.plus_millis(60_000);
    let mut p = Pipeline::new(setup(plain()));
    let docs: Vec<Document> = table.values().cloned().collect();
    assert!(p.restore(&docs, restart).is_empty());
    p.ingest(alert("Down", "a", "critical", t0), restart);
    let saved = p.tick(restart);
    assert_eq!(saved.len(), 1);
    assert!(
        p.tick(restart.plus_millis(30_000)).is_empty(),
        "one in flight"
    );
    let done = restart.plus_millis(31_000);
    let e = &saved[0].entry;
    p.finished(&e.integration, &e.group_key, Ok(Delivered::default()), done);
    assert!(
        deliver_all(&mut p, done).is_empty(),
        "the same news again would be a duplicate"
    );
    apply(&mut table, p.take_writes());
    assert!(table.keys().all(|(kind, _)| kind != "outbox"));
}
