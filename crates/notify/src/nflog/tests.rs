use super::*;

const HOUR: Duration = Duration::from_secs(3600);
const I: &str = "ops/0:webhook";
const G: &str = r#"root:{alertname="Down"}"#;

fn fp(n: u64) -> Fingerprint {
    Fingerprint(n)
}

fn seen<'a>(
    firing: &'a [Fingerprint],
    muted: &'a [Fingerprint],
    resolved: &'a [Fingerprint],
) -> Seen<'a> {
    Seen {
        firing,
        muted,
        resolved,
    }
}

fn t(minutes: i64) -> Timestamp {
    Timestamp(minutes * 60_000)
}

#[test]
fn first_firing_is_sent_then_only_news_or_the_repeat() {
    let mut log = NotificationLog::new();
    let p = log.plan(I, G, seen(&[fp(1)], &[], &[]), HOUR, t(0));
    assert_eq!(p.decision, Decision::NewFiring);
    log.record(I, G, &p, None, t(0));

    // Same alert five minutes later: nothing new.
    let p = log.plan(I, G, seen(&[fp(1)], &[], &[]), HOUR, t(5));
    assert_eq!(p.decision, Decision::Unchanged);
    // A second alert joins: sent.
    let p = log.plan(I, G, seen(&[fp(1), fp(2)], &[], &[]), HOUR, t(10));
    assert_eq!(p.decision, Decision::NewFiring);
    log.record(I, G, &p, None, t(10));
    // An hour after the last message: repeated.
    assert_eq!(
        log.plan(I, G, seen(&[fp(2), fp(1)], &[], &[]), HOUR, t(69))
            .decision,
        Decision::Unchanged
    );
    assert_eq!(
        log.plan(I, G, seen(&[fp(2), fp(1)], &[], &[]), HOUR, t(70))
            .decision,
        Decision::Repeat
    );
}

#[test]
fn resolutions_go_only_to_channels_that_heard_of_the_problem() {
    let mut log = NotificationLog::new();
    // Nobody heard of alert 1: its resolution alone sends nothing.
    let p = log.plan(I, G, seen(&[], &[], &[fp(1)]), HOUR, t(0));
    assert_eq!(p.decision, Decision::Nothing);
    assert!(p.resolved.is_empty());

    let p = log.plan(I, G, seen(&[fp(1), fp(2)], &[], &[]), HOUR, t(0));
    log.record(I, G, &p, None, t(0));
    let p = log.plan(I, G, seen(&[fp(2)], &[], &[fp(1), fp(9)]), HOUR, t(5));
    assert_eq!(p.decision, Decision::Resolved);
    assert_eq!(p.resolved, [fp(1)], "9 was never notified");
    let w = log.record(I, G, &p, None, t(5));
    assert!(matches!(w, DocumentWrite::Put(_)));
    // The last one resolves: sent, and the entry goes.
    let p = log.plan(I, G, seen(&[], &[], &[fp(2)]), HOUR, t(10));
    assert_eq!(p.decision, Decision::Resolved);
    let w = log.record(I, G, &p, None, t(10));
    assert!(matches!(w, DocumentWrite::Delete { .. }));
    assert!(log.is_empty());
}

#[test]
fn a_silence_is_not_a_resolution_and_the_real_resolution_still_arrives() {
    let mut log = NotificationLog::new();
    let p = log.plan(I, G, seen(&[fp(1)], &[], &[]), HOUR, t(0));
    log.record(I, G, &p, None, t(0));
    // Alert 1 is silenced while it still fires: nothing is sent, and it stays known.
    let p = log.plan(I, G, seen(&[], &[fp(1)], &[]), HOUR, t(5));
    assert_eq!(p.decision, Decision::Nothing);
    assert_eq!(p.known_firing, [fp(1)]);
    // Even past the repeat interval, a muted alert is not repeated.
    let p = log.plan(I, G, seen(&[], &[fp(1)], &[]), HOUR, t(200));
    assert!(!p.decision.send());
    // It resolves while silenced: the people who were paged hear it.
    let p = log.plan(I, G, seen(&[], &[], &[fp(1)]), HOUR, t(300));
    assert_eq!(p.decision, Decision::Resolved);
    assert_eq!(p.resolved, [fp(1)]);
}

#[test]
fn each_channel_has_its_own_entry() {
    let mut log = NotificationLog::new();
    let p = log.plan(I, G, seen(&[fp(1)], &[], &[]), HOUR, t(0));
    log.record(I, G, &p, Some("T-1".into()), t(0));
    let other = "ops/1:zendesk";
    assert_eq!(
        log.plan(other, G, seen(&[fp(1)], &[], &[]), HOUR, t(1))
            .decision,
        Decision::NewFiring
    );
    // The reference is kept across later deliveries that return none.
    let p = log.plan(I, G, seen(&[fp(1), fp(2)], &[], &[]), HOUR, t(5));
    log.record(I, G, &p, None, t(5));
    assert_eq!(log.entry(I, G).unwrap().reference.as_deref(), Some("T-1"));
    assert_eq!(log.references(G).get(I), Some(&"T-1"));
}

#[test]
fn the_log_survives_a_restart_through_its_documents() {
    let mut log = NotificationLog::new();
    let p = log.plan(I, G, seen(&[fp(3), fp(1)], &[], &[]), HOUR, t(0));
    let DocumentWrite::Put(doc) = log.record(I, G, &p, Some("X".into()), t(0)) else {
        panic!("a put");
    };
    let broken = Document {
        body: "{".into(),
        key: "bad".into(),
        ..doc.clone()
    };
    let (restored, unreadable) = NotificationLog::restore(&[doc, broken]);
    assert_eq!(unreadable, ["bad"]);
    assert_eq!(restored.entry(I, G), log.entry(I, G));
    // After the restart the same alerts are not sent again.
    assert_eq!(
        restored
            .plan(I, G, seen(&[fp(1), fp(3)], &[], &[]), HOUR, t(1))
            .decision,
        Decision::Unchanged
    );
}
