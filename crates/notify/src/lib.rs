//! Periscope's response side: from alert transitions to people.
//!
//! The pipeline has Alertmanager's shape, each stage a small file: route (which receivers, by
//! labels) -> group (one notification per group, on `group_wait`/`group_interval`/
//! `repeat_interval`) -> mute (silences, inhibition, time periods and dependencies behind one
//! [`Muter`](mute::Muter) trait) -> dedup (the notification log) -> retry -> channel. Periscope
//! adds what Alertmanager leaves to paid services: levels that decide who hears and when,
//! on-call schedules, escalation with acknowledgement, and partners.
//!
//! The one decision behind it: every stage is a pure function of its inputs and `now`. Nothing
//! here reads the clock or sleeps on its own; the binary drives the pipeline with
//! `tick(now)` and waits until the time it names, so tests run days of notification
//! behaviour (overnight digests, DST, escalation timeouts) in milliseconds.

pub mod ack;
pub mod alert;
pub mod channel;
pub mod dispatch;
pub mod escalation;
pub mod inhibit;
pub mod maintenance;
pub mod matcher;
pub mod mute;
pub mod nflog;
pub mod oncall;
pub mod partner;
pub mod pipeline;
pub mod route;
pub mod runner;
pub mod silence;
pub mod template;

pub use alert::{Alert, AlertStatus};
pub use channel::{Channel, Delivered, DeliveryError, Notification, Person};
