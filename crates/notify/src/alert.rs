//! The alert as the response side sees it: labels, annotations, when it started and (once
//! resolved) ended, and its [`Level`].
//!
//! The rule engine speaks in [`Transition`]s of [`AlertRecord`]s; [`Alert::from_record`] turns
//! one into this shape, which is also the shape of an alert in Alertmanager's webhook payload,
//! so one type serves routing, grouping, templates and every channel.

use model::alert::{AlertPhase, AlertRecord, Annotations, Fingerprint};
use model::level::Level;
use model::{Labels, Timestamp};
use serde::{Deserialize, Serialize};

/// The label that names an alert's rule.
pub const ALERT_NAME_LABEL: &str = "alertname";
/// The label that carries an alert's level (`logged`, `non-critical`, `critical`).
pub const LEVEL_LABEL: &str = "level";
/// Prometheus' conventional label for how bad an alert is; read when `level` is absent.
pub const SEVERITY_LABEL: &str = "severity";

/// Whether an alert is still a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The problem is there now.
    Firing,
    /// The problem went away at `ends_at`.
    Resolved,
}

impl AlertStatus {
    /// `firing` or `resolved`, as Alertmanager's payload writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert on its way to people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its labels, `alertname` included.
    pub labels: Labels,
    /// Summary, description, runbook... (templates already expanded by the rule engine).
    pub annotations: Annotations,
    /// When it started firing.
    pub starts_at: Timestamp,
    /// When it resolved; `None` while it fires.
    pub ends_at: Option<Timestamp>,
    /// Where it came from (a link to the rule or graph); may be empty.
    pub generator_url: String,
    /// Its stable identity: the same alert always has the same fingerprint.
    pub fingerprint: Fingerprint,
    /// How much it matters.
    pub level: Level,
    /// The value of its last failing evaluation, when it had one.
    pub value: Option<f64>,
}

impl Alert {
    /// A firing alert with `labels` (which should include `alertname`) that started at
    /// `starts_at`; its level comes from its labels ([`level_of`]).
    pub fn firing(labels: Labels, starts_at: Timestamp) -> Self {
        let rule = labels.get(ALERT_NAME_LABEL).unwrap_or_default().to_string();
        let fingerprint = model::alert::AlertKey::new(rule, labels.clone()).fingerprint();
        let level = level_of(&labels, Level::Critical);
        Alert {
            labels,
            annotations: Annotations::new(),
            starts_at,
            ends_at: None,
            generator_url: String::new(),
            fingerprint,
            level,
            value: None,
        }
    }

    /// The alert a state-machine record stands for, or `None` when the record is neither firing
    /// nor resolved (pending and inactive alerts are nobody's business yet). `default_level`
    /// applies when the labels name none.
    pub fn from_record(record: &AlertRecord, default_level: Level) -> Option<Self> {
        let ends_at = match record.phase {
            AlertPhase::Firing => None,
            AlertPhase::Resolved => Some(record.resolved_at.unwrap_or(record.last_evaluated_at)),
            AlertPhase::Inactive | AlertPhase::Pending => return None,
        };
        let mut labels = record.key.labels.clone();
        if labels.get(ALERT_NAME_LABEL).is_none() {
            labels.set(ALERT_NAME_LABEL, record.key.rule.as_str());
        }
        Some(Alert {
            level: level_of(&labels, default_level),
            labels,
            annotations: record.annotations.clone(),
            starts_at: record
                .active_since
                .or(record.pending_since)
                .unwrap_or(record.last_evaluated_at),
            ends_at,
            generator_url: String::new(),
            fingerprint: record.fingerprint(),
            value: record.last_value,
        })
    }

    /// Firing or resolved.
    pub fn status(&self) -> AlertStatus {
        if self.ends_at.is_some() {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// True while it fires.
    pub fn is_firing(&self) -> bool {
        self.ends_at.is_none()
    }

    /// The rule's name (`alertname`), or `""`.
    pub fn name(&self) -> &str {
        self.labels.get(ALERT_NAME_LABEL).unwrap_or_default()
    }

    /// This alert marked resolved at `at`.
    pub fn resolved_at(mut self, at: Timestamp) -> Self {
        self.ends_at = Some(at);
        self
    }
}

/// The level an alert's labels give it: `level` when it names one, else `severity` read the
/// way Prometheus rule authors use it (`critical`/`page` -> critical, `warning`/`error` ->
/// non-critical, `info`/`none` -> logged), else `default`.
pub fn level_of(labels: &Labels, default: Level) -> Level {
    if let Some(level) = labels
        .get(LEVEL_LABEL)
        .and_then(|l| l.parse::<Level>().ok())
    {
        return level;
    }
    match labels
        .get(SEVERITY_LABEL)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("critical" | "page" | "emergency" | "alert") => Level::Critical,
        Some("warning" | "warn" | "error" | "major" | "minor") => Level::NonCritical,
        Some("info" | "informational" | "none" | "debug") => Level::Logged,
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::alert::AlertKey;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().copied().collect()
    }

    #[test]
    fn level_comes_from_level_then_severity_then_default() {
        let l = labels(&[("level", "non-critical"), ("severity", "critical")]);
        assert_eq!(level_of(&l, Level::Critical), Level::NonCritical);
        let s = labels(&[("severity", "warning")]);
        assert_eq!(level_of(&s, Level::Critical), Level::NonCritical);
        let s = labels(&[("severity", "Info")]);
        assert_eq!(level_of(&s, Level::Critical), Level::Logged);
        let none = labels(&[("job", "api")]);
        assert_eq!(level_of(&none, Level::NonCritical), Level::NonCritical);
        // A level word nobody knows is not a level: the severity or default applies.
        let odd = labels(&[("level", "urgent"), ("severity", "page")]);
        assert_eq!(level_of(&odd, Level::Logged), Level::Critical);
    }

    #[test]
    fn records_become_alerts_only_once_firing() {
        let key = AlertKey::new("DiskFull", labels(&[("mount", "/")]));
        let mut record = AlertRecord::new(key, Timestamp(10));
        record.phase = AlertPhase::Pending;
        record.pending_since = Some(Timestamp(10));
        assert!(Alert::from_record(&record, Level::Critical).is_none());

        record.phase = AlertPhase::Firing;
        record.active_since = Some(Timestamp(70));
        record.last_value = Some(99.0);
        let alert = Alert::from_record(&record, Level::Critical).unwrap();
        assert_eq!(alert.name(), "DiskFull");
        assert_eq!(alert.starts_at, Timestamp(70));
        assert_eq!(alert.status(), AlertStatus::Firing);
        assert_eq!(alert.fingerprint, record.fingerprint());
        assert_eq!(alert.value, Some(99.0));

        record.phase = AlertPhase::Resolved;
        record.resolved_at = Some(Timestamp(130));
        let alert = Alert::from_record(&record, Level::Critical).unwrap();
        assert_eq!(alert.ends_at, Some(Timestamp(130)));
        assert_eq!(alert.status().as_str(), "resolved");
    }
}
