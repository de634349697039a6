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
mod flush_plan;
mod gc;
#[cfg(test)]
mod gc_tests;
mod message;
pub mod outbox;
#[cfg(test)]
mod partner_tests;
#[cfg(test)]
mod people_hours_tests;
mod receiver;
mod scheduled;
mod settle;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use model::Timestamp;
use model::alert::{Document, DocumentWrite};
use model::level::Level;

use crate::alert::Alert;
use crate::channel::{Channel, Delivered, DeliveryError};
use crate::dispatch::Dispatcher;
use crate::escalation::EscalationPolicies;
use crate::inhibit::Inhibitor;
use crate::maintenance::MaintenanceWindows;
use crate::mute::{Dependencies, MuteReason, Muter};
use crate::nflog::{self, NotificationLog};
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
}
