//! Escalation policies: whom to tell first, how long to wait for an acknowledgement, whom to
//! tell next, and how many times to run the list.
//!
//! A policy ([`EscalationPolicy`]) is configuration, checked against the people and schedules
//! it names. Its progress for one alert group is an [`Escalation`]: a small value that says
//! which steps were sent and whether someone acknowledged, which the binary persists as JSON so
//! an escalation survives a restart. Timing is computed from the escalation's start and the
//! policy, never from when the process happened to wake, so a step that fell due while the
//! process was down is due right away after the restart, and only once.

mod state;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use model::level::Level;
use model::{ConfigIssue, Timestamp};
use serde::{Deserialize, Serialize};

use crate::channel::Person;
use crate::oncall::OnCall;

pub use state::{Acknowledgement, Escalation, Recipients, StepDue};

/// The most rounds a policy may ask for; more is a typo, not a plan.
const MAX_REPEAT: u32 = 100;

/// A policy as configured under `[escalation.NAME]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// How many times the whole list of steps runs; default 1.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// The steps, in order (`[[escalation.NAME.step]]`).
    #[serde(default)]
    pub step: Vec<RawStep>,
}

/// One step of a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Whom to notify: `"schedule:NAME"` (whoever is on call then) or `"person:NAME"`.
    #[serde(default)]
    pub notify: Vec<String>,
    /// How long to wait for an acknowledgement before the next step (or, after the last step,
    /// before the next round): `"90s"`, `"15m"`, `"1h30m"`. Needed wherever something follows.
    #[serde(default)]
    pub after: Option<String>,
}

/// Whom a step notifies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Whoever the schedule has on call when the step is sent.
    Schedule(String),
    /// This person.
    Person(String),
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().split_once(':') {
            Some(("schedule", name)) if !name.trim().is_empty() => {
                Ok(Target::Schedule(name.trim().to_string()))
            }
            Some(("person", name)) if !name.trim().is_empty() => {
                Ok(Target::Person(name.trim().to_string()))
            }
            _ => Err(format!("'{text}' is not a target")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Schedule(name) => write!(f, "schedule:{name}"),
            Target::Person(name) => write!(f, "person:{name}"),
        }
    }
}

/// One built step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Whom it notifies.
    pub targets: Vec<Target>,
    /// How long after it the next step (or round) is due; `None` only where nothing follows.
    pub after: Option<Duration>,
}

/// A built policy: steps in order, run `repeat` times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// How many rounds (at least 1).
    pub repeat: u32,
}

impl EscalationPolicy {
    /// Checks one policy against the people and schedules of `oncall`. Every problem is
    /// reported, at key paths relative to the policy's table (`step.1.notify.0`).
    pub fn build(raw: &RawPolicy, oncall: &OnCall) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let repeat = raw.repeat.unwrap_or(1);
        if repeat == 0 || repeat > MAX_REPEAT {
            issues.push(
                ConfigIssue::new("repeat", format!("repeat = {repeat} is out of range"))
                    .hint(format!("run the steps 1 to {MAX_REPEAT} times (default 1)")),
            );
        }
        if raw.step.is_empty() {
            issues.push(
                ConfigIssue::new("step", "the policy has no steps: nobody would be told").hint(
                    "add [[escalation.NAME.step]] with notify = [\"schedule:NAME\"] and after",
                ),
            );
        }
        let mut steps = Vec::new();
        for (i, raw_step) in raw.step.iter().enumerate() {
            let path = |key: &str| format!("step.{i}.{key}");
            if raw_step.notify.is_empty() {
                issues.push(
                    ConfigIssue::new(path("notify"), "the step notifies nobody")
                        .hint("list targets such as \"schedule:ops\" or \"person:alice\""),
                );
            }
            let mut targets = Vec::new();
            for (j, text) in raw_step.notify.iter().enumerate() {
                let at = path(&format!("notify.{j}"));
                match text.parse::<Target>() {
                    Ok(target) => {
                        if let Some(issue) = unknown_target(&target, oncall, at) {
                            issues.push(issue);
                        }
                        targets.push(target);
                    }
                    Err(message) => {
                        issues.push(ConfigIssue::new(at, message).hint(
                            "write \"schedule:NAME\" (whoever is on call) or \"person:NAME\"",
                        ))
                    }
                }
            }
            let followed = i + 1 < raw.step.len() || repeat > 1;
            let after = match &raw_step.after {
                Some(text) => match parse_duration(text) {
                    Ok(d) => Some(d),
                    Err(message) => {
                        issues.push(ConfigIssue::new(path("after"), message).hint(DURATION_HINT));
                        None
                    }
                },
                None if followed => {
                    let next = if i + 1 < raw.step.len() {
                        format!("step {}", i + 1)
                    } else {
                        "the next round".to_string()
                    };
                    issues.push(
                        ConfigIssue::new(
                            path("after"),
                            format!(
                                "missing: how long to wait for an acknowledgement before {next}"
                            ),
                        )
                        .hint(DURATION_HINT),
                    );
                    None
                }
                None => None,
            };
            steps.push(Step { targets, after });
        }
        if issues.is_empty() {
            Ok(EscalationPolicy { steps, repeat })
        } else {
            Err(issues)
        }
    }

    /// Who hears a non-critical message on a receiver with this policy (`name`): the first
    /// step's people who are inside their own `hours` at `at`, each with the reason anyone
    /// else of the step is left out. Non-critical news does not escalate (nobody is paged
    /// next, nothing waits for an acknowledgement), like a low-urgency incident that notifies
    /// its assignee by their low-urgency rules only.
    pub fn first_step_in_hours(
        &self,
        name: &str,
        oncall: &OnCall,
        at: Timestamp,
    ) -> (Vec<Person>, Vec<String>) {
        let Some(step) = self.steps.first() else {
            return (Vec::new(), Vec::new());
        };
        let resolved = Escalation::start(name, at).resolve_targets(&step.targets, oncall, at);
        let (mut reached, mut left_out) = (Vec::new(), Vec::new());
        for person in resolved.people {
            match oncall.people().get(&person.name) {
                Some(contact) if !contact.may_reach(Level::NonCritical, at) => {
                    left_out.push(format!("{}: outside their hours", person.name));
                }
                _ => reached.push(person),
            }
        }
        (reached, left_out)
    }

    /// When step `step` of round `round` is due for an escalation started at `started`, or
    /// `None` when the policy has no such step.
    pub fn due_at(&self, started: Timestamp, round: u32, step: usize) -> Option<Timestamp> {
        if round >= self.repeat || step >= self.steps.len() {
            return None;
        }
        let round_ms: i64 = self.steps.iter().map(|s| millis(s.after)).sum();
        let into_round: i64 = self.steps[..step].iter().map(|s| millis(s.after)).sum();
        let offset = round_ms
            .saturating_mul(i64::from(round))
            .saturating_add(into_round);
        Some(started.plus_millis(offset))
    }
}

