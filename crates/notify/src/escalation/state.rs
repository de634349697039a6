//! One alert group's escalation in progress: which step comes next, and whether someone
//! acknowledged or the problem resolved.
//!
//! It holds only what cannot be recomputed (when it started, how far sending got, who
//! acknowledged); when each step is due comes from the policy. That keeps the persisted JSON
//! small and makes "what is due now" the same question before and after a restart.

use model::Timestamp;
use serde::{Deserialize, Serialize};

use super::{EscalationPolicy, Target};
use crate::channel::Person;
use crate::oncall::OnCall;

/// Who acknowledged, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Who acknowledged (a person's name, or whatever the acknowledging channel reported).
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// A step that is due to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepDue {
    /// The round (from 0).
    pub round: u32,
    /// The step within the round (from 0).
    pub step: usize,
    /// When it became due.
    pub at: Timestamp,
    /// Whom it notifies.
    pub targets: Vec<Target>,
}

/// The people a step's targets stand for at one instant, and what could not be resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipients {
    /// Each person once, in the order the targets name them.
    pub people: Vec<Person>,
    /// Targets that gave nobody (a schedule with nobody on call, a name no longer defined),
    /// said plainly for the log and the dashboard.
    pub notes: Vec<String>,
}

/// One alert group's escalation, persisted as JSON between steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    policy: String,
    started_at: Timestamp,
    /// The round of the first step not yet sent.
    next_round: u32,
    /// The step (within `next_round`) of the first step not yet sent; may equal the number of
    /// steps, meaning the first step of the following round.
    next_step: usize,
    #[serde(default)]
    acknowledged: Option<Acknowledgement>,
    #[serde(default)]
    resolved_at: Option<Timestamp>,
}

impl Escalation {
    /// An escalation under the policy called `policy`, started at `at`: its first step is due
    /// at once.
    pub fn start(policy: impl Into<String>, at: Timestamp) -> Self {
        Escalation {
            policy: policy.into(),
            started_at: at,
            next_round: 0,
            next_step: 0,
            acknowledged: None,
            resolved_at: None,
        }
    }

    /// The policy's name.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// When it started.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// Who acknowledged, if anyone did.
    pub fn acknowledged(&self) -> Option<&Acknowledgement> {
        self.acknowledged.as_ref()
    }

    /// When the problem resolved, if it did.
    pub fn resolved_at(&self) -> Option<Timestamp> {
        self.resolved_at
    }

    /// True once acknowledged or resolved: no step is due any more.
    pub fn is_stopped(&self) -> bool {
        self.acknowledged.is_some() || self.resolved_at.is_some()
    }

    /// The first step not yet sent, as (round, step) within `policy`, or `None` when every
    /// step was sent.
    fn next(&self, policy: &EscalationPolicy) -> Option<(u32, usize)> {
        let (mut round, mut step) = (self.next_round, self.next_step);
        if step >= policy.steps.len() {
            round = round.saturating_add(1);
            step = 0;
        }
        (round < policy.repeat && !policy.steps.is_empty()).then_some((round, step))
    }

    /// Every step not yet marked sent that is due by `now`, in order, each with when it became
    /// due. After a long pause (a restart) this is every step missed meanwhile; until
    /// [`mark_sent`](Self::mark_sent) records them, they are returned again.
    pub fn due(&self, policy: &EscalationPolicy, now: Timestamp) -> Vec<StepDue> {
        let mut out = Vec::new();
        if self.is_stopped() {
            return out;
        }
        let Some((mut round, mut step)) = self.next(policy) else {
            return out;
        };
        while let Some(at) = policy.due_at(self.started_at, round, step) {
            if at > now {
                break;
            }
            out.push(StepDue {
                round,
                step,
                at,
                targets: policy.steps[step].targets.clone(),
            });
            step += 1;
            if step == policy.steps.len() {
                round += 1;
                step = 0;
            }
        }
        out
    }

    /// Records that step `step` of round `round` was sent, and so every step before it. Marking
    /// a step that is already behind changes nothing.
    pub fn mark_sent(&mut self, round: u32, step: usize) {
        if (round, step) >= (self.next_round, self.next_step) {
            self.next_round = round;
            self.next_step = step.saturating_add(1);
        }
    }

    /// Someone took it: no further step is due. A second acknowledgement keeps the first.
    pub fn acknowledge(&mut self, by: &str, at: Timestamp) {
        if self.acknowledged.is_none() {
            self.acknowledged = Some(Acknowledgement {
                by: by.to_string(),
                at,
            });
        }
    }

    /// The problem went away: no further step is due.
    pub fn resolve(&mut self, at: Timestamp) {
        if self.resolved_at.is_none() {
            self.resolved_at = Some(at);
        }
    }

    /// When the next step becomes due (possibly already past, meaning now), or `None` when
    /// acknowledged, resolved or every step was sent.
    pub fn next_wake(&self, policy: &EscalationPolicy) -> Option<Timestamp> {
        if self.is_stopped() {
            return None;
        }
        let (round, step) = self.next(policy)?;
        policy.due_at(self.started_at, round, step)
    }

    /// The people `targets` stand for at `at`: a schedule gives whoever it has on call then.
    /// A schedule with nobody on call, or a name `oncall` no longer defines, gives nobody and a
    /// note saying so.
    pub fn resolve_targets(
        &self,
        targets: &[Target],
        oncall: &OnCall,
        at: Timestamp,
    ) -> Recipients {
        let mut out = Recipients::default();
        let mut add = |person: &Person| {
            if !out.people.iter().any(|p| p.name == person.name) {
                out.people.push(person.clone());
            }
        };
        let mut notes = Vec::new();
        for target in targets {
            let name = match target {
                Target::Person(name) => name.clone(),
                Target::Schedule(schedule) => match oncall.schedule(schedule) {
                    None => {
                        notes.push(format!(
                            "escalation '{}': schedule '{schedule}' is not defined; skipped",
                            self.policy
                        ));
                        continue;
                    }
                    Some(s) => match s.who(at) {
                        Some(shift) => shift.person,
                        None => {
                            notes.push(format!(
                                "escalation '{}': schedule '{schedule}' has nobody on call at \
                                 {at}; skipped",
                                self.policy
                            ));
                            continue;
                        }
                    },
                },
            };
            match oncall.person(&name) {
                Some(person) => add(person),
                None => notes.push(format!(
                    "escalation '{}': person '{name}' is not defined; skipped",
                    self.policy
                )),
            }
        }
        out.notes = notes;
        out
    }
}
