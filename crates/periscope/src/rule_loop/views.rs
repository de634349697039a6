//! The groups as `/api/v1/rules` and `/api/v1/alerts` show them, in Prometheus' shapes.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use model::alert::{AlertPhase, AlertRecord};
use rules::rulefile::Rule;
use web::prom_api::{AlertView, RuleGroupView, RuleView};

use super::LoadedGroup;

/// Every group's latest view, written by the evaluation tasks and read by the query API.
pub type RulesSnapshot = Arc<RwLock<Vec<RuleGroupView>>>;

/// The group's state now, as the rules API shows it.
pub fn group_view(loaded: &LoadedGroup) -> RuleGroupView {
    let mut last_evaluation = None;
    let mut evaluation_time = Duration::ZERO;
    let mut rules: Vec<RuleView> = loaded
        .group
        .rules()
        .zip(&loaded.def.rules)
        .map(|(rule, def)| {
            last_evaluation = last_evaluation.max(rule.last_evaluation);
            evaluation_time += rule.last_duration;
            let alerts: Vec<AlertView> = rule.alerts.iter().filter_map(alert_view).collect();
            let mut view = RuleView {
                kind: "recording",
                name: rule.name.to_string(),
                query: def.expr().to_string(),
                duration: None,
                keep_firing_for: None,
                labels: def.labels().clone(),
                annotations: None,
                state: None,
                alerts: None,
                health: rule.health.as_str(),
                last_error: rule.health.error().unwrap_or_default().to_string(),
                last_evaluation: rfc3339(rule.last_evaluation),
                evaluation_time: rule.last_duration.as_secs_f64(),
            };
            if let Rule::Alerting(a) = def {
                view.kind = "alerting";
                view.duration = Some(a.for_duration.as_secs_f64());
                view.keep_firing_for = Some(a.keep_firing_for.as_secs_f64());
                view.annotations = Some(a.annotations.clone());
                view.state = Some(if alerts.iter().any(|a| a.state == "firing") {
                    "firing"
                } else if alerts.is_empty() {
                    "inactive"
                } else {
                    "pending"
                });
                view.alerts = Some(alerts);
            }
            view
        })
        .collect();
    if !loaded.group.meta_alerts().is_empty() {
        let alerts: Vec<AlertView> = loaded
            .group
            .meta_alerts()
            .iter()
            .filter_map(alert_view)
            .collect();
        rules.push(RuleView {
            kind: "alerting",
            name: rules::native::RULE_FAILING_ALERT.to_string(),
            query: "(a rule of this group cannot be evaluated)".to_string(),
            duration: Some(0.0),
            keep_firing_for: Some(0.0),
            labels: Default::default(),
            annotations: Some(Default::default()),
            state: Some(if alerts.iter().any(|a| a.state == "firing") {
                "firing"
            } else {
                "inactive"
            }),
            alerts: Some(alerts),
            health: "ok",
            last_error: String::new(),
            last_evaluation: rfc3339(last_evaluation),
            evaluation_time: 0.0,
        });
    }
    RuleGroupView {
        name: loaded.def.name.clone(),
        file: loaded.file.clone(),
        rules,
        interval: loaded.group.interval().as_secs_f64(),
        last_evaluation: rfc3339(last_evaluation),
        evaluation_time: evaluation_time.as_secs_f64(),
    }
}

/// Every pending and firing alert of the snapshot, as `/api/v1/alerts` lists them.
pub fn all_alerts(groups: &[RuleGroupView]) -> Vec<AlertView> {
    groups
        .iter()
        .flat_map(|g| &g.rules)
        .flat_map(|r| r.alerts.iter().flatten().cloned())
        .collect()
}

/// The firing alerts of `groups`, for `run --mode alerts`.
pub fn firing_alerts(groups: &[LoadedGroup]) -> Vec<AlertRecord> {
    groups
        .iter()
        .flat_map(|g| g.group.rules())
        .flat_map(|r| r.alerts.iter())
        .chain(groups.iter().flat_map(|g| g.group.meta_alerts()))
        .filter(|r| r.phase == AlertPhase::Firing)
        .cloned()
        .collect()
}

/// A pending or firing alert as the API shows it; `None` for any other phase (Prometheus
/// lists only active alerts). An alert suppressed by a firing parent (`depends_on`) shows it
/// as the annotation `suppressed_by`, since Prometheus' shape has no field for it.
fn alert_view(r: &AlertRecord) -> Option<AlertView> {
    let state = match r.phase {
        AlertPhase::Pending => "pending",
        AlertPhase::Firing => "firing",
        AlertPhase::Inactive | AlertPhase::Resolved => return None,
    };
    Some(AlertView {
        labels: r
            .key
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        annotations: {
            let mut a: std::collections::BTreeMap<_, _> = (&r.annotations).into();
            if let Some(parent) = &r.suppressed_by {
                a.insert("suppressed_by".to_string(), parent.clone());
            }
            a
        },
        state,
        active_at: rfc3339(r.pending_since.map(|t| t.0)),
        value: go_float_e(r.last_value.unwrap_or(f64::NAN)),
    })
}

/// Milliseconds since the epoch in RFC 3339 (UTC); empty for never, as Prometheus' zero time
/// would be meaningless to a client.
fn rfc3339(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A value the way Prometheus' alerts API writes it (Go's `%e` with the shortest mantissa):
/// `1e+00`, `9.75e+01`, `NaN`, `+Inf`.
fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let text = format!("{v:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_values_read_as_in_prometheus() {
        assert_eq!(go_float_e(1.0), "1e+00");
        assert_eq!(go_float_e(97.5), "9.75e+01");
        assert_eq!(go_float_e(0.001), "1e-03");
        assert_eq!(go_float_e(-2.5e120), "-2.5e+120");
        assert_eq!(go_float_e(f64::NAN), "NaN");
        assert_eq!(rfc3339(Some(1_700_000_000_500)), "2023-11-14T22:13:20.5Z");
        assert_eq!(rfc3339(None), "");
    }
}
