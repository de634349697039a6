//! The `ALERTS` and `ALERTS_FOR_STATE` samples of a rule's active alerts, and for Prometheus'
//! alerting rules the label sets of both series kept from one evaluation to the next: an
//! alert mostly stays active for many evaluations, and its two label sets are then the same
//! every time.

use model::alert::{AlertPhase, AlertRecord};
use model::{Labels, METRIC_NAME_LABEL, Timestamp};

use super::{ALERT_STATE_LABEL, ALERTS_FOR_STATE_METRIC, ALERTS_METRIC, Env, OutputSample};

/// The `ALERTS` and `ALERTS_FOR_STATE` samples of active alerts, stamped with the query time.
pub(super) fn alert_samples<'r>(
    records: impl Iterator<Item = &'r AlertRecord>,
    env: &Env<'_>,
) -> Vec<OutputSample> {
    let mut samples = Vec::new();
    for record in records {
        push_samples(
            &mut samples,
            record,
            alerts_labels(record),
            for_state_labels(record),
            env,
        );
    }
    samples
}

/// The two series of each active alert as the last evaluation wrote them, in key order.
#[derive(Debug, Default)]
pub(super) struct WrittenSeries {
    series: Vec<Written>,
}

/// The series of one alert.
#[derive(Debug)]
struct Written {
    /// The alert's labels (its key's).
    key: Labels,
    /// The phase its `ALERTS` series says.
    phase: AlertPhase,
    alerts: Labels,
    for_state: Labels,
}

impl WrittenSeries {
    /// [`alert_samples`] of `records` (active ones, sorted by key), reusing the label sets of
    /// alerts written last time in the same phase.
    pub(super) fn samples<'r>(
        &mut self,
        records: impl Iterator<Item = &'r AlertRecord>,
        env: &Env<'_>,
    ) -> Vec<OutputSample> {
        let mut last = std::mem::take(&mut self.series).into_iter().peekable();
        let mut samples = Vec::new();
        for record in records {
            let key = &record.key.labels;
            while last.next_if(|w| w.key < *key).is_some() {}
            let written = match last.next_if(|w| w.key == *key) {
                Some(w) if w.phase == record.phase => w,
                Some(w) => Written {
                    phase: record.phase,
                    alerts: alerts_labels(record),
                    ..w
                },
                None => Written {
                    key: key.clone(),
                    phase: record.phase,
                    alerts: alerts_labels(record),
                    for_state: for_state_labels(record),
                },
            };
            push_samples(
                &mut samples,
                record,
                written.alerts.clone(),
                written.for_state.clone(),
                env,
            );
            self.series.push(written);
        }
        samples
    }
}

/// `ALERTS{...}` with the alert's labels and phase.
fn alerts_labels(record: &AlertRecord) -> Labels {
    let mut alerts = record.key.labels.clone();
    alerts.set(METRIC_NAME_LABEL, ALERTS_METRIC);
    alerts.set(ALERT_STATE_LABEL, record.phase.as_str());
    alerts
}

/// `ALERTS_FOR_STATE{...}` with the alert's labels.
fn for_state_labels(record: &AlertRecord) -> Labels {
    let mut for_state = record.key.labels.clone();
    for_state.set(METRIC_NAME_LABEL, ALERTS_FOR_STATE_METRIC);
    for_state
}

/// Appends the alert's two samples: `ALERTS` is 1, `ALERTS_FOR_STATE` the alert's start in
/// Unix seconds.
fn push_samples(
    samples: &mut Vec<OutputSample>,
    record: &AlertRecord,
    alerts: Labels,
    for_state: Labels,
    env: &Env<'_>,
) {
    samples.push(OutputSample {
        labels: alerts,
        t: env.t,
        value: 1.0,
    });
    let since = record.pending_since.unwrap_or(Timestamp(env.now)).0;
    samples.push(OutputSample {
        labels: for_state,
        t: env.t,
        value: since.div_euclid(1000) as f64,
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use model::alert::AlertKey;

    use super::*;
    use crate::promql::Engine;
    use crate::promqltest::MemoryQuerier;

    fn record(instance: &str, phase: AlertPhase, since_s: i64) -> AlertRecord {
        let key = AlertKey::new("Down", Labels::new().with("instance", instance));
        let mut r = AlertRecord::new(key, Timestamp(0));
        r.phase = phase;
        r.pending_since = Some(Timestamp(since_s * 1000));
        r
    }

    #[test]
    fn kept_series_are_the_ones_written_from_scratch() {
        let (engine, querier, external) =
            (Engine::default(), MemoryQuerier::new(), BTreeMap::new());
        let env = Env {
            engine: &engine,
            querier: &querier,
            now: 60_000,
            t: 60_000,
            limit: 0,
            external_labels: &external,
            external_url: "",
        };
        use AlertPhase::{Firing, Pending};
        let evaluations = [
            vec![record("a", Pending, 1), record("c", Pending, 2)],
            vec![record("a", Firing, 1), record("c", Pending, 2)],
            vec![record("b", Pending, 3), record("c", Firing, 2)],
            vec![],
            vec![
                record("a", Pending, 4),
                record("b", Pending, 3),
                record("c", Firing, 2),
            ],
        ];
        let mut written = WrittenSeries::default();
        for records in &evaluations {
            assert_eq!(
                written.samples(records.iter(), &env),
                alert_samples(records.iter(), &env)
            );
        }
        let firing_c = &alert_samples(evaluations[4][2..].iter(), &env)[0].labels;
        assert_eq!(firing_c.get("alertstate"), Some("firing"));
        assert_eq!(firing_c.get("__name__"), Some("ALERTS"));
    }
}
