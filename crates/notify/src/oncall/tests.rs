//! Schedules as a user reads them: who is on call at a local wall-clock time, for how long,
//! across DST changes, and every config mistake reported at once with where it is.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::json;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    person: BTreeMap<String, RawPerson>,
    #[serde(default)]
    schedule: BTreeMap<String, RawSchedule>,
}

fn build(config: serde_json::Value) -> Result<OnCall, Vec<ConfigIssue>> {
    let config: Config = serde_json::from_value(config).unwrap();
    OnCall::build(&config.person, &config.schedule)
}

fn people() -> serde_json::Value {
    json!({
        "alice": { "email": "alice@example.com", "chat": "@alice",
                   "hours": "weekdays 09:00-17:30 Europe/London" },
        "bob": { "email": "bob@example.com", "phone": "+44 20 7946 0000" },
        "carol": { "email": "carol@example.com" },
        "dave": { "email": "dave@example.com" },
    })
}

/// One schedule `ops` in `zone` with the given layers and overrides.
fn oncall(zone: &str, layers: serde_json::Value, overrides: serde_json::Value) -> OnCall {
    build(json!({
        "person": people(),
        "schedule": { "ops": { "time_zone": zone, "layer": layers, "override": overrides } },
    }))
    .unwrap()
}

fn rotation(handoff: &str, people: &[&str]) -> serde_json::Value {
    json!([{ "name": "primary", "people": people, "handoff": handoff, "start": "2026-01-05" }])
}

/// The instant a wall clock in `zone` shows `text` (`2026-03-29 09:00`; the earlier one when
/// it shows it twice).
fn local(text: &str, zone: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = text.parse().unwrap();
    let tz = TimeZone::get(zone).unwrap();
    Timestamp::from_jiff(tz.to_ambiguous_timestamp(dt).compatible().unwrap())
}

fn london(text: &str) -> Timestamp {
    local(text, "Europe/London")
}

fn hours(from: Timestamp, until: Timestamp) -> f64 {
    until.millis_since(from) as f64 / 3_600_000.0
}

fn who(oncall: &OnCall, at: Timestamp) -> Option<String> {
    oncall.schedule("ops").unwrap().who(at).map(|s| s.person)
}

#[test]
fn weekly_rotation_hands_over_on_monday_morning_in_turn() {
    let oc = oncall(
        "Europe/London",
        rotation("weekly mon 09:00", &["alice", "bob", "carol"]),
        json!([]),
    );
    let ops = oc.schedule("ops").unwrap();
    assert_eq!(ops.time_zone(), "Europe/London");
    assert_eq!(ops.who(london("2026-01-05 08:59")), None, "before start");
    let first = ops.who(london("2026-01-05 09:00")).unwrap();
    assert_eq!(first.person, "alice");
    assert_eq!(first.layer.as_deref(), Some("primary"));
    assert_eq!(first.from, london("2026-01-05 09:00"));
    assert_eq!(first.until, london("2026-01-12 09:00"));
    assert_eq!(first.reason, None);
    assert_eq!(
        who(&oc, london("2026-01-12 08:59")).as_deref(),
        Some("alice")
    );
    assert_eq!(who(&oc, london("2026-01-12 09:00")).as_deref(), Some("bob"));
    assert_eq!(
        who(&oc, london("2026-01-21 03:00")).as_deref(),
        Some("carol")
    );
    assert_eq!(
        who(&oc, london("2026-01-26 09:00")).as_deref(),
        Some("alice")
    );
    // Far ahead the turn still follows the weeks: 2026-06-01 is week 21, 21 mod 3 = 0.
    assert_eq!(
        who(&oc, london("2026-06-01 10:00")).as_deref(),
        Some("alice")
    );
    assert_eq!(
        ops.next_handoff(london("2026-01-07 12:00")),
        Some(london("2026-01-12 09:00"))
    );
    // Before the start the next change is the first shift.
    assert_eq!(
        ops.next_handoff(london("2025-12-31 12:00")),
        Some(london("2026-01-05 09:00"))
    );
}

