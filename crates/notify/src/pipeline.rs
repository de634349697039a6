//! The pipeline, pure: alerts in, deliveries out, every decision a function of `now`.
//!
//! [`Pipeline::ingest`] takes alert updates; [`Pipeline::tick`] runs every stage that is due
//! at `now` and returns the [`Delivery`]s to make; [`Pipeline::finished`] takes each delivery's
//! outcome back. The stages, in order:
//!
//! 1. **Level**: `logged` alerts are kept out (recorded by the rule engine, nobody told).
//! 2. **Route and group** ([`crate::dispatch`]): on each route's `group_wait`/`group_interval`.
//! 3. **Mute**: a route's time periods, silences, maintenance windows, inhibition and
//!    dependencies. A muted firing alert is left out of the message; a resolution is never
//!    muted for people who heard the alert fire.
//! 4. **Dedup** ([`crate::nflog`]): per channel, only news, or a repeat after `repeat_interval`.
//! 5. **Hours**: non-critical news outside the receiver's hours waits for the next morning's
//!    digest ([`digest`]); critical news goes now.
//! 6. **Escalation**: critical news for a receiver with a policy is addressed to whoever the
//!    policy's current step names; later steps follow until someone acknowledges.
//! 7. **Outbox and retry** ([`outbox`]): deliveries wait their turn, failed ones retry with
//!    backoff when retrying can help; all of it kept in the state database.
//!
//! The binary's runner ([`crate::runner`]) owns the clock, the channels' I/O and persistence.

mod digest;
mod escalations;
#[cfg(test)]
mod gc_tests;
pub mod outbox;
#[cfg(test)]
mod partner_tests;
#[cfg(test)]
mod people_hours_tests;
mod receiver;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use model::Timestamp;
use model::alert::{Document, DocumentWrite};
use model::level::Level;

use crate::alert::Alert;
use crate::channel::{Channel, Delivered, DeliveryError, Notification, Person};
use crate::dispatch::{Dispatcher, Flush};
use crate::escalation::EscalationPolicies;
use crate::inhibit::Inhibitor;
use crate::maintenance::MaintenanceWindows;
use crate::mute::{Dependencies, MuteReason, Muter};
use crate::nflog::{self, NotificationLog, Seen};
use crate::oncall::OnCall;
use crate::partner::Partners;
use crate::route::RouteTree;
use crate::silence::Silences;

pub use digest::Digest;
use escalations::Escalations;
pub use outbox::{Entry, Outbox, Settles};
pub use receiver::{ChannelSlot, Receiver};

/// Everything the pipeline is built from (the config, built).
pub struct Setup {
    /// The routing tree.
    pub tree: Arc<RouteTree>,
    /// Receivers by name; every route's receiver must be here.
    pub receivers: HashMap<String, Receiver>,
    /// Inhibition rules.
    pub inhibitor: Inhibitor,
    /// Maintenance windows.
    pub maintenance: MaintenanceWindows,
    /// Service dependencies.
    pub dependencies: Dependencies,
    /// People and schedules.
    pub oncall: Arc<OnCall>,
    /// Escalation policies.
    pub policies: Arc<EscalationPolicies>,
    /// Periscope's address for links in messages.
    pub external_url: String,
    /// Makes signed acknowledge links; `None`: messages carry none.
    pub ack_links: Option<crate::ack::AckSigner>,
    /// Partners, whose alerts carry their failure modes and whose receivers follow their
    /// notification rules.
    pub partners: Partners,
}

/// How long expired silences and the log entries of vanished groups are kept, as in
/// Alertmanager (`--data.retention`, 120 h): long enough to look back over a weekend.
pub const RETENTION: std::time::Duration = std::time::Duration::from_secs(120 * 3600);
/// How often [`Pipeline::tick`] collects what [`RETENTION`] lets go.
const GC_EVERY_MS: i64 = 3_600_000;

/// One delivery to make: an outbox entry and the channel that makes it.
#[derive(Clone)]
pub struct Delivery {
    /// What to send, to which channel, for which group.
    pub entry: Entry,
    /// The channel.
    pub channel: Arc<dyn Channel>,
}

/// What happened to a finished delivery, for the event log and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Delivered.
    Delivered,
    /// Failed; will be tried again at this time.
    Retrying(Timestamp),
    /// Failed for good (not retryable, or out of attempts).
    Failed,
    /// Not a delivery the pipeline knows (already finished).
    Unknown,
}

/// Counters of what the pipeline did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Alert updates taken in.
    pub updates: u64,
    /// Updates of `logged` alerts, kept out of notification.
    pub logged: u64,
    /// Firing alerts left out of a message because something muted them.
    pub muted: u64,
    /// Messages held for a digest.
    pub held: u64,
    /// Firing alerts a partner was not told of (yet) because of the partner's rule.
    pub partner_held: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Failed attempts that will be retried.
    pub retried: u64,
    /// Messages given up.
    pub failed: u64,
}

