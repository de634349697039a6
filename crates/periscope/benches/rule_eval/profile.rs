//! Where a pass's time goes: the rules' expressions timed in layers on this thread, each layer
//! over every rule once, so that the differences show the store's selects, the evaluator and
//! the group's own work (alert state, templates, staleness, output labels).

use std::time::Duration;

use model::{Matcher, Querier as _, TimeRange, Timestamp};
use rules::promql::{self, Engine, EngineOptions, PreparedExpr};
use store::Store;

use crate::periscope::CpuTimer;
use crate::workload::Parts;

/// CPU time of each layer over all rules, split by rule shape (threshold, rate).
#[derive(Default)]
pub struct Profile {
    /// `Store::select` of each rule's series over its lookback or range.
    pub select: [Duration; 2],
    /// The evaluator on the expression without its comparison (prepared, as a group prepares
    /// its rules' expressions).
    pub inner: [Duration; 2],
    /// The evaluator on the whole expression (prepared).
    pub expr: [Duration; 2],
    /// Rules of each shape.
    pub rules: [usize; 2],
}

/// Index of a rule's shape in the arrays of [`Profile`].
fn shape(p: &Parts) -> usize {
    usize::from(!p.threshold)
}

/// Times every layer over `parts` at `t`; `Err` when an expression does not parse or
/// evaluate (the generated rules always should).
pub fn run(store: &Store, parts: &[Parts], t: i64) -> Result<Profile, String> {
    let mut profile = Profile::default();
    let engine = Engine::new(EngineOptions::default());
    let parsed: Vec<(Vec<Matcher>, PreparedExpr, PreparedExpr)> = parts
        .iter()
        .map(|p| {
            let matchers = p
                .selector
                .iter()
                .map(|(k, v)| Matcher::equal(*k, v.as_str()))
                .collect();
            let parse = |text: &str| {
                promql::parse(text)
                    .map(PreparedExpr::new)
                    .map_err(|e| format!("{text}: {e}"))
            };
            Ok((matchers, parse(&p.inner)?, parse(&p.expr)?))
        })
        .collect::<Result<_, String>>()?;
    // The clock is read once per layer and shape: reading it costs system calls, about as
    // long as one rule.
    for s in 0..2 {
        let rules = || {
            parts
                .iter()
                .zip(&parsed)
                .filter(move |(p, _)| shape(p) == s)
        };
        profile.rules[s] = rules().count();
        let cpu = CpuTimer::start();
        for (p, (matchers, ..)) in rules() {
            let range = TimeRange::new(Timestamp(t - p.range_ms), Timestamp(t));
            let series = store
                .select(matchers, range)
                .map_err(|e| format!("select {:?}: {e}", p.selector))?;
            std::hint::black_box(series);
        }
        profile.select[s] = cpu.stop();
        let cpu = CpuTimer::start();
        for (p, (_, inner, _)) in rules() {
            let value = engine
                .instant_prepared(store, inner, t)
                .map_err(|e| format!("{}: {e}", p.inner))?;
            std::hint::black_box(value);
        }
        profile.inner[s] = cpu.stop();
        let cpu = CpuTimer::start();
        for (p, (_, _, expr)) in rules() {
            let value = engine
                .instant_prepared(store, expr, t)
                .map_err(|e| format!("{}: {e}", p.expr))?;
            std::hint::black_box(value);
        }
        profile.expr[s] = cpu.stop();
    }
    Ok(profile)
}
