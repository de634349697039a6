//! The mute stage: one question, "should this alert stay quiet right now, and why?", asked of
//! silences, inhibition rules, maintenance windows, time periods and service dependencies
//! through one [`Muter`] trait.
//!
//! Every muter is pure: it answers from what it holds and the `now` it is given, so
//! `test-route` can show why an alert would be muted at any instant, and the pipeline can chain
//! them ([`MuteChain`]) without caring which kind said no. The answer is a [`MuteReason`] rather
//! than a bool because a person asking "why did I not get paged?" needs the silence id, the rule
//! or the window, not just "muted".

pub mod dependency;
pub mod time;

use std::fmt;
use std::sync::{Arc, RwLock};

use model::Timestamp;

use crate::alert::{ALERT_NAME_LABEL, Alert};

pub use dependency::Dependencies;
pub use time::TimeMuter;

/// Decides whether an alert is muted at `now`.
pub trait Muter: Send + Sync {
    /// Why `alert` must not be notified at `now`, or `None` when nothing here mutes it.
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason>;
}

/// Why an alert was muted, worded for the person reading `test-route` output or a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MuteReason {
    /// A silence matches it.
    Silenced {
        /// The silence's id (sixteen hex digits).
        id: String,
        /// Why the silence was made.
        comment: String,
        /// Who made it.
        by: String,
    },
    /// Another firing alert inhibits it.
    Inhibited {
        /// The source alert, shown as `Name{a="b"}`.
        by: String,
    },
    /// A maintenance window covers it.
    Maintenance {
        /// The window's comment or, without one, when it runs.
        window: String,
    },
    /// Its route has active time periods and `now` is in none of them.
    OutsideActiveTime {
        /// The active periods' names.
        period: String,
    },
    /// Its route has a mute time period that contains `now`.
    InMuteTime {
        /// The period's name.
        period: String,
    },
    /// A service it depends on has a firing alert.
    Dependency {
        /// The service whose alert fires.
        parent: String,
    },
}

/// How many hex digits of a silence id are shown; enough to tell silences apart by eye.
const SHORT_ID: usize = 8;

impl fmt::Display for MuteReason {
    /// One line, e.g. `silenced by 3f2a09c1… (alice: disk swap)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MuteReason::Silenced { id, comment, by } => {
                let short = id.get(..SHORT_ID).filter(|_| id.len() > SHORT_ID);
                match short {
                    Some(s) => write!(f, "silenced by {s}… ({by}: {comment})"),
                    None => write!(f, "silenced by {id} ({by}: {comment})"),
                }
            }
            MuteReason::Inhibited { by } => write!(f, "inhibited by {by}"),
            MuteReason::Maintenance { window } => write!(f, "in maintenance window ({window})"),
            MuteReason::OutsideActiveTime { period } => {
                write!(f, "outside active time ({period})")
            }
            MuteReason::InMuteTime { period } => write!(f, "in mute time ({period})"),
            MuteReason::Dependency { parent } => {
                write!(f, "depends on service {parent}, which has a firing alert")
            }
        }
    }
}

/// Several muters asked in order; the first that mutes gives the reason.
///
/// Order the cheap and the most specific first (silences before inhibition), so the reason
/// shown is the one a person most likely acted on.
#[derive(Default)]
pub struct MuteChain(pub Vec<Box<dyn Muter>>);

impl Muter for MuteChain {
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        self.0.iter().find_map(|m| m.mute(alert, now))
    }
}

impl<M: Muter + ?Sized> Muter for Box<M> {
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        (**self).mute(alert, now)
    }
}

impl<M: Muter + ?Sized> Muter for Arc<M> {
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        (**self).mute(alert, now)
    }
}

/// Lets a muter that changes while the pipeline runs (silences added over the API, firing
/// alerts feeding inhibition) sit in a [`MuteChain`] behind an `Arc<RwLock<_>>`.
impl<M: Muter> Muter for RwLock<M> {
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        // A writer that panicked left the muter as it was before or after one whole change;
        // answering from it beats refusing to answer.
        let guard = self.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.mute(alert, now)
    }
}

/// An alert shown the way Prometheus prints one: `Name{a="1", b="2"}` (its labels other than
/// `alertname`).
pub fn describe(alert: &Alert) -> String {
    let mut out = alert.name().to_string();
    out.push('{');
    let mut first = true;
    for (name, value) in alert.labels.iter() {
        if name == ALERT_NAME_LABEL {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(name);
        out.push('=');
        out.push_str(&format!("{value:?}"));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Labels;

    struct Always(MuteReason);

    impl Muter for Always {
        fn mute(&self, _: &Alert, _: Timestamp) -> Option<MuteReason> {
            Some(self.0.clone())
        }
    }

    struct Never;

    impl Muter for Never {
        fn mute(&self, _: &Alert, _: Timestamp) -> Option<MuteReason> {
            None
        }
    }

    fn alert() -> Alert {
        let labels: Labels = [("alertname", "DiskFull"), ("mount", "/"), ("host", "db1")]
            .into_iter()
            .collect();
        Alert::firing(labels, Timestamp(0))
    }

    #[test]
    fn the_first_muter_that_mutes_gives_the_reason() {
        let maintenance = MuteReason::Maintenance {
            window: "db upgrade".into(),
        };
        let chain = MuteChain(vec![
            Box::new(Never),
            Box::new(Always(maintenance.clone())),
            Box::new(Always(MuteReason::InMuteTime {
                period: "nights".into(),
            })),
        ]);
        assert_eq!(chain.mute(&alert(), Timestamp(0)), Some(maintenance));
        assert_eq!(
            MuteChain(vec![Box::new(Never)]).mute(&alert(), Timestamp(0)),
            None
        );
        assert_eq!(MuteChain::default().mute(&alert(), Timestamp(0)), None);
    }

    #[test]
    fn reasons_read_well() {
        let silenced = MuteReason::Silenced {
            id: "3f2a09c1d2e3f405".into(),
            comment: "disk swap".into(),
            by: "alice".into(),
        };
        assert_eq!(
            silenced.to_string(),
            "silenced by 3f2a09c1… (alice: disk swap)"
        );
        let inhibited = MuteReason::Inhibited {
            by: describe(&alert()),
        };
        assert_eq!(
            inhibited.to_string(),
            r#"inhibited by DiskFull{host="db1", mount="/"}"#
        );
        let dep = MuteReason::Dependency {
            parent: "network".into(),
        };
        assert_eq!(
            dep.to_string(),
            "depends on service network, which has a firing alert"
        );
    }

    #[test]
    fn a_shared_muter_behind_a_lock_sees_changes() {
        let shared = Arc::new(RwLock::new(MuteChain::default()));
        let chain = MuteChain(vec![Box::new(Arc::clone(&shared))]);
        assert_eq!(chain.mute(&alert(), Timestamp(0)), None);
        let reason = MuteReason::Dependency {
            parent: "dns".into(),
        };
        if let Ok(mut inner) = shared.write() {
            inner.0.push(Box::new(Always(reason.clone())));
        }
        assert_eq!(chain.mute(&alert(), Timestamp(0)), Some(reason));
    }
}
