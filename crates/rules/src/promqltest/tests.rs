//! The runner judged with tiny scripts whose outcomes are known, against a toy evaluator that
//! understands only literals and plain selectors. The toy keeps these tests independent of how
//! far the real evaluator has come: they check the runner, not the engine.

use std::collections::BTreeMap;
use std::time::SystemTime;

use model::{AnchoredRegex, Labels, MatchOp, Matcher, Querier, TimeRange, Timestamp};
use promql_parser::label::MatchOp as ParsedOp;
use promql_parser::parser::{AtModifier, VectorSelector};

use super::*;
use crate::promql::{InstantSample, Point, RangeSeries, is_stale_nan};

/// Literals, vector selectors (5 min lookback, stale markers end a series) and matrix
/// selectors; everything else is an error naming the expression.
struct Toy {
    /// Misbehave by ignoring `@`, to show that the runner checks pinned variants.
    ignore_at: bool,
}

const TOY: Toy = Toy { ignore_at: false };

impl Toy {
    fn time_of(&self, vs: &VectorSelector, t: i64) -> i64 {
        match &vs.at {
            Some(AtModifier::At(at)) if !self.ignore_at => {
                match at.duration_since(SystemTime::UNIX_EPOCH) {
                    Ok(d) => d.as_millis() as i64,
                    Err(e) => -(e.duration().as_millis() as i64),
                }
            }
            _ => t,
        }
    }

    fn select(
        &self,
        q: &dyn Querier,
        vs: &VectorSelector,
        from: i64,
        to: i64,
    ) -> Vec<model::SeriesData> {
        let mut matchers: Vec<Matcher> = vs
            .name
            .iter()
            .map(|n| Matcher::equal("__name__", n.as_str()))
            .collect();
        for m in &vs.matchers.matchers {
            let re = || AnchoredRegex::new(&m.value).unwrap();
            let op = match &m.op {
                ParsedOp::Equal => MatchOp::Equal(m.value.clone()),
                ParsedOp::NotEqual => MatchOp::NotEqual(m.value.clone()),
                ParsedOp::Re(_) => MatchOp::Regex(re()),
                ParsedOp::NotRe(_) => MatchOp::NotRegex(re()),
            };
            matchers.push(Matcher {
                name: m.name.clone(),
                op,
            });
        }
        let range = TimeRange::new(Timestamp(from), Timestamp(to));
        q.select(&matchers, range).unwrap()
    }
}

impl Evaluator for Toy {
    fn instant(&self, q: &dyn Querier, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar { t, v: n.val }),
            Expr::StringLiteral(s) => Ok(Value::String {
                t,
                v: s.val.clone(),
            }),
            Expr::Paren(p) => self.instant(q, &p.expr, t),
            Expr::VectorSelector(vs) => {
                let te = self.time_of(vs, t);
                let series = self.select(q, vs, te - 300_000 + 1, te);
                Ok(Value::Vector(
                    series
                        .into_iter()
                        .filter_map(|s| {
                            let (ts, v) = (s.timestamps.last()?, *s.values.last()?);
                            (!is_stale_nan(v)).then_some(InstantSample {
                                labels: s.labels,
                                t: ts.0,
                                value: v,
                            })
                        })
                        .collect(),
                ))
            }
            Expr::MatrixSelector(ms) => {
                let te = self.time_of(&ms.vs, t);
                let from = te - ms.range.as_millis() as i64 + 1;
                let series = self.select(q, &ms.vs, from, te);
                Ok(Value::Matrix(
                    series
                        .into_iter()
                        .map(|s| RangeSeries {
                            labels: s.labels,
                            points: s
                                .timestamps
                                .iter()
                                .zip(&s.values)
                                .filter(|(_, v)| !is_stale_nan(**v))
                                .map(|(t, v)| Point { t: t.0, v: *v })
                                .collect(),
                            start_times: Vec::new(),
                        })
                        .collect(),
                ))
            }
            other => Err(EvalError::Invalid(format!(
                "the toy cannot evaluate {other}"
            ))),
        }
    }

    fn range(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value, EvalError> {
        let mut out: BTreeMap<Labels, Vec<Point>> = BTreeMap::new();
        let mut t = start;
        while t <= end {
            match self.instant(q, expr, t)? {
                Value::Scalar { v, .. } => {
                    out.entry(Labels::new()).or_default().push(Point { t, v })
                }
                Value::Vector(samples) => {
                    for s in samples {
                        out.entry(s.labels)
                            .or_default()
                            .push(Point { t, v: s.value });
                    }
                }
                _ => return Err(EvalError::Invalid("not a range query".into())),
            }
            t += step;
        }
        Ok(Value::Matrix(
            out.into_iter()
                .map(|(labels, points)| RangeSeries {
                    labels,
                    points,
                    start_times: Vec::new(),
                })
                .collect(),
        ))
    }
}

