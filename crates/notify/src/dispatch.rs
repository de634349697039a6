//! Grouping: alerts that reach the same route with the same `group_by` values travel together,
//! on the route's timing.
//!
//! A new group waits `group_wait` for company before its first flush, then flushes every
//! `group_interval` while it has alerts; each flush hands the group's current alerts to the
//! later stages, which decide whether anything is worth sending (the notification log sends
//! only changes, and repeats after `repeat_interval`). Resolved alerts leave the group once a
//! flush has carried them; an empty group is forgotten. This is Alertmanager's timing, so
//! routes copied from an `alertmanager.yml` behave the same.
//!
//! The dispatcher is pure: `insert` and `flush_due` take `now`, and [`Dispatcher::next_wake`]
//! says when the next flush is due, so a scheduler sleeps exactly that long and tests jump.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use model::alert::Fingerprint;
use model::{Labels, Timestamp};

use crate::alert::Alert;
use crate::route::{GroupBy, Route, RouteTree};

/// Identifies a group: a digest of its route and group label values.
pub type GroupId = u64;

/// The alerts of one group.
#[derive(Clone, Debug)]
pub struct Group {
    /// The route it belongs to (index in the tree).
    pub route: usize,
    /// Stable identity across restarts and in payloads: the route's path and group labels,
    /// e.g. `root.1:{alertname="DiskFull"}`.
    pub key: String,
    /// The `group_by` labels and their values.
    pub labels: Labels,
    alerts: HashMap<Fingerprint, Arc<Alert>>,
    next_flush: Timestamp,
}

impl Group {
    /// How many alerts it holds.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// When it flushes next.
    pub fn next_flush(&self) -> Timestamp {
        self.next_flush
    }

    /// Its alerts, in no particular order.
    pub fn alerts(&self) -> impl Iterator<Item = &Arc<Alert>> {
        self.alerts.values()
    }
}

/// One flush: a group's alerts at a moment, for the later stages.
#[derive(Clone, Debug)]
pub struct Flush {
    /// Which group.
    pub group: GroupId,
    /// Its route (index in the tree).
    pub route: usize,
    /// The route's receiver.
    pub receiver: String,
    /// See [`Group::key`].
    pub key: String,
    /// See [`Group::labels`].
    pub labels: Labels,
    /// The group's alerts, firing first, each part oldest first.
    pub alerts: Vec<Arc<Alert>>,
    /// When the flush happened.
    pub at: Timestamp,
}

/// Every group, and when each flushes next.
#[derive(Debug)]
pub struct Dispatcher {
    tree: Arc<RouteTree>,
    groups: HashMap<GroupId, Group>,
    timers: BTreeSet<(Timestamp, GroupId)>,
    alerts: usize,
}

impl Dispatcher {
    /// No groups yet, routing by `tree`.
    pub fn new(tree: Arc<RouteTree>) -> Self {
        Dispatcher {
            tree,
            groups: HashMap::new(),
            timers: BTreeSet::new(),
            alerts: 0,
        }
    }

    /// The routing tree.
    pub fn tree(&self) -> &RouteTree {
        &self.tree
    }

    /// Puts `alert` into the group of every route it reaches, replacing the same alert's
    /// previous state. A firing alert that starts a group schedules its first flush
    /// `group_wait` from `now`; a resolved alert never starts one (nobody heard of it).
    pub fn insert(&mut self, alert: Alert, now: Timestamp) {
        let alert = Arc::new(alert);
        // A handle of our own, so the routes can be walked while the groups change.
        let tree = Arc::clone(&self.tree);
        for route in tree.matching(&alert.labels) {
            self.insert_at(route, Arc::clone(&alert), now);
        }
    }

