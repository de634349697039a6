//! Reads: blocks and head merged per series, in time order, one sample per timestamp.
//!
//! A timestamp can be present twice only transiently (a block cut while its chunks are still
//! readable from the head, or an orphan block before recovery); the values are then equal by
//! the exactly-once rule, so keeping the first is enough.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use model::{Labels, Matcher, SeriesData, TimeRange, Timestamp};

use crate::block::Block;
use crate::head::Head;

/// What reads need: the writing store and a read-only view answer through the same code, so
/// they give the same results for the same data.
pub trait Source {
    /// The readable blocks, ascending by (min_t, seq).
    fn blocks(&self) -> Vec<Arc<Block>>;
    /// The head.
    fn head(&self) -> &Head;
    /// Remembers a read problem (a corrupt series blob), which is skipped.
    fn problem(&self, what: String);
}

/// `Querier::select`.
pub fn select(shared: &impl Source, matchers: &[Matcher], range: TimeRange) -> Vec<SeriesData> {
    select_at_most(shared, matchers, range, usize::MAX).unwrap_or_default()
}

/// `Querier::select_at_most`: `None` as soon as more than `limit` series match, which a source
/// (a block, the head) tells from its postings before any sample is read; so a selector that
/// would load millions of series is refused before it takes their memory, and a query within
/// the limit pays nothing for the check. Sources can share series, so the final count is
/// checked too.
pub fn select_at_most(
    shared: &impl Source,
    matchers: &[Matcher],
    range: TimeRange,
    limit: usize,
) -> Option<Vec<SeriesData>> {
    let (start, end) = (range.start.0, range.end.0);
    let mut merged: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for b in shared.blocks().iter().filter(|b| b.overlaps(start, end)) {
        let ids = b.select(matchers);
        if ids.len() > limit {
            return None;
        }
        for i in ids {
            let Some(e) = b.entry(i) else { continue };
            if e.min_t > end || e.max_t < start {
                continue;
            }
            match b.read(i) {
                Ok((ts, vals)) => {
                    let lo = ts.partition_point(|&t| t < start);
                    let hi = ts.partition_point(|&t| t <= end);
                    merged
                        .entry(b.labels(i))
                        .or_default()
                        .extend(ts[lo..hi].iter().copied().zip(vals[lo..hi].iter().copied()));
                }
                // Reported and skipped: one bad series must not fail the whole query.
                Err(e) => shared.problem(e.to_string()),
            }
        }
    }
    if merged.is_empty() {
        // Only the head answers (recent data: every rule evaluation): no merge needed.
        let mut series = shared.head().select_series(matchers, range, limit)?;
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        return Some(series);
    }
    if shared.head().matching_series(matchers) > limit {
        return None;
    }
    let from_head = shared.head().select(matchers, range);
    for (labels, samples) in from_head {
        merged.entry(labels).or_default().extend(samples);
    }
    let series = merged
        .into_iter()
        .filter_map(|(labels, mut samples)| {
            samples.sort_by_key(|&(t, _)| t);
            samples.dedup_by_key(|&mut (t, _)| t);
            if samples.is_empty() {
                return None;
            }
            let (timestamps, values) = samples.into_iter().map(|(t, v)| (Timestamp(t), v)).unzip();
            Some(SeriesData {
                labels,
                timestamps,
                values,
                start_timestamps: Vec::new(),
            })
        })
        .collect::<Vec<_>>();
    (series.len() <= limit).then_some(series)
}

/// Calls `f` with the label pairs of every matching series with samples in `range`.
fn for_each_series(
    shared: &impl Source,
    matchers: &[Matcher],
    range: TimeRange,
    mut f: impl FnMut(&mut dyn Iterator<Item = (&str, &str)>),
) {
    let (start, end) = (range.start.0, range.end.0);
    for b in shared.blocks().iter().filter(|b| b.overlaps(start, end)) {
        for i in b.select(matchers) {
            if b.entry(i)
                .is_some_and(|e| e.min_t <= end && e.max_t >= start)
            {
                f(&mut b.pairs(i));
            }
        }
    }
    shared.head().for_each_labels(matchers, range, f);
}

/// `Querier::label_names`.
pub fn label_names(shared: &impl Source, matchers: &[Matcher], range: TimeRange) -> Vec<String> {
    let mut names = BTreeSet::new();
    for_each_series(shared, matchers, range, |pairs| {
        for (n, _) in pairs {
            if !names.contains(n) {
                names.insert(n.to_string());
            }
        }
    });
    names.into_iter().collect()
}

/// `Querier::label_values`.
pub fn label_values(
    shared: &impl Source,
    name: &str,
    matchers: &[Matcher],
    range: TimeRange,
) -> Vec<String> {
    let mut values = BTreeSet::new();
    for_each_series(shared, matchers, range, |pairs| {
        for (n, v) in pairs {
            if n == name && !values.contains(v) {
                values.insert(v.to_string());
            }
        }
    });
    values.into_iter().collect()
}
