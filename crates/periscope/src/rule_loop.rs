//! Rule evaluation: the configured rule groups, their alert state in the state database, and
//! the loop `serve` runs (one task per group, each at its own interval).
//!
//! Periscope's own rules (`[rule.NAME]`) run in groups of their own, one per evaluation
//! interval: `periscope` for the rules at `[rules] interval`, `periscope-every-30s` and so on
//! for the others (see [`build_groups`]). Dependencies may cross groups: every task publishes
//! which rules fire after each evaluation, and the others read that when they evaluate.
//!
//! One evaluation of a group is: evaluate over the store at `now` from the clock, append what
//! it produced (recorded series, `ALERTS`, `ALERTS_FOR_STATE`) through the store's appender,
//! save the changed alert records and their transitions to the state database in one batch,
//! log the transitions, and publish the group's state for `/api/v1/rules` and `/api/v1/alerts`.
//!
//! Alert records are saved under their group, so rules of the same name in two groups keep
//! their own alerts across a restart (`restore.rs`). The series Periscope's rules last found,
//! which drive their "no data" alerts, are saved as documents beside them (`seen.rs`). At start
//! and every hour the pending and firing alerts of rules no longer configured (and the old
//! group's copy of an alert whose rule moved into a group holding its own) are closed as
//! resolved (`removed.rs`) and the old state is pruned (`prune.rs`).
//!
//! Failure is contained: a rule that fails is a health problem of that rule and the group
//! goes on; a state database that is down keeps the unsaved changes in memory and tries again
//! at the next evaluation (the in-memory records stay authoritative meanwhile); nothing here
//! ends the process.

mod once;
mod persist;
pub mod prune;
mod removed;
mod restore;
mod seen;
mod views;
mod wake;

pub use wake::Wakes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use model::alert::{AlertKey, AlertStateStore, DocumentStore, Transition};
use model::{Clock, Querier, Storage, Timestamp};
use rules::group::{Group, GroupOptions, GroupOutcome};
use rules::native::NativeRule;
use rules::promql::EngineOptions;
use rules::rulefile::{AlertingRule, Rule, RuleGroup};
use tokio::sync::watch;
use web::prom_api::RuleGroupView;

use crate::config::RulesConfig;
use crate::notify_wire::AlertSink;
pub use once::evaluate_once;
pub use persist::{Pending, append_samples};
pub use restore::restore;
pub use views::{RulesSnapshot, all_alerts, firing_alerts};

/// A configured group: its definition (for the API's view) and its runtime state.
pub struct LoadedGroup {
    /// The rule file it came from.
    pub file: String,
    /// The group as the file defines it.
    pub def: RuleGroup,
    /// The runtime group.
    pub group: Group,
    /// Alerts restored from rows saved under another group (the rule moved here), with that
    /// group: the old rows are deleted once the state database is written.
    superseded: Vec<(String, AlertKey)>,
    /// Rows of other groups this group did not restore because it restored its own record of
    /// the same alert instead (the rule moved here), with their group: the prune closes them.
    left_behind: Vec<(String, AlertKey)>,
}

/// The group name of the config's own rules at the default interval.
pub const NATIVE_GROUP: &str = "periscope";
/// What `LoadedGroup::file` says for the config's own rules.
pub const NATIVE_FILE: &str = "[rule.*] in the config";

