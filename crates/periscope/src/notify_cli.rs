//! `periscope test-route` and `periscope oncall who`: what the response side would do, read
//! from the config (and the running server's silences), at any time you name.

use std::fmt::Write as _;

use model::duration::format_duration;
use model::level::Level;
use model::{Clock, Labels, SystemClock, Timestamp};
use notify::Alert;
use notify::alert::level_of;
use notify::escalation::Target;
use notify::oncall::OnCall;
use notify::partner::{Decision, Partner};
use notify::pipeline::Setup;
use notify::route::GroupBy;

use crate::commands::load_or_report;
use crate::config::LoadOptions;
use crate::query::parse_time;
use live::Live;

mod live;

/// `periscope test-route LABELS... [--at TIME] [--url URL | --offline]`.
pub async fn test_route(
    load: &LoadOptions,
    labels: &[String],
    at: Option<&str>,
    url: Option<&str>,
    offline: bool,
) -> u8 {
    let Some(config) = load_or_report(load) else {
        return 3;
    };
    let Some(notify) = &config.notify else {
        eprintln!(
            "periscope: no [notify] section in {}: nobody is notified of anything",
            config.path.display()
        );
        return 1;
    };
    let now = SystemClock.now();
    let at = match at.map(|t| parse_time(t, now)).transpose() {
        Ok(t) => t.unwrap_or(now),
        Err(e) => {
            eprintln!("periscope: --at: {e}");
            return 2;
        }
    };
    let mut parsed = Labels::new();
    for pair in labels {
        let Some((name, value)) = pair.split_once('=') else {
            eprintln!("periscope: label {pair:?} is not NAME=VALUE");
            return 2;
        };
        parsed.set(name.trim(), value.trim().trim_matches('"'));
    }
    let live = if offline {
        Live::Skipped
    } else {
        match live::fetch(config.http.as_ref(), url).await {
            Ok(live) => live,
            Err(e) => {
                eprintln!("periscope: live silences: {e}");
                return 1;
            }
        }
    };
    print!("{}", live::explain(&live, &parsed, at));
    print!(
        "{}",
        explain(&notify.setup, notify.default_level, parsed, at)
    );
    0
}

/// What happens to an alert with `labels` firing at `at`, in words.
pub fn explain(setup: &Setup, default_level: Level, labels: Labels, at: Timestamp) -> String {
    let mut out = String::new();
    let level = level_of(&labels, default_level);
    let alert = Alert::firing(labels.clone(), at);
    let _ = writeln!(out, "Alert {} at {at}", show(&labels));
    let _ = writeln!(out, "Level: {level}");
    if level == Level::Logged {
        let _ = writeln!(
            out,
            "  logged: recorded and shown on the dashboard; nobody is notified."
        );
        return out;
    }
    let routes = setup.tree.matching(&alert.labels);
    for route in routes {
        let _ = writeln!(out, "\nRoute {route}");
        let group = route.group_by.group_labels(&alert.labels);
        let by = match &route.group_by {
            GroupBy::All => "every label".to_string(),
            GroupBy::Labels(names) if names.is_empty() => "nothing (one group)".to_string(),
            GroupBy::Labels(names) => names.join(", "),
        };
        let t = route.timing;
        let _ = writeln!(
            out,
            "  grouped by {by}: group {}\n  first message {} after the group's first alert, updates every {}, repeated every {} while unchanged",
            notify::dispatch::group_key(route, &group),
            format_duration(t.group_wait),
            format_duration(t.group_interval),
            format_duration(t.repeat_interval),
        );
        if let Some((period, inside)) = route.muted_at(at) {
            let why = if inside {
                "inside mute period"
            } else {
                "outside active period"
            };
            let _ = writeln!(out, "  MUTED at this time: {why} {period}");
            continue;
        }
        if let Some(reason) = notify::mute::Muter::mute(&setup.maintenance, &alert, at) {
            let _ = writeln!(out, "  MUTED at this time: {reason}");
            continue;
        }
        let Some(receiver) = setup.receivers.get(&route.receiver) else {
            continue;
        };
        let channels: Vec<&str> = receiver
            .channels
            .iter()
            .map(|c| c.integration.as_str())
            .collect();
        let _ = writeln!(out, "  receiver {}: {}", receiver.name, channels.join(", "));
        if let Some(partner) = &receiver.partner {
            explain_partner(&mut out, partner, &alert, at);
            continue;
        }
        match (level, &receiver.hours) {
            (Level::NonCritical, Some((name, hours))) if !hours.contains(at) => {
                let when = hours
                    .next_change(at)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "never".into());
                let _ = writeln!(
                    out,
                    "  non-critical outside {name}: held for the digest sent when {name} begins ({when})"
                );
            }
            (Level::NonCritical, Some((name, _))) => {
                let _ = writeln!(out, "  non-critical inside {name}: sent at once");
            }
            (Level::NonCritical, None) => {
                let _ = writeln!(
                    out,
                    "  non-critical: sent at once (the receiver names no hours)"
                );
            }
            _ => {
                let _ = writeln!(out, "  critical: sent at once, 24x7");
            }
        }
        if level == Level::NonCritical
            && let Some(name) = &receiver.escalation
            && let Some(policy) = setup.policies.get(name)
        {
            let (people, left_out) = policy.first_step_in_hours(name, &setup.oncall, at);
            let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
            let _ = writeln!(
                out,
                "  people (first step of escalation {name}, no escalation): {}",
                if names.is_empty() {
                    "nobody".to_string()
                } else {
                    names.join(", ")
                }
            );
            for why in left_out {
                let _ = writeln!(out, "    left out: {why}");
            }
        }
        if level == Level::Critical
            && let Some(name) = &receiver.escalation
            && let Some(policy) = setup.policies.get(name)
        {
            let _ = writeln!(
                out,
                "  escalation {name} ({} round{}):",
                policy.repeat,
                if policy.repeat == 1 { "" } else { "s" }
            );
            let mut when = at;
            for (i, step) in policy.steps.iter().enumerate() {
                let people = targets(&step.targets, &setup.oncall, when);
                let _ = writeln!(out, "    step {} at {when}: {}", i + 1, people.join(", "));
                if let Some(after) = step.after {
                    when = when.plus_millis(after.as_millis() as i64);
                    let _ = writeln!(
                        out,
                        "      unless acknowledged within {}",
                        format_duration(after)
                    );
                }
            }
        }
    }
    out
}

