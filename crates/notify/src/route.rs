//! The routing tree: which receivers hear about an alert, grouped how, and on what timing.
//!
//! The tree works as Alertmanager's does, so an `alertmanager.yml` route translates line for
//! line: the root matches every alert; an alert descends into the first child whose matchers
//! it satisfies, and on into further siblings only while the matching child says `continue`;
//! where no child matches, the node itself is the answer. Children inherit their parent's
//! receiver, grouping, timing and time periods unless they set their own.

use std::fmt;
use std::time::Duration;

use model::duration::parse_duration;
use model::time_period::{TimePeriod, TimePeriods};
use model::{ConfigIssue, Labels};
use serde::Deserialize;

use crate::matcher::Matchers;

/// Alertmanager's defaults: wait 30 s for a group to fill, then 5 min between updates, and
/// remind every 4 h while something still fires.
pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
/// See [`DEFAULT_GROUP_WAIT`].
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// See [`DEFAULT_GROUP_WAIT`].
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// One route as written in the config (`[notify.route]` and its nested `[[...route]]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Where matching alerts go; inherited when absent (the root must name one).
    pub receiver: Option<String>,
    /// Alertmanager-syntax matchers; all must match.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Labels that split alerts into groups; `["..."]` groups by every label.
    pub group_by: Option<Vec<String>>,
    /// How long to wait for more alerts before the first notification of a new group.
    pub group_wait: Option<String>,
    /// How long to wait before notifying about changes to a group already notified.
    pub group_interval: Option<String>,
    /// How long to wait before repeating a notification that has not changed.
    pub repeat_interval: Option<String>,
    /// Keep looking at later siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Named time periods (`[time_period.NAME]`) during which this route sends nothing.
    pub mute_time_periods: Option<Vec<String>>,
    /// Named time periods outside which this route sends nothing.
    pub active_time_periods: Option<Vec<String>>,
    /// Child routes, tried in order.
    #[serde(default, rename = "route")]
    pub routes: Vec<RawRoute>,
}

/// How a route splits its alerts into groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// One group per distinct value combination of these labels (none: one group).
    Labels(Vec<String>),
    /// One group per alert (`group_by = ["..."]`).
    All,
}

impl GroupBy {
    /// The labels of `labels` that form the group.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.as_str(), v)))
                .collect(),
        }
    }
}

/// A route's timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// See [`RawRoute::group_wait`].
    pub group_wait: Duration,
    /// See [`RawRoute::group_interval`].
    pub group_interval: Duration,
    /// See [`RawRoute::repeat_interval`].
    pub repeat_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
        }
    }
}

/// A route ready to use, with everything inherited filled in.
#[derive(Clone, Debug)]
pub struct Route {
    /// Its index in [`RouteTree::routes`].
    pub id: usize,
    /// Where it sits, for people: `root`, `root.1`, `root.1.0`...
    pub path: String,
    /// Its receiver.
    pub receiver: String,
    /// Its own matchers (the parent's already matched to get here).
    pub matchers: Matchers,
    /// How it groups.
    pub group_by: GroupBy,
    /// Its timing.
    pub timing: Timing,
    /// See [`RawRoute::continue_matching`].
    pub continue_matching: bool,
    /// Periods during which it is muted, by name.
    pub mute_time_periods: Vec<(String, TimePeriod)>,
    /// Periods outside which it is muted, by name (empty: always active).
    pub active_time_periods: Vec<(String, TimePeriod)>,
    /// Indexes of its children in [`RouteTree::routes`].
    pub children: Vec<usize>,
}

impl Route {
    /// Why the route sends nothing at `now`, if it does not: `(period, true)` when inside a
    /// mute period, `(periods, false)` when outside every active period (their names joined
    /// with ` or `).
    pub fn muted_at(&self, now: model::Timestamp) -> Option<(String, bool)> {
        if let Some((name, _)) = self.mute_time_periods.iter().find(|(_, p)| p.contains(now)) {
            return Some((name.clone(), true));
        }
        if !self.active_time_periods.is_empty()
            && !self
                .active_time_periods
                .iter()
                .any(|(_, p)| p.contains(now))
        {
            let names: Vec<&str> = self
                .active_time_periods
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            return Some((names.join(" or "), false));
        }
        None
    }
}

