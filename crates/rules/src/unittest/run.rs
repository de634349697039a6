//! Running one test group as promtool does: load the input series step by step, evaluate every
//! rule group at each evaluation interval from the start up to the last `eval_time`, compare
//! firing alerts at the evaluation that covers each alert test's `eval_time`, and finally run
//! the expression tests over everything the series and the rules wrote.

use std::collections::BTreeMap;
use std::time::Duration;

use model::Labels;

use super::file::{ExpectedSample, ExprTest, TestFile, TestGroup};
use super::show::{self, AlertLine, SampleLine};
use crate::group::{Group, GroupOptions};
use crate::promql::{self, Engine, EngineOptions, Value};
use crate::promqltest::{MemoryQuerier, SeqValue, parse_metric, parse_series};
use crate::rulefile::RuleGroup;

/// What a test group needs from its file.
pub(super) struct Context<'a> {
    /// The test file's name, for messages.
    pub name: &'a str,
    pub file: &'a TestFile,
    /// The rule groups in evaluation order.
    pub rule_groups: &'a [RuleGroup],
}

/// What one test group found: failures (each a complete message) and skipped cases.
#[derive(Default)]
pub(super) struct GroupReport {
    pub failures: Vec<String>,
    pub skipped: Vec<String>,
}

struct Run<'a> {
    ctx: &'a Context<'a>,
    tg: &'a TestGroup,
    report: GroupReport,
}

/// Runs one test group.
pub(super) fn run_group(ctx: &Context<'_>, tg: &TestGroup) -> GroupReport {
    let mut run = Run {
        ctx,
        tg,
        report: GroupReport::default(),
    };
    run.run();
    run.report
}

