//! Periscope's half: the pure [`Pipeline`] built from the workload's configuration (routes,
//! receivers, silences, inhibition rules, a maintenance window, service dependencies and an
//! escalation policy), fed on this thread, with no channel I/O (every delivery is reported
//! delivered at once, as the runner would after a successful call).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use model::Timestamp;
use model::time_period::TimePeriods;
use notify::channel::BoxFuture;
use notify::escalation::{EscalationPolicies, RawPolicy};
use notify::inhibit::{Inhibitor, RawInhibitRule};
use notify::maintenance::{MaintenanceWindows, RawWindow};
use notify::mute::{Dependencies, Muter as _};
use notify::oncall::{OnCall, RawPerson};
use notify::pipeline::{Counters, Pipeline, Receiver, Setup};
use notify::route::{RawRoute, RouteTree};
use notify::silence::NewSilence;
use notify::{Alert, Channel, Delivered, DeliveryError, Notification};

use crate::workload::{self, RouteSpec};
use crate::{alloc, thread_cpu};

/// Time between two ticks, as the runner would wake for a 5 s evaluation interval.
pub const TICK_MS: i64 = 5_000;
/// Simulated time phase 2's updates are spread over: two group flushes (`group_wait` 30 s,
/// then `group_interval` 5 min later).
pub const SPAN_MS: i64 = 10 * 60_000;

/// Flushes of every group within [`SPAN_MS`]: at `group_wait` (30 s), then every
/// `group_interval` (5 min).
pub const FLUSHES: i64 = (SPAN_MS - 30_000) / 300_000 + 1;

/// A channel the pure pipeline never calls: the bench reports every delivery's outcome.
struct Inert;

impl Channel for Inert {
    fn kind(&self) -> &'static str {
        "webhook"
    }
    fn deliver<'a>(
        &'a self,
        _: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async { Ok(Delivered::default()) })
    }
}

fn raw_route(spec: &RouteSpec, root: bool) -> RawRoute {
    let mut raw = RawRoute {
        receiver: Some(spec.receiver.clone()),
        matchers: spec.matchers.iter().map(workload::M::text).collect(),
        continue_matching: spec.continue_matching,
        routes: spec.children.iter().map(|c| raw_route(c, false)).collect(),
        ..RawRoute::default()
    };
    if root {
        raw.group_by = Some(workload::GROUP_BY.iter().map(|s| s.to_string()).collect());
        raw.group_wait = Some("30s".into());
        raw.group_interval = Some("5m".into());
        raw.repeat_interval = Some("4h".into());
    }
    raw
}

