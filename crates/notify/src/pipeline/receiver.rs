//! A receiver at run time: its channels, the hours its people take non-critical news, and the
//! escalation policy its critical alerts follow.

use std::sync::Arc;

use model::time_period::TimePeriod;

use crate::channel::Channel;
use crate::partner::Partner;

/// One channel of a receiver, with the name its notification-log entries go by.
#[derive(Clone)]
pub struct ChannelSlot {
    /// `receiver/index:kind`, e.g. `ops/0:email`: stable while the config keeps the channel in
    /// the same place, so the log still recognises what it sent after a restart.
    pub integration: String,
    /// The channel.
    pub channel: Arc<dyn Channel>,
    /// Whether resolutions are sent (default true).
    pub send_resolved: bool,
}

/// Where a route sends its alerts.
#[derive(Clone)]
pub struct Receiver {
    /// Its name (`[notify.receiver.NAME]`).
    pub name: String,
    /// Its channels, each tried on its own: one that is down never holds up the others.
    pub channels: Vec<ChannelSlot>,
    /// When non-critical news may be delivered, by name; outside it such news waits for the
    /// digest sent when the period next begins. `None`: any time.
    pub hours: Option<(String, TimePeriod)>,
    /// The escalation policy critical alerts follow, by name.
    pub escalation: Option<String>,
    /// Most alerts in one message (0: all); the rest are counted as truncated.
    pub max_alerts: usize,
    /// The partner this receiver reaches (`partner:NAME`), whose rule decides when it hears.
    pub partner: Option<Arc<Partner>>,
}

impl Receiver {
    /// A receiver with these channels, no hours, no escalation.
    pub fn new(name: impl Into<String>, channels: Vec<Arc<dyn Channel>>) -> Self {
        let name = name.into();
        let channels = channels
            .into_iter()
            .enumerate()
            .map(|(i, channel)| ChannelSlot {
                integration: format!("{name}/{i}:{}", channel.kind()),
                channel,
                send_resolved: true,
            })
            .collect();
        Receiver {
            name,
            channels,
            hours: None,
            escalation: None,
            max_alerts: 0,
            partner: None,
        }
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field(
                "channels",
                &self
                    .channels
                    .iter()
                    .map(|c| c.integration.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("hours", &self.hours.as_ref().map(|(n, _)| n))
            .field("escalation", &self.escalation)
            .field("partner", &self.partner.as_ref().map(|p| &p.name))
            .finish()
    }
}
