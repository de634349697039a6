//! Executing parsed commands: loading series, and judging each `eval` the way Prometheus'
//! runner does (the query itself, its `@`-pinned variants, and an instant query's range mode).

use std::time::{Duration, SystemTime};

use model::{Labels, METRIC_NAME_LABEL};
use promql_parser::parser::{AtModifier, VectorSelector};

use super::compare::{check_sorted, compare, compare_vector};
use super::querier::MemoryQuerier;
use super::script::{Command, EvalCmd, Load};
use super::series::SeqValue;
use super::{CaseReport, Evaluator, Outcome, SkipReason};
use crate::promql::selectors::visit_selectors;
use crate::promql::{self, Annotations, DurationContext, Expr, InstantSample, Value};

/// Functions that answer with the query's own start, end, range or step.
const QUERY_CONTEXT_FUNCTIONS: [&str; 4] = ["start", "end", "range", "step"];

/// Functions whose result changes with the evaluation time even when their arguments do not:
/// pinning selectors with `@` does not make such a query step invariant (Prometheus' list).
const AT_UNSAFE_FUNCTIONS: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// Runs the commands in order and reports every `eval`.
pub(crate) fn run(evaluator: &dyn Evaluator, commands: &[Command]) -> Vec<CaseReport> {
    let mut querier = MemoryQuerier::new();
    let mut ignoring = false;
    let mut cases = Vec::new();
    for command in commands {
        match command {
            Command::Ignore => ignoring = true,
            Command::Resume => ignoring = false,
            _ if ignoring => {
                if let Command::Eval(cmd) = command {
                    cases.push(report(cmd, Outcome::Skipped(SkipReason::Ignored)));
                }
            }
            Command::Clear => querier.clear(),
            Command::Load(load) => apply_load(&mut querier, load),
            Command::Eval(cmd) => {
                let outcome = Case {
                    evaluator,
                    querier: &querier,
                    cmd,
                }
                .judge();
                cases.push(report(cmd, outcome));
            }
        }
    }
    cases
}

fn report(cmd: &EvalCmd, outcome: Outcome) -> CaseReport {
    CaseReport {
        line: cmd.line,
        expr: cmd.expr.clone(),
        outcome,
    }
}

fn apply_load(querier: &mut MemoryQuerier, load: &Load) {
    for (labels, values) in &load.series {
        let mut has_floats = false;
        for (i, v) in values.iter().enumerate() {
            let t = i as i64 * load.step_ms;
            match v {
                SeqValue::Float(v) => {
                    querier.add_sample(labels, t, *v);
                    has_floats = true;
                }
                SeqValue::Histogram => querier.mark_histogram_series(labels),
                SeqValue::Omitted => {}
            }
        }
        if load.with_nhcb
            && has_floats
            && let Some(base) = nhcb_series(labels)
        {
            querier.mark_histogram_series(&base);
        }
    }
    for (labels, offsets) in &load.start_times {
        for (i, offset) in offsets.iter().enumerate() {
            if let Some(offset) = offset {
                let t = i as i64 * load.step_ms;
                querier.set_start_time(labels, t, t + offset);
            }
        }
    }
}

/// The native histogram series `load_with_nhcb` derives from a classic histogram series
/// (`x_bucket{le=...}`, `x_count`, `x_sum` -> `x` without `le`).
fn nhcb_series(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = if let Some(base) = name.strip_suffix("_bucket") {
        let le: f64 = labels.get("le")?.parse().ok()?;
        if le.is_nan() {
            return None;
        }
        base
    } else {
        name.strip_suffix("_count")
            .or_else(|| name.strip_suffix("_sum"))?
    };
    let mut out = labels.clone();
    out.remove("le");
    out.set(METRIC_NAME_LABEL, base);
    Some(out)
}

/// One `eval` being judged.
struct Case<'a> {
    evaluator: &'a dyn Evaluator,
    querier: &'a MemoryQuerier,
    cmd: &'a EvalCmd,
}