    fn insert_at(&mut self, route: &Route, alert: Arc<Alert>, now: Timestamp) {
        // Most inserts update an alert of an existing group: the group is found from the
        // alert's labels without building its group labels and key, which only a new group
        // needs.
        let id = group_id_of(route.id, &route.group_by, &alert.labels);
        let group = match self.groups.get_mut(&id) {
            Some(g) => g,
            None => {
                if !alert.is_firing() {
                    return;
                }
                let group_labels = route.group_by.group_labels(&alert.labels);
                let next_flush = now.plus_millis(route.timing.group_wait.as_millis() as i64);
                self.timers.insert((next_flush, id));
                self.groups.entry(id).or_insert(Group {
                    route: route.id,
                    key: group_key(route, &group_labels),
                    labels: group_labels,
                    alerts: HashMap::new(),
                    next_flush,
                })
            }
        };
        if group.alerts.insert(alert.fingerprint, alert).is_none() {
            self.alerts += 1;
        }
    }

    /// Flushes every group whose time has come, and schedules its next flush
    /// `group_interval` later; resolved alerts leave their group with the flush.
    pub fn flush_due(&mut self, now: Timestamp) -> Vec<Flush> {
        let mut out = Vec::new();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            // A wake-up asked for by `wake_at`, between the group's regular flushes: it
            // flushes, but leaves the regular cadence alone.
            let extra = at != group.next_flush;
            let route = &self.tree.routes[group.route];
            let mut alerts: Vec<Arc<Alert>> = group.alerts.values().cloned().collect();
            alerts.sort_by(|a, b| {
                (!a.is_firing(), a.starts_at, a.fingerprint).cmp(&(
                    !b.is_firing(),
                    b.starts_at,
                    b.fingerprint,
                ))
            });
            let before = group.alerts.len();
            group.alerts.retain(|_, a| a.is_firing());
            self.alerts -= before - group.alerts.len();
            out.push(Flush {
                group: id,
                route: group.route,
                receiver: route.receiver.clone(),
                key: group.key.clone(),
                labels: group.labels.clone(),
                alerts,
                at: now,
            });
            if group.alerts.is_empty() {
                self.groups.remove(&id);
            } else if !extra {
                // Counted from the flush's due time, not from `now`, so a late wake-up does not
                // shift every later flush of the group.
                let next = at.plus_millis(route.timing.group_interval.as_millis() as i64);
                let next = next.max(now.plus_millis(1));
                group.next_flush = next;
                self.timers.insert((next, id));
            }
        }
        out
    }

    /// Flushes `group` once more at `at`, between its regular flushes (a partner told only
    /// after a delay hears at the end of the delay, not at the next `group_interval`). Does
    /// nothing when the group is gone or flushes by then anyway.
    pub fn wake_at(&mut self, group: GroupId, at: Timestamp) {
        if let Some(g) = self.groups.get(&group)
            && at < g.next_flush
        {
            self.timers.insert((at, group));
        }
    }

    /// When the next flush is due, if any group exists.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Every group.
    pub fn groups(&self) -> impl Iterator<Item = (&GroupId, &Group)> {
        self.groups.iter()
    }

    /// The group with this id.
    pub fn group(&self, id: GroupId) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// Alerts held across all groups (an alert in two groups counts twice).
    pub fn alert_count(&self) -> usize {
        self.alerts
    }
}

/// `root.1:{alertname="DiskFull"}`: readable and stable across restarts.
pub fn group_key(route: &Route, labels: &Labels) -> String {
    let mut key = String::with_capacity(route.path.len() + 32);
    key.push_str(&route.path);
    key.push_str(":{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            key.push_str(", ");
        }
        key.push_str(name);
        key.push('=');
        key.push_str(&format!("{value:?}"));
    }
    key.push('}');
    key
}

/// FNV-1a over the route index and the group labels (those of `labels` that `group_by`
/// names, in label order: the pairs [`GroupBy::group_labels`] would return); stable across
/// runs.
fn group_id_of(route: usize, group_by: &GroupBy, labels: &Labels) -> GroupId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&(route as u64).to_le_bytes());
    for (name, value) in labels.iter() {
        let grouped = match group_by {
            GroupBy::All => true,
            GroupBy::Labels(names) => names.iter().any(|n| n == name),
        };
        if grouped {
            eat(name.as_bytes());
            eat(&[0xFE]);
            eat(value.as_bytes());
            eat(&[0xFF]);
        }
    }
    hash
}

#[cfg(test)]
mod tests;