#[test]
fn daily_rotation_and_a_start_that_is_not_the_handoff_day() {
    let oc = oncall(
        "Europe/London",
        rotation("daily 09:00", &["alice", "bob"]),
        json!([]),
    );
    assert_eq!(
        who(&oc, london("2026-01-05 09:00")).as_deref(),
        Some("alice")
    );
    assert_eq!(
        who(&oc, london("2026-01-06 08:59")).as_deref(),
        Some("alice")
    );
    assert_eq!(who(&oc, london("2026-01-06 09:00")).as_deref(), Some("bob"));
    assert_eq!(
        who(&oc, london("2026-01-07 09:00")).as_deref(),
        Some("alice")
    );

    // Starting on a Wednesday with Monday handoffs: the first shift runs to the next Monday.
    let oc = oncall(
        "Europe/London",
        json!([{ "people": ["alice", "bob"], "handoff": "weekly Monday 09:00",
                 "start": "2026-01-07" }]),
        json!([]),
    );
    let first = oc
        .schedule("ops")
        .unwrap()
        .who(london("2026-01-08 12:00"))
        .unwrap();
    assert_eq!(first.person, "alice");
    assert_eq!(
        first.layer.as_deref(),
        Some("layer 0"),
        "default layer name"
    );
    assert_eq!(first.from, london("2026-01-07 09:00"));
    assert_eq!(first.until, london("2026-01-12 09:00"));
    assert_eq!(who(&oc, london("2026-01-12 09:00")).as_deref(), Some("bob"));
    assert_eq!(
        who(&oc, london("2026-01-19 09:00")).as_deref(),
        Some("alice")
    );
}

#[test]
fn a_restricted_top_layer_falls_through_to_the_layer_below() {
    let oc = oncall(
        "Europe/London",
        json!([
            { "name": "backstop", "people": ["dave"], "handoff": "weekly mon 09:00",
              "start": "2026-01-05" },
            // No zone written: the schedule's zone applies (BST in June).
            { "name": "business", "people": ["alice", "bob"], "handoff": "weekly mon 08:00",
              "start": "2026-01-05", "restrict": "weekdays 08:00-20:00" },
        ]),
        json!([]),
    );
    let ops = oc.schedule("ops").unwrap();
    assert_eq!(ops.layers().collect::<Vec<_>>(), ["backstop", "business"]);
    // 2026-06-10 is a Wednesday of week 22 of the business rotation (even: alice).
    let day = ops.who(london("2026-06-10 12:00")).unwrap();
    assert_eq!(day.person, "alice");
    assert_eq!(day.layer.as_deref(), Some("business"));
    assert_eq!(day.from, london("2026-06-10 08:00"));
    assert_eq!(day.until, london("2026-06-10 20:00"));
    assert_eq!(
        who(&oc, london("2026-06-10 08:00")).as_deref(),
        Some("alice")
    );
    assert_eq!(
        who(&oc, london("2026-06-10 07:59")).as_deref(),
        Some("dave")
    );
    let night = ops.who(london("2026-06-10 21:00")).unwrap();
    assert_eq!(night.person, "dave");
    assert_eq!(night.layer.as_deref(), Some("backstop"));
    assert_eq!(night.from, london("2026-06-10 20:00"));
    assert_eq!(night.until, london("2026-06-11 08:00"));
    // The whole weekend falls through.
    let weekend = ops.who(london("2026-06-13 12:00")).unwrap();
    assert_eq!(weekend.person, "dave");
    assert_eq!(weekend.from, london("2026-06-12 20:00"));
    assert_eq!(weekend.until, london("2026-06-15 08:00"));
    assert_eq!(
        ops.next_handoff(london("2026-06-12 19:00")),
        Some(london("2026-06-12 20:00"))
    );
}

