//! The forms of a `[rule.NAME]` table and the conditions each compiles to.
//!
//! | form | PromQL | test |
//! |---|---|---|
//! | `expr` + `above`/`below`/`when` | `expr` as written | thresholds at `now` |
//! | `expr` + `level` | `expr` as written | a value other than 0 fails at `level` |
//! | `monitor = "M"` | `last_over_time(periscope_check_status{monitor="M"}[W])` (W: `window`, default 1h) | above 0.5 non-critical, 1.5 critical (`status = "critical"`: 1.5; `"unknown"`: 2.5) |
//! | `log = "M/R"` | `sum_over_time(periscope_log_matches{monitor="M",rule="R"}[W])` | the thresholds |
//! | `heartbeat = S`, `max_age = A` | `time() - last_over_time(S[2A])` | above A seconds at `level` (default critical) |
//! | `errors = E`, `total = T` | ratio: `((sum(increase(E[W])) or sum(increase(T[W])) * 0) / sum(increase(T[W]))) * (sum(increase(T[W])) >= bool min_total)`; count: `sum(increase(E[W]))` | ratio above `ratio_above` at `level` (default non-critical); count at least `critical_errors` critical |
//! | `timing = S`, `stat` | `avg_over_time(S[W])`, `min_`, `max_`, `stddev_over_time`, `quantile_over_time(0.9, S[W])`... | the thresholds |
//!
//! The error ratio's `or ... * 0` gives a window with requests but no error series a ratio
//! of 0 rather than no data (error counters are often created at the first error); the
//! `* (... >= bool min_total)` makes the ratio 0 when there are too few requests to judge, so
//! the rule is neither failing nor without data then. With `by = ["job"]` every `sum` is
//! `sum by (job)`.

use model::ConfigIssue;
use model::level::{Direction, Level, LevelThresholds};
use model::time_period::{Tier, Tiered, TimePeriods};

use super::{Condition, LevelValues, RuleDef, Stat, StatusWord, Test, tier_thresholds};

/// The default `window` of the monitor form: how far back the last check result is looked
/// for (a monitor checked less often than this has no data between checks).
pub const DEFAULT_MONITOR_WINDOW: &str = "1h";

