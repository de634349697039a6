//! What the push receiver counts, for Periscope's own metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use model::{Sample, Timestamp};

/// Counters of the push receiver; cheap to update from every request.
#[derive(Debug, Default)]
pub struct PushStats {
    requests_accepted: AtomicU64,
    requests_refused: AtomicU64,
    requests_unavailable: AtomicU64,
    samples_accepted: AtomicU64,
}

impl PushStats {
    pub(super) fn accepted(&self, samples: u64) {
        self.requests_accepted.fetch_add(1, Ordering::Relaxed);
        self.samples_accepted.fetch_add(samples, Ordering::Relaxed);
    }

    pub(super) fn refused(&self) {
        self.requests_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn unavailable(&self) {
        self.requests_unavailable.fetch_add(1, Ordering::Relaxed);
    }

    /// Samples stored through this receiver so far.
    pub fn samples_accepted(&self) -> u64 {
        self.samples_accepted.load(Ordering::Relaxed)
    }

    /// The counters as samples: `periscope_push_requests_total{result}` and
    /// `periscope_push_samples_total`.
    pub fn to_samples(&self, now: Timestamp) -> Vec<Sample> {
        let requests = |result: &str, counter: &AtomicU64| {
            Sample::new(
                "periscope_push_requests_total",
                counter.load(Ordering::Relaxed) as f64,
                now,
            )
            .label("result", result)
        };
        vec![
            requests("accepted", &self.requests_accepted),
            requests("refused", &self.requests_refused),
            requests("unavailable", &self.requests_unavailable),
            Sample::new(
                "periscope_push_samples_total",
                self.samples_accepted() as f64,
                now,
            ),
        ]
    }
}