#[test]
fn an_override_wins_for_its_time_and_then_the_rotation_resumes() {
    let oc = oncall(
        "Europe/London",
        rotation("weekly mon 09:00", &["alice", "bob", "carol"]),
        json!([
            { "person": "dave", "from": "2026-12-24 18:00", "to": "2026-12-27 09:00",
              "reason": "holiday swap" },
            // RFC 3339 works too, and an override may end exactly where another starts.
            { "person": "bob", "from": "2026-12-27T09:00:00Z", "to": "2026-12-27T12:00:00Z" },
        ]),
    );
    let ops = oc.schedule("ops").unwrap();
    // 2026-12-21 starts week 50: 50 mod 3 = 2, carol.
    assert_eq!(
        who(&oc, london("2026-12-24 17:59")).as_deref(),
        Some("carol")
    );
    let swap = ops.who(london("2026-12-25 12:00")).unwrap();
    assert_eq!(swap.person, "dave");
    assert_eq!(swap.layer, None);
    assert_eq!(swap.reason.as_deref(), Some("holiday swap"));
    assert_eq!(swap.from, london("2026-12-24 18:00"));
    assert_eq!(swap.until, london("2026-12-27 09:00"));
    assert_eq!(who(&oc, london("2026-12-27 09:00")).as_deref(), Some("bob"));
    assert_eq!(
        who(&oc, london("2026-12-27 12:00")).as_deref(),
        Some("carol")
    );
    assert_eq!(
        ops.next_handoff(london("2026-12-24 12:00")),
        Some(london("2026-12-24 18:00"))
    );
    let carol = ops.who(london("2026-12-27 13:00")).unwrap();
    assert_eq!(carol.from, london("2026-12-27 12:00"));
    assert_eq!(carol.until, london("2026-12-28 09:00"));
}

/// The daily 09:00 shifts around a DST change in `zone`, with the day before `day`.
fn daily_around(zone: &str, day: &str, before: &str) -> (Shift, Shift) {
    let oc = oncall(
        zone,
        json!([{ "name": "primary", "people": ["alice", "bob"], "handoff": "daily 09:00",
                 "start": "2026-01-01" }]),
        json!([]),
    );
    let ops = oc.schedule("ops").unwrap();
    let at = |time: &str| local(&format!("{day} {time}"), zone);
    let early = ops.who(at("08:59")).unwrap();
    let late = ops.who(at("09:00")).unwrap();
    assert_ne!(
        early.person, late.person,
        "{zone} {day}: handoff at 09:00 local"
    );
    assert_eq!(early.from, local(&format!("{before} 09:00"), zone));
    assert_eq!(early.until, at("09:00"));
    (early, late)
}

#[test]
fn daily_handoffs_stay_at_nine_local_across_dst_changes() {
    // Europe/London springs forward on 2026-03-29 and falls back on 2026-10-25.
    let (spring, after) = daily_around("Europe/London", "2026-03-29", "2026-03-28");
    assert_eq!(hours(spring.from, spring.until), 23.0);
    assert_eq!(hours(after.from, after.until), 24.0);
    assert_eq!(
        after.from,
        Timestamp::from_jiff("2026-03-29T08:00:00Z".parse().unwrap())
    );
    let (fall, _) = daily_around("Europe/London", "2026-10-25", "2026-10-24");
    assert_eq!(hours(fall.from, fall.until), 25.0);
    // America/New_York springs forward on 2026-03-08 and falls back on 2026-11-01.
    let (spring, after) = daily_around("America/New_York", "2026-03-08", "2026-03-07");
    assert_eq!(hours(spring.from, spring.until), 23.0);
    assert_eq!(
        after.from,
        Timestamp::from_jiff("2026-03-08T13:00:00Z".parse().unwrap())
    );
    let (fall, after) = daily_around("America/New_York", "2026-11-01", "2026-10-31");
    assert_eq!(hours(fall.from, fall.until), 25.0);
    assert_eq!(
        after.from,
        Timestamp::from_jiff("2026-11-01T14:00:00Z".parse().unwrap())
    );
}

#[test]
fn weekly_shifts_over_a_dst_change_are_an_hour_short_or_long() {
    for (zone, spring_monday, fall_monday) in [
        ("Europe/London", "2026-03-23", "2026-10-19"),
        ("America/New_York", "2026-03-02", "2026-10-26"),
    ] {
        let oc = oncall(
            zone,
            rotation("weekly mon 09:00", &["alice", "bob"]),
            json!([]),
        );
        let ops = oc.schedule("ops").unwrap();
        let spring = ops
            .who(local(&format!("{spring_monday} 12:00"), zone))
            .unwrap();
        assert_eq!(spring.from, local(&format!("{spring_monday} 09:00"), zone));
        assert_eq!(hours(spring.from, spring.until), 167.0, "{zone}");
        let fall = ops
            .who(local(&format!("{fall_monday} 12:00"), zone))
            .unwrap();
        assert_eq!(hours(fall.from, fall.until), 169.0, "{zone}");
    }
}

