//! Maintenance windows: planned work during which matching alerts stay quiet, written in the
//! configuration rather than silenced by hand each time. A window is recurring (`when = "sun
//! 02:00-04:00 Europe/London"`, or the name of a `[time_period.NAME]`), one-off (`from` and
//! `to`, RFC 3339), or both (the recurring period, only between `from` and `to`).
//!
//! Recurring windows read the local wall clock of their time zone, so "Sunday 02:00-04:00
//! London" stays 02:00-04:00 on the wall across DST changes ([`TimePeriod`] owns those rules).
//! [`MaintenanceWindows::next_change`] tells the scheduler when a window opens or closes, so
//! notifications held by a window go out when it ends, not on the next unrelated tick.

use model::time_period::{TimePeriod, TimePeriods};
use model::{ConfigIssue, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::matcher::{self, Matchers};
use crate::mute::{MuteReason, Muter};

/// One maintenance window as written in configuration (`[[maintenance]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Which alerts the window mutes, e.g. `["service=\"db\""]`; empty mutes every alert.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// A recurring time period (`"sun 02:00-04:00 Europe/London"`) or the name of one.
    pub when: Option<String>,
    /// Start of a one-off window (RFC 3339, e.g. `2026-03-01T22:00:00Z`), inclusive.
    pub from: Option<String>,
    /// End of a one-off window (RFC 3339), exclusive; after `from`.
    pub to: Option<String>,
    /// What the work is; shown as the reason alerts were muted.
    pub comment: Option<String>,
}

#[derive(Clone, Debug)]
struct Window {
    matchers: Matchers,
    period: Option<TimePeriod>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    /// How the window is named in mute reasons.
    name: String,
}

impl Window {
    fn open(&self, now: Timestamp) -> bool {
        self.from.is_none_or(|f| f <= now)
            && self.to.is_none_or(|t| now < t)
            && self.period.as_ref().is_none_or(|p| p.contains(now))
    }

    /// The first instant after `now` at which [`open`](Self::open) gives the other answer.
    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        if self.to.is_some_and(|t| now >= t) {
            return None;
        }
        let before_to = |c: &Timestamp| self.to.is_none_or(|t| *c < t);
        if let Some(from) = self.from.filter(|f| now < *f) {
            // Closed until `from`; from there on the period alone decides, until `to`.
            if self.open(from) {
                return Some(from);
            }
            return self.period.as_ref()?.next_change(from).filter(before_to);
        }
        let period_change = self.period.as_ref().and_then(|p| p.next_change(now));
        match (period_change.filter(before_to), self.to) {
            (Some(change), _) => Some(change),
            // Until `to` nothing changes; at `to` an open window closes.
            (None, Some(to)) if self.open(now) => Some(to),
            _ => None,
        }
    }
}

/// Every configured maintenance window.
#[derive(Clone, Debug, Default)]
pub struct MaintenanceWindows {
    windows: Vec<Window>,
}

impl MaintenanceWindows {
    /// Checks every window; names in `when` are looked up in `periods`. Every problem is
    /// reported at `N.matchers.M`, `N.when`, `N.from`, `N.to` or `N`.
    pub fn build(raw: &[RawWindow], periods: &TimePeriods) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut windows = Vec::new();
        for (n, w) in raw.iter().enumerate() {
            let before = issues.len();
            let mut all = Vec::new();
            for (i, text) in w.matchers.iter().enumerate() {
                match matcher::parse(text) {
                    Ok(m) => all.extend(m.0),
                    Err(e) => {
                        issues.push(ConfigIssue::new(format!("{n}.matchers.{i}"), e.to_string()))
                    }
                }
            }
            let period = w.when.as_deref().and_then(|text| {
                periods
                    .parse(text)
                    .map_err(|e| issues.push(ConfigIssue::new(format!("{n}.when"), e.to_string())))
                    .ok()
            });
            let mut instant = |key: &str, text: Option<&str>| {
                let text = text?;
                match text.parse::<jiff::Timestamp>() {
                    Ok(t) => Some(Timestamp::from_jiff(t)),
                    Err(e) => {
                        issues.push(
                            ConfigIssue::new(
                                format!("{n}.{key}"),
                                format!("{text:?} is not an RFC 3339 time: {e}"),
                            )
                            .hint("e.g. 2026-03-01T22:00:00Z or 2026-03-01T22:00:00+01:00"),
                        );
                        None
                    }
                }
            };
            let from = instant("from", w.from.as_deref());
            let to = instant("to", w.to.as_deref());
            match (&w.when, &w.from, &w.to) {
                (None, None, None) => issues.push(
                    ConfigIssue::new(n.to_string(), "a maintenance window needs `when` or `from` and `to`")
                        .hint("when = \"sun 02:00-04:00 Europe/London\" for a recurring window, from/to (RFC 3339) for a one-off"),
                ),
                (None, Some(_), None) => issues.push(ConfigIssue::new(
                    format!("{n}.to"),
                    "a one-off window needs `to` as well as `from`; without `when` it would never end",
                )),
                (None, None, Some(_)) => issues.push(ConfigIssue::new(
                    format!("{n}.from"),
                    "a one-off window needs `from` as well as `to`",
                )),
                _ => {}
            }
            if let (Some(f), Some(t)) = (from, to)
                && t <= f
            {
                issues.push(ConfigIssue::new(
                    format!("{n}.to"),
                    format!("`to` ({t}) must be after `from` ({f})"),
                ));
            }
            if issues.len() > before {
                continue;
            }
            let name = match (&w.comment, &w.when) {
                (Some(c), _) if !c.trim().is_empty() => c.clone(),
                (_, Some(when)) => when.clone(),
                _ => format!(
                    "{}..{}",
                    w.from.as_deref().unwrap_or_default(),
                    w.to.as_deref().unwrap_or_default()
                ),
            };
            windows.push(Window {
                matchers: Matchers(all),
                period,
                from,
                to,
                name,
            });
        }
        if issues.is_empty() {
            Ok(MaintenanceWindows { windows })
        } else {
            Err(issues)
        }
    }

    /// Adds `other`'s windows to these.
    pub fn extend(&mut self, other: MaintenanceWindows) {
        self.windows.extend(other.windows);
    }

    /// How many windows there are.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// True when there is no window.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The first instant after `now` at which some window opens or closes, or `None` when
    /// none ever will again.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.windows.iter().filter_map(|w| w.next_change(now)).min()
    }
}

impl Muter for MaintenanceWindows {
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        self.windows
            .iter()
            .find(|w| w.open(now) && w.matchers.matches(&alert.labels))
            .map(|w| MuteReason::Maintenance {
                window: w.name.clone(),
            })
    }
}

#[cfg(test)]
mod tests;
