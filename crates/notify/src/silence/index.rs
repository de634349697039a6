//! Which silences could possibly match an alert, found without running every silence's
//! matchers.
//!
//! With a million alerts checked against a few thousand silences, scanning every silence's
//! regexes per alert is the cost to avoid. Almost every silence has an equality matcher
//! (`alertname="DiskFull"`, `instance="db1"`), and an alert can only match it when it carries
//! that exact label value. So each silence is filed under its first equality matcher with a
//! non-empty value; a check looks up the alert's own label pairs and adds the few silences
//! filed under none. The matchers still decide; the index only rules out.

use std::collections::{BTreeSet, HashMap};

use model::{Labels, MatchOp};

use crate::matcher::Matchers;

/// Silence ids filed by one `(label, value)` each, plus those with no equality to file by.
#[derive(Clone, Debug, Default)]
pub(super) struct Index {
    by_label: HashMap<String, HashMap<String, BTreeSet<String>>>,
    unkeyed: BTreeSet<String>,
}

impl Index {
    /// The `(label, value)` a silence with `matchers` is filed under: an alert without that
    /// exact pair cannot match. `x=""` does not count, as it matches alerts lacking `x`.
    fn key(matchers: &Matchers) -> Option<(&str, &str)> {
        matchers.0.iter().find_map(|m| match &m.op {
            MatchOp::Equal(v) if !v.is_empty() => Some((m.name.as_str(), v.as_str())),
            _ => None,
        })
    }

    pub(super) fn insert(&mut self, id: &str, matchers: &Matchers) {
        match Self::key(matchers) {
            Some((name, value)) => {
                self.by_label
                    .entry(name.to_string())
                    .or_default()
                    .entry(value.to_string())
                    .or_default()
                    .insert(id.to_string());
            }
            None => {
                self.unkeyed.insert(id.to_string());
            }
        }
    }

    pub(super) fn remove(&mut self, id: &str, matchers: &Matchers) {
        let Some((name, value)) = Self::key(matchers) else {
            self.unkeyed.remove(id);
            return;
        };
        let Some(values) = self.by_label.get_mut(name) else {
            return;
        };
        if let Some(ids) = values.get_mut(value) {
            ids.remove(id);
            if ids.is_empty() {
                values.remove(value);
            }
        }
        if values.is_empty() {
            self.by_label.remove(name);
        }
    }

    /// Every silence that might match `labels`; each at most once, since a silence is filed
    /// under one pair and an alert has one value per label.
    pub(super) fn candidates<'a>(&'a self, labels: &'a Labels) -> impl Iterator<Item = &'a str> {
        labels
            .iter()
            .filter_map(|(name, value)| self.by_label.get(name)?.get(value))
            .flatten()
            .chain(&self.unkeyed)
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matchers(text: &str) -> Matchers {
        crate::matcher::parse(text).unwrap()
    }

    #[test]
    fn only_silences_filed_under_an_alert_pair_or_unfiled_are_candidates() {
        let mut index = Index::default();
        index.insert("disk", &matchers(r#"{alertname="DiskFull", host=~"db.*"}"#));
        index.insert("web", &matchers(r#"{job!="x", host="web1"}"#));
        index.insert("regex", &matchers(r#"{host=~"db.*", team=""}"#));
        let labels: Labels = [("alertname", "DiskFull"), ("host", "db1")]
            .into_iter()
            .collect();
        let found: Vec<&str> = index.candidates(&labels).collect();
        assert_eq!(found, ["disk", "regex"]);

        index.remove("disk", &matchers(r#"{alertname="DiskFull", host=~"db.*"}"#));
        index.remove("regex", &matchers(r#"{host=~"db.*", team=""}"#));
        assert_eq!(index.candidates(&labels).count(), 0);
        assert!(!index.by_label.contains_key("alertname"));
    }
}
