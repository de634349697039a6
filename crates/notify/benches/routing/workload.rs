//! The bench's alerts and configuration, generated before anything is timed and the same for
//! both systems: the alerts (labels, annotations, level mix), the phase-2 updates, the routing
//! tree, the silences and the inhibition rules. Everything is a pure function of the alert's
//! index, so Periscope and Alertmanager are fed identical alerts without keeping two copies.

use model::alert::Annotations;
use model::{Labels, Timestamp};
use notify::Alert;

/// The `group_by` of every route.
pub const GROUP_BY: [&str; 2] = ["alertname", "service"];
/// Distinct alert names.
const NAMES: usize = 50;
/// Distinct instances.
const INSTANCES: usize = 20_000;
/// Distinct services; each instance belongs to one.
const SERVICES: usize = 100;
/// Distinct teams; each service belongs to one.
pub const TEAMS: usize = 10;
/// Clusters; each instance is in one.
const CLUSTERS: usize = 4;

const NAME_BASES: [&str; 10] = [
    "InstanceDown",
    "DiskFull",
    "HighLatency",
    "HighErrorRate",
    "MemoryPressure",
    "CpuThrottled",
    "CertExpiring",
    "QueueBacklog",
    "ReplicationLag",
    "PodCrashLooping",
];
const NAME_SUFFIXES: [&str; 5] = ["", "Warning", "Critical", "Predicted", "Sustained"];
const JOBS: [&str; 5] = ["node", "api", "db", "queue", "kubelet"];

/// SplitMix64's output function: a well-spread hash of `x`, so every attribute is a pure
/// function of the alert's index.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn alert_name(n: usize) -> String {
    format!(
        "{}{}",
        NAME_BASES[n % NAME_BASES.len()],
        NAME_SUFFIXES[n / NAME_BASES.len()]
    )
}

/// The labels of alert `i`: a distinct (alertname, instance) pair for the first million,
/// then a `replica` label keeps larger counts distinct.
pub fn labels(i: usize) -> Labels {
    let name = i % NAMES;
    let instance = (i / NAMES) % INSTANCES;
    let replica = i / (NAMES * INSTANCES);
    let service = instance % SERVICES;
    let team = service % TEAMS;
    let cluster = instance % CLUSTERS;
    let mut labels: Labels = [
        ("alertname", alert_name(name)),
        ("cluster", format!("eu-{cluster}")),
        ("instance", format!("host-{instance:05}:9100")),
        ("job", JOBS[name % JOBS.len()].to_string()),
        ("level", level(i).to_string()),
        ("service", format!("svc-{service:03}")),
        ("team", format!("team-{team}")),
    ]
    .into_iter()
    .collect();
    if replica > 0 {
        labels.set("replica", replica.to_string());
    }
    labels
}

/// The level of alert `i`.
fn level(i: usize) -> &'static str {
    match mix(i as u64) % 100 {
        0..10 => "critical",
        10..95 => "non-critical",
        _ => "logged",
    }
}

/// Groups the `logged` alerts among the first `n` form in Alertmanager (whose tree sends them
/// to one route with no receivers; Periscope drops them before routing).
pub fn logged_groups(n: usize) -> usize {
    let mut seen = std::collections::HashSet::new();
    for i in (0..n).filter(|&i| level(i) == "logged") {
        seen.insert((i % NAMES, (i / NAMES) % INSTANCES % SERVICES));
    }
    seen.len()
}

/// Alert `i` as first sent (`version` 0) or as an update (`version` 1: new annotation values,
/// and one alert in ten resolved at `at`).
pub fn alert(i: usize, version: u32, starts_at: Timestamp, at: Timestamp) -> Alert {
    let mut alert = Alert::firing(labels(i), starts_at);
    let mut annotations = Annotations::new();
    annotations.insert(
        "summary".into(),
        format!(
            "{} on {}",
            alert.name(),
            alert.labels.get("instance").unwrap_or_default()
        ),
    );
    annotations.insert(
        "description".into(),
        format!(
            "value {} (evaluation {version})",
            mix(i as u64 ^ u64::from(version)) % 1000
        ),
    );
    alert.annotations = annotations;
    alert.generator_url = format!("http://rules.example/graph?g0.expr=alert{}", i % NAMES);
    if version > 0 && resolves(i) {
        alert = alert.resolved_at(at);
    }
    alert
}