/// The whole tree, flattened: routes by index, the root first.
#[derive(Clone, Debug)]
pub struct RouteTree {
    /// Every route; `routes[0]` is the root.
    pub routes: Vec<Route>,
    /// Routes outside the tree that every alert is also tried against (partners' routes):
    /// they never take an alert away from the tree, nor the tree from them.
    pub sides: Vec<usize>,
}

impl RouteTree {
    /// Builds the tree from the config. `receiver_exists` says whether a receiver name is
    /// defined; `periods` resolves time period names. Every problem is reported, with its path
    /// below the root route (`route.1.matchers`).
    pub fn build(
        root: &RawRoute,
        receiver_exists: &dyn Fn(&str) -> bool,
        periods: &TimePeriods,
    ) -> Result<RouteTree, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        if root.receiver.is_none() {
            issues.push(
                ConfigIssue::new("receiver", "the root route must name a receiver")
                    .hint("every alert that matches no child route goes there"),
            );
        }
        if !root.matchers.is_empty() {
            issues.push(ConfigIssue::new(
                "matchers",
                "the root route matches every alert and takes no matchers",
            ));
        }
        let mut builder = Builder {
            routes: Vec::new(),
            issues,
            receiver_exists,
            periods,
        };
        let inherited = Inherited {
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            timing: Timing::default(),
            mute: Vec::new(),
            active: Vec::new(),
        };
        builder.add(root, &inherited, "root".into(), "");
        if builder.issues.is_empty() {
            Ok(RouteTree {
                routes: builder.routes,
                sides: Vec::new(),
            })
        } else {
            Err(builder.issues)
        }
    }

    /// Adds a route outside the tree, at `path`, tried for every alert whatever the tree
    /// decides. It takes the root's grouping and timing where it sets none, but not the
    /// root's time periods: a side route answers to its own rules. Problems are reported at
    /// paths relative to `raw`.
    pub fn add_side(
        &mut self,
        path: &str,
        raw: &RawRoute,
        receiver_exists: &dyn Fn(&str) -> bool,
        periods: &TimePeriods,
    ) -> Result<(), Vec<ConfigIssue>> {
        let root = self.root();
        let inherited = Inherited {
            receiver: root.receiver.clone(),
            group_by: root.group_by.clone(),
            timing: root.timing,
            mute: Vec::new(),
            active: Vec::new(),
        };
        let mut builder = Builder {
            routes: std::mem::take(&mut self.routes),
            issues: Vec::new(),
            receiver_exists,
            periods,
        };
        let id = builder.add(raw, &inherited, path.to_string(), "");
        self.routes = builder.routes;
        if builder.issues.is_empty() {
            self.sides.push(id);
            Ok(())
        } else {
            self.routes.truncate(id);
            Err(builder.issues)
        }
    }

    /// A tree with only a root sending everything to `receiver`, grouped by `alertname`.
    pub fn single(receiver: &str) -> RouteTree {
        let raw = RawRoute {
            receiver: Some(receiver.to_string()),
            group_by: Some(vec!["alertname".into()]),
            ..RawRoute::default()
        };
        RouteTree::build(&raw, &|_| true, &TimePeriods::default())
            .expect("a root with a receiver is valid")
    }

    /// The root route.
    pub fn root(&self) -> &Route {
        &self.routes[0]
    }

    /// The routes `labels` end up at, in tree order (see the module documentation).
    pub fn matching(&self, labels: &Labels) -> Vec<&Route> {
        let mut out = Vec::new();
        self.collect(0, labels, &mut out);
        for &side in &self.sides {
            if self.routes[side].matchers.matches(labels) {
                self.collect(side, labels, &mut out);
            }
        }
        out
    }

    fn collect<'a>(&'a self, id: usize, labels: &Labels, out: &mut Vec<&'a Route>) {
        let route = &self.routes[id];
        let before = out.len();
        for &child in &route.children {
            let c = &self.routes[child];
            if !c.matchers.matches(labels) {
                continue;
            }
            self.collect(child, labels, out);
            if !c.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(route);
        }
    }
}

/// What a child takes from its parent.
struct Inherited {
    receiver: String,
    group_by: GroupBy,
    timing: Timing,
    mute: Vec<(String, TimePeriod)>,
    active: Vec<(String, TimePeriod)>,
}

