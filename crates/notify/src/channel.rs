//! The last stage: a [`Channel`] delivers one [`Notification`] (a group of alerts for one
//! receiver) to one outside system: e-mail, a webhook, a chat, a ticket or pager service, a
//! command.
//!
//! One channel is one small file under `channel/` implementing this one trait. Retries,
//! timeouts, the notification log and telemetry are written once, around the trait, by the
//! stages before it; a channel only says whether a failure is worth retrying
//! ([`DeliveryError::retryable`]) and, when the service said so, how long to wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use model::alert::Annotations;
use model::level::Level;
use model::{Labels, Timestamp};

use crate::alert::{Alert, AlertStatus};
use crate::template::Templates;

pub use build::{BuildError, KINDS, build};

mod build;
pub mod command;
pub mod email;
mod http;
pub mod payload;
pub mod slack;
pub mod teams;
pub mod webhook;

pub mod jira;
pub mod pagerduty;
mod ticket_http;
pub mod zendesk;

/// A boxed future, so the trait stays object-safe without a macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one delivery carries: the alerts of one group, for one receiver, at one moment.
///
/// Its fields are those of Alertmanager's webhook payload (version 4) plus what Periscope adds
/// (level, acknowledge link, who is on call), so a template or a channel never needs more.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// The receiver (route target) this goes to.
    pub receiver: String,
    /// Identifies the group across deliveries: the route's path and the group's label values.
    pub group_key: String,
    /// The labels the group was formed by (`group_by`).
    pub group_labels: Labels,
    /// Labels every alert of the group shares.
    pub common_labels: Labels,
    /// Annotations every alert of the group shares.
    pub common_annotations: Annotations,
    /// The alerts, firing first, then resolved; each list oldest first.
    pub alerts: Vec<Alert>,
    /// How many alerts were left out because the receiver caps the count (`max_alerts`).
    pub truncated_alerts: usize,
    /// Periscope's own address, for links back to it.
    pub external_url: String,
    /// The most urgent level among the alerts.
    pub level: Level,
    /// When this notification was made.
    pub at: Timestamp,
    /// A signed link that acknowledges the group (stops its escalation), when acknowledging is
    /// possible for it.
    pub ack_url: Option<String>,
    /// The people this delivery is for (from on-call schedules or escalation steps), by name.
    pub people: Vec<Person>,
    /// What the same channel answered for this group last time (a ticket or incident id), so a
    /// ticket is commented and solved rather than opened twice.
    pub reference: Option<String>,
}

impl Notification {
    /// Firing when any alert fires, else resolved.
    pub fn status(&self) -> AlertStatus {
        if self.alerts.iter().any(Alert::is_firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.is_firing())
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| !a.is_firing())
    }
}

/// A person who can be notified, with the addresses the channels use.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// The name used in schedules and escalation policies.
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Chat handle, e.g. `@alice` (Slack, Mattermost, Teams mention).
    pub chat: Option<String>,
    /// Phone number, for services that call or text.
    pub phone: Option<String>,
}

/// What a delivery answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The outside system's id for what was created or updated (ticket id, issue key, dedup
    /// key), remembered for the next delivery of the same group ([`Notification::reference`]).
    pub reference: Option<String>,
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// What went wrong, for people: the service's status and message, without secrets.
    pub message: String,
    /// True when the same request may succeed later (timeouts, 429, 5xx, connection refused);
    /// false when it never will (4xx, a bad address, a template the service rejects).
    pub retryable: bool,
    /// How long the service asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl DeliveryError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure that retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// The same error, with the wait the service asked for.
    pub fn after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }
}

/// One configured way of telling people.
pub trait Channel: Send + Sync {
    /// The kind, as written in the config (`webhook`, `email`, `slack`...).
    fn kind(&self) -> &'static str;

    /// Delivers `notification` once: no retries here (the retry stage owns them).
    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>>;
}

/// What every channel is built with: shared, so a thousand channels share one HTTP client.
#[derive(Clone)]
pub struct ChannelContext {
    /// The message templates (defaults plus the config's own).
    pub templates: Arc<Templates>,
    /// The HTTP client (rustls, connection pooling).
    pub http: reqwest::Client,
    /// How long one delivery may take before it counts as a retryable failure.
    pub timeout: Duration,
    /// How e-mail leaves; `None` when no SMTP server is configured.
    pub mail: Option<Arc<dyn MailSender>>,
}

impl ChannelContext {
    /// Default templates, a fresh client, a 10 s timeout and no mail: what tests start from.
    pub fn new(templates: Arc<Templates>) -> Self {
        ChannelContext {
            templates,
            http: reqwest::Client::new(),
            timeout: Duration::from_secs(10),
            mail: None,
        }
    }
}

/// The seam through which the e-mail channel sends: the binary implements it with the SMTP
/// client the reports use, tests with an SMTP sink.
pub trait MailSender: Send + Sync {
    /// Sends one message with a plain-text body and, when given, an HTML alternative.
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

/// One e-mail message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, sent as an alternative to the text.
    pub html: Option<String>,
}

/// Reads an HTTP response's `Retry-After` (seconds, or an HTTP date measured from `now`).
pub fn retry_after(value: Option<&str>, now: Timestamp) -> Option<Duration> {
    let value = value?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let ms = when.as_millisecond() - now.as_millis();
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Timestamp::from_jiff("2026-11-21T10:00:00Z".parse().unwrap());
        assert_eq!(retry_after(Some("30"), now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after(Some("Sat, 21 Nov 2026 10:01:00 GMT"), now),
            Some(Duration::from_secs(60))
        );
        // A date in the past means "now", not a negative wait.
        assert_eq!(
            retry_after(Some("Sat, 21 Nov 2026 09:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
    }
}
