//! What `/api/v1/rules` and `/api/v1/alerts` show, in Prometheus' shapes (field names as
//! Prometheus spells them, so Grafana's alert list reads them).

use std::collections::BTreeMap;

use serde::Serialize;

/// One rule group.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroupView {
    /// The group's name.
    pub name: String,
    /// The file it was loaded from.
    pub file: String,
    /// Its rules, in file order.
    pub rules: Vec<RuleView>,
    /// Evaluation interval in seconds.
    pub interval: f64,
    /// When the group was last evaluated (RFC 3339), empty before the first evaluation.
    pub last_evaluation: String,
    /// How long the last evaluation took, in seconds.
    pub evaluation_time: f64,
}

/// One rule and its state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    /// `"alerting"` or `"recording"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The alert name or recorded metric name.
    pub name: String,
    /// The PromQL expression.
    pub query: String,
    /// `for`, in seconds (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `keep_firing_for`, in seconds (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<f64>,
    /// Labels the rule adds.
    pub labels: BTreeMap<String, String>,
    /// Annotations (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// `"inactive"`, `"pending"` or `"firing"` (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// The rule's active alerts (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertView>>,
    /// `"ok"`, `"err"` or `"unknown"` (not evaluated yet).
    pub health: &'static str,
    /// Why the last evaluation failed, empty when it did not.
    pub last_error: String,
    /// When the rule was last evaluated (RFC 3339).
    pub last_evaluation: String,
    /// How long the last evaluation took, in seconds.
    pub evaluation_time: f64,
}

/// One pending or firing alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    /// The alert's labels (rule labels and the series' labels, with `alertname`).
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// `"pending"` or `"firing"`.
    pub state: &'static str,
    /// Since when the condition has held (RFC 3339).
    pub active_at: String,
    /// The value that triggered it, as Prometheus writes values.
    pub value: String,
}
