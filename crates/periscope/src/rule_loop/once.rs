//! One evaluation of every rule group, for `run --mode alerts`: the firing alerts, with the
//! state database's records so `for` counts across runs.
//!
//! When no `serve` holds the metric store, this run is the only evaluator: it opens the store
//! to write, appends what the rules produced and saves the new alert state, so a scheduler
//! running `--mode alerts` every few minutes gets pending and firing right. When `serve` holds
//! the store, its state is the live one: this run reads a view of the store and the stored
//! records, evaluates, and writes nothing.

use std::sync::Arc;

use model::alert::{AlertRecord, AlertStateStore};
use model::{Clock, Querier, Timestamp};

use super::{
    LoadedGroup, Pending, append_samples, build_groups, firing_alerts, restore, restore_memory,
};
use crate::config::Config;
use crate::wire;

/// What one evaluation found.
#[derive(Default)]
pub struct Evaluated {
    /// The alerts firing after it.
    pub firing: Vec<AlertRecord>,
    /// What the user should know (e.g. that `serve` owns the state).
    pub notes: Vec<String>,
    /// What went wrong: a rule that failed, a database that could not be read or written.
    pub problems: Vec<String>,
}

/// Evaluates every active rule group once at the clock's now.
pub async fn evaluate_once(config: &Config, clock: Arc<dyn Clock>) -> Evaluated {
    let mut out = Evaluated::default();
    let mut groups = match build_groups(&config.rules) {
        Ok(g) => g,
        Err(e) => {
            out.problems.push(e);
            return out;
        }
    };
    let Some(store_config) = &config.store else {
        return out;
    };
    if groups.is_empty() {
        return out;
    }
    let state = match wire::open_state_db(&config.state_db).await {
        Ok(db) => match db.load().await {
            Ok(records) => {
                restore(&mut groups, records);
                Some(db)
            }
            Err(e) => {
                out.problems.push(format!(
                    "alert state not read from {}: {e}; alerts with `for` start over",
                    config.state_db.shown
                ));
                None
            }
        },
        Err(e) => {
            out.problems
                .push(format!("{e}; alerts with `for` start over"));
            None
        }
    };
    let now = clock.now();
    match wire::open_store(store_config, Arc::clone(&clock)) {
        Ok(store) => {
            if let Some(db) = &state {
                let db: &dyn AlertStateStore = db.as_ref();
                let problems = restore_memory(&mut groups, db, db.documents(), now, true).await;
                out.problems.extend(problems);
            }
            let steps = evaluate(&mut groups, &store, now, &mut out);
            for samples in &steps.samples {
                if let Err(e) = append_samples(&store, samples).await {
                    out.problems.push(format!("rule output not stored: {e}"));
                }
            }
            if let Err(e) = store.close() {
                out.problems
                    .push(format!("metric store not closed cleanly: {e}"));
            }
            if let Some(db) = &state {
                for pending in steps.pending {
                    save(db.as_ref(), pending, &config.state_db.shown, &mut out).await;
                }
            }
        }
        Err(store::OpenError::Locked { .. }) => {
            match store::Store::open_read_only(&store_config.dir, Arc::clone(&clock)) {
                Ok(view) => {
                    if let Some(db) = &state {
                        let db: &dyn AlertStateStore = db.as_ref();
                        let problems =
                            restore_memory(&mut groups, db, db.documents(), now, false).await;
                        out.problems.extend(problems);
                    }
                    evaluate(&mut groups, &view, now, &mut out);
                    out.notes.push(
                        "`periscope serve` holds the metric store and owns alert state: rules \
                         were evaluated over its data, and nothing was written"
                            .to_string(),
                    );
                }
                Err(e) => out.problems.push(format!(
                    "rules not evaluated: cannot read the metric store: {e}"
                )),
            }
        }
        Err(e) => out.problems.push(format!(
            "rules not evaluated: cannot open the metric store: {e}"
        )),
    }
    out.firing = firing_alerts(&groups);
    out
}

/// What the groups produced, for the writing path.
struct Steps {
    samples: Vec<Vec<rules::group::OutputSample>>,
    /// One per group: each group's records are saved under its name.
    pending: Vec<Pending>,
}

fn evaluate(
    groups: &mut [LoadedGroup],
    querier: &dyn Querier,
    now: Timestamp,
    out: &mut Evaluated,
) -> Steps {
    let mut steps = Steps {
        samples: Vec::new(),
        pending: Vec::new(),
    };
    for i in 0..groups.len() {
        let firing = super::firing_rules(&groups[..i]);
        let loaded = &mut groups[i];
        let outcome = loaded
            .group
            .evaluate_with(querier, now.0, &|rule| firing.contains(rule));
        for (rule, error) in outcome.errors() {
            out.problems.push(format!(
                "rule {rule} of group {} ({}) failed: {error}",
                loaded.def.name, loaded.file
            ));
        }
        let mut pending = Pending::new(&loaded.def.name);
        let mut group_steps = Vec::new();
        for rule in outcome.rules {
            if let Some(change) = rule.seen {
                pending.add_seen(&rule.name, change, now);
            }
            group_steps.extend(rule.alerts);
        }
        for step in &group_steps {
            for t in &step.transitions {
                super::log_transition(&loaded.def.name, t);
            }
        }
        pending.add(group_steps);
        steps.pending.push(pending);
        steps.samples.push(outcome.samples);
    }
    steps
}

async fn save(db: &dyn AlertStateStore, mut pending: Pending, shown: &str, out: &mut Evaluated) {
    if let Err(e) = pending.save(db).await {
        out.problems
            .push(format!("alert state not saved to {shown}: {e}"));
    }
}