/// Whether alert `i` resolves in phase 2 (one in ten).
pub fn resolves(i: usize) -> bool {
    mix((i as u64) ^ 0x5eed_0f0f_f5e7).is_multiple_of(10)
}

/// The order phase 2 updates alerts in: every index once, strided so consecutive updates hit
/// unrelated groups (as evaluations of different rules do).
pub fn update_order(n: usize) -> impl Iterator<Item = usize> {
    let mut stride = 1_000_003 % n.max(1);
    while stride == 0 || gcd(stride, n) != 1 {
        stride += 1;
    }
    (0..n).map(move |k| (k * stride) % n)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// One matcher, structured so it can be written for both systems.
#[derive(Clone, Debug)]
pub struct M {
    pub name: &'static str,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: &'static str,
    pub value: String,
}

impl M {
    fn new(name: &'static str, op: &'static str, value: impl Into<String>) -> M {
        M {
            name,
            op,
            value: value.into(),
        }
    }

    /// `name="value"`, as both Periscope and Alertmanager read it.
    pub fn text(&self) -> String {
        format!("{}{}\"{}\"", self.name, self.op, self.value)
    }
}

fn eq(name: &'static str, value: impl Into<String>) -> M {
    M::new(name, "=", value)
}

fn re(name: &'static str, value: impl Into<String>) -> M {
    M::new(name, "=~", value)
}

/// One route of the tree; the root's matchers are empty.
pub struct RouteSpec {
    pub matchers: Vec<M>,
    pub receiver: String,
    pub continue_matching: bool,
    pub children: Vec<RouteSpec>,
}

fn route(matchers: Vec<M>, receiver: &str, children: Vec<RouteSpec>) -> RouteSpec {
    RouteSpec {
        matchers,
        receiver: receiver.into(),
        continue_matching: false,
        children,
    }
}

/// Twenty routes: critical alerts to the pager and on (`continue`) to their team; certificate
/// alerts to security; then one route per team, four of them with sub-routes by service regex,
/// level or alert name. Everything else goes to `default`.
pub fn routes() -> RouteSpec {
    let mut children = vec![
        RouteSpec {
            continue_matching: true,
            ..route(vec![eq("level", "critical")], "pager", vec![])
        },
        route(vec![re("alertname", "CertExpiring.*")], "security", vec![]),
    ];
    for team in 0..TEAMS {
        let name = format!("team-{team}");
        let subs = match team {
            0 => vec![
                route(vec![re("service", "svc-0[0-4]0")], "team-0-db", vec![]),
                route(vec![re("service", "svc-0[5-9]0")], "team-0-web", vec![]),
            ],
            1 => vec![
                route(
                    vec![
                        eq("level", "non-critical"),
                        re("alertname", "(Disk|Memory).*"),
                    ],
                    "team-1-capacity",
                    vec![],
                ),
                route(vec![eq("job", "db")], "team-1-dba", vec![]),
            ],
            2 => vec![route(
                vec![re("instance", "host-0[0-4].*")],
                "team-2-west",
                vec![],
            )],
            3 => vec![
                route(
                    vec![re("alertname", "Queue.*|Replication.*")],
                    "team-3-data",
                    vec![],
                ),
                route(
                    vec![M::new("cluster", "!=", "eu-0")],
                    "team-3-remote",
                    vec![],
                ),
            ],
            _ => vec![],
        };
        children.push(route(vec![eq("team", name.clone())], &name, subs));
    }
    route(vec![], "default", children)
}

/// Every receiver the tree names, in tree order.
pub fn receivers(spec: &RouteSpec) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(spec: &RouteSpec, out: &mut Vec<String>) {
        if !out.contains(&spec.receiver) {
            out.push(spec.receiver.clone());
        }
        for c in &spec.children {
            walk(c, out);
        }
    }
    walk(spec, &mut out);
    out
}