impl Case<'_> {
    fn judge(&self) -> Outcome {
        if self.cmd.expects_histograms() {
            return Outcome::Skipped(SkipReason::NativeHistograms);
        }
        let context = if self.cmd.is_range {
            DurationContext::range_query(self.cmd.start, self.cmd.end, self.cmd.step)
        } else {
            DurationContext::INSTANT
        };
        let expr = match promql::parse_for(&self.cmd.expr, context) {
            Ok(e) => e,
            Err(e) => return Outcome::Failed(one_line(&format!("does not parse: {e}"))),
        };
        if self.selects_histograms(&expr) {
            return Outcome::Skipped(SkipReason::NativeHistograms);
        }
        let result = if self.cmd.is_range {
            self.range_case(&expr)
        } else {
            self.instant_case(&expr)
        };
        match result {
            Ok(()) => Outcome::Passed,
            Err(reason) => Outcome::Failed(one_line(&reason)),
        }
    }

    /// True when a selector of `expr` matches a series that held native histogram samples.
    fn selects_histograms(&self, expr: &Expr) -> bool {
        let mut found = false;
        let querier = self.querier;
        visit_selectors(expr, &mut |vs| {
            found = found || querier.histogram_series().any(|l| selector_matches(vs, l));
        });
        found
    }

    fn range_case(&self, expr: &Expr) -> Result<(), String> {
        let cmd = self.cmd;
        let result =
            self.evaluator
                .range_annotated(self.querier, expr, cmd.start, cmd.end, cmd.step);
        let Some((value, annotations)) = self.outcome_of(result)? else {
            return Ok(());
        };
        compare(cmd, &value)?;
        self.check_annotations(&annotations, true)
    }

    fn instant_case(&self, expr: &Expr) -> Result<(), String> {
        let t = self.cmd.eval_at;
        self.instant_at(expr, t, true)
            .map_err(|e| format!("at {}: {e}", show_ms(t)))?;
        let Some(pinned) = pin_selectors(expr, t) else {
            return Ok(());
        };
        let times: &[i64] = if t == 0 {
            &[-1000, 0, 1000]
        } else {
            &[-10 * t, 0, t / 5, t, 10 * t]
        };
        for &at in times {
            // The pinned query's text is not the script's, so messages (with positions in the
            // script's text) are not compared, only whether annotations were given.
            self.instant_at(&pinned, at, false).map_err(|e| {
                format!(
                    "with selectors pinned @ {}, evaluated at {}: {e}",
                    show_ms(t),
                    show_ms(at)
                )
            })?;
        }
        Ok(())
    }

    /// Maps an evaluation's result onto what the case expects of failure: `Ok(None)` when it
    /// failed as it should, `Ok(Some(value))` when it succeeded as it should.
    fn outcome_of<T>(&self, result: Result<T, promql::EvalError>) -> Result<Option<T>, String> {
        match result {
            Err(e) if self.cmd.fail => {
                let message = e.to_string();
                match self.cmd.fail_matches.iter().find(|m| !m.matches(&message)) {
                    Some(m) => Err(format!("expected the error {m}, got: {message}")),
                    None => Ok(None),
                }
            }
            Err(e) => Err(format!("evaluation failed: {e}")),
            Ok(_) if self.cmd.fail => Err("expected the query to fail, it succeeded".into()),
            Ok(v) => Ok(Some(v)),
        }
    }

    /// Checks the annotations against `expect warn|info [msg|regex]` and `expect no_warn|no_info`.
    /// With `messages` false only their presence is checked.
    fn check_annotations(&self, annotations: &Annotations, messages: bool) -> Result<(), String> {
        let cmd = self.cmd;
        let kinds = [
            (
                "warning",
                annotations.warnings(&cmd.expr),
                cmd.warn,
                cmd.no_warn,
                &cmd.warn_matches,
            ),
            (
                "info",
                annotations.infos(&cmd.expr),
                cmd.info,
                cmd.no_info,
                &cmd.info_matches,
            ),
        ];
        for (kind, given, expected, forbidden, matches) in kinds {
            if expected && given.is_empty() {
                return Err(format!(
                    "the result matches, but a {kind} annotation was expected and none was given"
                ));
            }
            if forbidden && !given.is_empty() {
                return Err(format!("no {kind} was expected, got: {}", given.join("; ")));
            }
            if !messages {
                continue;
            }
            if let Some(m) = matches.iter().find(|m| !given.iter().any(|g| m.matches(g))) {
                return Err(format!("expected a {kind} {m}, got: {}", given.join("; ")));
            }
        }
        Ok(())
    }

    /// One instant evaluation with its checks, then (unless excluded) the same query as a range
    /// query from `t - 1m` to `t + 1m`, whose middle step must give the same result.
    fn instant_at(&self, expr: &Expr, t: i64, messages: bool) -> Result<(), String> {
        let cmd = self.cmd;
        let result = self.evaluator.instant_annotated(self.querier, expr, t);
        let Some((value, annotations)) = self.outcome_of(result)? else {
            return Ok(());
        };
        compare(cmd, &value)?;
        self.check_annotations(&annotations, messages)?;
        if cmd.exclude_from_range_mode || uses_query_context(&cmd.expr) {
            return Ok(());
        }
        const MINUTE: i64 = 60_000;
        let ranged = self
            .evaluator
            .range(self.querier, expr, t - MINUTE, t + MINUTE, MINUTE)
            .map_err(|e| format!("range mode: evaluation failed: {e}"))?;
        if cmd.ordered {
            // A range query's series are always in label order; nothing to compare.
            return Ok(());
        }
        let Value::Matrix(matrix) = ranged else {
            return Err("range mode: the range query did not return a matrix".into());
        };
        check_sorted(&matrix).map_err(|e| format!("range mode: {e}"))?;
        let vector: Vec<InstantSample> = matrix
            .iter()
            .filter_map(|s| {
                s.points.iter().find(|p| p.t == t).map(|p| InstantSample {
                    labels: s.labels.clone(),
                    t,
                    value: p.v,
                })
            })
            .collect();
        let checked = if let Value::Scalar { .. } = value {
            match vector.first() {
                Some(s) => compare(cmd, &Value::Scalar { t, v: s.value }),
                None => Err(format!("no point at {}", show_ms(t))),
            }
        } else {
            compare_vector(cmd, &vector)
        };
        checked.map_err(|e| format!("range mode: {e}"))
    }
}

