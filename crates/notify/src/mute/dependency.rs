//! Service dependencies: when the database is down, the twenty services that use it need not
//! page too. An alert of service S is muted while a service S depends on, directly or through
//! others, has a firing alert; the parent's own alerts page as usual.
//!
//! Services are named by the alert's `service` label. Resolutions are not this muter's
//! business: the pipeline always delivers the resolution of an alert it notified, so an alert
//! that paged before its parent broke still hears that it recovered. What this muter holds is
//! which services fire, fed alert by alert through [`Dependencies::update`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use model::alert::Fingerprint;
use model::{ConfigIssue, Timestamp};

use super::{MuteReason, Muter};
use crate::alert::Alert;

/// The label that names the service an alert belongs to.
pub const SERVICE_LABEL: &str = "service";

/// Which services depend on which, and which of them have firing alerts.
#[derive(Clone, Debug, Default)]
pub struct Dependencies {
    /// For each service, every service it depends on, nearest first.
    ancestors: HashMap<String, Vec<String>>,
    /// Firing alerts by service.
    firing: HashMap<String, BTreeSet<Fingerprint>>,
    /// The service each tracked firing alert was counted under, so it is removed from the
    /// same place even if its labels changed.
    service_of: HashMap<Fingerprint, String>,
    /// Services some other service depends on: only their alerts can mute anything, so only
    /// they are tracked.
    parents: HashSet<String>,
}

impl Dependencies {
    /// Builds from `service -> services it depends on`. A service that is only depended upon
    /// needs no entry of its own. Every cycle is an issue at the key of one of its services,
    /// naming the whole cycle.
    pub fn build(depends_on: &BTreeMap<String, Vec<String>>) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        for (service, parents) in depends_on {
            for (i, parent) in parents.iter().enumerate() {
                if parent.trim().is_empty() {
                    issues.push(ConfigIssue::new(
                        format!("{service}.{i}"),
                        "empty service name",
                    ));
                }
            }
        }
        for cycle in cycles(depends_on) {
            let first = cycle[0].clone();
            let mut shown = cycle;
            shown.push(first.clone());
            issues.push(
                ConfigIssue::new(
                    first,
                    format!(
                        "services depend on each other in a cycle: {}",
                        shown.join(" -> ")
                    ),
                )
                .hint("a dependency says which service's failure explains another's; remove one link of the cycle"),
            );
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        let ancestors: HashMap<String, Vec<String>> = depends_on
            .keys()
            .map(|s| (s.clone(), ancestors_of(s, depends_on)))
            .collect();
        let parents = ancestors.values().flatten().cloned().collect();
        Ok(Dependencies {
            ancestors,
            parents,
            ..Dependencies::default()
        })
    }

    /// Takes note of one alert: a firing one counts for its service, a resolved one (or one
    /// without a `service` label) no longer does.
    pub fn update(&mut self, alert: &Alert) {
        // Every alert update passes here: most must cost a lookup at most.
        if self.parents.is_empty() {
            return;
        }
        let fp = alert.fingerprint;
        let counts_for = alert
            .labels
            .get(SERVICE_LABEL)
            .filter(|s| alert.is_firing() && self.parents.contains(*s));
        if self.service_of.get(&fp).map(String::as_str) == counts_for {
            return;
        }
        if let Some(old) = self.service_of.remove(&fp)
            && let Some(set) = self.firing.get_mut(&old)
        {
            set.remove(&fp);
            if set.is_empty() {
                self.firing.remove(&old);
            }
        }
        if let Some(service) = counts_for {
            self.firing
                .entry(service.to_string())
                .or_default()
                .insert(fp);
            self.service_of.insert(fp, service.to_string());
        }
    }

    /// Whether `service` has a firing alert (tracked only for services others depend on).
    pub fn is_firing(&self, service: &str) -> bool {
        self.firing.contains_key(service)
    }

    /// Every service `service` depends on, directly or through others, nearest first.
    pub fn depends_on(&self, service: &str) -> &[String] {
        self.ancestors.get(service).map_or(&[], Vec::as_slice)
    }
}

impl Muter for Dependencies {
    /// Names the firing service that is the root of the trouble: among the firing services it
    /// depends on, one that does not itself depend on a firing service.
    fn mute(&self, alert: &Alert, _now: Timestamp) -> Option<MuteReason> {
        let service = alert.labels.get(SERVICE_LABEL)?;
        let mut firing = self
            .depends_on(service)
            .iter()
            .filter(|s| self.is_firing(s))
            .peekable();
        let nearest = firing.peek().copied()?;
        let root = firing
            .find(|p| !self.depends_on(p).iter().any(|q| self.is_firing(q)))
            .unwrap_or(nearest);
        Some(MuteReason::Dependency {
            parent: root.clone(),
        })
    }
}

