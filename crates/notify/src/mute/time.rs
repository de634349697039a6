//! Route-level time muting, Alertmanager's `active_time_intervals` and `mute_time_intervals`:
//! a route that only pages during business hours, or never during the nightly batch.
//!
//! The alert does not matter here, only `now`; the route decides which alerts the muter is
//! asked about. [`TimeMuter::next_change`] tells the scheduler when the answer flips, so held
//! notifications go out at the start of the active period rather than on the next tick.

use model::Timestamp;
use model::time_period::TimePeriod;

use super::{MuteReason, Muter};
use crate::alert::Alert;

/// Mutes outside the active periods (when any are given) and inside any mute period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeMuter {
    /// Named periods during which notifications may go out; empty means always.
    pub active: Vec<(String, TimePeriod)>,
    /// Named periods during which notifications are held.
    pub mute: Vec<(String, TimePeriod)>,
}

impl TimeMuter {
    /// True when neither list has a period, so this never mutes.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty() && self.mute.is_empty()
    }

    /// The first instant after `now` at which some period starts or ends, or `None` when none
    /// ever will. The answer of [`Muter::mute`] can only change there.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.active
            .iter()
            .chain(&self.mute)
            .filter_map(|(_, p)| p.next_change(now))
            .min()
    }
}

impl Muter for TimeMuter {
    fn mute(&self, _alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        if let Some((name, _)) = self.mute.iter().find(|(_, p)| p.contains(now)) {
            return Some(MuteReason::InMuteTime {
                period: name.clone(),
            });
        }
        if !self.active.is_empty() && !self.active.iter().any(|(_, p)| p.contains(now)) {
            let names: Vec<&str> = self.active.iter().map(|(n, _)| n.as_str()).collect();
            return Some(MuteReason::OutsideActiveTime {
                period: names.join(", "),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Labels;

    fn utc(text: &str) -> Timestamp {
        Timestamp::from_jiff(text.parse().unwrap())
    }

    fn period(text: &str) -> TimePeriod {
        text.parse().unwrap()
    }

    fn alert() -> Alert {
        Alert::firing(
            Labels::new().with("alertname", "QueueBacklog"),
            Timestamp(0),
        )
    }

    #[test]
    fn business_hours_only_with_a_lunch_break_muted() {
        let muter = TimeMuter {
            active: vec![
                (
                    "business_hours".into(),
                    period("weekdays 08:00-18:00 Europe/London"),
                ),
                ("saturday_morning".into(), period("sat 09:00-12:00 UTC")),
            ],
            mute: vec![("lunch".into(), period("weekdays 12:00-13:00 Europe/London"))],
        };
        let at = |t: &str| muter.mute(&alert(), utc(t));
        // Wednesday 10:00 BST.
        assert_eq!(at("2026-06-10T09:00:00Z"), None);
        // Wednesday 12:30 BST: lunch.
        assert_eq!(
            at("2026-06-10T11:30:00Z"),
            Some(MuteReason::InMuteTime {
                period: "lunch".into()
            })
        );
        // Wednesday 19:00 BST: outside both active periods.
        assert_eq!(
            at("2026-06-10T18:00:00Z"),
            Some(MuteReason::OutsideActiveTime {
                period: "business_hours, saturday_morning".into()
            })
        );
        // Saturday 10:00 UTC: the second active period.
        assert_eq!(at("2026-06-13T10:00:00Z"), None);
        // The scheduler learns that 13:00 BST ends lunch.
        assert_eq!(
            muter.next_change(utc("2026-06-10T11:30:00Z")),
            Some(utc("2026-06-10T12:00:00Z"))
        );
    }

    #[test]
    fn without_periods_nothing_is_muted() {
        let muter = TimeMuter::default();
        assert!(muter.is_empty());
        assert_eq!(muter.mute(&alert(), utc("2026-06-10T03:00:00Z")), None);
        assert_eq!(muter.next_change(utc("2026-06-10T03:00:00Z")), None);
        let mute_only = TimeMuter {
            active: Vec::new(),
            mute: vec![("nightly_batch".into(), period("daily 01:00-03:00"))],
        };
        assert_eq!(mute_only.mute(&alert(), utc("2026-06-10T04:00:00Z")), None);
        assert!(
            mute_only
                .mute(&alert(), utc("2026-06-10T02:00:00Z"))
                .is_some()
        );
    }
}
