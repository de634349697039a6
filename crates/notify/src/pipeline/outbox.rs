//! Deliveries not yet done: waiting for their first attempt, in flight, or waiting to retry.
//!
//! One entry per channel and group: a newer message for the same group replaces a waiting one
//! (people want the latest state, not the history of retries), and one in flight is followed by
//! the newer one once it finishes. Entries are kept in the state database, so a delivery that
//! was failing when Periscope stopped is retried after it starts, once.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use model::Timestamp;
use model::alert::{Document, DocumentWrite};
use serde::{Deserialize, Serialize};

use crate::channel::Notification;
use crate::nflog::Plan;

/// The document kind of outbox entries in the state database.
pub const DOCUMENT_KIND: &str = "outbox";

/// The first retry waits this long; each later one twice as long as the last, up to
/// [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Attempts after which a retryable failure is given up and reported.
pub const MAX_ATTEMPTS: u32 = 20;

/// What the notification log should remember once a message is delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settles {
    /// One group's plan.
    Group(SavedPlan),
    /// A digest: the plans of every group it carries.
    Digest(Vec<(String, SavedPlan)>),
    /// An escalation step: the log is left alone (it was already written when the group was
    /// first sent).
    Nothing,
}

/// The parts of a [`Plan`] the log records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// See [`Plan::known_firing`].
    pub known_firing: Vec<model::alert::Fingerprint>,
    /// See [`Plan::resolved`].
    pub resolved: Vec<model::alert::Fingerprint>,
}

impl From<&Plan> for SavedPlan {
    fn from(plan: &Plan) -> Self {
        SavedPlan {
            known_firing: plan.known_firing.clone(),
            resolved: plan.resolved.clone(),
        }
    }
}

impl SavedPlan {
    /// Back to a plan the log can record.
    pub fn to_plan(&self) -> Plan {
        Plan {
            decision: crate::nflog::Decision::NewFiring,
            firing: Vec::new(),
            resolved: self.resolved.clone(),
            known_firing: self.known_firing.clone(),
        }
    }
}

/// One delivery to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The channel (`receiver/index:kind`).
    pub integration: String,
    /// Which group (or `digest:RECEIVER`, `escalation:...`).
    pub group_key: String,
    /// What to send.
    pub notification: Notification,
    /// What the log remembers once it is sent.
    pub settles: Settles,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt may start.
    pub next_attempt: Timestamp,
    /// The last failure, for people.
    pub last_error: Option<String>,
}

impl Entry {
    fn key(&self) -> (String, String) {
        (self.integration.clone(), self.group_key.clone())
    }

    fn document(&self, now: Timestamp) -> DocumentWrite {
        DocumentWrite::Put(Document {
            kind: DOCUMENT_KIND.into(),
            key: format!("{}\u{1f}{}", self.integration, self.group_key),
            body: serde_json::to_string(self).unwrap_or_default(),
            updated_at: now,
        })
    }

    fn deletion(integration: &str, group_key: &str) -> DocumentWrite {
        DocumentWrite::Delete {
            kind: DOCUMENT_KIND.into(),
            key: format!("{integration}\u{1f}{group_key}"),
        }
    }
}

/// Waiting and in-flight deliveries.
#[derive(Debug, Default)]
pub struct Outbox {
    waiting: HashMap<(String, String), Entry>,
    timers: BTreeSet<(Timestamp, String, String)>,
    in_flight: HashMap<(String, String), Entry>,
}

impl Outbox {
    /// Queues `entry` for its `next_attempt`, replacing a waiting entry of the same channel
    /// and group; returns the write that keeps it.
    pub fn push(&mut self, entry: Entry, now: Timestamp) -> DocumentWrite {
        let key = entry.key();
        if let Some(old) = self.waiting.remove(&key) {
            self.timers
                .remove(&(old.next_attempt, key.0.clone(), key.1.clone()));
        }
        let write = entry.document(now);
        self.timers
            .insert((entry.next_attempt, key.0.clone(), key.1.clone()));
        self.waiting.insert(key, entry);
        write
    }

