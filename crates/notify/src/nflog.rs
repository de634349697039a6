//! The notification log: what each channel of each receiver last told about each group, so a
//! flush sends only news (a new firing alert, a resolution) and repeats an unchanged problem
//! only after `repeat_interval`.
//!
//! It is kept in the state database (one document per channel and group), so after a restart
//! nothing already sent goes out again. Two rules go beyond Alertmanager's:
//! - a resolution goes only to channels that were told the alert fired: people hear "resolved"
//!   exactly for the problems they heard about;
//! - a firing alert that was notified and is now muted (a silence started) stays "known" in the
//!   log, so its resolution still reaches the people who heard of it, and the silence does not
//!   look like a resolution.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use model::Timestamp;
use model::alert::{Document, DocumentWrite, Fingerprint};
use serde::{Deserialize, Serialize};

/// The document kind of log entries in the state database.
pub const DOCUMENT_KIND: &str = "nflog";

/// What one channel was last told about one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The channel: `receiver/index:kind`, e.g. `ops/0:email`.
    pub integration: String,
    /// The group's key.
    pub group_key: String,
    /// Alerts it knows to be firing (sorted).
    pub firing: Vec<Fingerprint>,
    /// Alerts whose resolution it was told last time (sorted).
    pub resolved: Vec<Fingerprint>,
    /// When it was last told anything.
    pub sent_at: Timestamp,
    /// What the outside system called what it made for this group (a ticket id).
    pub reference: Option<String>,
}

impl LogEntry {
    /// The entry's key in the state database.
    pub fn document_key(&self) -> String {
        document_key(&self.integration, &self.group_key)
    }
}

fn document_key(integration: &str, group_key: &str) -> String {
    format!("{integration}\u{1f}{group_key}")
}

/// Why a flush is sent to a channel, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Alerts fire that this channel has not been told about.
    NewFiring,
    /// Alerts it was told about have resolved.
    Resolved,
    /// Nothing changed, but `repeat_interval` has passed since it was last told.
    Repeat,
    /// Nothing new: skip.
    Unchanged,
    /// Nothing fires that it knows of and nothing it knew of resolved: skip.
    Nothing,
}

impl Decision {
    /// True when the flush should be sent.
    pub fn send(self) -> bool {
        matches!(
            self,
            Decision::NewFiring | Decision::Resolved | Decision::Repeat
        )
    }
}

/// What a flush means for one channel, given its log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Send or not, and why.
    pub decision: Decision,
    /// Firing alerts to put in the message (the unmuted ones).
    pub firing: Vec<Fingerprint>,
    /// Resolved alerts to put in the message (only those the channel was told fired).
    pub resolved: Vec<Fingerprint>,
    /// The firing set to remember once sent: the unmuted ones plus muted ones it already knew.
    pub known_firing: Vec<Fingerprint>,
}

/// A group's alerts at a flush, by fingerprint.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    /// Firing and not muted.
    pub firing: &'a [Fingerprint],
    /// Firing but muted.
    pub muted: &'a [Fingerprint],
    /// Resolved.
    pub resolved: &'a [Fingerprint],
}

/// Every entry, by channel and group.
#[derive(Clone, Debug, Default)]
pub struct NotificationLog {
    entries: HashMap<(String, String), LogEntry>,
}

impl NotificationLog {
    /// An empty log.
    pub fn new() -> Self {
        NotificationLog::default()
    }

    /// The log as it was saved: every document of [`DOCUMENT_KIND`]. Documents that cannot
    /// be read are returned by key, so the caller can say so; the rest load.
    pub fn restore(documents: &[Document]) -> (Self, Vec<String>) {
        let mut log = NotificationLog::new();
        let mut unreadable = Vec::new();
        for doc in documents {
            match serde_json::from_str::<LogEntry>(&doc.body) {
                Ok(e) => {
                    log.entries
                        .insert((e.integration.clone(), e.group_key.clone()), e);
                }
                Err(_) => unreadable.push(doc.key.clone()),
            }
        }
        (log, unreadable)
    }

