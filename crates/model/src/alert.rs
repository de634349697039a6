//! The vocabulary of alerts: who an alert is ([`AlertKey`]), where it stands ([`AlertPhase`],
//! [`AlertRecord`]), what happened to it ([`Transition`]) and where that is kept
//! ([`AlertStateStore`]).
//!
//! The state machine that moves records lives in the `rules` crate and the database behind
//! [`AlertStateStore`] in the `store` crate; both speak only these types, so a record written by
//! one version and read back by the next after a restart means the same thing.

mod annotations;
mod documents;
mod history;
mod state_store;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Labels, Timestamp};

pub use annotations::Annotations;
pub use documents::{Document, DocumentStore, DocumentWrite};
pub use history::{FLAP_HISTORY_LEN, FlapHistory};
pub use state_store::{AlertStateStore, HistoryQuery, PruneSummary, StateBatch, StateStoreError};

/// The identity of one alert: the rule that raised it and the label set that tells it apart
/// from the rule's other alerts (one per failing series).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey {
    /// The rule's name (Prometheus' `alert:` field), e.g. `DiskFilling`.
    pub rule: String,
    /// The alert's labels: the failing series' labels plus the rule's own.
    pub labels: Labels,
}

impl AlertKey {
    /// The key of `rule`'s alert for `labels`.
    pub fn new(rule: impl Into<String>, labels: Labels) -> Self {
        AlertKey {
            rule: rule.into(),
            labels,
        }
    }

    /// A stable 64-bit digest of the rule name and labels.
    ///
    /// It is the alert's key in the state database, so it must never change between versions
    /// or platforms: it is FNV-1a over the UTF-8 bytes, with the bytes 0xFE and 0xFF (which
    /// never occur in UTF-8) separating the parts, so no two different keys run together into
    /// the same byte string. The standard library's hasher is not used because its output is
    /// not promised to stay the same across Rust releases.
    pub fn fingerprint(&self) -> Fingerprint {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(PRIME);
            }
        };
        eat(self.rule.as_bytes());
        eat(&[0xFF]);
        for (name, value) in self.labels.iter() {
            eat(name.as_bytes());
            eat(&[0xFE]);
            eat(value.as_bytes());
            eat(&[0xFF]);
        }
        Fingerprint(hash)
    }
}

impl fmt::Display for AlertKey {
    /// `Rule{a="1", b="2"}`, the way Prometheus prints an alert.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{", self.rule)?;
        for (i, (name, value)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

/// A stable digest of an [`AlertKey`]; see [`AlertKey::fingerprint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    /// Sixteen lower-case hex digits, the form stored in the state database.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = std::num::ParseIntError;

    /// Parses the sixteen hex digits [`Fingerprint`]'s `Display` writes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Fingerprint)
    }
}

/// Where an alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertPhase {
    /// Its condition is not met (or it was never evaluated).
    Inactive,
    /// Its condition is met but has not yet lasted its `for` duration and `for_checks`
    /// evaluations (Nagios' soft state).
    Pending,
    /// Its condition has lasted long enough: people are told (Nagios' hard state).
    Firing,
    /// It was firing and has recovered; it becomes inactive at its next evaluation.
    Resolved,
}

impl AlertPhase {
    /// Every phase, in life-cycle order.
    pub const ALL: [AlertPhase; 4] = [
        AlertPhase::Inactive,
        AlertPhase::Pending,
        AlertPhase::Firing,
        AlertPhase::Resolved,
    ];

    /// The stable lower-case name used in the state database and the APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertPhase::Inactive => "inactive",
            AlertPhase::Pending => "pending",
            AlertPhase::Firing => "firing",
            AlertPhase::Resolved => "resolved",
        }
    }

    /// The phase named `name` (as [`AlertPhase::as_str`] writes it).
    pub fn parse(name: &str) -> Option<AlertPhase> {
        AlertPhase::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for AlertPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the state machine knows about one alert: it keeps no memory outside this record,
/// so saving and reloading the record is a restart that loses nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Which alert this is.
    pub key: AlertKey,
    /// Where it stands.
    pub phase: AlertPhase,
    /// When the current failing stretch began (set while pending or firing); kept across a
    /// restart so a pending alert still fires on time.
    pub pending_since: Option<Timestamp>,
    /// When it started firing (set while firing, and kept when resolved).
    pub active_since: Option<Timestamp>,
    /// When it last resolved.
    pub resolved_at: Option<Timestamp>,
    /// The last evaluation that found it failing (drives `keep_firing_for`).
    pub last_failing_at: Option<Timestamp>,
    /// The last evaluation of any outcome that was counted (errors are not).
    pub last_evaluated_at: Timestamp,
    /// Failing evaluations in a row up to now (0 after a good one).
    pub consecutive_failing: u32,
    /// Good evaluations in a row up to now (0 after a failing one).
    pub consecutive_good: u32,
    /// Outcomes of the last [`FLAP_HISTORY_LEN`] evaluations, for flap detection.
    pub history: FlapHistory,
    /// True while the alert is flapping: its phase changes are recorded but not notified.
    pub flapping: bool,
    /// True when the last notification that went out for this alert said it was firing, so a
    /// resolution is notified only to people who heard of the problem.
    pub notified_firing: bool,
    /// Set when the alert started firing while something it depends on was firing: the name of
    /// that parent. Its firing is recorded and shown as suppressed instead of notified.
    pub suppressed_by: Option<String>,
    /// The value of the last failing evaluation; `None` when it failed because of no data.
    pub last_value: Option<f64>,
    /// The annotations of the last failing evaluation (templates already expanded).
    pub annotations: Annotations,
    /// The rule group whose rule keeps this alert: two groups may have rules of the same name,
    /// and each must get its own alerts back after a restart. Set on records read back from the
    /// state database; `None` on a record never saved (the batch that saves it names the group,
    /// [`StateBatch::group`]) and on records saved before the group was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl AlertRecord {
    /// A record that has never been evaluated: inactive, empty history.
    pub fn new(key: AlertKey, now: Timestamp) -> Self {
        AlertRecord {
            key,
            phase: AlertPhase::Inactive,
            pending_since: None,
            active_since: None,
            resolved_at: None,
            last_failing_at: None,
            last_evaluated_at: now,
            consecutive_failing: 0,
            consecutive_good: 0,
            history: FlapHistory::default(),
            flapping: false,
            notified_firing: false,
            suppressed_by: None,
            last_value: None,
            annotations: Annotations::new(),
            group: None,
        }
    }

    /// Shorthand for `self.key.fingerprint()`.
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.fingerprint()
    }
}