    /// Takes every entry whose time has come and whose channel and group has nothing in
    /// flight; they are in flight until [`Outbox::finish`].
    pub fn take_due(&mut self, now: Timestamp) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut blocked = Vec::new();
        while let Some((at, integration, group)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let key = (integration, group);
            if self.in_flight.contains_key(&key) {
                blocked.push((at, key));
                continue;
            }
            if let Some(entry) = self.waiting.remove(&key) {
                self.in_flight.insert(key, entry.clone());
                out.push(entry);
            }
        }
        for (at, key) in blocked {
            self.timers.insert((at, key.0, key.1));
        }
        out
    }

    /// Ends the flight of the entry for `integration` and `group_key` and returns it. `retry_at`
    /// requeues it (a retryable failure); otherwise it is done and its document deleted, unless
    /// a newer entry waits (which keeps the document).
    pub fn finish(
        &mut self,
        integration: &str,
        group_key: &str,
        retry_at: Option<(Timestamp, String)>,
        now: Timestamp,
    ) -> (Option<Entry>, Option<DocumentWrite>) {
        let key = (integration.to_string(), group_key.to_string());
        let Some(entry) = self.in_flight.remove(&key) else {
            return (None, None);
        };
        let newer_waits = self.waiting.contains_key(&key);
        match retry_at {
            // A newer message supersedes the failed one.
            Some(_) if newer_waits => (Some(entry), None),
            Some((at, error)) => {
                let mut again = entry.clone();
                again.attempts += 1;
                again.next_attempt = at;
                again.last_error = Some(error);
                (Some(entry), Some(self.push(again, now)))
            }
            // A newer message that would tell exactly what was just delivered is no news:
            // after a restart, the saved delivery goes out while the regrouped alerts plan the
            // same message again, before the log knows the first arrived. Only single-group
            // messages: a later escalation step is never dropped this way.
            None if newer_waits
                && matches!(entry.settles, Settles::Group(_))
                && self
                    .waiting
                    .get(&key)
                    .is_some_and(|w| w.settles == entry.settles) =>
            {
                if let Some(w) = self.waiting.remove(&key) {
                    self.timers
                        .remove(&(w.next_attempt, key.0.clone(), key.1.clone()));
                }
                (Some(entry), Some(Entry::deletion(integration, group_key)))
            }
            None if newer_waits => (Some(entry), None),
            None => (Some(entry), Some(Entry::deletion(integration, group_key))),
        }
    }

    /// How many attempts the in-flight entry for `integration` and `group_key` had before this
    /// one; `None` when nothing is in flight for them.
    pub fn attempts_in_flight(&self, integration: &str, group_key: &str) -> Option<u32> {
        self.in_flight
            .get(&(integration.to_string(), group_key.to_string()))
            .map(|e| e.attempts)
    }

    /// When the next waiting entry is due.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    /// Waiting plus in-flight entries.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.in_flight.len()
    }

    /// True when nothing waits or flies.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries saved before a restart; unreadable documents are returned by key. An entry
    /// that was in flight when the process stopped is due again at once.
    pub fn restore(&mut self, documents: &[Document], now: Timestamp) -> Vec<String> {
        let mut unreadable = Vec::new();
        for doc in documents {
            match serde_json::from_str::<Entry>(&doc.body) {
                Ok(mut e) => {
                    e.next_attempt = e.next_attempt.min(now);
                    self.push(e, now);
                }
                Err(_) => unreadable.push(doc.key.clone()),
            }
        }
        unreadable
    }

    /// Entries waiting (not in flight), for status pages.
    pub fn waiting(&self) -> impl Iterator<Item = &Entry> {
        self.waiting.values()
    }
}

/// How long to wait before attempt `attempts + 1`: the service's own `Retry-After` when it
/// gave one (capped at [`MAX_BACKOFF`]), else doubling from [`FIRST_BACKOFF`].
pub fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(MAX_BACKOFF);
    }
    let factor = 1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}