/// The state of the response side.
pub struct Pipeline {
    setup: Setup,
    dispatcher: Dispatcher,
    silences: Silences,
    nflog: NotificationLog,
    outbox: Outbox,
    digests: HashMap<String, Digest>,
    escalations: Escalations,
    channels: HashMap<String, Arc<dyn Channel>>,
    writes: Vec<DocumentWrite>,
    counters: Counters,
    /// When the next garbage collection runs (the first tick runs one).
    next_gc: Timestamp,
}

impl Pipeline {
    /// A pipeline with no alerts, no silences and an empty log.
    pub fn new(setup: Setup) -> Self {
        let channels = setup
            .receivers
            .values()
            .flat_map(|r| r.channels.iter())
            .map(|slot| (slot.integration.clone(), Arc::clone(&slot.channel)))
            .collect();
        Pipeline {
            dispatcher: Dispatcher::new(Arc::clone(&setup.tree)),
            setup,
            silences: Silences::new(),
            nflog: NotificationLog::new(),
            outbox: Outbox::default(),
            digests: HashMap::new(),
            escalations: Escalations::default(),
            channels,
            writes: Vec::new(),
            counters: Counters::default(),
            next_gc: Timestamp::from_millis(i64::MIN),
        }
    }

    /// Loads what was kept in the state database: the log, the outbox, silences and
    /// escalations. Returns a line per document that could not be read.
    pub fn restore(&mut self, documents: &[Document], now: Timestamp) -> Vec<String> {
        let of = |kind: &str| -> Vec<Document> {
            documents
                .iter()
                .filter(|d| d.kind == kind)
                .cloned()
                .collect()
        };
        let mut problems = Vec::new();
        let (log, bad) = NotificationLog::restore(&of(nflog::DOCUMENT_KIND));
        self.nflog = log;
        problems.extend(
            bad.into_iter()
                .map(|k| format!("notification log entry {k:?}")),
        );
        let bad = self.outbox.restore(&of(outbox::DOCUMENT_KIND), now);
        problems.extend(bad.into_iter().map(|k| format!("queued delivery {k:?}")));
        problems.extend(self.escalations.restore(&of(escalations::DOCUMENT_KIND)));
        let mut silences = Vec::new();
        for doc in of(crate::silence::DOCUMENT_KIND) {
            match serde_json::from_str(&doc.body) {
                Ok(s) => silences.push(s),
                Err(_) => problems.push(format!("silence {:?}", doc.key)),
            }
        }
        for e in self.silences.restore(silences) {
            problems.push(format!("silence: {e}"));
        }
        problems
    }

    /// Takes one alert update.
    pub fn ingest(&mut self, mut alert: Alert, now: Timestamp) {
        self.counters.updates += 1;
        if alert.level == Level::Logged {
            self.counters.logged += 1;
            return;
        }
        if !self.setup.partners.is_empty()
            && let Some(partner) = self.setup.partners.of(&alert)
        {
            partner.annotate(&mut alert);
        }
        self.setup.inhibitor.update(&alert);
        self.setup.dependencies.update(&alert);
        self.dispatcher.insert(alert, now);
    }