struct Builder<'a> {
    routes: Vec<Route>,
    issues: Vec<ConfigIssue>,
    receiver_exists: &'a dyn Fn(&str) -> bool,
    periods: &'a TimePeriods,
}

impl Builder<'_> {
    /// Adds `raw` and its subtree; returns its index. `key` is its config path prefix
    /// (`""` for the root, `route.0.` below it).
    fn add(&mut self, raw: &RawRoute, parent: &Inherited, path: String, key: &str) -> usize {
        let issue =
            |field: &str, message: String| ConfigIssue::new(format!("{key}{field}"), message);
        let receiver = match &raw.receiver {
            Some(name) => {
                if !(self.receiver_exists)(name) {
                    self.issues.push(
                        issue("receiver", format!("unknown receiver `{name}`"))
                            .hint("define it as [notify.receiver.NAME]"),
                    );
                }
                name.clone()
            }
            None => parent.receiver.clone(),
        };
        let matchers = match Matchers::parse_all(&raw.matchers) {
            Ok(m) => m,
            Err(e) => {
                self.issues.push(issue("matchers", e.to_string()).hint(
                    r#"write e.g. matchers = ['service="payments"', 'level=~"critical|non-critical"']"#,
                ));
                Matchers::default()
            }
        };
        let group_by = match &raw.group_by {
            None => parent.group_by.clone(),
            Some(names) if names.iter().any(|n| n == "...") => {
                if names.len() > 1 {
                    self.issues.push(issue(
                        "group_by",
                        "`...` groups by every label and cannot be combined with other labels"
                            .into(),
                    ));
                }
                GroupBy::All
            }
            Some(names) => {
                let mut sorted = names.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() < names.len() {
                    self.issues
                        .push(issue("group_by", "a label is listed twice".into()));
                }
                GroupBy::Labels(names.clone())
            }
        };
        let mut duration = |field: &str, text: &Option<String>, inherited: Duration| {
            let Some(text) = text else { return inherited };
            match parse_duration(text) {
                Ok(d) if d.is_zero() && field != "group_wait" => {
                    self.issues
                        .push(issue(field, format!("`{field}` must be greater than zero")));
                    inherited
                }
                Ok(d) => d,
                Err(e) => {
                    self.issues.push(issue(field, e.to_string()));
                    inherited
                }
            }
        };
        let timing = Timing {
            group_wait: duration("group_wait", &raw.group_wait, parent.timing.group_wait),
            group_interval: duration(
                "group_interval",
                &raw.group_interval,
                parent.timing.group_interval,
            ),
            repeat_interval: duration(
                "repeat_interval",
                &raw.repeat_interval,
                parent.timing.repeat_interval,
            ),
        };
        let mut periods =
            |field: &str, names: &Option<Vec<String>>, inherited: &[(String, TimePeriod)]| {
                let Some(names) = names else {
                    return inherited.to_vec();
                };
                let mut out = Vec::new();
                for name in names {
                    match self.periods.get(name) {
                        Some(p) => out.push((name.clone(), p.clone())),
                        None => self.issues.push(
                            issue(field, format!("unknown time period `{name}`"))
                                .hint("define it as [time_period.NAME]"),
                        ),
                    }
                }
                out
            };
        let mute = periods("mute_time_periods", &raw.mute_time_periods, &parent.mute);
        let active = periods(
            "active_time_periods",
            &raw.active_time_periods,
            &parent.active,
        );
        let id = self.routes.len();
        self.routes.push(Route {
            id,
            path: path.clone(),
            receiver: receiver.clone(),
            matchers,
            group_by: group_by.clone(),
            timing,
            continue_matching: raw.continue_matching,
            mute_time_periods: mute.clone(),
            active_time_periods: active.clone(),
            children: Vec::new(),
        });
        let inherited = Inherited {
            receiver,
            group_by,
            timing,
            mute,
            active,
        };
        for (i, child) in raw.routes.iter().enumerate() {
            let child_id = self.add(
                child,
                &inherited,
                format!("{path}.{i}"),
                &format!("{key}route.{i}."),
            );
            self.routes[id].children.push(child_id);
        }
        id
    }
}

impl fmt::Display for Route {
    /// `root.1 {service="db"} -> dba`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if !self.matchers.is_empty() {
            write!(f, " {}", self.matchers)?;
        }
        write!(f, " -> {}", self.receiver)
    }
}

#[cfg(test)]
mod tests;