/// `start()`, `end()`, `range()` and `step()` depend on the query's range, so Prometheus does
/// not compare such a query's instant and range results. Names are case-insensitive.
fn uses_query_context(expr: &str) -> bool {
    let lower = expr.to_ascii_lowercase();
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| lower.contains(f))
}

fn show_ms(t: i64) -> String {
    if t % 1000 == 0 {
        format!("{}s", t / 1000)
    } else {
        format!("{t}ms")
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when the selector would select `labels`.
fn selector_matches(vs: &VectorSelector, labels: &Labels) -> bool {
    let get = |n: &str| labels.get(n).unwrap_or("");
    if vs
        .name
        .as_deref()
        .is_some_and(|n| n != get(METRIC_NAME_LABEL))
    {
        return false;
    }
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(get(&m.name)));
    let m = &vs.matchers;
    if m.or_matchers.is_empty() {
        all(&m.matchers)
    } else {
        m.or_matchers.iter().any(|group| all(group))
    }
}

/// The query with every selector and subquery that has no `@` pinned `@ t`, or `None` when a
/// function makes the result depend on the evaluation time anyway (then Prometheus runs no
/// pinned variants). Selectors inside a subquery are left alone: the subquery is pinned.
fn pin_selectors(expr: &Expr, t: i64) -> Option<Expr> {
    let at = if t >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(t.unsigned_abs())
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_millis(t.unsigned_abs())
    };
    let at = AtModifier::At(at);
    let mut pinned = expr.clone();
    let mut time_dependent = false;
    pin(&mut pinned, &at, &mut time_dependent);
    (!time_dependent).then_some(pinned)
}

fn pin(expr: &mut Expr, at: &AtModifier, time_dependent: &mut bool) {
    match expr {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::MatrixSelector(ms) => {
            ms.vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::Subquery(s) => {
            s.at.get_or_insert_with(|| at.clone());
        }
        Expr::Call(c) => {
            // Our forecasts depend on the evaluation time as predict_linear does.
            *time_dependent |= AT_UNSAFE_FUNCTIONS.contains(&c.func.name)
                // start(), end(), range() and step() are the query's own times, never pinned.
                || QUERY_CONTEXT_FUNCTIONS.contains(&c.func.name)
                || crate::forecast::FUNCTION_NAMES.contains(&c.func.name);
            for a in &mut c.args.args {
                pin(a, at, time_dependent);
            }
        }
        Expr::Aggregate(a) => {
            pin(&mut a.expr, at, time_dependent);
            if let Some(p) = &mut a.param {
                pin(p, at, time_dependent);
            }
        }
        Expr::Unary(u) => pin(&mut u.expr, at, time_dependent),
        Expr::Binary(b) => {
            pin(&mut b.lhs, at, time_dependent);
            pin(&mut b.rhs, at, time_dependent);
        }
        Expr::Paren(p) => pin(&mut p.expr, at, time_dependent),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_adds_at_where_missing_and_gives_up_on_time_functions() {
        let e = promql::parse("sum(rate(a[5m])) + b @ 10 + max_over_time(c[1m:10s])").unwrap();
        let text = pin_selectors(&e, 60_000).unwrap().to_string();
        assert!(text.contains("a[5m] @ 60.000"), "{text}");
        assert!(text.contains("b @ 10.000"), "an existing @ stays: {text}");
        assert!(text.contains("c[1m:10s] @ 60.000"), "{text}");
        assert!(
            !text.contains("c @"),
            "inside a subquery nothing changes: {text}"
        );
        assert!(pin_selectors(&promql::parse("time() - a").unwrap(), 0).is_none());
    }

    #[test]
    fn classic_histograms_map_to_their_nhcb_series() {
        let l = Labels::new()
            .with("__name__", "rq_bucket")
            .with("le", "0.5")
            .with("j", "a");
        let base = nhcb_series(&l).unwrap();
        assert_eq!(base, Labels::new().with("__name__", "rq").with("j", "a"));
        assert!(nhcb_series(&Labels::new().with("__name__", "rq_total")).is_none());
    }
}