/// Builds every group of the active rule files, then the groups of the config's own rules.
/// Files that loaded with the config always build; an error names the group and rule.
pub fn build_groups(config: &RulesConfig) -> Result<Vec<LoadedGroup>, String> {
    let options = GroupOptions {
        default_interval: config.interval,
        // A subquery without a step steps at the evaluation interval, as in Prometheus.
        engine: EngineOptions {
            default_subquery_step_ms: i64::try_from(config.interval.as_millis())
                .unwrap_or(i64::MAX),
            ..EngineOptions::default()
        },
        ..GroupOptions::default()
    };
    let mut groups = Vec::new();
    for file in config.active() {
        for def in &file.groups {
            let mut group =
                Group::new(def, &options).map_err(|e| format!("rule file {}: {e}", file.name))?;
            // A rule that stops evaluating must not go quiet (issue 4, item 7): unlike
            // Prometheus, a broken rule from a rule file raises PeriscopeRuleFailing too.
            group.enable_meta_alerts();
            groups.push(LoadedGroup {
                file: file.name.clone(),
                def: def.clone(),
                group,
                superseded: Vec::new(),
                left_behind: Vec::new(),
            });
        }
    }
    let mut by_interval: BTreeMap<Duration, Vec<NativeRule>> = BTreeMap::new();
    for rule in config.active_native() {
        let interval = rule.interval.unwrap_or(config.interval);
        by_interval.entry(interval).or_default().push(rule.clone());
    }
    for (interval, native) in by_interval {
        let name = if interval == config.interval {
            NATIVE_GROUP.to_string()
        } else {
            format!(
                "{NATIVE_GROUP}-every-{}",
                jiff::SignedDuration::try_from(interval)
                    .map(|d| format!("{d:#}"))
                    .unwrap_or_default()
            )
        };
        let group = Group::native(&name, interval, &native, &options).map_err(|e| e.to_string())?;
        let def = native_def(&name, interval, &group, &native);
        groups.push(LoadedGroup {
            file: NATIVE_FILE.to_string(),
            def,
            group,
            superseded: Vec::new(),
            left_behind: Vec::new(),
        });
    }
    Ok(groups)
}

/// The config's own rules as a rule group definition, in the group's evaluation order, so
/// `/api/v1/rules` shows them (with the PromQL they compiled to) as it shows any rule.
fn native_def(name: &str, interval: Duration, group: &Group, native: &[NativeRule]) -> RuleGroup {
    let rules = group
        .rules()
        .filter_map(|view| native.iter().find(|r| r.name == view.name))
        .map(|r| {
            Rule::Alerting(AlertingRule {
                name: r.name.clone(),
                expr: r.query_text(),
                for_duration: Duration::from_millis(u64::try_from(r.policy.for_ms).unwrap_or(0)),
                keep_firing_for: Duration::from_millis(
                    u64::try_from(r.policy.keep_firing_for_ms).unwrap_or(0),
                ),
                labels: r.labels.clone(),
                annotations: r.annotations.clone(),
                line: 0,
            })
        })
        .collect();
    RuleGroup {
        name: name.to_string(),
        interval: Some(interval),
        query_offset: None,
        limit: 0,
        labels: BTreeMap::new(),
        rules,
        line: 0,
    }
}

/// The names of the rules with a firing alert, over every group: what `depends_on` reads.
pub fn firing_rules(groups: &[LoadedGroup]) -> BTreeSet<String> {
    groups
        .iter()
        .flat_map(|g| g.group.rules())
        .filter(|r| {
            r.alerts
                .iter()
                .any(|a| a.phase == model::alert::AlertPhase::Firing)
        })
        .map(|r| r.name.to_string())
        .collect()
}

