//! The escalations in progress, one per alert group: the policy's state, the receiver and the
//! latest message, so a later step re-sends what the group says now to the next people.
//!
//! Each is kept in the state database as a document, so a step that falls due while Periscope
//! is down goes out once, right after it starts again.

use std::collections::BTreeMap;

use model::Timestamp;
use model::alert::{Document, DocumentWrite};
use serde::{Deserialize, Serialize};

use crate::channel::{Notification, Person};
use crate::escalation::{Escalation, EscalationPolicies};
use crate::oncall::OnCall;

/// The document kind of escalations in the state database.
pub const DOCUMENT_KIND: &str = "escalation";

/// One group's escalation.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    receiver: String,
    escalation: Escalation,
    /// The step last sent, as (round, step).
    last_step: (u32, usize),
    /// The group's latest message.
    notification: Notification,
}

/// An escalation as status pages show it.
pub struct View<'a> {
    /// The group's key.
    pub group_key: &'a str,
    /// The receiver.
    pub receiver: &'a str,
    /// The policy.
    pub policy: &'a str,
    /// When it started.
    pub started_at: Timestamp,
    /// The step last sent (round, step), counted from 0.
    pub last_step: (u32, usize),
    /// Who acknowledged, and when.
    pub acknowledged: Option<(&'a str, Timestamp)>,
}

/// Every escalation in progress, by group key.
#[derive(Default)]
pub struct Escalations {
    by_group: BTreeMap<String, Record>,
}

impl Escalations {
    /// Starts the escalation of `group_key` under `policy` when none runs (its first step is
    /// addressed now), or keeps the running one, remembering `notification` as the group's
    /// latest message. Returns the people this message is for.
    #[allow(clippy::too_many_arguments)]
    pub fn start_or_current(
        &mut self,
        group_key: &str,
        receiver: &str,
        policy: &str,
        notification: &Notification,
        policies: &EscalationPolicies,
        oncall: &OnCall,
        now: Timestamp,
    ) -> (Vec<Person>, Option<DocumentWrite>) {
        let Some(p) = policies.get(policy) else {
            return (Vec::new(), None);
        };
        let record = self
            .by_group
            .entry(group_key.to_string())
            .or_insert_with(|| {
                let mut escalation = Escalation::start(policy, now);
                escalation.mark_sent(0, 0);
                Record {
                    receiver: receiver.to_string(),
                    escalation,
                    last_step: (0, 0),
                    notification: notification.clone(),
                }
            });
        record.notification = notification.clone();
        let step = &p.steps[record.last_step.1.min(p.steps.len() - 1)];
        let people = record
            .escalation
            .resolve_targets(&step.targets, oncall, now)
            .people;
        let write = document(group_key, record, now);
        (people, Some(write))
    }

    /// The messages of every step that has come due, each with the people it is for, and the
    /// writes that record them as sent.
    pub fn due_steps(
        &mut self,
        policies: &EscalationPolicies,
        oncall: &OnCall,
        now: Timestamp,
    ) -> Vec<(Notification, DocumentWrite)> {
        let mut out = Vec::new();
        for (key, record) in &mut self.by_group {
            let Some(policy) = policies.get(record.escalation.policy()) else {
                continue;
            };
            // After a long pause only the latest due step is sent: people need to hear once,
            // from the step that applies now, not from every step they slept through.
            let Some(step) = record.escalation.due(policy, now).pop() else {
                continue;
            };
            record.escalation.mark_sent(step.round, step.step);
            record.last_step = (step.round, step.step);
            let mut n = record.notification.clone();
            n.people = record
                .escalation
                .resolve_targets(&step.targets, oncall, now)
                .people;
            out.push((n, document(key, record, now)));
        }
        out
    }

    /// Stops the escalation of `group_key`; the write that keeps the acknowledgement.
    pub fn acknowledge(
        &mut self,
        group_key: &str,
        by: &str,
        now: Timestamp,
    ) -> Option<DocumentWrite> {
        let record = self.by_group.get_mut(group_key)?;
        record.escalation.acknowledge(by, now);
        Some(document(group_key, record, now))
    }

    /// Ends the escalation of `group_key` (nothing fires any more); the write that forgets it.
    pub fn resolve(&mut self, group_key: &str) -> Option<DocumentWrite> {
        self.by_group.remove(group_key)?;
        Some(DocumentWrite::Delete {
            kind: DOCUMENT_KIND.into(),
            key: group_key.to_string(),
        })
    }

    /// When the next step of any escalation falls due.
    pub fn next_wake(&self, policies: &EscalationPolicies) -> Option<Timestamp> {
        self.by_group
            .values()
            .filter_map(|r| r.escalation.next_wake(policies.get(r.escalation.policy())?))
            .min()
    }

    /// Loads the saved escalations; returns a line per unreadable document.
    pub fn restore(&mut self, documents: &[Document]) -> Vec<String> {
        let mut problems = Vec::new();
        for doc in documents {
            match serde_json::from_str::<Record>(&doc.body) {
                Ok(r) => {
                    self.by_group.insert(doc.key.clone(), r);
                }
                Err(e) => problems.push(format!("escalation {:?}: {e}", doc.key)),
            }
        }
        problems
    }

    /// Every escalation, by group key.
    pub fn views(&self) -> impl Iterator<Item = View<'_>> {
        self.by_group.iter().map(|(key, r)| View {
            group_key: key,
            receiver: &r.receiver,
            policy: r.escalation.policy(),
            started_at: r.escalation.started_at(),
            last_step: r.last_step,
            acknowledged: r.escalation.acknowledged().map(|a| (a.by.as_str(), a.at)),
        })
    }
}

fn document(group_key: &str, record: &Record, now: Timestamp) -> DocumentWrite {
    DocumentWrite::Put(Document {
        kind: DOCUMENT_KIND.into(),
        key: group_key.to_string(),
        body: serde_json::to_string(record).unwrap_or_default(),
        updated_at: now,
    })
}