impl Run<'_> {
    /// `FILE:LINE: test group "NAME": ` before a message.
    fn place(&self, line: usize) -> String {
        let mut out = format!("{}:{line}: ", self.ctx.name);
        if !self.tg.name.is_empty() {
            out.push_str(&format!("test group {:?}: ", self.tg.name));
        }
        out
    }

    fn fail(&mut self, line: usize, message: impl AsRef<str>) {
        let text = format!("{}{}", self.place(line), message.as_ref());
        self.report.failures.push(text);
    }

    fn run(&mut self) {
        let tg = self.tg;
        if let Some(a) = tg.alert_tests.iter().find(|a| a.alertname.is_none()) {
            self.fail(
                a.line,
                format!(
                    "an alert_rule_test entry has no alertname (eval_time {})",
                    show::duration(a.eval_ms)
                ),
            );
            return;
        }
        let Some(mut pending) = self.input_samples() else {
            return;
        };
        let Some(mut groups) = self.build_groups() else {
            return;
        };
        let interval = self.ctx.file.evaluation_interval_ms;
        let mint = tg.start_ms;
        let max_eval = tg
            .alert_tests
            .iter()
            .map(|a| a.eval_ms)
            .chain(tg.expr_tests.iter().map(|e| e.eval_ms))
            .max()
            .unwrap_or(0);
        let maxt = mint.saturating_add(max_eval);
        let mut alert_times: Vec<i64> = tg.alert_tests.iter().map(|a| a.eval_ms).collect();
        alert_times.sort_unstable();
        alert_times.dedup();
        let mut next_alert_time = 0;

        let mut querier = MemoryQuerier::new();
        // Later samples first, so loading up to `ts` pops from the end.
        pending.sort_by_key(|s| std::cmp::Reverse(s.1));
        let mut ts = mint;
        while ts <= maxt {
            while pending.last().is_some_and(|s| s.1 <= ts) {
                if let Some((labels, t, v)) = pending.pop() {
                    querier.add_sample(&labels, t, v);
                }
            }
            let mut errors = Vec::new();
            for g in &mut groups {
                let outcome = g.evaluate(&querier, ts);
                for s in &outcome.samples {
                    querier.add_sample(&s.labels, s.t, s.value);
                }
                for (rule, message) in outcome.errors() {
                    errors.push(format!(
                        "rule {rule:?} of group {:?} failed at {}: {message}",
                        g.name(),
                        show::duration(ts - mint)
                    ));
                }
            }
            if !errors.is_empty() {
                // As promtool: evaluation errors end the test group.
                for e in errors {
                    self.fail(tg.line, e);
                }
                return;
            }
            while next_alert_time < alert_times.len()
                && ts - mint <= alert_times[next_alert_time]
                && alert_times[next_alert_time] < ts - mint + interval
            {
                self.check_alerts(&groups, alert_times[next_alert_time]);
                next_alert_time += 1;
            }
            match ts.checked_add(interval) {
                Some(next) => ts = next,
                None => break,
            }
        }
        for test in &tg.expr_tests {
            self.check_expr(&querier, test);
        }
    }

    /// Every input sample as (series, time, value); `None` after reporting a bad series.
    fn input_samples(&mut self) -> Option<Vec<(Labels, i64, f64)>> {
        let tg = self.tg;
        let mut samples = Vec::new();
        for s in &tg.input_series {
            let line = format!("{} {}", s.series, s.values);
            let (labels, values) = match parse_series(&line) {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.fail(s.line, format!("input series {:?}: {e}", s.series));
                    return None;
                }
            };
            let mut t = tg.start_ms;
            for v in values {
                if let SeqValue::Float(v) = v {
                    samples.push((labels.clone(), t, v));
                }
                t = t.saturating_add(tg.interval_ms);
            }
        }
        Some(samples)
    }

    /// The runtime groups, fresh for this test group (promtool loads the rules anew for each).
    fn build_groups(&mut self) -> Option<Vec<Group>> {
        let options = GroupOptions {
            default_interval: Duration::from_millis(
                u64::try_from(self.ctx.file.evaluation_interval_ms).unwrap_or(60_000),
            ),
            external_labels: self.tg.external_labels.clone(),
            external_url: self.tg.external_url.clone(),
            engine: self.engine_options(),
            ..GroupOptions::default()
        };
        let mut groups = Vec::with_capacity(self.ctx.rule_groups.len());
        for rg in self.ctx.rule_groups {
            // promtool evaluates every group at the test file's evaluation interval.
            let rg = RuleGroup {
                interval: None,
                ..rg.clone()
            };
            match Group::new(&rg, &options) {
                Ok(g) => groups.push(g),
                Err(e) => {
                    self.fail(self.tg.line, e.to_string());
                    return None;
                }
            }
        }
        Some(groups)
    }

    /// The evaluator's options: a subquery without a step steps at the file's
    /// `evaluation_interval`, as promtool sets its engine's default evaluation interval to it.
    fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            default_subquery_step_ms: self.ctx.file.evaluation_interval_ms,
            ..EngineOptions::default()
        }
    }

    /// Compares the firing alerts with every alert test at `eval_ms`.
    fn check_alerts(&mut self, groups: &[Group], eval_ms: i64) {
        let tg = self.tg;
        for test in tg.alert_tests.iter().filter(|a| a.eval_ms == eval_ms) {
            let name = test.alertname.as_deref().unwrap_or_default();
            let mut got: Vec<AlertLine> = groups
                .iter()
                .flat_map(|g| g.rules())
                .filter(|r| r.alerting && r.name == name)
                .flat_map(|r| r.alerts.iter())
                .filter(|a| a.phase == model::alert::AlertPhase::Firing)
                .map(|a| AlertLine {
                    labels: a
                        .key
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    annotations: (&a.annotations).into(),
                })
                .collect();
            let mut expected: Vec<AlertLine> = test
                .expected
                .iter()
                .map(|e| {
                    let mut labels = e.labels.clone();
                    labels.insert("alertname".to_string(), name.to_string());
                    AlertLine {
                        labels,
                        annotations: e.annotations.clone(),
                    }
                })
                .collect();
            got.sort();
            expected.sort();
            if got != expected {
                let message = format!(
                    "alertname {name:?} at {}: the firing alerts differ\n{}",
                    show::duration(eval_ms),
                    show::diff(&expected, &got, |a, b| a == b)
                );
                self.fail(test.line, message);
            }
        }
    }

    /// Runs one expression test at its time and compares the samples.
    fn check_expr(&mut self, querier: &MemoryQuerier, test: &ExprTest) {
        let head = format!("expr {:?} at {}", test.expr, show::duration(test.eval_ms));
        if let Some(s) = test.expected.iter().find(|s| s.histogram.is_some()) {
            let text = format!(
                "{}{head}: skipped: the expected sample on line {} is a native histogram, which \
                 Periscope does not store",
                self.place(test.line),
                s.line
            );
            self.report.skipped.push(text);
            return;
        }
        let mut expected = Vec::with_capacity(test.expected.len());
        for s in &test.expected {
            match expected_labels(s) {
                Ok(labels) => expected.push(SampleLine {
                    labels,
                    value: s.value,
                }),
                Err(e) => {
                    self.fail(s.line, format!("{head}: labels {:?}: {e}", s.labels));
                    return;
                }
            }
        }
        let t = self.tg.start_ms + test.eval_ms;
        let mut got = match query(self.engine_options(), querier, &test.expr, t) {
            Ok(got) => got,
            Err(e) => {
                self.fail(test.line, format!("{head}: {e}"));
                return;
            }
        };
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        expected.sort_by(|a, b| a.labels.cmp(&b.labels));
        let fuzzy = self.ctx.file.fuzzy_compare;
        let same =
            |a: &SampleLine, b: &SampleLine| a.labels == b.labels && equal(a.value, b.value, fuzzy);
        let all_same =
            got.len() == expected.len() && got.iter().zip(&expected).all(|(g, e)| same(e, g));
        if !all_same {
            let message = format!(
                "{head}: the samples differ\n{}",
                show::diff(&expected, &got, same)
            );
            self.fail(test.line, message);
        }
    }
}

/// The labels of an expected sample: a series selector string, or none at all.
fn expected_labels(s: &ExpectedSample) -> Result<BTreeMap<String, String>, String> {
    let text = s.labels.trim();
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (labels, rest) = parse_metric(text)?;
    if !rest.trim().is_empty() {
        return Err(format!("unexpected {:?} after the series", rest.trim()));
    }
    Ok(labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Runs an instant query as promtool's tests do: a scalar is one sample without labels.
fn query(
    options: EngineOptions,
    querier: &MemoryQuerier,
    expr: &str,
    t: i64,
) -> Result<Vec<SampleLine>, String> {
    let parsed = promql::parse(expr).map_err(|e| e.to_string())?;
    let to_map = |l: &Labels| -> BTreeMap<String, String> {
        l.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    match Engine::new(options).instant(querier, &parsed, t) {
        Ok(Value::Vector(v)) => Ok(v
            .iter()
            .map(|s| SampleLine {
                labels: to_map(&s.labels),
                value: s.value,
            })
            .collect()),
        Ok(Value::Scalar { v, .. }) => Ok(vec![SampleLine {
            labels: BTreeMap::new(),
            value: v,
        }]),
        Ok(_) => Err("the result is neither an instant vector nor a scalar".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Float equality as promtool compares: exact (so NaN never equals NaN), or with
/// `fuzzy_compare` also the neighbouring floats either side.
fn equal(a: f64, b: f64, fuzzy: bool) -> bool {
    a == b || (fuzzy && (a.next_down() == b || a.next_up() == b))
}
