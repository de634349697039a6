//! Store settings, with named defaults.

use std::time::Duration;

use model::ConfigIssue;

/// Default group-commit window: at most one WAL fsync per 5 ms, so at most 200 fsync/s.
pub const DEFAULT_COMMIT_WINDOW: Duration = Duration::from_millis(5);
/// Default out-of-order window: samples up to 1 h older than their series' newest are taken.
pub const DEFAULT_OUT_OF_ORDER_WINDOW: Duration = Duration::from_secs(3600);
/// Default allowed future skew against the store's clock.
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(600);
/// Default block span: the head is cut into blocks of 2 h.
pub const DEFAULT_BLOCK_SPAN: Duration = Duration::from_secs(2 * 3600);
/// Default retention by age: 15 days.
pub const DEFAULT_RETENTION_AGE: Duration = Duration::from_secs(15 * 24 * 3600);
/// Default size at which a WAL segment is closed and the next one started.
pub const DEFAULT_WAL_SEGMENT_BYTES: u64 = 64 << 20;
/// Default largest span compaction builds (blocks are merged up to this span).
pub const DEFAULT_MAX_BLOCK_SPAN: Duration = Duration::from_secs(24 * 3600);

/// How the store behaves. `StoreOptions::default()` is a sensible production setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Commits arriving within this window share one WAL fsync. Larger means fewer fsyncs
    /// and higher acknowledgement latency; zero syncs every write batch immediately.
    pub commit_window: Duration,
    /// Samples older than their series' newest sample by at most this much are accepted
    /// (and merged in order on read); older ones are refused as too old.
    pub out_of_order_window: Duration,
    /// Samples later than the clock by more than this are refused as too far in the future.
    pub future_skew: Duration,
    /// Width of the time ranges the head is cut into; blocks are aligned to it.
    pub block_span: Duration,
    /// Blocks whose newest sample is older than this (relative to `maintain(now)`) are
    /// deleted. Zero keeps everything.
    pub retention_age: Duration,
    /// When blocks and WAL together exceed this many bytes, the oldest blocks are deleted
    /// until they fit. Zero means unlimited.
    pub retention_bytes: u64,
    /// A WAL segment is closed and a new one begun past this size.
    pub wal_segment_bytes: u64,
    /// Compaction merges adjacent blocks up to this span (also capped at a tenth of the
    /// retention age, so retention can still drop data in reasonable steps).
    pub max_block_span: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            commit_window: DEFAULT_COMMIT_WINDOW,
            out_of_order_window: DEFAULT_OUT_OF_ORDER_WINDOW,
            future_skew: DEFAULT_FUTURE_SKEW,
            block_span: DEFAULT_BLOCK_SPAN,
            retention_age: DEFAULT_RETENTION_AGE,
            retention_bytes: 0,
            wal_segment_bytes: DEFAULT_WAL_SEGMENT_BYTES,
            max_block_span: DEFAULT_MAX_BLOCK_SPAN,
        }
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl StoreOptions {
    /// Every problem with these options, each with its key.
    pub fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if self.block_span < Duration::from_secs(1) {
            issues.push(
                ConfigIssue::new("block_span", "must be at least 1s").hint("the default is 2h"),
            );
        }
        if self.max_block_span < self.block_span {
            issues.push(ConfigIssue::new(
                "max_block_span",
                "must not be shorter than block_span",
            ));
        }
        if self.commit_window > Duration::from_secs(1) {
            issues.push(
                ConfigIssue::new("commit_window", "must be at most 1s")
                    .hint("acknowledgements wait this long; the default is 5ms"),
            );
        }
        if self.wal_segment_bytes < 4096 {
            issues.push(ConfigIssue::new(
                "wal_segment_bytes",
                "must be at least 4096",
            ));
        }
        issues
    }

    /// The span compaction aims for, in ms: `max_block_span`, capped at a tenth of the
    /// retention age, never below one block span.
    pub(crate) fn compaction_span_ms(&self) -> i64 {
        let span = ms(self.block_span);
        let mut max = ms(self.max_block_span);
        if !self.retention_age.is_zero() {
            max = max.min(ms(self.retention_age) / 10);
        }
        // Whole multiples of the block span keep compacted blocks aligned.
        (max / span).max(1) * span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_all_reported() {
        assert!(StoreOptions::default().check().is_empty());
        let bad = StoreOptions {
            block_span: Duration::ZERO,
            commit_window: Duration::from_secs(5),
            wal_segment_bytes: 1,
            ..StoreOptions::default()
        };
        let keys: Vec<_> = bad.check().into_iter().map(|i| i.path).collect();
        assert_eq!(keys, ["block_span", "commit_window", "wal_segment_bytes"]);
        assert_eq!(
            StoreOptions::default().compaction_span_ms(),
            24 * 3600 * 1000
        );
        let short = StoreOptions {
            retention_age: Duration::from_secs(10 * 3600),
            ..StoreOptions::default()
        };
        assert_eq!(short.compaction_span_ms(), 2 * 3600 * 1000);
    }
}