/// Gives the groups what the state database remembers besides alert records (the series
/// Periscope's rules last found) and, when `write`, tidies it: rows and documents a moved rule
/// left under its old group, and documents of rules that are gone. Failures are logged: the
/// rules then start with what they have.
pub async fn restore_memory(
    groups: &mut [LoadedGroup],
    state: &dyn AlertStateStore,
    documents: Option<&dyn DocumentStore>,
    now: Timestamp,
    write: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if write {
        for batch in restore::superseded(groups) {
            if let Err(e) = state.save(&batch).await {
                problems.push(format!(
                    "alert records of group {} not moved to their new group: {e}; tried again \
                     at the next start",
                    batch.group.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    let Some(documents) = documents else {
        return problems;
    };
    match documents.load_documents(seen::SEEN_KIND).await {
        Ok(found) => {
            let restored = seen::restore(groups, found, now);
            problems.extend(restored.problems);
            if write
                && !restored.tidy.is_empty()
                && let Err(e) = documents.write_documents(&restored.tidy).await
            {
                problems.push(format!("series seen by removed rules not deleted: {e}"));
            }
            tracing::debug!(
                series = restored.series,
                "series seen by the rules restored"
            );
        }
        Err(e) => problems.push(format!(
            "series seen by the rules not read: {e}; series that stopped arriving before this \
             start do not fire no data"
        )),
    }
    problems
}

/// Logs one transition the way operators grep for it.
pub fn log_transition(group: &str, t: &Transition) {
    tracing::info!(
        group,
        alertname = %t.key.rule,
        alert = %t.key,
        from = %t.from,
        to = %t.to,
        change = t.change.as_str(),
        notify = t.notify,
        "alert changed"
    );
}

/// Logs each failing rule of an outcome.
fn log_health(group: &str, outcome: &GroupOutcome) {
    for (rule, error) in outcome.errors() {
        tracing::warn!(group, rule, %error, "rule evaluation failed");
    }
}

/// What the evaluation tasks share.
struct Shared {
    storage: Arc<dyn Storage>,
    state: Arc<dyn AlertStateStore>,
    clock: Arc<dyn Clock>,
    snapshot: RulesSnapshot,
    /// Which rules fire, by group slot, for `depends_on` across groups.
    firing: RwLock<Vec<BTreeSet<String>>>,
    /// Where notifiable transitions go, when the response side runs.
    alerts: Option<AlertSink>,
}

/// What the rule loop shows and tells, and what wakes it, besides the store and the state
/// database it works on.
pub struct Links {
    /// The groups as the query API shows them.
    pub snapshot: RulesSnapshot,
    /// Where alert transitions go to be notified.
    pub alerts: Option<AlertSink>,
    /// Rings a group after a check it reads.
    pub wakes: Arc<Wakes>,
}

/// With no rule configured at all the loop does not run, so nothing else would close the
/// alerts that rules removed since the last start left pending or firing: closes them all once
/// among `records` (just loaded from `state`; see `removed.rs`), telling `alerts` of the
/// resolutions. Returns how many were closed.
pub async fn close_alerts_of_removed_rules(
    state: &dyn AlertStateStore,
    records: &[model::alert::AlertRecord],
    alerts: Option<&AlertSink>,
    now: Timestamp,
) -> Result<usize, model::alert::StateStoreError> {
    let none = restore::RuleIndex::of(&[]);
    removed::close_removed_among(state, &none, records, alerts, now).await
}

/// Gives the groups their remembered series and tidies the state database
/// ([`restore_memory`]), then starts one task per group and the hourly prune; they stop when
/// `stopped` turns true, the groups after a last attempt to save what the state database has
/// not taken yet. The returned task ends when all have.
pub fn start(
    groups: Vec<LoadedGroup>,
    storage: Arc<dyn Storage>,
    state: Arc<dyn AlertStateStore>,
    clock: Arc<dyn Clock>,
    links: Links,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let Links {
        snapshot,
        alerts,
        wakes,
    } = links;
    {
        let mut views = snapshot.write().unwrap_or_else(|e| e.into_inner());
        *views = groups.iter().map(views::group_view).collect();
    }
    let shared = Arc::new(Shared {
        storage,
        state,
        clock,
        snapshot,
        firing: RwLock::new(vec![BTreeSet::new(); groups.len()]),
        alerts,
    });
    tokio::spawn(async move {
        let mut groups = groups;
        let state = shared.state.as_ref();
        let now = shared.clock.now();
        for problem in restore_memory(&mut groups, state, state.documents(), now, true).await {
            tracing::warn!("{problem}");
        }
        // Taken before the groups go to their tasks: the prune closes the alerts of the rules
        // that are not among them.
        let keeper = prune::Keeper {
            state: Arc::clone(&shared.state),
            rules: restore::RuleIndex::of(&groups),
            alerts: shared.alerts.clone(),
        };
        let mut tasks: Vec<_> = groups
            .into_iter()
            .enumerate()
            .map(|(slot, g)| {
                let bell = wakes.bell(slot);
                tokio::spawn(run_group(
                    g,
                    slot,
                    Arc::clone(&shared),
                    bell,
                    stopped.clone(),
                ))
            })
            .collect();
        tasks.push(tokio::spawn(prune::run(
            keeper,
            Arc::clone(&shared.clock),
            prune::PRUNE_EVERY,
            stopped.clone(),
        )));
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "rule task lost");
            }
        }
    })
}

/// Evaluates one group every interval, and at once when `bell` rings (a check it reads was
/// stored, see [`Wakes`]), until stopped.
async fn run_group(
    mut loaded: LoadedGroup,
    slot: usize,
    shared: Arc<Shared>,
    bell: Arc<tokio::sync::Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    let name = loaded.def.name.clone();
    let mut ticks = tokio::time::interval(loaded.group.interval().max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = Pending::new(&name);
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            _ = ticks.tick() => {}
            _ = bell.notified() => {
                // The next interval evaluation counts from this one.
                ticks.reset();
            }
        }
        let now = shared.clock.now();
        let storage = Arc::clone(&shared.storage);
        let elsewhere: BTreeSet<String> = {
            let firing = shared.firing.read().unwrap_or_else(|e| e.into_inner());
            firing.iter().flatten().cloned().collect()
        };
        // Evaluation is CPU and store reads: off the async threads, the group moving along.
        let evaluated = tokio::task::spawn_blocking(move || {
            let querier: &dyn Querier = storage.as_ref();
            let outcome = loaded
                .group
                .evaluate_with(querier, now.0, &|rule| elsewhere.contains(rule));
            (loaded, outcome)
        })
        .await;
        let outcome;
        (loaded, outcome) = match evaluated {
            Ok(done) => done,
            Err(e) => {
                // The group is gone with the task; the others go on.
                tracing::error!(group = %name, error = %e, "rule group evaluation panicked; group stopped");
                return;
            }
        };
        log_health(&name, &outcome);
        match append_samples(shared.storage.as_ref(), &outcome.samples).await {
            Ok(refused) if refused > 0 => {
                tracing::debug!(group = %name, refused, "rule output samples refused by the store")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(group = %name, error = %e, "rule output not stored"),
        }
        let mut steps = Vec::new();
        for rule in outcome.rules {
            if let Some(change) = rule.seen {
                pending.add_seen(&rule.name, change, now);
            }
            steps.extend(rule.alerts);
        }
        for step in &steps {
            for t in &step.transitions {
                log_transition(&name, t);
            }
            if let Some(sink) = &shared.alerts {
                sink.transitions(&step.transitions, &step.records);
            }
        }
        pending.add(steps);
        // A failure is logged inside and retried at the next evaluation.
        let _ = pending.save(shared.state.as_ref()).await;
        {
            let mut firing = shared.firing.write().unwrap_or_else(|e| e.into_inner());
            if let Some(f) = firing.get_mut(slot) {
                *f = firing_rules(std::slice::from_ref(&loaded));
            }
        }
        let view = views::group_view(&loaded);
        let mut views = shared.snapshot.write().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = views.get_mut(slot) {
            *v = view;
        }
    }
    if !pending.is_empty() {
        let _ = pending.save(shared.state.as_ref()).await;
        if !pending.is_empty() {
            tracing::error!(group = %name, "alert state changes not saved at stop; the next start re-evaluates from the last saved state");
        }
    }
}

/// A fresh, empty snapshot for the query API.
pub fn new_snapshot() -> RulesSnapshot {
    Arc::new(RwLock::new(Vec::<RuleGroupView>::new()))
}
