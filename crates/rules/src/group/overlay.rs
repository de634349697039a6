//! The caller's querier with the samples produced earlier in the same evaluation laid over it,
//! so a rule sees what the rules before it recorded, as in Prometheus, while nothing is written
//! to the caller's store until the group is done.

use std::cmp::Ordering;
use std::collections::HashMap;

use model::{
    Labels, METRIC_NAME_LABEL, MatchOp, Matcher, Querier, SeriesData, StoreError, TimeRange,
    Timestamp,
};

use super::OutputSample;
use crate::promqltest::MemoryQuerier;

/// A querier that answers from `base` and the samples added so far (which win at equal times).
///
/// Added samples are kept per metric name, so a selector with a metric name (nearly all of
/// them) looks only at the series of that name: a group of ten thousand recording rules must
/// not scan every earlier rule's output for each query.
pub(super) struct Overlay<'a> {
    base: &'a dyn Querier,
    by_name: HashMap<String, MemoryQuerier>,
}

impl<'a> Overlay<'a> {
    pub(super) fn new(base: &'a dyn Querier) -> Self {
        Overlay {
            base,
            by_name: HashMap::new(),
        }
    }

    /// Makes `samples` visible to the following queries.
    pub(super) fn add(&mut self, samples: &[OutputSample]) {
        for s in samples {
            let name = s.labels.metric_name().unwrap_or_default();
            let bucket = match self.by_name.get_mut(name) {
                Some(b) => b,
                None => self.by_name.entry(name.to_string()).or_default(),
            };
            bucket.add_sample(&s.labels, s.t, s.value);
        }
    }

    /// The buckets a query with these matchers may need.
    fn buckets<'s>(&'s self, matchers: &[Matcher]) -> Vec<&'s MemoryQuerier> {
        let name = matchers.iter().find_map(|m| match &m.op {
            MatchOp::Equal(v) if m.name == METRIC_NAME_LABEL => Some(v.as_str()),
            _ => None,
        });
        match name {
            Some(n) => self.by_name.get(n).into_iter().collect(),
            None => self.by_name.values().collect(),
        }
    }
}

impl Querier for Overlay<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<SeriesData>, StoreError> {
        let mut out = self.base.select(matchers, range)?;
        for bucket in self.buckets(matchers) {
            out = merge(out, bucket.select(matchers, range)?);
        }
        Ok(out)
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        let mut names = self.base.label_names(matchers, range)?;
        for bucket in self.buckets(matchers) {
            names.extend(bucket.label_names(matchers, range)?);
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        let mut values = self.base.label_values(name, matchers, range)?;
        for bucket in self.buckets(matchers) {
            values.extend(bucket.label_values(name, matchers, range)?);
        }
        values.sort();
        values.dedup();
        Ok(values)
    }
}

/// Merges two label-sorted answers into one; a series in both gets both sample lists merged.
fn merge(base: Vec<SeriesData>, extra: Vec<SeriesData>) -> Vec<SeriesData> {
    let mut out = Vec::with_capacity(base.len() + extra.len());
    let mut base = base.into_iter().peekable();
    let mut extra = extra.into_iter().peekable();
    loop {
        let order = match (base.peek(), extra.peek()) {
            (Some(b), Some(e)) => b.labels.cmp(&e.labels),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        match order {
            Ordering::Less => out.extend(base.next()),
            Ordering::Greater => out.extend(extra.next()),
            Ordering::Equal => {
                if let (Some(b), Some(e)) = (base.next(), extra.next()) {
                    out.push(merge_series(b, e));
                }
            }
        }
    }
    out
}

/// One series' samples from both sides, by time; `extra` wins at equal times.
fn merge_series(base: SeriesData, extra: SeriesData) -> SeriesData {
    let labels: Labels = base.labels;
    let mut points: Vec<(Timestamp, f64)> = base.timestamps.into_iter().zip(base.values).collect();
    for (t, v) in extra.timestamps.into_iter().zip(extra.values) {
        match points.binary_search_by(|(pt, _)| pt.cmp(&t)) {
            Ok(i) => points[i].1 = v,
            Err(i) => points.insert(i, (t, v)),
        }
    }
    let (timestamps, values) = points.into_iter().unzip();
    SeriesData {
        labels,
        timestamps,
        values,
    }
}