/// Routes in the tree, the root included.
pub fn route_count(spec: &RouteSpec) -> usize {
    1 + spec.children.iter().map(route_count).sum::<usize>()
}

/// Fifty silences, as a person makes them: single instances, an alert in one service, regexes
/// over instance ranges (filed under no equality, so checked for every alert) and noisy
/// alerts in one cluster.
pub fn silences() -> Vec<Vec<M>> {
    let mut out = Vec::new();
    for k in 0..20 {
        out.push(vec![eq(
            "instance",
            format!("host-{:05}:9100", k * 997 % INSTANCES),
        )]);
    }
    for k in 0..10 {
        out.push(vec![
            eq("alertname", alert_name(k * 7 % NAMES)),
            eq("service", format!("svc-{:03}", k * 13 % SERVICES)),
        ]);
    }
    for k in 0..10 {
        out.push(vec![re(
            "instance",
            format!("host-0{:03}[0-9]:9100", 100 + k * 37),
        )]);
    }
    for k in 0..5 {
        out.push(vec![
            re("alertname", format!("{}.*", NAME_BASES[k * 2 + 1])),
            eq("cluster", format!("eu-{}", k % CLUSTERS)),
            eq("level", "non-critical"),
        ]);
    }
    for k in 0..5 {
        out.push(vec![
            eq("alertname", alert_name(k * 11 % NAMES)),
            re("service", format!("svc-0{}[0-9]", k + 3)),
        ]);
    }
    out
}

/// One inhibition rule.
pub struct InhibitSpec {
    pub source: Vec<M>,
    pub target: Vec<M>,
    pub equal: Vec<&'static str>,
}

/// Ten inhibition rules, each with `equal`: a down instance mutes its other alerts, a critical
/// alert mutes the same alert's warnings, a lagging database mutes its service's backlog...
/// Every source requires `level="critical"`: every instance raises every alert name here, and
/// only the critical tenth of them stands for an instance that is really in trouble.
pub fn inhibit_rules() -> Vec<InhibitSpec> {
    let critical = || eq("level", "critical");
    let rule = |source: Vec<M>, target: Vec<M>, equal: &[&'static str]| InhibitSpec {
        source,
        target,
        equal: equal.to_vec(),
    };
    vec![
        rule(
            vec![eq("alertname", "InstanceDown"), critical()],
            vec![re("alertname", "High.*|Cpu.*|Memory.*")],
            &["instance"],
        ),
        rule(
            vec![eq("alertname", "InstanceDownCritical"), critical()],
            vec![eq("level", "non-critical")],
            &["instance"],
        ),
        rule(
            vec![re("alertname", ".*Critical"), critical()],
            vec![re("alertname", ".*Warning"), eq("level", "non-critical")],
            &["instance", "job"],
        ),
        rule(
            vec![re("alertname", "ReplicationLag.*"), critical()],
            vec![re("alertname", "QueueBacklog.*")],
            &["service"],
        ),
        rule(
            vec![eq("alertname", "DiskFullCritical"), critical()],
            vec![re("alertname", "DiskFull(Warning|Predicted)")],
            &["instance"],
        ),
        rule(
            vec![eq("alertname", "PodCrashLoopingSustained"), critical()],
            vec![re("alertname", "HighErrorRate.*")],
            &["service", "cluster"],
        ),
        rule(
            vec![eq("alertname", "HighErrorRateCritical"), critical()],
            vec![re("alertname", "HighLatency.*")],
            &["instance", "service"],
        ),
        rule(
            vec![eq("alertname", "MemoryPressureCritical"), critical()],
            vec![eq("alertname", "CpuThrottled")],
            &["instance"],
        ),
        rule(
            vec![eq("alertname", "CertExpiringCritical"), critical()],
            vec![re("alertname", "CertExpiring(Warning|Predicted)?")],
            &["instance"],
        ),
        rule(
            vec![eq("alertname", "QueueBacklogSustained"), critical()],
            vec![eq("alertname", "QueueBacklog"), eq("level", "non-critical")],
            &["cluster", "service"],
        ),
    ]
}
