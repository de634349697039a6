//! Stages 3 to 6 for one flushed group: mute, dedup per channel, hold for the digest outside
//! the receiver's hours, address critical news through escalation, then queue in the outbox.

use model::Timestamp;
use model::level::Level;

use super::message::notification_level;
use super::{Entry, Pipeline, Settles};
use crate::alert::Alert;
use crate::dispatch::Flush;
use crate::nflog::Seen;

impl Pipeline {
    /// Stages 3 to 6 for one flush.
    pub(super) fn plan_flush(&mut self, flush: &Flush, now: Timestamp) {
        let Some(receiver) = self.setup.receivers.get(&flush.receiver).cloned() else {
            return;
        };
        let route = &self.setup.tree.routes[flush.route];
        let repeat = route.timing.repeat_interval;
        let mut firing = Vec::new();
        let mut muted = Vec::new();
        let mut resolved = Vec::new();
        // A partner's rule may hold back what it must not hear of yet: held like a muted
        // alert (a resolution still reaches it if it heard the alert fire), and the group
        // flushes again when the first held alert falls due.
        let mut partner_wake: Option<Timestamp> = None;
        let mut partner_held = 0;
        for alert in &flush.alerts {
            if !alert.is_firing() {
                resolved.push(alert.fingerprint);
            } else if self.mute_reason(flush.route, alert, now).is_some() {
                muted.push(alert.fingerprint);
            } else if let Some(partner) = &receiver.partner
                && let Some(due) = partner.decide(alert, now).held_until()
            {
                partner_held += 1;
                muted.push(alert.fingerprint);
                if let Some(at) = due {
                    partner_wake = Some(partner_wake.map_or(at, |w| w.min(at)));
                }
            } else {
                firing.push(alert.fingerprint);
            }
        }
        self.counters.muted += muted.len() as u64 - partner_held;
        self.counters.partner_held += partner_held;
        if let Some(at) = partner_wake {
            self.dispatcher.wake_at(flush.group, at);
        }
        if firing.is_empty() {
            // Nothing fires that anyone may hear of: an escalation for it has nothing to do.
            if let Some(write) = self.escalations.resolve(&flush.key) {
                self.writes.push(write);
            }
        }
        for slot in &receiver.channels {
            let seen = Seen {
                firing: &firing,
                muted: &muted,
                resolved: &resolved,
            };
            let plan = self
                .nflog
                .plan(&slot.integration, &flush.key, seen, repeat, now);
            let resolved_alerts: Vec<&Alert> = flush
                .alerts
                .iter()
                .filter(|a| !a.is_firing())
                .map(|a| a.as_ref())
                .collect();
            if let Some(d) = self.digests.get_mut(&slot.integration) {
                d.update_resolved(&flush.key, &resolved_alerts);
            }
            if !plan.decision.send() {
                continue;
            }
            if plan.firing.is_empty() && !slot.send_resolved {
                let write = self
                    .nflog
                    .record(&slot.integration, &flush.key, &plan, None, now);
                self.writes.push(write);
                continue;
            }
            let alerts: Vec<Alert> = flush
                .alerts
                .iter()
                .filter(|a| {
                    plan.firing.binary_search(&a.fingerprint).is_ok()
                        || plan.resolved.binary_search(&a.fingerprint).is_ok()
                })
                .map(|a| a.as_ref().clone())
                .collect();
            let level = notification_level(&alerts);
            // A group whose earlier news waits in a digest joins it even once the hours have
            // begun: the digest goes out in this same tick, and sending the group as well
            // would tell the same alerts twice.
            let in_digest = self
                .digests
                .get(&slot.integration)
                .is_some_and(|d| d.holds(&flush.key));
            if level == Level::NonCritical
                && let Some((_, hours)) = &receiver.hours
                && (in_digest || !hours.contains(now))
            {
                self.counters.held += 1;
                let digest = self.digests.entry(slot.integration.clone()).or_default();
                digest.receiver = receiver.name.clone();
                digest.hold(&flush.key, &plan, alerts.into_iter(), now);
                continue;
            }
            let mut notification = self.notification(&receiver, flush, alerts, level, now);
            if let Some(partner) = &receiver.partner {
                notification.people = partner.contacts.clone();
            }
            if level == Level::Critical
                && let Some(policy) = &receiver.escalation
                && !plan.firing.is_empty()
            {
                let (people, write) = self.escalations.start_or_current(
                    &flush.key,
                    &receiver.name,
                    policy,
                    &notification,
                    &self.setup.policies,
                    &self.setup.oncall,
                    now,
                );
                self.writes.extend(write);
                notification.people = people;
                notification.ack_url = self
                    .setup
                    .ack_links
                    .as_ref()
                    .map(|s| s.link(&self.setup.external_url, &flush.key));
            } else if level == Level::NonCritical && receiver.partner.is_none() {
                notification.people = self.business_hours_people(&receiver, now);
            }
            notification.reference = self
                .nflog
                .entry(&slot.integration, &flush.key)
                .and_then(|e| e.reference.clone());
            let entry = Entry {
                integration: slot.integration.clone(),
                group_key: flush.key.clone(),
                notification,
                settles: Settles::Group((&plan).into()),
                attempts: 0,
                next_attempt: now,
                last_error: None,
            };
            let write = self.outbox.push(entry, now);
            self.writes.push(write);
        }
    }
}
