//! Silences as a person meets them through the API: made, checked, changed, expired, listed,
//! persisted and forgotten, with `now` handed in.

use super::*;
use proptest::prelude::*;

const MIN: i64 = 60_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(1_800_000_000_000 + minutes * MIN)
}

fn new(matchers: &[&str], starts: i64, ends: i64) -> NewSilence {
    NewSilence {
        matchers: matchers.iter().map(|m| m.to_string()).collect(),
        starts_at: at(starts),
        ends_at: at(ends),
        created_by: "alice".into(),
        comment: "disk swap".into(),
    }
}

fn alert(pairs: &[(&str, &str)]) -> Alert {
    Alert::firing(pairs.iter().copied().collect(), at(0))
}

fn db1() -> Alert {
    alert(&[
        ("alertname", "DiskFull"),
        ("instance", "db1"),
        ("team", "storage"),
    ])
}

#[test]
fn a_silence_is_pending_then_active_then_expired() {
    let mut silences = Silences::new();
    let id = silences
        .add(new(&[r#"instance="db1""#], 10, 70), at(0))
        .unwrap();
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    let s = silences.get(&id).unwrap().clone();
    assert_eq!(s.state(at(0)), SilenceState::Pending);
    assert_eq!(silences.mute(&db1(), at(0)), None, "pending does not mute");

    assert_eq!(s.state(at(10)), SilenceState::Active);
    assert_eq!(
        silences.mute(&db1(), at(10)),
        Some(MuteReason::Silenced {
            id: id.clone(),
            comment: "disk swap".into(),
            by: "alice".into(),
        })
    );
    assert_eq!(silences.mute(&db1(), at(69)).map(|_| ()), Some(()));
    assert_eq!(s.state(at(70)), SilenceState::Expired);
    assert_eq!(silences.mute(&db1(), at(70)), None, "ends_at is exclusive");

    let web = alert(&[("alertname", "DiskFull"), ("instance", "web1")]);
    assert_eq!(
        silences.mute(&web, at(20)),
        None,
        "other alerts are not muted"
    );
}

#[test]
fn a_start_in_the_past_means_now() {
    let mut silences = Silences::new();
    let id = silences
        .add(new(&[r#"instance="db1""#], -30, 60), at(0))
        .unwrap();
    let s = silences.get(&id).unwrap();
    assert_eq!(s.starts_at, at(0));
    assert_eq!(s.created_at, at(0));
    assert_eq!(s.updated_at, at(0));
}

#[test]
fn every_invalid_silence_is_refused_with_a_reason() {
    let mut silences = Silences::new();
    let mut check = |n: NewSilence, says: &str| {
        let e = silences.add(n, at(0)).unwrap_err().to_string();
        assert!(e.contains(says), "{e:?} should say {says:?}");
    };
    check(new(&[], 0, 60), "at least one matcher");
    check(new(&["{}"], 0, 60), "at least one matcher");
    check(
        new(&[r#"instance="db1""#, r#"team=~"(""#], 0, 60),
        "silence matcher 1: ",
    );
    check(
        new(&[r#"instance="db1""#, r#"team=~"(""#], 0, 60),
        "invalid regex",
    );
    check(
        new(&[r#"team!="db""#, r#"instance=~".*""#, r#"x="""#], 0, 60),
        "also matches alerts that lack the label",
    );
    check(new(&[r#"instance="db1""#], 60, 60), "before it starts");
    check(new(&[r#"instance="db1""#], 60, 30), "ends_at must be later");
    check(new(&[r#"instance="db1""#], -60, -1), "already past");
    let mut anonymous = new(&[r#"instance="db1""#], 0, 60);
    anonymous.created_by = "  ".into();
    check(anonymous, "created_by is empty");
    let mut unexplained = new(&[r#"instance="db1""#], 0, 60);
    unexplained.comment = String::new();
    check(unexplained, "comment is empty");
    assert!(silences.is_empty(), "nothing refused was kept");
}

#[test]
fn editing_without_changing_matchers_keeps_the_silence() {
    let mut silences = Silences::new();
    let id = silences
        .add(new(&[r#"instance="db1""#], 0, 60), at(0))
        .unwrap();
    // Extend it by an hour while active, with a new comment and the matchers reordered in
    // braces: still the same silence.
    let mut longer = new(&[r#"{instance = "db1"}"#], 0, 120);
    longer.comment = "swap takes longer".into();
    let same = silences.update(&id, longer, at(30)).unwrap();
    assert_eq!(same, id);
    let s = silences.get(&id).unwrap();
    assert_eq!((s.ends_at, s.updated_at), (at(120), at(30)));
    assert_eq!(s.comment, "swap takes longer");
    assert_eq!(silences.len(), 1);
    assert!(silences.mute(&db1(), at(100)).is_some());
}

#[test]
fn changing_an_active_silences_matchers_expires_it_and_makes_a_new_one() {
    let mut silences = Silences::new();
    let id = silences
        .add(new(&[r#"instance="db1""#], 0, 60), at(0))
        .unwrap();
    let wider = new(&[r#"instance=~"db[0-9]+""#], 0, 60);
    let new_id = silences.update(&id, wider, at(20)).unwrap();
    assert_ne!(new_id, id);
    let old = silences.get(&id).unwrap();
    assert_eq!(old.state(at(20)), SilenceState::Expired);
    assert_eq!(
        old.ends_at,
        at(20),
        "the record of what was muted until when stays true"
    );
    let replacement = silences.get(&new_id).unwrap();
    assert_eq!(replacement.starts_at, at(20));
    assert_eq!(replacement.state(at(20)), SilenceState::Active);
    let db2 = alert(&[("alertname", "DiskFull"), ("instance", "db2")]);
    assert_eq!(
        silences.mute(&db2, at(21)).and_then(|r| match r {
            MuteReason::Silenced { id, .. } => Some(id),
            _ => None,
        }),
        Some(new_id)
    );

    // Moving an active silence's start also makes a new one.
    let id = silences.add(new(&[r#"team="web""#], 0, 60), at(0)).unwrap();
    let moved = silences
        .update(&id, new(&[r#"team="web""#], 10, 60), at(5))
        .unwrap();
    assert_ne!(moved, id);
}

#[test]
fn pending_and_expired_silences_are_replaced_not_rewritten() {
    let mut silences = Silences::new();
    let pending = silences
        .add(new(&[r#"instance="db1""#], 60, 120), at(0))
        .unwrap();
    // A pending silence may move as long as it stays in the future.
    let same = silences
        .update(&pending, new(&[r#"instance="db1""#], 90, 120), at(0))
        .unwrap();
    assert_eq!(same, pending);
    let other = silences
        .update(&pending, new(&[r#"instance="db2""#], 90, 120), at(10))
        .unwrap();
    assert_ne!(other, pending);
    let old = silences.get(&pending).unwrap();
    assert_eq!(
        (old.starts_at, old.ends_at),
        (at(10), at(10)),
        "expired before it ever started"
    );

    // Editing an expired silence brings back a new one and leaves the old record alone.
    let gone = silences.add(new(&[r#"team="web""#], 0, 30), at(0)).unwrap();
    let back = silences
        .update(&gone, new(&[r#"team="web""#], 40, 90), at(40))
        .unwrap();
    assert_ne!(back, gone);
    assert_eq!(silences.get(&gone).unwrap().ends_at, at(30));
    assert_eq!(
        silences.get(&back).unwrap().state(at(40)),
        SilenceState::Active
    );

    let e = silences
        .update("0123456789abcdef", new(&[r#"a="b""#], 0, 60), at(40))
        .unwrap_err();
    assert_eq!(e, SilenceError::NotFound("0123456789abcdef".into()));
}

#[test]
fn expiring_ends_a_silence_now_and_only_once() {
    let mut silences = Silences::new();
    let id = silences
        .add(new(&[r#"instance="db1""#], 0, 60), at(0))
        .unwrap();
    silences.expire(&id, at(15)).unwrap();
    assert_eq!(silences.mute(&db1(), at(15)), None);
    let s = silences.get(&id).unwrap();
    assert_eq!((s.ends_at, s.updated_at), (at(15), at(15)));
    let again = silences.expire(&id, at(16)).unwrap_err().to_string();
    assert!(again.contains("already expired"), "{again}");
    assert!(again.contains(&id), "{again}");
    let missing = silences.expire("nope", at(16)).unwrap_err().to_string();
    assert_eq!(missing, "no silence with id \"nope\"");
}

#[test]
fn regex_and_negative_matchers_silence_what_they_say() {
    let mut silences = Silences::new();
    silences
        .add(
            new(&[r#"instance=~"db[0-9]+""#, r#"team!~"web|edge""#], 0, 60),
            at(0),
        )
        .unwrap();
    let now = at(1);
    assert!(silences.mute(&db1(), now).is_some());
    let db12 = alert(&[("alertname", "X"), ("instance", "db12")]);
    assert!(
        silences.mute(&db12, now).is_some(),
        "an absent team passes !~"
    );
    let anchored = alert(&[("alertname", "X"), ("instance", "db1-old")]);
    assert!(
        silences.mute(&anchored, now).is_none(),
        "regexes are anchored"
    );
    let web_team = alert(&[("alertname", "X"), ("instance", "db1"), ("team", "web")]);
    assert!(silences.mute(&web_team, now).is_none());
}

#[test]
fn the_longest_lasting_matching_silence_is_named() {
    let mut silences = Silences::new();
    silences
        .add(new(&[r#"alertname="DiskFull""#], 0, 60), at(0))
        .unwrap();
    let long = silences
        .add(new(&[r#"instance=~"db.*""#], 0, 600), at(0))
        .unwrap();
    let found = silences.silencing(&db1().labels, at(1));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].id, long);
}

#[test]
fn lists_filter_by_matcher_and_order_by_state() {
    let mut silences = Silences::new();
    let ends_late = silences
        .add(new(&[r#"service="db""#], 0, 120), at(0))
        .unwrap();
    let ends_soon = silences
        .add(new(&[r#"service="db""#, r#"env="prod""#], 0, 60), at(0))
        .unwrap();
    let pending = silences
        .add(new(&[r#"service="web""#], 30, 60), at(0))
        .unwrap();
    let expired = silences
        .add(new(&[r#"service="db""#], 0, 5), at(0))
        .unwrap();
    let now = at(10);
    let ids = |list: Vec<&Silence>| list.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(silences.list(None, false, now)),
        [ends_soon.clone(), ends_late.clone(), pending]
    );
    let db = matcher::parse(r#"service="db""#).unwrap();
    assert_eq!(
        ids(silences.list(Some(&db), true, now)),
        [ends_soon.clone(), ends_late, expired]
    );
    let prod = matcher::parse(r#"{service="db", env=~"prod|staging"}"#).unwrap();
    assert_eq!(ids(silences.list(Some(&prod), true, now)), [ends_soon]);
}

#[test]
fn silences_survive_a_json_round_trip_through_the_state_database() {
    let mut silences = Silences::new();
    let active = silences
        .add(new(&[r#"instance=~"db[0-9]+""#], 0, 60), at(0))
        .unwrap();
    let done = silences.add(new(&[r#"team="web""#], 0, 60), at(0)).unwrap();
    silences.expire(&done, at(5)).unwrap();
    let stored: Vec<Silence> = silences
        .list(None, true, at(10))
        .into_iter()
        .cloned()
        .collect();
    let json = serde_json::to_string(&stored).unwrap();
    assert!(
        json.contains(r#""matchers":["instance=~\"db[0-9]+\""]"#),
        "{json}"
    );

    let mut back = Silences::new();
    let read: Vec<Silence> = serde_json::from_str(&json).unwrap();
    assert!(back.restore(read).is_empty());
    assert_eq!(back.get(&active), silences.get(&active));
    assert_eq!(back.get(&done), silences.get(&done));
    assert!(back.mute(&db1(), at(10)).is_some());
    // New ids after a restart do not collide with restored ones.
    let next = back
        .add(new(&[r#"instance=~"db[0-9]+""#], 0, 60), at(0))
        .unwrap();
    assert!(next != active && next != done);

    let mut broken = silences.get(&active).unwrap().clone();
    broken.id = "00000000000000ff".into();
    broken.matchers = vec![r#"instance=~"(""#.into()];
    let problems = back.restore(vec![broken]);
    assert_eq!(problems.len(), 1);
    let text = problems[0].to_string();
    assert!(
        text.starts_with("stored silence 00000000000000ff: "),
        "{text}"
    );
    assert!(back.get("00000000000000ff").is_none());
}

#[test]
fn gc_forgets_silences_expired_long_enough_ago() {
    let mut silences = Silences::new();
    let old = silences.add(new(&[r#"team="a""#], 0, 60), at(0)).unwrap();
    let recent = silences.add(new(&[r#"team="b""#], 0, 120), at(0)).unwrap();
    let active = silences.add(new(&[r#"team="c""#], 0, 600), at(0)).unwrap();
    let keep = Duration::from_secs(60 * 60);
    assert!(silences.gc(at(60 + 59), keep).is_empty());
    assert_eq!(silences.gc(at(60 + 60), keep), [old.as_str()]);
    assert!(silences.get(&old).is_none());
    assert!(silences.get(&recent).is_some());
    assert!(silences.get(&active).is_some());
    // The forgotten silence no longer mutes even if the clock were wound back.
    let a = alert(&[("alertname", "X"), ("team", "a")]);
    assert!(silences.mute(&a, at(30)).is_none());
    assert_eq!(silences.gc(at(10 * 60), keep), [recent]);
    assert_eq!(silences.len(), 1);
}

#[test]
fn ids_are_reproducible_and_distinct() {
    let make = || {
        let mut s = Silences::new();
        let a = s.add(new(&[r#"team="a""#], 0, 60), at(0)).unwrap();
        let b = s.add(new(&[r#"team="a""#], 0, 60), at(0)).unwrap();
        (a, b)
    };
    let (a, b) = make();
    assert_ne!(a, b, "the same request twice makes two silences");
    assert_eq!(make(), (a, b), "same inputs, same ids");
}

/// Label values drawn from a small alphabet so matchers and alerts meet often.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[ab]{1,2}",]
}

fn matcher_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("x"), Just("y"), Just("z")],
        prop_oneof![Just("="), Just("!="), Just("=~"), Just("!~")],
        prop_oneof![value(), Just("a.*".to_string()), Just("b|ab".to_string())],
    )
        .prop_map(|(name, op, value)| format!("{name}{op}{value:?}"))
}

proptest! {
    #[test]
    fn a_silence_mutes_exactly_the_alerts_its_matchers_match_while_active(
        texts in prop::collection::vec(matcher_text(), 1..4),
        alerts in prop::collection::vec(
            (value(), value(), value()), 1..12),
    ) {
        let mut silences = Silences::new();
        // A silence of matchers that all match the empty string is refused; nothing to check.
        let added = silences.add(
            NewSilence {
                matchers: texts.clone(),
                starts_at: at(10),
                ends_at: at(20),
                created_by: "prop".into(),
                comment: "test".into(),
            },
            at(0),
        );
        let expected = Matchers::parse_all(&texts).unwrap();
        prop_assume!(added.is_ok());
        for (x, y, z) in alerts {
            let mut labels = Labels::new().with("alertname", "P");
            for (name, v) in [("x", x), ("y", y), ("z", z)] {
                if !v.is_empty() {
                    labels.set(name, v);
                }
            }
            let a = Alert::firing(labels.clone(), at(0));
            prop_assert_eq!(silences.mute(&a, at(15)).is_some(), expected.matches(&labels));
            prop_assert!(silences.mute(&a, at(5)).is_none());
            prop_assert!(silences.mute(&a, at(20)).is_none());
        }
    }
}