/// The conditions `def` compiles to; problems go to `issues`.
pub(super) fn conditions(
    def: &RuleDef,
    periods: &TimePeriods,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<Condition> {
    let forms: Vec<&str> = [
        ("expr", def.expr.is_some()),
        ("monitor", def.monitor.is_some()),
        ("log", def.log.is_some()),
        ("heartbeat", def.heartbeat.is_some()),
        ("errors", def.errors.is_some()),
        ("timing", def.timing.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    match forms.as_slice() {
        [] => {
            issues.push(
                ConfigIssue::new("expr", "the rule says nothing to evaluate").hint(
                    "set one of expr, monitor, log, heartbeat, errors (with total) or timing",
                ),
            );
            return Vec::new();
        }
        [_] => {}
        [first, second, ..] => {
            issues.push(
                ConfigIssue::new(*second, format!("`{first}` and `{second}` are two forms"))
                    .hint("one rule table has one form; write two rules"),
            );
            return Vec::new();
        }
    }
    let thresholds_set = def.above.is_some() || def.below.is_some() || def.when.is_some();
    check_form_keys(forms[0], def, issues);
    match forms[0] {
        "expr" => {
            let expr = def.expr.clone().unwrap_or_default();
            match (def.level, thresholds_set) {
                (Some(_), true) => {
                    issues.push(
                        ConfigIssue::new("level", "set either `level` or thresholds, not both")
                            .hint("`level` makes expr a boolean condition; thresholds judge its values"),
                    );
                    Vec::new()
                }
                (Some(level), false) => vec![condition(expr, Test::NonZero(level))],
                (None, _) => thresholds(def, periods, issues)
                    .map(|t| vec![condition(expr, t)])
                    .unwrap_or_default(),
            }
        }
        "monitor" => {
            let monitor = def.monitor.as_deref().unwrap_or_default();
            let window = window_text(def, DEFAULT_MONITOR_WINDOW);
            let (nc, c) = match def.status.unwrap_or(StatusWord::Warning) {
                StatusWord::Warning => (Some(0.5), 1.5),
                StatusWord::Critical => (None, 1.5),
                StatusWord::Unknown => (None, 2.5),
            };
            let t = LevelThresholds::new(None, nc, Some(c), Direction::Above)
                .expect("fixed thresholds are ordered");
            vec![condition(
                format!(
                    "last_over_time(periscope_check_status{{monitor={}}}[{window}])",
                    quote(monitor)
                ),
                Test::Thresholds(Tiered::constant(t)),
            )]
        }
        "log" => {
            let text = def.log.as_deref().unwrap_or_default();
            let Some((monitor, rule)) = text
                .split_once('/')
                .filter(|(m, r)| !m.is_empty() && !r.is_empty())
            else {
                issues.push(
                    ConfigIssue::new("log", format!("`{text}` is not MONITOR/RULE"))
                        .hint("e.g. log = \"app_log/errors\": the monitor and its rule"),
                );
                return Vec::new();
            };
            let Some(window) = required_window(def, issues) else {
                return Vec::new();
            };
            thresholds(def, periods, issues)
                .map(|t| {
                    vec![condition(
                        format!(
                            "sum_over_time(periscope_log_matches{{monitor={},rule={}}}[{window}])",
                            quote(monitor),
                            quote(rule)
                        ),
                        t,
                    )]
                })
                .unwrap_or_default()
        }
        "heartbeat" => {
            let Some(max_age) = def.max_age.filter(|d| d.is_positive()) else {
                issues.push(
                    ConfigIssue::new("max_age", "a heartbeat needs a positive max_age")
                        .hint("e.g. max_age = \"26h\" for a daily job"),
                );
                return Vec::new();
            };
            let secs = max_age.as_secs_f64();
            let level = def.level.unwrap_or(Level::Critical);
            let t = LevelThresholds::new(
                (level == Level::Logged).then_some(secs),
                (level == Level::NonCritical).then_some(secs),
                (level == Level::Critical).then_some(secs),
                Direction::Above,
            )
            .expect("one finite threshold");
            let selector = def.heartbeat.as_deref().unwrap_or_default();
            vec![condition(
                format!(
                    "time() - last_over_time({selector}[{}])",
                    duration_text(max_age.as_millis().saturating_mul(2))
                ),
                Test::Thresholds(Tiered::constant(t)),
            )]
        }
        "errors" => error_ratio(def, issues),
        "timing" => {
            let Some(window) = required_window(def, issues) else {
                return Vec::new();
            };
            let Some(stat) = def.stat else {
                issues.push(
                    ConfigIssue::new("stat", "the timing form needs a stat")
                        .hint("avg, min, max, stddev, p50, p90, p95 or p99"),
                );
                return Vec::new();
            };
            let s = def.timing.as_deref().unwrap_or_default();
            let expr = match stat {
                Stat::Avg => format!("avg_over_time({s}[{window}])"),
                Stat::Min => format!("min_over_time({s}[{window}])"),
                Stat::Max => format!("max_over_time({s}[{window}])"),
                Stat::Stddev => format!("stddev_over_time({s}[{window}])"),
                Stat::P50 => format!("quantile_over_time(0.5, {s}[{window}])"),
                Stat::P90 => format!("quantile_over_time(0.9, {s}[{window}])"),
                Stat::P95 => format!("quantile_over_time(0.95, {s}[{window}])"),
                Stat::P99 => format!("quantile_over_time(0.99, {s}[{window}])"),
            };
            thresholds(def, periods, issues)
                .map(|t| vec![condition(expr, t)])
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// The error-ratio form: a ratio condition and, with `critical_errors`, a count condition.
fn error_ratio(def: &RuleDef, issues: &mut Vec<ConfigIssue>) -> Vec<Condition> {
    let Some(total) = def.total.as_deref() else {
        issues.push(
            ConfigIssue::new("total", "the errors form needs `total`")
                .hint("a counter of all requests, e.g. total = 'http_requests_total{job=\"api\"}'"),
        );
        return Vec::new();
    };
    let Some(window) = required_window(def, issues) else {
        return Vec::new();
    };
    let Some(ratio) = def.ratio_above else {
        issues.push(
            ConfigIssue::new("ratio_above", "the errors form needs `ratio_above`")
                .hint("the error ratio (0..1) above which it fails, e.g. 0.2"),
        );
        return Vec::new();
    };
    if !(0.0..=1.0).contains(&ratio) {
        issues.push(
            ConfigIssue::new("ratio_above", format!("{ratio} is not a ratio within 0..1"))
                .hint("20 % is 0.2"),
        );
    }
    for (key, v) in [
        ("min_total", def.min_total),
        ("critical_errors", def.critical_errors),
    ] {
        if let Some(v) = v.filter(|v| !v.is_finite() || *v < 0.0) {
            issues.push(ConfigIssue::new(
                key,
                format!("{v} is not a non-negative number"),
            ));
        }
    }
    let sum = if def.by.is_empty() {
        "sum".to_string()
    } else {
        format!("sum by ({})", def.by.join(", "))
    };
    let errors = def.errors.as_deref().unwrap_or_default();
    let e = format!("{sum} (increase({errors}[{window}]))");
    let t = format!("{sum} (increase({total}[{window}]))");
    let mut ratio_expr = format!("(({e}) or ({t}) * 0) / ({t})");
    if let Some(min) = def.min_total {
        ratio_expr = format!("({ratio_expr}) * (({t}) >= bool {min})");
    }
    let level = def.level.unwrap_or(Level::NonCritical);
    let values = LevelValues {
        logged: (level == Level::Logged).then_some(ratio),
        non_critical: (level == Level::NonCritical).then_some(ratio),
        critical: (level == Level::Critical).then_some(ratio),
    };
    let Ok(t) = super::level_thresholds(values, Direction::Above) else {
        return Vec::new();
    };
    let mut out = vec![condition(ratio_expr, Test::Thresholds(Tiered::constant(t)))];
    if let Some(min) = def.critical_errors {
        out.push(Condition {
            expr: e,
            test: Test::AtLeast {
                min,
                level: Level::Critical,
            },
            // The ratio condition says whether data is missing.
            complete: false,
        });
    }
    out
}

/// Reports each set key of `keys`: it does not apply to `form`.
/// Reports every form-specific key `def` sets that its form does not take.
fn check_form_keys(form: &str, def: &RuleDef, issues: &mut Vec<ConfigIssue>) {
    let set = [
        ("total", def.total.is_some()),
        ("ratio_above", def.ratio_above.is_some()),
        ("min_total", def.min_total.is_some()),
        ("critical_errors", def.critical_errors.is_some()),
        ("by", !def.by.is_empty()),
        ("window", def.window.is_some()),
        ("level", def.level.is_some()),
        ("above", def.above.is_some()),
        ("below", def.below.is_some()),
        ("when", def.when.is_some()),
        ("status", def.status.is_some()),
        ("stat", def.stat.is_some()),
        ("max_age", def.max_age.is_some()),
    ];
    let takes: &[&str] = match form {
        "expr" => &["level", "above", "below", "when"],
        "monitor" => &["window", "status"],
        "log" => &["window", "above", "below", "when"],
        "heartbeat" => &["level", "max_age"],
        "errors" => &[
            "window",
            "level",
            "total",
            "ratio_above",
            "min_total",
            "critical_errors",
            "by",
        ],
        "timing" => &["window", "above", "below", "when", "stat"],
        _ => &[],
    };
    for (key, present) in set {
        if present && !takes.contains(&key) {
            issues.push(ConfigIssue::new(
                key,
                format!("`{key}` does not apply to the `{form}` form"),
            ));
        }
    }
}

/// A condition whose absent series mean no data (corrected for filtering expressions when the
/// rule is compiled).
fn condition(expr: String, test: Test) -> Condition {
    Condition {
        expr,
        test,
        complete: true,
    }
}

/// The thresholds of the table: `above`, `below` or `when`, exactly one.
fn thresholds(def: &RuleDef, periods: &TimePeriods, issues: &mut Vec<ConfigIssue>) -> Option<Test> {
    let set = [
        ("above", def.above.is_some()),
        ("below", def.below.is_some()),
        ("when", def.when.is_some()),
    ];
    let named: Vec<&str> = set.iter().filter(|(_, s)| *s).map(|(k, _)| *k).collect();
    if named.len() > 1 {
        issues.push(
            ConfigIssue::new(
                named[1],
                format!(
                    "set one of above, below and when, not `{}` and `{}`",
                    named[0], named[1]
                ),
            )
            .hint("time-tiered thresholds go inside each [[rule.NAME.when]] entry"),
        );
        return None;
    }
    let single = |values: LevelValues, direction, key: &str, issues: &mut Vec<ConfigIssue>| {
        match super::level_thresholds(values, direction) {
            Ok(t) => Some(Test::Thresholds(Tiered::constant(t))),
            Err(e) => {
                issues.push(ConfigIssue::new(key, e.to_string()));
                None
            }
        }
    };
    if let Some(a) = def.above {
        return single(a, Direction::Above, "above", issues);
    }
    if let Some(b) = def.below {
        return single(b, Direction::Below, "below", issues);
    }
    let Some(when) = def.when.clone() else {
        issues.push(ConfigIssue::new("above", "no thresholds").hint(
            "e.g. above = { non_critical = 2, critical = 4 }, below = {...}, or \
                 [[rule.NAME.when]] entries; or level = \"critical\" for a boolean expr",
        ));
        return None;
    };
    let tiered = match when.build(periods) {
        Ok(t) => t,
        Err(e) => {
            issues.push(ConfigIssue::new("when", e.to_string()).hint(
                "e.g. during = \"weekdays 08:00-18:00 Europe/London\", or a [time_period.NAME]",
            ));
            return None;
        }
    };
    let mut tiers = Vec::new();
    for (i, tier) in tiered.tiers().iter().enumerate() {
        match tier_thresholds(tier.value) {
            Ok(value) => tiers.push(Tier {
                during: tier.during.clone(),
                value,
            }),
            Err(e) => issues.push(ConfigIssue::new(format!("when.{i}"), e)),
        }
    }
    if tiers.len() < tiered.tiers().len() {
        return None;
    }
    match Tiered::new(tiers) {
        Ok(t) => Some(Test::Thresholds(t)),
        Err(e) => {
            issues.push(ConfigIssue::new("when", e.to_string()));
            None
        }
    }
}

/// `window` as PromQL duration text, or an issue when it is missing or not positive.
fn required_window(def: &RuleDef, issues: &mut Vec<ConfigIssue>) -> Option<String> {
    match def.window {
        Some(d) if d.is_positive() => Some(duration_text(d.as_millis())),
        Some(d) => {
            issues.push(ConfigIssue::new(
                "window",
                format!("must be a positive duration, got `{d:#}`"),
            ));
            None
        }
        None => {
            issues.push(
                ConfigIssue::new("window", format!("the `{}` form needs a window", form(def)))
                    .hint("e.g. window = \"10m\""),
            );
            None
        }
    }
}

fn form(def: &RuleDef) -> &'static str {
    if def.log.is_some() {
        "log"
    } else if def.errors.is_some() {
        "errors"
    } else {
        "timing"
    }
}

/// `window` as PromQL text, or `default` when unset (or not positive: checked elsewhere).
fn window_text(def: &RuleDef, default: &str) -> String {
    def.window
        .filter(|d| d.is_positive())
        .map_or_else(|| default.to_string(), |d| duration_text(d.as_millis()))
}

/// Milliseconds as a PromQL duration (`90000ms` is valid PromQL; whole units read better).
fn duration_text(ms: i128) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A PromQL string literal.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