/// Every service reachable from `service`, breadth first (so nearest first), without repeats.
/// Only called on graphs without cycles, but the visited set keeps it finite regardless.
fn ancestors_of(service: &str, depends_on: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut seen = BTreeSet::from([service.to_string()]);
    let mut out = Vec::new();
    let mut queue = VecDeque::from([service.to_string()]);
    while let Some(s) = queue.pop_front() {
        for parent in depends_on.get(&s).into_iter().flatten() {
            if seen.insert(parent.clone()) {
                out.push(parent.clone());
                queue.push_back(parent.clone());
            }
        }
    }
    out
}

/// Every distinct cycle found by a depth-first walk, each rotated to start at its smallest
/// name so the same cycle found from two places is reported once.
fn cycles(depends_on: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    struct Walk<'a> {
        graph: &'a BTreeMap<String, Vec<String>>,
        marks: HashMap<&'a str, Mark>,
        path: Vec<&'a str>,
        found: BTreeSet<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            match self.marks.get(node) {
                Some(Mark::Done) => return,
                Some(Mark::OnPath) => {
                    if let Some(at) = self.path.iter().position(|n| *n == node) {
                        let mut cycle: Vec<String> =
                            self.path[at..].iter().map(|s| s.to_string()).collect();
                        if let Some(min) = (0..cycle.len()).min_by_key(|&i| &cycle[i]) {
                            cycle.rotate_left(min);
                        }
                        self.found.insert(cycle);
                    }
                    return;
                }
                None => {}
            }
            self.marks.insert(node, Mark::OnPath);
            self.path.push(node);
            if let Some(parents) = self.graph.get(node) {
                for p in parents {
                    self.visit(p);
                }
            }
            self.path.pop();
            self.marks.insert(node, Mark::Done);
        }
    }
    let mut walk = Walk {
        graph: depends_on,
        marks: HashMap::new(),
        path: Vec::new(),
        found: BTreeSet::new(),
    };
    for node in depends_on.keys() {
        walk.visit(node);
    }
    walk.found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Labels;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(s, ps)| (s.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect()
    }

    fn alert(name: &str, service: &str) -> Alert {
        let labels = Labels::new()
            .with("alertname", name)
            .with(SERVICE_LABEL, service);
        Alert::firing(labels, Timestamp(0))
    }

    #[test]
    fn a_chain_mutes_downstream_services_by_the_root_cause() {
        // The web front end uses the API, which uses the database.
        let mut deps = Dependencies::build(&graph(&[("web", &["api"]), ("api", &["db"])])).unwrap();
        let now = Timestamp(0);
        let web = alert("HighLatency", "web");
        let api = alert("Errors", "api");
        let db = alert("DbDown", "db");
        assert_eq!(deps.mute(&web, now), None);

        deps.update(&db);
        let by_db = Some(MuteReason::Dependency {
            parent: "db".into(),
        });
        assert_eq!(deps.mute(&web, now), by_db, "transitive");
        assert_eq!(deps.mute(&api, now), by_db, "direct");
        assert_eq!(deps.mute(&db, now), None, "the parent's own alerts page");

        // With both api and db firing, db is still named: api only fires because of it.
        deps.update(&api);
        assert_eq!(deps.mute(&web, now), by_db);

        deps.update(&db.clone().resolved_at(Timestamp(60_000)));
        assert_eq!(
            deps.mute(&web, now),
            Some(MuteReason::Dependency {
                parent: "api".into()
            })
        );
        assert_eq!(deps.mute(&api, now), None);
        deps.update(&api.clone().resolved_at(Timestamp(60_000)));
        assert_eq!(deps.mute(&web, now), None);
        assert_eq!(deps.depends_on("web"), ["api", "db"]);
    }

    #[test]
    fn services_outside_the_graph_and_alerts_without_a_service_are_left_alone() {
        let mut deps = Dependencies::build(&graph(&[("web", &["db"])])).unwrap();
        deps.update(&alert("DbDown", "db"));
        assert_eq!(deps.mute(&alert("Disk", "batch"), Timestamp(0)), None);
        let no_service = Alert::firing(Labels::new().with("alertname", "X"), Timestamp(0));
        deps.update(&no_service);
        assert_eq!(deps.mute(&no_service, Timestamp(0)), None);
        // Two alerts of the same parent: it stops firing only when both resolve.
        let other = alert("DbSlow", "db");
        deps.update(&other);
        deps.update(&alert("DbDown", "db").resolved_at(Timestamp(1)));
        assert!(deps.mute(&alert("Err", "web"), Timestamp(0)).is_some());
        deps.update(&other.resolved_at(Timestamp(2)));
        assert!(deps.mute(&alert("Err", "web"), Timestamp(0)).is_none());
    }

    #[test]
    fn cycles_are_named_whole() {
        let issues = Dependencies::build(&graph(&[
            ("a", &["b"]),
            ("b", &["c"]),
            ("c", &["a"]),
            ("d", &["d"]),
            ("e", &["a", ""]),
        ]))
        .unwrap_err();
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(issues.len(), 3, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("a: ") && t.contains("cycle: a -> b -> c -> a")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("cycle: d -> d")), "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("e.1: ") && t.contains("empty")),
            "{text:?}"
        );
    }
}
