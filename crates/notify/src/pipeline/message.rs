//! Building the messages: the notification for a group, whom non-critical news names, the
//! level a message carries and the labels its alerts share.

use model::Timestamp;
use model::level::Level;

use super::{Pipeline, Receiver};
use crate::alert::Alert;
use crate::channel::{Notification, Person};
use crate::dispatch::Flush;

impl Pipeline {
    /// A message for `receiver` about `alerts` of `flush`'s group.
    pub(super) fn notification(
        &self,
        receiver: &Receiver,
        flush: &Flush,
        mut alerts: Vec<Alert>,
        level: Level,
        now: Timestamp,
    ) -> Notification {
        let (common_labels, common_annotations) = common(&alerts);
        let mut truncated_alerts = 0;
        if receiver.max_alerts > 0 && alerts.len() > receiver.max_alerts {
            truncated_alerts = alerts.len() - receiver.max_alerts;
            alerts.truncate(receiver.max_alerts);
        }
        Notification {
            receiver: receiver.name.clone(),
            group_key: flush.key.clone(),
            group_labels: flush.labels.clone(),
            common_labels,
            common_annotations,
            alerts,
            truncated_alerts,
            external_url: self.setup.external_url.clone(),
            level,
            at: now,
            ack_url: None,
            people: Vec::new(),
            reference: None,
        }
    }

    /// Whom non-critical news on `receiver` names: its escalation policy's first step, each
    /// person only inside their own hours. It never escalates.
    pub(super) fn business_hours_people(&self, receiver: &Receiver, now: Timestamp) -> Vec<Person> {
        let Some(name) = receiver.escalation.as_ref() else {
            return Vec::new();
        };
        let Some(policy) = self.setup.policies.get(name) else {
            return Vec::new();
        };
        policy.first_step_in_hours(name, &self.setup.oncall, now).0
    }
}

/// The most urgent level among firing alerts, or among all when none fires.
pub(super) fn notification_level(alerts: &[Alert]) -> Level {
    let firing = alerts
        .iter()
        .filter(|a| a.is_firing())
        .map(|a| a.level)
        .max();
    firing
        .or_else(|| alerts.iter().map(|a| a.level).max())
        .unwrap_or(Level::NonCritical)
}

/// Labels and annotations every alert shares.
pub(super) fn common(alerts: &[Alert]) -> (model::Labels, model::alert::Annotations) {
    let Some(first) = alerts.first() else {
        return Default::default();
    };
    let labels = first
        .labels
        .iter()
        .filter(|(n, v)| alerts.iter().all(|a| a.labels.get(n) == Some(*v)))
        .collect();
    let annotations = first
        .annotations
        .iter()
        .filter(|(n, v)| alerts.iter().all(|a| a.annotations.get(n) == Some(*v)))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    (labels, annotations)
}