const DATA: &str = r#"
load 1m
  foo{a="1"} 1+1x10
  foo{a="2"} 5 _ stale
  nan_metric NaN
  h {{schema:0 sum:1 count:1}} 2
"#;

fn run(evaluator: &dyn Evaluator, script: &str) -> ScriptReport {
    run_script_with(evaluator, "toy.test", &format!("{DATA}\n{script}")).unwrap()
}

/// The single case of `script`, after the shared data.
fn outcome(script: &str) -> Outcome {
    let report = run(&TOY, script);
    assert_eq!(report.cases.len(), 1, "{report:?}");
    report.cases[0].outcome.clone()
}

fn failed_with(script: &str, needle: &str) {
    match outcome(script) {
        Outcome::Failed(reason) => assert!(reason.contains(needle), "{needle:?} not in {reason}"),
        other => panic!("expected a failure for {script}, got {other:?}"),
    }
}

#[test]
fn right_expectations_pass() {
    let ok = [
        "eval instant at 1m foo\n  foo{a=\"1\"} 2\n  foo{a=\"2\"} 5",
        // The stale marker at 2m ends foo{a="2"}.
        "eval instant at 2m foo\n  foo{a=\"1\"} 3",
        "eval instant at 0 nan_metric\n  nan_metric NaN",
        "eval instant at 1m foo{a=\"1\"}\n  {__name__=\"foo\", a=\"1\"} 2.0000001",
        "eval instant at 0 1.5\n  1.5",
        "eval instant at 0 \"hi\"\n  expect string \"hi\"",
        "eval instant at 1m foo\n  expect ordered\n  foo{a=\"1\"} 2\n  foo{a=\"2\"} 5",
        "eval range from 0 to 2m step 1m foo\n  foo{a=\"1\"} 1 2 3\n  foo{a=\"2\"} 5 5 _",
        "eval instant at 2m foo{a=\"1\"}[2m]\n  expect range vector from 1m to 2m step 1m\n  \
         foo{a=\"1\"} 2 3",
        "eval instant at 0 sum(foo)\n  expect fail",
        "eval instant at 0 sum(foo)\n  expect fail regex: cannot evaluate",
        "eval_fail instant at 0 sum(foo)\n  expected_fail_regexp toy",
        "eval instant at 1m foo{a=\"1\"}\n  expect no_warn\n  expect no_info\n  foo{a=\"1\"} 2",
        "eval instant at 30m nothing_here",
    ];
    for script in ok {
        assert_eq!(outcome(script), Outcome::Passed, "{script}");
    }
}

#[test]
fn wrong_expectations_fail_with_the_reason() {
    failed_with(
        "eval instant at 1m foo{a=\"1\"}\n  foo{a=\"1\"} 3",
        "expected 3",
    );
    failed_with(
        "eval instant at 1m foo{a=\"1\"}\n  foo{a=\"1\"} 2.001",
        "expected 2.001",
    );
    failed_with(
        "eval instant at 1m foo{a=\"1\"}",
        "unexpected series foo{a=\"1\"}",
    );
    failed_with(
        "eval instant at 1m foo{a=\"1\"}\n  foo{a=\"1\"} 2\n  foo{a=\"3\"} 2",
        "foo{a=\"3\"} with value 2 is missing",
    );
    failed_with("eval instant at 0 nan_metric\n  nan_metric 0", "expected 0");
    failed_with("eval instant at 0 1.5\n  2", "expected scalar 2");
    failed_with(
        "eval instant at 0 1.5\n  x 1.5",
        "expected a vector or matrix",
    );
    failed_with(
        "eval instant at 0 \"hi\"\n  expect string \"ho\"",
        "expected string \"ho\"",
    );
    failed_with(
        "eval instant at 1m foo\n  expect ordered\n  foo{a=\"2\"} 5\n  foo{a=\"1\"} 2",
        "at position 2, it came at 1",
    );
    failed_with(
        "eval range from 0 to 2m step 1m foo{a=\"1\"}\n  foo{a=\"1\"} 1 2 4",
        "point 2 (t=120000) of foo{a=\"1\"}: expected 4, got 3",
    );
    failed_with(
        "eval range from 0 to 2m step 1m foo{a=\"1\"}\n  foo{a=\"1\"} 1 2",
        "expected 2 points",
    );
    failed_with(
        "eval instant at 0 foo\n  expect fail",
        "expected the query to fail",
    );
    failed_with(
        "eval instant at 0 sum(foo)\n  expect fail msg: something else",
        "expected the error \"something else\"",
    );
    failed_with("eval instant at 0 sum(foo)\n  foo 1", "evaluation failed");
    failed_with("eval instant at 0 foo{\n  foo 1", "does not parse");
    failed_with(
        "eval instant at 1m foo{a=\"1\"}\n  expect warn\n  foo{a=\"1\"} 2",
        "warning annotation was expected",
    );
}