/// What a [`Transition`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The phase changed (`from` -> `to`).
    Phase,
    /// The alert started flapping (the phase may have changed in the same evaluation).
    FlappingStarted,
    /// The alert stopped flapping (the phase may have changed in the same evaluation).
    FlappingStopped,
    /// Its rule is no longer configured: a pending or firing alert was closed as resolved
    /// without an evaluation, so it neither stays firing forever nor is forgotten unsaid.
    RuleRemoved,
}

impl Change {
    /// The stable snake_case name used in the state database.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Phase => "phase",
            Change::FlappingStarted => "flapping_started",
            Change::FlappingStopped => "flapping_stopped",
            Change::RuleRemoved => "rule_removed",
        }
    }

    /// The change named `name` (as [`Change::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Change> {
        [
            Change::Phase,
            Change::FlappingStarted,
            Change::FlappingStopped,
            Change::RuleRemoved,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

/// One change to one alert, kept as history and handed to the notifier when `notify` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Which alert.
    pub key: AlertKey,
    /// What changed.
    pub change: Change,
    /// The phase before.
    pub from: AlertPhase,
    /// The phase after (equal to `from` when only the flapping mark changed).
    pub to: AlertPhase,
    /// The evaluation time at which it changed.
    pub at: Timestamp,
    /// True when people should be told.
    pub notify: bool,
    /// The alert's value at that evaluation (`None` when there was no data).
    pub value: Option<f64>,
    /// Set when the change was not notified because a parent was firing: the parent's name.
    pub suppressed_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rule: &str, pairs: &[(&str, &str)]) -> AlertKey {
        AlertKey::new(rule, pairs.iter().copied().collect())
    }

    #[test]
    fn fingerprint_is_stable_across_versions() {
        // These digests are primary keys in existing state databases: if this test fails, a
        // restart would forget every alert.
        assert_eq!(
            key("DiskFull", &[("instance", "db1"), ("mount", "/")])
                .fingerprint()
                .to_string(),
            "cda5cdf717f070e8"
        );
        assert_eq!(key("", &[]).fingerprint().to_string(), "af64724c8602eb6e");
    }

    #[test]
    fn fingerprint_tells_keys_apart_and_ignores_insertion_order() {
        let a = key("R", &[("a", "1"), ("b", "2")]);
        let b = key("R", &[("b", "2"), ("a", "1")]);
        assert_eq!(a.fingerprint(), b.fingerprint());
        // Moving bytes between parts changes the digest.
        assert_ne!(
            key("R", &[("ab", "c")]).fingerprint(),
            key("R", &[("a", "bc")]).fingerprint()
        );
        assert_ne!(
            key("Ra", &[("b", "c")]).fingerprint(),
            key("R", &[("ab", "c")]).fingerprint()
        );
        let fp = a.fingerprint();
        assert_eq!(fp.to_string().parse::<Fingerprint>().unwrap(), fp);
    }

    #[test]
    fn a_record_survives_serialization() {
        // Whatever form a record is kept in, every field must come back: the state machine has
        // no other memory across a restart.
        let mut record = AlertRecord::new(key("DiskFull", &[("mount", "/")]), Timestamp(5));
        record.phase = AlertPhase::Firing;
        record.pending_since = Some(Timestamp(1));
        record.active_since = Some(Timestamp(4));
        record.last_failing_at = Some(Timestamp(5));
        record.consecutive_failing = 3;
        record.history.push(true);
        record.flapping = true;
        record.notified_firing = true;
        record.suppressed_by = Some("RouterDown".into());
        record.last_value = Some(97.5);
        record.annotations.insert("summary".into(), "full".into());
        record.group = Some("disks".into());
        let text = toml::to_string(&record).unwrap();
        let back: AlertRecord = toml::from_str(&text).unwrap();
        assert_eq!(back, record, "{text}");
    }

    #[test]
    fn names_round_trip() {
        for p in AlertPhase::ALL {
            assert_eq!(AlertPhase::parse(p.as_str()), Some(p));
        }
        for c in [
            Change::Phase,
            Change::FlappingStarted,
            Change::FlappingStopped,
        ] {
            assert_eq!(Change::parse(c.as_str()), Some(c));
        }
        assert_eq!(AlertPhase::parse("Firing"), None);
        assert_eq!(key("Up", &[("job", "api")]).to_string(), r#"Up{job="api"}"#);
    }
}