#[test]
fn a_handoff_inside_the_skipped_hour_happens_an_hour_later_that_night() {
    let oc = oncall(
        "Europe/London",
        json!([{ "people": ["alice", "bob"], "handoff": "daily 01:30", "start": "2026-03-01" }]),
        json!([]),
    );
    let shift = oc
        .schedule("ops")
        .unwrap()
        .who(london("2026-03-29 03:00"))
        .unwrap();
    // 01:30 does not exist that night (01:00 GMT jumps to 02:00 BST): the handoff is 24 hours
    // after the last one, at 02:30 BST, and the next one is back at 01:30.
    assert_eq!(
        shift.from,
        Timestamp::from_jiff("2026-03-29T01:30:00Z".parse().unwrap())
    );
    assert_eq!(shift.until, london("2026-03-30 01:30"));
}

#[test]
fn shifts_over_a_window_join_the_same_person_and_leave_out_nobody() {
    let oc = oncall(
        "UTC",
        // A rotation may name someone twice in a row.
        json!([{ "name": "primary", "people": ["alice", "alice", "bob"],
                 "handoff": "daily 09:00", "start": "2026-01-05" }]),
        json!([{ "person": "bob", "from": "2026-01-08 09:00", "to": "2026-01-08 12:00" }]),
    );
    let ops = oc.schedule("ops").unwrap();
    let utc = |t: &str| local(t, "UTC");
    let shifts = ops.shifts(utc("2026-01-04 00:00"), utc("2026-01-09 00:00"));
    let summary: Vec<(&str, Timestamp, Timestamp)> = shifts
        .iter()
        .map(|s| (s.person.as_str(), s.from, s.until))
        .collect();
    assert_eq!(
        summary,
        [
            // Nothing before the start; two days of alice joined.
            ("alice", utc("2026-01-05 09:00"), utc("2026-01-07 09:00")),
            // bob's own day runs into bob's override: one stretch.
            ("bob", utc("2026-01-07 09:00"), utc("2026-01-08 12:00")),
            // The window cuts the last stretch.
            ("alice", utc("2026-01-08 12:00"), utc("2026-01-09 00:00")),
        ]
    );
    assert_eq!(shifts[1].layer.as_deref(), Some("primary"));
    // who() sees the same joined stretch from inside the override.
    let bob = ops.who(utc("2026-01-08 10:00")).unwrap();
    assert_eq!(
        (bob.from, bob.until),
        (utc("2026-01-07 09:00"), utc("2026-01-08 12:00"))
    );
    assert_eq!(bob.reason, None);
    assert_eq!(
        bob.layer, None,
        "the override is what puts bob on call at 10:00"
    );
    assert_eq!(
        ops.next_handoff(utc("2026-01-05 10:00")),
        Some(utc("2026-01-07 09:00"))
    );
}

#[test]
fn people_carry_addresses_and_hours() {
    let oc = oncall("UTC", rotation("daily 09:00", &["alice"]), json!([]));
    let alice = oc.people().get("alice").unwrap();
    assert_eq!(alice.person.chat.as_deref(), Some("@alice"));
    assert_eq!(
        oc.person("bob").unwrap().phone.as_deref(),
        Some("+44 20 7946 0000")
    );
    assert_eq!(oc.people().len(), 4);
    // Wednesday 10:00 BST is inside alice's hours, 18:00 is not.
    assert!(alice.may_reach(Level::NonCritical, london("2026-06-10 10:00")));
    assert!(!alice.may_reach(Level::NonCritical, london("2026-06-10 18:00")));
    assert!(alice.may_reach(Level::Critical, london("2026-06-10 18:00")));
    assert!(!alice.may_reach(Level::Logged, london("2026-06-10 10:00")));
    let carol = oc.people().get("carol").unwrap();
    assert!(carol.may_reach(Level::NonCritical, london("2026-06-13 03:00")));
}