    /// The entry for `integration` and `group_key`.
    pub fn entry(&self, integration: &str, group_key: &str) -> Option<&LogEntry> {
        self.entries
            .get(&(integration.to_string(), group_key.to_string()))
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decides what a flush of the group `group_key` with alerts `seen` means for
    /// `integration`.
    pub fn plan(
        &self,
        integration: &str,
        group_key: &str,
        seen: Seen<'_>,
        repeat_interval: Duration,
        now: Timestamp,
    ) -> Plan {
        let Seen {
            firing,
            muted: muted_firing,
            resolved,
        } = seen;
        let entry = self.entry(integration, group_key);
        let knew = |fp: &Fingerprint| entry.is_some_and(|e| e.firing.binary_search(fp).is_ok());
        let mut firing = firing.to_vec();
        firing.sort_unstable();
        let resolved: Vec<Fingerprint> = {
            let mut r: Vec<_> = resolved.iter().copied().filter(|fp| knew(fp)).collect();
            r.sort_unstable();
            r
        };
        let mut known_firing = firing.clone();
        known_firing.extend(muted_firing.iter().copied().filter(|fp| knew(fp)));
        known_firing.sort_unstable();
        known_firing.dedup();
        let decision = match entry {
            None if firing.is_empty() => Decision::Nothing,
            None => Decision::NewFiring,
            Some(e) => {
                if firing.iter().any(|fp| e.firing.binary_search(fp).is_err()) {
                    Decision::NewFiring
                } else if resolved
                    .iter()
                    .any(|fp| e.resolved.binary_search(fp).is_err())
                {
                    Decision::Resolved
                } else if firing.is_empty() {
                    Decision::Nothing
                } else if now.millis_since(e.sent_at) >= repeat_interval.as_millis() as i64 {
                    Decision::Repeat
                } else {
                    Decision::Unchanged
                }
            }
        };
        Plan {
            decision,
            firing,
            resolved,
            known_firing,
        }
    }

    /// Remembers that `plan` was delivered to `integration` at `now`; returns the write for
    /// the state database (a deletion once nothing fires any more).
    pub fn record(
        &mut self,
        integration: &str,
        group_key: &str,
        plan: &Plan,
        reference: Option<String>,
        now: Timestamp,
    ) -> DocumentWrite {
        let key = (integration.to_string(), group_key.to_string());
        let reference =
            reference.or_else(|| self.entries.get(&key).and_then(|e| e.reference.clone()));
        if plan.known_firing.is_empty() {
            self.entries.remove(&key);
            return DocumentWrite::Delete {
                kind: DOCUMENT_KIND.into(),
                key: document_key(integration, group_key),
            };
        }
        let entry = LogEntry {
            integration: integration.to_string(),
            group_key: group_key.to_string(),
            firing: plan.known_firing.clone(),
            resolved: plan.resolved.clone(),
            sent_at: now,
            reference,
        };
        let body = serde_json::to_string(&entry).unwrap_or_default();
        let doc = Document {
            kind: DOCUMENT_KIND.into(),
            key: entry.document_key(),
            body,
            updated_at: now,
        };
        self.entries.insert(key, entry);
        DocumentWrite::Put(doc)
    }

    /// Forgets entries last written more than `retention` before `now` whose group is not
    /// `active` (the group vanished without resolving: its rule was removed, or its alerts
    /// never came back after a restart). Returns the deletions for the state database.
    pub fn gc(
        &mut self,
        now: Timestamp,
        retention: Duration,
        active: &dyn Fn(&str) -> bool,
    ) -> Vec<DocumentWrite> {
        let cutoff = now.plus_millis(-(retention.as_millis() as i64));
        let stale: Vec<(String, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.sent_at < cutoff && !active(&e.group_key))
            .map(|(k, _)| k.clone())
            .collect();
        stale
            .into_iter()
            .map(|(integration, group_key)| {
                self.entries
                    .remove(&(integration.clone(), group_key.clone()));
                DocumentWrite::Delete {
                    kind: DOCUMENT_KIND.into(),
                    key: document_key(&integration, &group_key),
                }
            })
            .collect()
    }

    /// The references (ticket ids) each channel holds for `group_key`, by integration.
    pub fn references(&self, group_key: &str) -> BTreeMap<&str, &str> {
        self.entries
            .values()
            .filter(|e| e.group_key == group_key)
            .filter_map(|e| Some((e.integration.as_str(), e.reference.as_deref()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
