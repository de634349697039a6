//! [`MemoryQuerier`]: the series of a test script, in memory, behind [`model::Querier`].

use std::collections::{BTreeMap, BTreeSet};

use model::{Labels, Matcher, Querier, SeriesData, StoreError, TimeRange, Timestamp};

/// Series held in memory and served through [`Querier`], sorted by label set.
///
/// Stale markers are stored and returned like any value: handling them is the evaluator's job,
/// as it is with the real store. Series that also had native histogram samples are remembered
/// by label set (their histogram samples are not kept), so a runner can tell which queries
/// would need them. Start timestamps given for a series' samples are served with them.
#[derive(Clone, Debug, Default)]
pub struct MemoryQuerier {
    series: BTreeMap<Labels, BTreeMap<i64, f64>>,
    /// Per series, the start timestamp of each sample time that has one.
    start_times: BTreeMap<Labels, BTreeMap<i64, i64>>,
    histogram_series: BTreeSet<Labels>,
}

impl MemoryQuerier {
    /// An empty querier.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores one float sample; a second sample at the same time replaces the first.
    pub fn add_sample(&mut self, labels: &Labels, t: i64, v: f64) {
        self.series.entry(labels.clone()).or_default().insert(t, v);
    }

    /// Gives the sample of `labels` at `t` the start timestamp `st` (ms); a sample without one
    /// reads as `0`, Prometheus' "none".
    pub fn set_start_time(&mut self, labels: &Labels, t: i64, st: i64) {
        self.start_times
            .entry(labels.clone())
            .or_default()
            .insert(t, st);
    }

    /// Records that `labels` has native histogram samples, which are not stored.
    pub fn mark_histogram_series(&mut self, labels: &Labels) {
        self.histogram_series.insert(labels.clone());
    }

    /// The label sets recorded with [`MemoryQuerier::mark_histogram_series`].
    pub fn histogram_series(&self) -> impl Iterator<Item = &Labels> {
        self.histogram_series.iter()
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.series.clear();
        self.start_times.clear();
        self.histogram_series.clear();
    }

    /// Matching series that have at least one sample inside `range`, in label order.
    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
        range: TimeRange,
    ) -> impl Iterator<Item = (&'a Labels, &'a BTreeMap<i64, f64>)> + 'a {
        self.series.iter().filter(move |(labels, samples)| {
            Matcher::all_match(matchers, labels)
                && samples.range(range.start.0..=range.end.0).next().is_some()
        })
    }
}

impl Querier for MemoryQuerier {
    fn select(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<SeriesData>, StoreError> {
        if range.start > range.end {
            return Ok(Vec::new());
        }
        Ok(self
            .matching(matchers, range)
            .map(|(labels, samples)| {
                let in_range = samples.range(range.start.0..=range.end.0);
                let (timestamps, values) =
                    in_range.clone().map(|(t, v)| (Timestamp(*t), *v)).unzip();
                let start_timestamps = match self.start_times.get(labels) {
                    Some(known) => in_range
                        .map(|(t, _)| known.get(t).copied().unwrap_or(0))
                        .collect(),
                    None => Vec::new(),
                };
                SeriesData {
                    labels: labels.clone(),
                    timestamps,
                    values,
                    start_timestamps,
                }
            })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        if range.start > range.end {
            return Ok(Vec::new());
        }
        let names: BTreeSet<&str> = self
            .matching(matchers, range)
            .flat_map(|(labels, _)| labels.iter().map(|(n, _)| n))
            .collect();
        Ok(names.into_iter().map(str::to_string).collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        if range.start > range.end {
            return Ok(Vec::new());
        }
        let values: BTreeSet<&str> = self
            .matching(matchers, range)
            .filter_map(|(labels, _)| labels.get(name))
            .collect();
        Ok(values.into_iter().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use model::{AnchoredRegex, MatchOp};

    use super::*;
    use crate::promql::{STALE_NAN_BITS, is_stale_nan};

    fn range(a: i64, b: i64) -> TimeRange {
        TimeRange::new(Timestamp(a), Timestamp(b))
    }

    #[test]
    fn select_honours_matchers_range_and_order_and_keeps_stale_markers() {
        let mut q = MemoryQuerier::new();
        let up = |job: &str| Labels::new().with("__name__", "up").with("job", job);
        q.add_sample(&up("web"), 0, 1.0);
        q.add_sample(&up("web"), 60_000, f64::from_bits(STALE_NAN_BITS));
        q.add_sample(&up("api"), 120_000, 3.0);
        q.add_sample(&Labels::new().with("__name__", "down"), 0, 5.0);

        let name = [Matcher::equal("__name__", "up")];
        let all = q.select(&name, range(0, 200_000)).unwrap();
        let jobs: Vec<_> = all.iter().map(|s| s.labels.get("job").unwrap()).collect();
        assert_eq!(jobs, ["api", "web"], "sorted by label set");
        assert!(
            is_stale_nan(all[1].values[1]),
            "stale markers are returned as stored"
        );

        // Both ends of the range are included; a series without samples inside is left out.
        let part = q.select(&name, range(60_000, 120_000)).unwrap();
        assert_eq!(part.len(), 2);
        assert_eq!(part[1].timestamps, vec![Timestamp(60_000)]);
        assert_eq!(q.select(&name, range(1, 59_999)).unwrap().len(), 0);

        let re = Matcher {
            name: "job".into(),
            op: MatchOp::NotRegex(AnchoredRegex::new("a.*").unwrap()),
        };
        let web = q.select(&[name[0].clone(), re], range(0, 200_000)).unwrap();
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].labels.get("job"), Some("web"));

        assert_eq!(
            q.label_values("job", &[], range(0, 0)).unwrap(),
            vec!["web".to_string()]
        );
        assert_eq!(
            q.label_names(&[], range(0, 200_000)).unwrap(),
            vec!["__name__".to_string(), "job".to_string()]
        );
        q.clear();
        assert!(q.select(&[], range(0, 200_000)).unwrap().is_empty());
    }
}
