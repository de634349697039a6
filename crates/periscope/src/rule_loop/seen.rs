//! The no-data memory of Periscope's own rules across restarts.
//!
//! A `[rule.NAME]` that watches its series fires "no data" for a series it found at its last
//! evaluation and misses now. That memory (which series it last found) lives in the group; kept
//! only there, a series that stopped arriving just before a restart would never fire after it.
//! So every change to it is saved as documents of kind [`SEEN_KIND`] in the state database,
//! one per series (a series that appears is put, one that vanishes is deleted: nothing is
//! written while the set stays the same), and given back to the rules at start.
//!
//! A document names its group and rule. At start it goes back to that group's rule; when the
//! rule is now in another group (its interval changed), to that one, and the document moves
//! with it; when no such rule is left, the document is deleted.

use model::alert::{AlertKey, Document, DocumentWrite};
use model::{Labels, Timestamp};
use rules::group::SeenChange;
use serde::{Deserialize, Serialize};

use super::LoadedGroup;

/// The document kind of one series a rule found at its last evaluation.
pub const SEEN_KIND: &str = "rule_seen";

/// One series a rule found, as stored.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SeenSeries {
    group: String,
    rule: String,
    labels: Labels,
}

/// The document key of `labels` seen by `rule` of `group`: the group, then the alert
/// fingerprint of rule and labels (stable across versions, and short enough for any key index
/// however long the labels are).
fn key(group: &str, rule: &str, labels: &Labels) -> String {
    let fingerprint = AlertKey::new(rule, labels.clone()).fingerprint();
    format!("{group}/{fingerprint}")
}

fn put(group: &str, rule: &str, labels: Labels, now: Timestamp) -> DocumentWrite {
    let key = key(group, rule, &labels);
    let body = SeenSeries {
        group: group.to_string(),
        rule: rule.to_string(),
        labels,
    };
    DocumentWrite::Put(Document {
        kind: SEEN_KIND.to_string(),
        key,
        // Strings and pairs of strings always serialize.
        body: serde_json::to_string(&body).unwrap_or_default(),
        updated_at: now,
    })
}

fn delete(key: String) -> DocumentWrite {
    DocumentWrite::Delete {
        kind: SEEN_KIND.to_string(),
        key,
    }
}

/// The writes that keep the stored memory of `rule` in `group` equal to what it found now.
pub fn writes(group: &str, rule: &str, change: SeenChange, now: Timestamp) -> Vec<DocumentWrite> {
    let mut out = Vec::with_capacity(change.appeared.len() + change.vanished.len());
    for labels in change.vanished {
        out.push(delete(key(group, rule, &labels)));
    }
    for labels in change.appeared {
        out.push(put(group, rule, labels, now));
    }
    out
}

/// What giving the stored memory back found.
#[derive(Debug, Default)]
pub struct Restored {
    /// Series given back to a rule.
    pub series: usize,
    /// Writes to tidy the stored memory: documents of rules that are gone deleted, documents of
    /// rules that moved to another group rewritten under it. Only a writer applies them.
    pub tidy: Vec<DocumentWrite>,
    /// Documents that could not be read, each named (they are deleted by `tidy`).
    pub problems: Vec<String>,
}