/// The pipeline's configuration, built as the binary builds it from `periscope.toml`.
pub fn setup(t0: Timestamp) -> Result<Setup, String> {
    let spec = workload::routes();
    let tree = RouteTree::build(&raw_route(&spec, true), &|_| true, &TimePeriods::default())
        .map_err(|e| format!("the bench's routes do not build: {e:?}"))?;
    let mut receivers: HashMap<String, Receiver> = workload::receivers(&spec)
        .into_iter()
        .map(|name| {
            let receiver = Receiver::new(name.clone(), vec![Arc::new(Inert) as Arc<dyn Channel>]);
            (name, receiver)
        })
        .collect();
    if let Some(pager) = receivers.get_mut("pager") {
        pager.escalation = Some("pager".into());
    }
    let people = BTreeMap::from([
        (
            "alice".to_string(),
            RawPerson {
                email: "alice@example.com".into(),
                ..RawPerson::default()
            },
        ),
        (
            "bob".to_string(),
            RawPerson {
                email: "bob@example.com".into(),
                ..RawPerson::default()
            },
        ),
    ]);
    let oncall = OnCall::build(&people, &BTreeMap::new())
        .map_err(|e| format!("the bench's people do not build: {e:?}"))?;
    let policy: RawPolicy = serde_json::from_value(serde_json::json!({
        "repeat": 1,
        "step": [{ "notify": ["person:alice"], "after": "15m" }, { "notify": ["person:bob"] }],
    }))
    .map_err(|e| format!("the bench's policy does not read: {e}"))?;
    let policies =
        EscalationPolicies::build(&BTreeMap::from([("pager".to_string(), policy)]), &oncall)
            .map_err(|e| format!("the bench's policy does not build: {e:?}"))?;
    let inhibit: Vec<RawInhibitRule> = workload::inhibit_rules()
        .iter()
        .map(|r| RawInhibitRule {
            source_matchers: r.source.iter().map(workload::M::text).collect(),
            target_matchers: r.target.iter().map(workload::M::text).collect(),
            equal: r.equal.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    let inhibitor =
        Inhibitor::build(&inhibit).map_err(|e| format!("the bench's inhibit rules: {e:?}"))?;
    // One database upgrade under way for the whole run: a window Alertmanager has no
    // equivalent of, so its alerts (one service, 1 %) are muted by Periscope only.
    let window = RawWindow {
        matchers: vec![r#"service="svc-042""#.into()],
        from: Some(t0.plus_millis(-3_600_000).to_string()),
        to: Some(t0.plus_millis(86_400_000).to_string()),
        comment: Some("database upgrade".into()),
        ..RawWindow::default()
    };
    let maintenance = MaintenanceWindows::build(&[window], &TimePeriods::default())
        .map_err(|e| format!("the bench's maintenance window: {e:?}"))?;
    let depends_on: BTreeMap<String, Vec<String>> = (1..10)
        .map(|k| (format!("svc-{:03}", k * 10), vec!["svc-000".to_string()]))
        .collect();
    let dependencies =
        Dependencies::build(&depends_on).map_err(|e| format!("the bench's dependencies: {e:?}"))?;
    Ok(Setup {
        tree: Arc::new(tree),
        receivers,
        inhibitor,
        maintenance,
        dependencies,
        oncall: Arc::new(oncall),
        policies: Arc::new(policies),
        external_url: "http://periscope.example".into(),
        ack_links: None,
        partners: Default::default(),
    })
}

/// A pipeline holding the workload's silences, active from `t0` for a day.
fn pipeline(t0: Timestamp) -> Result<Pipeline, String> {
    let mut p = Pipeline::new(setup(t0)?);
    for matchers in workload::silences() {
        let new = NewSilence {
            matchers: matchers.iter().map(workload::M::text).collect(),
            starts_at: t0,
            ends_at: t0.plus_millis(86_400_000),
            created_by: "bench".into(),
            comment: "maintenance".into(),
        };
        let id = p
            .silences_mut()
            .add(new, t0)
            .map_err(|e| format!("the bench's silence {matchers:?}: {e}"))?;
        p.save_silence(&id, t0);
    }
    p.take_writes();
    Ok(p)
}

/// What phase 1 measured.
pub struct Insert {
    /// Thread CPU time of the ingest loop.
    pub cpu: Duration,
    /// Bytes the pipeline holds for the alerts (live heap after minus before, as requested
    /// from the allocator: the allocator's own per-block overhead is not in it).
    pub bytes: i64,
    /// Of [`Insert::bytes`], what the alerts' own labels, annotations and link take, as the
    /// caller built them.
    pub alert_bytes: i64,
    /// Heap blocks held for the alerts.
    pub blocks: i64,
    /// Resident set size after the phase, in kB.
    pub rss_kb: u64,
    /// Groups formed.
    pub groups: usize,
    /// Alerts held across groups (an alert in two routes' groups counts twice).
    pub held: usize,
    /// Distinct alerts muted when the first flush is due: silenced, inhibited (and not
    /// silenced), in the maintenance window, muted by a dependency (counted untimed).
    pub muted: [usize; 4],
}

/// What phase 2 measured.
pub struct Update {
    /// Thread CPU time of the updates, ticks and delivery outcomes.
    pub cpu: Duration,
    /// Thread CPU time of the ticks and delivery outcomes alone.
    pub tick_cpu: Duration,
    /// Ticks run.
    pub ticks: usize,
    /// Deliveries handed out (and reported delivered).
    pub deliveries: usize,
    /// State-database writes queued.
    pub writes: usize,
    /// The pipeline's counters at the end.
    pub counters: Counters,
}

/// Distinct alerts muted at `at`, by reason (see [`Insert::muted`]); each muter asked on its
/// own, except that inhibition counts only alerts no silence mutes (as Alertmanager's API
/// shows an alert `silencedBy` and `inhibitedBy`).
fn census(p: &Pipeline, at: Timestamp) -> [usize; 4] {
    let mut seen = HashSet::new();
    let mut out = [0; 4];
    let setup = p.setup();
    for (_, group) in p.dispatcher().groups() {
        for alert in group.alerts() {
            if !seen.insert(alert.fingerprint) {
                continue;
            }
            let silenced = p.silences().mute(alert, at).is_some();
            out[0] += usize::from(silenced);
            out[1] += usize::from(!silenced && setup.inhibitor.mute(alert, at).is_some());
            out[2] += usize::from(setup.maintenance.mute(alert, at).is_some());
            out[3] += usize::from(setup.dependencies.mute(alert, at).is_some());
        }
    }
    out
}

/// One run: a fresh pipeline, phase 1 then phase 2, `n` alerts.
pub fn run(n: usize, t0: Timestamp) -> Result<(Insert, Update), String> {
    let mut p = pipeline(t0)?;
    let (bytes_before, blocks_before) = alloc::live();
    let alerts: Vec<Alert> = (0..n).map(|i| workload::alert(i, 0, t0, t0)).collect();
    let own = alloc::live().0 - bytes_before - (n * std::mem::size_of::<Alert>()) as i64;
    let start = thread_cpu();
    for alert in alerts {
        p.ingest(alert, t0);
    }
    let cpu = thread_cpu() - start;
    let (bytes_after, blocks_after) = alloc::live();
    let insert = Insert {
        cpu,
        bytes: bytes_after - bytes_before,
        alert_bytes: own,
        blocks: blocks_after - blocks_before,
        rss_kb: crate::rss_kb(std::process::id()).unwrap_or(0),
        groups: p.dispatcher().groups().count(),
        held: p.dispatcher().alert_count(),
        muted: census(&p, t0.plus_millis(30_000)),
    };

    let ticks = (SPAN_MS / TICK_MS) as usize;
    let order: Vec<usize> = workload::update_order(n).collect();
    let mut slots: Vec<Vec<Alert>> = (0..ticks)
        .map(|_| Vec::with_capacity(n / ticks + 1))
        .collect();
    for (k, &i) in order.iter().enumerate() {
        let slot = k * ticks / n.max(1);
        let now = t0.plus_millis((slot as i64 + 1) * TICK_MS);
        slots[slot].push(workload::alert(i, 1, t0, now));
    }
    drop(order);
    let mut update = Update {
        cpu: Duration::ZERO,
        tick_cpu: Duration::ZERO,
        ticks,
        deliveries: 0,
        writes: 0,
        counters: Counters::default(),
    };
    let start = thread_cpu();
    for (slot, updates) in slots.into_iter().enumerate() {
        let now = t0.plus_millis((slot as i64 + 1) * TICK_MS);
        for alert in updates {
            p.ingest(alert, now);
        }
        let tick_start = thread_cpu();
        let out = p.tick(now);
        update.deliveries += out.len();
        for d in &out {
            p.finished(
                &d.entry.integration,
                &d.entry.group_key,
                Ok(Delivered::default()),
                now,
            );
        }
        update.writes += p.take_writes().len();
        update.tick_cpu += thread_cpu() - tick_start;
    }
    update.cpu = thread_cpu() - start;
    update.counters = p.counters();
    Ok((insert, update))
}