#[test]
fn every_config_mistake_is_reported_at_once_with_its_path() {
    let issues = build(json!({
        "person": {
            "alice": { "email": "alice@example.com", "hours": "weekdays 25:00-26:00" },
            "bob": { "email": "bob@example.com" },
        },
        "schedule": {
            "ops": {
                "time_zone": "Europe/Londres",
                "layer": [
                    // A repeated person is fine; erin is unknown.
                    { "people": ["alice", "alice", "erin"], "handoff": "fortnightly",
                      "start": "2026-13-01" },
                    { "people": [], "handoff": "weekly funday 09:00", "start": "2026-01-05",
                      "restrict": "weekdays 08:00-20:00 Mars/Olympus" },
                ],
                "override": [
                    { "person": "zed", "from": "2026-12-24 18:00", "to": "2026-12-27 09:00" },
                    { "person": "bob", "from": "2026-12-26 00:00", "to": "2026-12-28 00:00" },
                    { "person": "bob", "from": "2026-12-30 00:00", "to": "2026-12-29 00:00" },
                    { "person": "bob", "from": "next tuesday", "to": "2026-12-29 00:00" },
                ],
            },
            "empty": {},
        },
    }))
    .unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "person.alice.hours",
            "schedule.empty.layer",
            "schedule.ops.time_zone",
            "schedule.ops.layer.0.people.2",
            "schedule.ops.layer.0.handoff",
            "schedule.ops.layer.0.start",
            "schedule.ops.layer.1.people",
            "schedule.ops.layer.1.handoff",
            "schedule.ops.layer.1.restrict",
            "schedule.ops.override.0.person",
            "schedule.ops.override.2.to",
            "schedule.ops.override.3.from",
            "schedule.ops.override.1",
        ],
        "{issues:#?}"
    );
    let at = |path: &str| issues.iter().find(|i| i.path == path).unwrap();
    assert!(
        at("schedule.ops.time_zone")
            .message
            .contains("Europe/Londres")
    );
    assert!(
        at("schedule.ops.layer.0.people.2")
            .message
            .contains("'erin'")
    );
    assert!(
        at("schedule.ops.layer.0.people.2")
            .hint
            .as_deref()
            .unwrap()
            .contains("alice, bob")
    );
    let handoff = at("schedule.ops.layer.0.handoff");
    assert!(handoff.message.contains("fortnightly"));
    assert!(
        handoff
            .hint
            .as_deref()
            .unwrap()
            .contains("weekly mon 09:00")
    );
    assert!(
        at("schedule.ops.layer.1.handoff")
            .message
            .contains("funday")
    );
    assert!(
        at("schedule.ops.layer.1.restrict")
            .message
            .contains("Mars/Olympus")
    );
    assert!(
        at("schedule.ops.override.2.to")
            .message
            .contains("not after")
    );
    let overlap = at("schedule.ops.override.1");
    assert!(
        overlap
            .message
            .starts_with("overlapping overrides: override.0 and override.1"),
        "{}",
        overlap.message
    );
    assert!(
        overlap
            .message
            .contains("2026-12-26 00:00 to 2026-12-27 09:00")
    );
    assert!(issues.iter().all(|i| i.hint.is_some()), "{issues:#?}");
}

#[test]
fn unknown_keys_are_rejected_when_reading() {
    let typo = serde_json::from_value::<RawLayer>(json!({
        "people": ["alice"], "handof": "daily 09:00", "handoff": "daily 09:00",
        "start": "2026-01-05",
    }));
    assert!(typo.unwrap_err().to_string().contains("handof"));
}

#[test]
fn handoffs_read_and_print_back() {
    for text in ["daily 09:00", "weekly mon 09:00", "weekly sun 23:30"] {
        assert_eq!(text.parse::<Handoff>().unwrap().to_string(), text);
    }
    assert_eq!(
        "Weekly  MONDAY 9:05"
            .parse::<Handoff>()
            .unwrap()
            .to_string(),
        "weekly mon 09:05"
    );
    for bad in [
        "daily",
        "daily 24:00",
        "daily 9",
        "hourly 09:00",
        "weekly 09:00",
        "",
    ] {
        assert!(bad.parse::<Handoff>().is_err(), "{bad}");
    }
}

#[test]
fn a_rotation_of_one_person_reports_a_stretch_up_to_a_year_ahead() {
    let oc = oncall("UTC", rotation("daily 09:00", &["carol"]), json!([]));
    let ops = oc.schedule("ops").unwrap();
    let at = local("2026-02-01 12:00", "UTC");
    let shift = ops.who(at).unwrap();
    assert_eq!(shift.person, "carol");
    // She has been on call since the start, and no handoff within a year changes that.
    assert_eq!(shift.from, local("2026-01-05 09:00", "UTC"));
    assert!(hours(at, shift.until) >= 366.0 * 24.0);
    assert_eq!(ops.next_handoff(at), None);
}
