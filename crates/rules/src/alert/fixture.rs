//! A small text format for walking one alert through time in tests, one evaluation per line:
//!
//! ```text
//! policy for=5m for_checks=1 keep_firing_for=0 recover_after_checks=1 flap=30/25 no_data=failing
//! # time         evaluation   expected phase, then marks
//! 0m             fail 91      -> pending quiet
//! 5m             fail 93      -> firing notify
//! 6m..9m/1m      ok           -> firing
//! ```
//!
//! Times are offsets from a fixed instant (`90s`, `5m`, `1h30m`); `A..B/STEP` repeats the line
//! at every step from A to B inclusive. Evaluations: `fail VALUE`, `ok`, `nodata`, `error`.
//! After `->` comes the phase the record must be in, then marks that must match exactly:
//! `notify` (a transition that notifies) or `quiet` (one that does not) or neither (no
//! transition); `flap-start` / `flap-stop` (the transition is about flapping); `flapping` (the
//! record is marked flapping after the step). `policy` lines may appear only first; settings not
//! given keep [`AlertPolicy::default`]. Flap thresholds `off` disable flap detection.

use model::alert::{AlertKey, AlertPhase, AlertRecord, Change};
use model::{Labels, Timestamp};

use super::{AlertPolicy, Evaluation, Failure, FlapThresholds, NoData, step};

/// The instant offsets count from: 2023-11-14T22:13:20Z.
pub(super) const BASE: Timestamp = Timestamp(1_700_000_000_000);

/// Parses `90s`, `5m`, `1h30m`, `0` into milliseconds.
pub(super) fn duration_ms(text: &str) -> i64 {
    if text == "0" {
        return 0;
    }
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            _ => panic!("bad unit {c:?} in duration {text:?}"),
        };
        let n: i64 = number
            .parse()
            .unwrap_or_else(|_| panic!("bad duration {text:?}"));
        total += n * unit;
        number.clear();
    }
    assert!(number.is_empty(), "duration {text:?} lacks a unit");
    total
}

/// Reads a `policy ...` line.
pub(super) fn policy(line: &str) -> AlertPolicy {
    let mut p = AlertPolicy::default();
    for setting in line.split_whitespace().skip(1) {
        let (key, value) = setting
            .split_once('=')
            .unwrap_or_else(|| panic!("policy setting {setting:?} is not key=value"));
        match key {
            "for" => p.for_ms = duration_ms(value),
            "for_checks" => p.for_checks = value.parse().expect("for_checks"),
            "keep_firing_for" => p.keep_firing_for_ms = duration_ms(value),
            "recover_after_checks" => p.recover_after_checks = value.parse().expect("recover"),
            "flap" if value == "off" => p.flap = None,
            "flap" => {
                let (high, low) = value.split_once('/').expect("flap=HIGH/LOW");
                p.flap = Some(FlapThresholds {
                    high_percent: high.parse().expect("flap high"),
                    low_percent: low.parse().expect("flap low"),
                });
            }
            "no_data" => {
                p.no_data = match value {
                    "failing" => NoData::Failing,
                    "ok" => NoData::Ok,
                    "keep" => NoData::KeepState,
                    _ => panic!("no_data={value:?}"),
                }
            }
            _ => panic!("unknown policy setting {key:?}"),
        }
    }
    assert!(p.check().is_empty(), "policy problems: {:?}", p.check());
    p
}

/// Runs a script against one alert and returns its final record; panics naming the line whose
/// expectation failed.
pub(super) fn run(script: &str) -> AlertRecord {
    let key = AlertKey::new("Fixture", Labels::new().with("instance", "a"));
    let mut record = AlertRecord::new(key, BASE);
    let mut policy = AlertPolicy::default();
    for (n, raw) in script.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("policy") {
            policy = self::policy(line);
            continue;
        }
        let (input, expect) = line
            .split_once("->")
            .unwrap_or_else(|| panic!("line {}: no `->` in {line:?}", n + 1));
        let mut words = input.split_whitespace();
        let times = times(words.next().expect("a time"));
        let evaluation = match (words.next(), words.next()) {
            (Some("fail"), Some(v)) => Evaluation::Failing(Failure::new(
                record.key.labels.clone(),
                v.parse().expect("a value"),
            )),
            (Some("ok"), None) => Evaluation::Ok,
            (Some("nodata"), None) => Evaluation::NoData,
            (Some("error"), None) => Evaluation::Error("query failed".into()),
            other => panic!("line {}: bad evaluation {other:?}", n + 1),
        };
        let mut expect = expect.split_whitespace();
        let phase = AlertPhase::parse(expect.next().expect("a phase"))
            .unwrap_or_else(|| panic!("line {}: unknown phase", n + 1));
        let marks: Vec<&str> = expect.collect();
        for now in times {
            let (next, transition) = step(record, &policy, &evaluation, now);
            record = next;
            let at = format!("line {} at +{}s", n + 1, now.millis_since(BASE) / 1000);
            assert_eq!(record.phase, phase, "{at}: phase; {transition:?}");
            let notify = transition.as_ref().map(|t| t.notify);
            let wanted_notify = if marks.contains(&"notify") {
                Some(true)
            } else if marks.contains(&"quiet") {
                Some(false)
            } else {
                None
            };
            assert_eq!(notify, wanted_notify, "{at}: transition {transition:?}");
            let change = transition.as_ref().map(|t| t.change);
            let wanted_change = if marks.contains(&"flap-start") {
                Some(Change::FlappingStarted)
            } else if marks.contains(&"flap-stop") {
                Some(Change::FlappingStopped)
            } else {
                transition.as_ref().map(|_| Change::Phase)
            };
            assert_eq!(change, wanted_change, "{at}: change");
            assert_eq!(
                record.flapping,
                marks.contains(&"flapping"),
                "{at}: flapping mark"
            );
            if let Some(t) = &transition {
                assert_eq!((t.to, t.at), (record.phase, now), "{at}: transition fields");
            }
        }
    }
    record
}

/// The instants of a time field: `5m` or `5m..9m/1m`.
fn times(field: &str) -> Vec<Timestamp> {
    match field.split_once("..") {
        None => vec![BASE.plus_millis(duration_ms(field))],
        Some((from, rest)) => {
            let (to, every) = rest.split_once('/').expect("A..B/STEP");
            let (from, to, every) = (duration_ms(from), duration_ms(to), duration_ms(every));
            assert!(every > 0, "step must be positive");
            (0..)
                .map(|i| from + i * every)
                .take_while(|t| *t <= to)
                .map(|t| BASE.plus_millis(t))
                .collect()
        }
    }
}