/// Gives each Periscope rule the series it found before the restart, from `documents` (all of
/// kind [`SEEN_KIND`]); `now` stamps the documents that move.
pub fn restore(groups: &mut [LoadedGroup], documents: Vec<Document>, now: Timestamp) -> Restored {
    let mut out = Restored::default();
    let mut given: Vec<Vec<(String, Labels)>> = vec![Vec::new(); groups.len()];
    for document in documents {
        let seen: SeenSeries = match serde_json::from_str(&document.body) {
            Ok(s) => s,
            Err(e) => {
                out.problems.push(format!(
                    "state database document {SEEN_KIND}/{}: unreadable ({e}); that series \
                     is forgotten",
                    document.key
                ));
                out.tidy.push(delete(document.key));
                continue;
            }
        };
        let watching = |g: &LoadedGroup| g.group.seen(&seen.rule).is_some();
        let home = groups
            .iter()
            .position(|g| g.def.name == seen.group && watching(g))
            .or_else(|| {
                let mut candidates = groups.iter().enumerate().filter(|(_, g)| watching(g));
                match (candidates.next(), candidates.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            });
        let Some(slot) = home else {
            out.tidy.push(delete(document.key));
            continue;
        };
        let name = &groups[slot].def.name;
        if *name != seen.group {
            out.tidy.push(delete(document.key));
            out.tidy
                .push(put(name, &seen.rule, seen.labels.clone(), now));
        }
        given[slot].push((seen.rule, seen.labels));
    }
    for (loaded, series) in groups.iter_mut().zip(given) {
        let mut by_rule: std::collections::BTreeMap<String, Vec<Labels>> = Default::default();
        for (rule, labels) in series {
            by_rule.entry(rule).or_default().push(labels);
        }
        for (rule, labels) in by_rule {
            out.series += labels.len();
            loaded.group.restore_seen(&rule, labels);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::RulesConfig;

    fn native_groups(interval: Duration) -> Vec<LoadedGroup> {
        let def: rules::native::RuleDef =
            toml::from_str("expr = 'queue_depth'\nabove = { critical = 1000 }\n").unwrap();
        let rule = rules::native::compile("Queue", &def, &Default::default()).unwrap();
        let config = RulesConfig {
            enabled: true,
            interval: Duration::from_secs(60),
            files: Vec::new(),
            native: vec![rules::native::NativeRule {
                interval: Some(interval),
                ..rule
            }],
        };
        super::super::build_groups(&config).expect("groups build")
    }

    fn stored(writes: Vec<DocumentWrite>) -> Vec<Document> {
        writes
            .into_iter()
            .filter_map(|w| match w {
                DocumentWrite::Put(d) => Some(d),
                DocumentWrite::Delete { .. } => None,
            })
            .collect()
    }

    fn mail() -> Labels {
        Labels::new().with("queue", "mail")
    }

    #[test]
    fn what_a_rule_saw_comes_back_to_it_and_a_vanished_series_is_deleted() {
        let change = SeenChange {
            appeared: vec![mail()],
            vanished: Vec::new(),
        };
        let written = writes("periscope", "Queue", change, Timestamp(1));
        let mut groups = native_groups(Duration::from_secs(60));
        let restored = restore(&mut groups, stored(written.clone()), Timestamp(2));
        assert_eq!(restored.series, 1);
        assert!(restored.tidy.is_empty() && restored.problems.is_empty());
        assert!(groups[0].group.seen("Queue").unwrap().contains(&mail()));

        // The series vanishing deletes exactly the document that was put.
        let gone = writes(
            "periscope",
            "Queue",
            SeenChange {
                appeared: Vec::new(),
                vanished: vec![mail()],
            },
            Timestamp(3),
        );
        let DocumentWrite::Put(put) = &written[0] else {
            panic!("a put")
        };
        assert_eq!(
            gone,
            [DocumentWrite::Delete {
                kind: SEEN_KIND.into(),
                key: put.key.clone()
            }]
        );
    }

    #[test]
    fn a_rule_that_moved_group_takes_its_memory_along_and_a_gone_rule_loses_it() {
        let written = writes(
            "periscope",
            "Queue",
            SeenChange {
                appeared: vec![mail()],
                vanished: Vec::new(),
            },
            Timestamp(1),
        );
        let mut gone = writes(
            "periscope",
            "Removed",
            SeenChange {
                appeared: vec![mail()],
                vanished: Vec::new(),
            },
            Timestamp(1),
        );
        let mut documents = stored(written);
        documents.append(&mut stored(std::mem::take(&mut gone)));
        documents.push(Document {
            kind: SEEN_KIND.into(),
            key: "periscope/broken".into(),
            body: "{".into(),
            updated_at: Timestamp(1),
        });
        let mut groups = native_groups(Duration::from_secs(30));
        assert_eq!(groups[0].def.name, "periscope-every-30s");
        let restored = restore(&mut groups, documents, Timestamp(2));
        assert_eq!(restored.series, 1);
        assert!(groups[0].group.seen("Queue").unwrap().contains(&mail()));
        assert_eq!(restored.problems.len(), 1);
        assert!(
            restored.problems[0].contains("rule_seen/periscope/broken"),
            "{:?}",
            restored.problems
        );
        let deleted = restored
            .tidy
            .iter()
            .filter(|w| matches!(w, DocumentWrite::Delete { .. }))
            .count();
        assert_eq!(
            deleted, 3,
            "moved, removed rule, unreadable: {:?}",
            restored.tidy
        );
        let moved: Vec<&Document> = restored
            .tidy
            .iter()
            .filter_map(|w| match w {
                DocumentWrite::Put(d) => Some(d),
                DocumentWrite::Delete { .. } => None,
            })
            .collect();
        assert_eq!(moved.len(), 1);
        assert!(moved[0].key.starts_with("periscope-every-30s/"));
    }
}