/// What a partner's rule does with `alert` firing since `at`.
fn explain_partner(out: &mut String, partner: &Partner, alert: &Alert, at: Timestamp) {
    if let Some(description) = &partner.description {
        let _ = writeln!(out, "  partner {}: {description}", partner.name);
    }
    if let Some(mode) = partner.failure_mode(alert) {
        let response = mode.response.as_deref().unwrap_or("no agreed response");
        let _ = writeln!(out, "  failure mode {:?}: {response}", mode.name);
    }
    match partner.decide(alert, at) {
        Decision::Now => {
            let _ = writeln!(out, "  told at once");
        }
        Decision::At(when, why) => {
            let _ = writeln!(out, "  {why}: told at {when} if still failing");
        }
        Decision::Never(why) => {
            let _ = writeln!(out, "  NOT TOLD: {why}");
        }
    }
    let contacts: Vec<String> = partner
        .contacts
        .iter()
        .map(|c| match &c.email {
            Some(email) => format!("{} <{email}>", c.name),
            None => c.name.clone(),
        })
        .collect();
    if !contacts.is_empty() {
        let _ = writeln!(out, "  contacts: {}", contacts.join(", "));
    }
}

/// Who the targets are at `at`, with why.
fn targets(targets: &[Target], oncall: &OnCall, at: Timestamp) -> Vec<String> {
    targets
        .iter()
        .map(|t| match t {
            Target::Person(name) => name.clone(),
            Target::Schedule(schedule) => match oncall.schedule(schedule).and_then(|s| s.who(at)) {
                Some(shift) => format!(
                    "{} (on call in {schedule} until {})",
                    shift.person, shift.until
                ),
                None => format!("nobody ({schedule} has nobody on call)"),
            },
        })
        .collect()
}

/// `periscope oncall who [SCHEDULE] [--at TIME]`.
pub fn oncall_who(load: &LoadOptions, schedule: Option<&str>, at: Option<&str>) -> u8 {
    let Some(config) = load_or_report(load) else {
        return 3;
    };
    let now = SystemClock.now();
    let at = match at.map(|t| parse_time(t, now)).transpose() {
        Ok(t) => t.unwrap_or(now),
        Err(e) => {
            eprintln!("periscope: --at: {e}");
            return 2;
        }
    };
    let schedules: Vec<_> = config
        .oncall
        .schedules()
        .filter(|(name, _)| schedule.is_none_or(|s| s == *name))
        .collect();
    if schedules.is_empty() {
        match schedule {
            Some(s) => eprintln!("periscope: no schedule is called `{s}`"),
            None => eprintln!("periscope: no [schedule.NAME] in {}", config.path.display()),
        }
        return 1;
    }
    let mut nobody = false;
    for (name, s) in schedules {
        match s.who(at) {
            Some(shift) => {
                let via = match (&shift.layer, &shift.reason) {
                    (Some(layer), _) => format!("layer {layer}"),
                    (None, Some(reason)) => format!("override: {reason}"),
                    (None, None) => "override".into(),
                };
                let contact = config
                    .oncall
                    .person(&shift.person)
                    .and_then(|p| p.email.clone())
                    .unwrap_or_default();
                println!(
                    "{name}: {} <{contact}> from {} until {} ({via})",
                    shift.person, shift.from, shift.until
                );
            }
            None => {
                nobody = true;
                println!("{name}: nobody on call at {at}");
            }
        }
    }
    u8::from(nobody)
}

fn show(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}
