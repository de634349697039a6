//! Deliveries that come due with time rather than with a flush: digests held until the
//! receiver's hours begin, and escalation steps nobody acknowledged.

use model::Timestamp;

use super::message::{common, notification_level};
use super::{Entry, Pipeline, Settles};
use crate::channel::Notification;

impl Pipeline {
    /// Sends each digest whose receiver's hours have begun.
    pub(super) fn send_due_digests(&mut self, now: Timestamp) {
        let due: Vec<String> = self
            .digests
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .filter(|(_, d)| {
                self.setup
                    .receivers
                    .get(&d.receiver)
                    .and_then(|r| r.hours.as_ref())
                    .is_none_or(|(_, hours)| hours.contains(now))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for integration in due {
            let Some(digest) = self.digests.get_mut(&integration) else {
                continue;
            };
            let receiver_name = digest.receiver.clone();
            let (alerts, plans) = digest.take();
            let Some(receiver) = self.setup.receivers.get(&receiver_name) else {
                continue;
            };
            let (common_labels, common_annotations) = common(&alerts);
            let notification = Notification {
                receiver: receiver.name.clone(),
                group_key: format!("digest:{}", receiver.name),
                group_labels: model::Labels::new(),
                common_labels,
                common_annotations,
                level: notification_level(&alerts),
                alerts,
                truncated_alerts: 0,
                external_url: self.setup.external_url.clone(),
                at: now,
                ack_url: None,
                people: self.business_hours_people(receiver, now),
                reference: None,
            };
            let entry = Entry {
                integration: integration.clone(),
                group_key: notification.group_key.clone(),
                notification,
                settles: Settles::Digest(plans),
                attempts: 0,
                next_attempt: now,
                last_error: None,
            };
            let write = self.outbox.push(entry, now);
            self.writes.push(write);
        }
    }

    /// Queues every escalation step that has come due.
    pub(super) fn escalate(&mut self, now: Timestamp) {
        let steps = self
            .escalations
            .due_steps(&self.setup.policies, &self.setup.oncall, now);
        for (notification, write) in steps {
            self.writes.push(write);
            let Some(receiver) = self.setup.receivers.get(&notification.receiver) else {
                continue;
            };
            for slot in &receiver.channels {
                let mut n = notification.clone();
                n.ack_url = self
                    .setup
                    .ack_links
                    .as_ref()
                    .map(|s| s.link(&self.setup.external_url, &notification.group_key));
                n.at = now;
                let entry = Entry {
                    integration: slot.integration.clone(),
                    group_key: format!("{}#escalation", notification.group_key),
                    notification: n,
                    settles: Settles::Nothing,
                    attempts: 0,
                    next_attempt: now,
                    last_error: None,
                };
                let write = self.outbox.push(entry, now);
                self.writes.push(write);
            }
        }
    }
}