    /// Runs every stage due at `now`; returns the deliveries to make now.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Delivery> {
        if now >= self.next_gc {
            self.gc(now);
            self.next_gc = now.plus_millis(GC_EVERY_MS);
        }
        for flush in self.dispatcher.flush_due(now) {
            self.plan_flush(&flush, now);
        }
        self.send_due_digests(now);
        self.escalate(now);
        self.outbox
            .take_due(now)
            .into_iter()
            .filter_map(|entry| {
                let channel = Arc::clone(self.channels.get(&entry.integration)?);
                Some(Delivery { entry, channel })
            })
            .collect()
    }

    /// Takes the outcome of a delivery [`Pipeline::tick`] handed out.
    pub fn finished(
        &mut self,
        integration: &str,
        group_key: &str,
        result: Result<Delivered, DeliveryError>,
        now: Timestamp,
    ) -> Finished {
        match result {
            Ok(delivered) => {
                let (entry, write) = self.outbox.finish(integration, group_key, None, now);
                self.writes.extend(write);
                let Some(entry) = entry else {
                    return Finished::Unknown;
                };
                self.counters.delivered += 1;
                self.settle(&entry, delivered.reference, now);
                Finished::Delivered
            }
            Err(error) => {
                let Some(attempts) = self.outbox.attempts_in_flight(integration, group_key) else {
                    return Finished::Unknown;
                };
                let retry = (error.retryable && attempts + 1 < outbox::MAX_ATTEMPTS).then(|| {
                    let wait = outbox::backoff(attempts, error.retry_after);
                    (
                        now.plus_millis(wait.as_millis() as i64),
                        error.message.clone(),
                    )
                });
                let at = retry.as_ref().map(|(at, _)| *at);
                let (_, write) = self.outbox.finish(integration, group_key, retry, now);
                self.writes.extend(write);
                match at {
                    Some(at) => {
                        self.counters.retried += 1;
                        Finished::Retrying(at)
                    }
                    None => {
                        self.counters.failed += 1;
                        Finished::Failed
                    }
                }
            }
        }
    }

    /// When [`Pipeline::tick`] next has something to do.
    pub fn next_wake(&self, now: Timestamp) -> Option<Timestamp> {
        let digest_wake = self
            .digests
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .filter_map(|(_, d)| {
                let (_, hours) = self.setup.receivers.get(&d.receiver)?.hours.as_ref()?;
                hours.next_change(now)
            });
        [
            self.dispatcher.next_wake(),
            self.outbox.next_wake(),
            self.escalations.next_wake(&self.setup.policies),
        ]
        .into_iter()
        .flatten()
        .chain(digest_wake)
        .min()
    }

    /// Forgets silences expired more than [`RETENTION`] ago and the log entries of groups
    /// that vanished that long ago, in memory and in the state database.
    fn gc(&mut self, now: Timestamp) {
        for id in self.silences.gc(now, RETENTION) {
            self.writes.push(DocumentWrite::Delete {
                kind: crate::silence::DOCUMENT_KIND.into(),
                key: id,
            });
        }
        let active: std::collections::HashSet<&str> = self
            .dispatcher
            .groups()
            .map(|(_, g)| g.key.as_str())
            .collect();
        let deleted = self.nflog.gc(now, RETENTION, &|key| active.contains(key));
        self.writes.extend(deleted);
    }

    /// The state-database writes made since the last call, in order.
    pub fn take_writes(&mut self) -> Vec<DocumentWrite> {
        std::mem::take(&mut self.writes)
    }

    /// What the pipeline did so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The silences, to list.
    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// The silences, to change; call [`Pipeline::save_silence`] after a change.
    pub fn silences_mut(&mut self) -> &mut Silences {
        &mut self.silences
    }

    /// Queues the write that keeps silence `id` as it is now.
    pub fn save_silence(&mut self, id: &str, now: Timestamp) {
        if let Some(s) = self.silences.get(id) {
            self.writes.push(DocumentWrite::Put(Document {
                kind: crate::silence::DOCUMENT_KIND.into(),
                key: id.to_string(),
                body: serde_json::to_string(s).unwrap_or_default(),
                updated_at: now,
            }));
        }
    }

    /// Acknowledges the group with this key: its escalation stops. False when no escalation
    /// runs for it.
    pub fn acknowledge(&mut self, group_key: &str, by: &str, now: Timestamp) -> bool {
        let write = self.escalations.acknowledge(group_key, by, now);
        let found = write.is_some();
        self.writes.extend(write);
        found
    }

    /// The groups being escalated: key, policy, started, acknowledged by.
    pub fn escalations(&self) -> impl Iterator<Item = escalations::View<'_>> {
        self.escalations.views()
    }

    /// The dispatcher, to look at groups.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The setup the pipeline was built from.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Why `alert` would be muted at `now` on `route`, if it would.
    pub fn mute_reason(&self, route: usize, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        if let Some((period, inside_mute)) = self.setup.tree.routes[route].muted_at(now) {
            return Some(if inside_mute {
                MuteReason::InMuteTime { period }
            } else {
                MuteReason::OutsideActiveTime { period }
            });
        }
        self.silences
            .mute(alert, now)
            .or_else(|| self.setup.maintenance.mute(alert, now))
            .or_else(|| self.setup.inhibitor.mute(alert, now))
            .or_else(|| self.setup.dependencies.mute(alert, now))
    }

    /// Stages 3 to 6 for one flush.
    fn plan_flush(&mut self, flush: &Flush, now: Timestamp) {
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

    /// A message for `receiver` about `alerts` of `flush`'s group.
    fn notification(
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
    fn business_hours_people(&self, receiver: &Receiver, now: Timestamp) -> Vec<Person> {
        let Some(name) = receiver.escalation.as_ref() else {
            return Vec::new();
        };
        let Some(policy) = self.setup.policies.get(name) else {
            return Vec::new();
        };
        policy.first_step_in_hours(name, &self.setup.oncall, now).0
    }

    /// Sends each digest whose receiver's hours have begun.
    fn send_due_digests(&mut self, now: Timestamp) {
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
    fn escalate(&mut self, now: Timestamp) {
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

    /// Records in the log what a delivered entry told.
    fn settle(&mut self, entry: &Entry, reference: Option<String>, now: Timestamp) {
        match &entry.settles {
            Settles::Group(plan) => {
                let write = self.nflog.record(
                    &entry.integration,
                    &entry.group_key,
                    &plan.to_plan(),
                    reference,
                    now,
                );
                self.writes.push(write);
            }
            Settles::Digest(plans) => {
                for (group_key, plan) in plans {
                    let write = self.nflog.record(
                        &entry.integration,
                        group_key,
                        &plan.to_plan(),
                        None,
                        now,
                    );
                    self.writes.push(write);
                }
            }
            Settles::Nothing => {}
        }
    }
}

/// The most urgent level among firing alerts, or among all when none fires.
fn notification_level(alerts: &[Alert]) -> Level {
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
fn common(alerts: &[Alert]) -> (model::Labels, model::alert::Annotations) {
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