#[test]
fn step_invariance_is_checked_like_prometheus() {
    // An evaluator that ignores `@` answers the plain query right but the pinned variants
    // (evaluated at other times) wrong.
    let script = "eval instant at 2m foo{a=\"1\"}\n  foo{a=\"1\"} 3";
    let report = run(&Toy { ignore_at: true }, script);
    match &report.cases[0].outcome {
        Outcome::Failed(r) => assert!(r.contains("pinned @ 120s"), "{r}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(run(&TOY, script).passed(), 1);
}

#[test]
fn native_histogram_cases_are_skipped_not_failed() {
    let report = run(
        &TOY,
        "eval instant at 0 h\n  h 2\n\n\
         eval instant at 0 foo{a=\"1\"}\n  foo{a=\"1\"} {{schema:0 sum:1 count:1}}\n\n\
         eval instant at 0 {__name__=~\"h|foo\"}\n\n\
         eval instant at 0 foo{a=\"1\"}\n  foo{a=\"1\"} 1\n\n\
         clear\n\
         load_with_nhcb 1m\n  lat_bucket{le=\"1\"} 1\n  lat_bucket{le=\"+Inf\"} 2\n\n\
         eval instant at 0 lat\n\n\
         eval instant at 0 lat_bucket{le=\"1\"}\n  lat_bucket{le=\"1\"} 1\n",
    );
    let outcomes: Vec<_> = report.cases.iter().map(|c| c.outcome.clone()).collect();
    let skip = Outcome::Skipped(SkipReason::NativeHistograms);
    assert_eq!(
        outcomes,
        vec![
            skip.clone(),
            skip.clone(),
            skip.clone(),
            Outcome::Passed,
            skip,
            Outcome::Passed
        ]
    );
    assert_eq!((report.passed(), report.skipped(), report.run()), (2, 4, 2));
}

#[test]
fn load_adds_clear_empties_and_ignore_skips() {
    let report = run(
        &TOY,
        "load 1m\n  bar 7\n\n\
         eval instant at 0 bar\n  bar 7\n\n\
         eval instant at 10m foo{a=\"1\"}\n  foo{a=\"1\"} 11\n\n\
         clear\n\
         eval instant at 10m foo\n\n\
         ignore\n\
         eval instant at 0 foo\n  foo 1\n\n\
         resume\n\
         eval instant at 0 foo\n",
    );
    let outcomes: Vec<_> = report.cases.iter().map(|c| &c.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            &Outcome::Passed,
            &Outcome::Passed,
            &Outcome::Passed,
            &Outcome::Skipped(SkipReason::Ignored),
            &Outcome::Passed
        ]
    );
    let lines: Vec<usize> = report.cases.iter().map(|c| c.line).collect();
    assert_eq!(
        lines,
        vec![11, 14, 18, 21, 25],
        "lines count from the script's first line"
    );
}

#[test]
fn a_broken_script_is_an_error_with_its_line() {
    let err = run_script("bad.test", "load 1m\n  foo 1\n\nevaluate this\n").unwrap_err();
    assert_eq!((err.script.as_str(), err.line), ("bad.test", 4));
    let err = run_script("bad.test", "load 1m\n  foo 1 +\n").unwrap_err();
    assert_eq!(err.line, 2);
}

#[test]
fn the_real_engine_is_measured_without_a_runner_error() {
    // Whatever the evaluator can do today, a well-formed script yields one case per eval.
    let report = run_script("e.test", &format!("{DATA}\neval instant at 0 foo\n")).unwrap();
    assert_eq!(report.cases.len(), 1);
    assert_eq!(report.run(), 1);
}