fn millis(after: Option<Duration>) -> i64 {
    after.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Why a target cannot be resolved, if it cannot.
fn unknown_target(target: &Target, oncall: &OnCall, at: String) -> Option<ConfigIssue> {
    match target {
        Target::Schedule(name) if oncall.schedule(name).is_none() => {
            let known: Vec<&str> = oncall.schedules().map(|(n, _)| n).collect();
            Some(
                ConfigIssue::new(at, format!("unknown schedule '{name}'"))
                    .hint(known_hint("schedule", name, &known)),
            )
        }
        Target::Person(name) if oncall.person(name).is_none() => {
            let known: Vec<&str> = oncall.people().iter().map(|(n, _)| n).collect();
            Some(
                ConfigIssue::new(at, format!("unknown person '{name}'"))
                    .hint(known_hint("person", name, &known)),
            )
        }
        _ => None,
    }
}

fn known_hint(kind: &str, name: &str, known: &[&str]) -> String {
    if known.is_empty() {
        format!("define [{kind}.{name}]")
    } else {
        format!(
            "define [{kind}.{name}], or use one of: {}",
            known.join(", ")
        )
    }
}

/// Every policy, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EscalationPolicies {
    by_name: BTreeMap<String, EscalationPolicy>,
}

impl EscalationPolicies {
    /// Builds every policy of the `[escalation]` table. Every problem is reported, at key
    /// paths from the config's root (`escalation.payments.step.0.after`).
    pub fn build(
        raw: &BTreeMap<String, RawPolicy>,
        oncall: &OnCall,
    ) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut by_name = BTreeMap::new();
        for (name, policy) in raw {
            match EscalationPolicy::build(policy, oncall) {
                Ok(built) => {
                    by_name.insert(name.clone(), built);
                }
                Err(found) => issues.extend(
                    found
                        .into_iter()
                        .map(|i| i.under(&format!("escalation.{name}"))),
                ),
            }
        }
        if issues.is_empty() {
            Ok(EscalationPolicies { by_name })
        } else {
            Err(issues)
        }
    }

    /// The policy called `name`.
    pub fn get(&self, name: &str) -> Option<&EscalationPolicy> {
        self.by_name.get(name)
    }

    /// The policy names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

const DURATION_HINT: &str =
    "write numbers with units d, h, m, s or ms, e.g. \"90s\", \"15m\" or \"1h30m\"";

/// A step's wait, read as every duration in the config is ([`model::duration`]).
fn parse_duration(text: &str) -> Result<Duration, String> {
    model::duration::parse_duration(text.trim()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
