//! Non-critical news that arrives outside a receiver's hours waits here, per channel, and goes
//! out as one message when the hours next begin: nobody is woken at 2 AM by something that can
//! wait, and nothing that happened overnight is lost (a problem that came and went overnight
//! is listed as resolved).

use std::collections::BTreeMap;

use model::Timestamp;
use model::alert::Fingerprint;

use super::outbox::SavedPlan;
use crate::alert::Alert;
use crate::nflog::Plan;

/// What one channel holds for its next digest.
#[derive(Clone, Debug, Default)]
pub struct Digest {
    /// The receiver the channel belongs to.
    pub receiver: String,
    /// Per group: the plan to record once delivered, and the alerts by fingerprint (latest
    /// state).
    pub groups: BTreeMap<String, (SavedPlan, BTreeMap<Fingerprint, Alert>)>,
    /// When the first held item arrived.
    pub since: Option<Timestamp>,
}

impl Digest {
    /// Holds a group's news: its firing alerts are added or updated, and an alert held earlier
    /// that has since resolved is kept, marked resolved.
    pub fn hold(
        &mut self,
        group_key: &str,
        plan: &Plan,
        alerts: impl Iterator<Item = Alert>,
        now: Timestamp,
    ) {
        self.since.get_or_insert(now);
        let entry = self
            .groups
            .entry(group_key.to_string())
            .or_insert_with(|| (SavedPlan::from(plan), BTreeMap::new()));
        entry.0 = SavedPlan::from(plan);
        for alert in alerts {
            if alert.is_firing() || entry.1.contains_key(&alert.fingerprint) {
                entry.1.insert(alert.fingerprint, alert);
            }
        }
    }

    /// Whether news of `group_key` is held here.
    pub fn holds(&self, group_key: &str) -> bool {
        self.groups.contains_key(group_key)
    }

    /// Marks held alerts of `group_key` resolved when the group's latest flush says so, even
    /// if the flush itself has nothing to send.
    pub fn update_resolved(&mut self, group_key: &str, resolved: &[&Alert]) {
        if let Some((_, held)) = self.groups.get_mut(group_key) {
            for alert in resolved {
                if let Some(a) = held.get_mut(&alert.fingerprint) {
                    *a = (*alert).clone();
                }
            }
        }
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Empties the digest: the alerts to send (firing first) and the plans to record.
    pub fn take(&mut self) -> (Vec<Alert>, Vec<(String, SavedPlan)>) {
        let groups = std::mem::take(&mut self.groups);
        self.since = None;
        let mut alerts = Vec::new();
        let mut plans = Vec::new();
        for (key, (mut plan, held)) in groups {
            // What resolved overnight is told as resolved and forgotten by the log.
            plan.known_firing
                .retain(|fp| held.get(fp).is_none_or(Alert::is_firing));
            alerts.extend(held.into_values());
            plans.push((key, plan));
        }
        alerts.sort_by_key(|a| (!a.is_firing(), a.starts_at, a.fingerprint));
        (alerts, plans)
    }
}
