//! Reading the head for a query that only the head answers (every rule evaluation): the
//! matching series straight as [`SeriesData`], with one scratch buffer for decoding instead of
//! a vector per series that is then split in two.

use model::{Matcher, SeriesData, TimeRange, Timestamp};

use super::{Head, collect_chunk};

impl Head {
    /// The matching series with samples in `range`, as a query returns them: samples by time,
    /// one per timestamp (the first where frozen chunks repeat one), series in id order.
    /// `None`, before any sample is read, when more than `limit` series match.
    pub fn select_series(
        &self,
        matchers: &[Matcher],
        range: TimeRange,
        limit: usize,
    ) -> Option<Vec<SeriesData>> {
        let index = self.index();
        let ids = index.select(matchers);
        if ids.len() > limit {
            return None;
        }
        let data = self.data();
        let mut out = Vec::with_capacity(ids.len());
        // Room for a typical rule's window (tens of samples) from the start.
        let mut samples: Vec<(i64, f64)> = Vec::with_capacity(64);
        for id in ids {
            samples.clear();
            if let Some(s) = data.series.get(id as usize) {
                s.collect(range, &mut samples);
            }
            for f in &data.frozen {
                if let Some(c) = f.chunk(id) {
                    collect_chunk(c, range, &mut samples);
                }
            }
            if samples.is_empty() {
                continue;
            }
            samples.sort_by_key(|&(t, _)| t);
            samples.dedup_by_key(|&mut (t, _)| t);
            out.push(SeriesData {
                labels: index.labels(id),
                timestamps: samples.iter().map(|&(t, _)| Timestamp(t)).collect(),
                values: samples.iter().map(|&(_, v)| v).collect(),
                start_timestamps: Vec::new(),
            });
        }
        Some(out)
    }
}
