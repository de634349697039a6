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

/// A querier that answers from `base` and the samples added so far (which win at equal times).
///
/// The overlay owns the samples the group produced (its caller takes them back with
/// [`Overlay::into_samples`]) and remembers where each metric name's samples are, so a
/// selector with a metric name (nearly all of them) looks only at the samples of that name: a
/// group of ten thousand recording rules must not scan every earlier rule's output for each
/// query. Most outputs (`ALERTS`, `ALERTS_FOR_STATE`) are never queried, so adding a sample
/// only notes its position; the answer is built when a query asks.
pub(super) struct Overlay<'a> {
    base: &'a dyn Querier,
    samples: Vec<OutputSample>,
    /// Positions in `samples` by metric name (empty for samples without one).
    by_name: HashMap<Box<str>, Vec<usize>>,
}

impl<'a> Overlay<'a> {
    pub(super) fn new(base: &'a dyn Querier) -> Self {
        Overlay {
            base,
            samples: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    /// Makes `samples` visible to the following queries.
    pub(super) fn add(&mut self, samples: Vec<OutputSample>) {
        for s in samples {
            let name = s.labels.metric_name().unwrap_or_default();
            let at = self.samples.len();
            match self.by_name.get_mut(name) {
                Some(positions) => positions.push(at),
                None => {
                    self.by_name.insert(name.into(), vec![at]);
                }
            }
            self.samples.push(s);
        }
    }

    /// Every sample added, in the order added.
    pub(super) fn into_samples(self) -> Vec<OutputSample> {
        self.samples
    }

    /// The added samples a query with these matchers may need, in the order added.
    fn candidates(&self, matchers: &[Matcher]) -> Vec<&OutputSample> {
        let name = matchers.iter().find_map(|m| match &m.op {
            MatchOp::Equal(v) if m.name == METRIC_NAME_LABEL => Some(v.as_str()),
            _ => None,
        });
        match name {
            Some(n) => self.by_name.get(n).map_or_else(Vec::new, |positions| {
                positions.iter().map(|&i| &self.samples[i]).collect()
            }),
            None => self.samples.iter().collect(),
        }
    }

    /// The added samples that match and lie in `range`, sorted by labels and, within a series,
    /// in the order added.
    fn matching(&self, matchers: &[Matcher], range: TimeRange) -> Vec<&OutputSample> {
        if range.start > range.end {
            return Vec::new();
        }
        let mut found: Vec<&OutputSample> = self
            .candidates(matchers)
            .into_iter()
            .filter(|s| {
                range.start.0 <= s.t
                    && s.t <= range.end.0
                    && Matcher::all_match(matchers, &s.labels)
            })
            .collect();
        // Stable: a later sample of a series at the same time must still come later.
        found.sort_by(|a, b| a.labels.cmp(&b.labels));
        found
    }

    /// The added samples as series (one per label set, samples by time, the one added last
    /// winning at equal times), sorted by labels.
    fn added_series(&self, matchers: &[Matcher], range: TimeRange) -> Vec<SeriesData> {
        let found = self.matching(matchers, range);
        let mut out: Vec<SeriesData> = Vec::new();
        for group in found.chunk_by(|a, b| a.labels == b.labels) {
            let mut points: Vec<(i64, f64)> = Vec::with_capacity(group.len());
            for s in group {
                match points.binary_search_by_key(&s.t, |p| p.0) {
                    Ok(i) => points[i].1 = s.value,
                    Err(i) => points.insert(i, (s.t, s.value)),
                }
            }
            out.push(SeriesData {
                labels: group[0].labels.clone(),
                timestamps: points.iter().map(|p| Timestamp(p.0)).collect(),
                values: points.iter().map(|p| p.1).collect(),
                start_timestamps: Vec::new(),
            });
        }
        out
    }
}

impl Querier for Overlay<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<SeriesData>, StoreError> {
        let out = self.base.select(matchers, range)?;
        let added = self.added_series(matchers, range);
        if added.is_empty() {
            return Ok(out);
        }
        Ok(merge(out, added))
    }

    /// The base decides before loading samples (a rule selecting millions of series must not
    /// load them to find out); the group's own outputs are few and counted after the merge.
    fn select_at_most(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
        max_series: usize,
    ) -> Result<Option<Vec<SeriesData>>, StoreError> {
        let Some(out) = self.base.select_at_most(matchers, range, max_series)? else {
            return Ok(None);
        };
        let added = self.added_series(matchers, range);
        let merged = if added.is_empty() {
            out
        } else {
            merge(out, added)
        };
        Ok((merged.len() <= max_series).then_some(merged))
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        let mut names = self.base.label_names(matchers, range)?;
        for s in self.matching(matchers, range) {
            names.extend(s.labels.iter().map(|(n, _)| n.to_string()));
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
        for s in self.matching(matchers, range) {
            values.extend(s.labels.get(name).map(str::to_string));
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

/// One series' samples from both sides, by time; `extra` wins at equal times. Rule outputs
/// have no start timestamps, so the merged series keeps none.
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
        start_timestamps: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that knows how many series match but must never load them.
    struct Huge {
        matching: usize,
    }

    impl Querier for Huge {
        fn select(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<SeriesData>, StoreError> {
            panic!("the overlay loaded every series to count them");
        }

        fn select_at_most(
            &self,
            _: &[Matcher],
            _: TimeRange,
            max_series: usize,
        ) -> Result<Option<Vec<SeriesData>>, StoreError> {
            assert!(self.matching > max_series, "only used over the limit");
            Ok(None)
        }

        fn label_names(&self, _: &[Matcher], _: TimeRange) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }

        fn label_values(
            &self,
            _: &str,
            _: &[Matcher],
            _: TimeRange,
        ) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
    }

    fn sample(name: &str, t: i64) -> OutputSample {
        OutputSample {
            labels: Labels::new().with(METRIC_NAME_LABEL, name),
            t,
            value: 1.0,
        }
    }

    #[test]
    fn the_series_limit_is_checked_by_the_base_before_loading() {
        let base = Huge {
            matching: 10_000_000,
        };
        let overlay = Overlay::new(&base);
        let all = [Matcher::equal(METRIC_NAME_LABEL, "m")];
        let range = TimeRange::new(Timestamp(0), Timestamp(10));
        assert!(overlay.select_at_most(&all, range, 1000).unwrap().is_none());
    }

    #[test]
    fn the_group_outputs_count_towards_the_limit() {
        let base = crate::promqltest::MemoryQuerier::new();
        let mut overlay = Overlay::new(&base);
        overlay.add(vec![sample("m", 5), sample("m", 6)]);
        let mut other = sample("m", 5);
        other.labels.set("x", "y");
        overlay.add(vec![other]);
        let m = [Matcher::equal(METRIC_NAME_LABEL, "m")];
        let range = TimeRange::new(Timestamp(0), Timestamp(10));
        let two = overlay.select_at_most(&m, range, 2).unwrap().unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].timestamps, [Timestamp(5), Timestamp(6)]);
        assert!(overlay.select_at_most(&m, range, 1).unwrap().is_none());
    }
}
